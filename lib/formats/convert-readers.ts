/**
 * The input side of convertModel: the registry of model readers and the
 * built-in ones (safetensors, Keras, h5vault models), each reading through
 * the input convertModel pinned and giving every tensor's SHA-256 (the
 * source's stored checksum where it has one, else hashed as read).
 */
import { File } from '../h5/file.js';
import { Dataset } from '../h5/dataset.js';
import type { NumericDType, TypedArray } from '../h5/dtypes.js';
import { H5Error } from '../errors.js';
import { rangeSha256, tensorSha256 } from '../model/digest.js';
import { ATTR, FORMAT_VERSION, TENSOR_SHA_ATTR, type JsonValue } from '../model/schema.js';
import { openInput, type Input } from '../safety/open.js';
import { parseStoredJson } from '../safety/budget.js';
import { DTYPE_TO_SAFETENSORS, openSafetensors } from './safetensors.js';
import { loadKeras } from './keras.js';
import { metadataFromSafetensors } from './convert-metadata.js';
import type { ModelReader, SourceTensor } from './convert-types.js';

const readers: ModelReader[] = [];

/**
 * Adds an input format to convertModel / `h5vault convert` (tried before the
 * built-in ones). A reader for Keras files wraps its loader's tensors as
 * SourceTensors with their views.
 */
export function registerModelReader(reader: ModelReader): void {
  if (
    typeof reader !== 'object' ||
    reader === null ||
    typeof reader.format !== 'string' ||
    typeof reader.detect !== 'function' ||
    typeof reader.open !== 'function'
  )
    throw new TypeError('reader must be { format: string, detect(head, path), open(path, options) }');
  const i = readers.findIndex((r) => r.format === reader.format);
  if (i >= 0) readers.splice(i, 1);
  readers.unshift(reader);
}

const HDF5_SIGNATURE = [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a];

// --- safetensors input ---------------------------------------------------------

const safetensorsReader: ModelReader = {
  format: 'safetensors',
  detect: (head) => head.length >= 9 && head[8] === 0x7b,
  async open(path, options) {
    // Mapped and hashed through one descriptor: the pinned input, or one pinned here for a direct call.
    const fh = options.input ?? (await openInput(path, 'safetensors file'));
    let st: Awaited<ReturnType<typeof openSafetensors>>;
    try {
      st = await openSafetensors(path, { input: fh });
    } catch (e) {
      if (fh !== options.input) fh.close();
      throw e;
    }
    const f8: Record<string, string> = {};
    const tensors: SourceTensor[] = [...st.tensors.entries()].map(([name, t]) => {
      if (t.safetensorsDtype !== DTYPE_TO_SAFETENSORS[t.dtype]) f8[name] = t.safetensorsDtype;
      return {
        name,
        dtype: t.dtype,
        shape: t.shape,
        byteLength: t.byteLength,
        safetensorsDtype: t.safetensorsDtype,
        load: async () => ({ data: t.data, copied: t.copied }),
        // Hashed from the file by a worker thread: no copy, nothing on the event loop.
        sha256: async () =>
          t.byteLength === 0 ? tensorSha256(t.data) : (await rangeSha256(fh.fd, t.offset, t.byteLength)).hex,
      };
    });
    const { metadata, modelDigest } = metadataFromSafetensors(st.metadata, f8, st.path);
    return {
      format: 'safetensors',
      tensors,
      metadata,
      modelDigest,
      close: async () => {
        st.close();
        if (fh !== options.input) fh.close();
      },
    };
  },
};

// --- Keras input ---------------------------------------------------------------

const ZIP_SIGNATURE = [0x50, 0x4b, 0x03, 0x04];

/** Keras files carry no checksums: each weight is hashed from its data as read (a view of the file where possible). */
const kerasReader: ModelReader = {
  format: 'keras',
  // .keras archives by their zip signature; Keras .h5 files share HDF5's
  // signature with h5vault models, so the h5vault reader hands those over
  // once it has opened the file (with the caller's untrusted setting) and
  // found a Keras layout instead of h5vault's attributes.
  detect: (head) => ZIP_SIGNATURE.every((b, i) => head[i] === b),
  async open(path, options) {
    const k = await loadKeras(path, {
      untrusted: options.untrusted,
      limits: options.limits,
      ...(options.input ? { input: options.input } : {}),
    });
    const tensors: SourceTensor[] = [...k.tensors.entries()].map(([name, w]) => ({
      name,
      dtype: w.dtype as NumericDType,
      shape: w.shape,
      byteLength: (w.data as TypedArray).byteLength,
      load: async () => ({ data: w.data as TypedArray, copied: !w.viewed }),
      sha256: async () => tensorSha256(w.data as TypedArray),
    }));
    const metadata: Record<string, JsonValue> = {
      source: { format: 'keras', layout: k.layout, container: k.container },
      keras: { metadata: k.metadata as unknown as JsonValue, config: k.config, trainingConfig: k.trainingConfig },
    };
    return { format: 'keras', tensors, metadata, close: () => k.close() };
  },
};

