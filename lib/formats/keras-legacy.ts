/**
 * The Keras 2 layouts of a legacy .h5: a full model (`model.save('m.h5')`,
 * layers under `model_weights`) or `save_weights('w.h5')` (layers at the
 * root), each layer group listing its weights in `weight_names`.
 */
import type { File } from '../h5/file.js';
import { Group } from '../h5/group.js';
import { H5Error } from '../errors.js';
import type { AttrReadValue } from '../h5/attrs.js';
import { numericDataset, type Planned, type PlannedLayer } from './keras-h5.js';

/**
 * A list-of-names attribute as Keras writes it: a string array (fixed-length
 * bytes or variable-length str), an empty float array for an empty list, or
 * split over `<name>0`, `<name>1`, ... when it outgrew an object header.
 * null when absent.
 */
function nameList(g: Group, name: string, path: string): string[] | null {
  const one = (v: AttrReadValue | undefined, n: string): string[] => {
    if (typeof v === 'string') return [v];
    if (Array.isArray(v)) return v;
    if (ArrayBuffer.isView(v) && v.length === 0) return [];
    throw new H5Error(`'${path}': attribute '${n}' on '${g.path}' is not a list of names`, {
      code: 'H5_CORRUPT',
      path,
    });
  };
  if (g.attrs.has(name)) return one(g.attrs.get(name), name);
  if (!g.attrs.has(`${name}0`)) return null;
  const out: string[] = [];
  for (let i = 0; g.attrs.has(`${name}${i}`); i++) out.push(...one(g.attrs.get(`${name}${i}`), `${name}${i}`));
  return out;
}

/** TensorFlow names a variable's first output ':0'; Keras's own names ('dense_1/kernel') carry none. */
function weightLabel(layer: string, stored: string): { full: string; weight: string } {
  const bare = stored.replace(/:0$/, '');
  if (bare.startsWith(`${layer}/`)) return { full: bare, weight: bare.slice(layer.length + 1) };
  return { full: `${layer}/${bare}`, weight: bare };
}

/** The layers of a Keras 2 file in layer_names order, and its optimizer state, with each weight's dataset. */
export function planKeras2(
  file: File,
  root: Group,
  path: string,
  classes: Map<string, string>,
): { layers: PlannedLayer[]; optimizer: Planned[] } {
  const layerNames = nameList(root, 'layer_names', path)!;
  const layers: PlannedLayer[] = [];
  const listed = new Set(layerNames);
  // Keras 3's legacy-h5 writer adds the model's own weights under a group that layer_names does not list.
  const extra =
    root.has('top_level_model_weights') && !listed.has('top_level_model_weights') ? ['top_level_model_weights'] : [];
  for (const ln of [...layerNames, ...extra]) {
    if (!root.has(ln))
      throw new H5Error(`'${path}': layer '${ln}' is listed in layer_names but has no group`, {
        code: 'H5_CORRUPT',
        path,
      });
    const g = root.group(ln);
    const names = nameList(g, 'weight_names', path) ?? [];
    const weights = names.map((wn) => {
      if (!g.has(wn))
        throw new H5Error(`'${path}': weight '${wn}' of layer '${ln}' is listed but missing`, {
          code: 'H5_CORRUPT',
          path,
        });
      const { full, weight } = weightLabel(ln, wn);
      return { name: full, weight, ds: numericDataset(g.get(wn), path) };
    });
    if (extra.includes(ln) && weights.length === 0) continue;
    layers.push({ name: ln, className: classes.get(ln) ?? null, group: g.path, weights });
  }
  // Optimizer state is a root group in both Keras 2 layouts.
  let optimizer: Planned[] = [];
  const og = file.has('optimizer_weights') ? file.get('optimizer_weights') : null;
  if (og instanceof Group) {
    const names = nameList(og, 'weight_names', path) ?? [];
    optimizer = names.map((wn) => {
      if (!og.has(wn))
        throw new H5Error(`'${path}': optimizer weight '${wn}' is listed but missing`, { code: 'H5_CORRUPT', path });
      const weight = wn.replace(/:0$/, '');
      return { name: `optimizer/${weight}`, weight, ds: numericDataset(og.get(wn), path) };
    });
  }
  return { layers, optimizer };
}
