/**
 * `npm run bench:compare`: h5vault vs h5py (Debian python3-h5py, timed inside
 * Python) vs h5wasm (Node build) on the same files in the same run, plus
 * h5vault's own thread and chunk-size scaling and event-loop delay during a
 * large async read. Writes bench/results/compare.json and the tables in
 * docs/benchmarks.md (between the compare:begin/end markers).
 *
 *   npm run bench:compare -- [--size 256MiB] [--runs 5] [--el-size 1GiB]
 *        [--out bench/results] [--docs docs/benchmarks.md | --no-docs]
 *        [--no-serial] [--dir TMPDIR] [--keep] [--from compare.json]
 *        [--only core|codecs]
 *
 * The codec cases (zstd levels, Blosc lz4/zstd with byte and bit shuffle;
 * h5py through Debian's Blosc plugin, and for zstd, which no Debian plugin
 * provides, through direct chunk I/O + python3-zstandard) have their own
 * section of docs/benchmarks.md and JSON file (compare-codecs.json); `--only`
 * runs one of the two parts and rewrites only its section.
 *
 * Data: float32 ~ N(0, 0.02) from a seeded generator, shape [rows, 4096].
 * Read cases read files written by h5py (the neutral reference writer);
 * every read's SHA-256 is checked against the source, for every library.
 * Warm page cache: each library reads once untimed before its timed runs.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { File } from '../lib/index.js';
import { parse, parseInteger, parseSize, str, UsageError } from '../lib/cli/args.js';
import { chunkShapeFor, machineInfo, type MachineInfo } from '../lib/bench/benchmark.js';
import { formatBytes, median } from '../lib/cli/output.js';
import { gaussianFloat32 } from '../lib/bench/synthetic.js';
import {
  compressionOf,
  sha256,
  timeRead,
  timeWrite,
  type FilterSpec,
  type Job,
  type JobResult,
} from './peers/h5vault.js';
import { h5wasmVersion, timeReadH5wasm } from './peers/h5wasm.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const PYTHON = process.env.H5VAULT_PYTHON ?? '/usr/bin/python3';
const PLUGIN_PATH = '/usr/lib/x86_64-linux-gnu/hdf5/serial/plugins';
const COLS = 4096;
const SEED = 42;

/**
 * `h5vault-into` / `h5py-direct`: the same reads into one reused array
 * (`read({ into })` / `read_direct`), main read cases only: no allocation and
 * no page faults, what a server reading into its own buffers gets.
 */
export type Peer = 'h5vault' | 'h5vault-serial' | 'h5py' | 'h5wasm' | 'h5vault-into' | 'h5py-direct';

export interface Timing {
  /** Median wall time of one operation, ms. */
  ms: number;
  /** Logical MB (10^6 bytes) per second at the median. */
  mbps: number;
  /** MB/s of the slowest and the fastest run. */
  mbpsMin?: number;
  mbpsMax?: number;
  runs: number[];
}

export interface CaseResult {
  id: string;
  kind: 'read' | 'write';
  group: 'main' | 'threads' | 'chunks' | 'codecs';
  codec: string;
  chunkBytes: number;
  threads?: number;
  bytes: number;
  /** Target speed-up of h5vault over h5py, the project's performance targets (main cases; docs/benchmarks.md). */
  target?: number;
  peers: Partial<Record<Peer, Timing | { error: string }>>;
  /** h5vault throughput / peer throughput (> 1: h5vault faster). */
  ratios: Partial<Record<Exclude<Peer, 'h5vault'>, number>>;
  /**
   * Main cases: the peers run interleaved (round r = one run of each), and
   * this is min / median / max over the rounds of h5py's time ÷ h5vault's
   * time in the same round, the ratio's spread with the load of each moment
   * shared by both sides.
   */
  roundRatios?: { min: number; median: number; max: number; rounds: number[] };
  /** File size on disk of the file each peer wrote (write cases) or read (read cases: h5py's). */
  stored?: Partial<Record<Peer, number>>;
}

export interface EventLoopResult {
  bytes: number;
  codec: string;
  readMs: number;
  mbps: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  runs: { p50Ms: number; p99Ms: number; maxMs: number; readMs: number }[];
  targetP99Ms: number;
}

export interface CompareReport {
  command: string;
  machine: MachineInfo & { loadavgEnd: number[] };
  versions: Record<string, string>;
  size: number;
  shape: number[];
  runs: number;
  cases: CaseResult[];
  eventLoop: EventLoopResult | null;
  notes: string[];
}

interface CodecSpec {
  codec: string;
  compression: FilterSpec['compression'];
  level?: number;
  shuffle: boolean;
  compressor?: FilterSpec['compressor'];
  bloscShuffle?: FilterSpec['bloscShuffle'];
}

const CODECS: Record<string, CodecSpec> = {
  'gzip-1+shuffle': { codec: 'gzip-1+shuffle', compression: 'gzip', level: 1, shuffle: true },
  'gzip-4+shuffle': { codec: 'gzip-4+shuffle', compression: 'gzip', level: 4, shuffle: true },
  'lz4+shuffle': { codec: 'lz4+shuffle', compression: 'lz4', shuffle: true },
  'lzf+shuffle': { codec: 'lzf+shuffle', compression: 'lzf', shuffle: true },
  'none (chunked)': { codec: 'none (chunked)', compression: 'none', shuffle: false },
};

