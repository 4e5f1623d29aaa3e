/**
 * `h5vault bench [FILE | --synthetic SIZE]`: every codec configuration on the
 * user's own tensors; table, bench.json, bench.svg, recommendations.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from './command.js';
import type { NumericDType, TypedArray } from '../h5/dtypes.js';
import { H5Error } from '../errors.js';
import { INPUT_OPTIONS, parse, parseInteger, parseSize, str, UsageError, badArgument } from './args.js';
import { itemSize } from '../h5/dtypes.js';
import type { Dataset } from '../h5/dataset.js';
import { rng } from '../bench/synthetic.js';
import {
  benchmarkCodecs,
  DEFAULT_CODECS,
  parseCodecs,
  type BenchmarkReport,
  type CodecConfig,
} from '../bench/benchmark.js';
import { EXIT, formatBytes, formatMs, formatRate, jsonReplacer, Output, table } from './output.js';
import { renderChart } from '../bench/chart.js';
import { syntheticModel, type BenchTensor } from '../bench/synthetic.js';
import { openInput, walkTree } from './tree.js';

const USAGE = `Usage: h5vault bench [FILE | --synthetic SIZE] [--codecs LIST] [--chunk-bytes SIZE]
                     [--sample SIZE] [--seed N] [--budget TIME]
                     [--runs N] [--threads N] [--out DIR] [--untrusted] [--json]

Measures each codec configuration on the numeric datasets of FILE (or on
SIZE bytes of synthetic float32 weights ~ N(0, 0.02); default 64MiB):
stored size and ratio, write and read throughput (MB/s = 10^6 bytes/s, warm
page cache), time to first tensor and to every tensor usable; median and
min-max of --runs (default 3), run interleaved (one round = every
configuration once). Prints a table, writes DIR/bench.json and DIR/bench.svg
(ratio vs time to usable, Pareto front marked; DIR defaults to
./h5vault-bench) and recommends a configuration for "smallest", "fastest
load" and "balanced" (quickest write + load keeping half the best saving).

  --sample SIZE       benchmark about SIZE bytes of FILE's tensors (default
                      256MiB; 'all' = every tensor): tensors in an order drawn
                      from --seed, whole while they fit, then the leading rows
                      of the next one
  --seed N            seed of the sample (default 1): same seed, same tensors
  --budget TIME       stop starting new rounds after TIME (e.g. 60s, 5m);
                      every configuration gets at least one run

  --codecs LIST       comma-separated: ${DEFAULT_CODECS.join(', ')}
                      ('gzip*' means every gzip variant, 'all' every configuration)
  --chunk-bytes SIZE  target chunk size for compressed layouts (default 1MiB)
  --threads N         engine threads per read/write (default: all cores)`;

export interface SampleOptions {
  /** About this many bytes of tensors are read (whole tensors, then leading rows of one more). */
  bytes: number;
  /** Seed of the tensor order: the same seed picks the same tensors. */
  seed: number;
}

export interface FileTensors {
  tensors: BenchTensor[];
  skipped: string[];
  /** Numeric tensors and bytes in the file, before sampling. */
  fileTensors: number;
  fileBytes: number;
}

/**
 * Numeric datasets of a file as benchmark tensors, read into memory: all of
 * them, or with `sample` a reproducible sample of about `sample.bytes`.
 * Sampling draws the order of the tensors from the seed (so the sample spans
 * the whole model, not its first layers) and takes whole tensors while they
 * fit; the first that does not fit contributes its leading rows (named
 * `name[0:rows]`), and smaller tensors later in the order still fill the rest.
 */
