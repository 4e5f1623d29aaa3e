/** The public types of convertModel and its model readers (re-exported by convert.ts). */
import type { Compression } from '../h5/group.js';
import type { NumericDType, TypedArray } from '../h5/dtypes.js';
import type { UntrustedLimits } from '../safety/untrusted.js';
import type { Input } from '../safety/open.js';
import type { JsonValue } from '../model/schema.js';
import type { SafetensorsDType } from './safetensors.js';

/** One tensor of a model being converted. */
export interface SourceTensor {
  name: string;
  dtype: NumericDType;
  shape: number[];
  byteLength: number;
  /** For safetensors' 8-bit floats (raw uint8 data): the format's dtype. */
  safetensorsDtype?: SafetensorsDType;
  /**
   * Returns the data, verified against the source's own checksum where it has
   * one (h5vault models). Views of a mapping are preferred: they are
   * file-backed, not anonymous memory. `copied` says the data is in memory
   * of its own instead. Called at most once per conversion.
   */
  load(): Promise<{ data: TypedArray; copied: boolean }>;
  /** SHA-256 (hex) of the tensor's little-endian bytes as stored in the source. */
  sha256(): Promise<string>;
}

/** A model opened for conversion. */
export interface ModelSource {
  /** Format name ('safetensors', 'h5vault', 'keras', ...). */
  format: string;
  tensors: SourceTensor[];
  /** h5vault-side metadata (JSON); see the mapping in docs/runtime.md#safetensors. */
  metadata: Record<string, JsonValue>;
  /** Model digest the source claims for itself (checked against the tensors), if any. */
  modelDigest?: string;
  close(): void | Promise<void>;
}

export interface ReaderOptions {
  untrusted?: boolean;
  limits?: UntrustedLimits;
  /**
   * @internal The input, pinned by convertModel through the one opener
   * (lib/safety/open.ts): the built-in readers read, hash and open it through
   * this descriptor, never by path. Open until the source is closed.
   */
  input?: Input;
}

/** Reads one input format. `detect` sees the first 16 bytes of the file. */
export interface ModelReader {
  format: string;
  detect(head: Uint8Array, path: string): boolean;
  open(path: string, options: ReaderOptions): Promise<ModelSource>;
}

export type OutputFormat = 'safetensors' | 'h5vault';

export interface ConvertOptions {
  /** Input format; default: detected from the file's first bytes. */
  from?: string;
  /** Output format; default from the extension (.safetensors; .h5/.hdf5/.h5vault). */
  to?: OutputFormat;
  /** h5vault output: codec for every tensor (default 'none': contiguous, viewable). */
  compression?: Compression;
  /** h5vault output: byte-shuffle before compressing. */
  shuffle?: boolean;
  /** h5vault input: walk the file in a limited child process first (docs/security.md). */
  untrusted?: boolean;
  limits?: UntrustedLimits;
  /** Called with bytes written so far and in total. */
  onProgress?: (done: number, total: number) => void;
  signal?: AbortSignal;
  /**
   * Replace an existing output (default true: you named it; the CLI passes
   * its --force). false: an existing output is H5_EXISTS, checked atomically.
   */
  overwrite?: boolean;
}

export interface ConvertResult {
  input: string;
  output: string;
  from: string;
  to: OutputFormat;
  tensors: number;
  /** Sum of the tensors' sizes in bytes. */
  bytes: number;
  /** Model digest (docs/model-storage.md) of the tensors, equal in input and output. */
  modelDigest: string;
  /** SHA-256 of the output file. */
  digest: string;
  /** Tensors that had to be copied into memory on the way (misaligned safetensors tensors, compressed h5vault tensors). */
  copied: string[];
}
