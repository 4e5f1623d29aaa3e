// Global heap ID checks; see heap_check.h for what and why. The parsing below
// follows libhdf5 1.10.8's H5HGcache.c / H5Tvlen.c / H5Shyper.c / H5Spoint.c
// byte for byte where it decides what libhdf5 will dereference, and is
// stricter where libhdf5 only asserts (debug builds) what a well-formed file
// satisfies.
#include "heap_check.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <map>
#include <mutex>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "../common/hid.h"

namespace h5v::h5 {

namespace {

// The library's vlen conversion has H5T_lib_conv_t's signature (no dxpl
// argument, H5Tpkg.h); H5Tfind hands it out through the H5T_conv_t union member.
using LibConv = herr_t (*)(hid_t, hid_t, H5T_cdata_t*, size_t, size_t, size_t, void*, void*);
LibConv g_lib_vlen = nullptr;

constexpr uint64_t kBufferWhole = 16u << 20;    // parse collections up to this from one read
constexpr size_t kMaxCachedFiles = 64;          // open file ids whose access and parsed heaps are kept
constexpr size_t kMaxCachedObjects = 4u << 20;  // heap objects kept per file (24 bytes each)
constexpr unsigned kMaxRank = 32;               // H5S_MAX_RANK

uint64_t align8(uint64_t x) { return (x + 7) / 8 * 8; }

uint64_t decode_le(const uint8_t* p, unsigned n) {
  uint64_t v = 0;
  for (unsigned i = 0; i < n; ++i) v |= static_cast<uint64_t>(p[i]) << (8 * i);
  return v;
}

bool all_ff(const uint8_t* p, unsigned n) {
  for (unsigned i = 0; i < n; ++i)
    if (p[i] != 0xff) return false;
  return true;
}

std::string hex(uint64_t v) {
  char b[24];
  std::snprintf(b, sizeof b, "0x%llx", static_cast<unsigned long long>(v));
  return b;
}

// One parsed global heap collection: where each object index lives.
struct Collection {
  std::string bad;  // why the collection itself is unusable ("" if fine)
  struct Obj {
    uint64_t begin = 0;  // offset of the object's header in the collection
    uint64_t size = 0;   // bytes of data after the header
    bool used = false;
  };
  std::vector<Obj> objs;  // by heap index
};

// What is known about one open file's heap, kept across its reads. Parsed
// collections are only touched under libhdf5's global lock.
struct FileHeap {
  uint64_t base = 0;  // absolute offset of the superblock (HDF5 addresses are relative to it)
  unsigned sizeof_addr = 8;
  unsigned sizeof_size = 8;
  std::unordered_map<uint64_t, Collection> collections;
  size_t objects = 0;
};

using FileKey = std::tuple<dev_t, ino_t, off_t, int64_t, int64_t>;

// Per open file id: the descriptor its heap is read through (-1: not
// checked) and its parsed heap. Asked of libhdf5 once per id (a copy of the
// access property list per read made small reads measurably slower);
// forget_heap_file() drops it when the id closes.
struct FileAccess {
  int fd = -1;
  FileKey key{};
  std::shared_ptr<FileHeap> heap;
};
std::mutex g_access_m;
std::unordered_map<hid_t, FileAccess> g_access;

void remember_access(hid_t fid, const FileAccess& a) {
  std::lock_guard<std::mutex> g(g_access_m);
  // Ids closed without forget_heap_file (files opened by plain libhdf5 calls,
  // e.g. the walk) are never looked up again; keep the table small.
  if (g_access.size() >= kMaxCachedFiles && !g_access.count(fid)) g_access.erase(g_access.begin());
  g_access[fid] = a;
}

std::mutex g_images_m;
std::map<const uint8_t*, int> g_images;  // image mapping -> its sealed memfd

// Per conversion path (cdata->priv): the sizes checked elements need.
struct PathInfo {
  size_t src_size = 0;
  size_t base_size = 0;  // bytes per item of the sequence (1 for strings)
};

}  // namespace

struct HeapCheckScope::State {
  int fd = -1;
  uint64_t file_size = 0;
  std::shared_ptr<FileHeap> heap;
  uint64_t base = 0;
  unsigned sizeof_addr = 8;
  unsigned sizeof_size = 8;
  ErrorInfo failure;
  uint64_t last_addr = 0;  // the collection the previous element used
  const Collection* last = nullptr;
  uint64_t decode_limit = 0;  // bound_decoded(): 0 = none
  uint64_t decoded = 0;       // bytes the checked elements of this scope decode to

