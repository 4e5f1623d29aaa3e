// The declarations use Node's types (Buffer, Symbol.dispose): this brings
// @types/node into a consumer's program even where `types` lists nothing
// (TypeScript 7's default), instead of errors inside h5vault's .d.ts files.
/// <reference types="node" preserve="true" />
/** h5vault: durable, zero-copy HDF5 storage for model weights. */
export { File, type CreateOptions, type OpenOptions, type InMemoryOptions, type ImageOpenOptions } from './h5/file.js';
export {
  Group,
  type CreateDatasetOptions,
  type Compression,
  type CompressionName,
  type BloscCompressor,
  type LinkInfo,
  type CreateGroupOptions,
  type GetOptions,
  type LinkTarget,
  type WalkOptions,
  type WalkFailure,
} from './h5/group.js';
export {
  Dataset,
  type Selection,
  type ReadOptions,
  type WriteOptions,
  type ViewOptions,
  type FilterInfo,
  type ViewableReason,
  type DatasetData,
  type DimensionInfo,
} from './h5/dataset.js';
export { NamedDatatype } from './h5/datatype.js';
export { Attributes, type AttrValue, type AttrReadValue, type AttrSetOptions } from './h5/attrs.js';
export { H5Error, type H5ErrorCode, type H5ErrorDetails } from './errors.js';
export {
  type DType,
  type NumericDType,
  type TypedArray,
  type ArrayFor,
  type TensorOf,
  type TypedTensor,
  type StringTensor,
  DTYPES,
  itemSize,
  float16ToFloat32,
  float32ToFloat16,
  bfloat16ToFloat32,
  float32ToBfloat16,
  halfToNumber,
  numberToHalf,
  bfloat16ToNumber,
  numberToBfloat16,
} from './h5/dtypes.js';
export { libraryInfo, setThreadPoolSize } from './h5/runtime.js';
export {
  walkUntrusted,
  walkUntrustedSync,
  fileDigest,
  fileDigestSync,
  DEFAULT_UNTRUSTED_LIMITS,
  type UntrustedLimits,
  type UntrustedOpenOptions,
  type UnsafeReason,
  type UnsafeFileError,
  type WalkStats,
  type WalkResult,
  type FileStamp,
} from './safety/untrusted.js';
export {
  saveModel,
  loadModel,
  verifyModel,
  ModelStore,
  modelDigestOf,
  canonicalTensorList,
  FORMAT_VERSION,
  type SaveOptions,
  type SaveResult,
  type LoadOptions,
  type LoadedModel,
  type VerifyOptions,
  type VerifyReport,
  type TensorReport,
  type Tensor,
  type TensorsInput,
  type JsonValue,
  type Provenance,
  type DigestItem,
  type VersionInfo,
  type StoreLoadOptions,
  type StoreOpenOptions,
  type WatchOptions,
  type LockOptions,
  type StoreLoadedModel,
  ModelServer,
  type ServeOptions,
  type ServedModel,
  type Lease,
  type SwapEvent,
  type RejectEvent,
  type RetireEvent,
} from './model/index.js';
export {
  benchmarkCodecs,
  DEFAULT_CODECS,
  type BenchmarkOptions,
  type BenchmarkReport,
  type CodecResult,
  type CodecConfig,
  type Recommendation,
  type MachineInfo,
  type Spread,
} from './bench/benchmark.js';
export { renderChart as renderBenchmarkChart, type ChartPoint, type ChartOptions } from './bench/chart.js';
export type { BenchTensor } from './bench/synthetic.js';
export {
  toOrtTensor,
  ortFeeds,
  type ToOrtOptions,
  type OrtType,
  type OrtTensor,
  type TensorLike,
  type TensorSource,
} from './onnx/ort.js';
export {
  linkOnnx,
  type LinkOptions,
  type LinkResult,
  type LinkedInitializer,
  type UnlinkableTensor,
} from './onnx/link.js';
export {
  loadKeras,
  type KerasLoadOptions,
  type LoadedKeras,
  type KerasLayer,
  type KerasWeight,
  type KerasLayout,
  type KerasSource,
  type KerasMetadata,
} from './formats/keras.js';
export {
  openSafetensors,
  saveSafetensors,
  convertModel,
  registerModelReader,
  SAFETENSORS_MAX_HEADER_BYTES,
  SAFETENSORS_TO_DTYPE,
  DTYPE_TO_SAFETENSORS,
  type SafetensorsDType,
  type SafetensorsTensor,
  type SafetensorsFile,
  type SafetensorsOpenOptions,
  type SafetensorsTensorInput,
  type SafetensorsInput,
  type SafetensorsSaveOptions,
  type SafetensorsSaveResult,
  type SafetensorsInvalidReason,
  type ConvertOptions,
  type ConvertResult,
  type ModelReader,
  type ModelSource,
  type SourceTensor,
  type ReaderOptions,
  type OutputFormat,
} from './formats/index.js';
export {
  types,
  typeOf,
  Empty,
  recordAt,
  toRecords,
  fromRecords,
  enumNames,
  type H5Type,
  type H5TypeClass,
  type H5Value,
  type H5Element,
  type CompoundColumns,
  type Reference,
  type ObjectReference,
  type RegionReference,
  type RegionSelection,
  type StringMode,
  type TypeLike,
  type IntegerDType,
  type FloatDType,
  type ElementOptions,
} from './h5/types.js';
export type { ReadData } from './h5/dataset.js';
export type { AttrAnyValue, AttrGetOptions } from './h5/attrs.js';
export type { CreateTypedDatasetOptions } from './h5/group.js';
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
  type S3ConnectOptions,
  type CacheStats,
  type TransferStats,
  type CasTensor,
  type RebuildRecipe,
  type ServableStore,
} from './model/index.js';
export type { LibraryInfo } from './h5/runtime.js';
export type { AddonOrigin } from './addon/locate.js';
export { isS3Url, parseS3Url, type S3Url } from './remote/url.js';
export type { RemoteOpenOptions, RemoteStats } from './remote/lazy-file.js';
export type { S3Credentials, S3ClientLike } from './remote/options.js';
