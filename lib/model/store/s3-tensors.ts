/**
 * The S3 store's content-addressed layout (layout 'tensors', format 2; the
 * objects and gc marks are cas.ts's): publish uploads only the tensors the
 * bucket lacks and commits a manifest; pull takes the tensors a cached
 * version shares, fetches the rest and rebuilds the file byte for byte.
 */
import { performance } from 'node:perf_hooks';
import { H5Error } from '../../errors.js';
import { libraryInfo } from '../../h5/runtime.js';
import { itemSize, type NumericDType, type TypedArray } from '../../h5/dtypes.js';
import type { prepareSave } from '../save.js';
import { loadModel, type LoadedModel } from '../load.js';
import { blobPrefix, casTestHooks, chunkRanges, ensureTensorObjects, uploadPlan, type CasTensor } from './cas.js';
import { rebuildInto } from './cas-pull.js';
import type { S3StoreContext } from './s3-context.js';
import type { S3SaveOptions } from './s3-options.js';
import type { readTensorList, S3VersionRecord } from './s3-record.js';
import {
  checkRecordFits,
  commitRecord,
  listVersions,
  type NearRecords,
  nearRecords,
  readRecord,
} from './s3-versions.js';
import { openInput, type Input } from '../../safety/open.js';
import { boundedMap } from '../digest.js';

/** How many other versions' records a delta pull reads to choose the cached version to rebuild from. */
const BASE_CANDIDATES = 32;

/**
 * Delta publish: uploads the tensors the bucket lacks (or holds only in
 * copies gc has marked), then creates the manifest with commitRecord. The
 * manifest must be created within blobGraceMs / 2 of the check of the
 * objects it reuses (docs/object-storage.md#gc-racing-publish): past that,
 * they are checked again first.
 */
export async function saveTensors(
  ctx: S3StoreContext,
  common: Omit<S3VersionRecord, 'version' | 'format' | 'tensors'>,
  p: ReturnType<typeof prepareSave>,
  list: ReturnType<typeof readTensorList>,
  options: S3SaveOptions,
): Promise<number> {
  const name = common.name;
  const shaByName = new Map(list.tensors.map((t) => [t.name, t.sha256]));
  const plan = await uploadPlan(p.entries, shaByName, ctx.chunkBytes, options.signal);
  // The manifest's size is known before any upload (keys are fixed-length): one
  // that readers would refuse fails now, not after uploading the model.
  const keyOf = (sha: string): string => `${blobPrefix(sha)}${'0'.repeat(16)}`;
  const check = () => ensureTensorObjects(ctx, plan.items, options.signal, (s, t) => options.onUploadProgress?.(s, t));
  let checked: { keys: Map<string, string>; checkedAt: number } = {
    keys: new Map(plan.items.map((i) => [i.sha256, keyOf(i.sha256)])),
    checkedAt: 0,
  };
  const tensors = (): S3VersionRecord['tensors'] =>
    plan.tensors.map((t) => ({
      name: t.entry.name,
      dtype: t.entry.tensor.dtype,
      shape: [...t.entry.tensor.shape],
      sha256: t.sha256,
      bytes: t.bytes,
      ...(t.chunks
        ? {
            chunkBytes: ctx.chunkBytes,
            chunks: t.chunks.map((sha256) => ({ sha256, object: checked.keys.get(sha256)! })),
          }
        : { object: checked.keys.get(t.sha256)! }),
    }));
  const prov = list.provenance;
  const base: Omit<S3VersionRecord, 'version'> = {
    ...common,
    format: 2,
    tensors: tensors(),
    rebuild: {
      compression: p.compression,
      shuffle: p.shuffle,
      metadataJson: p.metadataJson,
      writer: {
        version: String(prov.version),
        hdf5: String(prov.hdf5),
        node: String(prov.node),
        platform: String(prov.platform),
      },
    },
  };
  checkRecordFits(base, ctx.dir(name));
  checked = await check();
  base.tensors = tensors();
  return commitRecord(ctx, name, base, options.signal, async () => {
    await casTestHooks.beforeCommit?.();
    for (let n = 0; performance.now() - checked.checkedAt > ctx.graceMs / 2; n++) {
      if (n === 3)
        throw new H5Error(
          `cannot publish '${ctx.dir(name)}': checking its tensor objects takes longer than half the grace period (blobGraceMs ${ctx.graceMs} ms)`,
          { code: 'H5_S3_ERROR' },
        );
      checked = await check();
      base.tensors = tensors();
    }
  });
}

/**
 * Delta pull of a format-2 version: takes the tensors it shares with the
 * cached version of `rec.name` that shares the most bytes (mapped, pinned
 * while used; hashed only if the rebuilt file differs), fetches the others, rebuilds the file with
 * the reproducible writer. The cache then checks the file's SHA-256 against
 * the manifest before renaming it in.
 */
