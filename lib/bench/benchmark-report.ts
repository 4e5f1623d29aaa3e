import { cpus, loadavg, totalmem } from 'node:os';
import { libraryInfo } from '../h5/runtime.js';
import { formatMs, median } from '../cli/output.js';
import type { BenchmarkReport, CodecResult, MachineInfo, Spread } from './benchmark-types.js';

export function spread(xs: readonly number[]): Spread {
  return { min: Math.min(...xs), median: median([...xs]), max: Math.max(...xs) };
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
