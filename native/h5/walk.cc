// The untrusted-file metadata walk; see walk.h for what and why.
#include "walk.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <limits>
#include <unordered_set>

#include <hdf5.h>

#include "attribute.h"
#include "value.h"
#include "dataset.h"
#include "../common/error.h"
#include "../filters/bounded.h"
#include "file.h"
#include "../common/hid.h"
#include "heap_check.h"
#include "../common/lock.h"
#include "types.h"

namespace h5v::h5 {

namespace {

// Thrown once the report holds a rejection; unwinds (closing every Hid) to
// walk_file/walk_image. Never thrown from inside a libhdf5 callback: the
// iteration callbacks only collect names, work happens after they return.
struct Rejected {};

// Mirrors the engine's addressed-index threshold (native/engine/chunk_index.h):
// up to this many grid slots the parent asks H5Dget_chunk_storage_size and
// H5Dget_chunk_info_by_coord for every slot, so the walk does the same; above
// it the parent only ever asks H5Dget_chunk_storage_size + H5Dread_chunk per chunk.
constexpr uint64_t kAddressedChunks = 1024;
// Link values (soft-link paths, external-link targets) longer than this are
// not legitimate and are not worth a libhdf5 allocation.
constexpr size_t kMaxLinkValue = 64 * 1024;

// a * b, saturating at UINT64_MAX (a declared size that overflows is simply "too large").
uint64_t mul_sat(uint64_t a, uint64_t b) {
  uint64_t r;
  return __builtin_mul_overflow(a, b, &r) ? UINT64_MAX : r;
}

// libhdf5 reports a failed malloc as one of these; the fix for them is the
// caller's memory limit, so they get their own reason.
bool is_allocation_failure(const ErrorInfo& e) {
  for (const char* needle : {"memory allocation failed", "Can't allocate", "can't allocate", "unable to allocate",
                             "No space available for allocation"}) {
    if (e.message.find(needle) != std::string::npos || e.minor.find(needle) != std::string::npos) return true;
  }
  return false;
}

std::string human(uint64_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024 && u < 6) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", v, units[u]);
  return buf;
}

struct LinkRec {
  std::string name;
  H5L_type_t type;
  size_t val_size;
};

struct LinkCollect {
  std::vector<LinkRec>* out;
  uint64_t budget;
  bool overflow = false;
};

herr_t collect_link(hid_t, const char* name, const H5L_info_t* info, void* data) {
  auto* c = static_cast<LinkCollect*>(data);
  if (c->out->size() >= c->budget) {
    c->overflow = true;
    return 1;  // stop iterating: over the link limit
  }
  c->out->push_back(LinkRec{name, info->type, info->type == H5L_TYPE_HARD ? 0 : info->u.val_size});
  return 0;
}

struct AttrCollect {
  std::vector<std::string>* out;
  uint64_t budget;
  bool overflow = false;
};

herr_t collect_attr(hid_t, const char* name, const H5A_info_t*, void* data) {
  auto* c = static_cast<AttrCollect*>(data);
  if (c->out->size() >= c->budget) {
    c->overflow = true;
    return 1;
  }
  c->out->emplace_back(name);
  return 0;
}

// Group.walk() in the parent is H5Ovisit (native/h5/file.cc). libhdf5's own
// cycle detection there only covers objects with several hard links, so a
// crafted cycle makes it loop forever (CVE-2018-15671); the walk runs the same
// visit and stops it at the depth and object limits.
struct VisitCount {
  uint64_t visits = 0, max_visits = 0;
  uint32_t max_depth = 0;
  const char* stopped = nullptr;
  std::string where;
};

herr_t count_visit(hid_t, const char* name, const H5O_info_t*, void* data) {
  auto* c = static_cast<VisitCount*>(data);
  uint32_t depth = name[0] == '.' && name[1] == 0 ? 0 : 1;
  for (const char* p = name; *p; ++p) depth += *p == '/';
  if (depth > c->max_depth)
    c->stopped = "too-deep";
  else if (++c->visits > c->max_visits)
    c->stopped = "too-many-objects";
  if (!c->stopped) return 0;
  c->where = std::string("/") + name;
  return 1;
}

class Walker {
 public:
  Walker(const WalkLimits& lim, WalkReport* rep) : lim_(lim), rep_(rep) {}

