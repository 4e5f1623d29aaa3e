// CommonJS TypeScript consumer: `import` compiles to require('h5vault').
import { File, H5Error, libraryInfo, type LibraryInfo } from 'h5vault';

const info: LibraryInfo = libraryInfo();
const f = File.create('typed-cjs.h5', { overwrite: true });
f.createDataset('k', { dtype: 'float32', shape: [2], data: new Float32Array([0.5, 1.5]) });
f.close();
const r = File.open('typed-cjs.h5');
r.dataset('k').read().then((d) => {
  try {
    r.get('nope');
  } catch (e) {
    if (!(e instanceof H5Error)) throw e;
    console.log(`typed cjs ok: ${info.origin}, ${e.code}, ${String(d)}`);
  }
  r.close();
});
