/** The public types of loadKeras (re-exported by keras.ts). */
import type { Input } from '../safety/open.js';
import type { LoadOptions } from '../model/load.js';
import type { JsonValue, Tensor } from '../model/schema.js';

export type KerasLayout = 'keras2-model' | 'keras2-weights' | 'keras3-weights';

export interface KerasLoadOptions extends Omit<LoadOptions, 'verify'> {
  /**
   * Directory a `.keras` archive's weights are extracted to when they cannot
   * be opened in place (default: the OS temp directory). The file is
   * unlinked as soon as libhdf5 has opened it.
   */
  tmpDir?: string;
  /** @internal The file, already pinned by the caller (lib/safety/open.ts), which keeps it open: read through it, never by path. */
  input?: Input;
}

/** One weight: a Tensor plus where it came from. */
export interface KerasWeight extends Tensor {
  /** Full name, '<layer>/<weight>' ('dense_1/kernel'). */
  name: string;
  /** Weight name inside its layer ('kernel', 'cell/recurrent_kernel', or the variable index when unknown). */
  weight: string;
  /** HDF5 path of the dataset ('/model_weights/dense_1/dense_1/kernel:0', '/layers/dense/vars/0'). */
  key: string;
  /** true: `data` is a zero-copy view of the file mapping; false: an owned copy (see `copyReason`). */
  viewed: boolean;
  /** Why the data had to be read into memory (a chunked or compressed dataset, ...), or 'copy-requested'. */
  copyReason?: string;
}

export interface KerasLayer {
  /** The layer's name in the model ('dense_1'). */
  name: string;
  /** Its class ('Dense') when the config or the file says it, else null. */
  className: string | null;
  /** HDF5 group the layer's weights live under ('/model_weights/dense_1', '/layers/dense_1'). */
  group: string;
  /** In the order Keras saved them (weight_names order; Keras 3 variable index order). */
  weights: KerasWeight[];
}

/** Where the HDF5 weights were opened from. */
export type KerasSource =
  | { kind: 'hdf5' }
  /** The `.keras` member was opened inside the archive, zero-copy. */
  | { kind: 'zip-direct'; member: string; offset: number; compression: 'stored' }
  /** The member was copied to a temporary file (unlinked once opened); `reason` says why. */
  | { kind: 'zip-extracted'; member: string; offset: number; compression: 'stored' | 'deflate'; reason: string };

export interface KerasMetadata {
  /** `keras_version` (Keras 2 attribute, Keras 3 metadata.json), null if absent. */
  kerasVersion: string | null;
  /** `backend` ('tensorflow', 'jax', ...), null if absent. */
  backend: string | null;
  /** Everything else metadata.json holds ('date_saved', ...). */
  [key: string]: JsonValue | undefined;
}

export interface LoadedKeras {
  path: string;
  layout: KerasLayout;
  /** 'zip' for a `.keras` archive, 'hdf5' for an .h5 / .weights.h5 file. */
  container: 'hdf5' | 'zip';
  source: KerasSource;
  /** Layers in model order (including those without weights). */
  layers: KerasLayer[];
  /** Every layer weight by full name, in layer then weight order: pass it to saveModel as is. */
  tensors: Map<string, KerasWeight>;
  /** Optimizer state ('optimizer_weights' in Keras 2, 'optimizer/vars' in Keras 3), in saved order. */
  optimizer: KerasWeight[];
  /** Parsed `model_config` attribute or config.json; null when the file has none (weights-only files). */
  config: JsonValue | null;
  /** Parsed `training_config` attribute (Keras 2 full models), else null. */
  trainingConfig: JsonValue | null;
  metadata: KerasMetadata;
  /** SHA-256 of the file at `path`, when expectDigest was given (it is then equal to it). */
  digest: string | undefined;
  /** Names (as in `tensors`, and 'optimizer/<i>') of the weights whose data is a zero-copy view. */
  views: Set<string>;
  /** Closes the HDF5 file. Views stay valid until collected (the mapping outlives the handle). */
  close(): void;
  [Symbol.dispose](): void;
}
