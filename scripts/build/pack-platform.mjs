#!/usr/bin/env node
// Packs the npm package of one platform's prebuilt binary, from prebuilds/<target>/
// (scripts/build/prebuild.mjs):
//   node scripts/build/pack-platform.mjs [TARGET...] [--pack-destination DIR]
//   (default: every PREBUILT_TARGETS of scripts/build/deps.mjs, into the current directory)
// gives @h5vault/<target>-gnu-<version>.tgz holding that directory as it is
// (h5vault.node with DT_RPATH=$ORIGIN/lib beside lib/, licenses/, manifest.json),
// a package.json with os/cpu/libc, so npm, pnpm, yarn and bun install it only
// where it runs, the same version as h5vault (which lists every one in
// optionalDependencies at that exact version), h5vault's LICENSE and a README.
// The main package ships no binary: each user downloads one platform's
// (docs/install.md, "The tarball"). lib/addon/locate.ts finds the installed one.
// It refuses a missing prebuild, or one older than the native sources, which
// would ship stale code.
import { execFileSync } from 'node:child_process';
import {
  copyFileSync,
  cpSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { PREBUILT_TARGETS } from './deps.mjs';

const root = new URL('../..', import.meta.url).pathname;
const args = process.argv.slice(2);
const at = args.indexOf('--pack-destination');
const dest = resolve(at >= 0 ? (args.splice(at, 2)[1] ?? '') : '.');
const targets = args.length ? args : PREBUILT_TARGETS;
const main = JSON.parse(readFileSync(`${root}package.json`, 'utf8'));
// npm's names for the CPUs (process.arch), as the targets spell them.
const CPU = { x64: 'x64', arm64: 'arm64' };

/** Why prebuilds/<target> cannot be packed, or null. */
function prebuildProblem(target) {
  const dir = `${root}prebuilds/${target}`;
  if (!existsSync(`${dir}/manifest.json`) || !existsSync(`${dir}/h5vault.node`)) {
    return `prebuilds/${target} is missing: run \`npm run prebuild:${target}\` first (Debian 12 x64; see scripts/build/prebuild.mjs)`;
  }
  const built = statSync(`${dir}/h5vault.node`).mtimeMs;
  const stale = [...listFiles(`${root}native`), `${root}binding.gyp`].filter((f) => statSync(f).mtimeMs > built);
  if (stale.length) {
    return `prebuilds/${target}/h5vault.node is older than ${stale[0].slice(root.length)}: run \`npm run prebuild:${target}\` again`;
  }
  return null;
}

function listFiles(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? listFiles(join(dir, e.name)) : [join(dir, e.name)],
  );
}

for (const target of targets) {
  const [os, arch] = target.split('-');
  if (!PREBUILT_TARGETS.includes(target) || !CPU[arch]) {
    console.error(`pack-platform: no platform package for ${target} (targets: ${PREBUILT_TARGETS.join(', ')})`);
    process.exit(2);
  }
  const problem = prebuildProblem(target);
  if (problem) {
    console.error(`pack-platform: ${problem}.`);
    process.exit(1);
  }
  const name = `@h5vault/${target}-gnu`;
  const stage = mkdtempSync(join(tmpdir(), 'h5vault-platform-'));
  try {
    // The directory as prebuild.mjs made it: the addon finds lib/ through its RPATH ($ORIGIN/lib).
    cpSync(`${root}prebuilds/${target}`, stage, { recursive: true });
    copyFileSync(`${root}LICENSE`, `${stage}/LICENSE`);
    const pkg = {
      name,
      version: main.version,
      description: `The prebuilt native addon of h5vault for ${os} ${arch} with glibc (installed by h5vault as an optional dependency)`,
      license: main.license,
      author: main.author,
      homepage: main.homepage,
      repository: main.repository,
      bugs: main.bugs,
      os: [os],
      cpu: [CPU[arch]],
      libc: ['glibc'],
      // Yarn's Plug'n'Play must put the .node file and its libraries on disk.
      preferUnplugged: true,
    };
    writeFileSync(`${stage}/package.json`, `${JSON.stringify(pkg, null, 2)}\n`);
    const manifest = JSON.parse(readFileSync(`${stage}/manifest.json`, 'utf8'));
    const hdf5 = manifest.bundled.find((b) => b.file.startsWith('lib/libhdf5'));
    writeFileSync(
      `${stage}/README.md`,
      `# ${name}

The prebuilt native addon of [h5vault](https://www.npmjs.com/package/h5vault) ${main.version}
for Linux ${arch} with glibc ${manifest.glibc} or newer. \`npm install h5vault\` installs
it on ${target} (an optional dependency, at h5vault's own version) and h5vault
loads it; install it by hand only where it was left out, at that same version.

- \`h5vault.node\`: the addon (Node-API, one binary for every Node line), which finds
  its libraries in \`lib/\` (its RPATH is \`$ORIGIN/lib\`);
- \`lib/\`: libhdf5 ${hdf5.version.split('+')[0]} built from Debian 12's source without the read-only S3
  driver, and Debian 12's codec libraries (lz4, libdeflate, liblzf, zstd, blosc, ...);
- \`licenses/\`: HDF5's licence and each bundled Debian package's copyright file;
- \`manifest.json\`: the oldest glibc it runs on, and each bundled file with its
  Debian package and version.

h5vault's own code is MIT (\`LICENSE\`). On another platform, or without this
package (\`npm install --omit=optional\`), build from source: \`npx h5vault-build\`
(see docs/install.md in the h5vault package).
`,
    );
    const out = execFileSync('npm', ['pack', '--silent', '--pack-destination', dest], {
      cwd: stage,
      encoding: 'utf8',
    }).trim();
    console.log(join(dest, out.split('\n').pop()));
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
}
