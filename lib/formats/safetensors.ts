/**
 * safetensors (https://github.com/huggingface/safetensors, README "Format"):
 * an 8-byte little-endian header size N, N bytes of JSON header, then the
 * tensors' little-endian C-order bytes. openSafetensors maps the file and
 * hands out zero-copy views (docs/views.md semantics); saveSafetensors writes
 * the same bytes as the reference writer, atomically and durably
 * (docs/architecture.md, invariant 5). The header is validated at least as
 * strictly as the reference reader does (docs/runtime.md#safetensors lists
 * every rule and the `reason` each violation gives).
 */
import { open } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { native } from '../addon/binding.js';
import { ARRAY_TYPES, checkTensorRecord, type NumericDType, type TypedArray } from '../h5/dtypes.js';
import { H5Error, withSite } from '../errors.js';
import { fileSha256, leBytes } from '../model/digest.js';
import { checkName as checkNameRule } from '../util/names.js';
import { cleanStaleTemps, faultPoint, ioError, publishFile, type PublishTarget } from '../util/publish.js';
import { compareNames, type Tensor } from '../model/schema.js';
import { openInput, type Input } from '../safety/open.js';
import { OFF_LOOP_BYTES, runOffLoop } from '../safety/budget.js';
import {
  ALL_DTYPES,
  compactEntry,
  compactMetadata,
  headerSize,
  parseHeaderCompact,
  SAFETENSORS_MAX_HEADER_BYTES,
  unpackHeader,
  type CompactHeader,
  type PackedHeader,
  type ParsedHeader,
} from './safetensors-header.js';

export {
  SAFETENSORS_MAX_HEADER_BYTES,
  type HeaderEntry,
  type ParsedHeader,
  type SafetensorsInvalidReason,
} from './safetensors-header.js';
import {
  booleanOption,
  checkObject,
  checkPath,
  fileTarget,
  functionOption,
  integerOption,
  isPlainObject,
  signalOption,
} from '../util/validate.js';
import { checkAbort } from '../util/abort.js';

/**
 * The safetensors dtypes h5vault reads and writes. The 8-bit floats have no
 * h5vault dtype: their data is the raw bytes (Uint8Array, dtype 'uint8') and
 * `safetensorsDtype` names the format.
 */
export type SafetensorsDType =
  | 'F64'
  | 'F32'
  | 'F16'
  | 'BF16'
  | 'I64'
  | 'I32'
  | 'I16'
  | 'I8'
  | 'U64'
  | 'U32'
  | 'U16'
  | 'U8'
  | 'BOOL'
  | 'F8_E4M3'
  | 'F8_E5M2'
  | 'F8_E8M0'
  | 'F8_E4M3FNUZ'
  | 'F8_E5M2FNUZ';

/** safetensors dtype -> h5vault dtype. */
export const SAFETENSORS_TO_DTYPE: Readonly<Record<SafetensorsDType, NumericDType>> = {
  F64: 'float64',
  F32: 'float32',
  F16: 'float16',
  BF16: 'bfloat16',
  I64: 'int64',
  I32: 'int32',
  I16: 'int16',
  I8: 'int8',
  U64: 'uint64',
  U32: 'uint32',
  U16: 'uint16',
  U8: 'uint8',
  BOOL: 'bool',
  F8_E4M3: 'uint8',
  F8_E5M2: 'uint8',
  F8_E8M0: 'uint8',
  F8_E4M3FNUZ: 'uint8',
  F8_E5M2FNUZ: 'uint8',
};

/** h5vault dtype -> safetensors dtype (uint8 data may instead be written as an 8-bit float with `safetensorsDtype`). */
export const DTYPE_TO_SAFETENSORS: Readonly<Record<NumericDType, SafetensorsDType>> = {
  float64: 'F64',
  float32: 'F32',
  float16: 'F16',
  bfloat16: 'BF16',
  int64: 'I64',
  int32: 'I32',
  int16: 'I16',
  int8: 'I8',
  uint64: 'U64',
  uint32: 'U32',
  uint16: 'U16',
  uint8: 'U8',
  bool: 'BOOL',
};

export function isSafetensorsDType(x: unknown): x is SafetensorsDType {
  return typeof x === 'string' && Object.hasOwn(SAFETENSORS_TO_DTYPE, x);
}

/** One tensor of an opened safetensors file. A `Tensor`, so it can be passed to saveModel as is. */
export interface SafetensorsTensor extends Tensor {
  /** The dtype as stored in the file ('BF16', 'F8_E4M3', ...). */
  safetensorsDtype: SafetensorsDType;
  /** Absolute file offset of the tensor's first byte. */
  offset: number;
  byteLength: number;
  /**
   * True when `data` is a copy: the tensor's offset is not a multiple of its
   * item size, so no typed array can view it in place. False: `data` views
   * the file mapping (zero-copy).
   */
  copied: boolean;
}

