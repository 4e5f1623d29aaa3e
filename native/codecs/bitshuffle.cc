// Bitshuffle chunks (see bitshuffle.h for the format), written from the
// format's description: the transpose is done as a byte shuffle into byte
// planes (codecs/shuffle) and then a bit transpose of each plane, 8 elements
// (one 8x8 bit matrix) at a time. LZ4 blocks via the system liblz4, zstd
// frames via codecs/zstd (the system libzstd).
#include "codecs/bitshuffle.h"

#include <lz4.h>

#include <cstring>
#include <vector>

#include "codecs/big_endian.h"
#include "codecs/shuffle.h"
#include "codecs/zstd.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace h5v::codecs {

namespace {

constexpr size_t kTargetBlockBytes = 8192;
constexpr size_t kMinBlock = 128;
constexpr size_t kBlockMult = 8;

// 8x8 bit matrix transpose (Hacker's Delight, 7-3): row r is byte r of x
// (little-endian), column c its bit c; afterwards bit c of byte r is what bit
// r of byte c was. Its own inverse.
inline uint64_t transpose8x8(uint64_t x) {
  uint64_t t = (x ^ (x >> 7)) & 0x00AA00AA00AA00AAull;
  x ^= t ^ (t << 7);
  t = (x ^ (x >> 14)) & 0x0000CCCC0000CCCCull;
  x ^= t ^ (t << 14);
  t = (x ^ (x >> 28)) & 0x00000000F0F0F0F0ull;
  x ^= t ^ (t << 28);
  return x;
}

inline uint64_t load_le64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

// One byte plane (n bytes, n a multiple of 8) -> 8 bit rows of n/8 bytes at
// rows + k * stride.
void plane_to_rows_scalar(const uint8_t* plane, uint8_t* rows, size_t n, size_t stride, size_t from = 0) {
  for (size_t g = from / 8; g < n / 8; ++g) {
    uint64_t x = transpose8x8(load_le64(plane + 8 * g));
    for (size_t k = 0; k < 8; ++k, x >>= 8) rows[k * stride + g] = uint8_t(x);
  }
}

void rows_to_plane_scalar(const uint8_t* rows, uint8_t* plane, size_t n, size_t stride, size_t from = 0) {
  for (size_t g = from / 8; g < n / 8; ++g) {
    uint64_t x = 0;
    for (size_t k = 8; k-- > 0;) x = (x << 8) | rows[k * stride + g];
    x = transpose8x8(x);
    for (size_t r = 0; r < 8; ++r, x >>= 8) plane[8 * g + r] = uint8_t(x);
  }
}

#if defined(__SSE2__)
// 16 bytes at a time: movemask takes the top bit of every byte (bit 7 of
// elements 0..15 -> two bytes of row 7), then each byte is shifted left.
void plane_to_rows_sse2(const uint8_t* plane, uint8_t* rows, size_t n, size_t stride) {
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(plane + i));
    for (int k = 7; k >= 0; --k) {
      unsigned m = unsigned(_mm_movemask_epi8(v));
      uint8_t* dst = rows + size_t(k) * stride + i / 8;
      dst[0] = uint8_t(m);
      dst[1] = uint8_t(m >> 8);
      v = _mm_add_epi8(v, v);  // shift every byte left by one
    }
  }
  plane_to_rows_scalar(plane, rows, n, stride, i);
}
#endif