  void run(hid_t fid) {
    H5F_info2_t finfo;
    if (H5Fget_info2(fid, &finfo) < 0) corrupt("superblock", "/");
    Hid fcpl(H5Fget_create_plist(fid));
    hsize_t ub = 0;
    if (!fcpl || H5Pget_userblock(fcpl.get(), &ub) < 0) corrupt("superblock (userblock)", "/");
    userblock_ = ub;
    Hid root(H5Gopen(fid, "/", H5P_DEFAULT));
    if (!root) corrupt("open root group", "/");
    visit(root.get(), "/", 0);
    // Same traversal as the parent's Group.walk(), bounded.
    VisitCount vc;
    vc.max_visits = lim_.max_objects;
    vc.max_depth = lim_.max_depth;
    if (H5Ovisit2(root.get(), H5_INDEX_NAME, H5_ITER_INC, count_visit, &vc, H5O_INFO_BASIC) < 0 && !vc.stopped)
      corrupt("visit objects", "/");
    if (vc.stopped)
      reject(vc.stopped,
             "H5Ovisit (Group.walk) goes past the " +
                 (std::string(vc.stopped) == "too-deep" ? std::to_string(lim_.max_depth) + "-level depth limit"
                                                        : std::to_string(lim_.max_objects) + "-object limit") +
                 ": a link cycle libhdf5 does not detect",
             vc.where);
  }

 private:
  [[noreturn]] void reject(const char* reason, std::string detail, const std::string& object) {
    rep_->reason = reason;
    rep_->detail = std::move(detail);
    rep_->object = object;
    throw Rejected{};
  }

  // A libhdf5 failure: the file's metadata cannot be parsed. Memory
  // exhaustion (the child's RLIMIT_AS) is told apart because raising the
  // memory limit is the caller's fix for it.
  [[noreturn]] void corrupt(const std::string& what, const std::string& object) {
    ErrorInfo e = capture_error(what + " '" + object + "'");
    rep_->code = e.code;
    reject(is_allocation_failure(e) ? "memory" : "corrupt", e.message, object);
  }

  void visit(hid_t obj, const std::string& path, uint32_t depth) {
    if (depth > lim_.max_depth)
      reject("too-deep", "objects nested deeper than " + std::to_string(lim_.max_depth) + " levels", path);
    // H5O_INFO_ALL also walks the header's messages and, for groups, the
    // link B-tree/heap and attribute storage sizes: more of the file parsed here.
    H5O_info_t info;
    if (H5Oget_info2(obj, &info, H5O_INFO_ALL) < 0) corrupt("object header", path);
    // Hard links may form cycles and share objects: visit each header once.
    if (!seen_.insert(info.addr).second) return;
    if (++objects_ > lim_.max_objects)
      reject("too-many-objects", "more than " + std::to_string(lim_.max_objects) + " objects", path);
    rep_->depth = std::max(rep_->depth, depth);
    visit_attrs(obj, path, info.num_attrs);
    switch (info.type) {
      case H5O_TYPE_GROUP:
        ++rep_->groups;
        visit_group(obj, path, depth);
        break;
      case H5O_TYPE_DATASET:
        ++rep_->datasets;
        visit_dataset(obj, path);
        break;
      case H5O_TYPE_NAMED_DATATYPE: {
        ++rep_->datatypes;
        // Parse it the way a dataset using it would be described.
        describe_type(obj);
        if (H5Tget_size(obj) == 0) corrupt("named datatype", path);
        break;
      }
      default:
        reject("corrupt", "object of unknown type", path);
    }
  }