/** The groups/attributes a Keras weights file has at its root (detect in lib/formats/keras-h5.ts). */
function looksLikeKeras(file: File): boolean {
  return (
    file.attrs.has('layer_names') || file.attrs.has('keras_version') || file.has('model_weights') || file.has('layers')
  );
}

// --- h5vault input -------------------------------------------------------------

const h5vaultReader: ModelReader = {
  format: 'h5vault',
  detect: (head) => HDF5_SIGNATURE.every((b, i) => head[i] === b),
  async open(path, options) {
    // Walked (untrusted), opened by libhdf5 and hashed through one pinned descriptor.
    const pinned = options.input ?? (await openInput(path, 'model'));
    const own = pinned !== options.input;
    let file: File;
    try {
      file = await File.openAsync(path, {
        ...(options.untrusted ? { untrusted: true, limits: options.limits } : {}),
        input: pinned,
      });
    } catch (e) {
      if (own) pinned.close();
      throw e;
    }
    let fh: Input | undefined;
    try {
      const a = file.attrs;
      if (!a.has(ATTR.format)) {
        if (looksLikeKeras(file)) {
          file.close();
          return await kerasReader.open(path, { ...options, input: pinned });
        }
        throw new H5Error(
          `'${path}' is not an h5vault model (no ${ATTR.format} attribute): it has no checksums to carry over`,
          { code: 'H5_UNSUPPORTED' },
        );
      }
      const format = a.get(ATTR.format);
      if (typeof format !== 'number' || format > FORMAT_VERSION)
        throw new H5Error(
          `'${path}' uses model format ${String(format)}; this h5vault converts format ${FORMAT_VERSION}`,
          { code: 'H5_UNSUPPORTED' },
        );
      const metaText = a.has(ATTR.metadata) ? a.get(ATTR.metadata) : '{}';
      const digest = a.has(ATTR.modelDigest) ? a.get(ATTR.modelDigest) : undefined;
      let metadata: unknown;
      try {
        metadata = parseStoredJson(String(metaText));
      } catch {
        metadata = undefined;
      }
      if (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata) || typeof digest !== 'string')
        throw new H5Error(`'${path}' has invalid h5vault provenance attributes`, { code: 'H5_CORRUPT' });
      fh = pinned;
      const fd = fh.fd;
      const tensors: SourceTensor[] = [];
      for (const [p, obj] of file.walk()) {
        if (!(obj instanceof Dataset)) continue;
        const dtype = obj.dtype;
        if (dtype === 'string' || dtype === 'unsupported') continue;
        const name = p.slice(1);
        const stored = obj.attrs.has(TENSOR_SHA_ATTR) ? obj.attrs.get(TENSOR_SHA_ATTR) : null;
        if (typeof stored !== 'string')
          throw new H5Error(`tensor '${name}' in '${path}' has no ${TENSOR_SHA_ATTR} checksum`, {
            code: 'H5_CHECKSUM_MISMATCH',
            tensor: name,
          });
        const ds = obj;
        tensors.push({
          name,
          dtype,
          shape: ds.shape,
          byteLength: ds.byteLength,
          sha256: async () => stored,
          // Verified on read: a view is hashed from the file, a read (compressed tensor) from memory.
          load: async () => {
            let data: TypedArray;
            let actual: string;
            const viewed = ds.viewable === true && ds.byteLength > 0 && ds.offset !== null;
            if (viewed) {
              data = ds.view() as TypedArray;
              actual = (await rangeSha256(fd, ds.offset!, ds.byteLength)).hex;
            } else {
              data = (await ds.read()) as TypedArray;
              actual = await tensorSha256(data);
            }
            if (actual !== stored) {
              throw new H5Error(
                `tensor '${name}' in '${path}' does not match its checksum (stored ${stored}, data ${actual})`,
                {
                  code: 'H5_CHECKSUM_MISMATCH',
                  tensor: name,
                  expected: stored,
                  actual,
                },
              );
            }
            return { data, copied: !viewed && ds.byteLength > 0 };
          },
        });
      }
      const h = fh;
      return {
        format: 'h5vault',
        tensors,
        metadata: metadata as Record<string, JsonValue>,
        modelDigest: digest,
        close: async () => {
          file.close();
          if (own) h.close();
        },
      };
    } catch (e) {
      file.close();
      if (own) pinned.close();
      throw e;
    }
  },
};

/** The readers convertModel tries, in order: the registered ones, then the built-in ones. */
export function allReaders(): ModelReader[] {
  return [...readers, safetensorsReader, kerasReader, h5vaultReader];
}
