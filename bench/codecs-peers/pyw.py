import numpy as np, h5py, time, zstandard
a = np.fromfile('w.bin', '<f4'); n = a.shape[0]
t = time.perf_counter()
cz = zstandard.ZstdCompressor(level=3)
with h5py.File('py-zstd2.h5', 'w') as f:
    d = f.create_dataset('w', shape=a.shape, dtype='<f4', chunks=(1 << 18,), compression=32015, compression_opts=(3,), allow_unknown_filter=True)
    for i in range(0, n, 1 << 18):
        d.id.write_direct_chunk((i,), cz.compress(a[i:i + (1 << 18)].tobytes()))
print(time.perf_counter() - t)
