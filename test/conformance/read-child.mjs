// The h5vault side of the conformance harness, run in a child process
// (harness.ts, runFile) so that a crash in the addon or in libhdf5 fails the
// value being read instead of killing the test run. Plain JavaScript over the
// built package (dist/): it starts in ~0.2 s, where a TypeScript child would
// take seconds per file.
//
// Protocol (child_process.fork, serialization 'advanced', so typed arrays,
// bigints and nested objects arrive as they are):
//   parent -> { file, from, walk, entries: [{ kind, path, object, name? }] }
//   child  -> { walk: string[] } | { walkError }            (when asked to walk)
//          -> { at: i, started: true }                      before entry i is read
//          -> { at: i, value, shape? } | { at: i, error }   once it is read
//          -> { done: true }
// Entries before `from` are skipped: after a crash the parent starts a new
// child at the entry after the one that crashed (without the walk, if that crashed).
import { Dataset, Empty, File, H5Error } from '../../dist/index.js';

function errorOf(e) {
  return e instanceof H5Error
    ? { h5: true, code: e.code, message: e.message }
    : { h5: false, name: e?.name ?? typeof e, message: e?.message ?? String(e) };
}

// Empty (a null dataspace) does not survive structured cloning as a class.
const plain = (v) => (v instanceof Empty ? { $empty: true } : v);

process.once('message', async ({ file, from, walk, entries }) => {
  let f;
  try {
    f = File.open(file);
  } catch (e) {
    process.send({ openError: errorOf(e) });
    process.send({ done: true }, () => process.exit(0));
    return;
  }
  if (walk) {
    try {
      const ours = [];
      for (const [path, o] of f.walk()) if (o instanceof Dataset) ours.push(path);
      process.send({ walk: ours });
    } catch (e) {
      process.send({ walkError: errorOf(e) });
    }
  }
  for (let i = from; i < entries.length; i++) {
    const p = entries[i];
    process.send({ at: i, started: true });
    try {
      if (p.kind === 'dataset') {
        const ds = f.dataset(p.path);
        const value = await ds.read();
        process.send({ at: i, value: plain(value), shape: ds.shape });
      } else {
        // Attributes of committed datatypes are read through datatype().
        const owner = p.path === '/' ? f : p.object === 'datatype' ? f.datatype(p.path) : f.get(p.path);
        process.send({ at: i, value: plain(owner.attrs.get(p.name)) });
      }
    } catch (e) {
      process.send({ at: i, error: errorOf(e) });
    }
  }
  f.close();
  process.send({ done: true }, () => process.exit(0));
});
