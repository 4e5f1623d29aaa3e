/**
 * benchmarkCodecs: measures every codec configuration on the caller's own
 * tensors — stored size and ratio, write and read throughput, time to first
 * tensor, each the median of several runs — and picks the Pareto front and
 * three recommendations. Used by `h5vault bench` and `h5vault demo`, and
 * exported for programs that want the numbers directly.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { File } from '../h5/file.js';
import { itemSize, type NumericDType, type TypedArray } from '../h5/dtypes.js';
import { H5Error } from '../errors.js';
import type { BloscCompressor, Compression, CompressionName, CreateDatasetOptions } from '../h5/group.js';
import { libraryInfo } from '../h5/runtime.js';
import { formatMs, mbPerSec, median } from '../cli/output.js';
import type { BenchTensor } from './synthetic.js';
import { checkObject, integerOption, numberOption } from '../util/validate.js';

export interface CodecConfig {
  /** 'none', 'gzip-4+shuffle', 'lz4+shuffle', 'szip', 'blosc-lz4+bitshuffle', ... */
  name: string;
  compression: CompressionName;
  /** gzip level (1-9), zstd level (1-22, also bitshuffle+zstd) or blosc clevel (0-9); undefined for other codecs. */
  level?: number;
  /** A shuffle is applied: the HDF5 shuffle filter, or for a codec that shuffles inside (blosc) its byte or bit shuffle. */
  shuffle: boolean;
  /** The codec's own bit shuffle (blosc '+bitshuffle'). */
  bitshuffle?: boolean;
  /** The codec's inner compressor ('blosc-zstd': 'zstd'; 'bitshuffle+zstd': 'zstd'). */
  inner?: string;
}

type ShuffleSuffix = 'shuffle' | 'bitshuffle';

/**
 * The codec families a configuration name can start with. A codec joins the
 * benchmark with one entry here (and its default configurations in
 * DEFAULT_CODECS): its level range, inner compressors, which '+...' suffixes
 * it takes and the createDataset compression option it stands for.
 */
interface Family {
  /** Level range and default; absent: the name takes no level. */
  level?: { min: number; max: number; def: number };
  /** Inner compressors, named after the family ('blosc-lz4'); the name must give one. */
  inner?: readonly string[];
  /** '+shuffle' / '+bitshuffle' suffixes the family takes. */
  suffixes: readonly ShuffleSuffix[];
  /** The suffix is the codec's own shuffle (inside the filter), not the HDF5 shuffle filter in front of it. */
  ownShuffle?: boolean;
  options(c: CodecConfig): Exclude<Compression, string> | CompressionName;
}

const FAMILIES: Record<string, Family> = {
  none: { suffixes: [], options: () => 'none' },
  gzip: {
    level: { min: 1, max: 9, def: 4 },
    suffixes: ['shuffle'],
    options: (c) => ({ name: 'gzip', level: c.level ?? 4 }),
  },
  lzf: { suffixes: ['shuffle'], options: () => 'lzf' },
  lz4: { suffixes: ['shuffle'], options: () => 'lz4' },
  zstd: {
    level: { min: 1, max: 22, def: 3 },
    suffixes: ['shuffle'],
    options: (c) => ({ name: 'zstd', level: c.level ?? 3 }),
  },
  blosc: {
    level: { min: 0, max: 9, def: 5 },
    inner: ['lz4', 'zstd', 'blosclz', 'lz4hc', 'zlib'],
    suffixes: ['shuffle', 'bitshuffle'],
    ownShuffle: true,
    options: (c) => ({
      name: 'blosc',
      compressor: c.inner as BloscCompressor,
      level: c.level ?? 5,
      shuffle: c.bitshuffle ? 'bit' : c.shuffle ? 'byte' : 'none',
    }),
  },
  // HDF5 filter 32008: its own bit transpose, then LZ4 or zstd. Named
  // 'bitshuffle+lz4' / 'bitshuffle+zstd[-level]' after hdf5plugin's usage (parsed
  // by parseBitshuffle), so it takes no '+shuffle' suffix.
  bitshuffle: {
    level: { min: 1, max: 22, def: 3 },
    suffixes: [],
    ownShuffle: true,
    options: (c) =>
      c.inner === 'zstd'
        ? { name: 'bitshuffle', compressor: 'zstd', level: c.level ?? 3 }
        : { name: 'bitshuffle', compressor: 'lz4' },
  },
  szip: { suffixes: ['shuffle'], options: () => 'szip' },
};

