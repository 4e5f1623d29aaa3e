"""The reference side of the conformance harness: what h5py reads.

Usage: h5py_dump.py MAX_ELEMENTS FILE...  ->  one JSON document per line on
stdout, one per FILE, in order ({"file", "error"} when h5py cannot open it).

Every object reachable through hard links (h5py's visititems: each object
once, soft and external links not followed), every dataset value and every
attribute value of the root, groups, datasets and named datatypes, in a
canonical form the TypeScript side (harness.ts) rebuilds from h5vault's values:

  value   = { "shape": [..] | null (null dataspace), "elems": [elem, ...] }  (row-major)
  elem    = number | string | bool->0/1
          | {"$f": "NaN" | "Infinity" | "-Infinity" | "-0"}   non-finite or negative-zero floats
          | {"$big": "digits"}          integers outside +-(2^53 - 1)
          | {"$bytes": "hex"}           strings that are not valid UTF-8, opaque data
          | {"$ref": "/path" | null}    object references (null: a null reference)
          | {"$region": "/path"}        region references (the referenced object)
          | {"$c": {field: elem, ...}}  compound records (complex numbers: fields "r", "i")
          | [elem, ...]                 variable-length sequences
  Array-typed elements are flattened into trailing dimensions, as numpy does.

Each entry also carries its HDF5 type class (the tally key) and, when h5py
itself cannot read the value, "h5pyError" (such values are not compared).
"""
import json
import math
import sys

import h5py
import numpy as np

try:  # registers the filters hdf5plugin ships (LZ4, blosc, bitshuffle, ...)
    import hdf5plugin  # noqa: F401
except ImportError:
    pass

try:  # the zstd oracle where no zstd HDF5 plugin is installed (Debian has none)
    import zstandard
except ImportError:
    zstandard = None

MAX_SAFE = 2**53 - 1
ZSTD = 32015

CLASS_NAMES = {
    h5py.h5t.INTEGER: "integer",
    h5py.h5t.FLOAT: "float",
    h5py.h5t.TIME: "time",
    h5py.h5t.STRING: "string",
    h5py.h5t.BITFIELD: "bitfield",
    h5py.h5t.OPAQUE: "opaque",
    h5py.h5t.COMPOUND: "compound",
    h5py.h5t.REFERENCE: "reference",
    h5py.h5t.ENUM: "enum",
    h5py.h5t.VLEN: "vlen",
    h5py.h5t.ARRAY: "array",
}


def type_class(tid):
    """The tally key: the HDF5 class, with the sub-kinds h5py maps specially."""
    cls = tid.get_class()
    name = CLASS_NAMES.get(cls, "class-%d" % cls)
    if cls == h5py.h5t.STRING:
        return "string-vlen" if tid.is_variable_str() else "string-fixed"
    if cls == h5py.h5t.ENUM:
        # h5py's bool is an enum {FALSE: 0, TRUE: 1} over int8
        if tid.get_nmembers() == 2 and sorted(tid.get_member_name(i) for i in range(2)) == [b"FALSE", b"TRUE"]:
            return "bool"
    if cls == h5py.h5t.COMPOUND:
        names = [tid.get_member_name(i) for i in range(tid.get_nmembers())]
        if names == [b"r", b"i"]:
            return "complex"
    if cls == h5py.h5t.FLOAT and tid.get_size() not in (2, 4, 8):
        return "float-%dbit" % (tid.get_size() * 8)
    if cls == h5py.h5t.INTEGER and tid.get_size() not in (1, 2, 4, 8):
        return "integer-%dbit" % (tid.get_size() * 8)
    return name


def canon_float(x):
    x = float(x)
    if math.isnan(x):
        return {"$f": "NaN"}
    if math.isinf(x):
        return {"$f": "Infinity" if x > 0 else "-Infinity"}
    if x == 0 and math.copysign(1, x) < 0:
        return {"$f": "-0"}
    return x


def canon_int(x):
    x = int(x)
    return x if -MAX_SAFE <= x <= MAX_SAFE else {"$big": str(x)}


def canon_bytes(b):
    b = bytes(b)
    try:
        return b.decode("utf-8")
    except UnicodeDecodeError:
        return {"$bytes": b.hex()}


