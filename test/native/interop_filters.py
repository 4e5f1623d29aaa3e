#!/usr/bin/python3
"""Manual interop check for the LZF (32000) and LZ4 (32004) filters against
real h5py + hdf5plugin (Debian: python3-h5py python3-hdf5plugin
hdf5-plugin-lzf hdf5-filter-plugin). Run with the system python:

    /usr/bin/python3 test/native/interop_filters.py write DIR
        writes DIR/h5py_<case>.h5 with h5py (+hdf5plugin) and DIR/<case>.bin,
        the expected little-endian bytes of dataset "d"
    /usr/bin/python3 test/native/interop_filters.py read DIR
        opens every DIR/h5v_<case>.h5 (written by h5vault's filters, dataset
        "d") with h5py and compares with DIR/<case>.bin; prints one line per
        file and exits non-zero on any mismatch

Not run by ctest (it needs the system python packages); see the report in
the commit that added it for the results.
"""
import glob
import math
import os
import sys
import zlib

import h5py
import hdf5plugin
import numpy as np

CASES = {
    # name: (dtype, shape, chunks, kwargs)
    "lzf_f32": ("<f4", (50000,), (12000,), dict(compression="lzf")),
    "lzf_f32_shuffle": ("<f4", (300, 170), (64, 170), dict(compression="lzf", shuffle=True)),
    "lzf_random_u8": ("u1", (40000,), (10000,), dict(compression="lzf")),
    "lz4_f32": ("<f4", (50000,), (12000,), dict(**hdf5plugin.LZ4())),
    "lz4_f32_block4k_shuffle": ("<f4", (300, 170), (64, 170), dict(shuffle=True, **hdf5plugin.LZ4(nbytes=4096))),
    "lz4_random_u8": ("u1", (40000,), (10000,), dict(**hdf5plugin.LZ4())),
    "lz4_i16": ("<i2", (33333,), (7000,), dict(**hdf5plugin.LZ4(nbytes=1000))),
}


def make(name, dtype, shape):
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    n = int(np.prod(shape))
    if "random" in name:
        return rng.integers(0, 256, size=shape, dtype=np.uint8)
    x = np.arange(n, dtype=np.float64)
    v = np.floor(np.sin(x * 0.01) * 64) / 256 + (rng.integers(0, 8, n) == 0) * rng.integers(0, 16, n) / 1024
    if dtype == "<i2":
        return (v * 20000).astype("<i2").reshape(shape)
    return v.astype(dtype).reshape(shape)


def write(d):
    os.makedirs(d, exist_ok=True)
    for name, (dtype, shape, chunks, kw) in CASES.items():
        data = make(name, dtype, shape)
        with h5py.File(os.path.join(d, f"h5py_{name}.h5"), "w") as f:
            f.create_dataset("d", data=data, chunks=chunks, **kw)
        data.astype(data.dtype.newbyteorder("<")).tofile(os.path.join(d, f"{name}.bin"))
        print(f"wrote h5py_{name}.h5 {data.dtype} {shape} chunks={chunks}")


def read(d):
    bad = 0
    files = sorted(glob.glob(os.path.join(d, "h5v_*.h5")))
    if not files:
        print("no h5v_*.h5 files to read")
        return 1
    for path in files:
        name = os.path.basename(path)[4:-3]
        try:
            with h5py.File(path, "r") as f:
                ds = f["d"]
                got = ds[()]
                want = np.fromfile(os.path.join(d, f"{name}.bin"), dtype=got.dtype).reshape(got.shape)
                ok = np.array_equal(got.view(np.uint8), want.view(np.uint8))
                print(f"{'ok  ' if ok else 'FAIL'} {os.path.basename(path)} filters={list(ds._filters)}")
                bad += not ok
        except Exception as e:  # noqa: BLE001 - report and continue
            print(f"FAIL {os.path.basename(path)}: {e}")
            bad += 1
    return 1 if bad else 0


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("write", "read"):
        print(__doc__)
        sys.exit(2)
    sys.exit(write(sys.argv[2]) if sys.argv[1] == "write" else read(sys.argv[2]))
