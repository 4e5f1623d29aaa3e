/**
 * h5vault side of `npm run bench:compare`. Used in-process by the harness,
 * and as a child process (bench/bin/h5vault-peer.ts) (jobs as JSON on stdin, results on stdout) when a
 * case needs another environment, e.g. H5VAULT_ENGINE=0 for the serial
 * libhdf5 path — that switch is read once per process.
 */
import { createHash } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { File, type BloscCompressor, type Compression, type TypedArray } from '../../lib/index.js';

export interface FilterSpec {
  compression: 'none' | 'gzip' | 'lzf' | 'lz4' | 'zstd' | 'blosc' | 'bitshuffle';
  /** gzip, zstd or blosc level. */
  level?: number;
  /** The HDF5 shuffle filter (blosc shuffles inside: bloscShuffle). */
  shuffle: boolean;
  /** Blosc's inner compressor and its own shuffle. */
  compressor?: BloscCompressor;
  bloscShuffle?: 'none' | 'byte' | 'bit';
  chunks: number[];
}

export type Job =
  | { op: 'read'; path: string; dataset: string; runs: number; threads?: number; direct?: boolean }
  | ({ op: 'write'; path: string; src: string; shape: number[]; runs: number; threads?: number } & FilterSpec);

export interface JobResult {
  ms?: number[];
  sha256?: string;
  error?: string;
  /** Something the peer reported that explains a wrong result. */
  note?: string;
}

export function sha256(a: ArrayBufferView): string {
  return createHash('sha256')
    .update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength))
    .digest('hex');
}

export function compressionOf(f: FilterSpec): Compression {
  switch (f.compression) {
    case 'gzip':
      return { name: 'gzip', level: f.level ?? 4 };
    case 'zstd':
      return { name: 'zstd', level: f.level ?? 3 };
    case 'blosc':
      return {
        name: 'blosc',
        compressor: f.compressor ?? 'lz4',
        level: f.level ?? 5,
        shuffle: f.bloscShuffle ?? 'byte',
      };
    case 'bitshuffle':
      // HDF5 filter 32008 with its default block and LZ4, as hdf5plugin.Bitshuffle().
      return { name: 'bitshuffle', compressor: 'lz4' };
    default:
      return f.compression;
  }
}

/**
 * Times `runs` full reads of one dataset (after one untimed warm-up read that
 * is also checksummed): each into a new array, or with `into` all into the
 * warm-up's array (`read({ into })`, no allocation and no page faults).
 */
export async function timeRead(
  path: string,
  dataset: string,
  runs: number,
  threads?: number,
  into = false,
): Promise<JobResult> {
  const f = File.open(path);
  try {
    const ds = f.dataset(dataset);
    const first = (await ds.read({ threads })) as TypedArray;
    const digest = sha256(first);
    const ms: number[] = [];
    for (let r = 0; r < runs; r++) {
      const t0 = performance.now();
      await ds.read(into ? { threads, into: first } : { threads });
      ms.push(performance.now() - t0);
    }
    return { ms, sha256: digest };
  } finally {
    f.close();
  }
}

/** Times create + write + close of one dataset, `runs` times after one warm-up. */
export async function timeWrite(
  path: string,
  data: Float32Array,
  shape: number[],
  spec: FilterSpec,
  runs: number,
  threads?: number,
): Promise<JobResult> {
  const once = async () => {
    rmSync(path, { force: true });
    const t0 = performance.now();
    const f = File.create(path);
    try {
      const ds = f.createDataset('data', {
        dtype: 'float32',
        shape,
        chunks: spec.chunks,
        compression: compressionOf(spec),
        shuffle: spec.shuffle,
      });
      await ds.write(data, { threads });
    } finally {
      await f.closeAsync();
    }
    return performance.now() - t0;
  };
  await once();
  const ms: number[] = [];
  for (let r = 0; r < runs; r++) ms.push(await once());
  return { ms };
}

export function loadSrc(src: string): Float32Array {
  const b = readFileSync(src);
  return new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
}

export async function runJob(job: Job): Promise<JobResult> {
  try {
    if (job.op === 'read') return await timeRead(job.path, job.dataset, job.runs, job.threads);
    return await timeWrite(job.path, loadSrc(job.src), job.shape, job, job.runs, job.threads);
  } catch (e) {
    return { error: `${(e as Error).name}: ${(e as Error).message}` };
  }
}

/**
 * Child-process mode (bench/bin/h5vault-peer.ts JOBS.json): results as JSON on
 * stdout. Jobs come from a file, not stdin: under vite-node the process exits
 * as soon as stdin has been consumed and the loop is briefly idle.
 */
export async function serveFile(path: string): Promise<void> {
  const jobs = JSON.parse(readFileSync(path, 'utf8')) as Job[];
  const out: JobResult[] = [];
  for (const j of jobs) out.push(await runJob(j));
  process.stdout.write(JSON.stringify(out));
}
