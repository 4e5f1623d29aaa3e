import type { File } from '../h5/file.js';
import { native, type ModelLayoutRow } from '../addon/binding.js';
import { H5Error } from '../errors.js';
import { typedTensor, type TypedArray, type TypedTensor } from '../h5/dtypes.js';
import { constants as bufferConstants } from 'node:buffer';
import { fstatSync } from 'node:fs';
import { endianness } from 'node:os';
import { ARRAY_TYPES } from '../h5/dtypes.js';
import { INDEX_ATTR, indexBindingProblem, parseIndex, type IndexEntry } from './tensor-index.js';
import { compareNames, TENSOR_SHA_ATTR, type Provenance } from './schema.js';
import { boundedMap, rangeSha256, tensorSha256 } from './digest.js';
import { ioError } from '../util/publish.js';
import { tensorError } from './load-open.js';
import { isTensorDType, type Scanned } from './load-scan.js';
import { checkAbort } from '../util/abort.js';

const LITTLE = endianness() === 'LE';
const MAX_MAPPED_BYTES = bufferConstants.MAX_LENGTH;
// The mapping of the tensors is made through libhdf5's own descriptor, so it
// is the inode that was vetted and parsed; without /proc there is no such
// path and the loader walks the file instead.
const PROC_FD = '/proc/self/fd';

function fdOf(file: File): number {
  return native.fileDescriptor(file.fileHandle);
}

/**
 * The file's index; null when it has none (h5py-written, older h5vault) or
 * one of another version. An index not bound to the provenance is an
 * H5_CHECKSUM_MISMATCH when verifying, and ignored (the file is walked)
 * when the caller asked not to verify.
 */
export function readIndex(file: File, abs: string, prov: Provenance, verify: boolean): IndexEntry[] | null {
  if (!file.attrs.has(INDEX_ATTR)) return null;
  const entries = parseIndex(abs, file.attrs.get(INDEX_ATTR), fstatSync(fdOf(file)).size);
  const problem = entries && indexBindingProblem(entries, prov);
  if (!problem) return entries;
  if (verify) throw new H5Error(`'${abs}': ${problem}`, { code: 'H5_CHECKSUM_MISMATCH' });
  return null;
}

/**
 * Views over the index need a little-endian host (the index's bytes are
 * little-endian), libhdf5's descriptor reachable by path, and a file that fits
 * one ArrayBuffer (the whole file is mapped as one). Bigger files are walked;
 * dataset views also map the whole file, so they cannot view them either
 * (docs/benchmarks.md#verification-at-hash-speed).
 */
export function canMapIndexed(file: File): boolean {
  return LITTLE && file.mode === 'r' && process.platform === 'linux' && fstatSync(fdOf(file)).size <= MAX_MAPPED_BYTES;
}

/** Depth-first walk order: path segments compared one by one, each by its UTF-8 bytes (libhdf5's name index). */
function compareWalkOrder(a: string, b: string): number {
  // ASCII names: the same as comparing with '/' below every other character.
  const n = Math.min(a.length, b.length);
  let ascii = true;
  for (let i = 0; i < n && ascii; i++) {
    const p = a.charCodeAt(i);
    const q = b.charCodeAt(i);
    if (p >= 0x80 || q >= 0x80) ascii = false;
    else if (p !== q) return p === 0x2f ? -1 : q === 0x2f ? 1 : p < q ? -1 : 1;
  }
  if (ascii) return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
  const x = a.split('/');
  const y = b.split('/');
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const c = compareNames(x[i]!, y[i]!);
    if (c !== 0) return c;
  }
  return x.length - y.length;
}

/**
 * True when the file's datasets, as libhdf5 reads their object headers (one
 * native call for all of them), are exactly what the index says: the same
 * tensors, dtypes, shapes and sizes, each indexed offset the start of a
 * contiguous, allocated, little-endian, internal data block (so mapping it
 * gives the stored values), every other tensor without one, and (when
 * verifying) each tensor's own SHA-256 attribute equal to the index's. That is everything
 * the walk path checks, so a false answer sends the load down that path,
 * which reports what differs (H5_CORRUPT, H5_UNSUPPORTED_TYPE, a checksum
 * error) exactly as before.
 */
export function layoutMatches(file: File, index: IndexEntry[], verify: boolean): boolean {
  // Without verify the tensors' own SHA-256 attributes are not read (the walk path ignores them too).
  const rows = native.modelLayout(file.fileHandle, verify ? TENSOR_SHA_ATTR : '');
  if (!rows) return false;
  const byName = new Map<string, ModelLayoutRow>();
  for (const r of rows) {
    if (r[1] === 'string') continue;
    if (!isTensorDType(r[1])) return false;
    byName.set(r[0].slice(1), r);
  }
  if (byName.size !== index.length) return false;
  for (const e of index) {
    const r = byName.get(e.name);
    if (!r) return false;
    const [, dtype, shape, offset, bytes, layout, bigEndian, external, allocated, sha] = r;
    if (dtype !== e.dtype || bytes !== e.bytes || (verify && sha !== e.sha256)) return false;
    if (shape.length !== e.shape.length || shape.some((n, i) => n !== e.shape[i])) return false;
    if ((bytes === 0 ? null : offset) !== e.offset) return false;
    if (e.offset !== null && (layout !== 'contiguous' || bigEndian || external || !allocated)) return false;
  }
  return true;
}

