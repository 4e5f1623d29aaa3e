/**
 * H5Error: the one error class for HDF5 and h5vault failures. Defined here in
 * JS and handed to the addon at load, so native code throws this same class.
 * `code` is stable (see docs/errors.md); `major`/`minor` are HDF5's own
 * classification of the top error-stack frame ('' when not from libhdf5).
 */
export type H5ErrorCode =
  | 'H5_NOT_FOUND'
  | 'H5_EXISTS'
  | 'H5_FILE_NOT_FOUND'
  | 'H5_NOT_HDF5'
  | 'H5_OPEN_FAILED'
  | 'H5_FILE_LOCKED'
  | 'H5_READ_ONLY'
  | 'H5_CLOSED'
  | 'H5_FILTER_UNAVAILABLE'
  /** A filter failed to encode a chunk on write (raised by the parallel engine). */
  | 'H5_FILTER'
  | 'H5_UNSUPPORTED_TYPE'
  | 'H5_UNSUPPORTED'
  | 'H5_CORRUPT'
  | 'H5_IO'
  /** A contiguous dataset whose storage no file on this filesystem can hold, or any extent past 2^63 - 1 bytes. */
  | 'H5_TOO_LARGE'
  | 'H5_ABORTED'
  | 'H5_NOT_VIEWABLE'
  | 'H5_CHECKSUM_MISMATCH'
  | 'H5_UNSAFE_FILE'
  /** An optional peer dependency (onnxruntime-node) is needed but not installed. */
  | 'H5_MISSING_PEER'
  /** An .onnx file is not a well-formed ONNX ModelProto. */
  | 'H5_ONNX_INVALID'
  /** linkOnnx cannot point initializers at these datasets (listed in `tensors`). */
  | 'H5_NOT_LINKABLE'
  /** An HDF5 file or zip archive without any Keras weight layout (loadKeras). */
  | 'H5_NOT_KERAS'
  /** A safetensors header broke a rule of the format (`reason` says which). */
  | 'H5_SAFETENSORS_INVALID'
  /** An s3:// object (or its bucket) does not exist. */
  | 'H5_S3_NOT_FOUND'
  /** The object store refused the credentials or the request (403). */
  | 'H5_S3_ACCESS_DENIED'
  /** The object store asked to slow down (503 SlowDown, 429) after the retries. */
  | 'H5_S3_THROTTLED'
  /** The object store could not be reached or failed mid-request, after the retries. */
  | 'H5_S3_NETWORK'
  /** A remote file's object was replaced on the server while it was open (its ETag changed). */
  | 'H5_S3_CHANGED'
  /** A value h5vault would otherwise store altered: out of range for its dtype, a NUL in a name or string, a bool other than 0/1, an attribute over 64 KiB. */
  | 'H5_INVALID_ARGUMENT'
  /** A soft link to a path with no object, or an external link whose file or object cannot be opened. */
  | 'H5_DANGLING_LINK'
  /** resize()/append() of a dataset that is not chunked, or beyond its maxshape. */
  | 'H5_NOT_RESIZABLE'
  /** S3: the server refused the credentials or the request (HTTP 403). */
  | 'H5_S3_ACCESS_DENIED'
  /** S3: the server kept answering 429/503 SlowDown after the retries. */
  | 'H5_S3_THROTTLED'
  /** S3: no HTTP answer (connection refused or reset, timeout) after the retries. */
  | 'H5_S3_NETWORK'
  /** S3: any other error status (`status`, `s3Code` say which). */
  | 'H5_S3_ERROR'
  /** The native addon cannot be loaded on this machine (no matching prebuilt binary and no local build, or a library it needs is missing). */
  | 'H5_ADDON_UNAVAILABLE'
  | 'H5_ERROR';

export interface H5ErrorDetails {
  code: H5ErrorCode | string;
  major?: string;
  minor?: string;
  reason?: string;
  [key: string]: unknown;
}

/**
 * @internal Lets lib/remote/lazy-file.ts give a libhdf5 error caused by a failed remote read
 * the S3 failure behind it (the native layer only sees an I/O error).
 */
export const errorHooks: {
  translate?: (message: string, details: H5ErrorDetails) => ({ code: string; message: string } & Record<string, unknown>) | undefined;
} = {};

export class H5Error extends Error {
  readonly code: H5ErrorCode | string;
  readonly major: string;
  readonly minor: string;
  /** Why, for H5_NOT_VIEWABLE ('chunked', 'big-endian', ...) and H5_UNSAFE_FILE ('crashed', ...). */
  declare reason?: string;

  constructor(message: string, details: H5ErrorDetails) {
    const t = errorHooks.translate?.(message, details);
    if (t) {
      message = t.message;
      details = { ...details, ...t };
    }
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
