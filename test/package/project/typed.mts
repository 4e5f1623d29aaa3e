// ESM TypeScript consumer: type-checked strictly (test/package/install-fresh-root.sh), then run.
import { File, H5Error, libraryInfo, type LibraryInfo, type H5ErrorCode } from 'h5vault';

const info: LibraryInfo = libraryInfo();
const origin: 'prebuilt' | 'source' | 'override' = info.origin;
const f = File.create('typed-esm.h5', { overwrite: true });
f.createDataset('k', { dtype: 'int32', shape: [3], data: new Int32Array([1, 2, 3]) });
f.close();
const r = File.open('typed-esm.h5');
const v: Int32Array | Float32Array | unknown = r.dataset('k').view();
try {
  r.get('nope');
} catch (e) {
  if (!(e instanceof H5Error)) throw e;
  const code: H5ErrorCode | string = e.code;
  console.log(`typed esm ok: ${origin}, ${code}, ${String(v)}`);
}
r.close();
