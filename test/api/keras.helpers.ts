/**
 * Keras files written with h5py the way Keras writes them, and h5py's reading
 * of any Keras file to compare against.
 *
 * The layouts follow the Keras sources: keras/src/legacy/saving/legacy_h5_format.py
 * (Keras 2: `layer_names` / `weight_names` as numpy byte-string arrays,
 * `backend` / `keras_version` as bytes, `model_config` / `training_config` as
 * UTF-8 JSON bytes, weight datasets at `<layer>/<weight name>` so the
 * '/' in 'dense_1/kernel:0' nests a group; name lists above 64512 bytes split
 * into `layer_names0`, `layer_names1`, ...) and keras/src/saving/saving_lib.py
 * (Keras 3: `layers/<snake_case class>[_N]/vars/<i>` via H5IOStore, a `name`
 * str attribute on each vars group, the optimizer under `optimizer/vars`, the
 * archive's members written with zipfile.writestr in the order metadata.json,
 * config.json, model.weights.h5, stored unless told otherwise).
 */
import { python } from '../helpers.js';

const WRITER = String.raw`
import sys, json, io, struct, zipfile
import numpy as np, h5py

kind, out = sys.argv[1], sys.argv[2]
opts = json.loads(sys.argv[3]) if len(sys.argv) > 3 else {}
rng = np.random.default_rng(42)
def w(*shape):
    return rng.standard_normal(shape).astype('<f4')

def keras2_layers(group, layers, chunk_names=False):
    names = [n.encode('utf8') for n, _ in layers]
    if chunk_names:
        # What save_attributes_to_hdf5_group does once the list outgrows an object header.
        for i, part in enumerate(np.array_split(np.asarray(names), 2)):
            group.attrs['layer_names%d' % i] = part
    else:
        group.attrs['layer_names'] = names
    group.attrs['backend'] = 'tensorflow'.encode('utf8')
    group.attrs['keras_version'] = '2.15.0'.encode('utf8')
    for name, weights in sorted(layers, key=lambda x: x[0]):
        g = group.create_group(name)
        wn = [('%s/%s:0' % (name, k)).encode('utf8') for k, _ in weights]
        g.attrs['weight_names'] = wn
        for (k, v), n in zip(weights, wn):
            d = g.create_dataset(n, v.shape, dtype=v.dtype)
            d[...] = v

KERAS2_LAYERS = lambda: [
    ('input_1', []),
    ('dense_1', [('kernel', w(6, 5)), ('bias', w(5))]),
    ('batch_normalization', [('gamma', w(5)), ('beta', w(5)), ('moving_mean', w(5)), ('moving_variance', w(5))]),
    ('conv', [('kernel', w(3, 5, 4)), ('bias', w(4))]),
]
KERAS2_CONFIG = {'class_name': 'Functional', 'config': {'name': 'model', 'layers': [
    {'class_name': 'InputLayer', 'config': {'name': 'input_1'}},
    {'class_name': 'Dense', 'config': {'name': 'dense_1', 'units': 5}},
    {'class_name': 'BatchNormalization', 'config': {'name': 'batch_normalization'}},
    {'class_name': 'Conv1D', 'config': {'name': 'conv', 'filters': 4}}]}}

def keras3_weights(f, with_names=True, container='layers', extra=False, big_mb=0):
    def vars_group(path, name, values):
        g = f.create_group(path + '/vars' if path else 'vars')
        if with_names and name is not None:
            g.attrs['name'] = name
        for i, v in enumerate(values):
            g[str(i)] = v
        return g
    vars_group('', 'sequential', [])
    vars_group(container + '/dense', 'encoder', [w(4, 8), w(8)])
    vars_group(container + '/batch_normalization', 'norm', [w(8), w(8), w(8), w(8)])
    vars_group(container + '/dropout', 'dropout', [])
    f.create_group(container + '/lstm')
    vars_group(container + '/lstm/cell', None, [w(8, 12), w(3, 12), w(12)])
    vars_group(container + '/dense_1', 'head', [w(3, 2), w(2)])
    # Twelve optimizer variables: HDF5 lists '10' and '11' before '2'.
    vars_group('optimizer', 'adam', [np.array(7, dtype='<i8')] + [w(3) for _ in range(11)])
    if big_mb:
        vars_group(container + '/embedding', 'embed', [np.zeros((big_mb * 262144,), dtype='<f4')])
    if extra:
        g = f[container + '/dense_1/vars']
        g.create_dataset('2', data=w(2, 2), chunks=(1, 2), compression='gzip')

KERAS3_CONFIG = {'module': 'keras', 'class_name': 'Sequential', 'config': {'name': 'sequential', 'layers': [
    {'module': 'keras.layers', 'class_name': 'InputLayer', 'config': {'name': 'input_layer', 'batch_shape': [None, 4]}},
    {'module': 'keras.layers', 'class_name': 'Dense', 'config': {'name': 'encoder', 'units': 8, 'use_bias': True}},
    {'module': 'keras.layers', 'class_name': 'BatchNormalization', 'config': {'name': 'norm', 'center': True, 'scale': True}},
    {'module': 'keras.layers', 'class_name': 'Dropout', 'config': {'name': 'dropout', 'rate': 0.5}},
    {'module': 'keras.layers', 'class_name': 'LSTM', 'config': {'name': 'rnn', 'units': 3, 'use_bias': True}},
    {'module': 'keras.layers', 'class_name': 'Dense', 'config': {'name': 'head', 'units': 2, 'use_bias': True}}]}}

def keras3_bytes(**kw):
    b = io.BytesIO()
    with h5py.File(b, 'w') as f:
        keras3_weights(f, **kw)
    return b.getvalue()

def archive(path, weights, method, align=None, config=KERAS3_CONFIG, members=('metadata.json', 'config.json', 'model.weights.h5')):
    with zipfile.ZipFile(path, 'w', compression=method) as zf:
        for m in members:
            if m == 'metadata.json':
                zf.writestr(m, json.dumps({'keras_version': '3.9.2', 'date_saved': '2025-01-01@00:00:00'}))
            elif m == 'config.json':
                zf.writestr(m, json.dumps(config))
            elif align is None:
                zf.writestr(m, weights)
            else:
                # Pad the local header's extra field so the member's data starts at 'align' (zipalign's trick).
                zi = zipfile.ZipInfo(m, date_time=(2025, 1, 1, 0, 0, 0))
                zi.compress_type = zipfile.ZIP_STORED
                pad = align - (zf.fp.tell() + 30 + len(m.encode()))
                assert pad >= 4, pad
                zi.extra = struct.pack('<HH', 0xcafe, pad - 4) + b'\0' * (pad - 4)
                zf.writestr(zi, weights)

if kind == 'keras2-model':
    with h5py.File(out, 'w') as f:
        f.attrs['keras_version'] = '2.15.0'
        f.attrs['backend'] = 'tensorflow'
        f.attrs['model_config'] = json.dumps(KERAS2_CONFIG).encode('utf8')
        f.attrs['training_config'] = json.dumps({'loss': 'mse', 'optimizer_config': {'class_name': 'Adam'}}).encode('utf8')
        keras2_layers(f.create_group('model_weights'), KERAS2_LAYERS())
        og = f.create_group('optimizer_weights')
        names = [b'Adam/iter:0', b'Adam/dense_1/kernel/m:0']
        og.attrs['weight_names'] = names
        og.create_dataset(names[0], data=np.array(3, dtype='<i8'))
        og.create_dataset(names[1], data=w(6, 5))
elif kind == 'keras2-weights':
    with h5py.File(out, 'w') as f:
        keras2_layers(f, KERAS2_LAYERS(), chunk_names=opts.get('chunk', False))
elif kind == 'keras3-weights':
    with h5py.File(out, 'w') as f:
        keras3_weights(f, with_names=opts.get('names', True), container=opts.get('container', 'layers'), extra=opts.get('extra', False))
elif kind == 'keras-archive':
    method = zipfile.ZIP_DEFLATED if opts.get('deflate') else zipfile.ZIP_STORED
    members = tuple(opts.get('members', ['metadata.json', 'config.json', 'model.weights.h5']))
    archive(out, keras3_bytes(with_names=opts.get('names', True), big_mb=opts.get('big_mb', 0)), method, opts.get('align'), members=members)
elif kind == 'not-keras':
    with h5py.File(out, 'w') as f:
        f.create_dataset('encoder/layer0/kernel', data=w(4, 4))
        f.attrs['note'] = 'an ordinary HDF5 file'
else:
    raise SystemExit('unknown kind ' + kind)
`;