  void visit_group(hid_t g, const std::string& path, uint32_t depth) {
    std::vector<LinkRec> links;
    LinkCollect c{&links, lim_.max_links - std::min(lim_.max_links, rep_->links)};
    hsize_t idx = 0;
    if (H5Literate(g, H5_INDEX_NAME, H5_ITER_INC, &idx, collect_link, &c) < 0) corrupt("list links", path);
    if (c.overflow) reject("too-many-objects", "more than " + std::to_string(lim_.max_links) + " links", path);
    rep_->links += links.size();
    // The parent's own listing (Group.keys()/links()) resolves every link's
    // target kind: run that code path here too.
    std::vector<LinkEntry> entries;
    ErrorInfo err;
    if (!list_links(g, &entries, &err)) {
      rep_->code = err.code;
      reject("corrupt", err.message, path);
    }
    for (const LinkRec& l : links) {
      std::string child = join_path(path, l.name);
      if (l.type == H5L_TYPE_EXTERNAL) reject("external-link", external_target(g, l, child), child);
      if (l.type == H5L_TYPE_SOFT) {
        ++rep_->soft_links;
        soft_target(g, l, child);
        continue;
      }
      if (l.type != H5L_TYPE_HARD) reject("user-defined-link", "link class " + std::to_string(l.type), child);
      Hid obj(H5Oopen(g, l.name.c_str(), H5P_DEFAULT));
      if (!obj) corrupt("open object", child);
      visit(obj.get(), child, depth + 1);
    }
  }

  std::string external_target(hid_t g, const LinkRec& l, const std::string& child) {
    if (l.val_size == 0 || l.val_size > kMaxLinkValue) return "external link";
    std::vector<char> buf(l.val_size);
    const char* file = nullptr;
    const char* obj = nullptr;
    unsigned flags = 0;
    if (H5Lget_val(g, l.name.c_str(), buf.data(), buf.size(), H5P_DEFAULT) < 0 ||
        H5Lunpack_elink_val(buf.data(), buf.size(), &flags, &file, &obj) < 0) {
      clear_error_stack();
      return "external link";
    }
    return std::string("external link to '") + (file ? file : "") + "':" + (obj ? obj : "");
  }

  // Soft links are resolved by the parent on get(); every target is itself
  // reached through hard links (visited anyway), so only the value and its
  // resolution are exercised here. A dangling soft link is legal.
  void soft_target(hid_t g, const LinkRec& l, const std::string& child) {
    if (l.val_size > kMaxLinkValue) reject("corrupt", "soft link value of " + human(l.val_size), child);
    std::vector<char> buf(l.val_size + 1, 0);
    if (H5Lget_val(g, l.name.c_str(), buf.data(), buf.size(), H5P_DEFAULT) < 0) corrupt("soft link", child);
    H5Oexists_by_name(g, l.name.c_str(), H5P_DEFAULT);
    clear_error_stack();
  }

  void visit_attrs(hid_t obj, const std::string& path, hsize_t declared_count) {
    std::vector<std::string> names;
    AttrCollect c{&names, lim_.max_attributes - std::min(lim_.max_attributes, rep_->attributes)};
    hsize_t idx = 0;
    if (declared_count > 0 && H5Aiterate2(obj, H5_INDEX_NAME, H5_ITER_INC, &idx, collect_attr, &c) < 0)
      corrupt("list attributes", path);
    if (c.overflow)
      reject("too-many-objects", "more than " + std::to_string(lim_.max_attributes) + " attributes", path);
    rep_->attributes += names.size();
    for (const std::string& name : names) {
      std::string where = path + "@" + name;
      Hid attr(H5Aopen(obj, name.c_str(), H5P_DEFAULT));
      if (!attr) corrupt("open attribute", where);
      Hid type(H5Aget_type(attr.get()));
      Hid space(H5Aget_space(attr.get()));
      if (!type || !space) corrupt("attribute type/space", where);
      describe_type(type.get());
      size_t esize = H5Tget_size(type.get());
      hssize_t n = H5Sget_simple_extent_npoints(space.get());
      if (esize == 0 || n < 0) corrupt("attribute type/space", where);
      uint64_t bytes = mul_sat(esize, static_cast<uint64_t>(n));
      if (bytes > lim_.max_attribute_bytes)
        reject("attribute-too-large",
               "attribute declares " + human(bytes) + " (limit " + human(lim_.max_attribute_bytes) + ")", where);
      attr.reset();
      // Read the value the way Attributes.get() will.
      AttrValue v;
      ErrorInfo err;
      uint64_t decoded = 0;
      if (!read_attr(obj, name, &v, &err)) {
        if (err.code != "H5_UNSUPPORTED_TYPE") {
          rep_->code = err.code;
          reject(is_allocation_failure(err) ? "memory" : "corrupt", err.message, where);
        }
        // Types without a flat dtype (compound, vlen, references, ...) are
        // read by the generic path (docs/types.md): read them that way here.
        ValueResult val;
        err = ErrorInfo();
        if (!read_value(obj, name.c_str(), Selection{}, &val, &err)) {
          // Types h5vault cannot represent fail the same typed way in the parent.
          if (err.code == "H5_UNSUPPORTED_TYPE") continue;
          rep_->code = err.code;
          reject(err.code == "H5_LIMIT_EXCEEDED" ? "attribute-too-large"
                 : is_allocation_failure(err)    ? "memory"
                                                 : "corrupt",
                 err.message, where);
        }
        decoded = column_bytes(val.column);
      }
      // Variable-length strings: what the parent decodes is the strings, not
      // the 16-byte references the declared size counts.
      decoded += v.bytes.size();
      for (const std::string& str : v.strings) decoded += str.size();
      if (decoded > lim_.max_attribute_bytes)
        reject("attribute-too-large",
               "attribute decodes to " + human(decoded) + " (limit " + human(lim_.max_attribute_bytes) + ")", where);
      ++rep_->attributes_read;
    }
  }