/** Every configuration `h5vault bench` measures by default, in table order. */
export const DEFAULT_CODECS: readonly string[] = [
  'none',
  'gzip-1',
  'gzip-1+shuffle',
  'gzip-4',
  'gzip-4+shuffle',
  'gzip-9',
  'gzip-9+shuffle',
  'lzf',
  'lzf+shuffle',
  'lz4',
  'lz4+shuffle',
  'zstd-1',
  'zstd-3',
  'zstd-3+shuffle',
  'zstd-9+shuffle',
  'blosc-lz4+shuffle',
  'blosc-lz4+bitshuffle',
  'blosc-zstd+shuffle',
  'blosc-zstd+bitshuffle',
  'bitshuffle+lz4',
  'bitshuffle+zstd-3',
  'szip',
];

/**
 * Parses configuration names. A name is `codec[-inner][-level][+shuffle|+bitshuffle]`
 * ('gzip-1+shuffle', 'lz4', 'none', 'blosc-zstd-5+bitshuffle'; bare 'gzip' is
 * gzip-4, bare 'zstd' zstd-3, 'blosc-lz4' level 5 without shuffle), or
 * `bitshuffle+lz4` / `bitshuffle+zstd[-level]` (HDF5 filter 32008), `family*`
 * ('gzip*', 'blosc*') means every default configuration of that family and
 * `all` means DEFAULT_CODECS.
 */
export function parseCodecs(names: readonly string[]): CodecConfig[] {
  const out: CodecConfig[] = [];
  const push = (c: CodecConfig) => {
    if (!out.some((o) => o.name === c.name)) out.push(c);
  };
  for (const raw of names) {
    const name = raw.trim().toLowerCase();
    if (name === '') continue;
    if (name === 'all' || name.endsWith('*')) {
      const fam = name === 'all' ? '' : name.slice(0, -1);
      const family = DEFAULT_CODECS.filter((d) => fam === '' || d.split(/[-+]/)[0] === fam);
      if (family.length === 0)
        throw new RangeError(
          `unknown codec family '${name}' (${Object.keys(FAMILIES)
            .map((f) => `${f}*`)
            .join(', ')}, all)`,
        );
      family.forEach((f) => {
        push(parseOne(f));
      });
      continue;
    }
    push(parseOne(name));
  }
  if (out.length === 0) throw new RangeError('no codec configurations given');
  return out;
}

/** 'bitshuffle', 'bitshuffle+lz4', 'bitshuffle+zstd[-level]'; undefined for other names. */
function parseBitshuffle(name: string): CodecConfig | undefined {
  const b = /^bitshuffle(?:\+(lz4|zstd)(?:-(\d{1,2}))?)?$/.exec(name);
  if (!b) return undefined;
  const inner = (b[1] ?? 'lz4') as 'lz4' | 'zstd';
  if (inner === 'lz4' && b[2] !== undefined) throw new RangeError(`bitshuffle+lz4 takes no level (in '${name}')`);
  const level = inner === 'zstd' ? (b[2] === undefined ? 3 : Number(b[2])) : undefined;
  if (level !== undefined && (level < 1 || level > 22))
    throw new RangeError(`zstd level must be from 1 to 22 (in '${name}')`);
  const canonical = `bitshuffle+${inner}${level !== undefined ? `-${level}` : ''}`;
  return { name: canonical, compression: 'bitshuffle', level, shuffle: false, inner };
}

