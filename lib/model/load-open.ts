import { File } from '../h5/file.js';
import { H5Error } from '../errors.js';
import { fileStampOf } from '../safety/untrusted.js';
import { sameStamp } from './store/verified.js';
import { ATTR, FORMAT_VERSION, type JsonValue, type Provenance } from './schema.js';
import { SHA256_HEX } from './digest.js';
import { parseStoredJson } from '../safety/budget.js';
import { booleanOption, checkObject, expectDigestOption, signalOption } from '../util/validate.js';
import type { LoadOptions, VerifyOptions, Vouch } from './load-types.js';

/** Validates the options; returns them with expectDigest lowercased. */
export function checkLoadOptions<T extends LoadOptions | VerifyOptions>(o: T): T {
  checkObject(o);
  signalOption(o);
  for (const k of ['untrusted', 'verify', 'copy']) booleanOption(o, k);
  return expectDigestOption(o);
}

/**
 * Opens `path` with libhdf5, once. With `expectDigest` the file is hashed
 * through a descriptor File.openAsync holds and libhdf5 opens that very
 * descriptor (lib/safety/untrusted.ts): a path replaced in between is never parsed.
 */
interface Opened {
  file: File;
  digest?: string;
  /** The file's bytes are vouched for (expectDigest matched, or the vouched stamp): its tensor index is trusted as its layout. */
  trusted: boolean;
  /** Neither the file nor its tensors need hashing. */
  skipHashes: boolean;
  /** The open hashed the whole file. */
  fileHashed: boolean;
}

export async function openChecked(path: string, o: LoadOptions | VerifyOptions, vouch: Vouch = {}): Promise<Opened> {
  const expectDigest = o.expectDigest;
  const pinned = (o as VerifyOptions).input ? { input: (o as VerifyOptions).input } : {};
  if (expectDigest === undefined) {
    const file = o.untrusted
      ? await File.openAsync(path, { untrusted: true, limits: o.limits, ...pinned })
      : File.open(path, pinned);
    return { file, trusted: false, skipHashes: false, fileHashed: false };
  }
  const file = await File.openAsync(path, {
    ...pinned,
    expectDigest,
    ...(vouch.stamp ? { vouchedStamp: vouch.stamp } : {}),
    ...(o.untrusted ? { untrusted: true, limits: o.limits } : {}),
  });
  // The open skipped the hash only if libhdf5's file still has the vouched identity.
  const sameFile = vouch.stamp !== undefined && sameStamp(fileStampOf(file), vouch.stamp);
  return {
    file,
    digest: expectDigest,
    trusted: true,
    skipHashes: sameFile || vouch.tensorsVerified === true,
    fileHashed: !sameFile,
  };
}

function corrupt(path: string, what: string): H5Error {
  return new H5Error(`'${path}' has an invalid ${what} attribute`, { code: 'H5_CORRUPT' });
}

/** Reads the schema-v1 root attributes; null when the file has no `h5vault.format`. */
export function readProvenance(
  file: File,
  path: string,
): { provenance: Provenance | null; metadata: Record<string, JsonValue> } {
  const a = file.attrs;
  if (!a.has(ATTR.format)) return { provenance: null, metadata: {} };
  const format = a.get(ATTR.format);
  if (typeof format !== 'number' || !Number.isInteger(format) || format < 1) throw corrupt(path, ATTR.format);
  if (format > FORMAT_VERSION) {
    throw new H5Error(
      `'${path}' uses model format ${format}; this h5vault reads format ${FORMAT_VERSION} (upgrade h5vault)`,
      {
        code: 'H5_UNSUPPORTED',
      },
    );
  }
  const str = (k: string): string => {
    const v = a.has(k) ? a.get(k) : undefined;
    if (typeof v !== 'string') throw corrupt(path, k);
    return v;
  };
  const num = (k: string): number => {
    const v = a.has(k) ? a.get(k) : undefined;
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw corrupt(path, k);
    return v;
  };
  let metadata: unknown;
  try {
    metadata = parseStoredJson(str(ATTR.metadata));
  } catch {
    throw corrupt(path, ATTR.metadata);
  }
  if (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata)) throw corrupt(path, ATTR.metadata);
  const modelDigest = str(ATTR.modelDigest);
  if (!SHA256_HEX.test(modelDigest)) throw corrupt(path, ATTR.modelDigest);
  const provenance: Provenance = {
    format,
    h5vault: str(ATTR.version),
    hdf5: str(ATTR.hdf5),
    node: str(ATTR.node),
    platform: str(ATTR.platform),
    tensors: num(ATTR.tensors),
    bytes: num(ATTR.bytes),
    modelDigest,
  };
  return { provenance, metadata: metadata as Record<string, JsonValue> };
}

/** `e` again, its message prefixed with the tensor it concerns and `tensor` set (the scan and the indexed load). */
export function tensorError(name: string, e: H5Error): H5Error {
  return new H5Error(`tensor '${name}': ${e.message}`, { code: e.code, major: e.major, minor: e.minor, tensor: name });
}
