/**
 * convertModel: safetensors <-> h5vault models (saveModel's format), and Keras
 * (.h5, .weights.h5, .keras) -> either, with
 * every tensor's SHA-256 checked end to end, in bounded memory. Inputs are
 * read through ModelReaders (one per format; `registerModelReader` adds more,
 * e.g. Keras), outputs are written tensor by tensor. The metadata mapping is
 * documented in docs/runtime.md#safetensors.
 *
 * This file is convertModel itself; convert-readers.ts holds the readers,
 * convert-writers.ts the two outputs, convert-metadata.ts the metadata
 * mapping and convert-types.ts the public types.
 */
import { extname, resolve } from 'node:path';
import { H5Error, withSite } from '../errors.js';
import { modelDigestOf } from '../model/digest.js';
import { nameError, nameProblem } from '../util/names.js';
import { refuseExisting, type PublishTarget } from '../util/publish.js';
import { openInput, type Input } from '../safety/open.js';
import { booleanOption, checkObject, checkOneOf, checkPath } from '../util/validate.js';
import { allReaders } from './convert-readers.js';
import { toH5vault, toSafetensors } from './convert-writers.js';
import type { ConvertOptions, ConvertResult, ModelReader, ModelSource, OutputFormat } from './convert-types.js';

export type {
  ConvertOptions,
  ConvertResult,
  ModelReader,
  ModelSource,
  OutputFormat,
  ReaderOptions,
  SourceTensor,
} from './convert-types.js';
export {
  META_DIGEST_KEY,
  META_DTYPES_KEY,
  META_JSON_KEY,
  metadataFromSafetensors,
  metadataToSafetensors,
} from './convert-metadata.js';
import { checkAbort } from '../util/abort.js';
export { registerModelReader } from './convert-readers.js';

const OUTPUT_FORMATS: readonly OutputFormat[] = ['safetensors', 'h5vault'];

// --- the conversion ------------------------------------------------------------

function sniff(input: Input): Promise<Uint8Array> {
  return input.readAt(0, 16);
}

function outputFormat(path: string, to: OutputFormat | undefined): OutputFormat {
  if (to !== undefined) {
    checkOneOf(to, 'options.to', OUTPUT_FORMATS);
    return to;
  }
  const ext = extname(path).toLowerCase();
  if (ext === '.safetensors') return 'safetensors';
  if (ext === '.h5' || ext === '.hdf5' || ext === '.h5vault') return 'h5vault';
  throw new TypeError(`cannot tell the output format from '${path}': name it .safetensors or .h5, or pass to`);
}

async function sourceShas(src: ModelSource): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const t of src.tensors) out.set(t.name, await t.sha256());
  return out;
}

function digestOf(src: ModelSource, shas: Map<string, string>): string {
  return modelDigestOf(
    src.tensors.map((t) => ({ name: t.name, dtype: t.dtype, shape: t.shape, sha256: shas.get(t.name)! })),
  );
}

/**
 * Converts a model between safetensors and h5vault's model format (either
 * direction; more inputs through registerModelReader). Names, dtypes
 * (bfloat16 and the 8-bit floats included) and metadata are kept; every
 * tensor's SHA-256 is checked on the way in (against the source's stored
 * checksums where it has them) and again on the written temp file, before
 * the one publisher (lib/util/publish.ts) may put it in place: a mismatch
 * publishes nothing and leaves an existing output as it was. Memory stays bounded: tensors are views of
 * file mappings where possible and are written one at a time.
 *
 * @example
 *   const r = await convertModel('model.safetensors', 'model.h5');
 *   console.log(r.tensors, r.modelDigest);
 */
export async function convertModel(
  inPath: string,
  outPath: string,
  options: ConvertOptions = {},
): Promise<ConvertResult> {
  const site = new Error();
  checkPath(inPath, 'inPath');
  checkPath(outPath, 'outPath');
  checkObject(options);
  const input = resolve(inPath);
  const output = resolve(outPath);
  if (input === output) throw new TypeError('the input and output paths are the same file');
  const to = outputFormat(output, options.to);
  booleanOption(options, 'overwrite');
  const target: PublishTarget = {
    overwrite: options.overwrite !== false,
    role: 'output',
    allow: 'pass --force or { overwrite: true }',
  };
  return withSite(site, async () => {
    checkAbort(options.signal, 'conversion');
    await refuseExisting(output, target);
    const all = allReaders();
    let reader: ModelReader | undefined;
    if (options.from !== undefined) {
      reader = all.find((r) => r.format === options.from);
      if (!reader)
        throw new TypeError(`unknown input format '${options.from}' (known: ${all.map((r) => r.format).join(', ')})`);
    }
    // The one door in: a FIFO or device is refused here, before any reader runs (issue 21, #9).
    const pinned = await openInput(input, 'model');
    let src: ModelSource;
    try {
      if (!reader) {
        const head = await sniff(pinned);
        reader = all.find((r) => r.detect(head, input));
        if (!reader)
          throw new H5Error(`'${input}' is neither a safetensors file, a .keras archive nor an HDF5 file`, {
            code: 'H5_UNSUPPORTED',
          });
      }
      src = await reader.open(input, { untrusted: options.untrusted, limits: options.limits, input: pinned });
    } catch (e) {
      pinned.close();
      throw e;
    }
    try {
      // The one name rule, before anything is hashed or written: a name the
      // output format cannot hold is the input's data, so an H5Error naming it.
      const kind = to === 'safetensors' ? 'safetensors tensor' : 'tensor';
      for (const t of src.tensors) {
        const problem = nameProblem(kind, t.name);
        if (problem !== null) {
          throw new H5Error(
            `'${input}': ${nameError(kind, t.name, problem).message}, so it cannot be written as ${to}; nothing was written`,
            {
              code: 'H5_UNSUPPORTED',
              tensor: t.name,
            },
          );
        }
      }
      const shas = await sourceShas(src);
      const modelDigest = digestOf(src, shas);
      if (src.modelDigest !== undefined && src.modelDigest !== modelDigest) {
        throw new H5Error(
          `'${input}': the model digest of its tensors is ${modelDigest}, the file claims ${src.modelDigest}`,
          {
            code: 'H5_CHECKSUM_MISMATCH',
            expected: src.modelDigest,
            actual: modelDigest,
          },
        );
      }
      const copied: string[] = [];
      const bytes = src.tensors.reduce((a, t) => a + t.byteLength, 0);
      const digest =
        to === 'safetensors'
          ? await toSafetensors(src, output, modelDigest, shas, copied, options, target)
          : await toH5vault(src, output, modelDigest, shas, copied, options, target);
      return { input, output, from: src.format, to, tensors: src.tensors.length, bytes, modelDigest, digest, copied };
    } finally {
      try {
        await src.close();
      } finally {
        pinned.close();
      }
    }
  });
}
