// The engine's write pipeline (engine.h: write()). Workers gather + encode
// chunks inside a window of `workers` chunks past the last written one;
// whoever finishes the next chunk in order becomes the writer and hands
// consecutive finished chunks to H5Dwrite_chunk under the lock (so chunks land
// in file order, which keeps output deterministic).
#include <algorithm>
#include <condition_variable>
#include <cstring>

#include "../codecs/deflate.h"
#include "../codecs/fletcher32.h"
#include "../codecs/lz4.h"
#include "../codecs/lzf.h"
#include "../codecs/zstd.h"
#include "../codecs/shuffle.h"
#include "plan.h"
#include "thread_pool.h"

namespace h5v::engine {

using namespace detail;

namespace {

// Below this many bytes per chunk (and without deflate) a write runs on the
// calling thread alone; see write().
constexpr size_t kSerialWriteChunkBytes = 16 * 1024;

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
  std::optional<h5::Hid> keep;
  if (Result r = begin_call(dset, mem_type, true, &keep, &p, err); r != Result::Done) return r;
  {
    h5::Lock lock;
    h5::Hid space(H5Dget_space(dset));
    h5::Hid dcpl(H5Dget_create_plist(dset));
    if (space.get() < 0 || dcpl.get() < 0) {
      *err = h5::capture_error("engine write: dataspace");
      return Result::Failed;
    }
    p.rank = H5Sget_simple_extent_ndims(space.get());
    if (p.rank <= 0) return Result::Unsupported;
    p.dims.resize(p.rank);
    p.chunk.resize(p.rank);
    if (H5Sget_simple_extent_dims(space.get(), p.dims.data(), nullptr) < 0 ||
        H5Pget_chunk(dcpl.get(), p.rank, p.chunk.data()) != p.rank) {
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
  const Geometry g = geometry(p, s);

  // Worst-case encoded size.
  size_t grown = p.chunk_bytes + 4 * p.n_fletcher;
  size_t cap = grown;
  for (const Stage& st : p.stages) {
    if (st.codec == Codec::Deflate) cap = std::max(cap, codecs::deflate_bound(grown, int(st.param)));
    if (st.codec == Codec::Lz4) cap = std::max(cap, codecs::lz4_max_framed(grown, st.param));
    if (st.codec == Codec::Lzf) cap = std::max(cap, grown + grown / 16 + 64);
    if (st.codec == Codec::Zstd) cap = std::max(cap, codecs::zstd_bound(grown));
    if (st.codec == Codec::Bitshuffle) cap = std::max(cap, codecs::bitshuffle_bound(st.bitshuffle, grown));
  }
  cap += 4 * p.n_fletcher + 64;

  const uint8_t* user = static_cast<const uint8_t*>(in);
  unsigned workers = worker_count(opt, items);
  // Helpers pay off only when encoding a chunk costs more than handing it to
  // the writer (a lock, a condition-variable wake-up and often a context
  // switch, several microseconds on a loaded machine). Small chunks without
  // deflate encode in well under that, so by default (threads not given) they
  // are written by the calling thread alone: 131,072 one-byte chunks took
  // 1.7-2.2 s that way and 3.2-4.2 s with two workers (load average 12-15).
  bool costly = false;
  for (const Stage& st : p.stages) costly = costly || st.codec == Codec::Deflate;
  if (opt.threads == 0 && !costly && p.chunk_bytes < kSerialWriteChunkBytes) workers = 1;
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
          case Codec::Zstd:
            status = codecs::zstd_encode(cur, len, int(st.param), dst, cap, &out_len);
            break;
          case Codec::Blosc:  // into the chunk's own size, as the filter does
            status = codecs::blosc_encode(st.blosc, cur, len, dst, len, &out_len);
            break;
          case Codec::Bitshuffle:
            status = codecs::bitshuffle_encode(st.bitshuffle, cur, len, dst, cap, &out_len);
            break;
          case Codec::Szip:  // plan_dataset() leaves szip writes to libhdf5
            status = codecs::Status::InvalidArgument;
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
        // Bitshuffle is stored even when it grows the chunk, as its filter
        // (and the reference) does: the same data gives the same bytes.
        if (st.optional && st.codec != Codec::Shuffle && st.codec != Codec::Bitshuffle && out_len >= len) {
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
