#!/usr/bin/env bash
# Makes this checkout ready to run: system packages (Debian/Ubuntu: installed
# with apt-get as root or via sudo; elsewhere printed), npm dependencies, the
# native addon and the TypeScript build. Idempotent and quick when up to date.
#   bash scripts/dev/bootstrap.sh [--quiet] [--no-peers]
# --no-peers (npm run demo) installs only the build dependencies (about 107 MB),
# not the interop peers the tests use (h5py, torch, onnx, a Ceph cluster: 1.6 GB).
set -euo pipefail
cd "$(dirname "$0")/../.."

QUIET=0; PEERS=1
for a in "$@"; do
  case "$a" in
    --quiet) QUIET=1 ;;
    --no-peers) PEERS=0 ;;
  esac
done
say() { [ "$QUIET" = 1 ] || echo "bootstrap: $*"; }

# Build libraries + tools, and the interop peers the tests use.
BUILD_PKGS="pkg-config g++ make cmake python3 libhdf5-dev liblz4-dev libdeflate-dev liblzf-dev libzstd-dev libblosc-dev libaec-dev zlib1g-dev"
# The peer list lives in scripts/build/deps.mjs (one list for every script). Note
# hdf5-filter-plugin: python3-hdf5plugin only *recommends* it, and without it
# h5py cannot write LZ4 and Debian's LZF plugin fails to load inside Python.
# S3_PACKAGES: the Ceph cluster (scripts/dev/s3-cluster.sh) the S3 store tests start.
PEER_PKGS=$(node --input-type=module -e "import { PEER_PACKAGES, S3_PACKAGES } from './scripts/build/deps.mjs'; console.log([...PEER_PACKAGES, ...S3_PACKAGES].join(' '))")
want="$BUILD_PKGS"
[ "$PEERS" = 1 ] && want="$want $PEER_PKGS"

missing=""
if command -v dpkg-query >/dev/null 2>&1; then
  for p in $want; do
    st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    [ "$st" = "install ok installed" ] || missing="$missing $p"
  done
fi

if [ -n "$missing" ]; then
  if command -v apt-get >/dev/null 2>&1; then
    SUDO=""
    if [ "$(id -u)" != 0 ]; then
      if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
        echo "bootstrap: missing packages:$missing" >&2
        echo "bootstrap: run as root: apt-get install -y$missing" >&2
        exit 1
      fi
    fi
    say "installing:$missing"
    # Some peers pull in ca-certificates, whose trigger rebuilds the CA bundle
    # from packaged and /usr/local/share certificates only: a certificate added
    # to the bundle directly (a proxy's CA, as on CI machines and in fresh
    # roots) would be dropped, and npm would then fail with
    # SELF_SIGNED_CERT_IN_CHAIN. Keep what apt writes and add the old bundle back.
    ca=/etc/ssl/certs/ca-certificates.crt
    ca_saved=""
    if [ -f "$ca" ]; then ca_saved=$(mktemp); cp "$ca" "$ca_saved"; fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
    if [ -n "$ca_saved" ]; then
      if ! cmp -s "$ca" "$ca_saved"; then $SUDO sh -c "cat '$ca_saved' >> '$ca'"; fi
      rm -f "$ca_saved"
    fi
  else
    echo "bootstrap: not a Debian/Ubuntu system; install the equivalents of:$missing" >&2
    echo "  Fedora: sudo dnf install hdf5-devel lz4-devel libdeflate-devel liblzf-devel libzstd-devel blosc-devel pkgconf cmake gcc-c++" >&2
    echo "  (macOS and Windows are not supported: docs/install.md)" >&2
    exit 1
  fi
elif ! command -v dpkg-query >/dev/null 2>&1; then
  node scripts/build/check-deps.mjs
fi

# npm dependencies (the package has no install or prepare script: the addon and
# dist/ are built below).
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "npm ci"
  # onnxruntime-node (a devDependency) would otherwise download CUDA provider
  # libraries from outside the npm registry in its postinstall on linux/x64;
  # its CPU runtime, all h5vault uses, is in the npm tarball. The variable is
  # what its install script reads (a project .npmrc key made npm warn
  # 'Unknown project config' on every command).
  ONNXRUNTIME_NODE_INSTALL=skip npm ci --no-audit --no-fund >/dev/null
fi

# Rebuild the addon if any native source is newer than it.
addon=build/Release/h5vault.node
if [ ! -f "$addon" ] || [ -n "$(find native binding.gyp -newer "$addon" -print -quit)" ]; then
  say "building the native addon (node-gyp)"
  npm run --silent build:native >/dev/null
fi
# Recompile TypeScript if any lib/ source is newer than dist/.
if [ ! -f dist/index.js ] || [ -n "$(find lib -newer dist/index.js -print -quit)" ]; then
  say "compiling TypeScript"
  npm run --silent build:ts
fi
say "ready"