  void visit_dataset(hid_t d, const std::string& path) {
    DatasetInfo info;
    ErrorInfo err;
    if (!describe_dataset(d, &info, &err)) {
      rep_->code = err.code;
      reject("corrupt", err.message, path);
    }
    if (info.layout == "virtual") reject("virtual-dataset", "virtual dataset (maps other files)", path);
    if (info.layout == "unknown") reject("corrupt", "unknown storage layout", path);
    if (info.external) reject("external-storage", "raw data stored in external files", path);
    for (const FilterInfo& f : info.filters) {
      if (std::find(lim_.allowed_filters.begin(), lim_.allowed_filters.end(), f.id) == lim_.allowed_filters.end())
        reject("filter", "filter " + std::to_string(f.id) + " (" + f.name + ") is not in the allow-list", path);
    }
    Hid type(H5Dget_type(d));
    size_t esize = type ? H5Tget_size(type.get()) : 0;
    if (esize == 0) corrupt("dataset type", path);
    // nelements is itself a product of dimensions that libhdf5 may have wrapped.
    uint64_t elements = 1;
    for (hsize_t dim : info.shape) elements = mul_sat(elements, dim);
    if (info.scalar) elements = 1;
    if (info.shape.empty() && !info.scalar) elements = 0;  // null dataspace
    uint64_t declared = mul_sat(esize, elements);

    // Sizes are judged by what reading the dataset would decode from storage
    // (`decoded`), not by the declared extent: a dataset with nothing written
    // reads as fill values and decodes nothing, however large it is declared.
    uint64_t stored = 0, decoded = 0;
    if (info.layout == "chunked") {
      stored = walk_chunks(d, info, esize, path, &decoded);
    } else if (info.layout == "contiguous") {
      if (info.allocated && info.offset != HADDR_UNDEF) {
        stored = info.storage_size;
        uint64_t end = 0;
        if (__builtin_add_overflow(static_cast<uint64_t>(info.offset), std::max<uint64_t>(declared, stored), &end) ||
            end > rep_->file_size)
          reject("out-of-bounds",
                 "data at offset " + std::to_string(info.offset) + " + " + human(declared) +
                     " lies past the end of the " + human(rep_->file_size) + " file",
                 path);
      }
      decoded = stored;
    } else {  // compact: the data lives in the object header itself
      stored = decoded = info.storage_size;
    }
    if (decoded > lim_.max_dataset_bytes)
      reject("dataset-too-large",
             "dataset stores " + human(decoded) + " to decode (limit " + human(lim_.max_dataset_bytes) + ")", path);
    decoded = std::max(decoded, vlen_bytes(d, info, path));
    // DBL_MAX is "no limit" (JS Infinity crosses JSON as Number.MAX_VALUE);
    // it must also pass datasets with nothing stored, where any ratio is infinite.
    bool unlimited = lim_.max_expansion >= std::numeric_limits<double>::max();
    if (!unlimited && decoded > lim_.expansion_floor &&
        static_cast<double>(decoded) > lim_.max_expansion * static_cast<double>(stored)) {
      char ratio[32];
      snprintf(ratio, sizeof ratio, "%g", lim_.max_expansion);
      reject("shape-bomb",
             "decodes " + human(decoded) + " from " + human(stored) + " stored (more than " + ratio + "x)", path);
    }
    rep_->declared_bytes += declared;
    rep_->stored_bytes += stored;
    if (info.type.dtype == DType::Unsupported && elements > 0) read_generic(d, path);
  }