#if defined(__SSE2__)
// The inverse, 128 elements (16 bytes of each of the 8 rows) at a time: an
// 8x16 byte transpose by unpacking gathers, for every group of 8 elements,
// its 8 row bytes into 8 consecutive bytes (two groups per register); then
// movemask of the top bits yields, per step, one output byte of each group.
void rows_to_plane_sse2(const uint8_t* rows, uint8_t* plane, size_t n, size_t stride) {
  size_t i = 0;
  for (; i + 128 <= n; i += 128) {
    __m128i r[8];
    for (size_t k = 0; k < 8; ++k) r[k] = _mm_loadu_si128(reinterpret_cast<const __m128i*>(rows + k * stride + i / 8));
    __m128i a[8], b[8], d[8];
    for (size_t k = 0; k < 4; ++k) {  // bytes of rows 2k, 2k+1 interleaved: groups 0-7, 8-15
      a[2 * k] = _mm_unpacklo_epi8(r[2 * k], r[2 * k + 1]);
      a[2 * k + 1] = _mm_unpackhi_epi8(r[2 * k], r[2 * k + 1]);
    }
    for (size_t h = 0; h < 2; ++h) {  // rows 0-3 (b[0..3]) and 4-7 (b[4..7]), 4 groups each
      b[4 * h + 0] = _mm_unpacklo_epi16(a[4 * h + 0], a[4 * h + 2]);
      b[4 * h + 1] = _mm_unpackhi_epi16(a[4 * h + 0], a[4 * h + 2]);
      b[4 * h + 2] = _mm_unpacklo_epi16(a[4 * h + 1], a[4 * h + 3]);
      b[4 * h + 3] = _mm_unpackhi_epi16(a[4 * h + 1], a[4 * h + 3]);
    }
    for (size_t q = 0; q < 4; ++q) {  // rows 0-7 of groups 4q..4q+3, two groups per register
      d[2 * q] = _mm_unpacklo_epi32(b[q], b[4 + q]);
      d[2 * q + 1] = _mm_unpackhi_epi32(b[q], b[4 + q]);
    }
    for (size_t m = 0; m < 8; ++m) {
      __m128i v = d[m];
      uint64_t lo = 0, hi = 0;
      for (int e = 7; e >= 0; --e) {  // bit e of every row byte -> output byte e of each group
        unsigned mask = unsigned(_mm_movemask_epi8(v));
        lo |= uint64_t(mask & 0xFF) << (8 * e);
        hi |= uint64_t(mask >> 8) << (8 * e);
        v = _mm_add_epi8(v, v);
      }
      std::memcpy(plane + i + 16 * m, &lo, 8);  // little-endian: byte e is element e
      std::memcpy(plane + i + 16 * m + 8, &hi, 8);
    }
  }
  rows_to_plane_scalar(rows, plane, n, stride, i);
}
#endif

void rows_to_plane(const uint8_t* rows, uint8_t* plane, size_t n, size_t stride) {
#if defined(__SSE2__)
  rows_to_plane_sse2(rows, plane, n, stride);
#else
  rows_to_plane_scalar(rows, plane, n, stride);
#endif
}

void plane_to_rows(const uint8_t* plane, uint8_t* rows, size_t n, size_t stride) {
#if defined(__SSE2__)
  plane_to_rows_sse2(plane, rows, n, stride);
#else
  plane_to_rows_scalar(plane, rows, n, stride);
#endif
}

// Per-thread scratch for byte planes and transposed blocks, grown on demand
// (at most one block, bounded by the chunk's size).
uint8_t* scratch(std::vector<uint8_t>& v, size_t n) {
  if (v.size() < n) v.resize(n);
  return v.data();
}
thread_local std::vector<uint8_t> t_planes;
thread_local std::vector<uint8_t> t_block;

// A large block size (up to the whole chunk) would otherwise leave a
// chunk-sized buffer on every pool thread for the life of the process.
constexpr size_t kKeepScratch = size_t(1) << 20;
void trim_scratch() {
  for (std::vector<uint8_t>* v : {&t_planes, &t_block})
    if (v->capacity() > kKeepScratch) std::vector<uint8_t>().swap(*v);
}
struct TrimScratch {  // on every return path
  ~TrimScratch() { trim_scratch(); }
};

template <bool Fast>
void transpose_block(const uint8_t* in, uint8_t* out, size_t n, size_t elem) {
  if (n == 0 || elem == 0) return;
  const uint8_t* planes = in;
  if (elem > 1) {
    uint8_t* p = scratch(t_planes, n * elem);
    shuffle(in, p, n * elem, elem);
    planes = p;
  }
  for (size_t j = 0; j < elem; ++j) {
    if (Fast)
      plane_to_rows(planes + j * n, out + j * n, n, n / 8);
    else
      plane_to_rows_scalar(planes + j * n, out + j * n, n, n / 8);
  }
}

template <bool Fast>
void untranspose_block(const uint8_t* in, uint8_t* out, size_t n, size_t elem) {
  if (n == 0 || elem == 0) return;
  auto one = [&](const uint8_t* rows, uint8_t* plane) {
    if (Fast)
      rows_to_plane(rows, plane, n, n / 8);
    else
      rows_to_plane_scalar(rows, plane, n, n / 8);
  };
  if (elem == 1) {
    one(in, out);
    return;
  }
  uint8_t* p = scratch(t_planes, n * elem);
  for (size_t j = 0; j < elem; ++j) one(in + j * n, p + j * n);
  unshuffle(p, out, n * elem, elem);
}

// The blocking both directions share: full blocks, the last partial block
// rounded down to a multiple of 8 elements, then the leftover elements.
struct Blocks {
  size_t count;       // full blocks
  size_t last;        // elements in the last partial block (multiple of 8; 0: none)
  size_t left_bytes;  // leftover bytes copied as they are
};
Blocks blocks_of(size_t elems, size_t block, size_t elem) {
  size_t rest = elems % block;
  return {elems / block, rest - rest % kBlockMult, (elems % kBlockMult) * elem};
}