function parseOne(name: string): CodecConfig {
  const bitshuffle = parseBitshuffle(name);
  if (bitshuffle) return bitshuffle;
  const m = /^([a-z0-9]+)(?:-([a-z][a-z0-9]*))?(?:-(\d{1,2}))?(?:\+(shuffle|bitshuffle))?$/.exec(name);
  const bad = () =>
    new RangeError(
      `unknown codec configuration '${name}' (use codec[-inner][-level][+shuffle|+bitshuffle] or bitshuffle+lz4|zstd[-level], e.g. none, gzip-4+shuffle, lz4, zstd-3, blosc-lz4+bitshuffle, bitshuffle+zstd-3, szip)`,
    );
  const fam = m ? FAMILIES[m[1]!] : undefined;
  if (!m || !fam || !Object.hasOwn(FAMILIES, m[1]!)) throw bad();
  const compression = m[1] as CompressionName;
  const inner = m[2];
  const suffix = m[4] as ShuffleSuffix | undefined;
  if (fam.inner) {
    if (inner === undefined || !fam.inner.includes(inner))
      throw new RangeError(
        `'${name}': ${compression} needs an inner compressor: ${fam.inner.join(', ')} (e.g. ${compression}-${fam.inner[0]})`,
      );
  } else if (inner !== undefined) {
    throw bad();
  }
  let level: number | undefined;
  if (fam.level) {
    level = m[3] === undefined ? fam.level.def : Number(m[3]);
    if (level < fam.level.min || level > fam.level.max)
      throw new RangeError(`${compression} level must be from ${fam.level.min} to ${fam.level.max} (in '${name}')`);
  } else if (m[3] !== undefined) {
    throw bad();
  }
  if (compression === 'none' && suffix)
    throw new RangeError("'none+shuffle' is not a configuration: shuffle only helps a compressor");
  if (suffix && !fam.suffixes.includes(suffix)) throw bad();
  // Blosc's default level is left out of the name, as gzip's and zstd's are kept in: 'blosc-lz4+shuffle'.
  const shownLevel = level !== undefined && !(fam.inner && level === fam.level?.def) ? `-${level}` : '';
  const canonical = `${compression}${inner ? `-${inner}` : ''}${shownLevel}${suffix ? `+${suffix}` : ''}`;
  return {
    name: canonical,
    compression,
    level,
    shuffle: suffix !== undefined,
    ...(suffix === 'bitshuffle' ? { bitshuffle: true } : {}),
    ...(inner ? { inner } : {}),
  };
}

/**
 * A chunk shape of about `targetBytes`: trailing dimensions are kept whole
 * while they fit (rows stay contiguous), the first dimension that does not
 * fit is split. Never larger than the shape (libhdf5 rejects that), never 0.
 */
export function chunkShapeFor(shape: readonly number[], bytesPerItem: number, targetBytes: number): number[] {
  const chunk = shape.map((n) => Math.max(1, n));
  let inner = bytesPerItem;
  for (let i = shape.length - 1; i >= 0; i--) {
    const full = inner * Math.max(1, shape[i]!);
    if (full > targetBytes) {
      chunk[i] = Math.max(1, Math.min(Math.max(1, shape[i]!), Math.floor(targetBytes / inner)));
      for (let j = 0; j < i; j++) chunk[j] = 1;
      return chunk;
    }
    inner = full;
  }
  return chunk;
}

/** Dataset creation options for a tensor under a configuration. */
export function datasetOptions(
  t: { dtype: NumericDType; shape: number[] },
  c: CodecConfig,
  chunkBytes: number,
): CreateDatasetOptions {
  const o: CreateDatasetOptions = { dtype: t.dtype, shape: t.shape };
  // Scalars and empty tensors cannot be chunked usefully: stored as is.
  if (c.compression === 'none' || t.shape.length === 0 || t.shape.some((n) => n === 0)) return o;
  const chunks = chunkShapeFor(t.shape, itemSize(t.dtype), chunkBytes);
  const fit = codecFit(t, c, chunkBytes);
  // A codec that cannot apply to this tensor (szip on a one-element chunk)
  // leaves it stored as is; the report counts such tensors.
  if (fit.fit === 'skipped') return o;
  const fam = FAMILIES[c.compression]!;
  const opts = fam.options(c);
  o.compression = c.compression === 'szip' ? { name: 'szip', pixelsPerBlock: fit.pixelsPerBlock } : opts;
  // A codec that shuffles inside (blosc) gets no HDF5 shuffle filter in front.
  o.shuffle = c.shuffle && !fam.ownShuffle;
  o.chunks = chunks;
  return o;
}