  // Types without a flat dtype (compound, vlen sequences, references, array,
  // enum, opaque, bitfield, odd-size numbers) are read by the parent through
  // libhdf5's type conversion (H5Dread into a converted memory type), which a
  // damaged type or heap can crash (a compound member of absurd size, a
  // reference into garbage, nested sequences pointing anywhere). Sizes are
  // checked above; here the child does the very read the parent will, so such
  // a crash stays in the child.
  void read_generic(hid_t d, const std::string& path) {
    ValueResult val;
    ErrorInfo err;
    const bool ok = read_value(d, nullptr, Selection{}, &val, &err);
    if (ok) return;
    // Types h5vault cannot represent fail the same typed way in the parent.
    if (err.code == "H5_UNSUPPORTED_TYPE") return;
    rep_->code = err.code;
    reject(err.code == "H5_LIMIT_EXCEEDED" ? "dataset-too-large"
           : is_allocation_failure(err)    ? "memory"
                                           : "corrupt",
           err.message, path);
  }

  // Variable-length data (strings, sequences, and compounds or arrays holding
  // them): the bytes a read of the whole dataset decodes (many elements may
  // reference one large heap object). 0 for other types.
  uint64_t vlen_bytes(hid_t d, const DatasetInfo& info, const std::string& path) {
    // A scalar holds one string: nothing to amplify (and libhdf5 1.10.8
    // crashes measuring a scalar dataspace).
    if (info.scalar) return 0;
    Hid ftype(H5Dget_type(d));
    Hid space(H5Dget_space(d));
    if (!ftype || !space) corrupt("datatype", path);
    // Strings, vlen sequences, and compounds/arrays holding them: measured
    // with the memory type the read will use.
    TypeNode node;
    hid_t m = H5I_INVALID_HID;
    ErrorInfo terr;
    if (!describe_value_type(ftype.get(), &node, &m, &terr)) return 0;  // unreadable: refused typed at read time
    Hid mtype(m);
    if (!node.has_vlen) return 0;
    hsize_t bytes = 0;
    filters::DecodeLimit limit(filters::chunk_decode_limit(d));
    HeapCheckScope heap(d);
    if (H5Dvlen_get_buf_size(d, mtype.get(), space.get(), &bytes) < 0) {
      if (heap.failed()) {
        rep_->code = "H5_CORRUPT";
        reject("corrupt", heap.error_or_capture("variable-length data").message, path);
      }
      corrupt("variable-length data", path);
    }
    if (bytes > lim_.max_vlen_bytes)
      reject("dataset-too-large",
             std::string(node.kind == Kind::String ? "strings decode to " : "variable-length data decodes to ") +
                 human(bytes) + " (limit maxVlenBytes " + human(lim_.max_vlen_bytes) + ")",
             path);
    return bytes;
  }

