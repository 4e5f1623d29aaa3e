/**
 * Which native addon a process loads (local build or the prebuilt binary),
 * what libraryInfo() says about it, and the error when none can be loaded:
 * typed (H5_ADDON_UNAVAILABLE), saying what to run from the user's project,
 * and exit 69 from the CLI rather than "a bug in h5vault".
 * The whole install story (pack, fresh Debian root, no compiler) is
 * test/package/install-fresh-root.sh.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { H5Error, libraryInfo } from '../../lib/index.js';
import {
  glibcVersion,
  loadAddon,
  loadedLibstdcxx,
  locateAddon,
  buildFromSourceHint,
  PREBUILT_TARGETS,
  platformPackage,
  prebuildFor,
} from '../../lib/addon/locate.js';
import { tempDir } from '../helpers.js';
import { ensureBuilt, h5vault, ROOT } from '../cli/run.js';

beforeAll(() => ensureBuilt()); // the CLI tests run dist/cli/main.js

const pkgVersion = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

/** A prebuilt directory (prebuilds/<target>/ or a platform package) at `dir`, whose manifest asks for `glibc`. */
function writePrebuild(
  dir: string,
  target: string,
  glibc: string,
  node = 'not an ELF file',
  glibcxx = '3.4.0',
): string {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'h5vault.node'), node);
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify({ target, glibc, glibcxx, builtOn: 'test', bundled: [] }));
  return dir;
}

/** A package root with a prebuilds/linux-x64 directory whose manifest asks for `glibc`. */
function fakePackage(glibc: string | null, node = 'not an ELF file', glibcxx = '3.4.0'): string {
  const root = tempDir('h5vault-addon-');
  writeFileSync(join(root, 'package.json'), JSON.stringify({ name: 'h5vault', version: pkgVersion }));
  if (glibc !== null) writePrebuild(join(root, 'prebuilds/linux-x64'), 'linux-x64', glibc, node, glibcxx);
  return root;
}

/** A platform package @h5vault/<target>-gnu in `nodeModules`, as npm installs it. */
function installPlatformPackage(nodeModules: string, target: string): string {
  const dir = writePrebuild(join(nodeModules, platformPackage(target)), target, '2.17');
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: platformPackage(target), version: pkgVersion }));
  return dir;
}

function withoutOverride<T>(f: () => T): T {
  const saved = process.env.H5VAULT_BINDING;
  delete process.env.H5VAULT_BINDING;
  try {
    return f();
  } finally {
    if (saved !== undefined) process.env.H5VAULT_BINDING = saved;
  }
}

describe('prebuilt binary selection', () => {
  it('this test machine is glibc Linux (the prebuilt target)', () => {
    expect(process.platform).toBe('linux');
    expect(glibcVersion()).toMatch(/^2\.\d+$/);
  });

  it('a package without prebuilds/ and without its platform package has none, and names the package', () => {
    expect(prebuildFor(fakePackage(null))).toBe(
      'the prebuilt binary for linux-x64 is not installed: the package @h5vault/linux-x64-gnu ' +
        '(an optional dependency of h5vault that npm installs on linux-x64 with glibc) is not in node_modules ' +
        '(installed with --omit=optional, or a lockfile made without it?)',
    );
  });

  it('a prebuilt binary needing a newer glibc than the running one is not chosen', () => {
    expect(prebuildFor(fakePackage('99.0'))).toBe(
      `the prebuilt binary for linux-x64 needs glibc 99.0 or newer; this system has ${glibcVersion()}`,
    );
  });

  it('a prebuilt binary needing a newer libstdc++ than the one this process has loaded is not chosen', () => {
    const have = loadedLibstdcxx();
    expect(have).toMatch(/^3\.4\.\d+$/);
    expect(prebuildFor(fakePackage('2.17', 'x', '3.4.999'))).toBe(
      `the prebuilt binary for linux-x64 needs libstdc++ GLIBCXX_3.4.999 (GCC 12 or newer); this process has libstdc++.so.6.0.${have!.split('.')[2]}`,
    );
  });

  it('a prebuilt binary within the running glibc is chosen, with its manifest', () => {
    const root = fakePackage('2.17');
    const loc = prebuildFor(root);
    expect(loc).toMatchObject({
      origin: 'prebuilt',
      path: `${root}/prebuilds/linux-x64/h5vault.node`,
      manifest: { glibc: '2.17' },
    });
  });

  it('the platform package npm hoists beside h5vault (node_modules/@h5vault/linux-x64-gnu) is found', () => {
    const nm = join(tempDir('h5vault-project-'), 'node_modules');
    const root = join(nm, 'h5vault');
    mkdirSync(root, { recursive: true });
    const dir = installPlatformPackage(nm, 'linux-x64');
    expect(prebuildFor(root)).toMatchObject({ origin: 'prebuilt', path: `${dir}/h5vault.node` });
  });

  it("the platform package nested in h5vault's own node_modules is found", () => {
    const root = fakePackage(null);
    const dir = installPlatformPackage(join(root, 'node_modules'), 'linux-x64');
    expect(prebuildFor(root)).toMatchObject({ origin: 'prebuilt', path: `${dir}/h5vault.node` });
  });

  it("another platform's package is not taken: linux-arm64 looks for @h5vault/linux-arm64-gnu only", () => {
    const root = fakePackage(null);
    installPlatformPackage(join(root, 'node_modules'), 'linux-x64');
    expect(prebuildFor(root, 'linux-arm64')).toMatch(
      /^the prebuilt binary for linux-arm64 is not installed: the package @h5vault\/linux-arm64-gnu /,
    );
    const arm = installPlatformPackage(join(root, 'node_modules'), 'linux-arm64');
    expect(prebuildFor(root, 'linux-arm64')).toMatchObject({ path: `${arm}/h5vault.node` });
  });

  it('prebuilds/<target>/ in the package (a development checkout after npm run prebuild) wins over the platform package', () => {
    const root = fakePackage('2.17');
    installPlatformPackage(join(root, 'node_modules'), 'linux-x64');
    expect(prebuildFor(root)).toMatchObject({ path: `${root}/prebuilds/linux-x64/h5vault.node` });
  });

  it('h5vault lists every platform package in optionalDependencies at its own exact version', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
      optionalDependencies?: Record<string, string>;
      files: string[];
    };
    expect(pkg.optionalDependencies).toEqual({
      '@h5vault/linux-x64-gnu': pkgVersion,
      '@h5vault/linux-arm64-gnu': pkgVersion,
    });
    // The binaries are in those packages, not in this one.
    expect(pkg.files.filter((f) => f.startsWith('prebuilds'))).toEqual([]);
  });

  it('a local build wins over the prebuilt binary, in prebuilds/ or its platform package (npx h5vault-build must change what runs)', () => {
    const root = fakePackage('2.17');
    installPlatformPackage(join(root, 'node_modules'), 'linux-x64');
    mkdirSync(join(root, 'build/Release'), { recursive: true });
    writeFileSync(join(root, 'build/Release/h5vault.node'), '');
    expect(withoutOverride(() => locateAddon(root))).toMatchObject({
      origin: 'source',
      path: `${root}/build/Release/h5vault.node`,
    });
  });
});

