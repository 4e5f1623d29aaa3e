/**
 * What the S3 store's modules (s3-versions.ts, s3-file.ts, s3-tensors.ts,
 * s3-gc.ts) need of the store object: cas.ts's context plus the store's
 * identity, options, local cache and record memo. Internal: the store holds it
 * in a private field, so no published declaration names it (it names the SDK's
 * S3Client, an optional peer whose types must not leak: see cas.ts).
 */
import type { S3Client } from '@aws-sdk/client-s3';
import type { BlobCache } from './cache.js';
import type { CasContext } from './cas.js';
import type { S3StoreOptions } from './s3-options.js';
import type { S3VersionRecord } from './s3-record.js';

export interface S3StoreContext extends CasContext {
  s3: S3Client;
  /** The store's URL, s3://bucket/prefix. */
  root: string;
  prefix: string;
  options: S3StoreOptions;
  cache: BlobCache;
  /** Version records are immutable once written: read each once per store object. */
  records: Map<string, S3VersionRecord>;
  /** The model's key prefix (s3://bucket/prefix/name). Validates the name. */
  dir(name: string): string;
}