  // Returns the stored bytes of all allocated chunks; *decoded: what they decode to.
  uint64_t walk_chunks(hid_t d, const DatasetInfo& info, size_t esize, const std::string& path, uint64_t* decoded) {
    const size_t rank = info.shape.size();
    if (info.chunks.size() != rank || rank == 0) reject("corrupt", "chunk rank does not match the dataspace", path);
    uint64_t chunk_bytes = esize, grid = 1;
    std::vector<hsize_t> gridv(rank);
    for (size_t i = 0; i < rank; ++i) {
      if (info.chunks[i] == 0) reject("corrupt", "zero chunk dimension", path);
      chunk_bytes = mul_sat(chunk_bytes, info.chunks[i]);
      gridv[i] = info.shape[i] / info.chunks[i] + (info.shape[i] % info.chunks[i] != 0);
      grid = mul_sat(grid, gridv[i]);
    }
    if (chunk_bytes > lim_.max_chunk_bytes)
      reject("chunk-too-large", "chunks of " + human(chunk_bytes) + " (limit " + human(lim_.max_chunk_bytes) + ")",
             path);
    hsize_t nalloc = 0;
    Hid space(H5Dget_space(d));
    std::vector<hsize_t> dims(rank), maxdims(rank);
    if (!space || H5Sget_simple_extent_dims(space.get(), dims.data(), maxdims.data()) != static_cast<int>(rank))
      corrupt("dataspace", path);
    // libhdf5 never writes a chunk wider than a fixed-size dimension; its
    // read path trusts that (CVE-2018-11205: out-of-bounds copy).
    for (size_t i = 0; i < rank; ++i) {
      if (maxdims[i] != H5S_UNLIMITED && info.chunks[i] > maxdims[i])
        reject("corrupt",
               "chunk dimension " + std::to_string(i) + " (" + std::to_string(info.chunks[i]) +
                   ") exceeds the fixed maximum extent " + std::to_string(maxdims[i]),
               path);
    }
    if (grid > 0 && H5Dget_num_chunks(d, space.get(), &nalloc) < 0) corrupt("chunk index", path);
    if (nalloc > grid)
      reject("corrupt",
             "chunk index lists " + std::to_string(nalloc) + " chunks for " + std::to_string(grid) + " slots", path);
    // The limit is on chunks that exist: a huge, sparsely written (or
    // unwritten) grid decodes only what is stored. Past the grid limit the
    // few stored chunks are listed by index (quadratic in libhdf5 1.10, so
    // only up to the addressed-index threshold).
    const bool by_index = grid > lim_.max_chunks;
    if (nalloc > lim_.max_chunks || (by_index && nalloc > kAddressedChunks))
      reject("too-many-chunks",
             "chunk grid of " + std::to_string(grid) + " slots with " + std::to_string(nalloc) + " stored (limit " +
                 std::to_string(lim_.max_chunks) + ")",
             path);
    uint64_t stored = 0, nstored = 0;
    *decoded = 0;
    // What one stored chunk may occupy: the chunk, plus what any allowed
    // filter can add to incompressible data (far less than this), plus checksums.
    const uint64_t max_stored = mul_sat(chunk_bytes, 2) + (uint64_t(1) << 20);
    std::vector<hsize_t> gc(rank, 0), off(rank, 0);
    const uint64_t steps = by_index ? nalloc : grid;
    for (uint64_t slot = 0; nalloc > 0 && slot < steps; ++slot) {
      for (size_t i = 0; i < rank; ++i) off[i] = gc[i] * info.chunks[i];
      hsize_t size = 0;
      if (by_index) {
        unsigned mask = 0;
        haddr_t addr = HADDR_UNDEF;
        if (H5Dget_chunk_info(d, space.get(), slot, off.data(), &mask, &addr, &size) < 0) corrupt("chunk index", path);
        check_chunk_extent(addr, size, path);
      } else if (grid <= kAddressedChunks) {
        unsigned mask = 0;
        haddr_t addr = HADDR_UNDEF;
        if (H5Dget_chunk_info_by_coord(d, off.data(), &mask, &addr, &size) < 0) corrupt("chunk index", path);
        if (addr != HADDR_UNDEF) check_chunk_extent(addr, size, path);
        // The engine also asks the real lookup for every slot and counts what
        // it finds (chunk_index.h: _by_coord mislabels some index types).
        if (H5Dget_chunk_storage_size(d, off.data(), &size) < 0) {
          clear_error_stack();
          size = 0;
        }
      } else if (H5Dget_chunk_storage_size(d, off.data(), &size) < 0) {
        // Unallocated chunks fail this call in 1.10.8; that is not corruption.
        clear_error_stack();
        size = 0;
      }
      if (size > max_stored)
        reject("chunk-too-large", "a chunk stores " + human(size) + " for " + human(chunk_bytes) + " of data", path);
      if (size > 0) {
        ++rep_->chunks;
        stored += size;
        *decoded = mul_sat(++nstored, chunk_bytes);
      }
      for (size_t i = rank; i-- > 0;) {
        if (++gc[i] < gridv[i]) break;
        gc[i] = 0;
      }
    }
    return stored;
  }

