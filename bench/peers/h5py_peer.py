"""h5py side of `npm run bench:compare`.

Reads a JSON list of jobs on stdin and prints a JSON list of results. Every
timing is taken here, inside Python, with time.perf_counter, so process start
and the h5py import never count. Must run under Debian's /usr/bin/python3
(python3-h5py, python3-hdf5plugin) with HDF5_PLUGIN_PATH pointing at the
system plugin directory.

Jobs:
  {"op": "versions"}
  {"op": "create", "path", "src", "shape", "chunks", "compression", "level", "shuffle"}
  {"op": "read",   "path", "dataset", "runs"}            -> {"ms": [...], "sha256"}
  {"op": "write",  "path", "src", "shape", "chunks", "compression", "level", "shuffle", "runs"} -> {"ms": [...]}
  {"op": "sha256", "path", "dataset"}                    -> {"sha256"}
  {"op": "size", "path"}                                 -> {"bytes"}  (the file's size)

compression: none, gzip (level), lzf, lz4, blosc (level, compressor, bloscShuffle:
none/byte/bit; Debian's Blosc plugin), zstd (level; direct chunk I/O + python3-zstandard,
as Debian ships no zstd plugin).
"""
import hashlib
import json
import os
import platform
import sys
import time

import h5py
import hdf5plugin  # noqa: F401  (registers LZ4 32004 and friends)
import numpy as np

try:
    import zstandard
except ImportError:  # only the zstd cases need it; they report the error
    zstandard = None

BLOSC = 32001  # Debian's hdf5-filter-plugin-blosc-serial (HDF5_PLUGIN_PATH)
BITSHUFFLE = 32008  # Debian's bitshuffle package (libh5bshuf.so in HDF5_PLUGIN_PATH)
ZSTD = 32015
BLOSC_CODES = {"blosclz": 0, "lz4": 1, "lz4hc": 2, "zlib": 4, "zstd": 5}
BLOSC_SHUFFLES = {"none": 0, "byte": 1, "bit": 2}


def filter_kwargs(job):
    c = job["compression"]
    kw = {"chunks": tuple(job["chunks"]), "shuffle": bool(job["shuffle"])}
    if c == "gzip":
        kw.update(compression="gzip", compression_opts=int(job["level"]))
    elif c == "lzf":
        kw.update(compression="lzf")
    elif c == "lz4":
        kw.update(hdf5plugin.LZ4(nbytes=0))
    elif c == "blosc":
        # hdf5-blosc's cd_values: slots 0-3 filled by its set_local.
        kw.update(compression=BLOSC, compression_opts=(0, 0, 0, 0, int(job.get("level", 5)),
                                                       BLOSC_SHUFFLES[job.get("bloscShuffle", "byte")],
                                                       BLOSC_CODES[job.get("compressor", "lz4")]))
    elif c == "bitshuffle":
        # Debian's bitshuffle plugin (libh5bshuf.so, HDF5_PLUGIN_PATH): default block, LZ4 (2).
        kw.update(compression=BITSHUFFLE, compression_opts=(0, 2))
    elif c == "zstd":
        # No Debian zstd plugin: the chunks are written directly (write_zstd).
        kw.update(compression=ZSTD, compression_opts=(int(job.get("level", 3)),), allow_unknown_filter=True)
    elif c != "none":
        raise ValueError("unknown compression %r" % c)
    return kw


def load_src(job):
    return np.fromfile(job["src"], dtype="<f4").reshape(job["shape"])


def chunk_slices(shape, chunks):
    """Every chunk of the grid, as (chunk offset, slices into the array)."""
    grid = [range(0, n, c) for n, c in zip(shape, chunks)]
    for off in np.ndindex(*[len(g) for g in grid]):
        start = tuple(g[i] for g, i in zip(grid, off))
        yield start, tuple(slice(s, s + c) for s, c in zip(start, chunks))


