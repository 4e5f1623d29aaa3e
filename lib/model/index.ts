/** Model storage: saveModel / loadModel / verifyModel and the versioned ModelStore (docs/model-storage.md). */
export { saveModel, type SaveOptions, type SaveResult } from './save.js';
export {
  loadModel,
  verifyModel,
  type LoadOptions,
  type LoadedModel,
  type VerifyOptions,
  type VerifyReport,
  type TensorReport,
} from './load.js';
export { modelDigestOf, canonicalTensorList, type DigestItem } from './digest.js';
export { FORMAT_VERSION, type Tensor, type TensorsInput, type JsonValue, type Provenance } from './schema.js';
export { ModelStore, type StoreOpenOptions } from './store/local.js';
export type { VersionInfo, StoreLoadOptions, StoreLoadedModel, WatchOptions } from './store/common.js';
export type { LockOptions } from './store/lock.js';
export {
  ModelServer,
  type ServeOptions,
  type ServedModel,
  type Lease,
  type SwapEvent,
  type RejectEvent,
  type RejectError,
  type RetireEvent,
} from './store/serve.js';
export type { ServableStore } from './store/common.js';
export {
  S3ModelStore,
  type S3StoreOptions,
  type S3SaveOptions,
  type S3LoadOptions,
  type S3VersionRecord,
  type PullInfo,
  type GcOptions,
  type GcResult,
  type BadRecord,
} from './store/s3.js';
export type { S3ConnectOptions } from '../remote/options.js';
export type { CacheStats } from './store/cache.js';
export type { TransferStats, CasTensor, CasChunk, RebuildRecipe } from './store/cas.js';