class Canon:
    def __init__(self, f):
        self.f = f

    def ref(self, r):
        if isinstance(r, h5py.RegionReference):
            return {"$region": self.f[r].name if r else None}
        if not r:
            return {"$ref": None}
        return {"$ref": self.f[r].name}

    def elem(self, x, dt):
        """One element of numpy dtype dt (a scalar, record, or object)."""
        if dt.names is not None:
            return {"$c": {n: self.elem(x[n], dt.fields[n][0]) for n in dt.names}}
        if dt.subdtype is not None:  # array field inside a compound
            base, _ = dt.subdtype
            return [self.elem(v, base) for v in np.asarray(x).reshape(-1)]
        k = dt.kind
        if k == "O":
            meta = h5py.check_dtype(vlen=dt)
            if meta is not None and meta not in (str, bytes):
                meta = np.dtype(meta)
                seq = np.asarray(x)
                # h5py (3.x) returns a sequence of a non-native byte order
                # (PyTables' big-endian VLArrays) as native-order numbers
                # still holding the file's bytes: 112 reads as 1879048192.
                # Reinterpreting the bytes in the declared order gives the
                # values the file holds (and libhdf5's h5dump shows).
                if meta.byteorder not in ("=", "|") and seq.dtype != meta and seq.dtype.itemsize == meta.itemsize and seq.dtype.kind == meta.kind:
                    seq = seq.view(meta)
                return [self.elem(v, meta) for v in seq.reshape(-1)]
            if h5py.check_dtype(ref=dt) is not None or isinstance(x, h5py.Reference):
                return self.ref(x)
            if isinstance(x, bytes):
                return canon_bytes(x)
            if isinstance(x, str):
                return x
            if isinstance(x, np.ndarray):  # vlen sequence without metadata
                return [self.elem(v, x.dtype) for v in x.reshape(-1)]
            return str(x)
        if k == "b":
            return 1 if x else 0
        if k in "iu":
            return canon_int(x)
        if k == "f":
            return canon_float(x)
        if k == "c":
            return {"$c": {"r": canon_float(x.real), "i": canon_float(x.imag)}}
        if k == "S":
            return canon_bytes(x)
        if k == "U":
            return str(x)
        if k == "V":
            return {"$bytes": bytes(x).hex()}
        if k in "mM":
            return canon_int(np.asarray(x).view("i8"))
        return str(x)

    def value(self, v, dt):
        if isinstance(v, h5py.Empty):
            return {"shape": None, "elems": []}
        a = np.asarray(v) if not isinstance(v, np.ndarray) else v
        if a.dtype.kind in "iu" and a.dtype.names is None:
            flat = a.reshape(-1).tolist()
            elems = [x if -MAX_SAFE <= x <= MAX_SAFE else {"$big": str(x)} for x in flat]
        elif a.dtype.kind == "f" and a.dtype.itemsize <= 8:
            flat = a.reshape(-1)
            odd = (~np.isfinite(flat)) | ((flat == 0) & np.signbit(flat))
            elems = flat.astype("f8").tolist()
            if odd.any():
                for i in np.nonzero(odd)[0].tolist():
                    elems[i] = canon_float(flat[i])
        else:
            elems = [self.elem(x, a.dtype) for x in a.reshape(-1)]
        return {"shape": list(a.shape), "elems": elems}


def opaque_value(v, shape):
    """Opaque data as the bytes the file holds, one {"$bytes"} per element.

    h5py turns an opaque type tagged "NUMPY:<dtype>" (how h5py stores numpy
    types HDF5 has no class for, e.g. datetime64) back into that numpy dtype;
    HDF5's value, and h5vault's (docs/types.md), is the bytes. The bytes of
    h5py's array are the element bytes libhdf5 read (an opaque type is never
    converted), so they are compared as they are."""
    a = np.ascontiguousarray(np.asarray(v))
    raw = a.tobytes()
    size = a.dtype.itemsize
    return {"shape": list(shape), "elems": [{"$bytes": raw[i:i + size].hex()} for i in range(0, len(raw), size)]}


