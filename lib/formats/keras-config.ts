/**
 * The Keras config JSON (config.json and metadata.json of a .keras archive,
 * the model_config and training_config attributes of a Keras 2 .h5): parsing
 * it within a budget, and what the weight readers take from it: each layer's
 * class, the Keras 3 layer order and group names, and the variable names of
 * the built-in layers.
 */
import {
  JSON_MAX_DEPTH,
  JsonScanError,
  jsonH5Error,
  parseJsonBoundedAsync,
  type JsonBudget,
} from '../safety/budget.js';
import type { JsonValue } from '../model/schema.js';

/** Largest config.json / metadata.json read into memory. */
export const MAX_JSON_MEMBER = 64 * 1024 * 1024;

/**
 * Budget of a Keras config (config.json, metadata.json, the model_config and
 * training_config attributes; docs/security.md#parser-budgets). Real configs
 * are kilobytes to a few MB with tens of thousands of entries.
 */
export const KERAS_JSON_BUDGET: JsonBudget = {
  maxBytes: MAX_JSON_MEMBER,
  maxDepth: JSON_MAX_DEPTH,
  maxEntries: 1 << 20,
};

/** Parses a config within KERAS_JSON_BUDGET (off the event loop when large): H5_CORRUPT if not JSON, H5_LIMIT_EXCEEDED over budget. */
export async function parseJson(text: string, path: string, what: string): Promise<JsonValue> {
  try {
    return (await parseJsonBoundedAsync(text, KERAS_JSON_BUDGET)) as JsonValue;
  } catch (e) {
    const over = e instanceof JsonScanError && e.kind === 'limit';
    throw jsonH5Error(
      e,
      `'${path}': ${what} ${over ? 'is over budget' : 'is not valid JSON'}`,
      'H5_CORRUPT',
      'H5_LIMIT_EXCEEDED',
      { path },
    );
  }
}

export function isObject(v: unknown): v is Record<string, JsonValue> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Class name of each layer in a Keras 2 `model_config` (Sequential configs of Keras 2.0 are a bare list). */
export function classesFromConfig(config: JsonValue | null): Map<string, string> {
  const out = new Map<string, string>();
  const visit = (layers: JsonValue | undefined): void => {
    if (!Array.isArray(layers)) return;
    for (const l of layers) {
      if (!isObject(l) || typeof l.class_name !== 'string') continue;
      const cfg = isObject(l.config) ? l.config : {};
      const name = typeof cfg.name === 'string' ? cfg.name : typeof l.name === 'string' ? l.name : null;
      if (name !== null && !out.has(name)) out.set(name, l.class_name);
    }
  };
  if (isObject(config)) {
    const c = config.config;
    if (Array.isArray(c)) visit(c);
    else if (isObject(c)) visit(c.layers);
  }
  return out;
}

/** keras.src.utils.naming.to_snake_case, which names a layer's group inside the `layers` container. */
export function toSnakeCase(name: string): string {
  return name
    .replace(/[^\p{L}\p{N}_]+/gu, '')
    .replace(/(.)([A-Z][a-z]+)/g, '$1_$2')
    .replace(/([a-z])([A-Z])/g, '$1_$2')
    .toLowerCase();
}

/**
 * Variable names of the built-in layers whose variable order Keras 3 fixes in
 * `build()` (trainable variables first, then non-trainable ones), keyed by
 * the snake_case class name. Flags in the layer config drop variables
 * (use_bias=False has no bias). Layers not listed get their variables' indices.
 */
export const KERAS3_VARS: Record<string, (c: Record<string, JsonValue>) => string[]> = (() => {
  const flag = (c: Record<string, JsonValue>, k: string): boolean => c[k] !== false;
  const kernelBias = (c: Record<string, JsonValue>): string[] =>
    flag(c, 'use_bias') ? ['kernel', 'bias'] : ['kernel'];
  const table: Record<string, (c: Record<string, JsonValue>) => string[]> = {
    dense: kernelBias,
    einsum_dense: (c) => (typeof c.bias_axes === 'string' && c.bias_axes !== '' ? ['kernel', 'bias'] : ['kernel']),
    embedding: () => ['embeddings'],
    batch_normalization: (c) => [
      ...(flag(c, 'scale') ? ['gamma'] : []),
      ...(flag(c, 'center') ? ['beta'] : []),
      'moving_mean',
      'moving_variance',
    ],
    layer_normalization: (c) => [...(flag(c, 'scale') ? ['gamma'] : []), ...(flag(c, 'center') ? ['beta'] : [])],
    p_re_lu: () => ['alpha'],
    lstm_cell: (c) => ['kernel', 'recurrent_kernel', ...(flag(c, 'use_bias') ? ['bias'] : [])],
    gru_cell: (c) => ['kernel', 'recurrent_kernel', ...(flag(c, 'use_bias') ? ['bias'] : [])],
    simple_rnn_cell: (c) => ['kernel', 'recurrent_kernel', ...(flag(c, 'use_bias') ? ['bias'] : [])],
  };
  for (const d of ['1d', '2d', '3d']) {
    table[`conv${d}`] = kernelBias;
    table[`conv${d}_transpose`] = kernelBias;
    table[`depthwise_conv${d}`] = kernelBias;
    table[`separable_conv${d}`] = (c) => [
      'depthwise_kernel',
      'pointwise_kernel',
      ...(flag(c, 'use_bias') ? ['bias'] : []),
    ];
  }
  return table;
})();

/** An RNN layer's `cell` attribute holds the cell class of the same family. */
export const RNN_CELLS: Record<string, string> = { lstm: 'lstm_cell', gru: 'gru_cell', simple_rnn: 'simple_rnn_cell' };

export interface ConfigLayer {
  name: string;
  className: string;
  config: Record<string, JsonValue>;
}

/** Layers of a Keras 3 config.json (Sequential or Functional), in model order. */
export function configLayers(config: JsonValue | null): ConfigLayer[] {
  if (!isObject(config) || !isObject(config.config)) return [];
  const layers = config.config.layers;
  if (!Array.isArray(layers)) return [];
  const out: ConfigLayer[] = [];
  for (const l of layers) {
    if (!isObject(l) || typeof l.class_name !== 'string' || !isObject(l.config)) continue;
    const name = typeof l.config.name === 'string' ? l.config.name : typeof l.name === 'string' ? l.name : null;
    if (name !== null) out.push({ name, className: l.class_name, config: l.config });
  }
  // Sequential.layers omits its leading InputLayer, so the container never names it.
  if (config.class_name === 'Sequential' && out[0]?.className === 'InputLayer') out.shift();
  return out;
}