export interface SafetensorsFile {
  /** Absolute path. */
  path: string;
  /** Tensors by name, in UTF-8 byte order of the names. */
  tensors: Map<string, SafetensorsTensor>;
  /** The header's `__metadata__` string map, or null when the file has none. */
  metadata: Record<string, string> | null;
  /** N: the header's size in bytes (without the 8-byte size field). */
  headerBytes: number;
  /** File offset of the data section (8 + N). */
  dataOffset: number;
  /** File size in bytes. */
  size: number;
  /** Names of the tensors whose data is a zero-copy view of the mapping. */
  views: Set<string>;
  /** Names of the tensors that had to be copied (misaligned; see SafetensorsTensor.copied). */
  copied: Set<string>;
  /** Drops this object's reference to the mapping. Views stay valid until collected (docs/views.md). */
  close(): void;
  [Symbol.dispose](): void;
}

export interface SafetensorsOpenOptions {
  /** Copy every tensor into owned memory instead of viewing the mapping (default false). */
  copy?: boolean;
  /** Refuse headers bigger than this (default and maximum: 100,000,000 bytes, as the reference). */
  maxHeaderBytes?: number;
  /** @internal The file, already pinned by the caller (lib/safety/open.ts), which keeps it open; it is mapped through that descriptor. */
  input?: Input;
}

/**
 * Maps the file through the one opener (lib/safety/open.ts): a FIFO or
 * /dev/zero is refused before anything blocks, and the mapping is of the
 * pinned inode (the native side maps /proc/self/fd/N), checked unchanged
 * after (same identity, same size as pinned).
 */
async function mapPinned(abs: string, given: Input | undefined): Promise<{ buffer: ArrayBuffer | null; size: number }> {
  const input = given ?? (await openInput(abs, 'safetensors file'));
  try {
    const mapped: { buffer: ArrayBuffer | null; size: number } = await native.mapFile(input.openPath);
    if (mapped.size !== input.size) throw input.changedError('while it was being mapped');
    input.assertUnchanged('while it was being mapped');
    return mapped;
  } finally {
    if (input !== given) input.close();
  }
}

/**
 * Parses and validates the header of a whole safetensors file held in
 * `bytes` (synchronously; openSafetensors parses large headers off the event
 * loop). Every rule of the reference reader, plus: the header must start
 * with '{' (the format's README says MUST), no duplicate keys, no shape
 * entry or offset above 2^53 (lib/formats/safetensors-header.ts).
 */
export function parseSafetensorsHeader(
  path: string,
  bytes: Uint8Array,
  maxHeaderBytes = SAFETENSORS_MAX_HEADER_BYTES,
): ParsedHeader {
  const n = headerSize(path, bytes, maxHeaderBytes);
  const h = parseHeaderCompact(path, bytes.subarray(8, 8 + n), bytes.byteLength);
  return { headerBytes: n, metadata: compactMetadata(h), entries: h.names.map((_, k) => compactEntry(h, k)) };
}

/**
 * The validated header of a mapped file: parsed on this thread when it is
 * small, in the parse worker (a copy of the N bytes) when it is over
 * OFF_LOOP_BYTES, so a 100 MB header does not stop the event loop.
 */
async function parseHeaderOffLoop(path: string, all: Uint8Array, maxHeaderBytes: number): Promise<CompactHeader> {
  const n = headerSize(path, all, maxHeaderBytes);
  if (n <= OFF_LOOP_BYTES) return parseHeaderCompact(path, all.subarray(8, 8 + n), all.byteLength);
  const copy = all.slice(8, 8 + n);
  const packed = await runOffLoop<PackedHeader>(
    'safetensors-header',
    { path, bytes: copy, fileSize: all.byteLength },
    [copy.buffer],
    n,
  );
  return unpackHeader(packed);
}

/** Tensors handed out between two yields to the event loop while a large header's tensors are built. */
const BUILD_BATCH = 16_384;

/**
 * Opens a safetensors file: maps it read-only (MAP_PRIVATE), validates the
 * header, and gives every tensor as a typed array over the mapping. Only a
 * tensor whose offset is not a multiple of its item size is copied (and says
 * so: `copied: true`). A non-regular file (FIFO, device, directory) is refused
 * before any read. Hostile headers throw H5Error H5_SAFETENSORS_INVALID with a
 * `reason`; safetensors dtypes h5vault has no representation for (F4, F6_*,
 * C64) throw H5_UNSUPPORTED_TYPE.
 *
 * @example
 *   using st = await openSafetensors('model.safetensors');
 *   const w = st.tensors.get('dense.weight')!; // { dtype: 'float32', shape, data: Float32Array, copied: false }
 */