def read_zstd_direct(ds):
    """A dataset whose only filter is Zstandard (32015), read where h5py has
    no zstd plugin: each stored chunk through read_direct_chunk and
    python3-zstandard (one frame per chunk, as the reference filter writes;
    a chunk whose filter mask skips zstd is stored raw), chunks never
    written as the fill value. Anything else raises, as h5py did."""
    plist = ds.id.get_create_plist()
    filters = [plist.get_filter(i)[0] for i in range(plist.get_nfilters())]
    if zstandard is None or filters != [ZSTD] or h5py.h5z.filter_avail(ZSTD):
        raise ValueError("not a zstd-only dataset readable through direct chunks")
    dt = ds.dtype
    if dt.kind not in "iuf" or dt.names is not None:
        raise ValueError("zstd oracle: numeric types only")
    out = np.full(ds.shape, ds.fillvalue, dt)
    chunks = ds.chunks
    dz = zstandard.ZstdDecompressor()
    for i in range(ds.id.get_num_chunks()):
        info = ds.id.get_chunk_info(i)
        mask, raw = ds.id.read_direct_chunk(info.chunk_offset)
        data = raw if mask & 1 else dz.decompress(raw)
        block = np.frombuffer(data, dt).reshape(chunks)
        sl = tuple(slice(o, o + c) for o, c in zip(info.chunk_offset, chunks))
        dst = out[sl]  # clipped at the dataset's edge
        dst[...] = block[tuple(slice(0, k) for k in dst.shape)]
    return out


def dataset_value(obj):
    try:
        return obj[()]
    except Exception:
        try:
            return read_zstd_direct(obj)
        except Exception:
            pass
        raise


def dump(path, max_elements):
    entries = []
    with h5py.File(path, "r") as f:
        canon = Canon(f)
        objects = [("/", f)]
        f.visititems(lambda name, obj: objects.append(("/" + name, obj)))
        for opath, obj in objects:
            okind = "group" if isinstance(obj, h5py.Group) else "dataset" if isinstance(obj, h5py.Dataset) else "datatype"
            if okind == "dataset":
                e = {"kind": "dataset", "path": opath, "object": okind}
                try:
                    tid = obj.id.get_type()
                    e["class"] = type_class(tid)
                    space = obj.id.get_space()
                    e["shape"] = None if space.get_simple_extent_type() == h5py.h5s.NULL else list(obj.shape)
                    n = 0 if e["shape"] is None else int(np.prod(e["shape"], dtype=np.float64))
                    if n > max_elements:
                        e["skipped"] = "larger than %d elements" % max_elements
                    elif e["class"] == "opaque":
                        e["value"] = opaque_value(obj[()], e["shape"])
                    else:
                        e["value"] = canon.value(dataset_value(obj), obj.dtype)
                except Exception as ex:  # h5py cannot read it either: not compared
                    e["h5pyError"] = "%s: %s" % (type(ex).__name__, ex)
                    e.setdefault("class", "unknown")
                entries.append(e)
            for aname in obj.attrs.keys() if okind != "datatype" else list(obj.attrs):
                e = {"kind": "attribute", "path": opath, "object": okind, "name": aname}
                try:
                    aid = obj.attrs.get_id(aname)
                    e["class"] = type_class(aid.get_type())
                    e["shape"] = None if aid.get_space().get_simple_extent_type() == h5py.h5s.NULL else list(aid.shape)
                    if e["class"] == "opaque" and e["shape"] is not None:
                        e["value"] = opaque_value(obj.attrs[aname], e["shape"])
                    else:
                        e["value"] = canon.value(obj.attrs[aname], aid.dtype)
                except Exception as ex:
                    e["h5pyError"] = "%s: %s" % (type(ex).__name__, ex)
                    e.setdefault("class", "unknown")
                entries.append(e)
    return {"file": path, "h5py": h5py.version.version, "hdf5": h5py.version.hdf5_version, "entries": entries}


def main():
    max_elements = int(sys.argv[1])
    for path in sys.argv[2:]:
        try:
            doc = dump(path, max_elements)
        except Exception as ex:  # not HDF5, or h5py cannot open it
            doc = {"file": path, "error": "%s: %s" % (type(ex).__name__, ex)}
        sys.stdout.write(json.dumps(doc, allow_nan=False, separators=(",", ":")) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
