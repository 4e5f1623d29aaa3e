/** Process-wide settings and versions. */
import { native } from './binding.js';

export interface LibraryInfo {
  /** libhdf5 version the addon runs against, e.g. '1.10.8'. */
  hdf5: string;
  threadsafe: boolean;
  /** Size of the decode/encode thread pool. */
  threads: number;
}

export function libraryInfo(): LibraryInfo {
  return native.versions();
}

/** Sets the engine's pool size (0 = number of CPU cores). Returns the new size. */
export function setThreadPoolSize(n: number): number {
  if (!Number.isInteger(n) || n < 0 || n > 1024) throw new RangeError('pool size must be an integer from 0 to 1024');
  return native.setThreads(n);
}