export async function openSafetensors(path: string, options: SafetensorsOpenOptions = {}): Promise<SafetensorsFile> {
  const site = new Error();
  checkPath(path);
  checkObject(options);
  const copy = booleanOption(options, 'copy', false);
  const maxHeaderBytes = integerOption(
    options,
    'maxHeaderBytes',
    2,
    SAFETENSORS_MAX_HEADER_BYTES,
    SAFETENSORS_MAX_HEADER_BYTES,
  );
  return withSite(site, async () => {
    const abs = resolve(path);
    let mapped = await mapPinned(abs, options.input);
    const all = new Uint8Array(mapped.buffer!);
    const header = await parseHeaderOffLoop(abs, all, maxHeaderBytes);
    const dataOffset = 8 + header.headerBytes;
    const tensors = new Map<string, SafetensorsTensor>();
    const views = new Set<string>();
    const copied = new Set<string>();
    // In name order (UTF-8 bytes), in batches with a yield between them: a
    // header may list 1.7 M tensors, and each one is an object and a view.
    for (let j = 0; j < header.nameOrder.length; j++) {
      if (j > 0 && j % BUILD_BATCH === 0) await new Promise<void>((r) => setImmediate(r));
      const e = compactEntry(header, header.nameOrder[j]!);
      if (!isSafetensorsDType(e.dtype)) {
        throw new H5Error(
          `tensor ${JSON.stringify(e.name)} in '${abs}' has dtype ${e.dtype}, which h5vault cannot represent`,
          {
            code: 'H5_UNSUPPORTED_TYPE',
            tensor: e.name,
          },
        );
      }
      const dtype = SAFETENSORS_TO_DTYPE[e.dtype];
      const C = ARRAY_TYPES[dtype];
      const offset = dataOffset + e.begin;
      const byteLength = e.end - e.begin;
      const length = byteLength / C.BYTES_PER_ELEMENT;
      let data: TypedArray;
      let isCopy = false;
      if (length === 0) {
        data = new C(new ArrayBuffer(0));
      } else if (!copy && offset % C.BYTES_PER_ELEMENT === 0) {
        data = new C(mapped.buffer!, offset, length);
      } else {
        data = new C(mapped.buffer!.slice(offset, offset + byteLength));
        isCopy = true;
      }
      (isCopy ? copied : views).add(e.name);
      tensors.set(e.name, {
        dtype,
        shape: e.shape,
        data,
        safetensorsDtype: e.dtype,
        offset,
        byteLength,
        copied: isCopy,
      });
    }
    const metadata = compactMetadata(header);
    const close = (): void => {
      // The mapping stays alive while any view holds its buffer (docs/views.md).
      mapped = { buffer: null, size: mapped.size };
    };
    return {
      path: abs,
      tensors,
      metadata,
      headerBytes: header.headerBytes,
      dataOffset,
      size: mapped.size,
      views,
      copied,
      close,
      [Symbol.dispose]: close,
    };
  });
}

// --- writing -------------------------------------------------------------------

/** A tensor to save: an h5vault Tensor, optionally stored as an 8-bit float (uint8 data). */
export interface SafetensorsTensorInput extends Tensor {
  /** Store under this safetensors dtype instead of the one `dtype` maps to; only the F8_* dtypes over uint8 data differ. */
  safetensorsDtype?: SafetensorsDType;
}

export type SafetensorsInput = Record<string, SafetensorsTensorInput> | Map<string, SafetensorsTensorInput>;

export interface SafetensorsSaveOptions {
  /** Called after each tensor (or 64 MiB slice of one) with bytes written so far and in total. */
  onProgress?: (done: number, total: number) => void;
  /** Aborts the save (H5_ABORTED); the target is untouched and the temp file removed. */
  signal?: AbortSignal;
}

export interface SafetensorsSaveResult {
  /** Absolute path of the saved file. */
  path: string;
  /** File size in bytes. */
  bytes: number;
  /** SHA-256 (hex) of the file's bytes. */
  digest: string;
  /** Tensor names in the order their data is laid out. */
  order: string[];
}

