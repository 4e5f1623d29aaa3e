import type { CompressionName } from '../h5/group.js';
import type { CodecConfig } from './benchmark-codecs.js';

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
