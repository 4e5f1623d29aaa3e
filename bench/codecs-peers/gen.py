import numpy as np, h5py, sys, time, zstandard, json
n = 64 << 20  # 256 MiB of float32
a = np.random.default_rng(1).normal(0, 0.02, n).astype('<f4')
a.tofile('w.bin')
t = time.perf_counter()
with h5py.File('py-blosc.h5', 'w') as f:
    f.create_dataset('w', data=a, chunks=(1 << 18,), compression=32001, compression_opts=(0, 0, 0, 0, 5, 1, 1))
blosc_w = time.perf_counter() - t
t = time.perf_counter()
cz = zstandard.ZstdCompressor(level=3)
with h5py.File('py-zstd.h5', 'w') as f:
    d = f.create_dataset('w', shape=a.shape, dtype='<f4', chunks=(1 << 18,), compression=32015, compression_opts=(3,), allow_unknown_filter=True)
    for i in range(0, n, 1 << 18):
        d.id.write_direct_chunk((i,), cz.compress(a[i:i + (1 << 18)].tobytes()))
zstd_w = time.perf_counter() - t
print(json.dumps({'py_blosc_write_s': blosc_w, 'py_zstd_write_s': zstd_w}))
