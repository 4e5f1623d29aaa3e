// Child of append.kill.test.ts: appends rows (row i holds i) to a chunked,
// resizable, unfiltered dataset of a file written in place, and prints
// "F <rows>" after each flush() returns, until the parent kills it.
//   node append-child.mjs <dist index URL> <path>
import { rmSync } from 'node:fs';

const [distUrl, p] = process.argv.slice(2);
const H5 = await import(distUrl);
rmSync(p, { force: true });
const f = H5.File.create(p); // a new path: written in place, not published at close
const d = f.createDataset('rows', { dtype: 'float64', shape: [0, 8], maxshape: [null, 8], chunks: [100, 8] });
let n = 0;
for (let it = 0; ; it++) {
  const k = 1 + ((it * 7919) % 23); // 1..23 rows: chunks are left partly filled
  const a = new Float64Array(k * 8);
  for (let i = 0; i < k; i++) a.fill(n + i, i * 8, i * 8 + 8);
  d.appendSync(a);
  n += k;
  if (it % 3 === 2) {
    f.flush();
    process.stdout.write(`F ${n}\n`);
  }
}
