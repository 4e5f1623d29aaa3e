/**
 * `h5vault bench` and `h5vault demo` end to end (tiny sizes), and the pieces
 * behind them: codec names, chunk shapes, Pareto front, recommendations,
 * the SVG chart (parsed by a real XML parser), tables and colour rules.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { File } from '../../lib/index.js';
import { UsageError, parseSize } from '../../lib/cli/args.js';
import {
  benchmarkCodecs,
  chunkShapeFor,
  datasetOptions,
  DEFAULT_CODECS,
  markPareto,
  parseCodecs,
  recommend,
  spread,
  type CodecResult,
} from '../../lib/bench/benchmark.js';
import { describeError, EXIT, median, Output, table, visibleLength } from '../../lib/cli/output.js';
import { renderChart } from '../../lib/bench/chart.js';
import { gaussianFloat32, syntheticModel, tensorBytes } from '../../lib/bench/synthetic.js';
import { benchmarkCodecs as publicBenchmark, H5Error, renderBenchmarkChart } from '../../lib/index.js';
import { python, requirePeers, tempDir } from '../helpers.js';
import { ensureBuilt, h5vault, json } from './run.js';

const dir = tempDir('h5vault-clibench-');

beforeAll(() => ensureBuilt());

/** Parses an SVG with Python's XML parser; returns the configs of its data points. */
function svgPoints(svg: string): string[] {
  requirePeers();
  const out = python(
    `import sys, json, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
ns = '{http://www.w3.org/2000/svg}'
assert root.tag == ns + 'svg', root.tag
pts = [c.get('data-config') for c in root.iter(ns + 'circle') if c.get('class') == 'point']
print(json.dumps(pts))`,
    [svg],
  );
  return JSON.parse(out) as string[];
}

function result(
  config: string,
  ratio: number,
  readMBps: number,
  loadAllMs = 1000 / readMBps,
  writeMs = 10,
): CodecResult {
  const [name] = config.split(/[-+]/);
  const one = (x: number) => ({ min: x, median: x, max: x });
  return {
    config,
    compression: name as CodecResult['compression'],
    level: null,
    shuffle: config.includes('shuffle'),
    logicalBytes: 1e6,
    storedBytes: 1e6 / ratio,
    ratio,
    writeMBps: 1000 / writeMs,
    readMBps,
    firstTensorMs: 1,
    loadAllMs,
    usableMBps: 1000 / loadAllMs,
    writeSpread: one(writeMs),
    readSpread: one(1000 / readMBps),
    loadSpread: one(loadAllMs),
    writeMs: [writeMs],
    readMs: [1000 / readMBps],
    firstMs: [1],
    loadMs: [loadAllMs],
    pareto: false,
  };
}