/** @internal one tensor of a planned file: its header fields, and how to get its bytes when its turn comes. */
export interface PlannedTensor {
  name: string;
  safetensorsDtype: SafetensorsDType;
  shape: number[];
  byteLength: number;
  /** Returns the data; called once, in layout order, right before the tensor is written. */
  load(): TypedArray | Promise<TypedArray>;
}

/** @internal a file laid out as the reference writer lays it out. */
export interface Plan {
  header: Buffer;
  tensors: PlannedTensor[];
  total: number;
}

const RANK = new Map<string, number>(ALL_DTYPES.map((d, i) => [d, i]));

// A lone UTF-16 surrogate has no UTF-8 encoding: JSON.stringify would escape
// it, and the header would then name something no other reader can match.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function wellFormed(s: string): boolean {
  return !LONE_SURROGATE.test(s);
}

/** The one name rule (lib/util/names.ts): non-empty, no NUL, well-formed Unicode; '/' and '.' are ordinary here. */
function checkName(name: unknown, what: 'tensor names' | 'metadata keys'): asserts name is string {
  checkNameRule(what === 'tensor names' ? 'safetensors tensor' : 'metadata key', name);
}

/** Validates a metadata argument: a plain object or Map of strings to strings. */
export function checkMetadata(metadata: unknown): Record<string, string> | undefined {
  if (metadata === undefined) return undefined;
  const pairs =
    metadata instanceof Map
      ? [...metadata.entries()]
      : isPlainObject(metadata) && !ArrayBuffer.isView(metadata)
        ? Object.entries(metadata)
        : null;
  if (!pairs)
    throw new TypeError('metadata must be a Record<string, string> (safetensors __metadata__ holds strings only)');
  const out = Object.create(null) as Record<string, string>;
  for (const [k, v] of pairs) {
    checkName(k, 'metadata keys');
    if (typeof v !== 'string')
      throw new TypeError(`metadata.${k} is a ${typeof v}: safetensors __metadata__ values must be strings`);
    if (!wellFormed(v)) throw new TypeError(`metadata.${k} is not valid Unicode`);
    out[k] = v;
  }
  return out;
}

/**
 * @internal Lays tensors out as the reference writer does: by decreasing
 * dtype alignment (its enum order), then by name; the header is compact JSON
 * (`__metadata__` first, keys sorted by UTF-8 bytes) padded with spaces to a
 * multiple of 8 bytes, so every tensor is aligned to its item size.
 */
export function planSafetensors(tensors: PlannedTensor[], metadata: Record<string, string> | undefined): Plan {
  const seen = new Set<string>();
  for (const t of tensors) {
    checkName(t.name, 'tensor names');
    if (t.name === '__metadata__')
      throw new TypeError("a tensor cannot be named '__metadata__' (the header's metadata key)");
    if (seen.has(t.name)) throw new TypeError(`tensor name ${JSON.stringify(t.name)} appears twice`);
    seen.add(t.name);
  }
  const ordered = [...tensors].sort(
    (a, b) => RANK.get(b.safetensorsDtype)! - RANK.get(a.safetensorsDtype)! || compareNames(a.name, b.name),
  );
  const parts: string[] = [];
  if (metadata) {
    const keys = Object.keys(metadata).sort(compareNames);
    parts.push(`"__metadata__":{${keys.map((k) => `${JSON.stringify(k)}:${JSON.stringify(metadata[k])}`).join(',')}}`);
  }
  let at = 0;
  for (const t of ordered) {
    parts.push(
      `${JSON.stringify(t.name)}:{"dtype":"${t.safetensorsDtype}","shape":[${t.shape.join(',')}],"data_offsets":[${at},${at + t.byteLength}]}`,
    );
    at += t.byteLength;
  }
  const json = Buffer.from(`{${parts.join(',')}}`, 'utf8');
  const padded = Math.ceil(json.length / 8) * 8;
  if (padded > SAFETENSORS_MAX_HEADER_BYTES) {
    throw new RangeError(
      `the safetensors header would be ${padded} bytes; readers refuse headers over ${SAFETENSORS_MAX_HEADER_BYTES}`,
    );
  }
  const header = Buffer.alloc(8 + padded, 0x20);
  header.writeBigUInt64LE(BigInt(padded), 0);
  json.copy(header, 8);
  return { header, tensors: ordered, total: header.length + at };
}

