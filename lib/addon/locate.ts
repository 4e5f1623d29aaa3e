/**
 * Finds the native addon an installed h5vault should load, and says which one
 * it is. Two kinds exist:
 *  - 'source': build/Release/h5vault.node, compiled on this machine against
 *    the system libhdf5 (a development checkout, `npx h5vault-build`, or a
 *    platform without a prebuilt binary);
 *  - 'prebuilt': h5vault.node with the shared libraries it needs beside it
 *    (lib/, found through the addon's own RPATH, so no compiler, script or
 *    system library is needed), from the platform package npm installs as an
 *    optional dependency (@h5vault/linux-x64-gnu, @h5vault/linux-arm64-gnu:
 *    each user downloads one platform's binaries), or from
 *    prebuilds/<platform>-<arch>/ in this package (a development checkout after
 *    `npm run prebuild:<target>`, which is where the platform packages are made from).
 * A local build wins over the prebuilt one: asking for a build from source
 * must change what runs. When neither can be used, the error says what to
 * run from the user's project (no file in this package is needed for that).
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { H5Error } from '../errors.js';

export type AddonOrigin = 'prebuilt' | 'source' | 'override';

/** What prebuilds/<target>/manifest.json records about a prebuilt binary. */
export interface PrebuildManifest {
  target: string;
  /** The oldest glibc the addon and its bundled libraries can run on, e.g. '2.34'. */
  glibc: string;
  /** The newest libstdc++ symbol version it needs, e.g. '3.4.30' (GCC 12's; Node's own libstdc++ must have it). */
  glibcxx: string;
  /** Where it was built, e.g. 'Debian GNU/Linux 12 (bookworm)'. */
  builtOn: string;
  /** The shared libraries shipped beside the addon and the Debian package each came from. */
  bundled: { file: string; package: string; version: string }[];
}

export interface AddonLocation {
  path: string;
  origin: AddonOrigin;
  manifest: PrebuildManifest | null;
}

/** The installed package's root directory (this file is in lib/addon/ or dist/addon/). */
export const PACKAGE_ROOT = fileURLToPath(new URL('../..', import.meta.url)).replace(/\/$/, '');

const LOCAL_BUILDS = ['build/Release/h5vault.node', 'build-cmake/Release/h5vault.node', 'build/Debug/h5vault.node'];

/** `linux-x64`-style name of the platform this process runs on. */
export function platformTarget(): string {
  return `${process.platform}-${process.arch}`;
}

/** glibc version of this process ('2.36'), or null on musl and non-Linux systems. */
export function glibcVersion(): string | null {
  if (process.platform !== 'linux') return null;
  const header = (process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)?.header;
  return header?.glibcVersionRuntime ?? null;
}

function versionAtLeast(have: string, need: string): boolean {
  const a = have.split('.').map(Number);
  const b = need.split('.').map(Number);
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const x = a[i] ?? 0;
    const y = b[i] ?? 0;
    if (x !== y) return x > y;
  }
  return true;
}

export function readManifest(dir: string): PrebuildManifest | null {
  try {
    return JSON.parse(readFileSync(`${dir}/manifest.json`, 'utf8')) as PrebuildManifest;
  } catch {
    return null;
  }
}

/**
 * The platforms with a prebuilt binary, each in its platform package (the same list as
 * PREBUILT_TARGETS in scripts/build/deps.mjs, which makes and packs them; a test
 * checks that they agree, and that buildFromSourceHint installs deps.mjs's lists). Every one needs glibc.
 */
export const PREBUILT_TARGETS: readonly string[] = ['linux-x64', 'linux-arm64'];

/** The npm package holding the prebuilt binary for `target` ('linux-x64' -> '@h5vault/linux-x64-gnu'). */
export function platformPackage(target: string): string {
  return `@h5vault/${target}-gnu`;
}

/**
 * The directory holding `target`'s prebuilt h5vault.node, or null: first
 * prebuilds/<target>/ in the package root (a development checkout, where the
 * platform packages are made from), then the platform package, resolved as
 * h5vault itself would require it (from its own package.json, so npm's hoisted
 * layout, pnpm's .pnpm/h5vault@x/node_modules/ siblings and a nested copy all
 * work; not from the user's working directory).
 */