describe('codec configurations', () => {
  it('parses names, families and canonical forms', () => {
    expect(parseCodecs(['none', 'gzip-9+shuffle', 'LZ4']).map((c) => c.name)).toEqual([
      'none',
      'gzip-9+shuffle',
      'lz4',
    ]);
    expect(parseCodecs(['gzip*']).map((c) => c.name)).toEqual(DEFAULT_CODECS.filter((c) => c.startsWith('gzip')));
    expect(parseCodecs(['all']).map((c) => c.name)).toEqual(DEFAULT_CODECS);
    expect(parseCodecs(['gzip'])[0]!.name).toBe('gzip-4');
    expect(parseCodecs(['gzip-1+shuffle'])[0]).toEqual({
      name: 'gzip-1+shuffle',
      compression: 'gzip',
      level: 1,
      shuffle: true,
    });
    expect(parseCodecs(['lz4', 'lz4']).length).toBe(1);
    expect(parseCodecs(['zstd'])[0]).toEqual({ name: 'zstd-3', compression: 'zstd', level: 3, shuffle: false });
    expect(parseCodecs(['zstd-19+shuffle'])[0]).toEqual({
      name: 'zstd-19+shuffle',
      compression: 'zstd',
      level: 19,
      shuffle: true,
    });
    expect(parseCodecs(['zstd*']).map((c) => c.name)).toEqual(['zstd-1', 'zstd-3', 'zstd-3+shuffle', 'zstd-9+shuffle']);
    expect(parseCodecs(['bitshuffle*']).map((c) => c.name)).toEqual(['bitshuffle+lz4', 'bitshuffle+zstd-3']);
    expect(parseCodecs(['bitshuffle'])[0]).toEqual({
      name: 'bitshuffle+lz4',
      compression: 'bitshuffle',
      level: undefined,
      shuffle: false,
      inner: 'lz4',
    });
    expect(parseCodecs(['bitshuffle+zstd-9'])[0]).toEqual({
      name: 'bitshuffle+zstd-9',
      compression: 'bitshuffle',
      level: 9,
      shuffle: false,
      inner: 'zstd',
    });
    for (const bad of [
      'zstd-0',
      'zstd-23',
      'zstd-100',
      'brotli',
      'gzip-0',
      'lz4-3',
      'bitshuffle+lz4-3',
      'bitshuffle+zstd-23',
      'bitshuffle+shuffle',
      'none+shuffle',
      'gzip+shuffle+shuffle',
      'blosc',
      'blosc-brotli',
      'blosc-lz4-10',
      'gzip+bitshuffle',
      'zstd-lz4',
    ])
      expect(() => parseCodecs([bad]), bad).toThrow(RangeError);
    expect(() => parseCodecs([''])).toThrow(/no codec/);
  });

  it("blosc configurations name their inner compressor and Blosc's own byte or bit shuffle", () => {
    expect(parseCodecs(['blosc*']).map((c) => c.name)).toEqual([
      'blosc-lz4+shuffle',
      'blosc-lz4+bitshuffle',
      'blosc-zstd+shuffle',
      'blosc-zstd+bitshuffle',
    ]);
    expect(parseCodecs(['blosc-zstd-5+bitshuffle'])[0]).toEqual({
      name: 'blosc-zstd+bitshuffle',
      compression: 'blosc',
      level: 5,
      shuffle: true,
      bitshuffle: true,
      inner: 'zstd',
    });
    expect(parseCodecs(['blosc-lz4-9'])[0]!.name).toBe('blosc-lz4-9');
    const t = { dtype: 'float32' as const, shape: [1024, 256] };
    // Blosc shuffles inside the filter: no HDF5 shuffle filter in front of it.
    expect(datasetOptions(t, parseCodecs(['blosc-zstd+bitshuffle'])[0]!, 1 << 20)).toMatchObject({
      compression: { name: 'blosc', compressor: 'zstd', level: 5, shuffle: 'bit' },
      shuffle: false,
    });
    expect(datasetOptions(t, parseCodecs(['blosc-lz4'])[0]!, 1 << 20)).toMatchObject({
      compression: { name: 'blosc', compressor: 'lz4', level: 5, shuffle: 'none' },
      shuffle: false,
    });
    expect(datasetOptions(t, parseCodecs(['zstd-9+shuffle'])[0]!, 1 << 20)).toMatchObject({
      compression: { name: 'zstd', level: 9 },
      shuffle: true,
    });
  });

  it('chunk shapes target the byte size, keep rows whole, never exceed the shape', () => {
    expect(chunkShapeFor([4096, 1024], 4, 1 << 20)).toEqual([256, 1024]);
    expect(chunkShapeFor([10, 1024], 4, 1 << 20)).toEqual([10, 1024]);
    expect(chunkShapeFor([8, 1 << 20], 4, 1 << 20)).toEqual([1, 262144]);
    expect(chunkShapeFor([100], 8, 64)).toEqual([8]);
    expect(chunkShapeFor([0, 16], 4, 1024)).toEqual([1, 16]);
    expect(chunkShapeFor([3, 5, 7], 2, 1)).toEqual([1, 1, 1]);
  });

  it('sizes parse with binary and decimal units; bad sizes are usage errors', () => {
    expect(parseSize('256MiB', 'x')).toBe(256 * 2 ** 20);
    expect(parseSize('1.5GB', 'x')).toBe(1.5e9);
    expect(parseSize('64kib', 'x')).toBe(65536);
    expect(parseSize('4096', 'x')).toBe(4096);
    for (const bad of ['', 'MiB', '-1', '0', '12 parsecs']) expect(() => parseSize(bad, 'x'), bad).toThrow(UsageError);
  });
});

