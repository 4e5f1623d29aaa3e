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
// calling thread alone; see write_workers().
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

// Where one chunk's bytes are on their way through the pipeline: the caller's
// buffer (owner null) or one of the worker's two buffers.
struct Staged {
  const uint8_t* data = nullptr;
  Buf* owner = nullptr;
  size_t len = 0;
  uint32_t mask = 0;  // optional stages skipped: their input was kept
};

// Rank, extent and chunk shape from libhdf5 (write() has no chunk index to
// take them from: the index is for reads and is forgotten after a write).
Result read_shape(hid_t dset, Plan* p, ErrorInfo* err) {
  h5::Lock lock;
  h5::Hid space(H5Dget_space(dset));
  h5::Hid dcpl(H5Dget_create_plist(dset));
  if (space.get() < 0 || dcpl.get() < 0) {
    *err = h5::capture_error("engine write: dataspace");
    return Result::Failed;
  }
  p->rank = H5Sget_simple_extent_ndims(space.get());
  if (p->rank <= 0) return Result::Unsupported;
  p->dims.resize(p->rank);
  p->chunk.resize(p->rank);
  if (H5Sget_simple_extent_dims(space.get(), p->dims.data(), nullptr) < 0 ||
      H5Pget_chunk(dcpl.get(), p->rank, p->chunk.data()) != p->rank) {
    *err = h5::capture_error("engine write: chunk shape");
    return Result::Failed;
  }
  return Result::Done;
}

// H5Dwrite_chunk writes whole chunks: the selection must start on a chunk
// boundary and end on one (or at the extent) in every dimension, unstrided.
bool covers_whole_chunks(const Plan& p, const Sel& s) {
  for (int d = 0; d < p.rank; ++d) {
    if (s.step[d] != 1 || s.start[d] % p.chunk[d] != 0) return false;
    hsize_t end = s.start[d] + s.count[d];
    if (s.count[d] && end % p.chunk[d] != 0 && end != p.dims[d]) return false;
  }
  return true;
}

// Worst-case encoded size of a chunk: the capacity of every buffer a stage
// encodes into, so no encoder can run out of room.
size_t encode_bound(const Plan& p) {
  size_t grown = p.chunk_bytes + 4 * p.n_fletcher;
  size_t cap = grown;
  for (const Stage& st : p.stages) {
    if (st.codec == Codec::Deflate) cap = std::max(cap, codecs::deflate_bound(grown, int(st.param)));
    if (st.codec == Codec::Lz4) cap = std::max(cap, codecs::lz4_max_framed(grown, st.param));
    if (st.codec == Codec::Lzf) cap = std::max(cap, grown + grown / 16 + 64);
    if (st.codec == Codec::Zstd) cap = std::max(cap, codecs::zstd_bound(grown));
    if (st.codec == Codec::Bitshuffle) cap = std::max(cap, codecs::bitshuffle_bound(st.bitshuffle, grown));
  }
  return cap + 4 * p.n_fletcher + 64;
}

// Workers for this write: worker_count(), except that cheap chunks stay on the
// calling thread (see below).
unsigned write_workers(const Plan& p, const Options& opt, uint64_t items) {
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
  return workers;
}

// The chunk's uncompressed bytes: the caller's own, in place, when laid out
// like the chunk; otherwise gathered into `a` (an edge chunk padded first).
Staged gather_chunk(const Plan& p, const Sel& s, const Geometry& g, const Part* pp, const uint8_t* user, Buf& a) {
  const int r = p.rank;
  std::vector<hsize_t> gc(r);
  for (int d = 0; d < r; ++d) gc[d] = pp[d].chunk;
  Staged c;
  c.len = p.chunk_bytes;
  if (chunk_is_direct(s, p, pp, gc)) {
    size_t obase = 0;
    for (int d = 0; d < r; ++d) obase += pp[d].kmin * g.ostride[d];
    c.data = user + obase;
    return c;
  }
  bool edge = false;
  for (int d = 0; d < r; ++d) edge = edge || pp[d].kcount != p.chunk[d];
  if (edge) {
    if (p.write_pad == FillMode::Value) {
      for (size_t k = 0; k < p.chunk_bytes; k += p.es) std::memcpy(a.data() + k, p.fill.data(), p.es);
    } else {
      std::memset(a.data(), 0, p.chunk_bytes);
    }
  }
  copy_rows<false>(g, s, p, pp, a.data(), const_cast<uint8_t*>(user), nullptr);
  c.data = a.data();
  c.owner = &a;
  return c;
}

// Runs the filter pipeline forward over one chunk, each stage from one of the
// worker's buffers (a, b; `cap` bytes each) into the other. False, with *e
// set, if a mandatory stage fails.
bool encode_chunk(const Plan& p, size_t cap, const std::vector<hsize_t>& off, Buf& a, Buf& b, Staged* c, ErrorInfo* e) {
  const uint8_t*& cur = c->data;
  Buf*& cur_owner = c->owner;
  size_t& len = c->len;
  uint32_t& mask = c->mask;
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
      *e = ErrorInfo::make("H5_FILTER", std::string("chunk at ") + coords_str(off) + ": " + codec_name(st.codec) +
                                            " encode failed (" + codecs::status_message(status) + ")");
      return false;
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
  return true;
}