  void check_chunk_extent(haddr_t addr, hsize_t size, const std::string& path) {
    uint64_t end = 0;
    if (size > 0 &&
        (addr == HADDR_UNDEF || __builtin_add_overflow(static_cast<uint64_t>(addr) + userblock_, size, &end) ||
         end > rep_->file_size))
      reject("out-of-bounds",
             "chunk at " + std::to_string(addr) + " + " + human(size) + " lies past the end of the " +
                 human(rep_->file_size) + " file",
             path);
  }

  const WalkLimits& lim_;
  WalkReport* rep_;
  std::unordered_set<haddr_t> seen_;
  uint64_t objects_ = 0;
  hsize_t userblock_ = 0;
};

hid_t walk_fapl() {
  hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  // Same settings as FileHandle::open, so the walk takes the parent's paths.
  H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG);
  H5Pset_file_locking(fapl, true, true);
  return fapl;
}

void walk_open_file(hid_t fid, const WalkLimits& limits, WalkReport* rep) {
  try {
    Walker(limits, rep).run(fid);
    rep->ok = true;
  } catch (const Rejected&) {
    rep->ok = false;
  }
  clear_error_stack();
}

void open_failed(WalkReport* rep, const std::string& what) {
  ErrorInfo e = capture_error(what);
  rep->reason = "open-failed";
  rep->code = e.code;
  rep->detail = e.message;
  rep->object = "/";
}

}  // namespace

bool file_stamp(hid_t fid, FileStamp* out) {
  void* vh = nullptr;
  struct stat st;
  if (H5Fget_vfd_handle(fid, H5P_DEFAULT, &vh) < 0 || !vh || ::fstat(*static_cast<int*>(vh), &st) != 0) {
    clear_error_stack();
    return false;
  }
  out->valid = true;
  out->dev = st.st_dev;
  out->ino = st.st_ino;
  out->size = static_cast<uint64_t>(st.st_size);
  out->mtime_ns = int64_t(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  out->ctime_ns = int64_t(st.st_ctim.tv_sec) * 1000000000 + st.st_ctim.tv_nsec;
  return true;
}

WalkReport walk_file(const std::string& path, const WalkLimits& limits) {
  WalkReport rep;
  struct stat st;
  int rc = ::stat(path.c_str(), &st);
  if (rc != 0 || !S_ISREG(st.st_mode)) {
    bool missing = rc != 0 && errno == ENOENT;
    rep.reason = "open-failed";
    rep.code = missing ? "H5_FILE_NOT_FOUND" : "H5_OPEN_FAILED";
    rep.detail = "open '" + path + "': " + (missing ? "no such file" : "not a regular file");
    return rep;
  }
  Lock lock;
  Hid fapl(walk_fapl());
  Hid fid(H5Fopen(path.c_str(), H5F_ACC_RDONLY, fapl.get()));
  if (!fid) {
    open_failed(&rep, "open '" + path + "'");
    return rep;
  }
  // Identity of what libhdf5 actually read, for the parent's change check.
  rep.file_size = file_stamp(fid.get(), &rep.stamp) ? rep.stamp.size : static_cast<uint64_t>(st.st_size);
  walk_open_file(fid.get(), limits, &rep);
  fid.reset();
  clear_error_stack();
  return rep;
}

WalkReport walk_image(const void* data, size_t size, const WalkLimits& limits) {
  WalkReport rep;
  rep.file_size = size;
  Lock lock;
  Hid fapl(walk_fapl());
  // Core driver over a copy of the image, no backing store: no disk I/O.
  if (H5Pset_fapl_core(fapl.get(), 64 * 1024, false) < 0 ||
      H5Pset_file_image(fapl.get(), const_cast<void*>(data), size) < 0) {
    open_failed(&rep, "file image");
    return rep;
  }
  Hid fid(H5Fopen("untrusted-image.h5", H5F_ACC_RDONLY, fapl.get()));
  if (!fid) {
    open_failed(&rep, "open file image");
    return rep;
  }
  walk_open_file(fid.get(), limits, &rep);
  fid.reset();
  clear_error_stack();
  return rep;
}

}  // namespace h5v::h5