/** szip's block size, in elements, unless a chunk holds fewer (libhdf5 refuses that). */
const SZIP_PIXELS_PER_BLOCK = 32;

/**
 * Whether a configuration applies to a tensor as named: szip needs an even
 * pixelsPerBlock of 2 to 32 that fits in a chunk, so the small tensors of
 * real models (Keras biases of 5 elements, 1-element counters) get a smaller
 * block ('adapted') or, with a one-element chunk, no szip at all ('skipped').
 */
export function codecFit(
  t: { dtype: NumericDType; shape: number[] },
  c: CodecConfig,
  chunkBytes: number,
): { fit: 'ok' | 'adapted' | 'skipped'; pixelsPerBlock?: number } {
  if (c.compression !== 'szip' || t.shape.length === 0 || t.shape.some((n) => n === 0)) return { fit: 'ok' };
  const perChunk = chunkShapeFor(t.shape, itemSize(t.dtype), chunkBytes).reduce((a, b) => a * b, 1);
  if (perChunk >= SZIP_PIXELS_PER_BLOCK) return { fit: 'ok', pixelsPerBlock: SZIP_PIXELS_PER_BLOCK };
  if (perChunk < 2) return { fit: 'skipped' };
  return { fit: 'adapted', pixelsPerBlock: perChunk - (perChunk % 2) };
}

export interface BenchmarkOptions {
  /** Configuration names or objects (default: DEFAULT_CODECS). */
  codecs?: readonly (string | CodecConfig)[];
  /** Target chunk size in bytes for compressed configurations (default 1 MiB). */
  chunkBytes?: number;
  /** Timed runs per configuration; medians are reported (default 3). */
  runs?: number;
  /** Directory for the temporary files (default: the OS temp directory). */
  dir?: string;
  /** Engine threads per read/write (default: the pool size). */
  threads?: number;
  /**
   * Time budget in ms: no new round of runs starts once it is spent (every
   * configuration always gets at least one run). Runs are interleaved, one
   * round = every configuration once, so a load spike hits all alike.
   */
  budgetMs?: number;
  /** Called after each run of each configuration. */
  onProgress?: (done: number, total: number, config: string) => void;
  /** Stops between runs; the promise rejects with H5Error H5_ABORTED. */
  signal?: AbortSignal;
}

export interface CodecResult {
  config: string;
  compression: CompressionName;
  level: number | null;
  shuffle: boolean;
  /** Sum of the tensors' logical sizes. */
  logicalBytes: number;
  /** Size of the whole file on disk (data, chunk indexes, metadata). */
  storedBytes: number;
  /** logicalBytes / storedBytes. */
  ratio: number;
  /** Median write throughput, logical MB (10^6 B) per second: create, write every tensor, close. */
  writeMBps: number;
  /** Median read throughput: open, read every tensor (async, off the event loop), close. Warm page cache. */
  readMBps: number;
  /** Median time from open to the first tensor in memory (a zero-copy view when the layout allows it). */
  firstTensorMs: number;
  /** Median time from open to every tensor usable: zero-copy views where possible (uncompressed, contiguous), reads otherwise. */
  loadAllMs: number;
  /** Logical MB per second until every tensor is usable (views where possible): logicalBytes / loadAllMs. */
  usableMBps: number;
  /** min / median / max over the runs, ms. */
  writeSpread: Spread;
  readSpread: Spread;
  loadSpread: Spread;
  writeMs: number[];
  readMs: number[];
  firstMs: number[];
  loadMs: number[];
  /** On the Pareto front of ratio vs time to usable (usableMBps): no other configuration is at least as good on both and better on one. */
  pareto: boolean;
  /** Tensors the codec cannot apply to (szip on a one-element chunk), stored uncompressed under this configuration. */
  skipped?: number;
  /** Tensors stored with a smaller szip pixelsPerBlock than 32, their chunks holding fewer elements. */
  adapted?: number;
}