export async function tensorsFromFile(path: string, untrusted = false, sample?: SampleOptions): Promise<FileTensors> {
  const f = await openInput(path, untrusted);
  const tensors: BenchTensor[] = [];
  const skipped: string[] = [];
  const all: { name: string; dtype: NumericDType; shape: number[]; bytes: number; ds: Dataset }[] = [];
  try {
    for (const e of walkTree(f)) {
      if (e.kind !== 'dataset') continue;
      const dtype = e.obj.dtype;
      if (dtype === 'string' || dtype === 'unsupported') {
        skipped.push(e.path);
        continue;
      }
      const shape = e.obj.shape;
      const bytes = shape.reduce((a, b) => a * b, 1) * itemSize(dtype as NumericDType);
      all.push({ name: e.path.slice(1), dtype: dtype as NumericDType, shape, bytes, ds: e.obj });
    }
    const fileBytes = all.reduce((a, t) => a + t.bytes, 0);
    let picked = all.map((t) => ({ t, rows: -1 })); // rows -1: whole tensor
    if (sample && fileBytes > sample.bytes) {
      const r = rng(sample.seed);
      const order = all
        .map((t) => ({ t, k: r() }))
        .sort((a, b) => a.k - b.k)
        .map((x) => x.t);
      picked = [];
      let left = sample.bytes;
      let sliced = false;
      for (const t of order) {
        if (t.bytes <= left) {
          picked.push({ t, rows: -1 });
          left -= t.bytes;
        } else if (!sliced && t.shape.length >= 1 && t.shape[0]! > 1) {
          const rowBytes = t.bytes / t.shape[0]!;
          const rows = Math.floor(left / rowBytes);
          if (rows >= 1) {
            picked.push({ t, rows });
            left -= rows * rowBytes;
            sliced = true;
          }
        }
      }
      // Keep the file's order in the benchmark (the sample decides which, not the order they are written in).
      picked.sort((a, b) => all.indexOf(a.t) - all.indexOf(b.t));
    }
    for (const { t, rows } of picked) {
      if (rows < 0) {
        tensors.push({ name: t.name, dtype: t.dtype, shape: t.shape, data: (await t.ds.read()) as TypedArray });
      } else {
        const shape = [rows, ...t.shape.slice(1)];
        const data = (await t.ds.read({ start: t.shape.map(() => 0), count: shape })) as TypedArray;
        tensors.push({ name: `${t.name}[0:${rows}]`, dtype: t.dtype, shape, data });
      }
    }
    return { tensors, skipped, fileTensors: all.length, fileBytes };
  } finally {
    f.close();
  }
}

/** '60s', '5m', '1h', '1500ms' or plain seconds, as milliseconds. */
export function parseDuration(text: string, what: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|min|h)?\s*$/i.exec(text);
  if (!m) throw badArgument(what, 'a duration such as 60s, 5m or 1h', text);
  const unit = { ms: 1, s: 1000, m: 60000, min: 60000, h: 3600000 }[(m[2] ?? 's').toLowerCase()]!;
  const ms = Number(m[1]) * unit;
  if (!(ms > 0)) throw badArgument(what, 'more than 0', text);
  return ms;
}

/** Which tensors a sampled benchmark used (names; `name[0:rows]` for a slice). */
export interface SampleInfo {
  seed: number;
  bytes: number;
  tensors: string[];
}

export interface WrittenReport {
  json: string;
  svg: string;
}

/** Writes bench.json and bench.svg into `dir`; returns their paths. */
export function writeReport(report: BenchmarkReport, dir: string, source: string, sample?: SampleInfo): WrittenReport {
  mkdirSync(dir, { recursive: true });
  const json = join(dir, 'bench.json');
  const svg = join(dir, 'bench.svg');
  writeFileSync(json, `${JSON.stringify({ source, ...(sample ? { sample } : {}), ...report }, jsonReplacer, 2)}\n`);
  const r = report.recommendations;
  writeFileSync(
    svg,
    renderChart(report.results, {
      title: `Compression ratio vs time to usable: ${source}`,
      subtitle:
        `${report.tensors} tensors, ${formatBytes(report.logicalBytes)}, chunks ~${formatBytes(report.chunkBytes)}, ` +
        `median of ${report.runsDone} run${report.runsDone > 1 ? 's' : ''}, warm cache · ${report.machine.cpu}, ${report.machine.cores} cores · ${report.machine.date.slice(0, 10)}`,
      notes: [
        `Smallest: ${r.smallest.config}`,
        `Fastest load: ${r.fastestLoad.config}`,
        `Balanced: ${r.balanced.config}`,
      ],
    }),
  );
  return { json, svg };
}

