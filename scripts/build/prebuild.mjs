#!/usr/bin/env node
// Builds a prebuilt binary for one target, which scripts/build/pack-platform.mjs
// then packs as the npm package @h5vault/<target>-gnu:
//   node scripts/build/prebuild.mjs [linux-x64|linux-arm64]     (default: this machine's)
//   prebuilds/<target>/h5vault.node     the addon, DT_RPATH $ORIGIN/lib
//   prebuilds/<target>/lib/*.so.*       every shared library it needs except
//                                       glibc, libstdc++ and libgcc_s (which any
//                                       Linux that runs Node has loaded already)
//   prebuilds/<target>/licenses/        the Debian copyright file of each
//   prebuilds/<target>/manifest.json    oldest glibc it runs on, bundled list
// Run on Debian 12 (x64). The native target uses this machine's -dev packages
// (scripts/dev/bootstrap.sh); another architecture is cross-compiled with Debian's
// cross compiler (g++-aarch64-linux-gnu) against a sysroot of that
// architecture's Debian 12 packages (scripts/build/sysroot.sh: the same -dev
// packages, from scripts/build/deps.mjs), and its libraries are bundled from there.
// The libraries are found by reading the ELF files (readelf), not by asking the
// loader, so one procedure serves every architecture; the result is then
// checked with the target's real loader (ldd, or ld.so --list under qemu-user).
//
// The libhdf5 is not Debian's binary package: Debian's libhdf5_serial.so.103
// is built with the read-only S3 driver (ROS3), which NEEDs libcurl and
// libcrypto, and bundling those (with gnutls, krb5, ldap, ssh2, ... : 21 of the
// 24 MB unpacked) would ship copies that get no distribution security updates,
// for a driver h5vault does not use (lazy s3:// reads go through its own range
// driver, native/h5/range_vfd.cc, docs/object-storage.md). scripts/build/libhdf5.sh
// builds the same version from Debian's source package, with Debian's patches
// and serial-flavour configuration, without ROS3 (cached in
// /var/cache/h5vault-hdf5/<target>); the addon is compiled and linked against
// it (H5VAULT_HDF5_PREFIX, read by scripts/build/pkg-config.mjs) and it is
// bundled with the source's COPYING. It is built for size (-Os; docs/install.md
// has the tarball and speed figures), and the few high-level H5DS functions
// the addon calls are linked into it from the same build's static libhdf5_hl.a
// (binding.gyp), so no libhdf5_serial_hl.so.100 is bundled.
//
// Why shared libraries and not static ones: HDF5 filter plugins
// (HDF5_PLUGIN_PATH) are linked against libhdf5_serial.so.103: with the bundled
// .so already loaded under that soname (and with Debian's symbol versions), a
// plugin binds to the very libhdf5 h5vault uses, where a static copy inside the
// addon would give the process two. The codec libraries (lz4, zstd, blosc, ...)
// are Debian's own shared libraries, with their copyright files.
//
// It builds in a temporary directory, so a development build in build/ is left alone.
import { execFileSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  realpathSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { PACKAGES } from './deps.mjs';
import { nodeDir, nodeGypBin } from './node-headers.mjs';

const root = realpathSync(new URL('../..', import.meta.url).pathname);
// The targets this script can make, all from an x64 Debian 12. `deb` is the
// Debian architecture, `triplet` its multiarch directory and tool prefix.
const TARGETS = {
  'linux-x64': { deb: 'amd64', triplet: 'x86_64-linux-gnu', gyp: 'x64', loader: 'ld-linux-x86-64.so.2' },
  'linux-arm64': {
    deb: 'arm64',
    triplet: 'aarch64-linux-gnu',
    gyp: 'arm64',
    loader: 'ld-linux-aarch64.so.1',
    qemu: 'qemu-aarch64-static',
  },
};
const host = `${process.platform}-${process.arch}`;
const target = process.argv[2] ?? host;
const t = TARGETS[target];
if (host !== 'linux-x64' || !t) {
  console.error(`prebuild: builds ${Object.keys(TARGETS).join(', ')} on linux-x64 (asked for ${target} on ${host})`);
  process.exit(2);
}
const native = target === host;
const out = join(root, 'prebuilds', target);
const sh = (cmd, args, opts = {}) => execFileSync(cmd, args, { encoding: 'utf8', ...opts });
const have = (bin) => {
  try {
    sh('sh', ['-c', `command -v ${bin}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
};

// 0. Where the target's libraries live: this system, or a sysroot of the
// target's Debian packages (the -dev packages of scripts/build/deps.mjs, plus the C
// and C++ runtimes for the loader check below).
let sysroot = '/';
const buildEnv = { H5VAULT_PREBUILD: '1' };
if (!native) {
  for (const bin of [`${t.triplet}-g++`, t.qemu]) {
    if (!have(bin)) {
      console.error(`prebuild: ${bin} is missing: apt-get install g++-${t.triplet} qemu-user-static`);
      process.exit(2);
    }
  }
  sysroot = process.env.H5VAULT_SYSROOT ?? `/var/cache/h5vault-sysroot/${target}-dev`;
  const pkgs = [...PACKAGES.map((p) => p.apt), 'libc6-dev', 'libstdc++6'];
  execFileSync('bash', [join(root, 'scripts', 'build', 'sysroot.sh'), t.deb, sysroot, ...pkgs], { stdio: 'inherit' });
  const s = `--sysroot=${sysroot}`;
  Object.assign(buildEnv, {
    CC: `${t.triplet}-gcc`,
    CXX: `${t.triplet}-g++`,
    LINK: `${t.triplet}-g++`,
    CFLAGS: s,
    CXXFLAGS: s,
    LDFLAGS: s,
    // scripts/pkg-config.mjs then prints the sysroot's flags.
    PKG_CONFIG_SYSROOT_DIR: sysroot,
    PKG_CONFIG_LIBDIR: `${sysroot}/usr/lib/${t.triplet}/pkgconfig:${sysroot}/usr/share/pkgconfig`,
    PKG_CONFIG_SYSTEM_INCLUDE_PATH: `${sysroot}/usr/include`,
    PKG_CONFIG_SYSTEM_LIBRARY_PATH: `${sysroot}/usr/lib/${t.triplet}:${sysroot}/usr/lib`,
  });
}

// 0b. The libhdf5 without ROS3, for this target (built once, then cached).
const hdf5Dir = process.env.H5VAULT_HDF5_DIR ?? `/var/cache/h5vault-hdf5/${target}`;
execFileSync('bash', [join(root, 'scripts', 'build', 'libhdf5.sh'), target, hdf5Dir, ...(native ? [] : [sysroot])], {
  stdio: 'inherit',
});
const hdf5Source = readFileSync(join(hdf5Dir, 'source'), 'utf8').trim();
buildEnv.H5VAULT_HDF5_PREFIX = hdf5Dir;

// 1. Build in a scratch copy of the build inputs. (Node-API headers are the
// same for every architecture: this Node's serve the cross build too.)
const work = mkdtempSync(join(tmpdir(), 'h5vault-prebuild-'));
for (const n of ['native', 'scripts', 'node_modules']) symlinkSync(join(root, n), join(work, n));
for (const n of ['binding.gyp', 'package.json']) copyFileSync(join(root, n), join(work, n));
const dir = nodeDir();
const nodeGyp = nodeGypBin();
execFileSync(
  process.execPath,
  [nodeGyp, 'rebuild', '-j', '2', `--arch=${t.gyp}`, ...(dir ? [`--nodedir=${dir}`] : [])],
  {
    cwd: work,
    stdio: 'inherit',
    env: { ...process.env, ...buildEnv, ...(dir ? { npm_config_nodedir: dir } : {}) },
  },
);

// 2. The addon and the libraries it needs, found in the target's tree.
rmSync(out, { recursive: true, force: true });
mkdirSync(join(out, 'lib'), { recursive: true });
mkdirSync(join(out, 'licenses'), { recursive: true });
const addon = join(out, 'h5vault.node');
copyFileSync(join(work, 'build', 'Release', 'h5vault.node'), addon);
sh(native ? 'strip' : `${t.triplet}-strip`, ['--strip-unneeded', addon]);
rmSync(work, { recursive: true, force: true });

// Provided by every glibc system that runs Node; bundling them would be wrong (glibc) or redundant.
const SYSTEM =
  /^(linux-vdso|ld-linux|libc\.so|libm\.so|libdl\.so|libpthread\.so|librt\.so|libresolv\.so|libutil\.so|libstdc\+\+\.so|libgcc_s\.so)/;
const machine = (f) => /^\s*Machine:\s*(.*)$/m.exec(sh('readelf', ['-h', f]))?.[1].trim();
const addonMachine = machine(addon);
// Our libhdf5 first (as the addon was linked), then the loader's search without
// RPATH: the multiarch directory, then /usr/lib.
const libDirs = [join(hdf5Dir, 'lib'), ...[`usr/lib/${t.triplet}`, 'usr/lib'].map((d) => join(sysroot, d))];
const needed = (f) =>
  [...sh('readelf', ['-d', '-W', f]).matchAll(/\(NEEDED\)\s+Shared library: \[([^\]]+)\]/g)].map((m) => m[1]);
function resolve(soname) {
  for (const d of libDirs) {
    const p = join(d, soname);
    if (existsSync(p) && machine(p) === addonMachine) return realpathSync(p);
  }
  throw new Error(`prebuild: unresolved dependency ${soname} (looked in ${libDirs.join(', ')})`);
}
const deps = [];
const queue = needed(addon);
const seen = new Set();
while (queue.length) {
  const soname = queue.shift();
  if (seen.has(soname) || SYSTEM.test(soname)) continue;
  seen.add(soname);
  const path = resolve(soname);
  deps.push({ soname, path });
  queue.push(...needed(path));
}

// Which Debian package a file came from, and its version: dpkg's database on
// this system, the index scripts/build/sysroot.sh wrote for a sysroot.
const sysrootIndex = native
  ? null
  : new Map(
      readFileSync(join(sysroot, 'var/lib/h5vault-sysroot/files'), 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => l.split('\t'))
        .map(([p, pkg, version]) => [p, { pkg, version }]),
    );
function debPackage(path) {
  if (sysrootIndex) {
    const found = sysrootIndex.get(`/${path.slice(sysroot.length).replace(/^\/+/, '')}`);
    if (found) return found;
  } else {
    for (const p of [path, path.replace(/^\/usr\/lib\//, '/lib/'), path.replace(/^\/lib\//, '/usr/lib/')]) {
      try {
        const pkg = sh('dpkg-query', ['-S', p], { stdio: ['ignore', 'pipe', 'ignore'] }).split(':')[0];
        // biome-ignore lint/suspicious/noTemplateCurlyInString: ${Version} is dpkg-query's own format field, passed literally
        const version = sh('dpkg-query', ['-W', '-f=${Version}', pkg]);
        return { pkg, version };
      } catch {
        // Try the other spelling of the path (merged /usr).
      }
    }
  }
  throw new Error(`prebuild: no Debian package owns ${path}; cannot record its license`);
}

const bundled = [];
for (const d of deps) {
  const rpath = sh('readelf', ['-d', d.path]);
  if (/R(UN)?PATH/.test(rpath))
    throw new Error(
      `prebuild: ${d.path} has its own RPATH/RUNPATH; the addon's RPATH would not reach its dependencies`,
    );
  copyFileSync(d.path, join(out, 'lib', d.soname));
  if (d.path.startsWith(`${realpathSync(hdf5Dir)}/`)) {
    copyFileSync(join(hdf5Dir, 'COPYING'), join(out, 'licenses', 'hdf5.COPYING'));
    bundled.push({
      file: `lib/${d.soname}`,
      package: 'hdf5',
      version: hdf5Source,
      builtFrom: `Debian source package hdf5 ${hdf5Source}, without the ROS3 driver (scripts/build/libhdf5.sh)`,
    });
    continue;
  }
  const { pkg, version } = debPackage(d.path);
  const name = pkg.replace(/:.*/, '');
  copyFileSync(join(sysroot, 'usr/share/doc', name, 'copyright'), join(out, 'licenses', `${name}.copyright`));
  bundled.push({ file: `lib/${d.soname}`, package: name, version });
}

// 3. The oldest glibc everything here runs on: the newest GLIBC_x.y version needed.
let glibc = '2.17';
let glibcxx = '3.4.0'; // libstdc++'s symbol version (3.4.30 = GCC 12)
const newer = (a, b) => {
  const x = a.split('.').map(Number);
  const y = b.split('.').map(Number);
  return x[0] !== y[0] ? x[0] > y[0] : (x[1] ?? 0) > (y[1] ?? 0);
};
for (const f of [addon, ...bundled.map((b) => join(out, b.file))]) {
  // The version-needs section: what each file asks of glibc and libstdc++.
  const versions = sh('readelf', ['-V', '-W', f]);
  for (const m of versions.matchAll(/Name: GLIBC_(\d+\.\d+(?:\.\d+)?)\b/g)) if (newer(m[1], glibc)) glibc = m[1];
  for (const m of versions.matchAll(/Name: GLIBCXX_(\d+\.\d+\.\d+)\b/g))
    if (newer(m[1].split('.').slice(1).join('.'), glibcxx.split('.').slice(1).join('.'))) glibcxx = m[1];
}

const osRelease = readFileSync('/etc/os-release', 'utf8');
const hostOs = /^PRETTY_NAME="?([^"\n]*)"?/m.exec(osRelease)?.[1] ?? 'unknown';
const builtOn = native
  ? hostOs
  : `${hostOs}, cross-compiled by ${sh(`${t.triplet}-g++`, ['-dumpfullversion']).trim().replace(/^/, `${t.triplet}-g++ `)} against Debian 12 ${t.deb} packages`;
writeFileSync(join(out, 'manifest.json'), `${JSON.stringify({ target, glibc, glibcxx, builtOn, bundled }, null, 2)}\n`);

// 4. The target's own loader must now find every dependency inside the prebuild directory.
const listing = native
  ? sh('ldd', [addon])
  : sh(t.qemu, ['-L', sysroot, join(sysroot, 'usr/lib', t.loader), '--list', addon]);
for (const line of listing.split('\n')) {
  if (/not found/.test(line)) throw new Error(`prebuild: unresolved dependency: ${line.trim()}`);
  const m = /^\s*(\S+) => (\S+)/.exec(line);
  if (m && !SYSTEM.test(m[1]) && !m[2].startsWith(`${join(out, 'lib')}/`)) {
    throw new Error(`prebuild: ${m[1]} resolves to ${m[2]}, outside the bundle`);
  }
}
const size = bundled.reduce((n, b) => n + readFileSync(join(out, b.file)).length, readFileSync(addon).length);
console.log(
  `prebuild: ${target}: h5vault.node + ${bundled.length} libraries (${(size / 1048576).toFixed(1)} MiB), glibc >= ${glibc}, libstdc++ GLIBCXX_${glibcxx}`,
);
for (const b of bundled) console.log(`  ${basename(b.file).padEnd(28)} ${b.package} ${b.version}`);