export interface Spread {
  min: number;
  median: number;
  max: number;
}

export function spread(xs: readonly number[]): Spread {
  return { min: Math.min(...xs), median: median([...xs]), max: Math.max(...xs) };
}

export interface Recommendation {
  config: string;
  why: string;
}

export interface MachineInfo {
  cpu: string;
  cores: number;
  memoryBytes: number;
  /** 1, 5 and 15 minute load averages when the measurement started. */
  loadavg: number[];
  node: string;
  hdf5: string;
  engineThreads: number;
  platform: string;
  date: string;
}

export interface BenchmarkReport {
  tensors: number;
  logicalBytes: number;
  chunkBytes: number;
  /** Runs asked for. */
  runs: number;
  /** Rounds actually run (fewer than `runs` when the time budget ran out). */
  runsDone: number;
  results: CodecResult[];
  recommendations: { smallest: Recommendation; fastestLoad: Recommendation; balanced: Recommendation };
  machine: MachineInfo;
}

export function machineInfo(): MachineInfo {
  const lib = libraryInfo();
  const c = cpus();
  return {
    cpu: c[0]?.model.trim() ?? 'unknown',
    cores: c.length,
    memoryBytes: totalmem(),
    loadavg: loadavg().map((x) => Math.round(x * 100) / 100),
    node: process.version,
    hdf5: lib.hdf5,
    engineThreads: lib.threads,
    platform: `${process.platform}-${process.arch}`,
    date: new Date().toISOString(),
  };
}

type TensorInput = readonly BenchTensor[] | Record<string, { dtype: NumericDType; shape: number[]; data: TypedArray }>;

function normalize(input: TensorInput): BenchTensor[] {
  const list = Array.isArray(input)
    ? (input as BenchTensor[])
    : Object.entries(input as Record<string, Omit<BenchTensor, 'name'>>).map(([name, t]) => ({ name, ...t }));
  if (list.length === 0) throw new RangeError('benchmarkCodecs needs at least one tensor');
  for (const t of list) {
    if (!t || typeof t.name !== 'string' || t.name === '') throw new TypeError('every tensor needs a non-empty name');
    if (!ArrayBuffer.isView(t.data)) throw new TypeError(`tensor '${t.name}': data must be a typed array`);
    const n = t.shape.reduce((a, b) => a * b, 1);
    if (t.data.length !== n)
      throw new RangeError(`tensor '${t.name}': data has ${t.data.length} elements, shape [${t.shape}] holds ${n}`);
  }
  return list;
}

function sameBytes(a: ArrayBufferView, b: ArrayBufferView): boolean {
  return (
    Buffer.compare(
      new Uint8Array(a.buffer, a.byteOffset, a.byteLength),
      new Uint8Array(b.buffer, b.byteOffset, b.byteLength),
    ) === 0
  );
}

/**
 * Runs the benchmark. Each run writes a fresh file per configuration into a
 * temporary directory (removed at the end), reads it back, and checks the
 * first run's data bit for bit against the input.
 */
