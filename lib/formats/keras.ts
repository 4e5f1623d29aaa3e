/**
 * loadKeras: the weights of a Keras model file, whichever layout saved it,
 * as named tensors in layer order, zero-copy where the dataset allows it.
 *
 * Layouts (docs/runtime.md#keras):
 * - Keras 2 full model (`model.save('m.h5')`): root attributes `model_config`,
 *   `training_config`, `keras_version`, `backend`; a `model_weights` group
 *   whose `layer_names` attribute lists the layers in model order; each layer
 *   group's `weight_names` attribute lists its weights in order, each a
 *   dataset at `<layer group>/<weight name>`. Optimizer state, if saved, is an
 *   `optimizer_weights` group laid out the same way. Long name lists are split
 *   over `layer_names0`, `layer_names1`, ... (Keras's HDF5 object-header limit).
 * - Keras 2 `save_weights('w.h5')`: the same layer groups at the root.
 * - Keras 3 `.weights.h5`: one group per saveable object, named after its
 *   attribute path (`layers/<snake_case class>[_N]`, `optimizer`, nested
 *   `layers/lstm/cell`, ...), each with a `vars` group of datasets `0`, `1`,
 *   ... in the object's variable order. Keras 2.13-2.15 wrote
 *   `_layer_checkpoint_dependencies` where Keras 3 writes `layers`.
 * - `.keras` archives: a zip with `config.json`, `metadata.json` and
 *   `model.weights.h5` in the Keras 3 layout.
 *
 * This file is loadKeras itself; keras-open.ts opens the file or archive,
 * keras-legacy.ts and keras-v3.ts plan the two layouts' weights, keras-h5.ts
 * holds what both read of the file, keras-config.ts the config JSON and
 * keras-types.ts the public types.
 */
import { resolve } from 'node:path';
import { H5Error, withSite } from '../errors.js';
import type { NumericDType, TypedArray } from '../h5/dtypes.js';
import { wantsChecks } from '../safety/untrusted.js';
import type { JsonValue } from '../model/schema.js';
import { boundedMap } from '../model/digest.js';
import {
  booleanOption,
  checkKeys,
  checkObject,
  checkPath,
  expectDigestOption,
  signalOption,
  stringOption,
} from '../util/validate.js';
import { checkAbort } from '../util/abort.js';
import { classesFromConfig } from './keras-config.js';
import { detect, identity, jsonAttr, strAttr, type Planned, type PlannedLayer } from './keras-h5.js';
import { planKeras2 } from './keras-legacy.js';
import { planKeras3 } from './keras-v3.js';
import { notKeras, openAny, WEIGHTS_MEMBER } from './keras-open.js';
import type { KerasLayer, KerasLoadOptions, KerasMetadata, KerasWeight, LoadedKeras } from './keras-types.js';

export type {
  KerasLayer,
  KerasLayout,
  KerasLoadOptions,
  KerasMetadata,
  KerasSource,
  KerasWeight,
  LoadedKeras,
} from './keras-types.js';
export { classesFromConfig, configLayers, KERAS_JSON_BUDGET } from './keras-config.js';

/** Validates the options; returns them with expectDigest lowercased. */
function checkOptions(o: KerasLoadOptions): KerasLoadOptions {
  checkObject(o);
  wantsChecks(o);
  signalOption(o);
  booleanOption(o, 'copy');
  stringOption(o, 'tmpDir');
  checkKeys(o, ['expectDigest', 'copy', 'signal', 'untrusted', 'limits', 'tmpDir', 'input']);
  return expectDigestOption(o);
}

// --- loading the planned datasets ---

async function materialise(p: Planned, copy: boolean, signal: AbortSignal | undefined): Promise<KerasWeight> {
  checkAbort(signal, 'load');
  const ds = p.ds;
  const dtype = ds.dtype as NumericDType;
  const shape = ds.shape;
  const base = { name: p.name, weight: p.weight, key: ds.path, dtype, shape };
  const v = copy ? 'copy-requested' : ds.viewable;
  if (v === true) {
    try {
      return { ...base, data: ds.view(), viewed: true };
    } catch (e) {
      if (!(e instanceof H5Error && e.code === 'H5_NOT_VIEWABLE')) throw e;
      return {
        ...base,
        data: (await ds.read({ signal })) as TypedArray,
        viewed: false,
        copyReason: String(e.reason ?? 'not-viewable'),
      };
    }
  }
  return { ...base, data: (await ds.read({ signal })) as TypedArray, viewed: false, copyReason: v };
}

