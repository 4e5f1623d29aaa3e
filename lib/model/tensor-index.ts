/**
 * The tensor index of a model file (docs/model-storage.md#tensor-index): one
 * root attribute, `h5vault.index`, a variable-length string holding canonical
 * JSON that lists every tensor with where its bytes are. It lets loadModel map
 * every tensor from one attribute read instead of opening each dataset
 * (libhdf5 1.10 spends ~30 µs per H5Dopen). It is plain HDF5: h5py reads it
 * as a str.
 *
 * The index is a claim the file makes about itself. parseIndex checks that it
 * is well formed; indexBindingProblem that it is bound to the provenance (same
 * tensor count, and the model digest recomputed from the index's entries
 * equals the stored one); whether
 * its offsets are the datasets' real offsets is checked by the loader unless
 * the file's bytes are vouched for (load.ts, docs/security.md#tensor-index).
 */
import { isDType, itemSize, type NumericDType } from '../h5/dtypes.js';
import { H5Error } from '../errors.js';
import { checkTensorName, compareNames } from './schema.js';
import { modelDigestOf, SHA256_HEX } from './digest.js';
import { parseStoredJson } from '../safety/budget.js';

/** Root attribute holding the index. */
export const INDEX_ATTR = 'h5vault.index';
/** Version of the index's JSON layout; readers ignore (and walk) indexes of another version. */
export const INDEX_FORMAT = 1;

/** One tensor of the index. */
export interface IndexEntry {
  name: string;
  dtype: NumericDType;
  shape: number[];
  /** File offset of the contiguous data; null when it has none (compressed, or empty). */
  offset: number | null;
  /** Logical size in bytes (elements × item size). */
  bytes: number;
  sha256: string;
}

/**
 * Canonical JSON of the index: entries in name order as arrays
 * [name, dtype, shape, offset, bytes, sha256]. Equal models saved the same
 * way give equal text (files stay byte-reproducible).
 */
export function encodeIndex(entries: readonly IndexEntry[]): string {
  const rows = entries.map((e) => [e.name, e.dtype, e.shape, e.offset, e.bytes, e.sha256]);
  return JSON.stringify({ format: INDEX_FORMAT, tensors: rows });
}

function bad(path: string, why: string): H5Error {
  return new H5Error(`'${path}' has an invalid ${INDEX_ATTR} attribute: ${why}`, { code: 'H5_CORRUPT' });
}

const isCount = (n: unknown): n is number => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;

/**
 * Parses and checks an index read from `path`. Returns null for an index of
 * another format version (the caller walks the file instead); throws
 * H5_CORRUPT for anything malformed, since a file that carries a malformed
 * claim about itself is damaged or forged.
 * `fileSize` bounds every range.
 */
export function parseIndex(path: string, text: unknown, fileSize: number): IndexEntry[] | null {
  if (typeof text !== 'string') throw bad(path, 'not a string');
  let doc: unknown;
  try {
    doc = parseStoredJson(text);
  } catch {
    throw bad(path, 'not JSON');
  }
  const d = doc as { format?: unknown; tensors?: unknown };
  if (typeof d !== 'object' || d === null || !isCount(d.format)) throw bad(path, 'no format number');
  if (d.format !== INDEX_FORMAT) return null;
  if (!Array.isArray(d.tensors)) throw bad(path, 'no tensor list');
  const out: IndexEntry[] = [];
  for (const row of d.tensors as unknown[]) {
    if (!Array.isArray(row) || row.length !== 6)
      throw bad(path, `entry ${out.length} is not [name, dtype, shape, offset, bytes, sha256]`);
    const [name, dtype, shape, offset, bytes, sha256] = row as unknown[];
    try {
      checkTensorName(name);
    } catch (e) {
      throw bad(path, (e as Error).message);
    }
    const what = `tensor '${name}'`;
    if (!isDType(dtype) || dtype === 'string') throw bad(path, `${what} has dtype ${JSON.stringify(dtype)}`);
    if (!Array.isArray(shape) || !shape.every(isCount)) throw bad(path, `${what} has an invalid shape`);
    const elems = (shape as number[]).reduce((a, b) => a * b, 1);
    if (!isCount(bytes) || elems * itemSize(dtype) !== bytes)
      throw bad(path, `${what} claims ${String(bytes)} bytes for shape [${(shape as number[]).join(', ')}]`);
    if (offset !== null && (!isCount(offset) || offset + bytes > fileSize))
      throw bad(path, `${what} claims bytes ${String(offset)}..+${bytes} of a ${fileSize}-byte file`);
    if (typeof sha256 !== 'string' || !SHA256_HEX.test(sha256)) throw bad(path, `${what} has no SHA-256`);
    const prev = out[out.length - 1];
    if (prev && compareNames(prev.name, name) >= 0)
      throw bad(path, `entries are not in strict name order at '${name}'`);
    out.push({ name, dtype, shape: shape as number[], offset: offset as number | null, bytes, sha256 });
  }
  // Two tensors claiming overlapping bytes cannot both be what the writer stored.
  const ranges = out.filter((e) => e.offset !== null && e.bytes > 0).sort((a, b) => a.offset! - b.offset!);
  for (let i = 1; i < ranges.length; i++) {
    if (ranges[i]!.offset! < ranges[i - 1]!.offset! + ranges[i - 1]!.bytes)
      throw bad(path, `tensors '${ranges[i - 1]!.name}' and '${ranges[i]!.name}' overlap`);
  }
  return out;
}

/**
 * Why the index is not bound to the provenance (null when it is): it must
 * list as many tensors as `h5vault.tensors` says, and its entries must hash
 * to `h5vault.model_digest`, the same digest the tensors' own checksums give.
 */
export function indexBindingProblem(
  entries: readonly IndexEntry[],
  expect: { tensors: number; modelDigest: string },
): string | null {
  if (entries.length !== expect.tensors)
    return `the ${INDEX_ATTR} attribute lists ${entries.length} tensors, the provenance says ${expect.tensors}`;
  if (modelDigestOf(entries) !== expect.modelDigest)
    return `the ${INDEX_ATTR} attribute's entries do not hash to the stored model digest ${expect.modelDigest}`;
  return null;
}