// One write() call as its workers share it (Call) and the window of encoded
// chunks on their way, in order, to libhdf5.
struct WriteCall : Call {
  const uint8_t* user;
  const uint64_t window;
  const size_t cap = encode_bound(p);
  WriteState ws;

  void fail(ErrorInfo e) {
    sh.fail(std::move(e));
    { std::lock_guard<std::mutex> lk(ws.m); }
    ws.cv.notify_all();
  }

  // Hands one encoded chunk to libhdf5 at its place in the grid; false (the
  // failure recorded in sh) if libhdf5 refuses it.
  bool write_chunk(const Slot& taken) {
    std::vector<hsize_t> off(p.rank);
    chunk_at(parts, taken.i, p, nullptr, off.data());
    h5::Lock lock;
    bool ok = H5Dwrite_chunk(dset, H5P_DEFAULT, taken.mask, off.data(), taken.len, taken.data) >= 0;
    if (!ok) sh.fail(h5::capture_error("write chunk at " + coords_str(off)));
    return ok;
  }

  // Hands consecutive finished chunks to libhdf5. Called with ws.m held.
  void drain(std::unique_lock<std::mutex>& lk) {
    if (ws.writing) return;
    ws.writing = true;
    for (;;) {
      if (sh.stop.load()) break;
      Slot& sl = ws.slots[ws.written % window];
      if (!sl.full || sl.i != ws.written) break;
      Slot taken = std::move(sl);
      sl.full = false;
      lk.unlock();
      bool ok = write_chunk(taken);
      lk.lock();
      if (taken.owner.p) ws.free_bufs.push_back(std::move(taken.owner));
      if (!ok) break;
      ++ws.written;
      ws.cv.notify_all();
    }
    ws.writing = false;
    ws.cv.notify_all();
  }

  // Waits until the next unclaimed chunk is inside the window and claims it
  // (into *i), taking freed buffers for a and b; false when none is left or
  // the call has stopped.
  bool claim(uint64_t* i, Buf& a, Buf& b) {
    std::unique_lock<std::mutex> lk(ws.m);
    ws.cv.wait(lk, [&] { return sh.stop.load() || ws.claimed >= items || ws.claimed < ws.written + window; });
    if (sh.stop.load() || ws.claimed >= items) return false;
    *i = ws.claimed++;
    if (!a.p && !ws.free_bufs.empty()) {
      a = std::move(ws.free_bufs.back());
      ws.free_bufs.pop_back();
    }
    if (!b.p && !ws.free_bufs.empty()) {
      b = std::move(ws.free_bufs.back());
      ws.free_bufs.pop_back();
    }
    return true;
  }

  // One worker: claim, gather, encode, queue for the writer, until done.
  void work() {
    Buf a, b;
    std::vector<Part> pp(p.rank);
    std::vector<hsize_t> off(p.rank);
    for (;;) {
      uint64_t i;
      if (!claim(&i, a, b)) return;
      if (cancelled(opt)) {
        fail(aborted());
        return;
      }
      a.reserve(cap);
      b.reserve(cap);
      chunk_at(parts, i, p, pp.data(), off.data());
      Staged c = gather_chunk(p, s, g, pp.data(), user, a);
      ErrorInfo e;
      if (!encode_chunk(p, cap, off, a, b, &c, &e)) {
        fail(std::move(e));
        return;
      }
      Slot sl;
      sl.full = true;
      sl.i = i;
      sl.data = c.data;
      sl.len = c.len;
      sl.mask = c.mask;
      if (c.owner) sl.owner = std::move(*c.owner);  // the worker re-acquires a buffer next round
      std::unique_lock<std::mutex> lk(ws.m);
      ws.slots[i % window] = std::move(sl);
      drain(lk);
    }
  }
};

}  // namespace

Result write(hid_t dset, hid_t mem_type, const Selection& selection, const void* in, size_t in_bytes,
             const Options& opt, h5::ErrorInfo* err) {
  h5::ErrorInfo local;
  if (!err) err = &local;
  Plan p;
  std::optional<h5::Hid> keep;
  if (Result r = begin_call(dset, mem_type, true, &keep, &p, err); r != Result::Done) return r;
  if (Result r = read_shape(dset, &p, err); r != Result::Done) return r;
  Sel s;
  if (!bind_selection(selection, in_bytes, "input", &p, &s, err)) return Result::Failed;
  if (!covers_whole_chunks(p, s)) return Result::Unsupported;
  if (s.nsel == 0) return Result::Done;
  if (cancelled(opt)) {
    *err = aborted();
    return Result::Failed;
  }
  uint64_t items = 0;
  const ChunkParts parts = selection_parts(p, s, &items);
  const unsigned workers = write_workers(p, opt, items);
  WriteCall call{{dset, p, s, parts, opt, items}, static_cast<const uint8_t*>(in), workers};
  call.ws.slots.resize(call.window);
  parallel_for(workers, [&](unsigned) { call.work(); });
  {
    h5::Lock lock;
    ChunkIndex::forget(dset);
  }
  if (call.sh.failed) {
    *err = call.sh.err;
    return Result::Failed;
  }
  if (call.ws.written != items) {
    *err = ErrorInfo::make("H5_IO", "engine write: not every chunk was written");
    return Result::Failed;
  }
  return Result::Done;
}

}  // namespace h5v::engine
