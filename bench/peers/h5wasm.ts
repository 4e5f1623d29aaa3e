/**
 * h5wasm side of `npm run bench:compare`: the Node build (libhdf5 compiled
 * to WebAssembly, reading the real filesystem). Its build ships the LZF and
 * LZ4 filters, so it reads every file in the comparison; the harness checks
 * each result's SHA-256 against the source data anyway.
 */
import fs, { readFileSync } from 'node:fs';
import h5wasm from 'h5wasm/node';
import { sha256, type JobResult } from './h5vault.js';

let ready: Promise<unknown> | undefined;

/** The installed h5wasm package version (it bundles its own libhdf5 build). */
export function h5wasmVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../node_modules/h5wasm/package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

/**
 * Runs `fn` with libhdf5-wasm's diagnostics (HDF5-DIAG error stacks, which
 * its C stdio writes straight to fd 2 with fs.writeSync) captured instead of
 * printed; returns the first "can't find plugin"-style line so a failure can
 * say why.
 */
async function quietly<T>(fn: () => Promise<T>): Promise<{ value: T; diag: string | undefined }> {
  const fsMod = fs as unknown as { writeSync: (...a: unknown[]) => number };
  const writeSync = fsMod.writeSync;
  let diag: string | undefined;
  fsMod.writeSync = (fd: unknown, buf: unknown, ...rest: unknown[]) => {
    if (fd === 2) {
      // Emscripten passes (fd, heapView, offset, length, position): decode only that slice.
      const u8 = buf as Uint8Array;
      const off = typeof rest[0] === 'number' ? rest[0] : 0;
      const len = typeof rest[1] === 'number' ? rest[1] : u8.byteLength - off;
      if (diag === undefined) {
        const text = typeof buf === 'string' ? buf : Buffer.from(u8.buffer, u8.byteOffset + off, len).toString('utf8');
        diag = /can't find plugin|required filter[^\n]*not registered|filter[^\n]*not available/i.exec(text)?.[0];
      }
      return typeof buf === 'string' ? Buffer.byteLength(buf) : len;
    }
    return writeSync.call(fs, fd, buf, ...rest);
  };
  try {
    return { value: await fn(), diag };
  } finally {
    fsMod.writeSync = writeSync;
  }
}

/** Times `runs` full reads of `dataset` (dataset.value) after one checksummed warm-up. */
export async function timeReadH5wasm(path: string, dataset: string, runs: number): Promise<JobResult> {
  const { value, diag } = await quietly(() => readRuns(path, dataset, runs));
  // h5wasm returns data even when a filter is missing; the harness's checksum catches that, this says why.
  if (diag && !value.error) value.note = `h5wasm printed: ${diag}`;
  return value;
}

async function readRuns(path: string, dataset: string, runs: number): Promise<JobResult> {
  ready ??= h5wasm.ready;
  await ready;
  let f: InstanceType<typeof h5wasm.File> | undefined;
  try {
    f = new h5wasm.File(path, 'r');
    const ds = f.get(dataset) as InstanceType<typeof h5wasm.Dataset> | null;
    if (!ds) return { error: `no dataset '${dataset}'` };
    const first = ds.value as unknown as Float32Array;
    const digest = sha256(first);
    const ms: number[] = [];
    for (let r = 0; r < runs; r++) {
      const t0 = performance.now();
      void ds.value;
      ms.push(performance.now() - t0);
    }
    return { ms, sha256: digest };
  } catch (e) {
    return { error: `${(e as Error).name}: ${(e as Error).message}` };
  } finally {
    f?.close();
  }
}
