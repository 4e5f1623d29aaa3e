// Parallel chunk engine (issue #5). See engine.h for the contract and
// chunk_index.h for how chunk locations are found and cached.
//
// Read:  plan (lock) -> chunk index (cached) -> workers pull chunks from an
//        atomic counter: raw bytes by pread on the sec2 fd (read-only files,
//        no lock) or H5Dread_chunk (lock) -> reverse filter pipeline honouring
//        the chunk's filter mask (no lock) -> scatter into the caller's buffer.
//        Chunks are disjoint in the output, so scatter needs no locking.
// Write: workers gather + encode chunks inside a window of `workers` chunks
//        past the last written one; whoever finishes the next chunk in order
//        becomes the writer and hands consecutive finished chunks to
//        H5Dwrite_chunk under the lock (so chunks land in file order, which
//        keeps output deterministic).
#include "engine.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "../codecs/deflate.h"
#include "../codecs/fletcher32.h"
#include "../codecs/lz4.h"
#include "../codecs/lzf.h"
#include "../codecs/shuffle.h"
#include "../filters/register.h"
#include "../h5/lock.h"
#include "chunk_index.h"
#include "thread_pool.h"

namespace h5v::engine {

namespace {

using h5::ErrorInfo;

struct Id {
  hid_t id = -1;
  herr_t (*close)(hid_t) = nullptr;
  Id() = default;
  Id(hid_t i, herr_t (*c)(hid_t)) : id(i), close(c) {}
  ~Id() {
    if (id >= 0 && close) close(id);
  }
  Id(const Id&) = delete;
  Id& operator=(const Id&) = delete;
};

// Keeps the dataset id alive for the duration of a call (a concurrent
// H5Dclose on the same id then only drops a reference).
struct IdRef {
  hid_t id;
  explicit IdRef(hid_t i) : id(i) {}
  ~IdRef() {
    h5::Lock l;
    H5Idec_ref(id);
  }
};

// Uninitialised growable byte buffer (std::vector would zero-fill MiBs).
struct Buf {
  std::unique_ptr<uint8_t[]> p;
  size_t cap = 0;
  Buf() = default;
  Buf(Buf&& o) noexcept : p(std::move(o.p)), cap(o.cap) { o.cap = 0; }
  Buf& operator=(Buf&& o) noexcept {
    p = std::move(o.p);
    cap = o.cap;
    o.cap = 0;
    return *this;
  }
  void reserve(size_t n) {
    if (n <= cap) return;
    p.reset(new uint8_t[n]);
    cap = n;
  }
  uint8_t* data() { return p.get(); }
};

enum class Codec { Shuffle, Deflate, Fletcher, Lzf, Lz4 };

struct Stage {
  Codec codec;
  bool optional = false;
  unsigned param = 0;  // shuffle: element size; deflate: level; lz4: block size
  unsigned index = 0;  // position in the pipeline (bit in the filter mask)
};

enum class FillMode { Skip, Zero, Value };

struct Plan {
  std::shared_ptr<const ChunkIndex> index;
  int rank = 0;
  std::vector<hsize_t> dims, chunk;
  size_t es = 0;           // element size
  size_t chunk_bytes = 0;  // full chunk, uncompressed
  std::vector<Stage> stages;
  unsigned n_fletcher = 0, n_compress = 0;
  FillMode read_fill = FillMode::Zero;   // unallocated chunks on read
  FillMode write_pad = FillMode::Zero;   // edge-chunk padding on write
  std::vector<uint8_t> fill;             // one element (mem type)
  bool read_only = false;
  int fd = -1;  // sec2 fd for pread (read-only files only)
};

std::string coords_str(const std::vector<hsize_t>& v) {
  std::string s = "(";
  for (size_t i = 0; i < v.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(v[i]);
  }
  return s + ")";
}

// Everything below in plan() runs with the lock held.
Result plan_dataset(hid_t dset, hid_t mem_type, bool for_write, Plan* p, ErrorInfo* err) {
  auto fail = [&](const char* what) {
    if (err) *err = h5::capture_error(what);
    return Result::Failed;
  };
  Id dcpl(H5Dget_create_plist(dset), H5Pclose);
  if (dcpl.id < 0) return fail("engine: get creation properties");
  if (H5Pget_layout(dcpl.id) != H5D_CHUNKED) return Result::Unsupported;
  unsigned chunk_opts = 0;
  if (H5Pget_chunk_opts(dcpl.id, &chunk_opts) < 0) return fail("engine: chunk options");
  if (chunk_opts & H5D_CHUNK_DONT_FILTER_PARTIAL_CHUNKS) return Result::Unsupported;
  int ext = H5Pget_external_count(dcpl.id);
  if (ext != 0) return ext < 0 ? fail("engine: external count") : Result::Unsupported;

  // Type: only byte-for-byte copies (no conversion) are done here.
  Id ftype(H5Dget_type(dset), H5Tclose);
  if (ftype.id < 0) return fail("engine: get type");
  H5T_class_t cls = H5Tget_class(ftype.id);
  if (cls == H5T_VLEN || cls == H5T_REFERENCE || cls == H5T_NO_CLASS) return Result::Unsupported;
  if (H5Tdetect_class(ftype.id, H5T_VLEN) != 0 || H5Tdetect_class(ftype.id, H5T_REFERENCE) != 0) {
    h5::clear_error_stack();
    return Result::Unsupported;
  }
  if (cls == H5T_STRING && H5Tis_variable_str(ftype.id) != 0) {
    h5::clear_error_stack();
    return Result::Unsupported;
  }
  htri_t eq = H5Tequal(ftype.id, mem_type);
  if (eq < 0) return fail("engine: compare types");
  if (eq == 0) return Result::Unsupported;
  p->es = H5Tget_size(ftype.id);
  if (p->es == 0) return fail("engine: type size");

  // Filters.
  int nf = H5Pget_nfilters(dcpl.id);
  if (nf < 0) return fail("engine: filter count");
  for (int i = 0; i < nf; ++i) {
    unsigned flags = 0, cd[32] = {0}, config = 0;
    size_t ncd = 32;
    char name[64];
    H5Z_filter_t id = H5Pget_filter2(dcpl.id, unsigned(i), &flags, &ncd, cd, sizeof name, name, &config);
    if (id < 0) return fail("engine: get filter");
    Stage s;
    s.index = unsigned(i);
    s.optional = (flags & H5Z_FLAG_OPTIONAL) != 0;
    switch (id) {
      case H5Z_FILTER_DEFLATE:
        s.codec = Codec::Deflate;
        s.param = ncd >= 1 ? cd[0] : 6;
        if (s.param > 9) return Result::Unsupported;
        ++p->n_compress;
        break;
      case H5Z_FILTER_SHUFFLE:
        s.codec = Codec::Shuffle;
        s.param = ncd >= 1 && cd[0] ? cd[0] : unsigned(p->es);
        break;
      case H5Z_FILTER_FLETCHER32:
        s.codec = Codec::Fletcher;
        ++p->n_fletcher;
        break;
      case filters::kFilterLzf:
        s.codec = Codec::Lzf;
        ++p->n_compress;
        break;
      case filters::kFilterLz4:
        s.codec = Codec::Lz4;
        s.param = ncd >= 1 ? cd[0] : 0;
        ++p->n_compress;
        break;
      default:  // szip, nbit, scaleoffset, plugins: libhdf5 does it
        return Result::Unsupported;
    }
    p->stages.push_back(s);
  }
  if (for_write && p->n_compress > 1) return Result::Unsupported;

  // Fill value behaviour, mirroring H5D__chunk_read / H5D__chunk_lock in 1.10.
  H5D_fill_value_t status;
  H5D_fill_time_t ftime;
  if (H5Pfill_value_defined(dcpl.id, &status) < 0 || H5Pget_fill_time(dcpl.id, &ftime) < 0)
    return fail("engine: fill value properties");
  bool defined = status == H5D_FILL_VALUE_USER_DEFINED || status == H5D_FILL_VALUE_DEFAULT;
  p->fill.assign(p->es, 0);
  bool user_value = false;
  if (status == H5D_FILL_VALUE_USER_DEFINED) {
    if (H5Pget_fill_value(dcpl.id, mem_type, p->fill.data()) < 0) return fail("engine: fill value");
    user_value = std::any_of(p->fill.begin(), p->fill.end(), [](uint8_t b) { return b != 0; });
  }
  if (ftime == H5D_FILL_TIME_NEVER || (ftime == H5D_FILL_TIME_IFSET && !defined))
    p->read_fill = FillMode::Skip;
  else if (user_value && (ftime == H5D_FILL_TIME_ALLOC || ftime == H5D_FILL_TIME_IFSET))
    p->read_fill = FillMode::Value;
  else
    p->read_fill = FillMode::Zero;
  p->write_pad = (user_value && ftime != H5D_FILL_TIME_NEVER) ? FillMode::Value : FillMode::Zero;

  // File access: pread on the sec2 descriptor for read-only files.
  Id file(H5Iget_file_id(dset), H5Fclose);
  if (file.id < 0) return fail("engine: get file");
  unsigned intent = 0;
  if (H5Fget_intent(file.id, &intent) < 0) return fail("engine: file intent");
  p->read_only = (intent & H5F_ACC_RDWR) == 0;
  if (p->read_only && !for_write) {
    Id fapl(H5Fget_access_plist(file.id), H5Pclose);
    if (fapl.id >= 0 && H5Pget_driver(fapl.id) == H5FD_SEC2) {
      void* handle = nullptr;
      if (H5Fget_vfd_handle(file.id, fapl.id, &handle) >= 0 && handle) p->fd = *static_cast<int*>(handle);
    }
    h5::clear_error_stack();
  }
  return Result::Done;
}

// Per-dimension piece of a selection that falls in one chunk.
struct Part {
  hsize_t chunk;   // chunk number along this dim
  hsize_t kmin;    // first selected index (0..count) inside this chunk
  hsize_t kcount;  // selected indices inside this chunk
};

struct Sel {
  std::vector<hsize_t> start, count, step;
  uint64_t nsel = 1;
};

bool normalize(const Selection& in, const std::vector<hsize_t>& dims, Sel* s, ErrorInfo* err) {
  size_t r = dims.size();
  if (in.start.empty() && in.count.empty() && in.step.empty()) {
    s->start.assign(r, 0);
    s->count = dims;
    s->step.assign(r, 1);
  } else {
    if (in.start.size() != r || in.count.size() != r || (!in.step.empty() && in.step.size() != r)) {
      if (err) *err = ErrorInfo::range_error("selection rank does not match the dataset rank");
      return false;
    }
    s->start = in.start;
    s->count = in.count;
    if (in.step.empty())
      s->step.assign(r, 1);
    else
      s->step = in.step;
  }
  s->nsel = 1;
  for (size_t d = 0; d < r; ++d) {
    if (s->step[d] == 0) {
      if (err) *err = ErrorInfo::range_error("selection step must be at least 1");
      return false;
    }
    if (s->count[d] == 0) {
      s->nsel = 0;
      continue;
    }
    hsize_t last = s->start[d] + (s->count[d] - 1) * s->step[d];
    if (last < s->start[d] || last >= dims[d] || (s->count[d] - 1) > (~hsize_t(0)) / s->step[d]) {
      if (err) *err = ErrorInfo::range_error("selection extends beyond the dataset extent");
      return false;
    }
    s->nsel *= s->count[d];
  }
  return true;
}

std::vector<Part> dim_parts(hsize_t start, hsize_t count, hsize_t step, hsize_t cd) {
  std::vector<Part> v;
  if (count == 0) return v;
  hsize_t k = 0;
  while (k < count) {
    hsize_t pos = start + k * step;
    hsize_t c = pos / cd;
    hsize_t end = (c + 1) * cd;  // first coordinate past this chunk
    // selected indices k' >= k with start + k'*step < end
    hsize_t kend = (end - start + step - 1) / step;  // first k' with pos >= end
    if (kend > count) kend = count;
    v.push_back(Part{c, k, kend - k});
    k = kend;
  }
  return v;
}

// Copies between a full chunk buffer and the caller's dense selection buffer.
// `chunk_side`: pointer to the chunk buffer (or nullptr for a fill pattern).
struct Geometry {
  int rank;
  size_t es;
  std::vector<size_t> cstride, ostride;  // bytes
};

template <bool kToOut>
void copy_rows(const Geometry& g, const Sel& s, const Plan& p, const Part* parts, uint8_t* chunk_buf,
               uint8_t* user, const uint8_t* fill) {
  const int r = g.rank;
  size_t cbase = 0, obase = 0;
  for (int d = 0; d < r; ++d) {
    hsize_t in_chunk = s.start[d] + parts[d].kmin * s.step[d] - parts[d].chunk * p.chunk[d];
    cbase += in_chunk * g.cstride[d];
    obase += parts[d].kmin * g.ostride[d];
  }
  const size_t es = g.es;
  const hsize_t inner = parts[r - 1].kcount;
  const size_t cstep_inner = s.step[r - 1] * es;
  const bool contiguous_inner = s.step[r - 1] == 1;
  std::vector<hsize_t> j(r, 0);
  for (;;) {
    size_t co = cbase, oo = obase;
    for (int d = 0; d < r - 1; ++d) {
      co += j[d] * s.step[d] * g.cstride[d];
      oo += j[d] * g.ostride[d];
    }
    uint8_t* o = user + oo;
    if (fill) {
      if (kToOut) {
        bool zero = true;
        for (size_t b = 0; b < es; ++b) zero = zero && fill[b] == 0;
        if (zero)
          std::memset(o, 0, inner * es);
        else
          for (hsize_t k = 0; k < inner; ++k) std::memcpy(o + k * es, fill, es);
      }
    } else if (contiguous_inner) {
      if (kToOut)
        std::memcpy(o, chunk_buf + co, inner * es);
      else
        std::memcpy(chunk_buf + co, o, inner * es);
    } else {
      uint8_t* c = chunk_buf + co;
      switch (es) {
#define H5V_STRIDED(N)                                                          \
  case N:                                                                       \
    for (hsize_t k = 0; k < inner; ++k) {                                       \
      if (kToOut)                                                               \
        std::memcpy(o + k * N, c + k * cstep_inner, N);                         \
      else                                                                      \
        std::memcpy(c + k * cstep_inner, o + k * N, N);                         \
    }                                                                           \
    break;
        H5V_STRIDED(1)
        H5V_STRIDED(2)
        H5V_STRIDED(4)
        H5V_STRIDED(8)
#undef H5V_STRIDED
        default:
          for (hsize_t k = 0; k < inner; ++k) {
            if (kToOut)
              std::memcpy(o + k * es, c + k * cstep_inner, es);
            else
              std::memcpy(c + k * cstep_inner, o + k * es, es);
          }
      }
    }
    int d = r - 2;
    for (; d >= 0; --d) {
      if (++j[d] < parts[d].kcount) break;
      j[d] = 0;
    }
    if (d < 0) break;
  }
}

// The chunk occupies one contiguous byte range of the user buffer laid out
// exactly like the chunk buffer (so it can be decoded/read straight into it).
bool chunk_is_direct(const Sel& s, const Plan& p, const Part* parts, const std::vector<hsize_t>& gc) {
  for (int d = 0; d < p.rank; ++d) {
    if (s.step[d] != 1) return false;
    if (parts[d].kcount != p.chunk[d]) return false;  // whole chunk, not an edge chunk
    if (d > 0 && s.count[d] != p.chunk[d]) return false;
  }
  return true;
}

struct Shared {
  std::mutex m;
  bool failed = false;
  ErrorInfo err;
  std::atomic<bool> stop{false};
  void fail(ErrorInfo e) {
    std::lock_guard<std::mutex> g(m);
    if (!failed) {
      failed = true;
      err = std::move(e);
    }
    stop.store(true, std::memory_order_relaxed);
  }
};

bool cancelled(const Options& opt) { return opt.cancel && opt.cancel->load(std::memory_order_relaxed); }

ErrorInfo aborted() { return ErrorInfo::make("H5_ABORTED", "operation was cancelled"); }

ErrorInfo corrupt(const std::vector<hsize_t>& off, const char* stage, codecs::Status st) {
  return ErrorInfo::make("H5_CORRUPT", std::string("chunk at ") + coords_str(off) + ": " + stage +
                                           " failed (" + codecs::status_message(st) + ")");
}

const char* codec_name(Codec c) {
  switch (c) {
    case Codec::Shuffle: return "shuffle";
    case Codec::Deflate: return "deflate";
    case Codec::Fletcher: return "fletcher32";
    case Codec::Lzf: return "lzf";
    case Codec::Lz4: return "lz4";
  }
  return "?";
}

// libhdf5 accepts the checksum and, for files from before 1.6.3, its
// byte-pair-swapped form (H5Z_filter_fletcher32).
bool fletcher_ok(const uint8_t* buf, size_t n) {
  if (n < 4) return false;
  uint32_t sum = codecs::fletcher32(buf, n - 4);
  const uint8_t* t = buf + n - 4;
  uint32_t stored = uint32_t(t[0]) | uint32_t(t[1]) << 8 | uint32_t(t[2]) << 16 | uint32_t(t[3]) << 24;
  uint8_t c[4];
  std::memcpy(c, &sum, 4);
  std::swap(c[0], c[1]);
  std::swap(c[2], c[3]);
  uint32_t reversed;
  std::memcpy(&reversed, c, 4);
  return stored == sum || stored == reversed;
}

struct ReadWorker {
  Buf a, b;
};

// Decodes `raw` (n bytes, in a.data()) through the reverse pipeline. The final
// chunk (chunk_bytes) ends up at *result: either `direct` (if non-null and the
// last applied stage produces a new buffer) or one of the worker's buffers.
bool decode_chunk(const Plan& p, ReadWorker& w, size_t n, uint32_t mask, uint8_t* direct,
                  const std::vector<hsize_t>& off, const uint8_t** result, ErrorInfo* err) {
  // Applied stages, in reverse pipeline order.
  const Stage* applied[32];
  int na = 0;
  for (auto it = p.stages.rbegin(); it != p.stages.rend(); ++it)
    if (!(it->index < 32 && (mask >> it->index) & 1u)) applied[na++] = &*it;
  // Size of the data that entered each stage on write (0 = unknown: a
  // compressor ran before it).
  size_t expect[32];
  {
    size_t sz = p.chunk_bytes;
    for (int i = na - 1; i >= 0; --i) {
      expect[i] = sz;
      if (applied[i]->codec == Codec::Fletcher && sz) sz += 4;
      if (applied[i]->codec != Codec::Fletcher && applied[i]->codec != Codec::Shuffle) sz = 0;
    }
  }
  const size_t need = p.chunk_bytes + 4 * p.n_fletcher;
  w.b.reserve(std::max(need, size_t(16)));
  uint8_t* cur = w.a.data();
  size_t len = n;
  int last_producer = -1;
  for (int i = 0; i < na; ++i)
    if (applied[i]->codec != Codec::Fletcher) last_producer = i;
  bool use_direct = direct && last_producer == na - 1 && na > 0;
  for (int i = 0; i < na; ++i) {
    const Stage& s = *applied[i];
    uint8_t* other = (cur == w.a.data()) ? w.b.data() : w.a.data();
    size_t other_cap = (cur == w.a.data()) ? w.b.cap : w.a.cap;
    if (use_direct && i == na - 1) {
      other = direct;
      other_cap = p.chunk_bytes;
    }
    codecs::Status st = codecs::Status::Ok;
    size_t out_len = 0;
    switch (s.codec) {
      case Codec::Fletcher:
        if ((expect[i] && len != expect[i] + 4) || !fletcher_ok(cur, len)) {
          *err = ErrorInfo::make("H5_CORRUPT", "chunk at " + coords_str(off) + ": fletcher32 checksum mismatch");
          return false;
        }
        len -= 4;
        continue;
      case Codec::Shuffle:
        if (expect[i] && len != expect[i]) {
          *err = ErrorInfo::make("H5_CORRUPT", "chunk at " + coords_str(off) + ": wrong size before unshuffle");
          return false;
        }
        if (s.param <= 1) {
          if (other == direct) std::memcpy(other, cur, len);
          else continue;
        } else {
          codecs::unshuffle(cur, other, len, s.param);
        }
        out_len = len;
        break;
      case Codec::Deflate:
        st = codecs::deflate_decode(cur, len, other, expect[i] ? std::min(other_cap, expect[i]) : other_cap, &out_len);
        break;
      case Codec::Lzf:
        st = codecs::lzf_decode(cur, len, other, expect[i] ? std::min(other_cap, expect[i]) : other_cap, &out_len);
        break;
      case Codec::Lz4:
        st = codecs::lz4_decode(cur, len, other, expect[i] ? std::min(other_cap, expect[i]) : other_cap, &out_len);
        break;
    }
    if (st != codecs::Status::Ok) {
      *err = corrupt(off, codec_name(s.codec), st);
      return false;
    }
    if (expect[i] && out_len != expect[i]) {
      *err = ErrorInfo::make("H5_CORRUPT", "chunk at " + coords_str(off) + ": " + codec_name(s.codec) +
                                               " produced " + std::to_string(out_len) + " bytes, expected " +
                                               std::to_string(expect[i]));
      return false;
    }
    cur = other;
    len = out_len;
  }
  if (len != p.chunk_bytes) {
    *err = ErrorInfo::make("H5_CORRUPT", "chunk at " + coords_str(off) + ": stored size " + std::to_string(len) +
                                             " does not match the chunk size " + std::to_string(p.chunk_bytes));
    return false;
  }
  *result = cur;
  return true;
}

bool pread_all(int fd, uint8_t* buf, size_t n, uint64_t off, const std::vector<hsize_t>& coords, ErrorInfo* err) {
  size_t got = 0;
  while (got < n) {
    ssize_t r = ::pread(fd, buf + got, n - got, static_cast<off_t>(off + got));
    if (r < 0) {
      if (errno == EINTR) continue;
      *err = ErrorInfo::make("H5_IO", "chunk at " + coords_str(coords) + ": read failed: " + strerror(errno));
      return false;
    }
    if (r == 0) {
      *err = ErrorInfo::make("H5_IO", "chunk at " + coords_str(coords) + ": file is truncated");
      return false;
    }
    got += size_t(r);
  }
  return true;
}

// Lookup mode (see chunk_index.h): size and bytes of one chunk under one
// lock. Returns 1 (bytes in w.a, *mask set), 0 (not allocated) or -1 (*e set).
int fetch_chunk(hid_t dset, const std::vector<hsize_t>& off, bool all_allocated, const Plan& p, ReadWorker& w,
                ChunkRecord* rec, uint32_t* mask, ErrorInfo* e) {
  const size_t floor_bytes = p.chunk_bytes + 4 * p.n_fletcher;
  auto too_big = [&] {
    *e = ErrorInfo::make("H5_CORRUPT", "chunk at " + coords_str(off) + ": larger than 4 GiB");
    return -1;
  };
  h5::Lock lock;
  hsize_t size = 0;
  if (H5Dget_chunk_storage_size(dset, off.data(), &size) >= 0 && size > 0) {
    if (size > UINT32_MAX) return too_big();
    w.a.reserve(std::max<size_t>(size, floor_bytes));
    if (H5Dread_chunk(dset, H5P_DEFAULT, off.data(), mask, w.a.data()) >= 0) {
      rec->size = uint32_t(size);
      return 1;
    }
  }
  if (all_allocated) {
    *e = h5::capture_error("read chunk at " + coords_str(off));
    return -1;
  }
  // libhdf5 reports a missing chunk as an error here (and may report a
  // fill-value chunk sitting in its chunk cache as present): ask the index.
  h5::clear_error_stack();
  unsigned m = 0;
  haddr_t a = HADDR_UNDEF;
  hsize_t s = 0;
  if (H5Dget_chunk_info_by_coord(dset, off.data(), &m, &a, &s) < 0) {
    *e = h5::capture_error("chunk info at " + coords_str(off));
    return -1;
  }
  if (a == HADDR_UNDEF || s == 0) {
    rec->size = 0;
    return 0;
  }
  if (s > UINT32_MAX) return too_big();
  w.a.reserve(std::max<size_t>(s, floor_bytes));
  if (H5Dread_chunk(dset, H5P_DEFAULT, off.data(), mask, w.a.data()) < 0) {
    *e = h5::capture_error("read chunk at " + coords_str(off));
    return -1;
  }
  rec->size = uint32_t(s);
  return 1;
}

unsigned worker_count(const Options& opt, uint64_t items) {
  // The caller is one worker; helpers come from the shared pool.
  unsigned cap = pool_size() + 1;
  unsigned w = opt.threads ? std::min(opt.threads, cap) : pool_size();
  if (w == 0) w = 1;
  if (items < w) w = unsigned(std::max<uint64_t>(items, 1));
  return w;
}

// Pins the caller's dataset id for the whole call (another thread may close
// its own reference meanwhile) and plans the dataset. Done means go on.
Result begin_call(hid_t dset, hid_t mem_type, bool for_write, std::optional<IdRef>* keep, Plan* p, ErrorInfo* err) {
  h5::Lock lock;
  if (H5Iinc_ref(dset) < 0) {
    *err = h5::capture_error(for_write ? "engine write" : "engine read");
    return Result::Failed;
  }
  keep->emplace(dset);
  return plan_dataset(dset, mem_type, for_write, p, err);
}

// Once p->dims and p->chunk are known: chunk size, the normalised selection,
// and the caller's buffer size checked against it (`which`: "input"/"output").
bool bind_selection(const Selection& selection, size_t bytes, const char* which, Plan* p, Sel* s, ErrorInfo* err) {
  p->chunk_bytes = p->es;
  for (hsize_t c : p->chunk) p->chunk_bytes *= c;
  if (!normalize(selection, p->dims, s, err)) return false;
  if (uint64_t(bytes) != s->nsel * p->es) {
    *err = ErrorInfo::range_error(std::string(which) + " buffer is " + std::to_string(bytes) +
                                  " bytes, selection needs " + std::to_string(s->nsel * p->es));
    return false;
  }
  return true;
}

}  // namespace

Result read(hid_t dset, hid_t mem_type, const Selection& selection, void* out, size_t out_bytes,
            const Options& opt, h5::ErrorInfo* err) {
  h5::ErrorInfo local;
  if (!err) err = &local;
  Plan p;
  std::optional<IdRef> keep;
  if (Result r = begin_call(dset, mem_type, false, &keep, &p, err); r != Result::Done) return r;
  p.index = ChunkIndex::get(dset, err);
  if (!p.index) return err->code == "H5_UNSUPPORTED" ? Result::Unsupported : Result::Failed;
  if (p.index->defer_to_libhdf5()) return Result::Unsupported;  // index not verifiable: H5Dread decides
  p.rank = p.index->rank();
  p.dims = p.index->dims();
  p.chunk = p.index->chunk_dims();
  Sel s;
  if (!bind_selection(selection, out_bytes, "output", &p, &s, err)) return Result::Failed;
  if (s.nsel == 0) return Result::Done;
  if (cancelled(opt)) {
    *err = aborted();
    return Result::Failed;
  }

  const int r = p.rank;
  std::vector<std::vector<Part>> parts(r);
  uint64_t items = 1;
  for (int d = 0; d < r; ++d) {
    parts[d] = dim_parts(s.start[d], s.count[d], s.step[d], p.chunk[d]);
    items *= parts[d].size();
  }
  Geometry g;
  g.rank = r;
  g.es = p.es;
  g.cstride.assign(r, p.es);
  g.ostride.assign(r, p.es);
  for (int d = r - 2; d >= 0; --d) {
    g.cstride[d] = g.cstride[d + 1] * p.chunk[d + 1];
    g.ostride[d] = g.ostride[d + 1] * s.count[d + 1];
  }

  uint8_t* user = static_cast<uint8_t*>(out);
  Shared sh;
  std::atomic<uint64_t> next{0};
  const bool addressed = p.index->addressed();
  const bool use_pread = p.fd >= 0 && addressed && p.index->addresses_verified();
  const bool all_allocated = p.index->allocated_chunks() == p.index->total_chunks();
  unsigned workers = worker_count(opt, items);

  auto body = [&](unsigned) {
    ReadWorker w;
    std::vector<Part> pp(r);
    std::vector<hsize_t> gc(r), off(r);
    for (;;) {
      if (sh.stop.load(std::memory_order_relaxed)) return;
      uint64_t i = next.fetch_add(1, std::memory_order_relaxed);
      if (i >= items) return;
      if (cancelled(opt)) {
        sh.fail(aborted());
        return;
      }
      uint64_t rem = i;
      for (int d = r - 1; d >= 0; --d) {
        pp[d] = parts[d][rem % parts[d].size()];
        rem /= parts[d].size();
        gc[d] = pp[d].chunk;
        off[d] = gc[d] * p.chunk[d];
      }
      ErrorInfo e;
      ChunkRecord rec;
      uint32_t mask = 0;
      bool fetched = false;  // bytes already in w.a (lookup mode)
      if (addressed) {
        rec = p.index->at(gc.data());
        mask = rec.filter_mask;
      } else {
        int st = fetch_chunk(dset, off, all_allocated, p, w, &rec, &mask, &e);
        if (st < 0) {
          sh.fail(std::move(e));
          return;
        }
        fetched = st > 0;
      }
      if (!rec.allocated()) {
        if (p.read_fill == FillMode::Skip) continue;
        // p.fill holds zeros unless the fill mode is Value.
        copy_rows<true>(g, s, p, pp.data(), nullptr, user, p.fill.data());
        continue;
      }
      bool direct = chunk_is_direct(s, p, pp.data(), gc);
      size_t obase = 0;
      for (int d = 0; d < r; ++d) obase += pp[d].kmin * g.ostride[d];
      uint8_t* direct_ptr = direct ? user + obase : nullptr;
      uint8_t* raw_dst = w.a.data();
      if (!fetched) {
        // A chunk with no filter applied can be read straight into the output.
        bool any_applied = false;
        for (const Stage& st : p.stages)
          if (!((mask >> st.index) & 1u)) any_applied = true;
        if (!any_applied && direct && rec.size == p.chunk_bytes) {
          raw_dst = direct_ptr;
        } else {
          w.a.reserve(std::max<size_t>(rec.size, p.chunk_bytes + 4 * p.n_fletcher));
          raw_dst = w.a.data();
        }
        if (use_pread) {
          if (!pread_all(p.fd, raw_dst, rec.size, rec.addr, off, &e)) {
            sh.fail(std::move(e));
            return;
          }
        } else {
          h5::Lock lock;
          if (H5Dread_chunk(dset, H5P_DEFAULT, off.data(), &mask, raw_dst) < 0) {
            sh.fail(h5::capture_error("read chunk at " + coords_str(off)));
            return;
          }
        }
      }
      if (raw_dst == direct_ptr) continue;
      const uint8_t* result = nullptr;
      if (!decode_chunk(p, w, rec.size, mask, direct_ptr, off, &result, &e)) {
        sh.fail(std::move(e));
        return;
      }
      if (result == direct_ptr) continue;
      copy_rows<true>(g, s, p, pp.data(), const_cast<uint8_t*>(result), user, nullptr);
    }
  };
  parallel_for(workers, body);
  if (sh.failed) {
    *err = sh.err;
    return Result::Failed;
  }
  return Result::Done;
}

// ---------------------------------------------------------------------------
// Write

namespace {

struct Slot {
  bool full = false;
  uint64_t i = 0;
  const uint8_t* data = nullptr;
  size_t len = 0;
  uint32_t mask = 0;
  Buf owner;
};

struct WriteState {
  std::mutex m;
  std::condition_variable cv;
  uint64_t claimed = 0, written = 0;
  bool writing = false;
  std::vector<Slot> slots;
  std::vector<Buf> free_bufs;
};

}  // namespace

Result write(hid_t dset, hid_t mem_type, const Selection& selection, const void* in, size_t in_bytes,
             const Options& opt, h5::ErrorInfo* err) {
  h5::ErrorInfo local;
  if (!err) err = &local;
  Plan p;
  std::optional<IdRef> keep;
  if (Result r = begin_call(dset, mem_type, true, &keep, &p, err); r != Result::Done) return r;
  {
    h5::Lock lock;
    Id space(H5Dget_space(dset), H5Sclose);
    Id dcpl(H5Dget_create_plist(dset), H5Pclose);
    if (space.id < 0 || dcpl.id < 0) {
      *err = h5::capture_error("engine write: dataspace");
      return Result::Failed;
    }
    p.rank = H5Sget_simple_extent_ndims(space.id);
    if (p.rank <= 0) return Result::Unsupported;
    p.dims.resize(p.rank);
    p.chunk.resize(p.rank);
    if (H5Sget_simple_extent_dims(space.id, p.dims.data(), nullptr) < 0 ||
        H5Pget_chunk(dcpl.id, p.rank, p.chunk.data()) != p.rank) {
      *err = h5::capture_error("engine write: chunk shape");
      return Result::Failed;
    }
  }
  Sel s;
  if (!bind_selection(selection, in_bytes, "input", &p, &s, err)) return Result::Failed;
  const int r = p.rank;
  for (int d = 0; d < r; ++d) {
    if (s.step[d] != 1 || s.start[d] % p.chunk[d] != 0) return Result::Unsupported;
    hsize_t end = s.start[d] + s.count[d];
    if (s.count[d] && end % p.chunk[d] != 0 && end != p.dims[d]) return Result::Unsupported;
  }
  if (s.nsel == 0) return Result::Done;
  if (cancelled(opt)) {
    *err = aborted();
    return Result::Failed;
  }

  std::vector<std::vector<Part>> parts(r);
  uint64_t items = 1;
  for (int d = 0; d < r; ++d) {
    parts[d] = dim_parts(s.start[d], s.count[d], 1, p.chunk[d]);
    items *= parts[d].size();
  }
  Geometry g;
  g.rank = r;
  g.es = p.es;
  g.cstride.assign(r, p.es);
  g.ostride.assign(r, p.es);
  for (int d = r - 2; d >= 0; --d) {
    g.cstride[d] = g.cstride[d + 1] * p.chunk[d + 1];
    g.ostride[d] = g.ostride[d + 1] * s.count[d + 1];
  }

  // Worst-case encoded size.
  size_t grown = p.chunk_bytes + 4 * p.n_fletcher;
  size_t cap = grown;
  for (const Stage& st : p.stages) {
    if (st.codec == Codec::Deflate) cap = std::max(cap, codecs::deflate_bound(grown, int(st.param)));
    if (st.codec == Codec::Lz4) cap = std::max(cap, codecs::lz4_max_framed(grown, st.param));
    if (st.codec == Codec::Lzf) cap = std::max(cap, grown + grown / 16 + 64);
  }
  cap += 4 * p.n_fletcher + 64;

  const uint8_t* user = static_cast<const uint8_t*>(in);
  unsigned workers = worker_count(opt, items);
  const uint64_t window = workers;
  Shared sh;
  WriteState ws;
  ws.slots.resize(window);

  auto fail_w = [&](ErrorInfo e) {
    sh.fail(std::move(e));
    { std::lock_guard<std::mutex> lk(ws.m); }
    ws.cv.notify_all();
  };

  // Hands consecutive finished chunks to libhdf5. Called with ws.m held.
  auto drain = [&](std::unique_lock<std::mutex>& lk) {
    if (ws.writing) return;
    ws.writing = true;
    for (;;) {
      if (sh.stop.load()) break;
      Slot& sl = ws.slots[ws.written % window];
      if (!sl.full || sl.i != ws.written) break;
      Slot taken = std::move(sl);
      sl.full = false;
      lk.unlock();
      std::vector<hsize_t> off(r);
      {
        uint64_t rem = taken.i;
        for (int d = r - 1; d >= 0; --d) {
          off[d] = parts[d][rem % parts[d].size()].chunk * p.chunk[d];
          rem /= parts[d].size();
        }
      }
      bool ok;
      {
        h5::Lock lock;
        ok = H5Dwrite_chunk(dset, H5P_DEFAULT, taken.mask, off.data(), taken.len, taken.data) >= 0;
        if (!ok) sh.fail(h5::capture_error("write chunk at " + coords_str(off)));
      }
      lk.lock();
      if (taken.owner.p) ws.free_bufs.push_back(std::move(taken.owner));
      if (!ok) break;
      ++ws.written;
      ws.cv.notify_all();
    }
    ws.writing = false;
    ws.cv.notify_all();
  };

  auto body = [&](unsigned) {
    Buf a, b;
    std::vector<Part> pp(r);
    std::vector<hsize_t> off(r);
    for (;;) {
      uint64_t i;
      {
        std::unique_lock<std::mutex> lk(ws.m);
        ws.cv.wait(lk, [&] { return sh.stop.load() || ws.claimed >= items || ws.claimed < ws.written + window; });
        if (sh.stop.load() || ws.claimed >= items) return;
        i = ws.claimed++;
        if (!a.p && !ws.free_bufs.empty()) {
          a = std::move(ws.free_bufs.back());
          ws.free_bufs.pop_back();
        }
        if (!b.p && !ws.free_bufs.empty()) {
          b = std::move(ws.free_bufs.back());
          ws.free_bufs.pop_back();
        }
      }
      if (cancelled(opt)) {
        fail_w(aborted());
        return;
      }
      a.reserve(cap);
      b.reserve(cap);
      uint64_t rem = i;
      for (int d = r - 1; d >= 0; --d) {
        pp[d] = parts[d][rem % parts[d].size()];
        rem /= parts[d].size();
        off[d] = pp[d].chunk * p.chunk[d];
      }
      // Gather (or use the caller's bytes in place when laid out like the chunk).
      std::vector<hsize_t> gc(r);
      for (int d = 0; d < r; ++d) gc[d] = pp[d].chunk;
      const uint8_t* cur;
      Buf* cur_owner = nullptr;
      if (chunk_is_direct(s, p, pp.data(), gc)) {
        size_t obase = 0;
        for (int d = 0; d < r; ++d) obase += pp[d].kmin * g.ostride[d];
        cur = user + obase;
      } else {
        bool edge = false;
        for (int d = 0; d < r; ++d) edge = edge || pp[d].kcount != p.chunk[d];
        if (edge) {
          if (p.write_pad == FillMode::Value) {
            for (size_t k = 0; k < p.chunk_bytes; k += p.es) std::memcpy(a.data() + k, p.fill.data(), p.es);
          } else {
            std::memset(a.data(), 0, p.chunk_bytes);
          }
        }
        copy_rows<false>(g, s, p, pp.data(), a.data(), const_cast<uint8_t*>(user), nullptr);
        cur = a.data();
        cur_owner = &a;
      }
      size_t len = p.chunk_bytes;
      uint32_t mask = 0;
      ErrorInfo e;
      bool bad = false;
      for (const Stage& st : p.stages) {
        Buf* dst_owner = (cur_owner == &a) ? &b : &a;
        uint8_t* dst = dst_owner->data();
        size_t out_len = 0;
        codecs::Status status = codecs::Status::Ok;
        switch (st.codec) {
          case Codec::Shuffle:
            if (st.param <= 1) continue;
            codecs::shuffle(cur, dst, len, st.param);
            out_len = len;
            break;
          case Codec::Fletcher:
            if (!cur_owner) {  // in place needs our own buffer
              std::memcpy(dst, cur, len);
              cur = dst;
              cur_owner = dst_owner;
            }
            codecs::fletcher32_append(cur_owner->data(), len);
            len += 4;
            continue;
          case Codec::Deflate:
            status = codecs::deflate_encode(cur, len, int(st.param), dst, cap, &out_len);
            break;
          case Codec::Lzf:
            status = codecs::lzf_encode(cur, len, dst, st.optional ? (len > 0 ? len - 1 : 0) : cap, &out_len);
            break;
          case Codec::Lz4:
            status = codecs::lz4_encode(cur, len, st.param, dst, cap, &out_len);
            break;
        }
        if (status == codecs::Status::Incompressible && st.optional) {
          mask |= 1u << st.index;
          continue;
        }
        if (status != codecs::Status::Ok) {
          e = ErrorInfo::make("H5_FILTER", std::string("chunk at ") + coords_str(off) + ": " + codec_name(st.codec) +
                                               " encode failed (" + codecs::status_message(status) + ")");
          bad = true;
          break;
        }
        if (st.optional && st.codec != Codec::Shuffle && out_len >= len) {
          mask |= 1u << st.index;  // did not shrink: store this stage's input
          continue;
        }
        cur = dst;
        cur_owner = dst_owner;
        len = out_len;
      }
      if (bad) {
        fail_w(std::move(e));
        return;
      }
      Slot sl;
      sl.full = true;
      sl.i = i;
      sl.data = cur;
      sl.len = len;
      sl.mask = mask;
      if (cur_owner) sl.owner = std::move(*cur_owner);  // the worker re-acquires a buffer next round
      std::unique_lock<std::mutex> lk(ws.m);
      ws.slots[i % window] = std::move(sl);
      drain(lk);
    }
  };
  parallel_for(workers, body);
  {
    h5::Lock lock;
    ChunkIndex::forget(dset);
  }
  if (sh.failed) {
    *err = sh.err;
    return Result::Failed;
  }
  if (ws.written != items) {
    *err = ErrorInfo::make("H5_IO", "engine write: not every chunk was written");
    return Result::Failed;
  }
  return Result::Done;
}

}  // namespace h5v::engine
