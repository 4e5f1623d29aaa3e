/** Model formats other than HDF5: safetensors read/write and model conversion (docs/runtime.md#safetensors). */
export {
  openSafetensors,
  saveSafetensors,
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
} from './safetensors.js';
export {
  convertModel,
  registerModelReader,
  type ConvertOptions,
  type ConvertResult,
  type ModelReader,
  type ModelSource,
  type SourceTensor,
  type ReaderOptions,
  type OutputFormat,
} from './convert.js';
