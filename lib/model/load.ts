/**
 * loadModel / verifyModel: open a model file (optionally only after its
 * file SHA-256 matched), hand out tensors as zero-copy views where possible,
 * and check every tensor's SHA-256 and the model digest (invariant 6).
 *
 * This file is loadModel, loadModelAt and verifyModel; load-open.ts opens the
 * file and reads its provenance, load-scan.ts walks and hashes the tensors,
 * load-indexed.ts maps them from the tensor index, load-types.ts holds the types.
 */
import { resolve } from 'node:path';
import { H5Error, withSite } from '../errors.js';
import { typedTensor, type TypedTensor } from '../h5/dtypes.js';
import { fileStampOf } from '../safety/untrusted.js';
import { ATTR, TENSOR_SHA_ATTR } from './schema.js';
import { checkPath } from '../util/validate.js';
import type {
  LoadedModel,
  LoadOptions,
  LoadOutcome,
  TensorReport,
  VerifyOptions,
  VerifyReport,
  Vouch,
} from './load-types.js';
import { checkLoadOptions, openChecked, readProvenance, tensorError } from './load-open.js';
import { errMessage, listTensors, modelProblems, scan } from './load-scan.js';
import { canMapIndexed, checkIndexLayout, layoutMatches, loadIndexed, readIndex } from './load-indexed.js';
import { checkAbort } from '../util/abort.js';

// Every public type stays importable from this module's path.
export type * from './load-types.js';

/**
 * Loads a model saved by saveModel (or, with verify: false, any HDF5 file's
 * numeric datasets). Verification failures throw H5Error H5_CHECKSUM_MISMATCH
 * naming the tensor; a changed file with expectDigest throws it before parsing.
 *
 * @example
 *   const m = await loadModel('model.h5', { expectDigest: res.digest });
 *   const w = m.tensors.get('dense/kernel')!;
 *   if (w.dtype === 'float32') w.data; // Float32Array: dtype narrows data
 *   m.close();
 */
export async function loadModel(path: string, options: LoadOptions = {}): Promise<LoadedModel> {
  const site = new Error();
  checkPath(path);
  const o = checkLoadOptions(options);
  return withSite(site, async () => (await loadModelAt(resolve(path), o)).model);
}

/** @internal loadModel on an absolute path, with what the caller already vouches for. */
export async function loadModelAt(abs: string, options: LoadOptions, vouch: Vouch = {}): Promise<LoadOutcome> {
  const verify = options.verify ?? true;
  const copy = options.copy ?? false;
  checkAbort(options.signal, 'load');
  const opened = await openChecked(abs, options, vouch);
  const { file, digest } = opened;
  try {
    const { provenance, metadata } = readProvenance(file, abs);
    if (verify && !provenance) {
      throw new H5Error(
        `'${abs}' is not an h5vault model (no ${ATTR.format} attribute), so it has no checksums; pass { verify: false } to load it anyway`,
        {
          code: 'H5_UNSUPPORTED',
        },
      );
    }
    const close = (): void => file.close();
    const done = (tensors: Map<string, TypedTensor>, views: Set<string>): LoadOutcome => ({
      model: { path: abs, tensors, metadata, provenance, digest, views, close, [Symbol.dispose]: close },
      verified: verify && digest !== undefined,
      stamp: fileStampOf(file),
      hashed: { file: opened.fileHashed, tensors: verify && !opened.skipHashes },
    });
    const index = provenance ? readIndex(file, abs, provenance, verify) : null;
    // A vouched-for file's index is its layout; any other file's index is
    // mapped only after every tensor's real layout was read and matched it.
    if (index && !copy && canMapIndexed(file) && (opened.trusted || layoutMatches(file, index, verify))) {
      const r = await loadIndexed(file, abs, index, { verify: verify && !opened.skipHashes, signal: options.signal });
      return done(r.tensors, r.views);
    }
    const list = listTensors(file);
    // An index the loader does not trust is still a claim the file makes: it must describe the real layout.
    if (index) checkIndexLayout(abs, index, list);
    await scan(file, list, { verify: verify && !opened.skipHashes, copy, keep: true, signal: options.signal });
    for (const t of list) {
      if (t.error !== undefined) {
        const e = t.error;
        throw e instanceof H5Error ? tensorError(t.name, e) : e;
      }
      if (verify && !opened.skipHashes && t.actual !== t.expected) {
        throw new H5Error(
          t.expected === null
            ? `tensor '${t.name}' in '${abs}' has no ${TENSOR_SHA_ATTR} checksum`
            : `tensor '${t.name}' in '${abs}' does not match its checksum (stored ${t.expected}, data ${t.actual})`,
          { code: 'H5_CHECKSUM_MISMATCH', tensor: t.name, expected: t.expected, actual: t.actual },
        );
      }
    }
    if (verify && provenance) {
      const { problems } = modelProblems(list, provenance, false);
      if (problems.length) throw new H5Error(`'${abs}': ${problems.join('; ')}`, { code: 'H5_CHECKSUM_MISMATCH' });
    }
    const tensors = new Map<string, TypedTensor>();
    const views = new Set<string>();
    for (const t of list) {
      tensors.set(t.name, typedTensor(t.dtype, t.shape, t.data!));
      if (t.viewed) views.add(t.name);
    }
    return done(tensors, views);
  } catch (e) {
    file.close();
    throw e;
  }
}

