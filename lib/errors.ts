/**
 * H5Error: the one error class for HDF5 and h5vault failures. Defined here in
 * JS and handed to the addon at load, so native code throws this same class.
 * `code` is stable (see docs/errors.md); `major`/`minor` are HDF5's own
 * classification of the top error-stack frame ('' when not from libhdf5).
 */
/**
 * Every code h5vault throws, each once, with what it means; docs/errors.md has a
 * section per code (npm run check:sources fails when the two differ). The
 * native layer throws a subset (native/h5/error.h); the rest are thrown here.
 */
export const CODES = {
  H5_FILE_NOT_FOUND: 'A path that does not exist.',
  H5_NOT_HDF5: 'A file without an HDF5 superblock.',
  H5_PERMISSION: 'The operating system refused to open the file (EACCES/EPERM).',
  H5_LIMIT_EXCEEDED: 'A read would decode more than h5vault allows in one call.',
  H5_OPEN_FAILED: 'The file exists but cannot be opened or created (not a regular file, ...).',
  H5_FILE_LOCKED: 'Another process holds the file open in a conflicting mode.',
  H5_EXISTS: 'An object, link or file of that name exists already.',
  H5_NOT_FOUND: 'No object, version or store of that name.',
  H5_READ_ONLY: 'A write to a file opened read-only.',
  H5_CLOSED: 'Use of a closed file or object.',
  H5_FILTER_UNAVAILABLE: 'A filter the data needs is not available in this build.',
  H5_FILTER: 'A filter failed to encode a chunk on write (raised by the parallel engine).',
  H5_UNSUPPORTED_TYPE: 'A datatype h5vault cannot read or write.',
  H5_UNSUPPORTED: 'A feature this build or file does not support.',
  H5_DANGLING_LINK: 'A soft link to a path with no object, or an external link whose file or object cannot be opened.',
  H5_NOT_RESIZABLE: 'resize()/append() of a dataset that is not chunked, or beyond its maxshape.',
  H5_CORRUPT: 'The file (or a store index or record) is damaged.',
  H5_IO: 'The operating system failed a read or write (EIO, ENOSPC, ...).',
  H5_TOO_LARGE: 'A dataset whose storage no file on this filesystem can hold.',
  H5_ABORTED: 'The operation was aborted through its AbortSignal.',
  H5_NOT_VIEWABLE: 'view() of a dataset that cannot be mapped zero-copy (`reason` says why).',
  H5_CHECKSUM_MISMATCH: 'Bytes differ from their recorded SHA-256.',
  H5_UNSAFE_FILE: 'An untrusted file broke a limit or crashed the walk (`reason` says which).',
  H5_MISSING_PEER: 'An optional peer dependency (onnxruntime-node, the AWS SDK) is needed but not installed.',
  H5_ONNX_INVALID: 'An .onnx file is not a well-formed ONNX ModelProto.',
  H5_NOT_LINKABLE: 'linkOnnx cannot point initializers at these datasets (listed in `tensors`).',
  H5_NOT_KERAS: 'An HDF5 file or zip archive without any Keras weight layout (loadKeras).',
  H5_SAFETENSORS_INVALID: 'A safetensors header broke a rule of the format (`reason` says which).',
  H5_INVALID_ARGUMENT: 'A value h5vault would otherwise store altered (out of range, a NUL, ...).',
  H5_S3_NOT_FOUND: 'An S3 object (or its bucket) does not exist (404).',
  H5_S3_ACCESS_DENIED: 'The object store refused the credentials or the request (401/403).',
  H5_S3_CREDENTIALS: 'The AWS SDK found no credentials in any place it looks.',
  H5_S3_THROTTLED: 'The object store asked to slow down (429, 503 SlowDown) after the retries.',
  H5_S3_NETWORK: 'The object store could not be reached, or failed mid-request (5xx, a short body), after the retries.',
  H5_S3_CHANGED: 'An object was replaced on the server while it was being read (its ETag changed).',
  H5_S3_ERROR: 'Any other S3 error status (`status`, `s3Code` say which).',
  H5_ADDON_UNAVAILABLE: 'The native addon cannot be loaded on this machine.',
  H5_ERROR: 'libhdf5 failed in a way no other code describes.',
} as const;

/** A stable error code: a key of CODES. */
export type H5ErrorCode = keyof typeof CODES;

/** Whether `x` is one of the codes of CODES (for codes that arrive as data: a child's report, a worker's answer). */
export function isErrorCode(x: unknown): x is H5ErrorCode {
  return typeof x === 'string' && Object.hasOwn(CODES, x);
}

export interface H5ErrorDetails {
  code: H5ErrorCode;
  major?: string;
  minor?: string;
  reason?: string;
  [key: string]: unknown;
}

export class H5Error extends Error {
  readonly code: H5ErrorCode;
  readonly major: string;
  readonly minor: string;
  /** Why, for H5_NOT_VIEWABLE ('chunked', 'big-endian', ...) and H5_UNSAFE_FILE ('crashed', ...). */
  declare reason?: string;

  /** Stores what it is given and nothing else: no lookups, no global state. */
  constructor(message: string, details: H5ErrorDetails) {
    super(message);
    this.name = 'H5Error';
    this.code = details.code;
    this.major = details.major ?? '';
    this.minor = details.minor ?? '';
    for (const [k, v] of Object.entries(details)) {
      if (k !== 'code' && k !== 'major' && k !== 'minor') (this as Record<string, unknown>)[k] = v;
    }
  }
}

/**
 * Errors from Promise work are created after the caller's frames are gone.
 * Give them the stack captured at the call site so it points at the user's line.
 */
export function relocate(err: unknown, site: Error): unknown {
  if (err instanceof Error && site.stack) {
    const frames = site.stack.split('\n').slice(1).join('\n');
    err.stack = `${err.name}: ${err.message}\n${frames}`;
  }
  return err;
}

/** Runs an async native call so that its error carries the caller's stack. */
export async function withSite<T>(site: Error, p: () => Promise<T>): Promise<T> {
  try {
    return await p();
  } catch (e) {
    throw relocate(e, site);
  }
}