const blosc = (compressor: 'lz4' | 'zstd', bloscShuffle: 'byte' | 'bit'): CodecSpec => ({
  codec: `blosc-${compressor}+${bloscShuffle === 'bit' ? 'bitshuffle' : 'shuffle'}`,
  compression: 'blosc',
  level: 5,
  shuffle: false,
  compressor,
  bloscShuffle,
});
const zstd = (level: number): CodecSpec => ({ codec: `zstd-${level}`, compression: 'zstd', level, shuffle: false });
const bitshuffleLz4: CodecSpec = { codec: 'bitshuffle+lz4', compression: 'bitshuffle', shuffle: false };

/**
 * The codec cases (`--only codecs`): reads of h5py-written files, then writes,
 * h5vault and h5py interleaved round by round. Targets are issue 24's. A new
 * codec is one line here (and its h5py writer in bench/peers/h5py_peer.py).
 */
const CODEC_CASES: { spec: CodecSpec; read?: number | null; write?: number | null }[] = [
  { spec: zstd(1), read: null },
  { spec: zstd(3), read: 3, write: 2 },
  { spec: zstd(9), read: null },
  { spec: blosc('lz4', 'byte'), read: 2, write: null },
  { spec: blosc('lz4', 'bit'), read: null },
  { spec: blosc('zstd', 'byte'), read: null },
  { spec: blosc('zstd', 'bit'), read: null, write: null },
  // h5py through Debian's bitshuffle 0.3.5 plugin (LZ4 only: its zstd mode predates the plugin).
  { spec: bitshuffleLz4, read: null, write: null },
];

/** Runs jobs in the h5py peer (one Python process per call; timings are taken inside it). */
function h5py(jobs: object[]): JobResult[] & Record<string, unknown>[] {
  const env: NodeJS.ProcessEnv = { ...process.env };
  if (existsSync(PLUGIN_PATH)) env.HDF5_PLUGIN_PATH = PLUGIN_PATH;
  const r = spawnSync(PYTHON, [join(ROOT, 'bench/peers/h5py_peer.py')], {
    input: JSON.stringify(jobs),
    env,
    encoding: 'utf8',
    maxBuffer: 1 << 26,
  });
  if (r.status !== 0) {
    throw new Error(`h5py peer failed (${PYTHON}; needs python3-h5py and python3-hdf5plugin): ${r.stderr || r.error}`);
  }
  return JSON.parse(r.stdout) as JobResult[] & Record<string, unknown>[];
}

/** Runs h5vault jobs in a child process with H5VAULT_ENGINE=0 (libhdf5's serial filter pipeline). */
function h5vaultSerial(work: string, jobs: Job[]): JobResult[] {
  const viteNode = join(ROOT, 'node_modules/.bin/vite-node');
  const jobsFile = join(work, 'serial-jobs.json');
  writeFileSync(jobsFile, JSON.stringify(jobs));
  const r = spawnSync(viteNode, [join(ROOT, 'bench/bin/h5vault-peer.ts'), jobsFile], {
    env: { ...process.env, H5VAULT_ENGINE: '0' },
    encoding: 'utf8',
    cwd: ROOT,
    maxBuffer: 1 << 26,
  });
  if (r.status !== 0 || !r.stdout) {
    return jobs.map(() => ({
      error: `serial h5vault child failed: ${(r.stderr || String(r.error ?? 'no output')).trim().split('\n')[0]}`,
    }));
  }
  return JSON.parse(r.stdout) as JobResult[];
}

function timing(r: JobResult, bytes: number, expectSha?: string): Timing | { error: string } {
  if (r.error || !r.ms?.length) return { error: r.error ?? 'no timings' };
  if (expectSha && r.sha256 !== expectSha) {
    return {
      error: `wrong data (SHA-256 ${r.sha256?.slice(0, 8)}… ≠ source ${expectSha.slice(0, 8)}…)${r.note ? `; ${r.note}` : ''}`,
    };
  }
  const ms = median(r.ms);
  const rate = (x: number) => bytes / 1e6 / (x / 1000);
  return {
    ms,
    mbps: rate(ms),
    mbpsMin: rate(Math.max(...r.ms)),
    mbpsMax: rate(Math.min(...r.ms)),
    runs: r.ms.map((x) => Math.round(x * 1000) / 1000),
  };
}

/**
 * Runs each peer's one-run job in turn, `runs` rounds, and merges each peer's
 * runs: a load spike then hits every peer in that round instead of all runs
 * of one peer. Every peer still warms up (untimed) in each call.
 */
