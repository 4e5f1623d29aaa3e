#!/usr/bin/python3
"""Writes the chunk-layout matrix that test_engine_differential.cc reads.

    /usr/bin/python3 test/native/chunk_layouts.py DIR

Deterministic (seeded): DIR/earliest.h5 and DIR/latest.h5 hold one dataset
per layout, named "NNNN <description>", covering every chunk index libhdf5
1.10 writes (v1 B-tree with libver earliest; single chunk, implicit, fixed
array, extensible array and v2 B-tree with libver latest) x ranks 1-4 x
maxshape (fixed, larger than the shape, unlimited in every position, two and
all unlimited) x partial edge chunks x written / partly written / unwritten
chunks x default and custom fill values x filter pipelines x dtypes of both
byte orders, plus grids above 1024 chunks, datasets resized after writing
and chunks written directly with a filter mask. For every dataset whose
number is a multiple of 5, DIR/oracle/NNNN.bin holds h5py's own read of
the whole dataset (file byte order), the independent reference.
Prints the number of datasets written.
"""
import itertools
import os
import random
import sys

import h5py
import hdf5plugin
import numpy as np

out = sys.argv[1]
os.makedirs(os.path.join(out, "oracle"), exist_ok=True)
rng = random.Random(20240610)
nrng = np.random.default_rng(20240610)

FILTERS = {
    "none": {},
    "gzip": dict(compression="gzip", compression_opts=1),
    "shuffle": dict(shuffle=True),
    "fletcher32": dict(fletcher32=True),
    "shuffle+gzip": dict(shuffle=True, compression="gzip", compression_opts=4),
    "shuffle+gzip+fletcher32": dict(shuffle=True, compression="gzip", compression_opts=1, fletcher32=True),
    "lzf": dict(compression="lzf"),
    "shuffle+lzf": dict(shuffle=True, compression="lzf"),
    "lzf+fletcher32": dict(compression="lzf", fletcher32=True),
    "lz4": dict(**hdf5plugin.LZ4()),
    "shuffle+lz4+fletcher32": dict(shuffle=True, fletcher32=True, **hdf5plugin.LZ4(nbytes=64)),
    "szip": dict(compression="szip", compression_opts=("nn", 8)),
    "shuffle+szip+fletcher32": dict(shuffle=True, fletcher32=True, compression="szip", compression_opts=("ec", 8)),
}
# Blosc through Debian's hdf5-filter-plugin-blosc-serial (HDF5_PLUGIN_PATH, set
# by test_engine_differential.cc): hdf5-blosc's cd_values, slots 4-6 = clevel,
# shuffle (0 none, 1 byte, 2 bit), compressor (0 blosclz, 1 lz4, 5 zstd).
# Written after the layouts above (their seeded sequence unchanged). No
# Debian plugin writes zstd (filter 32015): the engine's zstd is checked
# against libhdf5's pipeline in test_engine.cc, and against python3-zstandard
# in test/interop. A codec with a Debian plugin joins with a line here.
PLUGIN_FILTERS = {
    "blosc-lz4": dict(compression=32001, compression_opts=(0, 0, 0, 0, 5, 1, 1)),
    "blosc-lz4-bitshuffle": dict(compression=32001, compression_opts=(0, 0, 0, 0, 5, 2, 1)),
    "blosc-zstd-noshuffle": dict(compression=32001, compression_opts=(0, 0, 0, 0, 3, 0, 5)),
    "shuffle+blosc-zstd-bitshuffle+fletcher32": dict(shuffle=True, fletcher32=True, compression=32001,
                                                    compression_opts=(0, 0, 0, 0, 5, 2, 5)),
    "blosc-blosclz": dict(compression=32001, compression_opts=(0, 0, 0, 0, 9, 1, 0)),
}
DTYPES = ["u1", "<i2", ">i2", "<i4", ">i4", "<f4", ">f4", "<f8", ">f8", "<u8", ">i8"]