/** The results table and recommendations, as printed by bench and demo. */
export function printReport(out: Output, report: BenchmarkReport, files: WrittenReport): void {
  const rec = report.recommendations;
  const tag = (c: string) =>
    [
      c === rec.smallest.config && 'smallest',
      c === rec.fastestLoad.config && 'fastest',
      c === rec.balanced.config && 'balanced',
    ]
      .filter(Boolean)
      .join(', ');
  // Throughput spread: the slowest and fastest run (from max and min ms).
  const rate = (ms: { min: number; max: number }, median: number) =>
    report.runsDone > 1
      ? `${formatRate(median)} (${formatRate(report.logicalBytes / 1e6 / (ms.max / 1000))}-${formatRate(report.logicalBytes / 1e6 / (ms.min / 1000))})`
      : formatRate(median);
  const msSpread = (ms: { min: number; max: number }, median: number) =>
    report.runsDone > 1 ? `${formatMs(median)} (${formatMs(ms.min)}-${formatMs(ms.max)})` : formatMs(median);
  const rows = report.results.map((r) => [
    r.pareto ? out.style(r.config, 'bold') : r.config,
    formatBytes(r.storedBytes),
    `${r.ratio.toFixed(3)}x`,
    rate(r.writeSpread, r.writeMBps),
    rate(r.readSpread, r.readMBps),
    formatMs(r.firstTensorMs),
    msSpread(r.loadSpread, r.loadAllMs),
    r.pareto ? out.style('*', 'green') : '',
    tag(r.config) ? out.style(tag(r.config), 'cyan') : '',
  ]);
  out.line(
    table(
      ['config', 'stored', 'ratio', 'write MB/s', 'read MB/s', 'first tensor', 'load all', 'front', 'pick'],
      rows,
      ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'l', 'l'],
      out,
    ),
  );
  // Configurations that could not apply as named to every tensor say so (the ratio is theirs, not the codec's alone).
  for (const r of report.results) {
    const parts = [
      r.adapted && `${r.adapted} tensor(s) with chunks under 32 elements used a smaller szip pixelsPerBlock`,
      r.skipped && `${r.skipped} one-element tensor(s) stored uncompressed (szip cannot apply)`,
    ].filter(Boolean);
    if (parts.length > 0) out.line(out.style(`${r.config}: ${parts.join('; ')} of ${report.tensors}`, 'dim'));
  }
  const runsNote =
    report.runsDone < report.runs
      ? `${report.runsDone} of ${report.runs} runs (time budget)`
      : `${report.runsDone} run(s)`;
  out.line(
    out.style(
      `${report.tensors} tensors, ${formatBytes(report.logicalBytes)}; median (min-max) of ${runsNote}, interleaved; read = full decode; load all = views where possible; front = Pareto front of ratio vs time to usable`,
      'dim',
    ),
  );
  out.line();
  out.line(`${out.style('smallest    ', 'bold')} ${rec.smallest.config}: ${rec.smallest.why}`);
  out.line(`${out.style('fastest load', 'bold')} ${rec.fastestLoad.config}: ${rec.fastestLoad.why}`);
  out.line(`${out.style('balanced    ', 'bold')} ${rec.balanced.config}: ${rec.balanced.why}`);
  out.line();
  out.line(`chart: ${files.svg}`);
  out.line(`data:  ${files.json}`);
}

/** Aborts the benchmark on the first Ctrl-C (temporary files are removed); a second one kills. */
export function abortOnSigint(): { signal: AbortSignal; dispose: () => void } {
  const ac = new AbortController();
  const on = () => ac.abort();
  process.once('SIGINT', on);
  return { signal: ac.signal, dispose: () => process.removeListener('SIGINT', on) };
}