/**
 * Re-hashes every tensor and checks the model digest; reports instead of
 * throwing (except: unreadable/non-model file, expectDigest mismatch).
 *
 * @example
 *   const r = await verifyModel('model.h5');
 *   if (!r.ok) console.error(r.problems.join('\n'));
 */
export async function verifyModel(path: string, opts: VerifyOptions = {}): Promise<VerifyReport> {
  const site = new Error();
  checkPath(path);
  const options = checkLoadOptions(opts);
  return withSite(site, async () => {
    checkAbort(options.signal, 'load');
    const abs = resolve(path);
    const { file, digest } = await openChecked(abs, options);
    try {
      const { provenance } = readProvenance(file, abs);
      if (!provenance) {
        throw new H5Error(`'${abs}' is not an h5vault model (no ${ATTR.format} attribute): nothing to verify against`, {
          code: 'H5_UNSUPPORTED',
        });
      }
      const list = listTensors(file);
      const problems: string[] = [];
      const indexProblems: string[] = [];
      try {
        const index = readIndex(file, abs, provenance, true);
        if (index) checkIndexLayout(abs, index, list);
      } catch (e) {
        if (!(e instanceof H5Error) || (e.code !== 'H5_CORRUPT' && e.code !== 'H5_CHECKSUM_MISMATCH')) throw e;
        indexProblems.push(e.message);
      }
      await scan(file, list, { verify: true, copy: false, keep: false, signal: options.signal });
      const tensors: TensorReport[] = list.map((t) => {
        const r: TensorReport = {
          name: t.name,
          ok: t.error === undefined && t.expected !== null && t.actual === t.expected,
          expected: t.expected,
          actual: t.actual,
        };
        if (t.error !== undefined) {
          r.error = errMessage(t.error);
          problems.push(`tensor '${t.name}' cannot be read: ${r.error}`);
        } else if (t.expected === null) problems.push(`tensor '${t.name}' has no ${TENSOR_SHA_ATTR} checksum`);
        else if (!r.ok)
          problems.push(`tensor '${t.name}' does not match its checksum (stored ${t.expected}, data ${t.actual})`);
        return r;
      });
      const m = modelProblems(list, provenance, true);
      // The recomputed digest mismatching is a consequence of a bad tensor already listed; report it only when the tensors look fine.
      if (problems.length === 0) problems.push(...m.problems);
      else problems.push(...m.problems.filter((p) => !p.startsWith('model digest')));
      problems.push(...indexProblems);
      return {
        ok: problems.length === 0,
        path: abs,
        digest,
        modelDigest: m.digest,
        expectedModelDigest: provenance.modelDigest,
        tensors,
        problems,
      };
    } finally {
      file.close();
    }
  });
}
