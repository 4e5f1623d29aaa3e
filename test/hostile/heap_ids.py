"""Writes an HDF5 file whose values live in the global heap, for
test/hostile/heap-ids.test.ts: vlen string and sequence attributes and
datasets (contiguous, chunked, compact), a compound with a vlen member, and
dataset region references (hyperslab and points). Written by h5py, so the
heap IDs are laid out as real files have them.

usage: heap_ids.py OUT.h5
"""
import sys

import h5py
import numpy as np

out = sys.argv[1]
seqs = np.empty(3, dtype=object)
seqs[0] = np.arange(3, dtype=np.int32)
seqs[1] = np.arange(5, dtype=np.int32)
seqs[2] = np.arange(1, dtype=np.int32)
vi = h5py.vlen_dtype(np.int32)
st = h5py.string_dtype()
with h5py.File(out, "w", libver="earliest") as f:
    f.attrs["note"] = "a vlen string attribute"
    f.attrs.create("names", ["alpha", "beta", "gamma"], dtype=st)
    f.attrs.create("seqs", seqs, dtype=vi)
    f.create_dataset("strings", data=["one", "two", "three"], dtype=st)
    f.create_dataset("strings_chunked", data=["four", "five", "six", "seven"], dtype=st, chunks=(2,))
    dcpl_compact = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
    dcpl_compact.set_layout(h5py.h5d.COMPACT)
    sp = h5py.h5s.create_simple((2,))
    tid = h5py.h5t.py_create(st, logical=True)
    h5py.h5d.create(f.id, b"strings_compact", tid, sp, dcpl=dcpl_compact)
    f["strings_compact"][...] = np.array(["eight", "nine"], dtype=object)
    f.create_dataset("seqs", data=seqs, dtype=vi)
    ct = np.dtype([("id", np.int32), ("name", st)])
    f.create_dataset("records", data=np.array([(1, "x"), (2, "yy")], dtype=ct))
    grid = f.create_dataset("grid", data=np.arange(20, dtype=np.float32).reshape(4, 5))
    regions = f.create_dataset("regions", (2,), dtype=h5py.regionref_dtype)
    regions[0] = grid.regionref[1:3, 0:2]
    sp = grid.id.get_space()
    sp.select_elements(np.array([[0, 1], [3, 4]], dtype=np.uint64))
    regions[1] = h5py.h5r.create(f.id, b"grid", h5py.h5r.DATASET_REGION, sp)
