// CommonJS consumer: require('h5vault') (require(esm), Node >= 20.19) gives the
// same module instance as import: H5Error from require is the class thrown.
//   EXPECT_ORIGIN=prebuilt|source node smoke.cjs
const assert = require('node:assert/strict');
const h5 = require('h5vault');
const { File, H5Error, libraryInfo } = h5;

assert.equal(libraryInfo().origin, process.env.EXPECT_ORIGIN);
const data = Float64Array.from({ length: 1000 }, (_, i) => i / 7);
const f = File.create('cjs.h5', { overwrite: true });
f.createDataset('x', { dtype: 'float64', shape: [1000], chunks: [100], compression: 'lzf', data });
f.attrs.set('note', 'from require');
f.close();
const r = File.open('cjs.h5');
r.dataset('x').read().then((back) => {
  assert.deepEqual(back, data);
  assert.equal(r.attrs.get('note'), 'from require');
  assert.throws(() => File.open('does-not-exist.h5'), (e) => e instanceof H5Error && e.code === 'H5_FILE_NOT_FOUND');
  r.close();
  import('h5vault').then((esm) => {
    assert.equal(esm.File, File, 'require and import give one module instance');
    console.log('cjs ok');
  });
});
