#!/usr/bin/env bash
# Issue 24's figures: 256 MiB float32 ~N(0, 0.02), 1 MiB chunks; h5vault vs h5py
# (Blosc through Debian's hdf5-filter-plugin-blosc-serial; zstd through direct
# chunk I/O + python3-zstandard, as no Debian zstd plugin exists), interleaved.
#   bash bench/codecs-peers/run.sh [rounds]   (needs npm run build:ts; writes ~1 GB in a temp dir)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
cp "$here"/*.py "$work"/; sed "s#'../../dist/index.js'#'$here/../../dist/index.js'#" "$here/ours.mjs" > "$work/ours.mjs"
cd "$work"
export HDF5_PLUGIN_PATH=/usr/lib/x86_64-linux-gnu/hdf5/serial/plugins
/usr/bin/python3 gen.py >/dev/null
for r in $(seq "${1:-3}"); do
  echo "round $r load $(cut -d' ' -f1 /proc/loadavg) py_blosc $(/usr/bin/python3 read.py blosc) ours_blosc $(node ours.mjs blosc)" \
       "py_zstd $(/usr/bin/python3 read.py zstd) ours_zstd $(node ours.mjs zstd) py_zwrite $(/usr/bin/python3 pyw.py) ours_zwrite $(node ours.mjs write)"
done
ls -l py-zstd2.h5 ours-zstd.h5 py-blosc.h5