describe('Pareto front and recommendations', () => {
  it('marks exactly the non-dominated configurations', () => {
    const rs = markPareto([
      result('none', 1, 900),
      result('lz4', 1.05, 800),
      result('gzip-1', 1.1, 100),
      result('gzip-9', 1.1, 50),
      result('lzf', 1.0, 500),
    ]);
    expect(rs.filter((r) => r.pareto).map((r) => r.config)).toEqual(['none', 'lz4', 'gzip-1']);
  });

  it('smallest = best ratio, fastest = quickest load, balanced keeps half the best saving', () => {
    const rs = [
      result('none', 1, 900, 1),
      result('lz4+shuffle', 1.12, 800),
      result('gzip-9+shuffle', 1.2, 100),
      result('lzf', 1.02, 850),
    ];
    const r = recommend(markPareto(rs));
    expect(r.smallest.config).toBe('gzip-9+shuffle');
    expect(r.fastestLoad.config).toBe('none');
    // lz4+shuffle saves 10.7% >= half of 16.7%, and loads faster than gzip.
    expect(r.balanced.config).toBe('lz4+shuffle');
    const flat = recommend([result('none', 1, 900, 1), result('lz4', 0.99, 1000, 2)]);
    expect(flat.balanced.config).toBe(flat.fastestLoad.config);
    // A ratio under 1 is a cost, not a negative saving.
    const worse = recommend([result('none', 0.594, 900, 1), result('lz4', 0.58, 1000, 2)]);
    expect(worse.smallest.why).toBe(
      'nothing compresses these tensors: the highest ratio is 0.594x (68.4% larger than the data), so store them uncompressed',
    );
    expect(() => recommend([])).toThrow(RangeError);
  });

  it('balanced weighs write speed: a slow writer is not picked for a little more saving', () => {
    // gzip-9+shuffle saves most and loads a bit faster than gzip-1+shuffle, but writes 30x slower.
    const rs = [
      result('none', 1, 900, 1, 5),
      result('gzip-1+shuffle', 1.15, 300, 12, 40),
      result('gzip-9+shuffle', 1.17, 320, 11, 1200),
    ];
    const r = recommend(markPareto(rs, 'usableMBps'));
    expect(r.smallest.config).toBe('gzip-9+shuffle');
    expect(r.balanced.config).toBe('gzip-1+shuffle');
    expect(r.balanced.why).toMatch(/writes in .* and loads every tensor in/);
  });

  it('the front by time to usable counts a zero-copy map as fast, not as a slow read', () => {
    // none reads slower than lz4 (a full copy) but is usable at once (a map).
    const none = result('none', 1, 500, 0.5);
    const lz4 = result('lz4', 1.01, 800, 20);
    expect(
      markPareto([{ ...none }, { ...lz4 }], 'readMBps')
        .filter((r) => r.pareto)
        .map((r) => r.config),
    ).toEqual(['lz4']);
    expect(
      markPareto([none, lz4], 'usableMBps')
        .filter((r) => r.pareto)
        .map((r) => r.config),
    ).toEqual(['none', 'lz4']);
  });

  it('spread is min / median / max', () => {
    expect(spread([5, 1, 3])).toEqual({ min: 1, median: 3, max: 5 });
    expect(spread([2, 4])).toEqual({ min: 2, median: 3, max: 4 });
  });
});

