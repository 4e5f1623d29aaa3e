/**
 * What both Keras weight readers (keras-legacy.ts, keras-v3.ts) take from the
 * HDF5 file: its layout, attributes, weight datasets and object identities,
 * and the plan they produce (which dataset becomes which named weight).
 */
import type { File } from '../h5/file.js';
import { Dataset } from '../h5/dataset.js';
import { Group } from '../h5/group.js';
import { H5Error } from '../errors.js';
import type { AttrReadValue } from '../h5/attrs.js';
import { native } from '../addon/binding.js';
import type { JsonValue } from '../model/schema.js';
import { parseJson } from './keras-config.js';
import type { KerasLayout } from './keras-types.js';

function attr(g: Group, name: string): AttrReadValue | undefined {
  return g.attrs.has(name) ? g.attrs.get(name) : undefined;
}

export function strAttr(g: Group, name: string): string | null {
  const v = attr(g, name);
  return typeof v === 'string' ? v : null;
}

export async function jsonAttr(g: Group, name: string, path: string): Promise<JsonValue | null> {
  const v = attr(g, name);
  if (v === undefined) return null;
  if (typeof v !== 'string')
    throw new H5Error(`'${path}': attribute '${name}' is not a JSON string`, { code: 'H5_CORRUPT', path });
  return parseJson(v, path, `attribute '${name}'`);
}

export interface Planned {
  name: string;
  weight: string;
  ds: Dataset;
}

export interface PlannedLayer {
  name: string;
  className: string | null;
  group: string;
  weights: Planned[];
}

export function numericDataset(o: Dataset | Group, path: string): Dataset {
  if (!(o instanceof Dataset)) {
    throw new H5Error(`'${path}': '${o.path}' is a group where Keras keeps a weight`, { code: 'H5_NOT_KERAS', path });
  }
  const d = o.dtype;
  if (d === 'string' || d === 'unsupported') {
    const bf = o.attrs.has('dtype') ? o.attrs.get('dtype') : undefined;
    throw new H5Error(
      `'${path}': weight '${o.path}' has a ${d === 'string' ? 'string' : 'non-numeric'} HDF5 type${bf === 'bfloat16' ? " (Keras 3's opaque bfloat16)" : ''} that h5vault cannot represent`,
      { code: 'H5_UNSUPPORTED_TYPE', path, object: o.path },
    );
  }
  return o;
}

/** HDF5 object identity (file number and address): two links to one object give one identity. */
export function identity(o: Group | Dataset): string {
  return native.objIdentity(o.handle);
}

/** Which Keras layout the file has, and the group its layers are under; null if none. */
export function detect(file: File): { layout: KerasLayout; root: Group } | null {
  if (file.attrs.has('layer_names') || file.attrs.has('layer_names0')) return { layout: 'keras2-weights', root: file };
  if (file.has('model_weights')) {
    const g = file.get('model_weights');
    if (g instanceof Group && (g.attrs.has('layer_names') || g.attrs.has('layer_names0')))
      return { layout: 'keras2-model', root: g };
  }
  for (const k of ['layers', '_layer_checkpoint_dependencies', 'vars']) {
    if (file.has(k) && file.get(k) instanceof Group) return { layout: 'keras3-weights', root: file };
  }
  if (file.has('optimizer/vars')) return { layout: 'keras3-weights', root: file };
  return null;
}