def values(shape, dtype):
    n = int(np.prod(shape))
    dt = np.dtype(dtype)
    if dt.kind == "f":
        a = nrng.standard_normal(n) * 100
        a[::7] = np.round(a[::7])  # some compressible runs
    else:
        info = np.iinfo(dt)
        a = nrng.integers(max(info.min, -1000), min(info.max, 1000), n, endpoint=True)
        a[n // 2:] = np.arange(n - n // 2) % 11  # a compressible half
    return a.astype(dt).reshape(shape)


def maxshapes(shape):
    """(label, maxshape) pairs: fixed, larger, each single unlimited dim, pairs, all."""
    r = len(shape)
    yield "fixed", tuple(shape)
    yield "larger", tuple(s + 3 * (i == r - 1) for i, s in enumerate(shape))
    for i in range(r):
        yield f"U{i}", tuple(None if j == i else s for j, s in enumerate(shape))
    for i, j in itertools.combinations(range(r), 2):
        yield f"U{i}{j}", tuple(None if k in (i, j) else s for k, s in enumerate(shape))
    if r > 2:
        yield "Uall", tuple(None for _ in shape)


def random_shape(rank, big=False, min_chunk=1):
    if big:  # > 1024 chunks
        shape = {1: (2101,), 2: (47, 45), 3: (13, 12, 11), 4: (7, 6, 6, 5)}[rank]
        chunks = {1: (2,), 2: (1, 2), 3: (2, 1, 1), 4: (1, 1, 2, 1)}[rank]
        return shape, chunks
    while True:
        shape = tuple(rng.randint(1, {1: 60, 2: 14, 3: 8, 4: 6}[rank]) for _ in range(rank))
        chunks = tuple(rng.randint(1, s if rng.random() < 0.2 else min(s, (s + 1) // 2 + 1)) for s in shape)
        grid = int(np.prod([-(-s // c) for s, c in zip(shape, chunks)]))
        if grid <= 200 and int(np.prod(chunks)) >= min_chunk:
            return shape, chunks


count = 0


def name_of(desc):
    global count
    count += 1
    return f"{count:04d} {desc}"


def finish(ds, nm):
    if int(nm[:4]) % 5 == 0:
        with open(os.path.join(out, "oracle", nm[:4] + ".bin"), "wb") as fh:
            fh.write(ds[...].tobytes())


def write_some(ds, data, chunks, how):
    """Writes whole chunks: all, a random subset, or none."""
    if how == "none":
        return
    if how == "all":
        ds[...] = data
        return
    grid = [range(0, s, c) for s, c in zip(data.shape, chunks)]
    for origin in itertools.product(*grid):
        if rng.random() < 0.5:
            sl = tuple(slice(o, min(o + c, s)) for o, c, s in zip(origin, chunks, data.shape))
            ds[sl] = data[sl]


def make(f, libver, rank, ms_label, maxshape_fn, filt, big=False):
    shape, chunks = random_shape(rank, big, 8 if "szip" in filt else 1)  # szip: 8 pixels per block
    maxshape = maxshape_fn(shape)
    dtype = rng.choice(DTYPES)
    if "szip" in filt:
        dtype = rng.choice(["<i4", ">i4", "<f4", "<u8", "<i2"])  # szip needs >= 2-byte types
    how = rng.choice(["all", "all", "some", "none"]) if not big else rng.choice(["all", "some"])
    fill = rng.choice([None, None, 7])
    kw = dict(FILTERS[filt])
    desc = (f"{libver} r{rank} {'x'.join(map(str, shape))} chunks {'x'.join(map(str, chunks))} max {ms_label} "
            f"{filt} {dtype} {how} fill {fill if fill is not None else 'default'}")
    nm = name_of(desc)
    ds = f.create_dataset(nm, shape=shape, maxshape=maxshape, chunks=chunks, dtype=dtype,
                          fillvalue=fill, **kw)
    write_some(ds, values(shape, dtype), chunks, how)
    finish(ds, nm)


def resized(f, libver, rank, filt):
    """Written, then grown along its resizable dims and written again (or shrunk)."""
    shape, chunks = random_shape(rank)
    dtype = rng.choice(["<i4", ">f8", "<i2"])
    grow = rng.random() < 0.7
    unl = rng.randrange(rank)
    maxshape = tuple(None if i == unl else s + 5 for i, s in enumerate(shape))
    desc = (f"{libver} r{rank} {'x'.join(map(str, shape))} chunks {'x'.join(map(str, chunks))} max U{unl}+5 "
            f"{filt} {dtype} {'grown' if grow else 'shrunk'} fill 3")
    nm = name_of(desc)
    ds = f.create_dataset(nm, shape=shape, maxshape=maxshape, chunks=chunks, dtype=dtype, fillvalue=3,
                          **FILTERS[filt])
    ds[...] = values(shape, dtype)
    if grow:
        new = tuple(s + rng.randint(1, 5) for s in shape)
        ds.resize(new)
        sl = tuple(slice(s // 2, n) for s, n in zip(shape, new))
        ds[sl] = values(tuple(n - s // 2 for s, n in zip(shape, new)), dtype)
    else:
        ds.resize(tuple(max(1, s - rng.randint(0, 3)) for s in shape))
    finish(ds, nm)


def low_level(f, libver, kind, rank):
    """Implicit index (early allocation, no filters, fixed dims) and fill-time variants."""
    shape, chunks = random_shape(rank)
    dtype = rng.choice(["<i4", ">i2", "<f8"])
    dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
    dcpl.set_chunk(chunks)
    maxshape = shape
    if kind == "early":
        dcpl.set_alloc_time(h5py.h5d.ALLOC_TIME_EARLY)
        if rng.random() < 0.5:
            maxshape = tuple(s + 2 for s in shape)
    elif kind == "fill-never":
        dcpl.set_fill_time(h5py.h5d.FILL_TIME_NEVER)
    elif kind == "fill-alloc":
        dcpl.set_fill_time(h5py.h5d.FILL_TIME_ALLOC)
        dcpl.set_fill_value(np.array(5, dtype=dtype))
    nm = name_of(f"{libver} r{rank} {'x'.join(map(str, shape))} chunks {'x'.join(map(str, chunks))} "
                 f"max {'x'.join(map(str, maxshape))} {kind} {dtype}")
    space = h5py.h5s.create_simple(shape, maxshape)
    h5py.h5d.create(f.id, nm.encode(), h5py.h5t.py_create(np.dtype(dtype)), space, dcpl)
    ds = f[nm]
    write_some(ds, values(shape, dtype), chunks, rng.choice(["all", "some", "none"]))
    finish(ds, nm)


def masked(f, libver, rank):
    """Chunks written directly with an optional filter skipped (filter mask bit set)."""
    shape, chunks = random_shape(rank)
    unl = rng.randrange(rank)
    maxshape = tuple(None if i == unl else s for i, s in enumerate(shape)) if rng.random() < 0.7 else shape
    dtype = "<i4"
    nm = name_of(f"{libver} r{rank} {'x'.join(map(str, shape))} chunks {'x'.join(map(str, chunks))} "
                 f"max U{unl} lzf direct-chunks mask {dtype}")
    ds = f.create_dataset(nm, shape=shape, maxshape=maxshape, chunks=chunks, dtype=dtype, compression="lzf")
    data = values(shape, dtype)
    grid = [range(0, s, c) for s, c in zip(shape, chunks)]
    for origin in itertools.product(*grid):
        if rng.random() < 0.2:
            continue  # unwritten
        block = np.zeros(chunks, dtype=dtype)  # edge chunks are padded with zeros
        sl = tuple(slice(o, min(o + c, s)) for o, c, s in zip(origin, chunks, shape))
        block[tuple(slice(0, x.stop - x.start) for x in sl)] = data[sl]
        ds.id.write_direct_chunk(origin, block.tobytes(), filter_mask=1)  # LZF (filter 0) skipped
    finish(ds, nm)


for libver in ["earliest", "latest"]:
    with h5py.File(os.path.join(out, f"{libver}.h5"), "w", libver=libver) as f:
        for rank in range(1, 5):
            shape0 = tuple(range(rank))
            for ms_label, _ in maxshapes(shape0):
                for filt in FILTERS:
                    if rng.random() < 0.45 and filt != "none":
                        continue
                    def fn(shape, lab=ms_label):
                        return dict(maxshapes(shape))[lab]
                    make(f, libver, rank, ms_label, fn, filt)
                # one grid above 1024 chunks per maxshape kind (lookup mode), alternating filters
                if rng.random() < 0.35:
                    make(f, libver, rank, ms_label, lambda s, lab=ms_label: dict(maxshapes(s))[lab],
                         rng.choice(["none", "shuffle+gzip", "lz4"]), big=True)
            for filt in ["none", "gzip", "shuffle+lz4+fletcher32", "lzf"]:
                resized(f, libver, rank, filt)
            for kind in ["early", "fill-never", "fill-alloc"]:
                low_level(f, libver, kind, rank)
            masked(f, libver, rank)
            # single chunk (libver latest: the single-chunk index), filtered and not
            for filt in ["none", "shuffle+gzip+fletcher32"]:
                shape, _ = random_shape(rank)
                nm = name_of(f"{libver} r{rank} {'x'.join(map(str, shape))} single-chunk {filt} <f4")
                ds = f.create_dataset(nm, shape=shape, chunks=shape, dtype="<f4", **FILTERS[filt])
                ds[...] = values(shape, "<f4")
                finish(ds, nm)

FILTERS.update(PLUGIN_FILTERS)
for libver in ["earliest", "latest"]:
    with h5py.File(os.path.join(out, f"{libver}.h5"), "a", libver=libver) as f:
        for rank in range(1, 5):
            labels = [lab for lab, _ in maxshapes(tuple(range(rank)))]
            for filt in PLUGIN_FILTERS:
                for ms_label in rng.sample(labels, min(3, len(labels))):
                    make(f, libver, rank, ms_label, lambda s, lab=ms_label: dict(maxshapes(s))[lab], filt)
print(count)