export function prebuildDir(root = PACKAGE_ROOT, target = platformTarget()): string | null {
  const local = `${root}/prebuilds/${target}`;
  if (existsSync(`${local}/h5vault.node`)) return local;
  if (!PREBUILT_TARGETS.includes(target)) return null;
  try {
    const req = createRequire(pathToFileURL(`${root}/package.json`));
    return dirname(req.resolve(`${platformPackage(target)}/h5vault.node`));
  } catch {
    return null;
  }
}

/**
 * The prebuilt addon for `target` (this platform), or why none can be used (a
 * string). Only glibc Linux has them: the manifest names the oldest glibc each runs on.
 */
export function prebuildFor(root = PACKAGE_ROOT, target = platformTarget()): AddonLocation | string {
  const dir = prebuildDir(root, target);
  if (dir === null) {
    return PREBUILT_TARGETS.includes(target)
      ? `the prebuilt binary for ${target} is not installed: the package ${platformPackage(target)} ` +
          `(an optional dependency of h5vault that npm installs on ${target} with glibc) is not in node_modules ` +
          '(installed with --omit=optional, or a lockfile made without it?)'
      : `there is no prebuilt binary for ${target} (h5vault ships them for ${PREBUILT_TARGETS.join(' and ')}, with glibc)`;
  }
  const path = `${dir}/h5vault.node`;
  const manifest = readManifest(dir);
  if (!manifest) return `${dir}/manifest.json is missing or unreadable`;
  const glibc = glibcVersion();
  if (glibc === null)
    return `the prebuilt binary for ${target} needs glibc, and this system's C library is not glibc (musl?)`;
  if (!versionAtLeast(glibc, manifest.glibc))
    return `the prebuilt binary for ${target} needs glibc ${manifest.glibc} or newer; this system has ${glibc}`;
  const cxx = loadedLibstdcxx();
  if (manifest.glibcxx && cxx && !versionAtLeast(cxx, manifest.glibcxx)) {
    return `the prebuilt binary for ${target} needs libstdc++ GLIBCXX_${manifest.glibcxx} (GCC 12 or newer); this process has libstdc++.so.6.0.${cxx.split('.')[2]}`;
  }
  return { path, origin: 'prebuilt', manifest };
}

/**
 * What to do without a usable addon, for a user standing in their own project
 * on `platform`: on Linux, build from source; elsewhere h5vault does not run
 * (the package installs, so a project can be written and type-checked there),
 * and the code runs on Linux: a container or the deployment machine.
 */
export function buildFromSourceHint(platform: string = process.platform): string {
  const linux = [
    'Build it from source, from your project directory (where your package.json is):',
    '  1. install a C++ compiler and the libraries (Debian/Ubuntu):',
    '       sudo apt-get install g++ make python3 pkg-config libhdf5-dev liblz4-dev libdeflate-dev liblzf-dev libzstd-dev libblosc-dev',
    '     (Fedora: sudo dnf install gcc-c++ make python3 pkgconf-pkg-config hdf5-devel lz4-devel libdeflate-devel liblzf-devel libzstd-devel blosc-devel)',
    '  2. npx h5vault-build',
    '     (pnpm exec / yarn exec / bunx h5vault-build likewise)',
    'See docs/install.md in the h5vault package.',
  ];
  if (platform === 'linux') return linux.join('\n');
  return [
    `h5vault runs on Linux (prebuilt for ${PREBUILT_TARGETS.join(' and ')}); ${platform} is not supported.`,
    'The package installs here, so you can write and type-check code against it; run that code on Linux,',
    'e.g. in a container from your project directory:',
    '  docker run --rm -it -v "$PWD":/app -w /app node:24 node your-script.mjs',
    '(node:24 is Debian-based: the prebuilt binary loads there, on x64 or arm64, with nothing to install.)',
    'See "Platforms" in docs/install.md in the h5vault package.',
  ].join('\n');
}

