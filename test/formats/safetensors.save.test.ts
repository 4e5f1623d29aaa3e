// saveSafetensors: the bytes an independent reader (Python json + struct)
// parses back, the reference writer's layout (alignment-then-name order,
// space padding to 8, __metadata__ first), same input -> same bytes, and the
// atomic, durable replace shared with saveModel.
import { afterEach, describe, expect, it } from 'vitest';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type H5Error, openSafetensors, saveSafetensors, type SafetensorsInput } from '../../lib/index.js';
import { setFaultHook } from '../../lib/util/publish.js';
import { python, requirePeers, tempDir } from '../helpers.js';
import { hex, pyRead } from './st.helpers.js';

requirePeers();
const dir = tempDir('h5vault-st-save-');
afterEach(() => setFaultHook(undefined));

const TENSORS: SafetensorsInput = {
  'z.bias': { dtype: 'float32', shape: [3], data: Float32Array.from([1, -2, 3.5]) },
  'a.mask': { dtype: 'bool', shape: [2], data: Uint8Array.from([1, 0]) },
  emb: { dtype: 'bfloat16', shape: [2, 2], data: Uint16Array.from([0x3f80, 0xc000, 0x7f7f, 0x0001]) },
  ids: { dtype: 'int64', shape: [2], data: BigInt64Array.from([-1n, 2n ** 62n]) },
  half: { dtype: 'float16', shape: [], data: Uint16Array.from([0x3c00]) },
  q: { dtype: 'uint8', shape: [3], data: Uint8Array.from([0x38, 0xb8, 0x00]), safetensorsDtype: 'F8_E4M3' },
  none: { dtype: 'float64', shape: [0], data: new Float64Array(0) },
  'b.u32': { dtype: 'uint32', shape: [1], data: Uint32Array.from([7]) },
};