/** Validates saveSafetensors' tensors argument into planned tensors over the caller's data. */
function plannedFromInput(tensors: unknown): PlannedTensor[] {
  let pairs: [string, unknown][];
  if (tensors instanceof Map) pairs = [...tensors.entries()];
  else if (isPlainObject(tensors) && !ArrayBuffer.isView(tensors)) pairs = Object.entries(tensors);
  else throw new TypeError('tensors must be a Record<string, Tensor> or a Map<string, Tensor>');
  return pairs.map(([name, t]) => {
    checkName(name, 'tensor names');
    const { dtype, shape, data: arr } = checkTensorRecord(name, t);
    const { safetensorsDtype } = t as Partial<SafetensorsTensorInput>;
    let st = DTYPE_TO_SAFETENSORS[dtype];
    if (safetensorsDtype !== undefined) {
      if (!isSafetensorsDType(safetensorsDtype) || SAFETENSORS_TO_DTYPE[safetensorsDtype] !== dtype)
        throw new TypeError(
          `tensor '${name}': safetensorsDtype '${String(safetensorsDtype)}' cannot hold dtype '${dtype}' data`,
        );
      st = safetensorsDtype;
    }
    return { name, safetensorsDtype: st, shape: [...shape], byteLength: arr.byteLength, load: () => arr };
  });
}

const SLICE_BYTES = 64 * 1024 * 1024;

/**
 * @internal Publishes a planned file at `target` through the one publisher
 * (lib/util/publish.ts): temp next to it, written, `check`ed (convert's
 * end-to-end SHA-256), fsynced, renamed (linked when `overwrite` is false),
 * directory fsynced (invariant 5). Tensors are loaded one at a time, in
 * layout order, and written straight from their memory (a mapping stays
 * file-backed: nothing is gathered).
 */
export async function writeSafetensorsAtomic(
  target: string,
  plan: Plan,
  options: SafetensorsSaveOptions = {},
  publish: PublishTarget & { check?: (temp: string) => Promise<void> } = { overwrite: true },
): Promise<{ bytes: number; digest: string }> {
  fileTarget(target);
  const dir = dirname(target);
  await cleanStaleTemps(dir);
  return publishFile(target, {
    ...publish,
    signal: options.signal,
    check: publish.check && (async (temp) => publish.check!(temp)),
    write: async (temp) => {
      const where = { path: target, temp };
      let done = 0;
      try {
        checkAbort(options.signal, 'save');
        await faultPoint('create', where);
        const fh = await open(temp, 'wx+');
        try {
          let pos = 0;
          const put = async (bytes: Uint8Array): Promise<void> => {
            for (let off = 0; off < bytes.byteLength; ) {
              const { bytesWritten } = await fh.write(bytes, off, Math.min(bytes.byteLength - off, SLICE_BYTES), pos);
              off += bytesWritten;
              pos += bytesWritten;
              done += bytesWritten;
              options.onProgress?.(done, plan.total);
              checkAbort(options.signal, 'save');
            }
          };
          await put(plan.header);
          for (const t of plan.tensors) {
            checkAbort(options.signal, 'save');
            await faultPoint('write', { ...where, tensor: t.name });
            const data = await t.load();
            if (data.byteLength !== t.byteLength) {
              throw new RangeError(
                `tensor '${t.name}' has ${data.byteLength} bytes, its header entry says ${t.byteLength}`,
              );
            }
            await put(leBytes(data));
          }
          const hashed = await fileSha256(fh.fd);
          return { bytes: hashed.size, digest: hashed.hex };
        } finally {
          await fh.close();
        }
      } catch (e) {
        throw ioError(e, `cannot save '${target}'`);
      }
    },
  });
}

/**
 * Saves tensors as a safetensors file, atomically and durably like saveModel
 * (temp file in the same directory, fsync, rename, fsync of the directory).
 * The bytes are the reference writer's for the same input: tensors ordered by
 * decreasing dtype alignment then name, `__metadata__` keys sorted, header
 * padded with spaces to 8 bytes. The same input always gives the same bytes.
 *
 * @example
 *   await saveSafetensors('model.safetensors',
 *     { 'dense.weight': { dtype: 'bfloat16', shape: [2, 2], data: new Uint16Array(4) } },
 *     { format: 'pt' });
 */
export async function saveSafetensors(
  path: string,
  tensors: SafetensorsInput,
  metadata?: Record<string, string> | Map<string, string>,
  options: SafetensorsSaveOptions = {},
): Promise<SafetensorsSaveResult> {
  const site = new Error();
  checkPath(path);
  checkObject(options);
  functionOption(options, 'onProgress');
  signalOption(options);
  const plan = planSafetensors(plannedFromInput(tensors), checkMetadata(metadata));
  return withSite(site, async () => {
    const target = resolve(path);
    const r = await writeSafetensorsAtomic(target, plan, options);
    return { path: target, bytes: r.bytes, digest: r.digest, order: plan.tensors.map((t) => t.name) };
  });
}
