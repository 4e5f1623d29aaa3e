/**
 * The S3 store's version record (manifest), NAME/versions/vNNNNNN.json: its
 * type, the check that a stored object is one, and what a record holds that
 * is read back from the written file. Format 1 names one whole-file object
 * (s3-file.ts); format 2 names one object per tensor (s3-tensors.ts, cas.ts).
 */
import { File } from '../../h5/file.js';
import type { H5Error } from '../../errors.js';
import { isDType, itemSize } from '../../h5/dtypes.js';
import { ATTR, TENSOR_SHA_ATTR, type JsonValue } from '../schema.js';
import { SHA256_HEX } from '../digest.js';
import { versionFile, type VersionInfo } from './common.js';
import { isBlobKey, MIN_CHUNK_BYTES, type CasTensor, type RebuildRecipe } from './cas.js';

/** A version record skipped because it is not one (docs/object-storage.md#bad-records). */
export interface BadRecord {
  name: string;
  version: number;
  /** Its key in the bucket. */
  key: string;
  /** Why (H5_CORRUPT). */
  error: H5Error;
}

/** Records are a few KiB (one line per tensor): anything larger is not one of ours. */
export const RECORD_MAX_BYTES = 16 * 1024 * 1024;

/**
 * The version record (manifest) stored at NAME/versions/vNNNNNN.json: format 1
 * names one whole-file object; format 2 (layout 'tensors') names one object
 * per tensor and how to rebuild the file byte for byte.
 */
export interface S3VersionRecord extends VersionInfo {
  format: 1 | 2;
  name: string;
  /** Format 1: key of the version's object, relative to the store prefix. */
  object?: string;
  /**
   * Format 2 adds each tensor's `bytes` and either `object` (key relative to
   * the store prefix) or, for a tensor bigger than one piece, `chunkBytes` and
   * `chunks` (each piece's SHA-256 and object).
   */
  tensors: ({ name: string; dtype: string; shape: number[]; sha256: string } & Partial<
    Pick<CasTensor, 'bytes' | 'object' | 'chunkBytes' | 'chunks'>
  >)[];
  /** Format 2: the save options and writer provenance the file was written with. */
  rebuild?: RebuildRecipe;
  provenance: Record<string, JsonValue>;
  publisher: { host: string; pid: number; nonce: string };
}

/** Record file names: v000042.json. */
// A record key holding 0 bytes is a tombstone: that version was pruned. prune
// empties the record instead of deleting it so the conditional write of a
// publisher that chose the number before the prune fails with 412, as for any
// taken number: a number is used once, ever (a deleted record would let a slow
// publisher recreate a pruned number below the latest). LIST reports sizes, so
// listings skip tombstones without reading them.
export const TOMBSTONE_BYTES = 0;
export const RECORD_RE = /^v(\d{6,})\.json$/;

export const recordName = (v: number): string => versionFile(v).replace(/\.h5$/, '.json');

function isManifest(r: S3VersionRecord): boolean {
  const b = r.rebuild;
  return (
    Array.isArray(r.tensors) &&
    r.tensors.every(
      (t) =>
        typeof t === 'object' &&
        t !== null &&
        typeof t.name === 'string' &&
        isDType(t.dtype) &&
        t.dtype !== 'string' &&
        Array.isArray(t.shape) &&
        t.shape.every((d) => Number.isSafeInteger(d) && d >= 0) &&
        // Its size follows from dtype and shape: a manifest cannot make a pull allocate more than the tensor.
        t.bytes === t.shape.reduce((a, d) => a * d, itemSize(t.dtype)) &&
        (t.chunks === undefined ? isBlobKey(t.object, t.sha256) && t.chunkBytes === undefined : isChunked(t)),
    ) &&
    typeof b === 'object' &&
    b !== null &&
    typeof b.metadataJson === 'string' &&
    typeof b.shuffle === 'boolean' &&
    typeof b.writer === 'object' &&
    b.writer !== null &&
    ['version', 'hdf5', 'node', 'platform'].every((k) => typeof b.writer[k as keyof typeof b.writer] === 'string')
  );
}

/**
 * A chunked tensor: pieces of chunkBytes (at least 64 KiB: a manifest cannot
 * make a pull issue a GET per byte) covering exactly its bytes, each a valid
 * object key of its own SHA-256, and no whole-tensor object.
 */
function isChunked(t: S3VersionRecord['tensors'][number]): boolean {
  const { chunkBytes: c, chunks, bytes } = t;
  return (
    t.object === undefined &&
    Number.isSafeInteger(c) &&
    c! >= MIN_CHUNK_BYTES &&
    Number.isSafeInteger(bytes) &&
    bytes! > c! &&
    Array.isArray(chunks) &&
    chunks.length === Math.ceil(bytes! / c!) &&
    chunks.every(
      (k) => typeof k === 'object' && k !== null && typeof k.sha256 === 'string' && isBlobKey(k.object, k.sha256),
    )
  );
}

export function isRecord(x: unknown, name: string, v: number): x is S3VersionRecord {
  const r = x as S3VersionRecord;
  return (
    typeof r === 'object' &&
    r !== null &&
    (r.format === 1 ? typeof r.object === 'string' : r.format === 2 && isManifest(r)) &&
    r.name === name &&
    r.version === v &&
    typeof r.digest === 'string' &&
    SHA256_HEX.test(r.digest) &&
    Number.isSafeInteger(r.bytes) &&
    typeof r.publisher?.nonce === 'string'
  );
}

/** The VersionInfo part of a record (what `versions` lists). */
export function info(r: S3VersionRecord): VersionInfo {
  return {
    version: r.version,
    file: r.file,
    digest: r.digest,
    modelDigest: r.modelDigest,
    bytes: r.bytes,
    createdAt: r.createdAt,
    metadata: r.metadata,
  };
}

/** The manifest's tensor list and provenance, read back from the written file's attributes. */
export function readTensorList(path: string): {
  tensors: S3VersionRecord['tensors'];
  provenance: Record<string, JsonValue>;
} {
  const f = File.open(path);
  try {
    const tensors: S3VersionRecord['tensors'] = [];
    const walk = (g: ReturnType<File['group']> | File, prefix: string): void => {
      for (const k of g.keys()) {
        const child = g.get(k);
        const full = prefix ? `${prefix}/${k}` : k;
        if ('shape' in child) {
          const ds = child as unknown as { dtype: string; shape: number[]; attrs: { get(n: string): unknown } };
          tensors.push({
            name: full,
            dtype: String(ds.dtype),
            shape: [...ds.shape],
            sha256: String(ds.attrs.get(TENSOR_SHA_ATTR)),
          });
        } else walk(child as ReturnType<File['group']>, full);
      }
    };
    walk(f, '');
    const provenance: Record<string, JsonValue> = {};
    for (const [k, a] of Object.entries(ATTR)) {
      if (k !== 'metadata' && f.attrs.has(a)) provenance[k] = f.attrs.get(a) as JsonValue;
    }
    return { tensors, provenance };
  } finally {
    f.close();
  }
}