export async function rebuildVersion(
  ctx: S3StoreContext,
  rec: S3VersionRecord,
  temp: string,
  signal?: AbortSignal,
  onProgress?: (n: number, total: number) => void,
  near: NearRecords = nearRecords(ctx, rec.name, rec.version),
): Promise<string> {
  const want = new Set(rec.tensors.map((t) => t.sha256));
  // Pieces of the chunked tensors (a changed tensor may share most of its pieces).
  const wantPieces = new Set(rec.tensors.flatMap((t) => (t.chunks ?? []).map((c) => c.sha256)));
  const records = (versions: number[]) =>
    boundedMap(
      versions,
      () => 0,
      (v) => readRecord(ctx, rec.name, v).catch(() => undefined),
      ctx.concurrency,
    );
  const choose = async (rs: (S3VersionRecord | undefined)[]) => {
    let best: { rec: S3VersionRecord; shared: number } | undefined;
    for (const r of rs) {
      if (!r || r.digest === rec.digest || !(await ctx.cache.has(r.digest))) continue;
      let shared = 0;
      for (const t of r.tensors)
        if (want.has(t.sha256))
          shared += t.bytes ?? t.shape.reduce((a, d) => a * d, itemSize(t.dtype as NumericDType)); // format 1 has no sizes
        else if (t.chunks)
          chunkRanges(t.bytes!, t.chunkBytes!).forEach(([a, b], i) => {
            if (wantPieces.has(t.chunks![i]!.sha256)) shared += b - a;
          });
      if (shared > 0 && (!best || shared > best.shared)) best = { rec: r, shared };
    }
    return best;
  };
  // Which cached version to start from. A fine-tune shares most with its
  // neighbours, so first the nearest version numbers themselves (v-1, v+1,
  // v-2, ...: one round of `concurrency` record GETs and no LIST; a number
  // never used, or pruned, is a 404). Only if none of them is cached, the
  // listed versions, nearest first, at most BASE_CANDIDATES of them (a store
  // of thousands of versions must not make every pull read every record),
  // `concurrency` at a time: read one by one, ten records cost ten round
  // trips, 0.4 s of a 30 ms-RTT link.
  let best = await choose(await near.records);
  if (!best) {
    const others = (await listVersions(ctx, rec.name))
      .filter((v) => v !== rec.version && !near.versions.includes(v))
      .sort((a, b) => Math.abs(a - rec.version) - Math.abs(b - rec.version) || b - a)
      .slice(0, BASE_CANDIDATES);
    best = await choose(await records(others));
  }
  const manifest = { tensors: rec.tensors as CasTensor[], rebuild: rec.rebuild! };
  const checked = (hex: string): string => {
    // The cache checks it too; this says why a rebuilt file can differ (every tensor matched already).
    if (hex !== rec.digest) {
      const here = libraryInfo().hdf5;
      throw new H5Error(
        `version ${rec.version} of '${ctx.dir(rec.name)}' rebuilt from its verified tensors has SHA-256 ${hex}, its manifest says ${rec.digest}${rec.rebuild!.writer.hdf5 !== here ? ` (written with libhdf5 ${rec.rebuild!.writer.hdf5}, rebuilt with ${here})` : ''}: nothing was cached`,
        { code: 'H5_CHECKSUM_MISMATCH', expected: rec.digest, actual: hex },
      );
    }
    return hex;
  };
  if (!best) return checked(await rebuildInto(ctx, temp, manifest, rec.digest, undefined, signal, onProgress));
  const unpin = ctx.cache.pin(best.rec.digest);
  let m: LoadedModel | undefined;
  let input: Input | undefined;
  try {
    // Not verified here: the rebuilt file's SHA-256 covers every byte taken from it, and if that
    // differs rebuildInto hashes the tensors it took (the rest is not used).
    // Evicted since has(), or unreadable: rebuild without it (H5Errors only; anything else is a bug to see).
    m = await loadModel(ctx.cache.path(best.rec.digest), { verify: false }).catch((e: unknown) => {
      if (e instanceof H5Error) return undefined;
      throw e;
    });
    let base: Parameters<typeof rebuildInto>[4];
    if (m) {
      // The same file open for the kernel copy (the one door in). A zero-copy
      // view over a mapping of the whole file (load-indexed.ts maps it once)
      // sits at its file offset; anything else is written from memory.
      input = await openInput(m.path, 'the cached version').catch(() => undefined);
      base = {
        tensors: new Map(),
        chunks: new Map(),
        ...(input && { file: { fd: input.fd, offsets: new Map(), pieceOffsets: new Map() } }),
      };
      const recOf = new Map(best.rec.tensors.map((t) => [t.name, t]));
      for (const [n, t] of m.tensors) {
        const r = recOf.get(n);
        const d = t.data as TypedArray;
        if (r?.chunks && !want.has(r.sha256) && d.byteLength === r.bytes) {
          const bytes = new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
          // At their file offsets too, for the kernel copy, where the view is over a mapping of the whole file.
          const inFile = base.file && m.views.has(n) && d.buffer.byteLength === input!.size;
          chunkRanges(r.bytes, r.chunkBytes!).forEach(([a, b], i) => {
            const sha = r.chunks![i]!.sha256;
            if (!wantPieces.has(sha)) return;
            base!.chunks!.set(sha, bytes.subarray(a, b));
            if (inFile) base!.file!.pieceOffsets!.set(sha, d.byteOffset + a);
          });
        }
        const sha = r?.sha256;
        if (!sha || !want.has(sha) || base.tensors.has(sha)) continue;
        base.tensors.set(sha, d);
        if (base.file && m.views.has(n) && d.buffer.byteLength === input!.size)
          base.file.offsets.set(sha, d.byteOffset);
      }
    }
    return checked(await rebuildInto(ctx, temp, manifest, rec.digest, base, signal, onProgress));
  } finally {
    input?.close();
    m?.close();
    unpin();
  }
}
