/**
 * `h5vault bench [FILE | --synthetic SIZE]`: every codec configuration on the
 * user's own tensors; table, bench.json, bench.svg, recommendations.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from './command.js';
import type { NumericDType, TypedArray } from '../dtypes.js';
import { H5Error } from '../errors.js';
import { INPUT_OPTIONS, parse, parseInteger, parseSize, str, UsageError } from './args.js';
import { benchmarkCodecs, DEFAULT_CODECS, parseCodecs, type BenchmarkReport, type CodecConfig } from './benchmark.js';
import { EXIT, formatBytes, formatMs, formatRate, jsonReplacer, Output, table } from './output.js';
import { renderChart } from './svg.js';
import { syntheticModel, type BenchTensor } from './synthetic.js';
import { openInput, walkTree } from './tree.js';

const USAGE = `Usage: h5vault bench [FILE | --synthetic SIZE] [--codecs LIST] [--chunk-bytes SIZE]
                     [--runs N] [--threads N] [--out DIR] [--untrusted] [--json]

Measures each codec configuration on the numeric datasets of FILE (or on
SIZE bytes of synthetic float32 weights ~ N(0, 0.02); default 64MiB):
stored size and ratio, write and read throughput (MB/s = 10^6 bytes/s, warm
page cache) and time to first tensor, each the median of --runs (default 3).
Prints a table, writes DIR/bench.json and DIR/bench.svg (ratio vs read
speed, Pareto front marked; DIR defaults to ./h5vault-bench) and recommends
a configuration for "smallest", "fastest load" and "balanced".

  --codecs LIST       comma-separated: ${DEFAULT_CODECS.join(', ')}
                      ('gzip*' means every gzip variant, 'all' every configuration)
  --chunk-bytes SIZE  target chunk size for compressed layouts (default 1MiB)
  --threads N         engine threads per read/write (default: all cores)`;

/** Numeric datasets of a file as benchmark tensors (read fully into memory). */
export async function tensorsFromFile(path: string, untrusted = false): Promise<{ tensors: BenchTensor[]; skipped: string[] }> {
  const f = await openInput(path, untrusted);
  const tensors: BenchTensor[] = [];
  const skipped: string[] = [];
  try {
    for (const e of walkTree(f)) {
      if (e.kind !== 'dataset') continue;
      const dtype = e.obj.dtype;
      if (dtype === 'string' || dtype === 'unsupported') {
        skipped.push(e.path);
        continue;
      }
      tensors.push({ name: e.path.slice(1), dtype: dtype as NumericDType, shape: e.obj.shape, data: (await e.obj.read()) as TypedArray });
    }
  } finally {
    f.close();
  }
  return { tensors, skipped };
}

export interface WrittenReport {
  json: string;
  svg: string;
}

/** Writes bench.json and bench.svg into `dir`; returns their paths. */
export function writeReport(report: BenchmarkReport, dir: string, source: string): WrittenReport {
  mkdirSync(dir, { recursive: true });
  const json = join(dir, 'bench.json');
  const svg = join(dir, 'bench.svg');
  writeFileSync(json, `${JSON.stringify({ source, ...report }, jsonReplacer, 2)}\n`);
  const r = report.recommendations;
  writeFileSync(
    svg,
    renderChart(report.results, {
      title: `Compression ratio vs read speed: ${source}`,
      subtitle:
        `${report.tensors} tensors, ${formatBytes(report.logicalBytes)}, chunks ~${formatBytes(report.chunkBytes)}, ` +
        `median of ${report.runs} run${report.runs > 1 ? 's' : ''}, warm cache · ${report.machine.cpu}, ${report.machine.cores} cores · ${report.machine.date.slice(0, 10)}`,
      notes: [`Smallest: ${r.smallest.config}`, `Fastest load: ${r.fastestLoad.config}`, `Balanced: ${r.balanced.config}`],
    }),
  );
  return { json, svg };
}

/** The results table and recommendations, as printed by bench and demo. */
export function printReport(out: Output, report: BenchmarkReport, files: WrittenReport): void {
  const rec = report.recommendations;
  const tag = (c: string) =>
    [c === rec.smallest.config && 'smallest', c === rec.fastestLoad.config && 'fastest', c === rec.balanced.config && 'balanced']
      .filter(Boolean)
      .join(', ');
  const rows = report.results.map((r) => [
    r.pareto ? out.style(r.config, 'bold') : r.config,
    formatBytes(r.storedBytes),
    `${r.ratio.toFixed(3)}x`,
    formatRate(r.writeMBps),
    formatRate(r.readMBps),
    formatMs(r.firstTensorMs),
    formatMs(r.loadAllMs),
    r.pareto ? out.style('*', 'green') : '',
    tag(r.config) ? out.style(tag(r.config), 'cyan') : '',
  ]);
  out.line(table(['config', 'stored', 'ratio', 'write MB/s', 'read MB/s', 'first tensor', 'load all', 'front', 'pick'], rows,
    ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'l', 'l'], out));
  out.line(out.style(`${report.tensors} tensors, ${formatBytes(report.logicalBytes)}; medians of ${report.runs} run(s); read = full decode; load all = views where possible; front = Pareto front of ratio vs read speed`, 'dim'));
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

    let tensors: BenchTensor[];
    let source: string;
    if (file) {
      const r = await tensorsFromFile(file, !!values.untrusted);
      if (r.skipped.length) out.note(`note: skipping ${r.skipped.length} non-numeric dataset(s): ${r.skipped.slice(0, 5).join(', ')}${r.skipped.length > 5 ? ', …' : ''}`);
      if (r.tensors.length === 0) throw new H5Error(`'${file}' has no numeric datasets to benchmark`, { code: 'H5_NOT_FOUND' });
      tensors = r.tensors;
      source = file;
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
        codecs, chunkBytes, runs, threads, signal: sig.signal,
        onProgress: (done, _total, config) => bar.update(done, config),
      });
    } finally {
      sig.dispose();
      bar.end();
    }
    const files = writeReport(report, dir, source);
    if (out.json) out.emitJson({ source, ...report, files });
    else printReport(out, report, files);
    return EXIT.OK;
  },
};