async function interleave(
  runs: number,
  peers: Record<string, (() => Promise<JobResult> | JobResult) | undefined>,
): Promise<Record<string, JobResult>> {
  const acc: Record<string, JobResult[]> = {};
  for (let r = 0; r < runs; r++) {
    for (const [name, fn] of Object.entries(peers)) {
      if (!fn) continue;
      acc[name] ??= [];
      acc[name].push(await fn());
    }
  }
  const out: Record<string, JobResult> = {};
  for (const [name, rs] of Object.entries(acc)) {
    const bad = rs.find((x) => x.error || !x.ms?.length);
    const shas = new Set(rs.map((x) => x.sha256));
    out[name] = bad ?? {
      ...rs[0]!,
      ms: rs.flatMap((x) => x.ms!),
      sha256: shas.size === 1 ? rs[0]!.sha256 : `differs between runs (${[...shas].join(', ')})`,
    };
  }
  return out;
}

function roundRatios(peers: CaseResult['peers']): CaseResult['roundRatios'] {
  const a = peers.h5vault;
  const b = peers.h5py;
  if (!a || !b || 'error' in a || 'error' in b || a.runs.length !== b.runs.length) return undefined;
  const rounds = a.runs.map((x, i) => Math.round((b.runs[i]! / x) * 1000) / 1000);
  return { min: Math.min(...rounds), median: median([...rounds]), max: Math.max(...rounds), rounds };
}

function ratiosOf(peers: CaseResult['peers']): CaseResult['ratios'] {
  const base = peers.h5vault;
  const out: CaseResult['ratios'] = {};
  if (!base || 'error' in base) return out;
  for (const p of ['h5vault-serial', 'h5py', 'h5wasm'] as const) {
    const t = peers[p];
    if (t && !('error' in t)) out[p] = t.ms / base.ms;
  }
  return out;
}

function log(s: string): void {
  process.stderr.write(`[compare] ${s}\n`);
}

export interface CompareOptions {
  size: number;
  elSize: number;
  runs: number;
  out: string;
  docs: string | null;
  serial: boolean;
  dir: string;
  keep: boolean;
  command: string;
  /** Run only the core cases or only the codec cases (default: both). */
  only?: 'core' | 'codecs';
}