describe('benchmarkCodecs', () => {
  it('measures each configuration on the given tensors and checks the data', async () => {
    const tensors = {
      a: { dtype: 'float32' as const, shape: [64, 64], data: gaussianFloat32(64 * 64, 1) },
      'g/b': { dtype: 'int16' as const, shape: [100], data: new Int16Array(100).fill(7) },
    };
    const seen: number[] = [];
    const order: string[] = [];
    const rep = await benchmarkCodecs(tensors, {
      codecs: ['none', 'gzip-4+shuffle', 'lz4'],
      runs: 2,
      chunkBytes: 4096,
      dir,
      onProgress: (d, _t, c) => {
        seen.push(d);
        order.push(c);
      },
    });
    expect(seen).toEqual([1, 2, 3, 4, 5, 6]);
    // Interleaved rounds: every configuration once, then again.
    expect(order).toEqual(['none', 'gzip-4+shuffle', 'lz4', 'none', 'gzip-4+shuffle', 'lz4']);
    expect(rep).toMatchObject({ tensors: 2, logicalBytes: 64 * 64 * 4 + 200, chunkBytes: 4096, runs: 2, runsDone: 2 });
    expect(rep.results.map((r) => r.config)).toEqual(['none', 'gzip-4+shuffle', 'lz4']);
    for (const r of rep.results) {
      expect(r.writeMs).toHaveLength(2);
      expect(r.readMs).toHaveLength(2);
      expect(r.ratio).toBeCloseTo(r.logicalBytes / r.storedBytes, 10);
      expect(r.readMBps).toBeGreaterThan(0);
      expect(r.loadAllMs).toBeGreaterThanOrEqual(r.firstTensorMs);
    }
    expect(rep.results.some((r) => r.pareto)).toBe(true);
    expect(rep.machine.cores).toBeGreaterThan(0);
  });

  it('zstd and blosc configurations compress (the filter is applied) and read back bit-exactly', async () => {
    // Small integers in float32: every byte-shuffled or bit-shuffled stream is mostly zeros.
    const data = Float32Array.from({ length: 128 * 256 }, (_, i) => (i * 7919) % 13);
    const rep = await benchmarkCodecs(
      { w: { dtype: 'float32' as const, shape: [128, 256], data } },
      {
        codecs: ['zstd-3+shuffle', 'blosc-lz4+shuffle', 'blosc-lz4+bitshuffle', 'blosc-zstd+bitshuffle'],
        runs: 1,
        chunkBytes: 32768,
        dir,
      },
    );
    expect(rep.results.map((r) => r.config)).toEqual([
      'zstd-3+shuffle',
      'blosc-lz4+shuffle',
      'blosc-lz4+bitshuffle',
      'blosc-zstd+bitshuffle',
    ]);
    for (const r of rep.results) expect(r.ratio, r.config).toBeGreaterThan(3);
  });

  it('is exported from the package entry point', () => {
    expect(publicBenchmark).toBe(benchmarkCodecs);
    expect(renderBenchmarkChart).toBe(renderChart);
  });

  it('rejects bad input with typed errors', async () => {
    await expect(benchmarkCodecs([], {})).rejects.toThrow(RangeError);
    await expect(benchmarkCodecs({ a: { dtype: 'float32', shape: [3], data: new Float32Array(2) } })).rejects.toThrow(
      /shape/,
    );
    await expect(
      benchmarkCodecs({ a: { dtype: 'float32', shape: [2], data: new Float32Array(2) } }, { runs: 0 }),
    ).rejects.toThrow(RangeError);
    await expect(
      benchmarkCodecs({ a: { dtype: 'float32', shape: [2], data: new Float32Array(2) } }, { budgetMs: 0 }),
    ).rejects.toThrow(RangeError);
    await expect(
      benchmarkCodecs({ a: { dtype: 'float32', shape: [2], data: new Float32Array(2) } }, { codecs: ['brotli'] }),
    ).rejects.toThrow(RangeError);
    const ac = new AbortController();
    ac.abort();
    await expect(
      benchmarkCodecs({ a: { dtype: 'float32', shape: [2], data: new Float32Array(2) } }, { signal: ac.signal, dir }),
    ).rejects.toMatchObject({ code: 'H5_ABORTED' });
  });

  it('synthetic models are deterministic and close to the requested size', () => {
    const a = syntheticModel(1 << 20);
    const b = syntheticModel(1 << 20);
    expect(a.map((t) => t.name)).toEqual(b.map((t) => t.name));
    expect(Buffer.compare(Buffer.from(a[3]!.data.buffer), Buffer.from(b[3]!.data.buffer))).toBe(0);
    expect(Math.abs(tensorBytes(a) - (1 << 20))).toBeLessThanOrEqual(64 * 4);
    const big = syntheticModel(64 << 20);
    expect(big.some((t) => t.name.startsWith('layers/'))).toBe(true);
    expect(() => syntheticModel(10)).toThrow(RangeError);
  });
});

