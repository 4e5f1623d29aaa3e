#!/usr/bin/env bash
# Proof that the npm package installs and works as a user gets it: packs this
# checkout (with the prebuilt linux-x64 binary), then installs the tarball into
# new projects inside fresh Debian 12 roots (scripts/fresh-root.sh):
#   bare    only Node: no compiler, no -dev package, no libhdf5. `npm install`
#           takes the prebuilt binary; ESM, CJS, strict TypeScript (node16,
#           nodenext: ESM and CJS, compiled and run; bundler), `npx h5vault demo`;
#           `--ignore-scripts` works too; with the prebuilt binary removed the
#           errors say what to run (and the CLI does not call it a bug).
#   source  the -dev packages and a compiler: `npx h5vault-build` compiles
#           against the system libhdf5, and the same scripts pass.
# Install times and the tarball size are printed (docs/install.md quotes them).
#   bash test/package/install-fresh-root.sh [all|bare|source]     (root; CI runs it)
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$(pwd)
which=${1:-all}
work=$(mktemp -d /var/tmp/h5vault-package.XXXXXX)
roots=()
cleanup() {
  local r
  for r in "${roots[@]}"; do bash scripts/fresh-root.sh destroy "$r"; done
  rm -rf "$work"
}
trap cleanup EXIT
say() { echo "package-test: $*"; }

# 1. Pack, as `npm publish` would (prepack compiles dist/ and checks the prebuild).
say "building the prebuilt binary"
# (made here unless present; prepack refuses one older than the native sources)
[ -f prebuilds/linux-x64/manifest.json ] || npm run --silent prebuild:linux-x64
npm pack --silent --pack-destination "$work" >/dev/null
tgz=$(ls "$work"/h5vault-*.tgz)
say "tarball $(basename "$tgz"): $(stat -c %s "$tgz") bytes, $(tar -tzf "$tgz" | wc -l) files"

# The tarball holds what a user needs and nothing else.
list=$(tar -tzf "$tgz" | sed 's|^package/||')
fail() { echo "package-test: FAIL: $*" >&2; exit 1; }
for need in LICENSE README.md package.json dist/index.js dist/index.d.ts dist/index.d.cts dist/cli/main.js binding.gyp \
  scripts/install.mjs prebuilds/linux-x64/h5vault.node prebuilds/linux-x64/manifest.json docs/install.md; do
  grep -qx "$need" <<<"$list" || fail "missing from the tarball: $need"
done
grep -q '^prebuilds/linux-x64/licenses/libhdf5-103-1.copyright$' <<<"$list" || fail "no HDF5 license in the tarball"
bad=$(grep -E '\.map$|(^|/)test/|fuzz|asan|crash|bootstrap|\.ts$' <<<"$list" | grep -vE '\.d\.ts$' || true)
[ -z "$bad" ] || fail "the tarball ships development files: $bad"

project() { # ROOT DIR: a new project directory in a root, with the tarball and the consumer scripts
  mkdir -p "$1$2"
  cp "$tgz" "$1$2/h5vault.tgz"
  cp test/package/project/* "$1$2/"
}
# Seconds, with millisecond precision, of an install command run inside the root.
timed='t0=$(date +%s%N); "$@"; t1=$(date +%s%N); echo "package-test: TIME $label $(( (t1 - t0) / 1000000 )) ms"'

if [ "$which" = all ] || [ "$which" = bare ]; then
  bare="$work/bare"; roots+=("$bare")
  bash scripts/fresh-root.sh create "$bare"
  project "$bare" /proj
  project "$bare" /proj-noscripts
  project "$bare" /proj-noprebuild
  say "bare root (only Node): prebuilt install"
  bash scripts/fresh-root.sh run "$bare" '
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
    t install-prebuilt npm install --no-audit --no-fund ./h5vault.tgz 2>install.txt
    cat install.txt
    if grep -qi "install-scripts\|node-gyp" install.txt; then echo "npm warned at install" >&2; exit 1; fi
    EXPECT_ORIGIN=prebuilt node smoke.mjs
    EXPECT_ORIGIN=prebuilt node smoke.cjs

    # Strict TypeScript, as ESM and CommonJS projects see the package. skipLibCheck
    # stays on (as `tsc --init` writes it): the ONNX Runtime helpers of h5vault declare
    # their types with those of onnxruntime-node, an optional peer not installed here.
    npm install --no-audit --no-fund --loglevel=error typescript@~5.9 @types/node@^20.19 >/dev/null
    strict="--strict --skipLibCheck --target es2022 --types node"
    for m in node16 nodenext; do
      npx tsc $strict --module $m --moduleResolution $m --outDir out-$m typed.mts typed.cts
      node out-$m/typed.mjs
      node out-$m/typed.cjs
    done
    npx tsc $strict --module esnext --moduleResolution bundler --noEmit typed.mts typed.cts
    echo "package-test: typescript node16/nodenext (ESM+CJS) and bundler: ok"

    # --version and libraryInfo() agree; the demo runs.
    v=$(npx h5vault --version)
    lv=$(node -e "import(\"h5vault\").then((m) => console.log(m.libraryInfo().version))")
    [ "$v" = "$lv" ] || { echo "--version $v but libraryInfo().version $lv" >&2; exit 1; }
    npx h5vault demo --size 4MiB --out /tmp/demo

    # Install scripts off (pnpm 10, bun, --ignore-scripts): the same package, nothing to skip.
    cd /proj-noscripts && npm init -y >/dev/null
    t install-ignore-scripts npm install --no-audit --no-fund --loglevel=error --ignore-scripts ./h5vault.tgz
    EXPECT_ORIGIN=prebuilt node smoke.mjs

    # No usable prebuilt binary (simulated by deleting it): the import error and the
    # CLI say what to run from the project, and the CLI does not call it a bug.
    cd /proj-noprebuild && npm init -y >/dev/null
    npm install --no-audit --no-fund --loglevel=error --ignore-scripts ./h5vault.tgz
    rm -rf node_modules/h5vault/prebuilds
    if node smoke.mjs 2>err.txt; then echo "loaded without an addon?" >&2; exit 1; fi
    grep -q "H5_ADDON_UNAVAILABLE\|native addon is not built" err.txt
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
  bash scripts/fresh-root.sh create "$dev"
  project "$dev" /proj
  say "root with the -dev packages: npx h5vault-build"
  bash scripts/fresh-root.sh run "$dev" '
    set -euo pipefail
    t() { local label=$1; shift; '"$timed"'; }
    # ca-certificates (pulled in by some packages) would rebuild the CA bundle without
    # the certificate copied in from the host: keep it.
    ca=/etc/ssl/certs/ca-certificates.crt; cp $ca /tmp/ca.saved
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      g++ make python3 pkg-config libhdf5-dev liblz4-dev libdeflate-dev liblzf-dev >/dev/null
    cmp -s $ca /tmp/ca.saved || cat /tmp/ca.saved >> $ca
    cd /proj && npm init -y >/dev/null
    npm install --no-audit --no-fund --loglevel=error ./h5vault.tgz
    t install-from-source npx h5vault-build
    test -f node_modules/h5vault/build/Release/h5vault.node
    EXPECT_ORIGIN=source node smoke.mjs
    EXPECT_ORIGIN=source node smoke.cjs
    npx h5vault demo --size 4MiB --out /tmp/demo
    echo "package-test: source root ok"
  '
fi
say "ok"
