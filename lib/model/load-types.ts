import type { TypedTensor } from '../h5/dtypes.js';
import type { FileStamp, UntrustedLimits } from '../safety/untrusted.js';
import type { Input } from '../safety/open.js';
import type { JsonValue, Provenance } from './schema.js';

export interface LoadOptions {
  /** Check every tensor's SHA-256 and the model digest (default true). */
  verify?: boolean;
  /** Expected SHA-256 (hex) of the file's bytes, checked before libhdf5 parses the file. */
  expectDigest?: string;
  /** Always copy tensor data into owned memory (default false: zero-copy views where possible). */
  copy?: boolean;
  /** Stops between tensors (H5_ABORTED). */
  signal?: AbortSignal;
  /**
   * Walk the file in a limited child process before libhdf5 opens it here
   * (File.open's { untrusted }, docs/security.md). Skipped when expectDigest
   * matched: a file whose SHA-256 you already trust is not hostile.
   */
  untrusted?: boolean;
  /** Limits of that walk. */
  limits?: UntrustedLimits;
}

export interface LoadedModel {
  path: string;
  /** Tensors by name ('encoder/layer0/kernel'), in name order; `dtype` narrows `data`. */
  tensors: Map<string, TypedTensor>;
  /** The user metadata given to saveModel ({} for files without it). */
  metadata: Record<string, JsonValue>;
  /** Root provenance attributes; null for HDF5 files not written by saveModel (verify: false only). */
  provenance: Provenance | null;
  /** SHA-256 of the file bytes, when expectDigest was given (it is then equal to it). */
  digest: string | undefined;
  /** Names of the tensors whose data is a zero-copy view of the file mapping. */
  views: Set<string>;
  /** Closes the file. Views stay valid until collected (the mapping outlives the file handle). */
  close(): void;
  [Symbol.dispose](): void;
}

export interface VerifyOptions {
  /** @internal The file, already pinned by the caller (lib/safety/open.ts): opened, hashed and walked through it. */
  input?: Input;
  expectDigest?: string;
  signal?: AbortSignal;
  /** As in LoadOptions. */
  untrusted?: boolean;
  limits?: UntrustedLimits;
}

export interface TensorReport {
  name: string;
  ok: boolean;
  /** SHA-256 stored in the file (null if the tensor has none). */
  expected: string | null;
  /** SHA-256 of the data as read (null if it could not be read). */
  actual: string | null;
  /** Why the tensor could not be read (e.g. a corrupt compressed chunk). */
  error?: string;
}

export interface VerifyReport {
  ok: boolean;
  path: string;
  /** SHA-256 of the file bytes, when expectDigest was given. */
  digest: string | undefined;
  /** Model digest recomputed from the data (null if a tensor could not be read). */
  modelDigest: string | null;
  /** Model digest stored in the file's provenance. */
  expectedModelDigest: string;
  tensors: TensorReport[];
  /** Every reason ok is false, one line each. */
  problems: string[];
}

/** @internal How much of the file the caller already vouches for (ModelStore's verified-once record). */
export interface Vouch {
  /** Identity of the file when its bytes last hashed to expectDigest: that file is not hashed again. */
  stamp?: FileStamp;
  /** The tensors of a file hashing to expectDigest were verified before: a matching file digest implies them. */
  tensorsVerified?: boolean;
}

/** @internal What loadModelAt did, for ModelStore's verified-once record. */
export interface LoadOutcome {
  model: LoadedModel;
  /** Every byte was vouched for or checked: the file digest matched and every tensor was verified (now or, vouched, before). */
  verified: boolean;
  /** Identity of the file libhdf5 opened (the one verified). */
  stamp: FileStamp;
  /** What this load hashed: the whole file (expectDigest), the tensors (verify). */
  hashed: { file: boolean; tensors: boolean };
}