size_t block_of(const BitshuffleParams& p) {
  return p.block_size ? p.block_size : bitshuffle_default_block(p.elem_size);
}

int zstd_level_of(int level) {
  if (level == 0) return 3;  // ZSTD_compress's default, as the reference passes 0 through
  if (level < 1) return 1;
  return level > zstd_max_level() ? zstd_max_level() : level;
}

size_t block_bound(unsigned compression, size_t bytes) {
  return compression == kBshufCompressZstd ? zstd_bound(bytes) : size_t(LZ4_compressBound(int(bytes)));
}

bool params_ok(const BitshuffleParams& p) {
  return p.elem_size > 0 && (p.block_size % kBlockMult) == 0 &&
         (p.compression == kBshufCompressNone || p.compression == kBshufCompressLz4 ||
          p.compression == kBshufCompressZstd);
}

}  // namespace

void bit_transpose(const uint8_t* in, uint8_t* out, size_t n, size_t elem) { transpose_block<true>(in, out, n, elem); }
void bit_transpose_scalar(const uint8_t* in, uint8_t* out, size_t n, size_t elem) {
  transpose_block<false>(in, out, n, elem);
}
void bit_untranspose(const uint8_t* in, uint8_t* out, size_t n, size_t elem) {
  untranspose_block<true>(in, out, n, elem);
}
void bit_untranspose_scalar(const uint8_t* in, uint8_t* out, size_t n, size_t elem) {
  untranspose_block<false>(in, out, n, elem);
}

size_t bitshuffle_default_block(size_t elem_size) {
  if (elem_size == 0) return kMinBlock;
  size_t b = kTargetBlockBytes / elem_size;
  b -= b % kBlockMult;
  return b < kMinBlock ? kMinBlock : b;
}

Status bitshuffle_params(size_t cd_nelmts, const unsigned cd_values[], BitshuffleParams* p) {
  if (!p || cd_nelmts < 3 || !cd_values) return Status::InvalidArgument;
  *p = BitshuffleParams();
  p->elem_size = cd_values[2];
  p->block_size = cd_nelmts > 3 ? cd_values[3] : 0;
  p->compression = cd_nelmts > 4 ? cd_values[4] : kBshufCompressNone;
  p->zstd_level = zstd_level_of(cd_nelmts > 5 ? int(cd_values[5]) : 0);
  return params_ok(*p) ? Status::Ok : Status::InvalidArgument;
}

size_t bitshuffle_bound(const BitshuffleParams& p, size_t n) {
  if (p.compression == kBshufCompressNone || p.elem_size == 0) return n;
  const size_t block = block_of(p);
  const Blocks b = blocks_of(n / p.elem_size, block, p.elem_size);
  size_t bound = kBshufHeaderBytes + b.count * (block_bound(p.compression, block * p.elem_size) + 4) + b.left_bytes;
  if (b.last) bound += block_bound(p.compression, b.last * p.elem_size) + 4;
  return bound + n % p.elem_size;
}

Status bitshuffle_encode(const BitshuffleParams& p, const uint8_t* in, size_t n, uint8_t* out, size_t cap,
                         size_t* out_len) {
  if (!out_len || (n && !in) || (cap && !out)) return Status::InvalidArgument;
  *out_len = 0;
  if (!params_ok(p) || n % p.elem_size) return Status::InvalidArgument;
  TrimScratch trim;
  const size_t elem = p.elem_size, block = block_of(p);
  const size_t biggest = (n / elem < block ? n / elem : block) * elem;
  if (p.compression == kBshufCompressLz4 && biggest > size_t(LZ4_MAX_INPUT_SIZE)) return Status::InvalidArgument;
  const Blocks b = blocks_of(n / elem, block, elem);
  const bool packed = p.compression != kBshufCompressNone;
  size_t pos = 0;
  if (packed) {
    if (cap < kBshufHeaderBytes) return Status::Incompressible;
    store_be64(out, uint64_t(n));
    store_be32(out + 8, uint32_t(block * elem));
    pos = kBshufHeaderBytes;
  } else if (cap < n) {
    return Status::Incompressible;
  }
  const uint8_t* src = in;
  uint8_t* tmp = packed ? scratch(t_block, (b.count ? block : b.last) * elem) : nullptr;
  for (size_t i = 0; i < b.count + (b.last ? 1 : 0); ++i) {
    const size_t elems = i < b.count ? block : b.last, bytes = elems * elem;
    if (!packed) {
      bit_transpose(src, out + pos, elems, elem);
      pos += bytes;
      src += bytes;
      continue;
    }
    bit_transpose(src, tmp, elems, elem);
    src += bytes;
    if (cap - pos < 4) return Status::Incompressible;
    size_t len = 0;
    if (p.compression == kBshufCompressLz4) {
      const size_t room = cap - pos - 4;
      const int r = LZ4_compress_default(reinterpret_cast<const char*>(tmp), reinterpret_cast<char*>(out + pos + 4),
                                         int(bytes), room > size_t(INT32_MAX) ? INT32_MAX : int(room));
      if (r <= 0) return Status::Incompressible;
      len = size_t(r);
    } else {
      Status s = zstd_encode(tmp, bytes, p.zstd_level, out + pos + 4, cap - pos - 4, &len);
      if (s != Status::Ok) return s;
    }
    store_be32(out + pos, uint32_t(len));
    pos += 4 + len;
  }
  if (cap - pos < b.left_bytes) return Status::Incompressible;
  if (b.left_bytes) std::memcpy(out + pos, src, b.left_bytes);
  *out_len = pos + b.left_bytes;
  return Status::Ok;
}