/** Which addon to load. Throws H5Error H5_ADDON_UNAVAILABLE (with the fix) when none can be. */
export function locateAddon(root = PACKAGE_ROOT, target = platformTarget()): AddonLocation {
  const override = process.env.H5VAULT_BINDING;
  if (override) return { path: override, origin: 'override', manifest: null };
  for (const rel of LOCAL_BUILDS) {
    const p = `${root}/${rel}`;
    if (existsSync(p)) return { path: p, origin: 'source', manifest: null };
  }
  const pre = prebuildFor(root, target);
  if (typeof pre !== 'string') return pre;
  // A development checkout (git) is built with its own scripts, not from a user's project.
  const checkout = existsSync(`${root}/.git`);
  let hint = checkout
    ? 'In this checkout of h5vault: bash scripts/dev/bootstrap.sh (or npm run build:native).'
    : buildFromSourceHint(target.split('-')[0]);
  // An installed h5vault without its platform package (--omit=optional, a lockfile
  // from another platform): installing that package is the quick fix.
  if (!checkout && PREBUILT_TARGETS.includes(target) && prebuildDir(root, target) === null) {
    let at = '';
    try {
      at = `@${packageVersion(root)}`;
    } catch {
      // No readable package.json: name the package without its version.
    }
    hint = `Install it (the same version as h5vault): npm install ${platformPackage(target)}${at}\nOr ${hint[0].toLowerCase()}${hint.slice(1)}`;
  }
  throw new H5Error(`h5vault's native addon is not built, and ${pre}.\n${hint}`, {
    code: 'H5_ADDON_UNAVAILABLE',
    reason: 'not-built',
    target,
  });
}

/** Loads the addon at `loc`; a loader failure (missing library, wrong ABI) becomes H5_ADDON_UNAVAILABLE. */
export function loadAddon<T>(loc: AddonLocation, load: (path: string) => T): T {
  try {
    return load(loc.path);
  } catch (e) {
    const why = e instanceof Error ? e.message.split('\n')[0] : String(e);
    const fix =
      loc.origin === 'source'
        ? 'The local build no longer matches this system (a library was removed or upgraded, or Node changed ABI).\n' +
          buildFromSourceHint()
        : loc.origin === 'prebuilt'
          ? buildFromSourceHint()
          : 'H5VAULT_BINDING points at it; unset it to use the installed addon.';
    throw new H5Error(`cannot load h5vault's ${loc.origin} native addon ${loc.path}: ${why}\n${fix}`, {
      code: 'H5_ADDON_UNAVAILABLE',
      reason: 'load-failed',
      target: platformTarget(),
    });
  }
}

/**
 * The GLIBCXX version ('3.4.30') of the libstdc++ this process has loaded (Node
 * links it), from its file name libstdc++.so.6.0.N, which provides GLIBCXX_3.4.N.
 * null when none is mapped (a Node with libstdc++ linked in): the loader decides.
 */
export function loadedLibstdcxx(): string | null {
  try {
    const m = /libstdc\+\+\.so\.6\.0\.(\d+)\s*$/m.exec(readFileSync('/proc/self/maps', 'utf8'));
    return m ? `3.4.${m[1]}` : null;
  } catch {
    return null;
  }
}

/** Path of the libhdf5 shared library mapped into this process, or null (linked statically, or no /proc). */
export function loadedHdf5Path(): string | null {
  try {
    for (const line of readFileSync('/proc/self/maps', 'utf8').split('\n')) {
      const i = line.indexOf('/');
      if (i >= 0 && /\/libhdf5[^/]*\.so[^/]*$/.test(line) && !/_hl|_cpp|fortran/.test(line.slice(i)))
        return line.slice(i);
    }
  } catch {
    // Not Linux: nothing to report.
  }
  return null;
}

/** The package's version (package.json), which `h5vault --version` prints too. */
export function packageVersion(root = PACKAGE_ROOT): string {
  return (JSON.parse(readFileSync(`${root}/package.json`, 'utf8')) as { version: string }).version;
}
