import type { File } from '../h5/file.js';
import { native } from '../addon/binding.js';
import { Dataset } from '../h5/dataset.js';
import { H5Error } from '../errors.js';
import type { NumericDType, TypedArray } from '../h5/dtypes.js';
import { ARRAY_TYPES } from '../h5/dtypes.js';
import { TENSOR_SHA_ATTR, type Provenance } from './schema.js';
import { boundedMap, modelDigestOf, rangeSha256, tensorSha256 } from './digest.js';
import { ioError } from '../util/publish.js';
import { checkAbort } from '../util/abort.js';

export interface Scanned {
  name: string;
  ds: Dataset;
  dtype: NumericDType;
  shape: number[];
  bytes: number;
  expected: string | null;
  actual: string | null;
  data?: TypedArray;
  viewed: boolean;
  error?: unknown;
}

export function isTensorDType(d: string): d is NumericDType {
  return Object.hasOwn(ARRAY_TYPES, d);
}

/**
 * Numeric datasets of the file in name order (walk() visits depth-first in
 * name order). String datasets are text, not tensors, and are not loaded
 * (docs/model-storage.md); a dataset of any other type is refused
 * (H5_UNSUPPORTED_TYPE, naming it) rather than left out of the model unseen.
 */
export function listTensors(file: File): Scanned[] {
  const out: Scanned[] = [];
  const refused: string[] = [];
  for (const [p, obj] of file.walk()) {
    if (!(obj instanceof Dataset)) continue;
    const dtype = obj.dtype;
    if (dtype === 'string') continue;
    if (!isTensorDType(dtype)) {
      refused.push(p);
      continue;
    }
    const sha = obj.attrs.has(TENSOR_SHA_ATTR) ? obj.attrs.get(TENSOR_SHA_ATTR) : null;
    out.push({
      name: p.slice(1),
      ds: obj,
      dtype,
      shape: obj.shape,
      bytes: obj.byteLength,
      expected: typeof sha === 'string' ? sha : null,
      actual: null,
      viewed: false,
    });
  }
  if (refused.length) {
    throw new H5Error(
      `'${file.filename}' holds dataset${refused.length > 1 ? 's' : ''} of a type h5vault cannot load as a tensor: ${refused.map((p) => `'${p}'`).join(', ')}; read ${refused.length > 1 ? 'them' : 'it'} with File instead`,
      { code: 'H5_UNSUPPORTED_TYPE', datasets: refused },
    );
  }
  return out;
}

/**
 * Loads each tensor (view if possible unless `copy`, else an async read) and
 * hashes it if `verify`, several at a time. A view's bytes are the file's
 * bytes, so views are hashed from the file by worker threads (nothing copied
 * or hashed on the event loop); copies are hashed from memory. Read errors
 * are recorded per tensor, not thrown, so verifyModel can report them all.
 */
export async function scan(
  file: File,
  list: Scanned[],
  o: { verify: boolean; copy: boolean; keep: boolean; signal?: AbortSignal },
): Promise<void> {
  // Views are hashed through libhdf5's own descriptor: the bytes hashed are
  // the bytes mapped and parsed, even if the path is replaced meanwhile.
  const fd = o.verify ? native.fileDescriptor(file.fileHandle) : undefined;
  await boundedMap(
    list,
    (t) => t.bytes,
    async (t) => {
      checkAbort(o.signal, 'load');
      try {
        let data: TypedArray;
        const offset = t.ds.offset;
        if (!o.copy && t.ds.viewable === true) {
          data = t.ds.view();
          t.viewed = true;
          if (fd !== undefined && offset !== null && t.bytes > 0) {
            t.actual = (
              await rangeSha256(fd, offset, t.bytes).catch((e) => {
                throw ioError(e, `cannot read '${file.filename}'`);
              })
            ).hex;
          }
        } else {
          data = (await t.ds.read({ signal: o.signal })) as TypedArray;
        }
        if (o.verify && t.actual === null) t.actual = await tensorSha256(data);
        if (o.keep) t.data = data;
      } catch (e) {
        if (e instanceof H5Error && e.code === 'H5_ABORTED') throw e;
        t.error = e;
      }
    },
  );
}

export function errMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Model-level checks: tensor count and the model digest over what is stored. */
export function modelProblems(
  list: Scanned[],
  prov: Provenance,
  useActual: boolean,
): { problems: string[]; digest: string | null } {
  const problems: string[] = [];
  if (list.length !== prov.tensors)
    problems.push(`the file holds ${list.length} tensors, its provenance says ${prov.tensors}`);
  const complete = list.every((t) => (useActual ? t.actual : t.expected) !== null);
  const digest = complete
    ? modelDigestOf(
        list.map((t) => ({
          name: t.name,
          dtype: t.dtype,
          shape: t.shape,
          sha256: (useActual ? t.actual : t.expected)!,
        })),
      )
    : null;
  if (digest !== null && digest !== prov.modelDigest)
    problems.push(`model digest ${digest} does not match the stored ${prov.modelDigest}`);
  return { problems, digest };
}
