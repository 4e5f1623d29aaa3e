// Compiled by test/types/dtype-typed.test.ts under `tsc --strict`, skipLibCheck
// off, against the published declarations (node_modules/h5vault -> dist), then
// run. Each `@ts-expect-error` proves a wrong use does not compile: if it
// compiled, tsc would report the directive as unused (TS2578).
import { File, H5Error, types, type Reference, type RejectEvent } from 'h5vault';

const f = File.create('typed.h5', { overwrite: true });
// createDataset with a literal dtype gives Dataset<'float32'>: its reads are typed.
const k = f.createDataset('k', { dtype: 'float32', shape: [4], data: Float32Array.of(1, 2, 3, 4) });
const kk: Float32Array = k.readSync();
f.createDataset('i', { dtype: 'int64', shape: [2], data: BigInt64Array.of(1n, 2n) });
f.createDataset('s', { dtype: 'string', shape: [2], data: ['a', 'b'] });
f.createTypedDataset('refs', { type: types.reference(), data: [{ path: '/k' }] });
f.close();

const r = File.open('typed.h5');
// dataset(path, dtype): checked at run time, typed at compile time.
const w: Float32Array = r.dataset('k', 'float32').view();
const w2: Float32Array = await r.dataset('k', 'float32').read();
const w3: Float32Array = r.dataset('k', 'float32').readSync({ start: [1], count: [2] });
// read(dtype) / readSync(dtype) / view(dtype) on a plain Dataset.
const a: Float32Array = await r.dataset('k').read('float32');
const b: BigInt64Array = r.dataset('i').readSync('int64');
const c: BigInt64Array = r.dataset('i').view('int64');
const s: string[] = await r.dataset('s').read('string');
const s2: string[] = await r.dataset('s', 'string').read();
// Without a dtype: any typed array, or strings.
const any = await r.dataset('k').read();

// A reference read plainly goes to deref() without a cast; typed reads too.
const refs = await r.dataset('refs').read();
const target = r.deref(refs[0]);
const typedRefs = await r.dataset('refs').read<Reference[]>();
r.deref(typedRefs[0]);

// precisionLoss: on the float member of H5Type, after narrowing the class.
const t = r.dataset('k').type;
const loss: boolean | undefined = t.class === 'float' ? t.precisionLoss : undefined;

// onReject's error: `code` reads without a cast (an H5Error's code, or the Error's).
const onReject = ({ version, error }: RejectEvent) => `v${version}: ${error.code ?? error.message}`;

// Wrong uses: compiled (each must be an error), never run.
async function wrongUses(r: File) {
  // @ts-expect-error: a plain dataset's view is some TypedArray, not known to be Float32Array
  const bad1: Float32Array = r.dataset('k').view();
  // @ts-expect-error: int64 reads are BigInt64Array, not Float64Array
  const bad2: Float64Array = await r.dataset('i').read('int64');
  // @ts-expect-error: not a dtype
  r.dataset('k', 'float33');
  // @ts-expect-error: read(dtype) gives the dtype's array; strings: 'bytes' takes read() without one
  await r.dataset('s').read('string', { strings: 'bytes' });
  // @ts-expect-error: a Dataset<'float32'> reads Float32Array, not Int32Array
  const bad3: Int32Array = r.dataset('k', 'float32').readSync();

  // @ts-expect-error: deref takes an element of a read, not a function
  r.deref(() => '/k');
  // @ts-expect-error: only float types have precisionLoss
  r.dataset('k').type.precisionLoss;
  return [bad1, bad2, bad3];
}
void wrongUses;

// Run-time checks behind the types (the same TypeErrors in JavaScript).
const wrong: string[] = [];
for (const attempt of [
  () => r.dataset('k', 'int32'),
  () => r.dataset('k').read('int32'),
  () => r.dataset('k').readSync('float64'),
  () => r.dataset('s').readSync('string', JSON.parse('{"strings":"bytes"}')),
  () => r.deref(1),
]) {
  try {
    await attempt();
  } catch (e) {
    if (e instanceof TypeError) wrong.push(e.message);
    else throw e;
  }
}
console.log(
  JSON.stringify({
    w: [...w],
    w2: w2.length,
    w3: [...w3],
    a: a.constructor.name,
    b: b.constructor.name,
    c: c.length,
    s,
    s2,
    kk: kk.length,
    any: any.length,
    target: target.path,
    loss,
    reject: onReject({ name: 'm', version: 2, error: new H5Error('bad', { code: 'H5_CHECKSUM_MISMATCH' }), serving: 1 }),
    wrong,
  }),
);
r.close();
