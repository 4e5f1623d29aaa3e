/**
 * The metadata mapping between h5vault models and safetensors `__metadata__`
 * (docs/runtime.md#safetensors): string entries as they are, the rest as one
 * canonical JSON entry, plus the model digest and the 8-bit-float dtypes
 * h5vault has no dtype for.
 */
import { H5Error } from '../errors.js';
import { canonicalJson, type JsonValue } from '../model/schema.js';
import { parseStoredJson } from '../safety/budget.js';
import { isSafetensorsDType, type SafetensorsDType } from './safetensors.js';
import type { SourceTensor } from './convert-types.js';

/** The key of safetensors `__metadata__` carrying non-string h5vault metadata as canonical JSON. */
export const META_JSON_KEY = 'h5vault.metadata';
/** The key of safetensors `__metadata__` carrying the h5vault model digest. */
export const META_DIGEST_KEY = 'h5vault.model_digest';
/** The h5vault metadata key recording safetensors dtypes h5vault has no dtype for (8-bit floats). */
export const META_DTYPES_KEY = 'safetensors.dtypes';

/** safetensors __metadata__ -> h5vault metadata (docs/runtime.md#safetensors). */
export function metadataFromSafetensors(
  meta: Record<string, string> | null,
  f8: Record<string, string>,
  path: string,
): { metadata: Record<string, JsonValue>; modelDigest?: string } {
  const out: Record<string, JsonValue> = {};
  let modelDigest: string | undefined;
  for (const [k, v] of Object.entries(meta ?? {})) {
    if (k === META_DIGEST_KEY) modelDigest = v;
    else if (k !== META_JSON_KEY) out[k] = v;
  }
  const json = meta?.[META_JSON_KEY];
  if (json !== undefined) {
    let parsed: unknown;
    try {
      parsed = parseStoredJson(json);
    } catch {
      parsed = undefined;
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
      throw new H5Error(`'${path}': __metadata__.${META_JSON_KEY} is not a JSON object`, { code: 'H5_CORRUPT' });
    Object.assign(out, parsed);
  }
  if (Object.keys(f8).length) out[META_DTYPES_KEY] = f8;
  return { metadata: out, modelDigest };
}

/** h5vault metadata -> safetensors __metadata__ plus the 8-bit-float dtypes it records (docs/runtime.md#safetensors). */
export function metadataToSafetensors(
  metadata: Record<string, JsonValue>,
  modelDigest: string,
  tensors: SourceTensor[],
): {
  meta: Record<string, string>;
  f8: Map<string, SafetensorsDType>;
} {
  const meta: Record<string, string> = {};
  const rest: Record<string, JsonValue> = {};
  const f8 = new Map<string, SafetensorsDType>();
  const byName = new Map(tensors.map((t) => [t.name, t]));
  for (const [k, v] of Object.entries(metadata)) {
    if (k === META_DTYPES_KEY && typeof v === 'object' && v !== null && !Array.isArray(v)) {
      for (const [name, d] of Object.entries(v)) {
        const t = byName.get(name);
        if (!t || !isSafetensorsDType(d) || t.dtype !== 'uint8' || d === 'U8')
          throw new H5Error(
            `metadata.${META_DTYPES_KEY}.${name} = ${JSON.stringify(d)} does not name an 8-bit-float tensor of this model`,
            { code: 'H5_CORRUPT' },
          );
        f8.set(name, d);
      }
    } else if (typeof v === 'string' && !k.startsWith('h5vault.')) {
      meta[k] = v;
    } else {
      rest[k] = v;
    }
  }
  if (Object.keys(rest).length) meta[META_JSON_KEY] = canonicalJson(rest);
  meta[META_DIGEST_KEY] = modelDigest;
  return { meta, f8 };
}
