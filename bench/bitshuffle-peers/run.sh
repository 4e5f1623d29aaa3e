#!/usr/bin/env bash
# Bitshuffle (filter 32008) vs h5py, one interleaved run: 64 MiB float32
# ~N(0, 0.02), 1 MiB chunks, default blocks. LZ4: h5py through Debian's
# bitshuffle plugin; zstd-3: h5py with the plugin's transpose + zstandard over
# direct chunk I/O (Debian's 0.3.5 plugin has no zstd). Both sides read the
# same (h5py-written) file; sizes of all four files are listed.
#   bash bench/bitshuffle-peers/run.sh [rounds]   (needs npm run build:ts)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
cp "$here/py.py" "$work"/; sed "s#'../../dist/index.js'#'$here/../../dist/index.js'#" "$here/ours.mjs" > "$work/ours.mjs"
cd "$work"
export HDF5_PLUGIN_PATH=/usr/lib/x86_64-linux-gnu/hdf5/serial/plugins
/usr/bin/python3 -c "import numpy as np; np.random.default_rng(1).normal(0, 0.02, 16 << 20).astype('<f4').tofile('w.bin')"
for r in $(seq "${1:-1}"); do
  echo "round $r load $(cut -d' ' -f1 /proc/loadavg)" \
    "| write lz4: py $(/usr/bin/python3 py.py write-lz4) ours $(node ours.mjs write-lz4)" \
    "| write zstd: py $(/usr/bin/python3 py.py write-zstd) ours $(node ours.mjs write-zstd)" \
    "| read lz4: py $(/usr/bin/python3 py.py read-lz4 py-lz4.h5) ours $(node ours.mjs read-lz4 py-lz4.h5)" \
    "| read zstd: py $(/usr/bin/python3 py.py read-zstd py-zstd.h5) ours $(node ours.mjs read-zstd py-zstd.h5)"
done
/usr/bin/python3 - <<'PY'
import h5py, os
for n in ('py-lz4.h5', 'ours-lz4.h5', 'py-zstd.h5', 'ours-zstd.h5'):
    with h5py.File(n, 'r') as f:
        d = f['w']
        same = n.startswith('ours') and all(
            d.id.read_direct_chunk(d.id.get_chunk_info(i).chunk_offset) ==
            h5py.File(n.replace('ours', 'py'), 'r')['w'].id.read_direct_chunk(d.id.get_chunk_info(i).chunk_offset)
            for i in range(d.id.get_num_chunks()))
        print(f"{n}: {os.path.getsize(n)} bytes, ratio {d.nbytes / d.id.get_storage_size():.4f}" + (f", chunks identical to h5py's: {same}" if n.startswith('ours') else ''))
PY