describe('chart', () => {
  it('is valid SVG with one point per configuration, escaping text', () => {
    // The fastest configuration compresses least, so the front has at least two points (a polyline) however many configurations there are.
    const n = DEFAULT_CODECS.length;
    const rs = markPareto(DEFAULT_CODECS.map((c, i) => result(c, i === n - 1 ? 1 : 1 + (i % 5) * 0.04, 50 + i * 70)));
    const p = join(dir, 'chart.svg');
    const svg = renderChart(rs, {
      title: 'ratio <vs> speed & "quotes"',
      subtitle: 's',
      notes: ['Smallest: gzip-9+shuffle'],
    });
    writeFileSync(p, svg);
    expect(svgPoints(p)).toEqual(rs.map((r) => r.config));
    expect(svg).toContain('ratio &lt;vs&gt; speed &amp; &quot;quotes&quot;');
    expect(svg).toContain('polyline'); // the Pareto front
  });

  it('plots time to usable on x (a zero-copy none is fastest) and keeps overlapping markers apart', () => {
    // none is usable at once (views); szip stores as much as none and (on these numbers) the same speed.
    const rs = markPareto(
      [
        result('none', 1, 500, 0.5),
        result('szip', 1, 500, 0.5),
        result('lz4', 1.05, 900, 20),
        result('gzip-1', 1.1, 300, 60),
      ],
      'usableMBps',
    );
    const p = join(dir, 'dodge.svg');
    const svg = renderChart(rs);
    writeFileSync(p, svg);
    expect(svg).toContain('Time to every tensor usable');
    const pos = JSON.parse(
      python(
        `import sys, json, xml.etree.ElementTree as ET
ns = '{http://www.w3.org/2000/svg}'
root = ET.parse(sys.argv[1]).getroot()
print(json.dumps({c.get('data-config'): [float(c.get('cx')), float(c.get('cy'))] for c in root.iter(ns + 'circle') if c.get('class') == 'point'}))`,
        [p],
      ),
    ) as Record<string, [number, number]>;
    const [nx, ny] = pos.none!;
    const [zx, zy] = pos.szip!;
    expect(Math.hypot(nx - zx, ny - zy)).toBeGreaterThanOrEqual(13);
    expect(svg).toMatch(/class="dodge"/);
    expect(svg).toContain('marker moved off an overlapping one');
    // none (usable in 0.5 ms) is right of lz4 (20 ms), though lz4 reads faster.
    expect(Math.min(nx, zx)).toBeGreaterThan(pos.lz4![0]);
  });
});