def write_zstd(f, job, data):
    """Zstd as hdf5plugin's filter frames it (one frame per chunk), through
    python3-zstandard and direct chunk writes: the reference path where no
    zstd plugin is installed. Edge chunks are padded to the full chunk."""
    chunks = tuple(job["chunks"])
    d = f.create_dataset("data", shape=data.shape, dtype=data.dtype, **filter_kwargs(job))
    cz = zstandard.ZstdCompressor(level=int(job.get("level", 3)))
    for start, sl in chunk_slices(data.shape, chunks):
        part = data[sl]
        if part.shape != chunks:
            full = np.zeros(chunks, data.dtype)
            full[tuple(slice(0, n) for n in part.shape)] = part
            part = full
        d.id.write_direct_chunk(start, cz.compress(np.ascontiguousarray(part).tobytes()))


def read_all(ds, out=None):
    """The whole dataset; zstd chunks through direct chunk reads and
    python3-zstandard when no zstd plugin is loaded (Debian has none)."""
    plist = ds.id.get_create_plist()
    filters = [plist.get_filter(i)[0] for i in range(plist.get_nfilters())]
    if ZSTD not in filters or h5py.h5z.filter_avail(ZSTD):
        if out is None:
            return ds[()]
        ds.read_direct(out)
        return out
    if filters != [ZSTD]:
        raise ValueError("zstd fallback handles zstd alone, not %r" % filters)
    if out is None:
        out = np.empty(ds.shape, ds.dtype)
    chunks = ds.chunks
    dz = zstandard.ZstdDecompressor()
    for start, sl in chunk_slices(ds.shape, chunks):
        _, raw = ds.id.read_direct_chunk(start)
        a = np.frombuffer(dz.decompress(raw), ds.dtype).reshape(chunks)
        dst = out[sl]  # clipped at the dataset's edge
        dst[...] = a[tuple(slice(0, k) for k in dst.shape)]
    return out


def write_once(job, data):
    with h5py.File(job["path"], "w") as f:
        if job["compression"] == "zstd":
            write_zstd(f, job, data)
        else:
            f.create_dataset("data", data=data, **filter_kwargs(job))


def run(job):
    op = job["op"]
    if op == "versions":
        return {
            "python": platform.python_version(),
            "h5py": h5py.__version__,
            "hdf5": h5py.version.hdf5_version,
            "numpy": np.__version__,
            "hdf5plugin": hdf5plugin.version,
            "zstandard": zstandard.__version__ if zstandard else "missing",
        }
    if op == "create":
        write_once(job, load_src(job))
        return {"ok": True}
    if op == "write":
        data = load_src(job)
        write_once(job, data)  # warm-up: first-touch page faults, plugin loading
        ms = []
        for _ in range(int(job["runs"])):
            os.unlink(job["path"])
            t0 = time.perf_counter()
            write_once(job, data)
            ms.append((time.perf_counter() - t0) * 1000)
        return {"ms": ms}
    if op == "read" and job.get("direct"):
        # Into one reused array (what h5vault's `read({ into })` is compared
        # with): read_direct, or the zstd fallback writing into it.
        with h5py.File(job["path"], "r") as f:
            ds = f[job["dataset"]]
            out = np.empty(ds.shape, ds.dtype)
            read_all(ds, out)  # warm-up: first touch of `out`; and the checksum
            digest = hashlib.sha256(out.tobytes()).hexdigest()
            ms = []
            for _ in range(int(job["runs"])):
                t0 = time.perf_counter()
                read_all(ds, out)
                ms.append((time.perf_counter() - t0) * 1000)
        return {"ms": ms, "sha256": digest}
    if op == "read":
        with h5py.File(job["path"], "r") as f:
            ds = f[job["dataset"]]
            first = read_all(ds)  # warm-up, and the checksum proving the read is right
            digest = hashlib.sha256(np.ascontiguousarray(first).tobytes()).hexdigest()
            del first
            ms = []
            for _ in range(int(job["runs"])):
                t0 = time.perf_counter()
                a = read_all(ds)
                ms.append((time.perf_counter() - t0) * 1000)
                del a
        return {"ms": ms, "sha256": digest}
    if op == "sha256":
        with h5py.File(job["path"], "r") as f:
            a = read_all(f[job["dataset"]])
        return {"sha256": hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()}
    if op == "size":
        return {"bytes": os.path.getsize(job["path"])}
    raise ValueError("unknown op %r" % op)


def main():
    jobs = json.load(sys.stdin)
    out = []
    for job in jobs:
        try:
            out.append(run(job))
        except Exception as e:  # reported per job; the harness decides
            out.append({"error": "%s: %s" % (type(e).__name__, e)})
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
