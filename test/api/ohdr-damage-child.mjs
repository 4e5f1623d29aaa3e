// The damaged-header sweep of model.header-parser.test.ts, in a child process:
// libhdf5 1.10.8 is not safe on damaged metadata (it loops forever on some
// headers and frees invalid pointers on others, which ASan reports and plain
// glibc may not notice), and both the parser path (whose walk lists links
// with H5Literate) and the libhdf5 path call it. The parent restarts a child
// after the variant that killed or stalled it.
//
// argv: SRC DIR FROM, stdin: JSON [[at, value], ...] (bytes of SRC to damage).
// stdout, one JSON line per variant i >= FROM: {"start": i} before it, then
// {"i", "got", "ref", "strict"} (got null: the parser declined; "open": false
// when the damaged file no longer opens).
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { native } from '../../dist/addon/binding.js';
import { File } from '../../dist/index.js';

const [src, dir, fromArg] = process.argv.slice(2);
const variants = JSON.parse(readFileSync(0, 'utf8'));
const bytes = readFileSync(src);
const sorted = (rows) => rows && [...rows].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
function layout(p, engine) {
  const f = File.open(p);
  try {
    return sorted(native.modelLayout(f.fileHandle, '', engine));
  } finally {
    f.close();
  }
}
const say = (o) => process.stdout.write(`${JSON.stringify(o)}\n`);
for (let i = Number(fromArg); i < variants.length; i++) {
  say({ start: i });
  const [at, v] = variants[i];
  const b = Buffer.from(bytes);
  b[at] = v;
  // A new file (a new inode) for each damaged copy: libhdf5 shares an open
  // file by inode, so rewriting one path could show it stale headers.
  const work = join(dir, `damaged-${process.pid}-${i}.h5`);
  writeFileSync(work, b);
  try {
    let got;
    try {
      got = layout(work, 'parser');
    } catch {
      say({ i, open: false });
      continue;
    }
    if (got === null) {
      say({ i, got: null });
      continue;
    }
    let ref;
    try {
      ref = layout(work, 'libhdf5');
    } catch {
      ref = null; // libhdf5 refuses the file: the parser must not have answered for it
    }
    say({ i, got, ref, strict: layout(work, 'parser-strict') });
  } finally {
    rmSync(work, { force: true });
  }
}
say({ done: true });