describe('saveSafetensors', () => {
  it('writes what an independent Python reader parses back: names, dtypes, shapes, bytes, metadata', async () => {
    const p = join(dir, 'out.safetensors');
    const r = await saveSafetensors(p, TENSORS, { format: 'pt', ü: '✓' });
    const py = pyRead(p);
    expect(py.metadata).toEqual({ format: 'pt', ü: '✓' });
    const want: Record<string, string> = {
      'z.bias': 'F32',
      'a.mask': 'BOOL',
      emb: 'BF16',
      ids: 'I64',
      half: 'F16',
      q: 'F8_E4M3',
      none: 'F64',
      'b.u32': 'U32',
    };
    for (const [name, t] of Object.entries(TENSORS)) {
      expect(py.tensors[name]!.dtype).toBe(want[name]);
      expect(py.tensors[name]!.shape).toEqual(t.shape);
      expect(py.tensors[name]!.hex).toBe(hex(t.data));
    }
    expect(r.bytes).toBe(readFileSync(p).length);
    // And numpy reads the values: float32 and int64 through their dtypes.
    const vals = JSON.parse(
      python(
        `
import json, struct, sys, numpy as np
d = open(sys.argv[1], 'rb').read(); n, = struct.unpack('<Q', d[:8]); h = json.loads(d[8:8+n])
def arr(k, dt):
    b, e = h[k]['data_offsets']; return np.frombuffer(d[8+n+b:8+n+e], dt).tolist()
print(json.dumps({'bias': arr('z.bias', '<f4'), 'ids': [str(x) for x in arr('ids', '<i8')]}))
`,
        [p],
      ),
    ) as { bias: number[]; ids: string[] };
    expect(vals.bias).toEqual([1, -2, 3.5]);
    expect(vals.ids).toEqual(['-1', String(2n ** 62n)]);
  });

  it('lays tensors out as the reference writer: decreasing alignment, then name; header padded with spaces to 8', async () => {
    const p = join(dir, 'layout.safetensors');
    const r = await saveSafetensors(p, TENSORS);
    // The reference's Dtype enum order, highest first: ... I64, F64, C64, F32, U32, I32, BF16, F16, ..., F8_E4M3, ..., BOOL.
    expect(r.order).toEqual(['ids', 'none', 'z.bias', 'b.u32', 'emb', 'half', 'q', 'a.mask']);
    const py = pyRead(p);
    expect(py.order).toEqual(r.order);
    expect(py.n % 8).toBe(0);
    expect(py.header).toMatch(/^\{"ids":\{"dtype":"I64","shape":\[2\],"data_offsets":\[0,16\]\},/);
    expect(py.header).toMatch(/\} *$/);
    expect(py.header.trimEnd().length).toBeGreaterThan(py.n - 8);
    using st = await openSafetensors(p);
    expect(st.copied.size).toBe(0); // every tensor aligned to its item size
  });

  it('puts __metadata__ first with sorted keys, byte-identical to a hand-built reference header', async () => {
    const p = join(dir, 'meta.safetensors');
    await saveSafetensors(
      p,
      { w: { dtype: 'float32', shape: [1], data: Float32Array.from([1]) } },
      new Map([
        ['b', '2'],
        ['a', '"1"\n'],
      ]),
    );
    // The reference writer's compact serde_json output, built independently in Python.
    const expected = python(`
import json, struct, sys
h = '{"__metadata__":{"a":' + json.dumps('"1"\\n') + ',"b":"2"},"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}'
h = h.encode(); h += b' ' * ((-len(h)) % 8)
sys.stdout.write((struct.pack('<Q', len(h)) + h + struct.pack('<f', 1.0)).hex())
`);
    expect(readFileSync(p).toString('hex')).toBe(expected);
  });

  it('the same input gives the same bytes (key insertion order does not matter)', async () => {
    const a = join(dir, 'r1.safetensors');
    const b = join(dir, 'r2.safetensors');
    await saveSafetensors(a, TENSORS, { x: '1', y: '2' });
    const reversed = new Map(Object.entries(TENSORS).reverse());
    await saveSafetensors(b, reversed, { y: '2', x: '1' });
    expect(Buffer.compare(readFileSync(a), readFileSync(b))).toBe(0);
  });

  it('round-trips through openSafetensors (8-bit floats keep their dtype name)', async () => {
    const p = join(dir, 'rt.safetensors');
    await saveSafetensors(p, TENSORS);
    using st = await openSafetensors(p);
    for (const [name, t] of Object.entries(TENSORS)) {
      const o = st.tensors.get(name)!;
      expect(o.dtype).toBe(t.dtype);
      expect(hex(o.data)).toBe(hex(t.data));
    }
    expect(st.tensors.get('q')!.safetensorsDtype).toBe('F8_E4M3');
    expect(st.metadata).toBeNull();
  });

  it('refuses bad input before touching the disk', async () => {
    const p = join(dir, 'bad.safetensors');
    await expect(
      saveSafetensors(p, { __metadata__: { dtype: 'uint8', shape: [1], data: new Uint8Array(1) } }),
    ).rejects.toThrow(TypeError);
    await expect(
      saveSafetensors(p, { w: { dtype: 'float32', shape: [2], data: new Float32Array(3) } }),
    ).rejects.toThrow(RangeError);
    await expect(
      saveSafetensors(p, {
        w: { dtype: 'float32', shape: [1], data: new Float32Array(1), safetensorsDtype: 'F8_E4M3' },
      }),
    ).rejects.toThrow(TypeError);
    await expect(saveSafetensors(p, {}, { n: 3 as unknown as string })).rejects.toThrow(/must be strings/);
    await expect(
      saveSafetensors(p, { '\ud800': { dtype: 'uint8', shape: [1], data: new Uint8Array(1) } }),
    ).rejects.toThrow(/Unicode/);
    expect(existsSync(p)).toBe(false);
  });

  it('a failure at any step leaves the old file untouched and no temp file behind', async () => {
    const p = join(dir, 'atomic.safetensors');
    writeFileSync(p, 'old contents');
    for (const step of ['create', 'write', 'fsync', 'rename'] as const) {
      setFaultHook((s) => {
        if (s === step) throw new Error(`injected at ${step}`);
      });
      await expect(saveSafetensors(p, TENSORS)).rejects.toThrow(`injected at ${step}`);
      expect(readFileSync(p, 'utf8')).toBe('old contents');
      expect(readdirSync(dir).filter((n) => n.includes('h5vault-tmp'))).toEqual([]);
    }
    setFaultHook(undefined);
    await saveSafetensors(p, TENSORS);
    expect(pyRead(p).order.length).toBe(8);
  });

  it('an aborted save is H5_ABORTED and leaves nothing behind', async () => {
    const p = join(dir, 'aborted.safetensors');
    const ac = new AbortController();
    ac.abort();
    const e = await saveSafetensors(p, TENSORS, undefined, { signal: ac.signal }).catch((x: unknown) => x);
    expect((e as H5Error).code).toBe('H5_ABORTED');
    expect(existsSync(p)).toBe(false);
  });

  it('a full disk is H5_IO (ENOSPC) and the target is untouched', async () => {
    const { mkdirSync } = await import('node:fs');
    const { execFileSync } = await import('node:child_process');
    const mnt = join(dir, 'tmpfs');
    mkdirSync(mnt);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', mnt]);
    try {
      const p = join(mnt, 'big.safetensors');
      writeFileSync(p, 'old');
      const big = new Float32Array(1024 * 1024); // 4 MiB > 2 MiB of space
      const e = await saveSafetensors(p, { w: { dtype: 'float32', shape: [big.length], data: big } }).catch(
        (x: unknown) => x,
      );
      expect((e as H5Error).code).toBe('H5_IO');
      expect((e as H5Error & { errno: string }).errno).toBe('ENOSPC');
      expect(readFileSync(p, 'utf8')).toBe('old');
      expect(readdirSync(mnt)).toEqual(['big.safetensors']);
    } finally {
      execFileSync('umount', [mnt]);
    }
  });
});
