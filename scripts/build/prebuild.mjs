#!/usr/bin/env node
// Builds the prebuilt linux-x64 binary that ships in the npm package:
//   prebuilds/linux-x64/h5vault.node     the addon, DT_RPATH $ORIGIN/lib
//   prebuilds/linux-x64/lib/*.so.*       every shared library it needs except
//                                        glibc, libstdc++ and libgcc_s (which any
//                                        Linux that runs Node has loaded already)
//   prebuilds/linux-x64/licenses/        the Debian copyright file of each
//   prebuilds/linux-x64/manifest.json    oldest glibc it runs on, bundled list
// Run on Debian 12 with the -dev packages installed (scripts/bootstrap.sh).
//
// Why shared libraries and not static ones: libhdf5 is built with the read-only
// S3 driver, which needs libcurl and libcrypto, and Debian has no static build
// of libcurl's dependencies (gnutls, krb5, ldap, ...). And HDF5 filter plugins
// (HDF5_PLUGIN_PATH) are linked against libhdf5_serial.so.103: with the bundled
// .so already loaded under that soname, a plugin binds to the very libhdf5
// h5vault uses, where a static copy inside the addon would give the process two.
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
import { nodeDir } from './node-headers.mjs';

const root = realpathSync(new URL('../..', import.meta.url).pathname);
if (process.platform !== 'linux' || process.arch !== 'x64') {
  console.error(`prebuild: only linux-x64 is prebuilt (this is ${process.platform}-${process.arch})`);
  process.exit(2);
}
const target = 'linux-x64';
const out = join(root, 'prebuilds', target);
const sh = (cmd, args, opts = {}) => execFileSync(cmd, args, { encoding: 'utf8', ...opts });

// 1. Build in a scratch copy of the build inputs.
const work = mkdtempSync(join(tmpdir(), 'h5vault-prebuild-'));
for (const n of ['native', 'scripts', 'node_modules']) symlinkSync(join(root, n), join(work, n));
for (const n of ['binding.gyp', 'package.json']) copyFileSync(join(root, n), join(work, n));
const dir = nodeDir();
const nodeGyp = [
  process.env.npm_config_node_gyp,
  join(
    realpathSync(process.execPath),
    '..',
    '..',
    'lib',
    'node_modules',
    'npm',
    'node_modules',
    'node-gyp',
    'bin',
    'node-gyp.js',
  ),
].find((c) => c && existsSync(c));
if (!nodeGyp) throw new Error('prebuild: node-gyp not found (it ships with npm)');
execFileSync(process.execPath, [nodeGyp, 'rebuild', '-j', '2', ...(dir ? [`--nodedir=${dir}`] : [])], {
  cwd: work,
  stdio: 'inherit',
  env: { ...process.env, H5VAULT_PREBUILD: '1', ...(dir ? { npm_config_nodedir: dir } : {}) },
});

// 2. The addon and the libraries it resolves to on this system.
rmSync(out, { recursive: true, force: true });
mkdirSync(join(out, 'lib'), { recursive: true });
mkdirSync(join(out, 'licenses'), { recursive: true });
const addon = join(out, 'h5vault.node');
copyFileSync(join(work, 'build', 'Release', 'h5vault.node'), addon);
sh('strip', ['--strip-unneeded', addon]);
rmSync(work, { recursive: true, force: true });

// Provided by every glibc system that runs Node; bundling them would be wrong (glibc) or redundant.
const SYSTEM =
  /^(linux-vdso|ld-linux|libc\.so|libm\.so|libdl\.so|libpthread\.so|librt\.so|libresolv\.so|libutil\.so|libstdc\+\+\.so|libgcc_s\.so)/;
const deps = [];
for (const line of sh('ldd', [addon]).split('\n')) {
  const m = /^\s*(\S+) => (\/\S+)/.exec(line);
  if (m && !SYSTEM.test(m[1])) deps.push({ soname: m[1], path: realpathSync(m[2]) });
  if (/not found/.test(line)) throw new Error(`prebuild: unresolved dependency: ${line.trim()}`);
}

function debPackage(path) {
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
  const { pkg, version } = debPackage(d.path);
  const copyright = `/usr/share/doc/${pkg.replace(/:.*/, '')}/copyright`;
  copyFileSync(copyright, join(out, 'licenses', `${pkg.replace(/:.*/, '')}.copyright`));
  bundled.push({ file: `lib/${d.soname}`, package: pkg.replace(/:.*/, ''), version });
}

// 3. The oldest glibc everything here runs on: the newest GLIBC_x.y symbol version referenced.
let glibc = '2.17';
let glibcxx = '3.4.0'; // libstdc++'s symbol version (3.4.30 = GCC 12)
const newer = (a, b) => {
  const x = a.split('.').map(Number);
  const y = b.split('.').map(Number);
  return x[0] !== y[0] ? x[0] > y[0] : (x[1] ?? 0) > (y[1] ?? 0);
};
for (const f of [addon, ...bundled.map((b) => join(out, b.file))]) {
  const symbols = sh('objdump', ['-T', f]);
  for (const m of symbols.matchAll(/\bGLIBC_(\d+\.\d+(?:\.\d+)?)\b/g)) if (newer(m[1], glibc)) glibc = m[1];
  for (const m of symbols.matchAll(/\bGLIBCXX_(\d+\.\d+\.\d+)\b/g))
    if (newer(m[1].split('.').slice(1).join('.'), glibcxx.split('.').slice(1).join('.'))) glibcxx = m[1];
}

const osRelease = readFileSync('/etc/os-release', 'utf8');
const builtOn = /^PRETTY_NAME="?([^"\n]*)"?/m.exec(osRelease)?.[1] ?? 'unknown';
writeFileSync(join(out, 'manifest.json'), `${JSON.stringify({ target, glibc, glibcxx, builtOn, bundled }, null, 2)}\n`);

// 4. Every dependency must now resolve inside the prebuild directory.
for (const line of sh('ldd', [addon]).split('\n')) {
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
