# h5py's side of bench/bitshuffle-peers: Bitshuffle+LZ4 through Debian's
# bitshuffle plugin (libh5bshuf, 0.3.5); Bitshuffle+zstd, which that plugin
# predates, through the plugin's own transpose (bitshuffle.bitshuffle) +
# python3-zstandard and direct chunk I/O. Prints seconds.
import sys, time, struct
import numpy as np, h5py, bitshuffle, zstandard

mode = sys.argv[1]
CHUNK = 1 << 18                     # 1 MiB of float32
BLOCK = 2048                        # the filter's default block for 4-byte elements
t = time.perf_counter()
if mode == 'write-lz4':
    a = np.fromfile('w.bin', '<f4')
    with h5py.File('py-lz4.h5', 'w') as f:
        f.create_dataset('w', data=a, chunks=(CHUNK,), compression=32008, compression_opts=(0, 2))
elif mode == 'write-zstd':
    a = np.fromfile('w.bin', '<f4')
    cz = zstandard.ZstdCompressor(level=3)
    with h5py.File('py-zstd.h5', 'w') as f:
        d = f.create_dataset('w', shape=a.shape, dtype='<f4', chunks=(CHUNK,), compression=32008,
                             compression_opts=(0, 3, 3))
        for i in range(0, a.shape[0], CHUNK):
            t_ = bitshuffle.bitshuffle(a[i:i + CHUNK], BLOCK).view('u1')
            out = [struct.pack('>QI', CHUNK * 4, BLOCK * 4)]
            for b in range(0, t_.shape[0], BLOCK * 4):
                z = cz.compress(t_[b:b + BLOCK * 4].tobytes())
                out += [struct.pack('>I', len(z)), z]
            d.id.write_direct_chunk((i,), b''.join(out))
elif mode == 'read-lz4':
    with h5py.File(sys.argv[2], 'r') as f:
        x = f['w'][...]
elif mode == 'read-zstd':
    dz = zstandard.ZstdDecompressor()
    with h5py.File(sys.argv[2], 'r') as f:
        d = f['w']
        x = np.empty(d.shape, '<f4')
        for i in range(0, d.shape[0], CHUNK):
            c = d.id.read_direct_chunk((i,))[1]
            pos, parts = 12, []
            while pos < len(c):
                (n,) = struct.unpack_from('>I', c, pos)
                parts.append(dz.decompress(c[pos + 4:pos + 4 + n], max_output_size=BLOCK * 4))
                pos += 4 + n
            x[i:i + CHUNK] = bitshuffle.bitunshuffle(np.frombuffer(b''.join(parts), '<f4'), BLOCK)
print(time.perf_counter() - t)