describe('no usable addon', () => {
  it('neither a build nor a prebuilt binary: H5_ADDON_UNAVAILABLE saying what to run from the project', () => {
    let err: unknown;
    try {
      withoutOverride(() => locateAddon(fakePackage(null)));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(H5Error);
    const e = err as H5Error;
    expect(e.code).toBe('H5_ADDON_UNAVAILABLE');
    expect(e.reason).toBe('not-built');
    expect(e.message).toContain('npx h5vault-build');
    expect(e.message).toContain('sudo apt-get install g++ make python3 pkg-config libhdf5-dev');
    // The platform package it looked for, and how to install it.
    expect(e.message).toContain('the package @h5vault/linux-x64-gnu');
    expect(e.message).toContain(`npm install @h5vault/linux-x64-gnu@${pkgVersion}`);
    // Nothing that only exists in a development checkout.
    expect(e.message).not.toMatch(/bootstrap|scripts\//);
  });

  it("in a development checkout (git) the error names the checkout's build command instead", () => {
    const root = fakePackage(null);
    mkdirSync(join(root, '.git'));
    expect(() => withoutOverride(() => locateAddon(root))).toThrow(
      /In this checkout of h5vault: bash scripts\/dev\/bootstrap\.sh/,
    );
  });

  it('a binary the dynamic loader refuses: H5_ADDON_UNAVAILABLE with the loader message', () => {
    const root = fakePackage('2.17');
    const loc = prebuildFor(root);
    if (typeof loc === 'string') throw new Error(loc);
    let err: unknown;
    try {
      loadAddon(loc, (p) => {
        throw new Error(`${p}: invalid ELF header`);
      });
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ code: 'H5_ADDON_UNAVAILABLE', reason: 'load-failed' });
    expect((err as Error).message).toContain('invalid ELF header');
    expect((err as Error).message).toContain('npx h5vault-build');
  });

  it('the CLI exits 69 with the code and the fix, and does not call it a bug', () => {
    const r = h5vault(['ls', 'x.h5'], { H5VAULT_BINDING: join(fakePackage(null), 'missing.node') });
    expect(r.status).toBe(69);
    expect(r.stderr).toContain('[H5_ADDON_UNAVAILABLE]');
    expect(r.stderr).toContain('H5VAULT_BINDING points at it');
    expect(r.stderr).not.toContain('bug in h5vault');
  });

  it('--help and --version work without an addon', () => {
    const env = { H5VAULT_BINDING: join(fakePackage(null), 'missing.node') };
    expect(h5vault(['--version'], env).stdout.trim()).toBe(pkgVersion);
    expect(h5vault(['--help'], env).status).toBe(0);
  });
});

/** The H5Error locateAddon throws for `root` as seen from `target` (another platform, simulated). */
function unavailable(root: string, target: string): H5Error {
  try {
    withoutOverride(() => locateAddon(root, target));
  } catch (e) {
    if (e instanceof H5Error) return e;
    throw e;
  }
  throw new Error(`an addon was found for ${target}`);
}

describe('platforms', () => {
  it('the targets named in errors are the ones prebuilt and packed (scripts/build/deps.mjs)', async () => {
    const deps = (await import(new URL('../../scripts/build/deps.mjs', import.meta.url).href)) as {
      PREBUILT_TARGETS: string[];
    };
    expect(PREBUILT_TARGETS).toEqual(deps.PREBUILT_TARGETS);
    expect(PREBUILT_TARGETS).toEqual(['linux-x64', 'linux-arm64']);
  });

  it('the build-from-source hint installs exactly the build tools and libraries of scripts/build/deps.mjs', async () => {
    type Dep = { apt: string; dnf: string; bin?: string };
    const deps = (await import(new URL('../../scripts/build/deps.mjs', import.meta.url).href)) as {
      PACKAGES: Dep[];
      BUILD_TOOLS: Dep[];
    };
    const hint = buildFromSourceHint('linux');
    const listed = (cmd: string) =>
      (hint.split('\n').find((l) => l.includes(cmd)) ?? '').split(cmd)[1].replace(/\).*$/, '').trim().split(/\s+/);
    const want = (k: 'apt' | 'dnf') => [...deps.BUILD_TOOLS, ...deps.PACKAGES].map((d) => d[k]);
    expect(listed('sudo apt-get install ').sort()).toEqual(want('apt').sort());
    expect(listed('sudo dnf install ').sort()).toEqual(want('dnf').sort());
  });

  it('npm installs the package on any platform (no os/cpu refusal: a Mac developer deploying to Linux)', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as Record<string, unknown>;
    expect(pkg.os).toBeUndefined();
    expect(pkg.cpu).toBeUndefined();
  });

  it('macOS (no prebuilt binary, no build): H5_ADDON_UNAVAILABLE says Linux only and how to run the code there', () => {
    const root = fakePackage('2.17');
    const e = unavailable(root, 'darwin-arm64');
    expect(e.code).toBe('H5_ADDON_UNAVAILABLE');
    expect(e.reason).toBe('not-built');
    expect(e).toMatchObject({ target: 'darwin-arm64' });
    expect(e.message).toContain(
      'there is no prebuilt binary for darwin-arm64 (h5vault ships them for linux-x64 and linux-arm64, with glibc)',
    );
    expect(e.message).toContain(
      'h5vault runs on Linux (prebuilt for linux-x64 and linux-arm64); darwin is not supported.',
    );
    expect(e.message).toContain('docker run --rm -it -v "$PWD":/app -w /app node:24');
    // Nothing that cannot work on a Mac: no apt-get, no checkout script.
    expect(e.message).not.toMatch(/apt-get|bootstrap|scripts\//);
  });

  it('linux-arm64 without its platform package: names the package, how to install it, and to build from source', () => {
    const e = unavailable(fakePackage('2.17'), 'linux-arm64');
    expect(e).toMatchObject({ code: 'H5_ADDON_UNAVAILABLE', reason: 'not-built', target: 'linux-arm64' });
    expect(e.message).toContain(
      'the prebuilt binary for linux-arm64 is not installed: the package @h5vault/linux-arm64-gnu',
    );
    expect(e.message).toContain(`npm install @h5vault/linux-arm64-gnu@${pkgVersion}`);
    expect(e.message).toContain('npx h5vault-build');
  });

  it('a linux-arm64 prebuilt binary is chosen for linux-arm64, not the x64 one', () => {
    const root = fakePackage('2.17');
    mkdirSync(join(root, 'prebuilds/linux-arm64'), { recursive: true });
    writeFileSync(join(root, 'prebuilds/linux-arm64/h5vault.node'), 'arm64');
    writeFileSync(
      join(root, 'prebuilds/linux-arm64/manifest.json'),
      JSON.stringify({ target: 'linux-arm64', glibc: '2.17', glibcxx: '3.4.0', builtOn: 'test', bundled: [] }),
    );
    expect(prebuildFor(root, 'linux-arm64')).toMatchObject({
      origin: 'prebuilt',
      path: `${root}/prebuilds/linux-arm64/h5vault.node`,
      manifest: { target: 'linux-arm64' },
    });
  });
});

describe('libraryInfo()', () => {
  it('reports the package version, the same one `h5vault --version` prints', () => {
    expect(libraryInfo().version).toBe(pkgVersion);
    expect(h5vault(['--version']).stdout.trim()).toBe(libraryInfo().version);
  });

  it('reports the addon loaded, its origin, and the libhdf5 file this process has mapped', () => {
    const info = libraryInfo();
    const override = process.env.H5VAULT_BINDING;
    expect(info.origin).toBe(override ? 'override' : 'source');
    expect(info.addon).toBe(override ?? join(ROOT, 'build/Release/h5vault.node'));
    expect(info.bundled).toEqual([]);
    expect(info.hdf5Library).toMatch(/\/libhdf5[^/]*\.so[.\d]*$/);
    expect(readFileSync('/proc/self/maps', 'utf8')).toContain(info.hdf5Library!);
    expect(info.hdf5).toMatch(/^1\.\d+\.\d+$/);
  });
});