export type KerasKind = 'keras2-model' | 'keras2-weights' | 'keras3-weights' | 'keras-archive' | 'not-keras';

/** Writes a Keras-layout file of `kind` at `out` with h5py (and zipfile for archives). */
export function writeKeras(kind: KerasKind, out: string, opts: Record<string, unknown> = {}): void {
  python(WRITER, [kind, out, JSON.stringify(opts)]);
}

const READER = `
import sys, json, io, base64, zipfile
import h5py
path = sys.argv[1]
if zipfile.is_zipfile(path):
    zf = zipfile.ZipFile(path)
    info = zf.getinfo('model.weights.h5')
    member = {'offset': info.header_offset, 'method': info.compress_type}
    f = h5py.File(io.BytesIO(zf.read('model.weights.h5')), 'r')
else:
    member = None
    f = h5py.File(path, 'r')
out = {}
def visit(name, obj):
    if isinstance(obj, h5py.Dataset):
        a = obj[()]
        out['/' + name] = {'dtype': str(a.dtype), 'shape': list(a.shape), 'b64': base64.b64encode(a.astype(a.dtype.newbyteorder('<')).tobytes()).decode()}
f.visititems(visit)
def names(g, key):
    if key in g.attrs:
        return [x.decode() if isinstance(x, bytes) else str(x) for x in g.attrs[key]]
    out, i = [], 0
    while '%s%d' % (key, i) in g.attrs:
        out += [x.decode() if isinstance(x, bytes) else str(x) for x in g.attrs['%s%d' % (key, i)]]
        i += 1
    return out
root = f['model_weights'] if 'model_weights' in f else f
print(json.dumps({'datasets': out, 'layer_names': names(root, 'layer_names'), 'member': member}))
`;

export interface H5pyReading {
  /** Every dataset by absolute HDF5 path: dtype, shape and little-endian bytes. */
  datasets: Record<string, { dtype: string; shape: number[]; b64: string }>;
  /** Keras 2 `layer_names` (joined over chunks), [] for Keras 3. */
  layer_names: string[];
  member: { offset: number; method: number } | null;
}

/** h5py's reading of a Keras file (for a .keras archive: of its model.weights.h5). */
export function readWithH5py(path: string): H5pyReading {
  return JSON.parse(python(READER, [path])) as H5pyReading;
}

export function bytesOf(a: ArrayBufferView): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}
