// zlib-format deflate via libdeflate, with per-thread compressor/decompressor
// caches (libdeflate objects are not thread-safe; allocating them is not free).
#include "codecs/deflate.h"

#include <libdeflate.h>

namespace h5v::codecs {

namespace {

constexpr int kMinLevel = 0;
constexpr int kMaxLevel = 12;  // libdeflate's range; zlib/HDF5 use 0..9

struct ThreadCodecs {
  libdeflate_compressor* comp[kMaxLevel + 1] = {};
  libdeflate_decompressor* decomp = nullptr;
  ~ThreadCodecs() {
    for (auto* c : comp)
      if (c) libdeflate_free_compressor(c);
    if (decomp) libdeflate_free_decompressor(decomp);
  }
};

ThreadCodecs& tls() {
  thread_local ThreadCodecs t;
  return t;
}

libdeflate_compressor* compressor(int level) {
  auto& slot = tls().comp[level];
  if (!slot) slot = libdeflate_alloc_compressor(level);
  return slot;
}

libdeflate_decompressor* decompressor() {
  auto& t = tls();
  if (!t.decomp) t.decomp = libdeflate_alloc_decompressor();
  return t.decomp;
}

}  // namespace

size_t deflate_bound(size_t n, int level) {
  if (level < kMinLevel || level > kMaxLevel) level = 6;
  libdeflate_compressor* c = compressor(level);
  if (c) return libdeflate_zlib_compress_bound(c, n);
  // Conservative fallback (stored blocks: 5 bytes per 64 KiB) + zlib header/trailer.
  return n + 5 * (n / 65535 + 1) + 6 + 64;
}

Status deflate_encode(const uint8_t* in, size_t n, int level, uint8_t* out, size_t cap, size_t* out_len) {
  if (!out_len || (n && !in)) return Status::InvalidArgument;
  *out_len = 0;
  if (level < kMinLevel || level > kMaxLevel) return Status::InvalidArgument;
  libdeflate_compressor* c = compressor(level);
  if (!c) return Status::NoMemory;
  if (!out || cap == 0) return Status::Incompressible;
  size_t r = libdeflate_zlib_compress(c, in, n, out, cap);
  if (r == 0) return Status::Incompressible;  // did not fit in cap
  *out_len = r;
  return Status::Ok;
}

Status deflate_decode(const uint8_t* in, size_t n, uint8_t* out, size_t cap, size_t* out_len) {
  if (!out_len || (n && !in) || (cap && !out)) return Status::InvalidArgument;
  *out_len = 0;
  libdeflate_decompressor* d = decompressor();
  if (!d) return Status::NoMemory;
  size_t in_used = 0, produced = 0;
  // libdeflate wants non-null pointers even for empty buffers.
  static const uint8_t kEmpty[1] = {0};
  uint8_t dummy[1];
  libdeflate_result r =
      libdeflate_zlib_decompress_ex(d, n ? in : kEmpty, n, cap ? out : dummy, cap, &in_used, &produced);
  switch (r) {
    case LIBDEFLATE_SUCCESS:
      // Trailing bytes after the zlib stream are ignored, as zlib's inflate
      // (HDF5's deflate filter) does.
      *out_len = produced;
      return Status::Ok;
    case LIBDEFLATE_INSUFFICIENT_SPACE:
      return Status::OutputTooSmall;
    case LIBDEFLATE_SHORT_OUTPUT:  // only when actual_out is null; not reachable
    case LIBDEFLATE_BAD_DATA:
    default:
      return Status::Corrupt;
  }
}

}  // namespace h5v::codecs
