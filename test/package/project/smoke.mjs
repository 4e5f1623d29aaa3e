// ESM consumer of the installed package: import, write, read back (compressed,
// off-thread, and zero-copy), typed errors, and the addon's origin.
//   EXPECT_ORIGIN=prebuilt|source node smoke.mjs
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { File, H5Error, libraryInfo } from 'h5vault';

const info = libraryInfo();
assert.equal(info.origin, process.env.EXPECT_ORIGIN, `origin: ${JSON.stringify(info)}`);
assert.match(info.hdf5, /^1\.\d+\.\d+$/);
assert.equal(info.version, JSON.parse(readFileSync('node_modules/h5vault/package.json', 'utf8')).version);
// The libhdf5 in use is the bundled one for a prebuilt addon, the system's for a build from source.
if (info.origin === 'prebuilt') {
  const target = `${process.platform}-${process.arch}`;
  assert.ok(info.hdf5Library?.includes(`/node_modules/@h5vault/${target}-gnu/lib/`), info.hdf5Library);
  assert.ok(
    info.bundled.some((b) => b.file.startsWith('lib/libhdf5')),
    'manifest lists libhdf5',
  );
} else {
  assert.ok(info.hdf5Library?.startsWith('/usr/lib/') || info.hdf5Library?.startsWith('/lib/'), info.hdf5Library);
  assert.deepEqual(info.bundled, []);
}

const data = Float32Array.from({ length: 4096 }, (_, i) => Math.sin(i));
const f = File.create('esm.h5', { overwrite: true });
const g = f.createGroup('w');
g.createDataset('lz4', {
  dtype: 'float32',
  shape: [64, 64],
  chunks: [16, 64],
  compression: 'lz4',
  shuffle: true,
  data,
});
g.createDataset('gzip', { dtype: 'float32', shape: [64, 64], chunks: [16, 64], compression: 'gzip', data });
g.createDataset('raw', { dtype: 'float32', shape: [4096], data });
f.close();
const r = File.open('esm.h5');
assert.deepEqual(await r.dataset('w/lz4').read(), data);
assert.deepEqual(await r.dataset('w/gzip').read(), data);
assert.deepEqual(r.dataset('w/raw').view(), data);
assert.throws(
  () => r.get('missing'),
  (e) => e instanceof H5Error && e.code === 'H5_NOT_FOUND',
);
r.close();

// Dimension scales: libhdf5_hl's H5DS, which the prebuilt addon links into
// itself (scripts/build/libhdf5.sh's static libhdf5_hl.a) and a build from source
// takes from the system's libhdf5_serial_hl.
const d = File.create('dims.h5', { overwrite: true });
const x = d.createDataset('x', { dtype: 'float32', shape: [3], data: new Float32Array([0, 1, 2]) });
const z = d.createDataset('z', { dtype: 'float32', shape: [2, 3] });
x.makeScale('x axis');
z.attachScale(x, 1);
z.setDimensionLabel(0, 'rows');
d.close();
const dr = File.open('dims.h5');
assert.equal(dr.dataset('x').isScale, true);
assert.deepEqual(dr.dataset('z').dims, [
  { label: 'rows', scales: [] },
  { label: '', scales: [{ path: '/x', name: 'x axis' }] },
]);
dr.close();
console.log(`esm ok: ${info.origin}, libhdf5 ${info.hdf5} from ${info.hdf5Library}`);
