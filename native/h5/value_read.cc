// value.h, reads: the values at a selection of a dataset or attribute,
// converted by libhdf5 into the memory type and decoded into Columns
// (references resolved to paths), every vlen allocation reclaimed.
#include "value.h"

#include <algorithm>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <unordered_map>

#include "../filters/bounded.h"
#include "attribute.h"
#include "dataset.h"
#include "../common/hid.h"
#include "heap_check.h"
#include "types.h"

#include "value_internal.h"

namespace h5v::h5 {

using value_detail::checked_bytes;

namespace {

void gather(const std::vector<const uint8_t*>& ptrs, size_t size, std::vector<uint8_t>* out) {
  out->resize(ptrs.size() * size);
  uint8_t* o = out->data();
  for (const uint8_t* p : ptrs) {
    std::memcpy(o, p, size);
    o += size;
  }
}

// ---------------------------------------------------------------------------
// Names of referenced objects

// H5Rget_name names an object by searching the whole file for a hard link to
// it (H5G_get_name_by_addr: H5G_visit from the root, by name, native order,
// first hard link whose target is the address), so naming n references costs
// n walks: 8.2 s for the 2,000 references of netcdf-c's ref_hdf5_compat1.nc.
// One walk instead, the same visit, builds a map from object address to the
// path H5Rget_name would give; it is cached per open file while the file is
// read-only (nothing can change its links), and built once per read in
// writable files (a write may have moved any link since).
struct AddrPaths {
  unsigned long fileno = 0;
  std::unordered_map<haddr_t, std::string> paths;
};

namespace {

herr_t on_hard_link(hid_t, const char* name, const H5L_info_t* info, void* data) {
  if (info->type != H5L_TYPE_HARD) return 0;
  // The first path reaching an address wins, as in H5G_get_name_by_addr.
  static_cast<AddrPaths*>(data)->paths.emplace(info->u.address, std::string("/") + name);
  return 0;
}

// Read-only files' maps, newest first (the global lock guards them). Bounded:
// a closed file's map stays until newer files push it out.
std::deque<std::shared_ptr<const AddrPaths>> g_ro_paths;
constexpr size_t kMaxCachedFiles = 4;
// The map of the read in progress (RefNameScope), and whether it was asked for.
std::shared_ptr<const AddrPaths> g_call_paths;
bool g_call_tried = false;
int g_call_depth = 0;

std::shared_ptr<const AddrPaths> build_paths(hid_t loc, unsigned long fileno) {
  auto m = std::make_shared<AddrPaths>();
  m->fileno = fileno;
  H5O_info_t root;
  if (H5Oget_info_by_name2(loc, "/", &root, H5O_INFO_BASIC, H5P_DEFAULT) < 0 ||
      H5Lvisit_by_name(loc, "/", H5_INDEX_NAME, H5_ITER_NATIVE, on_hard_link, m.get(), H5P_DEFAULT) < 0) {
    clear_error_stack();
    return nullptr;  // a damaged file: name each reference the slow way
  }
  m->paths[root.addr] = "/";
  return m;
}

std::shared_ptr<const AddrPaths> paths_for(hid_t loc) {
  if (g_call_depth > 0 && g_call_tried) return g_call_paths;
  std::shared_ptr<const AddrPaths> m;
  H5O_info_t oi;
  if (H5Oget_info2(loc, &oi, H5O_INFO_BASIC) >= 0) {
    unsigned intent = 0;
    hid_t fid = H5Iget_file_id(loc);
    bool read_only = fid >= 0 && H5Fget_intent(fid, &intent) >= 0 && (intent & H5F_ACC_RDWR) == 0 &&
                     (intent & H5F_ACC_SWMR_READ) == 0;
    if (fid >= 0) H5Fclose(fid);  // drops the reference H5Iget_file_id took
    if (read_only) {
      auto it =
          std::find_if(g_ro_paths.begin(), g_ro_paths.end(), [&](const auto& p) { return p->fileno == oi.fileno; });
      if (it != g_ro_paths.end()) {
        m = *it;
        g_ro_paths.erase(it);
      } else {
        m = build_paths(loc, oi.fileno);
      }
      if (m) {
        g_ro_paths.push_front(m);
        if (g_ro_paths.size() > kMaxCachedFiles) g_ro_paths.pop_back();
      }
    } else {
      m = build_paths(loc, oi.fileno);
    }
  }
  clear_error_stack();
  if (g_call_depth > 0) {
    g_call_paths = m;
    g_call_tried = true;
  }
  return m;
}

// One read: the map is looked up (or built) at most once.
struct RefNameScope {
  RefNameScope() { ++g_call_depth; }
  ~RefNameScope() {
    if (--g_call_depth == 0) {
      g_call_paths.reset();
      g_call_tried = false;
    }
  }
};

// The path H5Rget_name gives for the reference at p; false if it names nothing.
bool reference_path(hid_t loc, H5R_type_t rt, const uint8_t* p, std::string* out) {
  auto m = paths_for(loc);
  if (!m) {
    ssize_t n = H5Rget_name(loc, rt, p, nullptr, 0);
    if (n <= 0) return false;
    std::string name(static_cast<size_t>(n) + 1, '\0');
    H5Rget_name(loc, rt, p, name.data(), name.size());
    name.resize(static_cast<size_t>(n));
    *out = std::move(name);
    return true;
  }
  haddr_t addr;
  if (rt == H5R_OBJECT) {
    hobj_ref_t ref;  // an object reference is the object's address
    std::memcpy(&ref, p, sizeof ref);
    addr = ref;
  } else {
    // A region reference names its dataset through the global heap: open it.
    Hid obj(H5Rdereference2(loc, H5P_DEFAULT, rt, p));
    H5O_info_t oi;
    if (!obj || H5Oget_info2(obj.get(), &oi, H5O_INFO_BASIC) < 0) return false;
    addr = oi.addr;
  }
  auto it = m->paths.find(addr);
  if (it == m->paths.end()) return false;
  *out = it->second;
  return true;
}

}  // namespace

bool decode_ref(const TypeNode& node, hid_t loc, const uint8_t* p, RefValue* r, ErrorInfo* err) {
  r->region = node.region;
  H5R_type_t rt = node.region ? H5R_DATASET_REGION : H5R_OBJECT;
  // A null reference (all zero bytes) names nothing: h5py's bool(ref) is False.
  bool zero = std::all_of(p, p + node.mem_size, [](uint8_t b) { return b == 0; });
  if (zero) return true;
  // A region reference's heap object is read by H5Rget_name and decoded by
  // H5Rget_region without bounds: check it first (read-only files).
  if (node.region && !check_region_reference(p, err)) return false;
  std::string name;
  if (!reference_path(loc, rt, p, &name)) {
    // A dangling reference (its object was deleted, or hostile bytes; libhdf5
    // answers 0, "no name", or fails): kept as an invalid reference, not a
    // failed read, as h5py returns it unresolved.
    clear_error_stack();
    return true;
  }
  r->valid = true;
  r->path = name;
  if (!node.region) return true;
  Hid space(H5Rget_region(loc, H5R_DATASET_REGION, p));
  if (!space) {
    *err = capture_error("region reference to '" + name + "'");
    return false;
  }
  int rank = H5Sget_simple_extent_ndims(space.get());
  r->rank = std::max(rank, 0);
  switch (H5Sget_select_type(space.get())) {
    case H5S_SEL_ALL:
      r->sel_kind = "all";
      break;
    case H5S_SEL_NONE:
      r->sel_kind = "none";
      break;
    case H5S_SEL_POINTS: {
      r->sel_kind = "points";
      hssize_t np = H5Sget_select_elem_npoints(space.get());
      if (np > 0) {
        r->coords.assign(static_cast<size_t>(np) * static_cast<size_t>(r->rank), 0);
        if (H5Sget_select_elem_pointlist(space.get(), 0, static_cast<hsize_t>(np), r->coords.data()) < 0) {
          *err = capture_error("region reference points");
          return false;
        }
      }
      break;
    }
    case H5S_SEL_HYPERSLABS: {
      r->sel_kind = "blocks";
      hssize_t nb = H5Sget_select_hyper_nblocks(space.get());
      if (nb > 0) {
        r->coords.assign(static_cast<size_t>(nb) * 2 * static_cast<size_t>(r->rank), 0);
        if (H5Sget_select_hyper_blocklist(space.get(), 0, static_cast<hsize_t>(nb), r->coords.data()) < 0) {
          *err = capture_error("region reference blocks");
          return false;
        }
      }
      break;
    }
    default:
      r->sel_kind = "none";
      break;
  }
  return true;
}

}  // namespace

uint64_t column_bytes(const Column& c) {
  uint64_t n = c.bytes.size();
  for (const auto& s : c.strings) n += s.size();
  for (const auto& r : c.refs) n += r.path.size() + r.coords.size() * sizeof(hsize_t);
  for (const auto& f : c.fields) n += column_bytes(f);
  for (const auto& i : c.items) n += column_bytes(i);
  return n;
}

bool decode_column(const TypeNode& node, hid_t loc, const std::vector<const uint8_t*>& ptrs, Column* out,
                   uint64_t* vlen_bytes, ErrorInfo* err) {
  out->kind = node.kind;
  out->dtype = node.dtype;
  switch (node.kind) {
    case Kind::Integer:
    case Kind::Float:
    case Kind::Bitfield:
    case Kind::Opaque:
    case Kind::Enum:
    case Kind::Complex:
      gather(ptrs, node.mem_size, &out->bytes);
      return true;
    case Kind::String: {
      out->strings.reserve(ptrs.size());
      for (const uint8_t* p : ptrs) {
        if (node.vlen_string) {
          const char* s;
          std::memcpy(&s, p, sizeof s);
          out->strings.emplace_back(s ? s : "");
          *vlen_bytes += out->strings.back().size();
        } else {
          H5T_str_t pad = node.pad == "spacepad"  ? H5T_STR_SPACEPAD
                          : node.pad == "nullpad" ? H5T_STR_NULLPAD
                                                  : H5T_STR_NULLTERM;
          out->strings.push_back(fixed_string(reinterpret_cast<const char*>(p), node.mem_size, pad));
        }
      }
      break;
    }
    case Kind::Compound: {
      out->fields.resize(node.members.size());
      std::vector<const uint8_t*> sub(ptrs.size());
      for (size_t f = 0; f < node.members.size(); ++f) {
        for (size_t i = 0; i < ptrs.size(); ++i) sub[i] = ptrs[i] + node.offsets[f];
        if (!decode_column(node.members[f], loc, sub, &out->fields[f], vlen_bytes, err)) return false;
      }
      break;
    }
    case Kind::Array: {
      const TypeNode& base = node.members[0];
      size_t k = 1;
      for (hsize_t d : node.dims) k *= static_cast<size_t>(d);
      std::vector<const uint8_t*> sub;
      sub.reserve(ptrs.size() * k);
      for (const uint8_t* p : ptrs)
        for (size_t j = 0; j < k; ++j) sub.push_back(p + j * base.mem_size);
      // An array column is its base column with trailing dims.
      return decode_column(base, loc, sub, out, vlen_bytes, err);
    }
    case Kind::Vlen: {
      const TypeNode& base = node.members[0];
      out->items.resize(ptrs.size());
      for (size_t i = 0; i < ptrs.size(); ++i) {
        hvl_t v;
        std::memcpy(&v, ptrs[i], sizeof v);
        *vlen_bytes += static_cast<uint64_t>(v.len) * base.mem_size;
        if (*vlen_bytes > kMaxVlenReadBytes) {
          *err = ErrorInfo::make("H5_LIMIT_EXCEEDED", "variable-length data exceeds " +
                                                          std::to_string(kMaxVlenReadBytes) + " bytes in one read");
          return false;
        }
        std::vector<const uint8_t*> sub(v.len);
        for (size_t j = 0; j < v.len; ++j) sub[j] = static_cast<const uint8_t*>(v.p) + j * base.mem_size;
        if (!decode_column(base, loc, sub, &out->items[i], vlen_bytes, err)) return false;
      }
      break;
    }
    case Kind::Reference: {
      out->refs.resize(ptrs.size());
      for (size_t i = 0; i < ptrs.size(); ++i)
        if (!decode_ref(node, loc, ptrs[i], &out->refs[i], err)) return false;
      break;
    }
  }
  if (*vlen_bytes > kMaxVlenReadBytes) {
    *err = ErrorInfo::make("H5_LIMIT_EXCEEDED",
                           "variable-length data exceeds " + std::to_string(kMaxVlenReadBytes) + " bytes in one read");
    return false;
  }
  return true;
}

namespace {

// Frees what libhdf5 allocated for variable-length data in `buf`, on every path.
struct VlenReclaim {
  hid_t mtype, space;
  void* buf;
  bool active;
  ~VlenReclaim() {
    if (active) H5Dvlen_reclaim(mtype, space, H5P_DEFAULT, buf);
  }
};

}  // namespace

bool read_value(hid_t obj, const char* attr_name, const Selection& sel, ValueResult* out, ErrorInfo* err) {
  RefNameScope names;
  Hid attr;
  if (attr_name) {
    if (!has_attr(obj, attr_name)) {
      *err = ErrorInfo::make("H5_NOT_FOUND", std::string("no attribute '") + attr_name + "'");
      return false;
    }
    attr.reset(H5Aopen(obj, attr_name, H5P_DEFAULT));
    if (!attr) {
      *err = capture_error(std::string("open attribute '") + attr_name + "'");
      return false;
    }
  }
  Hid ftype(attr_name ? H5Aget_type(attr.get()) : dataset_declared_type(obj));
  Hid fspace(attr_name ? H5Aget_space(attr.get()) : H5Dget_space(obj));
  if (!ftype || !fspace) {
    *err = capture_error("get datatype");
    return false;
  }
  Hid mtype;
  {
    hid_t m = H5I_INVALID_HID;
    if (!describe_value_type(ftype.get(), &out->type, &m, err)) return false;
    mtype.reset(m);
  }
  H5S_class_t sc = H5Sget_simple_extent_type(fspace.get());
  out->null_space = sc == H5S_NULL;
  out->scalar = sc == H5S_SCALAR;
  if (out->null_space) return true;
  Hid mspace;
  if (!sel.start.empty()) {
    if (attr_name || out->scalar) {
      *err = ErrorInfo::range_error("a selection needs a dataset with dimensions");
      return false;
    }
    int rank = H5Sget_simple_extent_ndims(fspace.get());
    std::vector<hsize_t> dims(static_cast<size_t>(std::max(rank, 0)));
    if (rank > 0) H5Sget_simple_extent_dims(fspace.get(), dims.data(), nullptr);
    DatasetInfo di;
    di.shape = dims;
    hsize_t total;
    std::vector<hsize_t> shape;
    if (!selection_elements(di, sel, &total, &shape, err)) return false;
    const hsize_t* step = sel.step.empty() ? nullptr : sel.step.data();
    if (H5Sselect_hyperslab(fspace.get(), H5S_SELECT_SET, sel.start.data(), step, sel.count.data(), nullptr) < 0) {
      *err = capture_error("select hyperslab");
      return false;
    }
    mspace.reset(H5Screate_simple(static_cast<int>(sel.count.size()), sel.count.data(), nullptr));
    out->shape = sel.count;
  } else {
    mspace.reset(H5Scopy(fspace.get()));
    H5Sselect_all(mspace.get());
    int rank = H5Sget_simple_extent_ndims(fspace.get());
    out->shape.assign(static_cast<size_t>(std::max(rank, 0)), 0);
    if (rank > 0) H5Sget_simple_extent_dims(fspace.get(), out->shape.data(), nullptr);
  }
  hssize_t np = H5Sget_select_npoints(mspace.get());
  if (np < 0) {
    *err = capture_error("count elements");
    return false;
  }
  size_t bytes;
  if (!checked_bytes(static_cast<hsize_t>(np), out->type.mem_size, &bytes)) {
    *err = ErrorInfo::range_error("the selection is too large to read into memory");
    return false;
  }
  if (np == 0) {
    std::vector<const uint8_t*> none;
    uint64_t vb = 0;
    return decode_column(out->type, obj, none, &out->column, &vb, err);
  }
  // Heap IDs in the file are checked before libhdf5 follows them (vlen
  // elements, fill values, region references): heap_check.h.
  HeapCheckScope heap(attr_name ? attr.get() : obj);
  if (!attr_name && out->type.has_vlen && !out->scalar) {
    // Many elements may point at one large heap object: what the read would
    // allocate is the sum of the sequences, not the declared extent.
    hsize_t decoded = 0;
    filters::DecodeLimit limit(filters::chunk_decode_limit(obj));
    if (H5Dvlen_get_buf_size(obj, mtype.get(), fspace.get(), &decoded) < 0) {
      *err = heap.error_or_capture("measure variable-length data");
      return false;
    }
    if (decoded > kMaxVlenReadBytes) {
      *err = ErrorInfo::make("H5_LIMIT_EXCEEDED",
                             "reading " + std::to_string(np) + " elements would decode " + std::to_string(decoded) +
                                 " bytes of variable-length data (limit " + std::to_string(kMaxVlenReadBytes) + ")");
      return false;
    }
  }
  std::vector<uint8_t> buf(bytes, 0);
  VlenReclaim reclaim{mtype.get(), mspace.get(), buf.data(), out->type.has_vlen};
  herr_t rc;
  if (attr_name) {
    rc = H5Aread(attr.get(), mtype.get(), buf.data());
  } else {
    filters::DecodeLimit limit(filters::chunk_decode_limit(obj));
    rc = H5Dread(obj, mtype.get(), mspace.get(), fspace.get(), H5P_DEFAULT, buf.data());
  }
  if (rc < 0) {
    *err = heap.error_or_capture(attr_name ? std::string("read attribute '") + attr_name + "'" : std::string("read"));
    return false;
  }
  std::vector<const uint8_t*> ptrs(static_cast<size_t>(np));
  for (size_t i = 0; i < ptrs.size(); ++i) ptrs[i] = buf.data() + i * out->type.mem_size;
  uint64_t vb = 0;
  hid_t loc = attr_name ? attr.get() : obj;
  return decode_column(out->type, loc, ptrs, &out->column, &vb, err);
}

}  // namespace h5v::h5
