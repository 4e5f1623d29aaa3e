// The engine's read pipeline (engine.h: read()). For one call:
//   plan (lock) -> chunk index (cached, chunk_index.h) -> workers pull chunks
//   from an atomic counter: raw bytes by pread on the sec2 fd (read-only
//   files, no lock) or H5Dread_chunk (lock) -> reverse filter pipeline
//   honouring the chunk's filter mask (no lock) -> scatter into the caller's
//   buffer. Chunks are disjoint in the output, so scatter needs no locking.
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "../codecs/deflate.h"
#include "../codecs/fletcher32.h"
#include "../codecs/lz4.h"
#include "../codecs/lzf.h"
#include "../codecs/zstd.h"
#include "../codecs/shuffle.h"
#include "../codecs/szip.h"
#include "plan.h"
#include "thread_pool.h"

namespace h5v::engine {

using namespace detail;

namespace {

// See read_workers().
constexpr uint64_t kSerialReadBytes = 64 * 1024;

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
          if (other == direct)
            std::memcpy(other, cur, len);
          else
            continue;
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
      case Codec::Zstd:
        st = codecs::zstd_decode(cur, len, other, expect[i] ? std::min(other_cap, expect[i]) : other_cap, &out_len);
        break;
      case Codec::Blosc:
        st = codecs::blosc_decode(cur, len, other, expect[i] ? std::min(other_cap, expect[i]) : other_cap, &out_len);
        break;
      case Codec::Bitshuffle:
        st = codecs::bitshuffle_decode(s.bitshuffle, cur, len, other,
                                       expect[i] ? std::min(other_cap, expect[i]) : other_cap, &out_len);
        break;
      case Codec::Szip:
        st = codecs::szip_decode(s.szip, cur, len, other, expect[i] ? std::min(other_cap, expect[i]) : other_cap,
                                 &out_len);
        break;
    }
    if (st != codecs::Status::Ok) {
      *err = corrupt(off, codec_name(s.codec), st);
      return false;
    }
    if (expect[i] && out_len != expect[i]) {
      *err =
          ErrorInfo::make("H5_CORRUPT", "chunk at " + coords_str(off) + ": " + codec_name(s.codec) + " produced " +
                                            std::to_string(out_len) + " bytes, expected " + std::to_string(expect[i]));
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

// One read() call as its workers share it (Call) and the counter they take
// chunk numbers from.
struct ReadCall : Call {
  uint8_t* user;
  const bool addressed = p.index->addressed();
  const bool use_pread = p.fd >= 0 && addressed && p.index->addresses_verified();
  const bool all_allocated = p.index->allocated_chunks() == p.index->total_chunks();
  const std::vector<uint8_t> zero_element = std::vector<uint8_t>(p.es, 0);
  std::atomic<uint64_t> next{0};

  // An unallocated chunk's part of the output, as the dataset's fill time says.
  void fill_unallocated(const Part* pp) {
    if (p.read_fill == FillMode::Skip) {
      // Fill time "never": the caller's buffer is left as it is, or
      // zeroed on request (never the user's fill value, which the file
      // says was never written either).
      if (opt.fill_never_stored) copy_rows<true>(g, s, p, pp, nullptr, user, zero_element.data());
      return;
    }
    // p.fill holds zeros unless the fill mode is Value.
    copy_rows<true>(g, s, p, pp, nullptr, user, p.fill.data());
  }

  // A chunk's stored bytes (pread or H5Dread_chunk) into *raw_dst: the
  // caller's buffer at direct_ptr when no filter applies, else w.a. False
  // once the call has failed.
  bool read_stored(ReadWorker& w, const std::vector<hsize_t>& off, const ChunkRecord& rec, bool direct,
                   uint8_t* direct_ptr, uint32_t* mask, uint8_t** raw_dst) {
    // A chunk with no filter applied can be read straight into the output.
    bool any_applied = false;
    for (const Stage& st : p.stages)
      if (!((*mask >> st.index) & 1u)) any_applied = true;
    if (!any_applied && direct && rec.size == p.chunk_bytes) {
      *raw_dst = direct_ptr;
    } else {
      w.a.reserve(std::max<size_t>(rec.size, p.chunk_bytes + 4 * p.n_fletcher));
      *raw_dst = w.a.data();
    }
    if (use_pread) {
      ErrorInfo e;
      if (!pread_all(p.fd, *raw_dst, rec.size, rec.addr, off, &e)) {
        sh.fail(std::move(e));
        return false;
      }
    } else {
      h5::Lock lock;
      if (H5Dread_chunk(dset, H5P_DEFAULT, off.data(), mask, *raw_dst) < 0) {
        sh.fail(h5::capture_error("read chunk at " + coords_str(off)));
        return false;
      }
    }
    return true;
  }

  // One chunk into the caller's buffer: its fill if unallocated, else its
  // bytes fetched, decoded and scattered. False once the call has failed.
  bool read_chunk(ReadWorker& w, const Part* pp, const std::vector<hsize_t>& gc, const std::vector<hsize_t>& off) {
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
        return false;
      }
      fetched = st > 0;
    }
    if (!rec.allocated()) {
      fill_unallocated(pp);
      return true;
    }
    bool direct = chunk_is_direct(s, p, pp, gc);
    size_t obase = 0;
    for (int d = 0; d < p.rank; ++d) obase += pp[d].kmin * g.ostride[d];
    uint8_t* direct_ptr = direct ? user + obase : nullptr;
    uint8_t* raw_dst = w.a.data();
    if (!fetched && !read_stored(w, off, rec, direct, direct_ptr, &mask, &raw_dst)) return false;
    if (raw_dst == direct_ptr) return true;
    const uint8_t* result = nullptr;
    if (!decode_chunk(p, w, rec.size, mask, direct_ptr, off, &result, &e)) {
      sh.fail(std::move(e));
      return false;
    }
    if (result == direct_ptr) return true;
    copy_rows<true>(g, s, p, pp, const_cast<uint8_t*>(result), user, nullptr);
    return true;
  }

