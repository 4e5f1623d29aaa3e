/** Process-wide settings and versions. */
import { addon, native } from '../addon/binding.js';
import { loadedHdf5Path, packageVersion, type AddonOrigin } from '../addon/locate.js';
import { checkInteger } from '../util/validate.js';

export interface LibraryInfo {
  /** libhdf5 version the addon runs against, e.g. '1.10.8'. */
  hdf5: string;
  threadsafe: boolean;
  /** Size of the decode/encode thread pool. */
  threads: number;
  /** h5vault's own version (package.json; the same string `h5vault --version` prints). */
  version: string;
  /**
   * Where the loaded addon came from: 'prebuilt' (shipped in the npm package, with
   * its libhdf5 and codec libraries bundled beside it), 'source' (compiled on this
   * machine against the system libhdf5), or 'override' (H5VAULT_BINDING).
   */
  origin: AddonOrigin;
  /** The addon file loaded. */
  addon: string;
  /** The libhdf5 shared library this process has mapped (null when it is not a separate .so, or not on Linux). */
  hdf5Library: string | null;
  /** For a prebuilt addon: the libraries bundled with it, with the Debian package and version each came from. */
  bundled: { file: string; package: string; version: string }[];
}

let cached: { version: string; hdf5Library: string | null } | undefined;

export function libraryInfo(): LibraryInfo {
  cached ??= { version: packageVersion(), hdf5Library: loadedHdf5Path() };
  return {
    ...native.versions(),
    ...cached,
    origin: addon.origin,
    addon: addon.path,
    bundled: addon.manifest?.bundled ?? [],
  };
}

/** Sets the engine's pool size (0 = number of CPU cores). Returns the new size. */
export function setThreadPoolSize(n: number): number {
  checkInteger(n, 'pool size', 0, 1024);
  return native.setThreads(n);
}
