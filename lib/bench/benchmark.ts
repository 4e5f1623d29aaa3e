/**
 * benchmarkCodecs: measures every codec configuration on the caller's own
 * tensors — stored size and ratio, write and read throughput, time to first
 * tensor, each the median of several runs — and picks the Pareto front and
 * three recommendations. Used by `h5vault bench` and `h5vault demo`, and
 * exported for programs that want the numbers directly.
 *
 * This file is benchmarkCodecs itself; benchmark-codecs.ts names the codec
 * configurations, benchmark-report.ts computes the spread, Pareto front and
 * recommendations, benchmark-types.ts holds the public types.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { File } from '../h5/file.js';
import type { NumericDType, TypedArray } from '../h5/dtypes.js';
import { H5Error } from '../errors.js';
import { mbPerSec, median } from '../cli/output.js';
import type { BenchTensor } from './synthetic.js';
import { checkObject, integerOption, numberOption } from '../util/validate.js';
import { codecFit, type CodecConfig, datasetOptions, DEFAULT_CODECS, parseCodecs } from './benchmark-codecs.js';
import type { BenchmarkOptions, BenchmarkReport, CodecResult } from './benchmark-types.js';
import { machineInfo, markPareto, recommend, spread } from './benchmark-report.js';

// Every name this module exported stays importable from its path.
export { chunkShapeFor, codecFit, datasetOptions, DEFAULT_CODECS, parseCodecs } from './benchmark-codecs.js';
export type { CodecConfig } from './benchmark-codecs.js';
export type * from './benchmark-types.js';
export { machineInfo, markPareto, recommend, spread } from './benchmark-report.js';

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
