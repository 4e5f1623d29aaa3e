/** Helpers for the safetensors tests: an independent Python writer/reader (json + struct + numpy only). */
import { python } from '../helpers.js';

/**
 * Writes a safetensors file by hand in Python: `spec` is a list of
 * [name, dtype, shape, numpy expression] laid out in the given order, with
 * the header padded with spaces to `pad` bytes. Returns nothing: the
 * file is the product.
 */
export function pyWrite(
  path: string,
  spec: [string, string, number[], string][],
  metadata: Record<string, string> | null = null,
  pad = 8,
): void {
  python(
    `
import json, struct, sys
import numpy as np
spec = json.loads(sys.argv[2]); meta = json.loads(sys.argv[3]); pad = int(sys.argv[4])
header = {}
if meta is not None: header['__metadata__'] = meta
blobs = []; at = 0
for name, dtype, shape, expr in spec:
    b = np.ascontiguousarray(eval(expr)).tobytes()
    header[name] = {'dtype': dtype, 'shape': shape, 'data_offsets': [at, at + len(b)]}
    blobs.append(b); at += len(b)
h = json.dumps(header, separators=(',', ':')).encode()
h += b' ' * ((-len(h)) % pad)
with open(sys.argv[1], 'wb') as f:
    f.write(struct.pack('<Q', len(h))); f.write(h)
    for b in blobs: f.write(b)
`,
    [path, JSON.stringify(spec), JSON.stringify(metadata), String(pad)],
  );
}

export interface PyTensor {
  dtype: string;
  shape: number[];
  offsets: [number, number];
  hex: string;
}

/** Parses a safetensors file in Python (struct + json) and returns N, the raw header text, metadata and each tensor's bytes as hex. */
export function pyRead(path: string): {
  n: number;
  header: string;
  metadata: Record<string, string> | null;
  tensors: Record<string, PyTensor>;
  order: string[];
} {
  return JSON.parse(
    python(
      `
import json, struct, sys
data = open(sys.argv[1], 'rb').read()
n, = struct.unpack('<Q', data[:8])
text = data[8:8 + n].decode('utf-8')
h = json.loads(text)
base = 8 + n
out = {'n': n, 'header': text, 'metadata': h.pop('__metadata__', None), 'tensors': {}, 'order': list(h.keys())}
for k, v in h.items():
    b, e = v['data_offsets']
    out['tensors'][k] = {'dtype': v['dtype'], 'shape': v['shape'], 'offsets': [b, e], 'hex': data[base + b:base + e].hex()}
print(json.dumps(out))
`,
      [path],
    ),
  ) as ReturnType<typeof pyRead>;
}

export function hex(a: ArrayBufferView): string {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('hex');
}