export const command: Command = {
  summary: 'measure every codec on your weights: table, bench.json, SVG chart, recommendations',
  usage: USAGE,
  async run(argv) {
    const { values, positionals } = parse(
      argv,
      {
        synthetic: { type: 'string' },
        codecs: { type: 'string' },
        'chunk-bytes': { type: 'string' },
        runs: { type: 'string' },
        threads: { type: 'string' },
        sample: { type: 'string' },
        seed: { type: 'string' },
        budget: { type: 'string' },
        out: { type: 'string', short: 'o' },
        ...INPUT_OPTIONS,
      },
      { min: 0, max: 1, names: '[FILE]' },
    );
    const out = new Output(values);
    const file = positionals[0];
    const synthetic = str(values.synthetic);
    if (file && synthetic) throw new UsageError('give either FILE or --synthetic SIZE, not both');
    let codecs: CodecConfig[];
    try {
      codecs = parseCodecs((str(values.codecs) ?? DEFAULT_CODECS.join(',')).split(','));
    } catch (e) {
      throw new UsageError(`--codecs: ${(e as Error).message}`);
    }
    const chunkText = str(values['chunk-bytes']);
    const chunkBytes = chunkText ? parseSize(chunkText, '--chunk-bytes') : 1 << 20;
    const runsText = str(values.runs);
    const runs = runsText ? parseInteger(runsText, '--runs', 1, 100) : 3;
    const threadsText = str(values.threads);
    const threads = threadsText ? parseInteger(threadsText, '--threads', 1, 1024) : undefined;
    const dir = resolve(str(values.out) ?? 'h5vault-bench');
    const sampleText = str(values.sample) ?? '256MiB';
    const sampleBytes = sampleText.toLowerCase() === 'all' ? undefined : parseSize(sampleText, '--sample');
    const seedText = str(values.seed);
    const seed = seedText ? parseInteger(seedText, '--seed', 0, 2 ** 32 - 1) : 1;
    const budgetText = str(values.budget);
    const budgetMs = budgetText ? parseDuration(budgetText, '--budget') : undefined;
    if (!file && (str(values.sample) || seedText))
      throw new UsageError('--sample and --seed apply to FILE (for --synthetic, SIZE is the size)');

    let tensors: BenchTensor[];
    let source: string;
    let sampleInfo: SampleInfo | undefined;
    if (file) {
      const r = await tensorsFromFile(
        file,
        !!values.untrusted,
        sampleBytes === undefined ? undefined : { bytes: sampleBytes, seed },
      );
      if (r.skipped.length)
        out.note(
          `note: skipping ${r.skipped.length} non-numeric dataset(s): ${r.skipped.slice(0, 5).join(', ')}${r.skipped.length > 5 ? ', …' : ''}`,
        );
      if (r.tensors.length === 0)
        throw new H5Error(`'${file}' has no numeric datasets to benchmark`, { code: 'H5_NOT_FOUND' });
      tensors = r.tensors;
      source = file;
      const got = tensors.reduce((a, t) => a + t.data.byteLength, 0);
      if (got < r.fileBytes) {
        out.note(
          `note: sample of ${formatBytes(got)} from ${tensors.length} of ${r.fileTensors} tensors (${formatBytes(r.fileBytes)}), seed ${seed}`,
        );
        source = `${file} (sample ${formatBytes(got)}, seed ${seed})`;
        sampleInfo = { seed, bytes: got, tensors: tensors.map((t) => t.name) };
      }
    } else {
      const size = parseSize(synthetic ?? '64MiB', '--synthetic');
      if (size < 1024) throw new UsageError('--synthetic must be at least 1KiB');
      tensors = syntheticModel(size);
      source = `synthetic ${formatBytes(size)} float32 ~ N(0, 0.02)`;
    }

    const bar = out.progress('benchmarking', codecs.length * runs);
    const sig = abortOnSigint();
    let report: BenchmarkReport;
    try {
      report = await benchmarkCodecs(tensors, {
        codecs,
        chunkBytes,
        runs,
        threads,
        budgetMs,
        signal: sig.signal,
        onProgress: (done, _total, config) => bar.update(done, config),
      });
    } finally {
      sig.dispose();
      bar.end();
    }
    const files = writeReport(report, dir, source, sampleInfo);
    if (out.json) out.emitJson({ source, ...(sampleInfo ? { sample: sampleInfo } : {}), ...report, files });
    else printReport(out, report, files);
    return EXIT.OK;
  },
};
