// Internals shared by the engine's read and write pipelines: the per-call
// plan of a dataset (element size, filter stages, fill), the normalised
// selection and its per-chunk geometry, and small helpers. Not part of the
// engine's interface (engine.h); only read.cc, write.cc and plan.cc include it.
#pragma once
#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <hdf5.h>

#include "../codecs/bitshuffle.h"
#include "../codecs/blosc.h"
#include "../codecs/status.h"
#include "../codecs/szip.h"
#include "../common/error.h"
#include "../common/hid.h"
#include "../common/lock.h"
#include "chunk_index.h"
#include "engine.h"

namespace h5v::engine::detail {

using h5::ErrorInfo;

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

enum class Codec { Shuffle, Deflate, Fletcher, Lzf, Lz4, Zstd, Blosc, Bitshuffle, Szip };

struct Stage {
  Codec codec;
  bool optional = false;
  unsigned param = 0;                   // shuffle: element size; deflate: level; lz4: block size; zstd: level
  unsigned index = 0;                   // position in the pipeline (bit in the filter mask)
  codecs::SzipParams szip;              // szip: the four parameters libhdf5 stored
  codecs::BloscParams blosc;            // blosc: its cd_values as the filter reads them
  codecs::BitshuffleParams bitshuffle;  // bitshuffle: likewise
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
  FillMode read_fill = FillMode::Zero;  // unallocated chunks on read
  FillMode write_pad = FillMode::Zero;  // edge-chunk padding on write
  std::vector<uint8_t> fill;            // one element (mem type)
  bool read_only = false;
  int fd = -1;  // sec2 fd for pread (read-only files only)
};

std::string coords_str(const std::vector<hsize_t>& v);

// Reads the dataset's layout, type and filter pipeline into *p (lock held).
// Unsupported if the engine cannot handle it bit-exactly (see engine.h).
Result plan_dataset(hid_t dset, hid_t mem_type, bool for_write, Plan* p, ErrorInfo* err);

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

bool normalize(const Selection& in, const std::vector<hsize_t>& dims, Sel* s, ErrorInfo* err);
std::vector<Part> dim_parts(hsize_t start, hsize_t count, hsize_t step, hsize_t cd);

// Per dimension, the selection's pieces chunk by chunk (dim_parts); *items is
// the number of chunks the selection touches (the product of their counts).
using ChunkParts = std::vector<std::vector<Part>>;
ChunkParts selection_parts(const Plan& p, const Sel& s, uint64_t* items);
// The i-th of those chunks in row-major order: its piece along each dimension
// (into pp, unless null) and its element offset in the dataset (into off).
void chunk_at(const ChunkParts& parts, uint64_t i, const Plan& p, Part* pp, hsize_t* off);

// Copies between a full chunk buffer and the caller's dense selection buffer.
// `chunk_side`: pointer to the chunk buffer (or nullptr for a fill pattern).
struct Geometry {
  int rank;
  size_t es;
  std::vector<size_t> cstride, ostride;  // bytes
};

// Byte strides of the chunk buffer and of the caller's dense selection buffer.
Geometry geometry(const Plan& p, const Sel& s);

// kToOut: chunk buffer -> caller's buffer (read); otherwise the reverse (write).
template <bool kToOut>
void copy_rows(const Geometry& g, const Sel& s, const Plan& p, const Part* parts, uint8_t* chunk_buf, uint8_t* user,
               const uint8_t* fill);

// The chunk occupies one contiguous byte range of the user buffer laid out
// exactly like the chunk buffer (so it can be decoded/read straight into it).
bool chunk_is_direct(const Sel& s, const Plan& p, const Part* parts, const std::vector<hsize_t>& gc);

// First failure of a call wins; workers stop at the next chunk.
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

bool cancelled(const Options& opt);
ErrorInfo aborted();
ErrorInfo corrupt(const std::vector<hsize_t>& off, const char* stage, codecs::Status st);
const char* codec_name(Codec c);

// Workers for a call of `items` chunks, the calling thread included.
unsigned worker_count(const Options& opt, uint64_t items);

// What the workers of one read() or write() call share: the dataset, its plan,
// the selection cut into `items` chunks, and the call's first failure.
struct Call {
  hid_t dset;
  const Plan& p;
  const Sel& s;
  const ChunkParts& parts;
  const Options& opt;
  const uint64_t items;
  const Geometry g = geometry(p, s);
  Shared sh;
};

// Pins the caller's dataset id for the whole call (another thread may close
// its own reference meanwhile) and plans the dataset. Done means go on.
Result begin_call(hid_t dset, hid_t mem_type, bool for_write, std::optional<h5::Hid>* keep, Plan* p, ErrorInfo* err);

// Once p->dims and p->chunk are known: chunk size, the normalised selection,
// and the caller's buffer size checked against it (`which`: "input"/"output").
bool bind_selection(const Selection& selection, size_t bytes, const char* which, Plan* p, Sel* s, ErrorInfo* err);

}  // namespace h5v::engine::detail