Status bitshuffle_declared_size(const BitshuffleParams& p, const uint8_t* in, size_t n, uint64_t* size) {
  if (!size) return Status::InvalidArgument;
  *size = 0;
  if (p.compression == kBshufCompressNone) {
    *size = n;
    return Status::Ok;
  }
  if (!in || n < kBshufHeaderBytes) return Status::Corrupt;
  *size = load_be64(in);
  return Status::Ok;
}

Status bitshuffle_decode(const BitshuffleParams& p, const uint8_t* in, size_t n, uint8_t* out, size_t cap,
                         size_t* out_len) {
  if (!out_len || (cap && !out) || (n && !in)) return Status::InvalidArgument;
  *out_len = 0;
  if (!params_ok(p)) return Status::InvalidArgument;
  TrimScratch trim;
  const size_t elem = p.elem_size;
  const bool packed = p.compression != kBshufCompressNone;
  uint64_t total = 0;
  Status s = bitshuffle_declared_size(p, in, n, &total);
  if (s != Status::Ok) return s;
  if (total > cap) return Status::OutputTooSmall;
  if (total % elem) return Status::Corrupt;  // the reference: "Non integer number of elements"
  size_t block = block_of(p);
  size_t pos = 0;
  if (packed) {
    // The header's block size wins over cd_values, as in the reference
    // (0 there means the default too).
    const size_t hdr = load_be32(in + 8) / elem;
    block = hdr ? hdr : bitshuffle_default_block(elem);
    if (block % kBlockMult) return Status::Corrupt;
    pos = kBshufHeaderBytes;
  }
  const Blocks b = blocks_of(size_t(total) / elem, block, elem);
  uint8_t* dst = out;
  uint8_t* tmp = packed ? scratch(t_block, (b.count ? block : b.last) * elem) : nullptr;
  for (size_t i = 0; i < b.count + (b.last ? 1 : 0); ++i) {
    const size_t bytes = (i < b.count ? block : b.last) * elem;
    if (!packed) {
      bit_untranspose(in + pos, dst, bytes / elem, elem);
      pos += bytes;
      dst += bytes;
      continue;
    }
    if (n - pos < 4) return Status::Corrupt;
    const size_t len = load_be32(in + pos);
    pos += 4;
    if (len > n - pos) return Status::Corrupt;
    if (p.compression == kBshufCompressLz4) {
      if (len > size_t(INT32_MAX) || bytes > size_t(INT32_MAX)) return Status::Corrupt;
      const int r = LZ4_decompress_safe(reinterpret_cast<const char*>(in + pos), reinterpret_cast<char*>(tmp), int(len),
                                        int(bytes));
      if (r < 0 || size_t(r) != bytes) return Status::Corrupt;
    } else {
      size_t got = 0;
      s = zstd_decode(in + pos, len, tmp, bytes, &got);
      if (s != Status::Ok || got != bytes) return Status::Corrupt;
    }
    bit_untranspose(tmp, dst, bytes / elem, elem);
    pos += len;
    dst += bytes;
  }
  if (n - pos != b.left_bytes) return Status::Corrupt;  // leftover missing, or trailing bytes
  if (b.left_bytes) std::memcpy(dst, in + pos, b.left_bytes);
  *out_len = size_t(total);
  return Status::Ok;
}

}  // namespace h5v::codecs