/** Throws H5_CORRUPT unless the index lists exactly the file's tensors with their real dtype, shape, size and offset. */
export function checkIndexLayout(abs: string, index: IndexEntry[], list: Scanned[]): void {
  const wrong = (why: string): H5Error =>
    new H5Error(`'${abs}': its ${INDEX_ATTR} attribute does not describe the file (${why})`, { code: 'H5_CORRUPT' });
  if (index.length !== list.length) throw wrong(`it lists ${index.length} tensors, the file holds ${list.length}`);
  const byName = new Map(list.map((t) => [t.name, t]));
  index.forEach((e) => {
    const t = byName.get(e.name);
    if (!t) throw wrong(`it lists '${e.name}', which the file does not hold`);
    const off = t.bytes === 0 ? null : t.ds.offset;
    if (e.dtype !== t.dtype || e.shape.join(',') !== t.shape.join(',') || e.bytes !== t.bytes || e.offset !== off) {
      throw wrong(
        `tensor '${e.name}' is ${t.dtype}[${t.shape.join(',')}] at ${String(off)}, the index says ${e.dtype}[${e.shape.join(',')}] at ${String(e.offset)}`,
      );
    }
  });
}

/**
 * Maps every tensor from the index: one mapping of the file, a typed array
 * per tensor over it; only compressed tensors open their dataset (to decode
 * it). With `verify`, each tensor's bytes are hashed against the index's
 * SHA-256 (bound to the stored model digest by parseIndex).
 */
export async function loadIndexed(
  file: File,
  abs: string,
  index: IndexEntry[],
  o: { verify: boolean; signal?: AbortSignal },
): Promise<{ tensors: Map<string, TypedTensor>; views: Set<string> }> {
  const fd = fdOf(file);
  const mapped = index.some((e) => e.offset !== null && e.bytes > 0)
    ? await native.mapFile(`${PROC_FD}/${fd}`).catch((e) => {
        throw ioError(e, `cannot map '${abs}'`);
      })
    : null;
  const tensors = new Map<string, TypedTensor>();
  const views = new Set<string>();
  const data: TypedArray[] = [];
  // The map lists tensors in the walk's order (depth-first, each group's links
  // by name), as loads of files without an index do.
  const order = index.map((_, i) => i).sort((a, b) => compareWalkOrder(index[a]!.name, index[b]!.name));
  for (const e of index) {
    const Ctor = ARRAY_TYPES[e.dtype];
    let d: TypedArray;
    if (e.bytes === 0) {
      d = new Ctor(new ArrayBuffer(0));
      views.add(e.name); // as Dataset.view() of an empty dataset: nothing to copy
    } else if (e.offset !== null) {
      // parseIndex bounded the range by the file's size when it was opened; the mapping was made since.
      if (!mapped || e.offset + e.bytes > mapped.size)
        throw new H5Error(`'${abs}' is shorter than its tensor index says (tensor '${e.name}')`, {
          code: 'H5_CORRUPT',
        });
      if (e.offset % Ctor.BYTES_PER_ELEMENT === 0) {
        d = new Ctor(mapped.buffer, e.offset, e.bytes / Ctor.BYTES_PER_ELEMENT);
        views.add(e.name);
      } else {
        d = new Ctor(mapped.buffer.slice(e.offset, e.offset + e.bytes));
      }
    } else {
      checkAbort(o.signal, 'load');
      try {
        d = (await file.dataset(e.name).read({ signal: o.signal })) as TypedArray;
      } catch (err) {
        throw err instanceof H5Error && err.code !== 'H5_ABORTED' ? tensorError(e.name, err) : err;
      }
    }
    data.push(d);
  }
  for (const i of order) tensors.set(index[i]!.name, typedTensor(index[i]!.dtype, index[i]!.shape, data[i]!));
  if (o.verify) {
    const actual = await boundedMap(
      index,
      (e) => e.bytes,
      async (e, i) => {
        checkAbort(o.signal, 'load');
        if (e.bytes === 0) return await tensorSha256(data[i]!);
        if (e.offset === null) return tensorSha256(data[i]!);
        return (
          await rangeSha256(fd, e.offset, e.bytes).catch((err) => {
            throw ioError(err, `cannot read '${abs}'`);
          })
        ).hex;
      },
    );
    index.forEach((e, i) => {
      if (actual[i] !== e.sha256) {
        throw new H5Error(
          `tensor '${e.name}' in '${abs}' does not match its checksum (stored ${e.sha256}, data ${actual[i]})`,
          {
            code: 'H5_CHECKSUM_MISMATCH',
            tensor: e.name,
            expected: e.sha256,
            actual: actual[i],
          },
        );
      }
    });
  }
  return { tensors, views };
}