describe('output helpers', () => {
  it('colour only on a TTY and never with NO_COLOR', () => {
    const tty = { write: () => true, isTTY: true };
    const pipe = { write: () => true, isTTY: false };
    expect(new Output({}, tty, tty, {}).style('x', 'red')).toBe('\x1b[31mx\x1b[39m');
    expect(new Output({}, tty, tty, { NO_COLOR: '1' }).style('x', 'red')).toBe('x');
    expect(new Output({}, pipe, pipe, {}).style('x', 'red')).toBe('x');
  });

  it('tables align by visible width (ANSI codes ignored), numbers right-aligned', () => {
    const out = new Output({}, { write: () => true, isTTY: true }, { write: () => true }, {});
    const t = table(
      ['name', 'n'],
      [
        [out.style('a', 'bold'), '1'],
        ['bbb', '100'],
      ],
      ['l', 'r'],
      out,
    ).split('\n');
    expect(t.map(visibleLength)).toEqual([9, 9, 9, 9]);
    expect(t[3]).toBe('bbb   100');
  });

  it('maps errors to exit codes', () => {
    expect(describeError(new UsageError('x')).exitCode).toBe(EXIT.USAGE);
    expect(describeError(new H5Error('x', { code: 'H5_FILE_NOT_FOUND' })).exitCode).toBe(EXIT.FILE);
    expect(describeError(new H5Error('x', { code: 'H5_CORRUPT' })).exitCode).toBe(EXIT.FAILURE);
    expect(describeError(new H5Error('x', { code: 'H5_ABORTED' })).exitCode).toBe(EXIT.INTERRUPTED);
    expect(describeError(Object.assign(new Error('x'), { code: 'ENOSPC' })).exitCode).toBe(EXIT.FILE);
    expect(describeError(new Error('bug')).exitCode).toBe(EXIT.INTERNAL);
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 2, 3])).toBe(2.5);
  });
});