  // One worker: takes chunk numbers until none is left or the call stops.
  void work() {
    ReadWorker w;
    std::vector<Part> pp(p.rank);
    std::vector<hsize_t> gc(p.rank), off(p.rank);
    for (;;) {
      if (sh.stop.load(std::memory_order_relaxed)) return;
      uint64_t i = next.fetch_add(1, std::memory_order_relaxed);
      if (i >= items) return;
      if (cancelled(opt)) {
        sh.fail(aborted());
        return;
      }
      chunk_at(parts, i, p, pp.data(), off.data());
      for (int d = 0; d < p.rank; ++d) gc[d] = pp[d].chunk;
      if (!read_chunk(w, pp.data(), gc, off)) return;
    }
  }
};

// Workers for this read: worker_count(), except that a small read stays on
// the calling thread. Helpers pay off only when there is more to decode than
// waking them costs (a condition-variable wake-up and a context switch each,
// tens of microseconds on a shared VM): jhdf's fletcher32_datasets_latest.hdf5
// (five 7x5 datasets in small chunks) took 147 us a readSync() with the pool
// and 36 us through libhdf5 alone. By default (threads not given) a read of
// fewer than kSerialReadBytes output bytes decodes on the caller alone.
unsigned read_workers(const Options& opt, uint64_t items, uint64_t out_bytes) {
  if (opt.threads == 0 && out_bytes < kSerialReadBytes) return 1;
  return worker_count(opt, items);
}

}  // namespace

Result read(hid_t dset, hid_t mem_type, const Selection& selection, void* out, size_t out_bytes, const Options& opt,
            h5::ErrorInfo* err) {
  h5::ErrorInfo local;
  if (!err) err = &local;
  Plan p;
  std::optional<h5::Hid> keep;
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
  uint64_t items = 0;
  const ChunkParts parts = selection_parts(p, s, &items);
  ReadCall call{{dset, p, s, parts, opt, items}, static_cast<uint8_t*>(out)};
  parallel_for(read_workers(opt, items, s.nsel * p.es), [&](unsigned) { call.work(); });
  if (call.sh.failed) {
    *err = call.sh.err;
    return Result::Failed;
  }
  return Result::Done;
}

}  // namespace h5v::engine
