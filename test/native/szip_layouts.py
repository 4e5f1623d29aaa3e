"""Writes szip-compressed datasets with h5py (libhdf5's own szip filter) for
test_engine_szip.cc: both coding methods (nn, ec), every even pixels-per-block
value 2..32, 1/2/4/8-byte integer and float types in both byte orders, ranks
1-3 with partial edge chunks, and szip inside shuffle/fletcher32 pipelines.
Seeded, so the same files every run. Prints the number of datasets written."""
import sys

import h5py
import numpy as np

out = sys.argv[1]
rng = np.random.default_rng(20261129)
DTYPES = ["u1", "<i2", ">i2", "<u4", ">i4", "<f4", ">f4", "<f8", ">u8", "<i8"]
SHAPES = [((1000,), (96,)), ((37, 45), (8, 16)), ((9, 10, 11), (4, 4, 5)), ((64,), (64,))]
n = 0
with h5py.File(out, "w") as f:
    for coding in ("nn", "ec"):
        for ppb in range(2, 33, 2):
            for k, dt in enumerate(DTYPES):
                shape, chunks = SHAPES[(ppb // 2 + k) % len(SHAPES)]
                dtype = np.dtype(dt)
                if dtype.kind == "f":
                    data = (rng.standard_normal(shape) * 0.02).astype(dtype)
                else:
                    info = np.iinfo(dtype)
                    # Smooth-ish integers (szip's preprocessor codes differences).
                    base = np.cumsum(rng.integers(-3, 4, size=int(np.prod(shape)))).reshape(shape)
                    data = np.clip(base + int(info.min // 2 + info.max // 2), info.min, info.max).astype(dtype)
                extra = {}
                if (ppb + k) % 5 == 0:
                    extra = dict(shuffle=True, fletcher32=True)
                name = f"{coding}_ppb{ppb}_{dt.replace('<', 'le').replace('>', 'be')}"
                try:
                    f.create_dataset(name, data=data, chunks=chunks, compression="szip",
                                     compression_opts=(coding, ppb), **extra)
                    n += 1
                except (ValueError, OSError):
                    pass  # a combination libhdf5's can_apply rejects: nothing to compare
print(n)