describe('h5vault bench / demo (real binary)', () => {
  it('bench --synthetic: table, bench.json, bench.svg, recommendations', () => {
    const out = join(dir, 'bench-out');
    const r = h5vault([
      'bench',
      '--synthetic',
      '256KiB',
      '--runs',
      '1',
      '--codecs',
      'none,gzip-1+shuffle,lz4',
      '--out',
      out,
    ]);
    expect(r.status, r.stderr).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines[0]).toMatch(
      /^config\s+stored\s+ratio\s+write MB\/s\s+read MB\/s\s+first tensor\s+load all\s+front\s+pick$/,
    );
    expect(lines.filter((l) => /^(none|gzip-1\+shuffle|lz4) /.test(l))).toHaveLength(3);
    expect(r.stdout).toMatch(/^smallest\s+\S+: /m);
    expect(r.stdout).toMatch(/^fastest load\s+\S+: /m);
    expect(r.stdout).toMatch(/^balanced\s+\S+: /m);
    expect(r.stdout).toContain(`chart: ${join(out, 'bench.svg')}`);
    const saved = JSON.parse(readFileSync(join(out, 'bench.json'), 'utf8')) as { results: { config: string }[] };
    expect(saved.results.map((x) => x.config)).toEqual(['none', 'gzip-1+shuffle', 'lz4']);
    expect(svgPoints(join(out, 'bench.svg'))).toEqual(['none', 'gzip-1+shuffle', 'lz4']);
  });

  it('bench FILE --json benchmarks the numeric datasets of a file', () => {
    const p = join(dir, 'weights.h5');
    const f = File.create(p);
    f.createDataset('w', { dtype: 'float32', shape: [128, 128], data: gaussianFloat32(128 * 128, 5) });
    f.createDataset('label', { dtype: 'string', shape: [1], data: ['x'] });
    f.close();
    const r = h5vault(['bench', p, '--runs', '1', '--codecs', 'lzf,szip', '--json', '--out', join(dir, 'b2')]);
    expect(r.status, r.stderr).toBe(0);
    const doc = json<{
      source: string;
      tensors: number;
      results: { config: string; pareto: boolean }[];
      recommendations: Record<string, { config: string }>;
      files: { svg: string };
    }>(r);
    expect(doc.source).toBe(p);
    expect(doc.tensors).toBe(1);
    expect(doc.results.map((x) => x.config)).toEqual(['lzf', 'szip']);
    for (const k of ['smallest', 'fastestLoad', 'balanced'])
      expect(['lzf', 'szip']).toContain(doc.recommendations[k]!.config);
    expect(existsSync(doc.files.svg)).toBe(true);
    expect(r.stderr).toMatch(/skipping 1 non-numeric dataset/);
  });

  it('bench on real Keras models: szip adapts to small chunks or stands aside, and the table says so', () => {
    // simple_lstm has 1-element optimizer counters (szip cannot apply: stored
    // uncompressed); adam.h5 has a 5-element bias (a smaller szip block).
    // Before: 'szip pixelsPerBlock 32 exceeds the 1 elements of a chunk [RangeError]'.
    const keras = join(import.meta.dirname, '..', 'fixtures', 'keras');
    const lstm = h5vault([
      'bench',
      join(keras, 'simple_lstm_tf_keras_2_model.h5'),
      '--runs',
      '1',
      '--codecs',
      'none,szip,gzip-4',
      '--out',
      join(dir, 'k1'),
    ]);
    expect(lstm.status, lstm.stderr).toBe(0);
    expect(lstm.stdout).toMatch(/^szip: 2 one-element tensor\(s\) stored uncompressed \(szip cannot apply\) of 10$/m);
    const adam = h5vault([
      'bench',
      join(keras, 'adam.h5'),
      '--runs',
      '1',
      '--codecs',
      'none,szip,lz4',
      '--json',
      '--out',
      join(dir, 'k2'),
    ]);
    expect(adam.status, adam.stderr).toBe(0);
    const doc = json<{
      results: { config: string; ratio: number; adapted?: number; skipped?: number }[];
      recommendations: Record<string, { config: string; why: string }>;
    }>(adam);
    expect(doc.results.find((x) => x.config === 'szip')).toMatchObject({ adapted: 1 });
    expect(doc.results.find((x) => x.config === 'lz4')!.adapted).toBeUndefined();
    // Nothing compresses 28 KiB of weights: said plainly, never "saves -37.0%".
    expect(Math.max(...doc.results.map((x) => x.ratio))).toBeLessThan(1);
    expect(doc.recommendations.smallest!.why).toMatch(
      /^nothing compresses these tensors: the highest ratio is 0\.\d{3}x \(\d+\.\d% larger than the data\)/,
    );
    for (const k of ['smallest', 'fastestLoad', 'balanced']) expect(doc.recommendations[k]!.why).not.toMatch(/saves -/);
  });

  it('bench FILE --sample takes a reproducible sample by seed; another seed, another sample', () => {
    const p = join(dir, 'model.h5');
    const f = File.create(p);
    // 12 tensors of 64 KiB each (768 KiB): a 200 KiB sample holds 3 whole ones and rows of a 4th.
    for (let i = 0; i < 12; i++)
      f.createDataset(`layer${i}/w`, { dtype: 'float32', shape: [64, 256], data: gaussianFloat32(64 * 256, i + 1) });
    f.close();
    const run = (seed: string) => {
      const r = h5vault([
        'bench',
        p,
        '--sample',
        '200KiB',
        '--seed',
        seed,
        '--runs',
        '1',
        '--codecs',
        'lz4',
        '--json',
        '--out',
        join(dir, `s${seed}`),
      ]);
      expect(r.status, r.stderr).toBe(0);
      expect(r.stderr).toMatch(/sample of 200 ?KiB from 4 of 12 tensors/);
      return json<{
        tensors: number;
        logicalBytes: number;
        source: string;
        sample: { seed: number; tensors: string[] };
      }>(r);
    };
    const a = run('7');
    const b = run('7');
    const c = run('8');
    expect(a.tensors).toBe(4);
    expect(a.logicalBytes).toBe(200 * 1024);
    expect(a.source).toContain('seed 7');
    expect(a.sample.seed).toBe(7);
    // Three whole tensors and the leading 8 rows (8 KiB) of a fourth.
    expect(a.sample.tensors.filter((n) => n.endsWith('[0:8]'))).toHaveLength(1);
    expect(b.sample.tensors).toEqual(a.sample.tensors);
    expect(c.sample.tensors).not.toEqual(a.sample.tensors);
    const saved = JSON.parse(readFileSync(join(dir, 's7', 'bench.json'), 'utf8')) as { sample: { tensors: string[] } };
    expect(saved.sample.tensors).toEqual(a.sample.tensors);
  });

  it('bench --budget stops starting rounds once spent; every configuration gets one run; spread in the table', () => {
    const out = join(dir, 'budget');
    const r = h5vault([
      'bench',
      '--synthetic',
      '256KiB',
      '--runs',
      '50',
      '--budget',
      '1ms',
      '--codecs',
      'none,lz4',
      '--out',
      out,
    ]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/1 of 50 runs \(time budget\)/);
    const saved = JSON.parse(readFileSync(join(out, 'bench.json'), 'utf8')) as {
      runs: number;
      runsDone: number;
      results: { writeMs: number[]; readSpread: { min: number; median: number; max: number } }[];
    };
    expect(saved.runs).toBe(50);
    expect(saved.runsDone).toBe(1);
    for (const x of saved.results) expect(x.writeMs).toHaveLength(1);
    const three = h5vault([
      'bench',
      '--synthetic',
      '256KiB',
      '--runs',
      '3',
      '--codecs',
      'none,lz4',
      '--out',
      join(dir, 'three'),
    ]);
    expect(three.status, three.stderr).toBe(0);
    // median (slowest-fastest) throughput and median (min-max) load time.
    expect(three.stdout).toMatch(/^lz4 .*\d \(\d[\d.]*-\d[\d.]*\)/m);
    expect(three.stdout).toMatch(/median \(min-max\) of 3 run\(s\), interleaved/);
    const doc = JSON.parse(readFileSync(join(dir, 'three', 'bench.json'), 'utf8')) as {
      results: { readMs: number[]; readSpread: { min: number; median: number; max: number } }[];
    };
    for (const x of doc.results) {
      expect(x.readMs).toHaveLength(3);
      expect(x.readSpread).toEqual({
        min: Math.min(...x.readMs),
        median: median([...x.readMs]),
        max: Math.max(...x.readMs),
      });
    }
  });

  it('bench refuses bad arguments with exit 2', () => {
    for (const args of [
      ['bench', '--codecs', 'brotli'],
      ['bench', '--runs', '0'],
      ['bench', 'f.h5', '--synthetic', '1MiB'],
      ['bench', '--synthetic', '10B'],
      ['bench', '--chunk-bytes', 'x'],
      ['bench', '--budget', 'soon'],
      ['bench', '--budget', '0s'],
      ['bench', 'f.h5', '--sample', 'lots'],
      ['bench', 'f.h5', '--seed', '-1'],
      ['bench', '--synthetic', '1MiB', '--sample', '1MiB'],
    ]) {
      expect(h5vault(args).status, args.join(' ')).toBe(2);
    }
    expect(h5vault(['bench', join(dir, 'absent.h5')]).status).toBe(3);
  });

  it('demo: save, zero-copy load, short bench, chart', () => {
    const out = join(dir, 'demo');
    const r = h5vault(['demo', '--size', '512KiB', '--out', out, '--json']);
    expect(r.status, r.stderr).toBe(0);
    const doc = json<{
      tensors: number;
      zeroCopy: number;
      files: { svg: string; json: string };
      bench: { results: unknown[] };
    }>(r);
    expect(doc.zeroCopy).toBe(doc.tensors);
    expect(doc.bench.results).toHaveLength(DEFAULT_CODECS.length);
    expect(existsSync(doc.files.svg) && existsSync(join(out, 'model.h5'))).toBe(true);
    const human = h5vault(['demo', '--size', '256KiB', '--out', out]);
    expect(human.status).toBe(0);
    expect(human.stdout).toMatch(/tensors mapped zero-copy, all checksums verified/);
    expect(human.stdout).toContain(`chart: ${join(out, 'bench.svg')}`);
  }, 300_000); // every default configuration twice (20), on a shared machine
});