  bool fail(std::string message) {
    if (failure.ok()) failure = ErrorInfo::make("H5_CORRUPT", std::move(message));
    return false;
  }

  bool pread_all(uint64_t off, size_t len, uint8_t* out) const {
    size_t done = 0;
    while (done < len) {
      ssize_t n = ::pread(fd, out + done, len - done, static_cast<off_t>(off + done));
      if (n <= 0) return false;
      done += static_cast<size_t>(n);
    }
    return true;
  }

  // H5FD_locate_signature: offset 0, then 512, 1024, ... below the file size.
  bool locate_superblock() {
    static const uint8_t sig[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
    for (unsigned n = 8; n < 64; ++n) {
      uint64_t at = n == 8 ? 0 : uint64_t{1} << n;
      if (at + 8 > file_size) break;
      uint8_t b[8];
      if (!pread_all(at, 8, b)) break;
      if (std::memcmp(b, sig, 8) == 0) {
        base = at;
        return true;
      }
    }
    return false;
  }

  const Collection& collection(uint64_t addr) {
    if (last && last_addr == addr) return *last;
    auto it = heap->collections.find(addr);
    if (it == heap->collections.end()) {
      it = heap->collections.emplace(addr, Collection()).first;
      parse(addr, &it->second);
      heap->objects += it->second.objs.size();
    }
    last_addr = addr;
    last = &it->second;
    return it->second;
  }

  void parse(uint64_t addr, Collection* c) {
    const std::string where = "global heap collection at " + hex(addr);
    const uint64_t hdr = align8(8 + sizeof_size);     // H5HG_SIZEOF_HDR
    const uint64_t objhdr = align8(8 + sizeof_size);  // H5HG_SIZEOF_OBJHDR
    if (addr > file_size || base > file_size - addr || file_size - (base + addr) < hdr) {
      c->bad = where + " lies outside the file (" + std::to_string(file_size) + " bytes)";
      return;
    }
    const uint64_t at = base + addr;
    uint8_t head[32];
    if (!pread_all(at, static_cast<size_t>(hdr), head)) {
      c->bad = where + " cannot be read";
      return;
    }
    if (std::memcmp(head, "GCOL", 4) != 0 || head[4] != 1) {
      c->bad = where + " has no collection signature (GCOL, version 1)";
      return;
    }
    // libhdf5 writes collections of at least 4096 bytes (H5HG_MINSIZE), but
    // reads smaller ones, and other writers make them (jHDF: 40 bytes, in the
    // conformance corpus). Below its header, libhdf5's object-table size
    // (H5HG_NOBJS) underflows.
    const uint64_t size = decode_le(head + 8, sizeof_size);
    if (size < hdr || size > file_size - at) {
      c->bad = where + " declares " + std::to_string(size) + " bytes (at least its " + std::to_string(hdr) +
               "-byte header, and within the file's " + std::to_string(file_size) + ")";
      return;
    }
    std::vector<uint8_t> whole;
    if (size <= kBufferWhole) {
      whole.resize(static_cast<size_t>(size));
      if (!pread_all(at, whole.size(), whole.data())) {
        c->bad = where + " cannot be read";
        return;
      }
    }
    auto object_header = [&](uint64_t p, uint8_t* out) {
      if (!whole.empty()) {
        std::memcpy(out, whole.data() + p, static_cast<size_t>(objhdr));
        return true;
      }
      return pread_all(at + p, static_cast<size_t>(objhdr), out);
    };
    uint64_t p = hdr;
    while (p < size) {
      if (p + objhdr > size) break;  // a tail too small for a header: free space (as libhdf5)
      uint8_t oh[32];
      if (!object_header(p, oh)) {
        c->bad = where + " cannot be read";
        return;
      }
      const unsigned idx = static_cast<unsigned>(decode_le(oh, 2));
      const uint64_t osize = decode_le(oh + 8, sizeof_size);
      uint64_t need;
      if (idx > 0) {
        if (osize > size - p - objhdr) {
          c->bad = where + ": object " + std::to_string(idx) + " of " + std::to_string(osize) +
                   " bytes runs past the collection's end";
          return;
        }
        need = objhdr + align8(osize);
        if (c->objs.size() <= idx) c->objs.resize(idx + 1);
        if (c->objs[idx].used) {
          c->bad = where + ": object index " + std::to_string(idx) + " appears twice";
          return;
        }
        c->objs[idx] = {p, osize, true};
      } else {
        // Free space: its size includes its header. Zero would make libhdf5's
        // parser loop forever on the same bytes.
        if (osize == 0) {
          c->bad = where + ": a free-space block of 0 bytes";
          return;
        }
        need = osize;
      }
      if (need > size - p) {
        c->bad = where + ": object " + std::to_string(idx) + " runs past the collection's end";
        return;
      }
      p += need;
    }
  }

  // The heap object (addr, idx) of one element, which must hold exactly
  // `expect` bytes (or at least `at_least`, when expect is ~0).
  bool check_object(uint64_t addr, uint32_t idx, uint64_t expect, uint64_t at_least, const std::string& what,
                    uint64_t* size_out = nullptr) {
    const Collection& c = collection(addr);
    if (!c.bad.empty()) return fail(what + ": " + c.bad);
    if (idx == 0 || idx >= c.objs.size() || !c.objs[idx].used)
      return fail(what + " names heap object " + std::to_string(idx) + " of the collection at " + hex(addr) +
                  ", which holds no such object");
    const uint64_t got = c.objs[idx].size;
    if (expect != ~uint64_t{0} && got != expect)
      return fail(what + " declares " + std::to_string(expect) + " bytes but its heap object holds " +
                  std::to_string(got));
    if (got < at_least)
      return fail(what + ": its heap object holds " + std::to_string(got) + " bytes, fewer than the " +
                  std::to_string(at_least) + " it must");
    if (size_out) *size_out = got;
    return true;
  }

  // Reads `len` bytes of heap object (addr, idx), which check_object passed.
  bool object_bytes(uint64_t addr, uint32_t idx, uint64_t len, std::vector<uint8_t>* out) {
    const Collection& c = collection(addr);
    const uint64_t objhdr = align8(8 + sizeof_size);
    out->resize(static_cast<size_t>(len));
    return pread_all(base + addr + c.objs[idx].begin + objhdr, out->size(), out->data());
  }

  // Disk-format vlen elements (H5T_vlen_disk_*): u32 length, address, u32 index.
  bool check_elements(const PathInfo& info, size_t nelmts, size_t buf_stride, const void* buf) {
    const size_t disk_size = 4 + sizeof_addr + 4;
    const size_t src_size = info.src_size;
    const size_t base_size = info.base_size;
    if (src_size != disk_size)
      return fail("variable-length data of " + std::to_string(src_size) +
                  "-byte elements where the file's format has " + std::to_string(disk_size));
    if (base_size == 0) return fail("variable-length type without a base type");
    const size_t stride = buf_stride ? buf_stride : src_size;
    const auto* b = static_cast<const uint8_t*>(buf);
    uint64_t batch = 0;
    for (size_t i = 0; i < nelmts; ++i) {
      const uint8_t* e = b + i * stride;
      const uint64_t seq_len = decode_le(e, 4);
      const uint8_t* a = e + 4;
      const uint64_t addr = decode_le(a, sizeof_addr);
      if (addr == 0) continue;  // the nil sequence: libhdf5 reads nothing
      // The element's name only when a check fails: building it for every
      // element was a per-string cost of every vlen read.
      auto what = [i] { return "variable-length element " + std::to_string(i); };
      if (all_ff(a, sizeof_addr)) return fail(what() + " has an undefined heap address");
      const auto idx = static_cast<uint32_t>(decode_le(a + sizeof_addr, 4));
      // libhdf5 reads the object into a buffer of seq_len * base bytes (rounded
      // up): a larger object overflows it, a smaller one leaves stale bytes.
      if (seq_len != 0 && base_size > ~uint64_t{0} / seq_len) return fail(what() + " declares an impossible length");
      const uint64_t bytes = seq_len * base_size;
      if (!check_object_fast(addr, idx, bytes, what)) return false;
      batch = bytes > ~uint64_t{0} - batch ? ~uint64_t{0} : batch + bytes;
    }
    // Every element of the batch is measured before libhdf5 decodes any of
    // it: many elements naming one large object amplify a small file.
    decoded = batch > ~uint64_t{0} - decoded ? ~uint64_t{0} : decoded + batch;
    if (decode_limit && decoded > decode_limit) {
      if (failure.ok())
        failure = ErrorInfo::make("H5_LIMIT_EXCEEDED", "would decode " + std::to_string(decoded) +
                                                           " bytes of variable-length data (limit " +
                                                           std::to_string(decode_limit) + ")");
      return false;
    }
    return true;
  }

  // check_object for one vlen element, naming it (what()) only on failure.
  template <typename What>
  bool check_object_fast(uint64_t addr, uint32_t idx, uint64_t expect, const What& what) {
    const Collection& c = collection(addr);
    if (c.bad.empty() && idx != 0 && idx < c.objs.size() && c.objs[idx].used && c.objs[idx].size == expect) return true;
    return check_object(addr, idx, expect, 0, what());
  }
};

namespace {

thread_local HeapCheckScope::State* t_scope = nullptr;

// The sizes of a path's source type, asked of libhdf5 once per path (a
// measure of vlen data converts one element per call).
PathInfo path_info(hid_t src) {
  PathInfo p;
  p.src_size = H5Tget_size(src);
  if (H5Tis_variable_str(src) > 0) {
    p.base_size = 1;
  } else {
    Hid super(H5Tget_super(src));
    p.base_size = super ? H5Tget_size(super.get()) : 0;
  }
  clear_error_stack();
  return p;
}

herr_t checked_conv_vlen(hid_t src, hid_t dst, H5T_cdata_t* cdata, size_t nelmts, size_t buf_stride, size_t bkg_stride,
                         void* buf, void* bkg, hid_t /*dxpl*/) {
  switch (cdata->command) {
    case H5T_CONV_INIT: {
      herr_t rc = g_lib_vlen(src, dst, cdata, nelmts, buf_stride, bkg_stride, buf, bkg);
      // libhdf5's vlen conversion keeps nothing in priv: the slot is ours.
      if (rc >= 0) {
        delete static_cast<PathInfo*>(cdata->priv);
        cdata->priv = new PathInfo(path_info(src));
      }
      return rc;
    }
    case H5T_CONV_FREE:
      delete static_cast<PathInfo*>(cdata->priv);
      cdata->priv = nullptr;
      return g_lib_vlen(src, dst, cdata, nelmts, buf_stride, bkg_stride, buf, bkg);
    case H5T_CONV_CONV:
      if (t_scope && buf && nelmts > 0) {
        if (!cdata->priv) cdata->priv = new PathInfo(path_info(src));
        if (!t_scope->check_elements(*static_cast<PathInfo*>(cdata->priv), nelmts, buf_stride, buf)) return -1;
      }
      return g_lib_vlen(src, dst, cdata, nelmts, buf_stride, bkg_stride, buf, bkg);
    default:
      return g_lib_vlen(src, dst, cdata, nelmts, buf_stride, bkg_stride, buf, bkg);
  }
}

// Bytes a serialized selection (H5S_select_serialize's format) needs after its
// u32 type, or false if libhdf5 would not decode it at all (it then fails typed).
bool selection_bytes(const uint8_t* p, uint64_t n, uint64_t* need, std::string* why) {
  auto u32 = [&](uint64_t off) { return decode_le(p + off, 4); };
  if (n < 8) return *why = "truncated selection", false;
  const uint64_t type = u32(0), version = u32(4);
  auto blocks = [&](uint64_t head, uint64_t count, uint64_t per, uint64_t rank) {
    // head bytes, then count * rank * per bytes, without overflow
    if (rank > kMaxRank) return *why = "selection of rank " + std::to_string(rank), false;
    const uint64_t unit = rank * per;
    if (unit != 0 && count > (~uint64_t{0} - head) / unit) return *why = "selection count overflows", false;
    *need = head + count * unit;
    return true;
  };
  switch (type) {
    case H5S_SEL_NONE:
    case H5S_SEL_ALL:
      *need = 16;
      return true;
    case H5S_SEL_POINTS:
      if (n < 24) return *why = "truncated point selection", false;
      return blocks(24, u32(20), 4, u32(16));
    case H5S_SEL_HYPERSLABS:
      if (version == 1) {
        if (n < 24) return *why = "truncated hyperslab selection", false;
        return blocks(24, u32(20), 8, u32(16));
      }
      if (version == 2) {
        if (n < 17) return *why = "truncated hyperslab selection", false;
        const uint8_t flags = p[8];
        const uint64_t rank = u32(13);
        if (flags & 1) return blocks(17, 1, 32, rank);  // regular: start/stride/count/block, u64 each
        if (n < 25) return *why = "truncated hyperslab selection", false;
        return blocks(25, decode_le(p + 17, 8), 16, rank);
      }
      *need = 8;  // libhdf5 refuses the version itself
      return true;
    default:
      *need = 4;
      return true;  // unknown type: libhdf5 refuses it
  }
}

}  // namespace

bool install_heap_checks() {
  static bool ok = [] {
    Hid i32(H5Tvlen_create(H5T_NATIVE_INT32));
    Hid i64(H5Tvlen_create(H5T_NATIVE_INT64));
    H5T_cdata_t* cdata = nullptr;
    H5T_conv_t lib = H5Tfind(i32.get(), i64.get(), &cdata);
    if (!lib) {
      clear_error_stack();
      return false;
    }
    g_lib_vlen = reinterpret_cast<LibConv>(reinterpret_cast<void (*)()>(lib));
    if (H5Tregister(H5T_PERS_SOFT, "h5vault_checked_vlen", i32.get(), i64.get(), checked_conv_vlen) < 0) {
      clear_error_stack();
      return false;
    }
    return true;
  }();
  return ok;
}

// The descriptor through which file `fid`'s heap is checked, or -1: a
// writable file, or one libhdf5 reads through another driver than sec2 / core
// over an h5vault image.
int check_descriptor(hid_t fid) {
  unsigned intent = 0;
  if (H5Fget_intent(fid, &intent) < 0 || (intent & H5F_ACC_RDWR)) return -1;
  Hid fapl(H5Fget_access_plist(fid));
  void* vh = nullptr;
  const hid_t driver = fapl ? H5Pget_driver(fapl.get()) : H5I_INVALID_HID;
  if ((driver != H5FD_SEC2 && driver != H5FD_CORE) || H5Fget_vfd_handle(fid, fapl.get(), &vh) < 0 || !vh) return -1;
  if (driver == H5FD_SEC2) return *static_cast<int*>(vh);
  // The core driver names its memory; only h5vault's own images, whose
  // bytes are a sealed memfd, are checked (through that descriptor).
  std::lock_guard<std::mutex> g(g_images_m);
  auto it = g_images.find(*static_cast<const uint8_t* const*>(vh));
  return it == g_images.end() ? -1 : it->second;
}

HeapCheckScope::HeapCheckScope(hid_t obj, bool active) {
  if (!active) return;
  Hid fid(H5Iget_file_id(obj));
  if (!fid) {
    clear_error_stack();
    return;
  }
  FileAccess acc;
  bool known;
  {
    std::lock_guard<std::mutex> g(g_access_m);
    auto it = g_access.find(fid.get());
    known = it != g_access.end();
    if (known) acc = it->second;
  }
  if (!known) {
    acc.fd = check_descriptor(fid.get());
    clear_error_stack();
  }
  if (acc.fd < 0) {
    if (!known) remember_access(fid.get(), acc);
    return;
  }
  auto s = std::make_unique<State>();
  s->fd = acc.fd;
  struct stat st {};
  if (::fstat(s->fd, &st) != 0) return;
  s->file_size = static_cast<uint64_t>(st.st_size);
  const FileKey key{st.st_dev, st.st_ino, st.st_size, int64_t{st.st_mtim.tv_sec} * 1000000000 + st.st_mtim.tv_nsec,
                    int64_t{st.st_ctim.tv_sec} * 1000000000 + st.st_ctim.tv_nsec};
  // The parsed heap belongs to this open file id, and only while its bytes
  // are unchanged (a read-only file is not rewritten under an open id; if it
  // is, parse again).
  if (!acc.heap || acc.key != key) {
    Hid fcpl(H5Fget_create_plist(fid.get()));
    size_t sa = 0, ss = 0;
    if (!fcpl || H5Pget_sizes(fcpl.get(), &sa, &ss) < 0 || sa < 2 || sa > 8 || ss < 2 || ss > 8) {
      clear_error_stack();
      return;
    }
    s->sizeof_addr = static_cast<unsigned>(sa);
    s->sizeof_size = static_cast<unsigned>(ss);
    if (!s->locate_superblock()) return;
    acc.heap = std::make_shared<FileHeap>();
    acc.heap->base = s->base;
    acc.heap->sizeof_addr = s->sizeof_addr;
    acc.heap->sizeof_size = s->sizeof_size;
    acc.key = key;
    remember_access(fid.get(), acc);
  }
  s->heap = acc.heap;
  // Bounded memory: a file whose heaps outgrow the cache starts over, between
  // reads (no outer scope on this thread holds a parsed collection; scopes of
  // other threads cannot be alive: they live under libhdf5's global lock).
  if (s->heap->objects > kMaxCachedObjects && !t_scope) {
    s->heap->collections.clear();
    s->heap->objects = 0;
  }
  s->base = s->heap->base;
  s->sizeof_addr = s->heap->sizeof_addr;
  s->sizeof_size = s->heap->sizeof_size;
  state_ = std::move(s);
  prev_ = t_scope;
  t_scope = state_.get();
}

HeapCheckScope::~HeapCheckScope() {
  if (state_) t_scope = prev_;
}

bool HeapCheckScope::bound_decoded(uint64_t limit) {
  if (!state_) return false;
  state_->decode_limit = limit;
  return true;
}

bool HeapCheckScope::failed() const { return state_ && !state_->failure.ok(); }

ErrorInfo HeapCheckScope::error_or_capture(const std::string& context) const {
  if (!failed()) return capture_error(context);
  clear_error_stack();
  ErrorInfo e = state_->failure;
  e.message = context + ": " + e.message;
  return e;
}

void forget_heap_file(hid_t fid) {
  std::lock_guard<std::mutex> g(g_access_m);
  g_access.erase(fid);
}

void remember_image(const uint8_t* base, int fd) {
  std::lock_guard<std::mutex> g(g_images_m);
  g_images[base] = fd;
}

void forget_image(const uint8_t* base) {
  std::lock_guard<std::mutex> g(g_images_m);
  g_images.erase(base);
}

bool check_region_reference(const uint8_t* ref, ErrorInfo* err) {
  HeapCheckScope::State* s = t_scope;
  if (!s) return true;
  const uint64_t addr = decode_le(ref, s->sizeof_addr);
  const auto idx = static_cast<uint32_t>(decode_le(ref + s->sizeof_addr, 4));
  const std::string what = "region reference";
  uint64_t size = 0;
  if (addr == 0 || all_ff(ref, s->sizeof_addr)) {
    s->fail(what + " names no heap object");
  } else if (s->check_object(addr, idx, ~uint64_t{0}, s->sizeof_addr + 4, what, &size)) {
    // The object: the dataset's address, then the serialized selection, which
    // libhdf5 decodes without a bound.
    std::vector<uint8_t> bytes;
    if (!s->object_bytes(addr, idx, size, &bytes)) {
      s->fail(what + ": its heap object cannot be read");
    } else {
      uint64_t need = 0;
      std::string why;
      const uint8_t* sel = bytes.data() + s->sizeof_addr;
      const uint64_t n = size - s->sizeof_addr;
      if (!selection_bytes(sel, n, &need, &why)) {
        s->fail(what + ": " + why);
      } else if (need > n) {
        s->fail(what + ": its selection needs " + std::to_string(need) + " bytes, its heap object holds " +
                std::to_string(n));
      }
    }
  }
  if (s->failure.ok()) return true;
  *err = s->failure;
  return false;
}

}  // namespace h5v::h5
