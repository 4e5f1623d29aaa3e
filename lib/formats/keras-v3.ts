/**
 * The Keras 3 `.weights.h5` layout (also the weights member of a .keras
 * archive): one group per saveable object with a `vars` group of datasets
 * `0`, `1`, ..., named from the model's config where it says how.
 */
import type { File } from '../h5/file.js';
import type { Dataset } from '../h5/dataset.js';
import { Group } from '../h5/group.js';
import { H5Error } from '../errors.js';
import type { JsonValue } from '../model/schema.js';
import { configLayers, isObject, KERAS3_VARS, RNN_CELLS, toSnakeCase, type ConfigLayer } from './keras-config.js';
import { identity, numericDataset, strAttr, type Planned, type PlannedLayer } from './keras-h5.js';

/** Dataset names '0', '1', ... in index order (HDF5 lists links by name: '10' before '2'). */
function varsInOrder(vars: Group, path: string): Dataset[] {
  const keys = vars.keys();
  const idx = keys.map((k) => (/^(0|[1-9]\d*)$/.test(k) ? Number(k) : NaN));
  if (idx.some((n) => Number.isNaN(n))) {
    const bad = keys[idx.findIndex((n) => Number.isNaN(n))];
    throw new H5Error(`'${path}': '${vars.path}' holds '${bad}', not a variable index`, { code: 'H5_NOT_KERAS', path });
  }
  return keys
    .map((k, i) => ({ k, n: idx[i]! }))
    .sort((a, b) => a.n - b.n)
    .map(({ k }) => numericDataset(vars.get(k), path));
}

/**
 * Deepest `vars` group read below a layer group. Keras nests a few levels
 * (layers/functional/layers/dense/vars); deeper is refused, never dropped.
 */
const MAX_VARS_DEPTH = 128;

/**
 * Every `vars` group at or below `g` (depth-first, name order), with its path
 * relative to `g`. Each group is visited once per file (`seen`, by object
 * identity): a hard or soft link back to a group already visited (a cycle, a
 * layer group linked to itself) adds nothing, so the walk is linear in the
 * objects of the file and always ends.
 */
function varsGroups(g: Group, path: string, seen: Set<string>, depth = 0): { rel: string; vars: Group }[] {
  if (depth > MAX_VARS_DEPTH) {
    throw new H5Error(`'${path}': '${g.path}' nests Keras variables more than ${MAX_VARS_DEPTH} groups deep`, {
      code: 'H5_LIMIT_EXCEEDED',
      path,
      reason: 'too-deep',
      object: g.path,
    });
  }
  seen.add(identity(g));
  const out: { rel: string; vars: Group }[] = [];
  if (g.has('vars')) {
    const v = g.get('vars');
    if (v instanceof Group && !seen.has(identity(v))) {
      seen.add(identity(v));
      out.push({ rel: '', vars: v });
    }
  }
  for (const k of g.keys()) {
    if (k === 'vars') continue;
    const c = g.get(k);
    if (!(c instanceof Group) || seen.has(identity(c))) continue;
    for (const s of varsGroups(c, path, seen, depth + 1)) out.push({ rel: s.rel ? `${k}/${s.rel}` : k, vars: s.vars });
  }
  return out;
}

/** The layers of a Keras 3 file in model order (from `config` where it has one), and its optimizer state. */
export function planKeras3(
  file: File,
  path: string,
  config: JsonValue | null,
): { layers: PlannedLayer[]; optimizer: Planned[] } {
  const containerName = file.has('layers')
    ? 'layers'
    : file.has('_layer_checkpoint_dependencies')
      ? '_layer_checkpoint_dependencies'
      : null;
  // The container names each layer by its snake_case class and a per-class counter, in model order.
  const byKey = new Map<string, ConfigLayer>();
  const order: string[] = [];
  const used = new Map<string, number>();
  for (const l of configLayers(config)) {
    const base = toSnakeCase(l.className);
    const n = used.get(base);
    const key = n === undefined ? base : `${base}_${n + 1}`;
    used.set(base, n === undefined ? 0 : n + 1);
    byKey.set(key, l);
    order.push(key);
  }
  // Groups already visited (by identity), across the whole file: see varsGroups.
  const seen = new Set<string>([identity(file)]);
  const planLayer = (g: Group, key: string, fallbackName: string): PlannedLayer => {
    const cl = byKey.get(key);
    const own = g.has('vars') && g.get('vars') instanceof Group ? strAttr(g.group('vars'), 'name') : null;
    const name = own ?? cl?.name ?? fallbackName;
    const snake = cl ? toSnakeCase(cl.className) : key.replace(/_\d+$/, '');
    const weights: Planned[] = [];
    for (const { rel, vars } of seen.has(identity(g)) ? [] : varsGroups(g, path, seen)) {
      const list = varsInOrder(vars, path);
      const kind = rel === '' ? snake : rel === 'cell' ? RNN_CELLS[snake] : undefined;
      const names = kind && KERAS3_VARS[kind] ? KERAS3_VARS[kind](cl?.config ?? {}) : null;
      const labels = names && names.length === list.length ? names : list.map((_, i) => String(i));
      list.forEach((ds, i) => {
        const weight = rel ? `${rel}/${labels[i]}` : labels[i]!;
        weights.push({ name: `${name}/${weight}`, weight, ds });
      });
    }
    return { name, className: cl?.className ?? null, group: g.path, weights };
  };
  const layers: PlannedLayer[] = [];
  if (containerName) {
    const container = file.group(containerName);
    seen.add(identity(container));
    const keys = container.keys();
    // Model order from the config where it names the groups; the rest (no config, or a config
    // that does not match) in natural name order: dense, dense_1, dense_2, ..., dense_10.
    const known = order.filter((k) => keys.includes(k));
    const rest = keys.filter((k) => !known.includes(k)).sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
    for (const k of [...known, ...rest]) {
      const g = container.get(k);
      if (g instanceof Group) layers.push(planLayer(g, k, k));
    }
  }
  // The model's own variables and those of attributes outside the layers container
  // (subclassed models keep their layers under attribute names).
  let optimizer: Planned[] = [];
  for (const k of file.keys()) {
    if (k === containerName) continue;
    const g = file.get(k);
    if (!(g instanceof Group)) continue;
    if (k === 'optimizer') {
      optimizer = (seen.has(identity(g)) ? [] : varsGroups(g, path, seen)).flatMap(({ rel, vars }) =>
        varsInOrder(vars, path).map((ds, i) => {
          const weight = rel ? `${rel}/${i}` : String(i);
          return { name: `optimizer/${weight}`, weight, ds };
        }),
      );
      continue;
    }
    if (k === 'vars') {
      if (seen.has(identity(g))) continue;
      seen.add(identity(g));
      const list = varsInOrder(g, path);
      if (list.length) {
        const name =
          strAttr(g, 'name') ??
          (isObject(config) && isObject(config.config) && typeof config.config.name === 'string'
            ? config.config.name
            : 'model');
        layers.push({
          name,
          className: isObject(config) && typeof config.class_name === 'string' ? config.class_name : null,
          group: g.path,
          weights: list.map((ds, i) => ({ name: `${name}/${i}`, weight: String(i), ds })),
        });
      }
      continue;
    }
    const planned = planLayer(g, k, k);
    if (planned.weights.length) layers.push(planned);
  }
  return { layers, optimizer };
}