export async function benchmarkCodecs(tensors: TensorInput, options: BenchmarkOptions = {}): Promise<BenchmarkReport> {
  const list = normalize(tensors);
  const configs = (options.codecs ?? DEFAULT_CODECS).map((c) => (typeof c === 'string' ? parseCodecs([c])[0]! : c));
  checkObject(options);
  const chunkBytes = integerOption(options, 'chunkBytes', 1, undefined, 1 << 20);
  const runs = integerOption(options, 'runs', 1, 1000, 3);
  // Infinity: no time budget.
  const budgetMs = numberOption(options, 'budgetMs', { above: 0, infinite: true });
  const threads = options.threads;
  const machine = machineInfo();
  const logicalBytes = list.reduce((a, t) => a + t.data.byteLength, 0);
  const work = mkdtempSync(join(options.dir ?? tmpdir(), 'h5vault-bench-'));
  const total = configs.length * runs;
  let done = 0;
  interface State {
    c: CodecConfig;
    stem: string;
    writeMs: number[];
    readMs: number[];
    firstMs: number[];
    loadMs: number[];
    storedBytes: number;
  }
  const states: State[] = configs.map((c) => ({
    c,
    stem: join(work, c.name.replace(/\+/g, '_')),
    writeMs: [],
    readMs: [],
    firstMs: [],
    loadMs: [],
    storedBytes: 0,
  }));
  const started = performance.now();
  let runsDone = 0;
  try {
    for (let r = 0; r < runs; r++) {
      if (r > 0 && budgetMs !== undefined && performance.now() - started >= budgetMs) break;
      for (const st of states) {
        await oneRun(st, r);
        done++;
        options.onProgress?.(done, total, st.c.name);
      }
      runsDone++;
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  const results: CodecResult[] = states.map((st) => ({
    config: st.c.name,
    compression: st.c.compression,
    level: st.c.level ?? null,
    shuffle: st.c.shuffle,
    logicalBytes,
    storedBytes: st.storedBytes,
    ratio: logicalBytes / st.storedBytes,
    writeMBps: mbPerSec(logicalBytes, median(st.writeMs)),
    readMBps: mbPerSec(logicalBytes, median(st.readMs)),
    firstTensorMs: median(st.firstMs),
    loadAllMs: median(st.loadMs),
    usableMBps: mbPerSec(logicalBytes, median(st.loadMs)),
    writeSpread: spread(st.writeMs),
    readSpread: spread(st.readMs),
    loadSpread: spread(st.loadMs),
    writeMs: st.writeMs,
    readMs: st.readMs,
    firstMs: st.firstMs,
    loadMs: st.loadMs,
    pareto: false,
    ...fitCounts(st.c),
  }));

  function fitCounts(c: CodecConfig): { skipped?: number; adapted?: number } {
    const fits = list.map((t) => codecFit(t, c, chunkBytes).fit);
    const skipped = fits.filter((f) => f === 'skipped').length;
    const adapted = fits.filter((f) => f === 'adapted').length;
    return { ...(skipped ? { skipped } : {}), ...(adapted ? { adapted } : {}) };
  }

  async function oneRun(st: State, r: number): Promise<void> {
    const { c, stem } = st;
    if (options.signal?.aborted) throw new H5Error('benchmark aborted', { code: 'H5_ABORTED' });
    // A fresh name per run: a zero-copy view from the previous run may
    // still map (and lock) the old file until it is garbage-collected.
    const file = `${stem}.${r}.h5`;
    if (r > 0) rmSync(`${stem}.${r - 1}.h5`, { force: true });
    let t0 = performance.now();
    const w = File.create(file);
    try {
      for (const t of list) {
        const ds = w.createDataset(t.name, datasetOptions(t, c, chunkBytes));
        if (t.data.length > 0) await ds.write(t.data, { threads });
      }
    } finally {
      await w.closeAsync();
    }
    st.writeMs.push(performance.now() - t0);
    st.storedBytes = statSync(file).size;

    t0 = performance.now();
    const f = File.open(file);
    const got: TypedArray[] = [];
    try {
      for (const t of list) got.push((await f.dataset(t.name).read({ threads })) as TypedArray);
    } finally {
      f.close();
    }
    st.readMs.push(performance.now() - t0);
    // Checked once, outside the timing: a benchmark of a codec that corrupts data is worthless.
    if (r === 0) {
      list.forEach((t, i) => {
        if (!sameBytes(got[i]!, t.data)) {
          throw new H5Error(`${c.name}: tensor '${t.name}' did not read back bit-exactly`, { code: 'H5_CORRUPT' });
        }
      });
    }
    got.length = 0;

    // Load as a server would: zero-copy views where the layout allows, reads elsewhere.
    t0 = performance.now();
    const g = File.open(file);
    try {
      const held: unknown[] = [];
      for (let i = 0; i < list.length; i++) {
        const ds = g.dataset(list[i]!.name);
        held.push(ds.viewable === true ? ds.view() : await ds.read({ threads }));
        if (i === 0) st.firstMs.push(performance.now() - t0);
      }
      st.loadMs.push(performance.now() - t0);
    } finally {
      g.close();
    }
  }
  markPareto(results, 'usableMBps');
  return {
    tensors: list.length,
    logicalBytes,
    chunkBytes,
    runs,
    runsDone,
    results,
    recommendations: recommend(results),
    machine,
  };
}

/**
 * Marks configurations no other beats on both ratio and speed: `speed` is
 * read throughput by default; the benchmark uses usableMBps (time until every
 * tensor is usable), where a zero-copy map counts as what it is.
 */
export function markPareto<T extends { ratio: number; readMBps: number; usableMBps?: number; pareto: boolean }>(
  rs: T[],
  speed: 'readMBps' | 'usableMBps' = 'readMBps',
): T[] {
  const v = (r: T) => (speed === 'usableMBps' ? (r.usableMBps ?? r.readMBps) : r.readMBps);
  for (const p of rs) {
    p.pareto = !rs.some((q) => q !== p && q.ratio >= p.ratio && v(q) >= v(p) && (q.ratio > p.ratio || v(q) > v(p)));
  }
  return rs;
}

/**
 * smallest: highest ratio (ties: faster load). fastestLoad: shortest time to
 * have every tensor usable (zero-copy views count: that is the point of an
 * uncompressed layout). balanced: among configurations that keep at least
 * half of the best space saving, the one that writes once and loads once
 * fastest (median write + time until every tensor is usable) — so a codec
 * saving 14% at twice the speed of one saving 15% is preferred, and one that
 * writes at 10-20 MB/s (gzip-9) is not picked for a few percent of space.
 */
export function recommend(rs: CodecResult[]): BenchmarkReport['recommendations'] {
  if (rs.length === 0) throw new RangeError('no results to recommend from');
  // A ratio under 1 is not a saving: say what it costs instead of "saves -68.4%".
  const pct = (r: number) =>
    r >= 1 ? `saves ${((1 - 1 / r) * 100).toFixed(1)}%` : `${((1 / r - 1) * 100).toFixed(1)}% larger than the data`;
  const load = (r: CodecResult) => (r.compression === 'none' ? 'maps' : 'loads');
  const byLoad = (a: CodecResult, b: CodecResult) => a.loadAllMs - b.loadAllMs || b.ratio - a.ratio;
  const smallest = [...rs].sort((a, b) => b.ratio - a.ratio || a.loadAllMs - b.loadAllMs)[0]!;
  const fastest = [...rs].sort(byLoad)[0]!;
  const bestSaving = 1 - 1 / smallest.ratio;
  let balanced = fastest;
  let why: string;
  if (bestSaving > 0) {
    const writeMs = (r: CodecResult) => r.writeSpread?.median ?? median([...r.writeMs]);
    const cycle = (r: CodecResult) => writeMs(r) + r.loadAllMs;
    balanced = rs
      .filter((r) => 1 - 1 / r.ratio >= bestSaving / 2)
      .sort((a, b) => cycle(a) - cycle(b) || b.ratio - a.ratio)[0]!;
    why = `${pct(balanced.ratio)} (best: ${pct(smallest.ratio).replace('saves ', '')}), writes in ${formatMs(writeMs(balanced))} and ${load(balanced)} every tensor in ${formatMs(balanced.loadAllMs)}: the quickest write + load of the configurations keeping at least half the best saving`;
  } else {
    why = 'no configuration makes these tensors smaller, so the fastest one is also the balanced choice';
  }
  return {
    smallest: {
      config: smallest.config,
      why:
        bestSaving > 0
          ? `highest ratio ${smallest.ratio.toFixed(3)}x (${pct(smallest.ratio)})`
          : `nothing compresses these tensors: the highest ratio is ${smallest.ratio.toFixed(3)}x (${pct(smallest.ratio)}), so store them uncompressed`,
    },
    fastestLoad: {
      config: fastest.config,
      why: `${load(fastest)} every tensor in ${formatMs(fastest.loadAllMs)}${fastest.compression === 'none' ? ' (zero-copy views, nothing is read up front)' : ''}`,
    },
    balanced: { config: balanced.config, why },
  };
}
