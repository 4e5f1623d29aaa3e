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


def filter_kwargs(job):
    c = job["compression"]
    kw = {"chunks": tuple(job["chunks"]), "shuffle": bool(job["shuffle"])}
    if c == "gzip":
        kw.update(compression="gzip", compression_opts=int(job["level"]))
    elif c == "lzf":
        kw.update(compression="lzf")
    elif c == "lz4":
        kw.update(hdf5plugin.LZ4(nbytes=0))
    elif c != "none":
        raise ValueError("unknown compression %r" % c)
    return kw


def load_src(job):
    return np.fromfile(job["src"], dtype="<f4").reshape(job["shape"])


def write_once(job, data):
    with h5py.File(job["path"], "w") as f:
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
    if op == "read":
        with h5py.File(job["path"], "r") as f:
            ds = f[job["dataset"]]
            first = ds[()]  # warm-up, and the checksum proving the read is right
            digest = hashlib.sha256(np.ascontiguousarray(first).tobytes()).hexdigest()
            del first
            ms = []
            for _ in range(int(job["runs"])):
                t0 = time.perf_counter()
                a = ds[()]
                ms.append((time.perf_counter() - t0) * 1000)
                del a
        return {"ms": ms, "sha256": digest}
    if op == "sha256":
        with h5py.File(job["path"], "r") as f:
            a = f[job["dataset"]][()]
        return {"sha256": hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()}
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
