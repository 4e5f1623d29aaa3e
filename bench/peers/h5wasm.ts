/**
 * h5wasm side of `npm run bench:compare`: the Node build (libhdf5 compiled
 * to WebAssembly, reading the real filesystem). Its build ships the LZF and
 * LZ4 filters, so it reads every file in the comparison; the harness checks
 * each result's SHA-256 against the source data anyway.
 */
import { readFileSync } from 'node:fs';
import h5wasm from 'h5wasm/node';
import { sha256, type JobResult } from './h5vault.js';

let ready: Promise<unknown> | undefined;

/** The installed h5wasm package version (it bundles its own libhdf5 build). */
export function h5wasmVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../node_modules/h5wasm/package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

/**
 * Runs `fn` with libhdf5-wasm's diagnostics (HDF5-DIAG error stacks printed
 * through console.error) captured instead of printed; returns the first
 * "minor"/message line so a failure can say why.
 */
async function quietly<T>(fn: () => Promise<T>): Promise<{ value: T; diag: string | undefined }> {
  const write = process.stderr.write;
  let diag: string | undefined;
  process.stderr.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
    if (/HDF5-DIAG|^\s+#\d+|^\s+(major|minor):/m.test(text)) {
      diag ??= /can't find plugin[^.\n]*|filter[^\n]*not available[^\n]*/i.exec(text)?.[0];
      return true;
    }
    return (write as (...a: unknown[]) => boolean).call(process.stderr, chunk, ...rest);
  }) as typeof process.stderr.write;
  try {
    return { value: await fn(), diag };
  } finally {
    process.stderr.write = write;
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
  await (ready ??= h5wasm.ready);
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
