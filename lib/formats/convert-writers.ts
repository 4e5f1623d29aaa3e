/**
 * The output side of convertModel: a safetensors file or an h5vault model,
 * written tensor by tensor into a temp that is checked end to end against the
 * source's SHA-256s before the one publisher (lib/util/publish.ts) may put
 * it in place.
 */
import { open } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { NumericDType, TypedArray } from '../h5/dtypes.js';
import { H5Error } from '../errors.js';
import { verifyModel } from '../model/index.js';
import { prepareSave, writeTemp } from '../model/save.js';
import { rangeSha256, tensorSha256 } from '../model/digest.js';
import { cleanStaleTemps, commitStaged, type PublishTarget } from '../util/publish.js';
import {
  checkMetadata,
  DTYPE_TO_SAFETENSORS,
  openSafetensors,
  planSafetensors,
  writeSafetensorsAtomic,
  type PlannedTensor,
} from './safetensors.js';
import { metadataToSafetensors } from './convert-metadata.js';
import type { ConvertOptions, ModelSource } from './convert-types.js';
import { checkAbort } from '../util/abort.js';

function mismatch(output: string, name: string, expected: string, actual: string | null): H5Error {
  return new H5Error(
    `tensor '${name}' as written for '${output}' has SHA-256 ${actual ?? '(unreadable)'}, the source's is ${expected}: nothing was published`,
    {
      code: 'H5_CHECKSUM_MISMATCH',
      tensor: name,
      expected,
      actual,
    },
  );
}

/** Writes `src` as a safetensors file at `output`; resolves to its SHA-256. */
export async function toSafetensors(
  src: ModelSource,
  output: string,
  modelDigest: string,
  shas: Map<string, string>,
  copied: string[],
  options: ConvertOptions,
  target: PublishTarget,
): Promise<string> {
  const { meta, f8 } = metadataToSafetensors(src.metadata, modelDigest, src.tensors);
  const planned: PlannedTensor[] = src.tensors.map((t) => ({
    name: t.name,
    safetensorsDtype: f8.get(t.name) ?? t.safetensorsDtype ?? DTYPE_TO_SAFETENSORS[t.dtype],
    shape: t.shape,
    byteLength: t.byteLength,
    load: async () => {
      checkAbort(options.signal, 'conversion');
      const { data, copied: c } = await t.load();
      if (c) copied.push(t.name);
      return data;
    },
  }));
  const plan = planSafetensors(planned, checkMetadata(meta));
  // The end-to-end check runs on the temp, before it can replace anything:
  // parse its header like any reader and hash every tensor from the file.
  const check = async (temp: string): Promise<void> => {
    const st = await openSafetensors(temp);
    const fh = await open(temp, 'r');
    try {
      for (const t of src.tensors) {
        const o = st.tensors.get(t.name);
        const actual = !o
          ? null
          : o.byteLength === 0
            ? await tensorSha256(o.data)
            : (await rangeSha256(fh.fd, o.offset, o.byteLength)).hex;
        if (actual !== shas.get(t.name)) throw mismatch(output, t.name, shas.get(t.name)!, actual);
      }
    } finally {
      st.close();
      await fh.close();
    }
  };
  const written = await writeSafetensorsAtomic(
    output,
    plan,
    { onProgress: options.onProgress, signal: options.signal },
    { ...target, check },
  );
  return written.digest;
}

/** Writes `src` as an h5vault model at `output`; resolves to its SHA-256. */
export async function toH5vault(
  src: ModelSource,
  output: string,
  modelDigest: string,
  shas: Map<string, string>,
  copied: string[],
  options: ConvertOptions,
  target: PublishTarget,
): Promise<string> {
  const tensors = new Map<string, { dtype: NumericDType; shape: number[]; data: TypedArray }>();
  for (const t of src.tensors) {
    checkAbort(options.signal, 'conversion');
    const { data, copied: c } = await t.load();
    if (c) copied.push(t.name);
    tensors.set(t.name, { dtype: t.dtype, shape: t.shape, data });
  }
  const p = prepareSave(tensors, {
    metadata: src.metadata,
    compression: options.compression,
    shuffle: options.shuffle,
    onProgress: options.onProgress,
    signal: options.signal,
  });
  await cleanStaleTemps(dirname(output));
  // The end-to-end check runs on the temp, before it can replace anything:
  // every tensor re-hashed from the new file against the source's SHA-256.
  const w = await writeTemp(output, p, output, async (temp, written) => {
    if (written.modelDigest !== modelDigest) {
      throw new H5Error(
        `'${output}' was written with model digest ${written.modelDigest}, the source's is ${modelDigest}: nothing was published`,
        {
          code: 'H5_CHECKSUM_MISMATCH',
          expected: modelDigest,
          actual: written.modelDigest,
        },
      );
    }
    const report = await verifyModel(temp, { expectDigest: written.digest, signal: options.signal });
    for (const t of report.tensors) {
      const expected = shas.get(t.name);
      if (expected === undefined || t.actual !== expected || !t.ok)
        throw mismatch(output, t.name, expected ?? '(none)', t.actual);
    }
    if (!report.ok)
      throw new H5Error(`'${output}' failed verification: ${report.problems.join('; ')}`, {
        code: 'H5_CHECKSUM_MISMATCH',
      });
  });
  tensors.clear();
  await commitStaged(w.temp, output, { ...target, signal: options.signal });
  return w.digest;
}