/**
 * Loads the weights of a Keras file: a Keras 2 `.h5` model or weights file,
 * a Keras 3 `.weights.h5`, or a `.keras` archive. Layers come in model
 * order, each with its weights named '<layer>/<weight>'; data is a
 * zero-copy view of the file where the dataset allows it (else an owned
 * copy, with `viewed: false` and the reason).
 *
 * @example
 *   using m = await loadKeras('model.keras', { untrusted: true });
 *   for (const layer of m.layers) console.log(layer.name, layer.weights.map((w) => w.weight));
 *   const kernel = m.tensors.get('dense/kernel')!; // { dtype: 'float32', shape: [784, 128], data: Float32Array }
 */
export async function loadKeras(path: string, opts: KerasLoadOptions = {}): Promise<LoadedKeras> {
  const site = new Error();
  checkPath(path);
  const options = checkOptions(opts);
  const copy = options.copy ?? false;
  return withSite(site, async () => {
    checkAbort(options.signal, 'load');
    const abs = resolve(path);
    const opened = await openAny(abs, options);
    const { file } = opened;
    try {
      const found = detect(file);
      if (!found) {
        throw notKeras(
          abs,
          opened.container === 'zip'
            ? `holds a ${WEIGHTS_MEMBER} without any Keras weight layout`
            : 'is HDF5 but has no Keras weight layout',
        );
      }
      let config: JsonValue | null = opened.config;
      let trainingConfig: JsonValue | null = null;
      let kerasVersion: string | null = null;
      let backend: string | null = null;
      let plan: { layers: PlannedLayer[]; optimizer: Planned[] };
      if (found.layout === 'keras3-weights') {
        plan = planKeras3(file, abs, config);
      } else {
        config = await jsonAttr(file, 'model_config', abs);
        trainingConfig = await jsonAttr(file, 'training_config', abs);
        kerasVersion = strAttr(found.root, 'keras_version') ?? strAttr(file, 'keras_version');
        backend = strAttr(found.root, 'backend') ?? strAttr(file, 'backend');
        plan = planKeras2(file, found.root, abs, classesFromConfig(config));
      }
      const zm = opened.zipMetadata ?? {};
      if (typeof zm.keras_version === 'string') kerasVersion = zm.keras_version;
      if (typeof zm.backend === 'string') backend = zm.backend;
      const { keras_version: _v, backend: _b, ...rest } = zm;
      const metadata: KerasMetadata = { ...rest, kerasVersion, backend };

      const all = [...plan.layers.flatMap((l) => l.weights), ...plan.optimizer];
      const names = new Set<string>();
      for (const p of plan.layers.flatMap((l) => l.weights)) {
        // Two stored names can collapse to one ('x:0' and 'x'); the HDF5 path is unique.
        if (names.has(p.name)) p.name = p.ds.path.slice(1);
        names.add(p.name);
      }
      // One dataset reached under many names (hard links, a weight listed by
      // many layers) is read once and its data shared: memory is bounded by
      // the file's datasets, not by how often the file names them (issue 21, #10).
      const ids = all.map((p) => identity(p.ds));
      const first = new Map<string, Planned>();
      all.forEach((p, i) => {
        if (!first.has(ids[i]!)) first.set(ids[i]!, p);
      });
      const unique = [...first.values()];
      const loaded = await boundedMap(
        unique,
        (p) => p.ds.byteLength,
        (p) => materialise(p, copy, options.signal),
      );
      const byId = new Map(unique.map((p, i) => [identity(p.ds), loaded[i]!]));
      const byDs = new Map(
        all.map((p, i) => {
          const w = byId.get(ids[i]!)!;
          return [p, first.get(ids[i]!) === p ? w : { ...w, name: p.name, weight: p.weight, key: p.ds.path }];
        }),
      );
      const layers: KerasLayer[] = plan.layers.map((l) => ({
        name: l.name,
        className: l.className,
        group: l.group,
        weights: l.weights.map((p) => byDs.get(p)!),
      }));
      const tensors = new Map<string, KerasWeight>();
      for (const l of layers) for (const w of l.weights) tensors.set(w.name, w);
      const optimizer = plan.optimizer.map((p) => byDs.get(p)!);
      const views = new Set([...tensors.values(), ...optimizer].filter((w) => w.viewed).map((w) => w.name));
      const close = (): void => file.close();
      return {
        path: abs,
        layout: found.layout,
        container: opened.container,
        source: opened.source,
        layers,
        tensors,
        optimizer,
        config,
        trainingConfig,
        metadata,
        digest: opened.digest,
        views,
        close,
        [Symbol.dispose]: close,
      };
    } catch (e) {
      file.close();
      throw e;
    }
  });
}