export async function compare(o: CompareOptions): Promise<CompareReport> {
  const machine = machineInfo();
  const notes: string[] = [];
  // --dir names where the work files go; a directory that does not exist yet is created.
  mkdirSync(o.dir, { recursive: true });
  const work = mkdtempSync(join(o.dir, 'h5vault-compare-'));
  const rows = Math.max(1, Math.floor(o.size / (COLS * 4)));
  const shape = [rows, COLS];
  const bytes = rows * COLS * 4;
  const cases: CaseResult[] = [];
  let eventLoop: EventLoopResult | null = null;
  const versions: Record<string, string> = {};
  try {
    const v = h5py([{ op: 'versions' }])[0]!;
    if ('error' in v && v.error) throw new Error(`h5py peer: ${v.error}`);
    Object.assign(versions, {
      h5vault: (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version,
      'libhdf5 (h5vault)': machine.hdf5,
      h5py: String(v.h5py),
      'libhdf5 (h5py)': String(v.hdf5),
      numpy: String(v.numpy),
      hdf5plugin: String(v.hdf5plugin),
      'python3-zstandard': String(v.zstandard),
      python: String(v.python),
      h5wasm: h5wasmVersion(),
    });

    log(`generating ${formatBytes(bytes)} of float32 ~ N(0, 0.02), shape [${shape}]`);
    const data = gaussianFloat32(rows * COLS, SEED);
    const src = join(work, 'src.bin');
    writeFileSync(src, new Uint8Array(data.buffer));
    const srcSha = sha256(data);

    const chunksFor = (cb: number) => chunkShapeFor(shape, 4, cb);
    /** The filters of a codec case with chunks of `cb` bytes: what every peer's create/write job carries. */
    const filterSpec = (c: CodecSpec, cb: number): FilterSpec => ({
      compression: c.compression,
      level: c.level,
      shuffle: c.shuffle,
      compressor: c.compressor,
      bloscShuffle: c.bloscShuffle,
      chunks: chunksFor(cb),
    });
    const fileFor = (c: CodecSpec, cb: number) => join(work, `${c.codec.replace(/[^a-z0-9-]+/gi, '_')}-${cb}.h5`);
    const created = new Set<string>();
    const ensureFile = (c: CodecSpec, cb: number) => {
      const path = fileFor(c, cb);
      if (created.has(path)) return path;
      const r = h5py([{ op: 'create', path, src, shape, ...filterSpec(c, cb) }])[0]!;
      if (r.error) throw new Error(`h5py could not write ${c.codec}: ${r.error}`);
      created.add(path);
      return path;
    };

    const readCase = async (
      id: string,
      group: CaseResult['group'],
      c: CodecSpec,
      cb: number,
      target?: number,
      wasm = true,
    ): Promise<CaseResult> => {
      const path = ensureFile(c, cb);
      log(`read ${id}`);
      const peers: CaseResult['peers'] = {};
      // One job, run by the serial engine and by h5py alike.
      const job: Job = { op: 'read', path, dataset: 'data', runs: 1 };
      const got = await interleave(o.runs, {
        h5vault: () => timeRead(path, 'data', 1),
        'h5vault-serial': o.serial ? () => h5vaultSerial(work, [job])[0]! : undefined,
        h5py: () => h5py([job])[0]!,
        h5wasm: wasm ? () => timeReadH5wasm(path, 'data', 1) : undefined,
        'h5vault-into': group === 'main' ? () => timeRead(path, 'data', 1, undefined, true) : undefined,
        'h5py-direct': group === 'main' ? () => h5py([{ ...job, direct: true }])[0]! : undefined,
      });
      for (const [name, r] of Object.entries(got)) peers[name as Peer] = timing(r, bytes, srcSha);
      return {
        stored: { h5py: fileSize(path) },
        id,
        kind: 'read',
        group,
        codec: c.codec,
        chunkBytes: cb,
        bytes,
        target,
        peers,
        ratios: ratiosOf(peers),
        roundRatios: roundRatios(peers),
      };
    };

    const MiB = 1 << 20;
    const writeCase = async (
      id: string,
      group: CaseResult['group'],
      c: CodecSpec,
      target?: number,
    ): Promise<CaseResult> => {
      log(`write ${id}`);
      const spec = filterSpec(c, MiB);
      const tag = c.codec.replace(/[^a-z0-9-]+/gi, '_');
      const mine = join(work, `w-h5vault-${tag}.h5`);
      const theirs = join(work, `w-h5py-${tag}.h5`);
      const peers: CaseResult['peers'] = {};
      const got = await interleave(o.runs, {
        h5vault: () => timeWrite(mine, data, shape, spec, 1),
        'h5vault-serial': o.serial
          ? () =>
              h5vaultSerial(work, [
                { op: 'write', path: join(work, `w-serial-${tag}.h5`), src, shape, runs: 1, ...spec },
              ])[0]!
          : undefined,
        h5py: () => h5py([{ op: 'write', path: theirs, src, shape, runs: 1, ...spec }])[0]!,
      });
      for (const [name, r] of Object.entries(got)) peers[name as Peer] = timing(r, bytes);
      // The file h5vault wrote must read back bit-exactly in h5py, or its speed means nothing.
      const check = h5py([{ op: 'sha256', path: mine, dataset: 'data' }])[0]!;
      if (check.sha256 !== srcSha)
        peers.h5vault = { error: `h5py reads different data from h5vault's file (${check.error ?? check.sha256})` };
      return {
        id,
        kind: 'write',
        group,
        codec: c.codec,
        chunkBytes: MiB,
        bytes,
        target,
        peers,
        ratios: ratiosOf(peers),
        roundRatios: roundRatios(peers),
        stored: { h5vault: fileSize(mine), h5py: fileSize(theirs) },
      };
    };

    if (o.only !== 'codecs') await core();
    if (o.only !== 'core') {
      for (const k of CODEC_CASES)
        if (k.read !== undefined)
          cases.push(await readCase(`${k.spec.codec} read`, 'codecs', k.spec, MiB, k.read ?? undefined, false));
      for (const k of CODEC_CASES)
        if (k.write !== undefined)
          cases.push(await writeCase(`${k.spec.codec} write`, 'codecs', k.spec, k.write ?? undefined));
    }
    rmSync(src, { force: true });

    async function core(): Promise<void> {
      // Main cases: the targets table of docs/benchmarks.md.
      cases.push(await readCase('gzip-1+shuffle read', 'main', CODECS['gzip-1+shuffle']!, MiB, 3));
      cases.push(await readCase('gzip-4+shuffle read', 'main', CODECS['gzip-4+shuffle']!, MiB, 3));
      cases.push(await readCase('lz4+shuffle read', 'main', CODECS['lz4+shuffle']!, MiB, 2));
      cases.push(await readCase('lzf+shuffle read', 'main', CODECS['lzf+shuffle']!, MiB, 2));
      cases.push(await readCase('chunked uncompressed read', 'main', CODECS['none (chunked)']!, MiB, 1));

      for (const [id, c, target] of [
        ['gzip-1+shuffle write', CODECS['gzip-1+shuffle']!, 2],
        ['lz4+shuffle write', CODECS['lz4+shuffle']!, 1.5],
      ] as const) {
        cases.push(await writeCase(id, 'main', c, target));
      }

      // Thread scaling (h5vault only): the engine's per-call thread count.
      for (const c of [CODECS['gzip-4+shuffle']!, CODECS['lz4+shuffle']!]) {
        const path = ensureFile(c, MiB);
        for (const threads of [1, 2]) {
          log(`threads=${threads} read ${c.codec}`);
          const peers: CaseResult['peers'] = {
            h5vault: timing(await timeRead(path, 'data', o.runs, threads), bytes, srcSha),
          };
          cases.push({
            id: `${c.codec} read, ${threads} thread${threads > 1 ? 's' : ''}`,
            kind: 'read',
            group: 'threads',
            codec: c.codec,
            chunkBytes: MiB,
            threads,
            bytes,
            peers,
            ratios: {},
          });
        }
      }
      {
        const c = CODECS['gzip-1+shuffle']!;
        const spec: FilterSpec = {
          compression: c.compression,
          level: c.level,
          shuffle: c.shuffle,
          chunks: chunksFor(MiB),
        };
        for (const threads of [1, 2]) {
          log(`threads=${threads} write ${c.codec}`);
          const peers: CaseResult['peers'] = {
            h5vault: timing(
              await timeWrite(join(work, `w-threads-${threads}.h5`), data, shape, spec, o.runs, threads),
              bytes,
            ),
          };
          cases.push({
            id: `${c.codec} write, ${threads} thread${threads > 1 ? 's' : ''}`,
            kind: 'write',
            group: 'threads',
            codec: c.codec,
            chunkBytes: MiB,
            threads,
            bytes,
            peers,
            ratios: {},
          });
        }
      }

      // Chunk-size scaling, all libraries.
      for (const cb of [64 * 1024, MiB, 8 * MiB]) {
        const c = CODECS['gzip-1+shuffle']!;
        const actual = chunksFor(cb).reduce((a, b) => a * b, 4);
        if (actual < cb)
          notes.push(
            `chunk target ${formatBytes(cb)} is larger than the ${formatBytes(bytes)} dataset allows: chunks are ${formatBytes(actual)}`,
          );
        cases.push(await readCase(`gzip-1+shuffle read, ${formatBytes(cb)} chunks`, 'chunks', c, cb));
      }

      // Event-loop delay during one large async read (target: p99 < 20 ms).
      eventLoop = await eventLoopCase(work, o.elSize, Math.min(o.runs, 3));
    }
  } finally {
    if (!o.keep) rmSync(work, { recursive: true, force: true });
    else log(`kept ${work}`);
  }
  return {
    command: o.command,
    machine: { ...machine, loadavgEnd: loadavg().map((x) => Math.round(x * 100) / 100) },
    versions,
    size: bytes,
    shape,
    runs: o.runs,
    cases,
    eventLoop,
    notes,
  };
}

/** Writes a gzip-1+shuffle file of `size` bytes in slabs (bounded memory), then measures async reads. */
async function eventLoopCase(work: string, size: number, runs: number): Promise<EventLoopResult> {
  const rows = Math.max(1, Math.floor(size / (COLS * 4)));
  const bytes = rows * COLS * 4;
  const path = join(work, 'eventloop.h5');
  log(`event loop: writing ${formatBytes(bytes)} gzip-1+shuffle`);
  const chunks = chunkShapeFor([rows, COLS], 4, 1 << 20);
  const f = File.create(path);
  try {
    const ds = f.createDataset('data', {
      dtype: 'float32',
      shape: [rows, COLS],
      chunks,
      compression: compressionOf({ compression: 'gzip', level: 1, shuffle: true, chunks }),
      shuffle: true,
    });
    const slabRows = Math.max(1, Math.floor((64 << 20) / (COLS * 4)));
    for (let r0 = 0, i = 0; r0 < rows; r0 += slabRows, i++) {
      const n = Math.min(slabRows, rows - r0);
      await ds.write(gaussianFloat32(n * COLS, SEED + 1000 + i), { start: [r0, 0], count: [n, COLS] });
    }
  } finally {
    await f.closeAsync();
  }
  const out: EventLoopResult['runs'] = [];
  const g = File.open(path);
  try {
    const ds = g.dataset('data');
    await ds.read(); // warm the page cache and the chunk index
    for (let r = 0; r < runs; r++) {
      log(`event loop: async read ${r + 1}/${runs}`);
      const h = monitorEventLoopDelay({ resolution: 1 });
      h.enable();
      const t0 = performance.now();
      await ds.read();
      const readMs = performance.now() - t0;
      h.disable();
      out.push({ p50Ms: h.percentile(50) / 1e6, p99Ms: h.percentile(99) / 1e6, maxMs: h.max / 1e6, readMs });
    }
  } finally {
    g.close();
  }
  const readMs = median(out.map((x) => x.readMs));
  return {
    bytes,
    codec: 'gzip-1+shuffle',
    readMs,
    mbps: bytes / 1e6 / (readMs / 1000),
    p50Ms: median(out.map((x) => x.p50Ms)),
    p99Ms: median(out.map((x) => x.p99Ms)),
    maxMs: Math.max(...out.map((x) => x.maxMs)),
    runs: out,
    targetP99Ms: 20,
  };
}

function fileSize(path: string): number | undefined {
  return existsSync(path) ? statSync(path).size : undefined;
}

const fmtX = (x: number | undefined) => (x === undefined ? '–' : `${x.toFixed(2)}×`);

function verdict(ratio: number | undefined, target: number | undefined): string {
  if (ratio === undefined || target === undefined) return '–';
  if (ratio >= target) return `met (≥ ${target}×)`;
  return `**not met**: ${ratio.toFixed(2)}× of ${target}× (${((ratio / target) * 100).toFixed(0)}% of target)`;
}

/** Errors go to numbered footnotes so the tables stay readable. */
function rateFormatter(footnotes: string[]) {
  return (t: Timing | { error: string } | undefined, where: string) => {
    if (!t) return '–';
    if ('error' in t) {
      footnotes.push(`${where}: ${t.error}`);
      return `✗ [e${footnotes.length}]`;
    }
    return t.mbpsMin !== undefined && t.mbpsMax !== undefined && t.runs.length > 1
      ? `${t.mbps.toFixed(0)} (${t.mbpsMin.toFixed(0)}–${t.mbpsMax.toFixed(0)})`
      : t.mbps.toFixed(0);
  };
}

const fmtRounds = (c: CaseResult) =>
  c.roundRatios
    ? `${c.roundRatios.min.toFixed(2)}–${c.roundRatios.max.toFixed(2)}× (median ${c.roundRatios.median.toFixed(2)}×)`
    : '–';

/** Command, machine, versions and data: the lines every generated section starts with. */
function header(r: CompareReport): string[] {
  const m = r.machine;
  return [
    `Measured ${m.date.slice(0, 16).replace('T', ' ')} UTC with:`,
    '',
    '```',
    r.command,
    '```',
    '',
    `Machine: ${m.cpu}, ${m.cores} cores, ${formatBytes(m.memoryBytes)} RAM, ${m.platform}; load average ${m.loadavg.join(' / ')} (1/5/15 min) at the start, ` +
      `${m.loadavgEnd.join(' / ')} at the end (the machine is shared: a load above ${m.cores} means other work competed for the cores).`,
    '',
    `Versions: ${Object.entries(r.versions)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}; Node ${m.node}; h5vault engine pool ${m.engineThreads} threads.`,
    '',
  ];
}

/** The codec section of docs/benchmarks.md (zstd and Blosc against h5py through its plugins). */
export function renderCodecsMarkdown(r: CompareReport): string {
  const footnotes: string[] = [];
  const fmtRate = rateFormatter(footnotes);
  const L = header(r);
  L.push(
    `Data: ${formatBytes(r.size)} float32 ~ N(0, 0.02) (seeded), shape [${r.shape.join(', ')}], 1 MiB chunks. Median of ${r.runs} timed runs, each after an untimed warm-up, h5vault and h5py interleaved run by run. ` +
      "h5py reads and writes Blosc through Debian's hdf5-filter-plugin-blosc-serial and Bitshuffle (LZ4) through Debian's bitshuffle plugin; for zstd, which no Debian package provides as an HDF5 plugin, through `read_direct_chunk`/`write_direct_chunk` and python3-zstandard (one frame per chunk, as hdf5plugin's filter writes). " +
      "Read files are written by h5py; every read is checked against the source SHA-256 and h5vault's written files are read back by h5py. Ratio = logical bytes ÷ file size.",
    '',
  );
  const hasSerial = r.cases.some((c) => c.group === 'codecs' && c.peers['h5vault-serial']);
  L.push(
    `| case | h5vault MB/s |${hasSerial ? ' h5vault serial¹ MB/s |' : ''} h5py MB/s | vs h5py | vs h5py per round² | target vs h5py | ratio (h5vault's file) | ratio (h5py's file) |`,
  );
  L.push(`|---|---:|${hasSerial ? '---:|' : ''}---:|---:|---|---|---:|---:|`);
  const ratio = (c: CaseResult, p: Peer) => {
    const b = c.stored?.[p];
    return b ? (c.bytes / b).toFixed(3) : '–';
  };
  for (const c of r.cases.filter((x) => x.group === 'codecs')) {
    L.push(
      `| ${c.id} | ${fmtRate(c.peers.h5vault, `h5vault, ${c.id}`)} |${hasSerial ? ` ${fmtRate(c.peers['h5vault-serial'], `h5vault serial, ${c.id}`)} |` : ''} ${fmtRate(c.peers.h5py, `h5py, ${c.id}`)} | ${fmtX(c.ratios.h5py)} | ${fmtRounds(c)} | ${verdict(c.ratios.h5py, c.target)} | ${c.kind === 'write' ? ratio(c, 'h5vault') : '–'} | ${ratio(c, 'h5py')} |`,
    );
  }
  L.push(
    '',
    "MB/s: median (slowest–fastest run). ² h5py's time ÷ h5vault's in the same round, min–max over the rounds.",
  );
  if (hasSerial)
    L.push(
      '',
      "¹ h5vault with `H5VAULT_ENGINE=0`: libhdf5's serial filter pipeline through h5vault's in-process filters.",
    );
  if (footnotes.length)
    L.push('', 'Errors (no figure is reported for these):', '', ...footnotes.map((f, i) => `- [e${i + 1}] ${f}`));
  return L.join('\n');
}

/**
 * The main read cases into one reused array (issue 23 target 2): h5vault's
 * `read({ into })` against h5py's `read_direct`, the same rounds as the
 * fresh-array table above. Compressed reads target >= 3x.
 */
function reusedBufferTable(main: CaseResult[], fmtRate: ReturnType<typeof rateFormatter>): string[] {
  const reads = main.filter((c) => c.kind === 'read' && c.peers['h5vault-into']);
  if (reads.length === 0) return [];
  const L = ['', '#### Into a reused array (`read({ into })` vs h5py `read_direct`)', ''];
  L.push('| case | h5vault into MB/s | h5py read_direct MB/s | vs h5py | target vs h5py |', '|---|---:|---:|---:|---|');
  for (const c of reads) {
    const a = c.peers['h5vault-into'];
    const b = c.peers['h5py-direct'];
    const x = a && b && !('error' in a) && !('error' in b) ? b.ms / a.ms : undefined;
    // Issue 23 target 2 names lz4+shuffle and gzip; LZF and uncompressed are shown for reference.
    const target = /^(gzip|lz4)/.test(c.codec) ? 3 : undefined;
    L.push(
      `| ${c.id} | ${fmtRate(a, `h5vault into, ${c.id}`)} | ${fmtRate(b, `h5py read_direct, ${c.id}`)} | ${fmtX(x)} | ${verdict(x, target)} |`,
    );
  }
  L.push(
    '',
    'The uncompressed target (≥ 50% of `fs.readSync` of the same bytes into the same buffer) is measured by `npm run bench:read-into` (docs/benchmarks.md, round 3).',
  );
  return L;
}

/** The markdown written into docs/benchmarks.md. */
export function renderMarkdown(r: CompareReport): string {
  const footnotes: string[] = [];
  const fmtRate = rateFormatter(footnotes);
  const L = header(r);
  L.push(
    `Data: ${formatBytes(r.size)} float32 ~ N(0, 0.02) (seeded), shape [${r.shape.join(', ')}]. Each figure is the median of ${r.runs} timed runs, each after an untimed warm-up (warm page cache), the peers interleaved run by run in the main table; ` +
      'MB/s = 10^6 logical bytes per second. "×" columns are h5vault\'s speed divided by the peer\'s (above 1: h5vault is faster). ' +
      "Read files are written by h5py; every read by every library is checked against the source SHA-256, and h5vault's written files are read back by h5py.",
    '',
  );
  const main = r.cases.filter((c) => c.group === 'main');
  const hasSerial = r.cases.some((c) => c.group !== 'codecs' && c.peers['h5vault-serial']);
  L.push('#### vs h5py and h5wasm (1 MiB chunks)', '');
  L.push(
    `| case | h5vault MB/s |${hasSerial ? ' h5vault serial¹ MB/s |' : ''} h5py MB/s | h5wasm MB/s | vs h5py | vs h5py per round² | target vs h5py | vs h5wasm (target ≥ 5× on reads) |`,
  );
  L.push(`|---|---:|${hasSerial ? '---:|' : ''}---:|---:|---:|---|---|---|`);
  for (const c of main) {
    const wasm =
      c.kind === 'read'
        ? `${fmtX(c.ratios.h5wasm)} ${c.ratios.h5wasm === undefined ? '' : c.ratios.h5wasm >= 5 ? '(met)' : '(**not met**)'}`
        : 'n/a (writes not compared)';
    L.push(
      `| ${c.id} | ${fmtRate(c.peers.h5vault, `h5vault, ${c.id}`)} |${hasSerial ? ` ${fmtRate(c.peers['h5vault-serial'], `h5vault serial, ${c.id}`)} |` : ''} ${fmtRate(c.peers.h5py, `h5py, ${c.id}`)} | ${c.kind === 'read' ? fmtRate(c.peers.h5wasm, `h5wasm, ${c.id}`) : '–'} | ${fmtX(c.ratios.h5py)} | ${fmtRounds(c)} | ${verdict(c.ratios.h5py, c.target)} | ${wasm} |`,
    );
  }
  L.push(
    '',
    "MB/s: median (slowest–fastest run). ² The peers run interleaved, one run each per round; h5py's time ÷ h5vault's in the same round, min–max over the rounds.",
  );
  if (hasSerial) L.push('', "¹ h5vault with `H5VAULT_ENGINE=0`: libhdf5's own serial filter pipeline, for reference.");
  L.push(...reusedBufferTable(main, fmtRate));
  L.push('', '#### Thread scaling (h5vault engine, `read({ threads })` / `write(..., { threads })`)', '');
  L.push('| case | threads | MB/s | speed-up vs 1 thread |', '|---|---:|---:|---:|');
  const th = r.cases.filter((c) => c.group === 'threads');
  for (const c of th) {
    const one = th.find((x) => x.codec === c.codec && x.kind === c.kind && x.threads === 1);
    const a = c.peers.h5vault;
    const b = one?.peers.h5vault;
    const sp = a && b && !('error' in a) && !('error' in b) ? `${(b.ms / a.ms).toFixed(2)}×` : '–';
    L.push(`| ${c.codec} ${c.kind} | ${c.threads} | ${fmtRate(a, `h5vault, ${c.id}`)} | ${sp} |`);
  }
  L.push('', '#### Chunk size (gzip-1+shuffle read)', '');
  L.push('| chunks | h5vault MB/s | h5py MB/s | h5wasm MB/s | vs h5py | vs h5wasm |', '|---|---:|---:|---:|---:|---:|');
  for (const c of r.cases.filter((x) => x.group === 'chunks')) {
    L.push(
      `| ${formatBytes(c.chunkBytes)} | ${fmtRate(c.peers.h5vault, `h5vault, ${c.id}`)} | ${fmtRate(c.peers.h5py, `h5py, ${c.id}`)} | ${fmtRate(c.peers.h5wasm, `h5wasm, ${c.id}`)} | ${fmtX(c.ratios.h5py)} | ${fmtX(c.ratios.h5wasm)} |`,
    );
  }
  if (r.eventLoop) {
    const e = r.eventLoop;
    L.push('', '#### Event-loop delay during one async read', '');
    L.push(
      '| read | size | read time | MB/s | delay p50 | delay p99 | delay max | target p99 < 20 ms |',
      '|---|---:|---:|---:|---:|---:|---:|---|',
    );
    L.push(
      `| ${e.codec}, \`await dataset.read()\` | ${formatBytes(e.bytes)} | ${e.readMs.toFixed(0)} ms | ${e.mbps.toFixed(0)} | ${e.p50Ms.toFixed(2)} ms | ${e.p99Ms.toFixed(2)} ms | ${e.maxMs.toFixed(2)} ms | ${e.p99Ms < e.targetP99Ms ? 'met' : `**not met** (${(e.p99Ms / e.targetP99Ms).toFixed(1)}× the limit)`} |`,
    );
    L.push(
      '',
      `(\`perf_hooks.monitorEventLoopDelay\`, 1 ms resolution; median of ${e.runs.length} reads, max over all.)`,
    );
  }
  if (footnotes.length)
    L.push('', 'Errors (no figure is reported for these):', '', ...footnotes.map((f, i) => `- [e${i + 1}] ${f}`));
  if (r.notes.length) L.push('', ...r.notes.map((n) => `Note: ${n}`));
  return L.join('\n');
}

const SECTIONS = {
  core: ['<!-- compare:begin (written by bench/compare.ts; do not edit by hand) -->', '<!-- compare:end -->'],
  codecs: [
    '<!-- compare-codecs:begin (written by bench/compare.ts; do not edit by hand) -->',
    '<!-- compare-codecs:end -->',
  ],
} as const;

/** Replaces one generated section of the docs file (creating its markers at the end if absent). */
export function updateDocs(path: string, markdown: string, section: keyof typeof SECTIONS = 'core'): void {
  const [BEGIN, END] = SECTIONS[section];
  const text = existsSync(path) ? readFileSync(path, 'utf8') : '# Benchmarks\n';
  const block = `${BEGIN}\n${markdown}\n${END}`;
  const i = text.indexOf(BEGIN);
  const j = text.indexOf(END);
  const next =
    i >= 0 && j > i ? text.slice(0, i) + block + text.slice(j + END.length) : `${text.trimEnd()}\n\n${block}\n`;
  writeFileSync(path, next);
}

export async function main(argv: string[]): Promise<void> {
  const { values } = parse(
    argv,
    {
      size: { type: 'string' },
      runs: { type: 'string' },
      'el-size': { type: 'string' },
      out: { type: 'string' },
      docs: { type: 'string' },
      'no-docs': { type: 'boolean' },
      'no-serial': { type: 'boolean' },
      dir: { type: 'string' },
      keep: { type: 'boolean' },
      // Re-render the tables from a saved compare.json (no measuring; the report keeps its original command).
      from: { type: 'string' },
      only: { type: 'string' },
    },
    { min: 0, max: 0, names: 'options only' },
  );
  const size = parseSize(str(values.size) ?? '256MiB', '--size');
  const only = str(values.only);
  if (only !== undefined && only !== 'core' && only !== 'codecs')
    throw new UsageError(`--only must be 'core' or 'codecs' (got '${only}')`);
  const o: CompareOptions = {
    size,
    elSize: parseSize(str(values['el-size']) ?? String(size * 4), '--el-size'),
    runs: parseInteger(str(values.runs) ?? '5', '--runs', 1, 100),
    out: resolve(str(values.out) ?? join(ROOT, 'bench/results')),
    docs: values['no-docs'] ? null : resolve(str(values.docs) ?? join(ROOT, 'docs/benchmarks.md')),
    serial: !values['no-serial'],
    dir: resolve(str(values.dir) ?? tmpdir()),
    keep: !!values.keep,
    command: `npm run bench:compare${argv.length ? ` -- ${argv.join(' ')}` : ''}`,
    only,
  };
  const from = str(values.from);
  const report = from ? (JSON.parse(readFileSync(from, 'utf8')) as CompareReport) : await compare(o);
  mkdirSync(o.out, { recursive: true });
  const jsonPath = join(o.out, o.only === 'codecs' ? 'compare-codecs.json' : 'compare.json');
  if (!from) writeFileSync(jsonPath, `${JSON.stringify(report, null, 2)}\n`);
  // Each part of the report rewrites its own section, so `--only codecs` leaves the core tables alone.
  const parts: ['core' | 'codecs', string][] = [];
  if (report.cases.some((c) => c.group !== 'codecs')) parts.push(['core', renderMarkdown(report)]);
  if (report.cases.some((c) => c.group === 'codecs')) parts.push(['codecs', renderCodecsMarkdown(report)]);
  for (const [section, md] of parts) {
    process.stdout.write(`${md}\n\n`);
    if (o.docs) {
      updateDocs(o.docs, md, section);
      log(`updated ${section} section of ${relative(process.cwd(), o.docs) || o.docs}`);
    }
  }
  if (!from) log(`wrote ${relative(process.cwd(), jsonPath) || jsonPath}`);
}
