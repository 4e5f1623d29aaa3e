import h5py, sys, time, zstandard, numpy as np, json
which = sys.argv[1]
t = time.perf_counter()
if which == 'blosc':
    with h5py.File('py-blosc.h5', 'r') as f:
        x = f['w'][...]
else:  # zstd: no Debian plugin; the reference path is direct chunk reads + zstandard
    dz = zstandard.ZstdDecompressor()
    with h5py.File('py-zstd.h5', 'r') as f:
        d = f['w']; x = np.empty(d.shape, '<f4'); c = 1 << 18
        for i in range(0, d.shape[0], c):
            x[i:i + c] = np.frombuffer(dz.decompress(d.id.read_direct_chunk((i,))[1]), '<f4')
print(time.perf_counter() - t)
