// HDF5 byte shuffle. Element sizes 2, 4 and 8 run SSE2 transposes (on x86-64);
// the common sizes get fixed-size scalar kernels that work on blocks of kBlock
// elements (their tails, size 16, and non-x86 builds); other sizes use a plain
// strided loop. Semantics match H5Z_filter_shuffle exactly,
// including the untouched trailing n % elem_size bytes.
#include "codecs/shuffle.h"

#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace h5v::codecs {

namespace {

constexpr size_t kBlock = 32;  // elements per block (ES * 32 bytes per block)

template <size_t ES>
inline void shuffle_fixed(const uint8_t* __restrict in, uint8_t* __restrict out, size_t ne, size_t i = 0) {
  for (; i + kBlock <= ne; i += kBlock) {
    const uint8_t* src = in + i * ES;
    for (size_t k = 0; k < ES; ++k) {
      uint8_t* dst = out + k * ne + i;
      for (size_t j = 0; j < kBlock; ++j) dst[j] = src[j * ES + k];
    }
  }
  for (; i < ne; ++i)
    for (size_t k = 0; k < ES; ++k) out[k * ne + i] = in[i * ES + k];
}

template <size_t ES>
inline void unshuffle_fixed(const uint8_t* __restrict in, uint8_t* __restrict out, size_t ne, size_t i = 0) {
  for (; i + kBlock <= ne; i += kBlock) {
    uint8_t* dst = out + i * ES;
    for (size_t k = 0; k < ES; ++k) {
      const uint8_t* src = in + k * ne + i;
      for (size_t j = 0; j < kBlock; ++j) dst[j * ES + k] = src[j];
    }
  }
  for (; i < ne; ++i)
    for (size_t k = 0; k < ES; ++k) out[i * ES + k] = in[k * ne + i];
}

#if defined(__SSE2__)
// SSE2 (every x86-64) byte transposes for element sizes 2, 4 and 8, 16
// elements per step. The blocked scalar kernels above compile to byte
// gathers (2.4 GB/s unshuffle/4 here, 40% of an lz4+shuffle read's profile);
// these run as log2(ES) rounds of interleave (unshuffle) or deinterleave
// (shuffle) instructions. Tails fall back to the scalar kernels, so the
// output is the same bytes.

inline __m128i load(const uint8_t* p) { return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p)); }
inline void store(uint8_t* p, __m128i v) { _mm_storeu_si128(reinterpret_cast<__m128i*>(p), v); }

// Even and odd bytes of the 32 bytes a:b (a's first).
inline __m128i evens(__m128i a, __m128i b) {
  const __m128i lo = _mm_set1_epi16(0x00ff);
  return _mm_packus_epi16(_mm_and_si128(a, lo), _mm_and_si128(b, lo));
}
inline __m128i odds(__m128i a, __m128i b) { return _mm_packus_epi16(_mm_srli_epi16(a, 8), _mm_srli_epi16(b, 8)); }

template <size_t ES>
size_t shuffle_sse2(const uint8_t* __restrict in, uint8_t* __restrict out, size_t ne) {
  size_t i = 0;
  for (; i + 16 <= ne; i += 16) {
    const uint8_t* src = in + i * ES;
    __m128i v[ES];
    for (size_t k = 0; k < ES; ++k) v[k] = load(src + 16 * k);
    if constexpr (ES == 2) {
      store(out + i, evens(v[0], v[1]));
      store(out + ne + i, odds(v[0], v[1]));
    } else if constexpr (ES == 4) {
      __m128i e01 = evens(v[0], v[1]), e23 = evens(v[2], v[3]);
      __m128i o01 = odds(v[0], v[1]), o23 = odds(v[2], v[3]);
      store(out + i, evens(e01, e23));
      store(out + 2 * ne + i, odds(e01, e23));
      store(out + ne + i, evens(o01, o23));
      store(out + 3 * ne + i, odds(o01, o23));
    } else {
      static_assert(ES == 8);
      // Level by level the low bit of the byte index is split off: after
      // three levels plane k sits at the bit-reversed position of k.
      __m128i e[4], o[4];
      for (int j = 0; j < 4; ++j) {
        e[j] = evens(v[2 * j], v[2 * j + 1]);  // bytes 0,2,4,6
        o[j] = odds(v[2 * j], v[2 * j + 1]);   // bytes 1,3,5,7
      }
      __m128i ee[2], eo[2], oe[2], oo[2];
      for (int m = 0; m < 2; ++m) {
        ee[m] = evens(e[2 * m], e[2 * m + 1]);  // bytes 0,4
        eo[m] = odds(e[2 * m], e[2 * m + 1]);   // bytes 2,6
        oe[m] = evens(o[2 * m], o[2 * m + 1]);  // bytes 1,5
        oo[m] = odds(o[2 * m], o[2 * m + 1]);   // bytes 3,7
      }
      store(out + 0 * ne + i, evens(ee[0], ee[1]));
      store(out + 4 * ne + i, odds(ee[0], ee[1]));
      store(out + 2 * ne + i, evens(eo[0], eo[1]));
      store(out + 6 * ne + i, odds(eo[0], eo[1]));
      store(out + 1 * ne + i, evens(oe[0], oe[1]));
      store(out + 5 * ne + i, odds(oe[0], oe[1]));
      store(out + 3 * ne + i, evens(oo[0], oo[1]));
      store(out + 7 * ne + i, odds(oo[0], oo[1]));
    }
  }
  return i;
}

template <size_t ES>
size_t unshuffle_sse2(const uint8_t* __restrict in, uint8_t* __restrict out, size_t ne) {
  size_t i = 0;
  for (; i + 16 <= ne; i += 16) {
    __m128i p[ES];
    for (size_t k = 0; k < ES; ++k) p[k] = load(in + k * ne + i);
    uint8_t* dst = out + i * ES;
    if constexpr (ES == 2) {
      store(dst, _mm_unpacklo_epi8(p[0], p[1]));
      store(dst + 16, _mm_unpackhi_epi8(p[0], p[1]));
    } else if constexpr (ES == 4) {
      __m128i ab_lo = _mm_unpacklo_epi8(p[0], p[1]), ab_hi = _mm_unpackhi_epi8(p[0], p[1]);
      __m128i cd_lo = _mm_unpacklo_epi8(p[2], p[3]), cd_hi = _mm_unpackhi_epi8(p[2], p[3]);
      store(dst, _mm_unpacklo_epi16(ab_lo, cd_lo));       // elements 0-3
      store(dst + 16, _mm_unpackhi_epi16(ab_lo, cd_lo));  // 4-7
      store(dst + 32, _mm_unpacklo_epi16(ab_hi, cd_hi));  // 8-11
      store(dst + 48, _mm_unpackhi_epi16(ab_hi, cd_hi));  // 12-15
    } else {
      static_assert(ES == 8);
      __m128i x_lo[4], x_hi[4];  // byte pairs (2j, 2j+1) of elements 0-7 / 8-15
      for (int j = 0; j < 4; ++j) {
        x_lo[j] = _mm_unpacklo_epi8(p[2 * j], p[2 * j + 1]);
        x_hi[j] = _mm_unpackhi_epi8(p[2 * j], p[2 * j + 1]);
      }
      // Byte quads (4m .. 4m+3) of elements 0-3, 4-7, 8-11, 12-15.
      __m128i y[2][4];
      for (int m = 0; m < 2; ++m) {
        y[m][0] = _mm_unpacklo_epi16(x_lo[2 * m], x_lo[2 * m + 1]);
        y[m][1] = _mm_unpackhi_epi16(x_lo[2 * m], x_lo[2 * m + 1]);
        y[m][2] = _mm_unpacklo_epi16(x_hi[2 * m], x_hi[2 * m + 1]);
        y[m][3] = _mm_unpackhi_epi16(x_hi[2 * m], x_hi[2 * m + 1]);
      }
      for (int q = 0; q < 4; ++q) {
        store(dst + 32 * q, _mm_unpacklo_epi32(y[0][q], y[1][q]));       // elements 4q, 4q+1
        store(dst + 32 * q + 16, _mm_unpackhi_epi32(y[0][q], y[1][q]));  // 4q+2, 4q+3
      }
    }
  }
  return i;
}
#endif

void shuffle_generic(const uint8_t* __restrict in, uint8_t* __restrict out, size_t ne, size_t es) {
  for (size_t k = 0; k < es; ++k) {
    const uint8_t* src = in + k;
    uint8_t* dst = out + k * ne;
    for (size_t i = 0; i < ne; ++i) dst[i] = src[i * es];
  }
}

void unshuffle_generic(const uint8_t* __restrict in, uint8_t* __restrict out, size_t ne, size_t es) {
  for (size_t k = 0; k < es; ++k) {
    const uint8_t* src = in + k * ne;
    uint8_t* dst = out + k;
    for (size_t i = 0; i < ne; ++i) dst[i * es] = src[i];
  }
}

// Vector kernel for the whole 16-element steps, the blocked scalar kernel
// for the rest.
template <bool Forward, size_t ES>
void transpose_es(const uint8_t* in, uint8_t* out, size_t ne) {
  size_t i = 0;
#if defined(__SSE2__)
  if constexpr (ES <= 8) i = Forward ? shuffle_sse2<ES>(in, out, ne) : unshuffle_sse2<ES>(in, out, ne);
#endif
  Forward ? shuffle_fixed<ES>(in, out, ne, i) : unshuffle_fixed<ES>(in, out, ne, i);
}

// The frame both directions share: degenerate sizes, kernel dispatch by
// element size, and the trailing n % elem_size bytes copied unchanged.
template <bool Forward>
void transpose(const uint8_t* in, uint8_t* out, size_t n, size_t elem_size) {
  if (n == 0 || !in || !out) return;
  size_t ne = elem_size ? n / elem_size : 0;
  if (elem_size <= 1 || ne <= 1) {
    if (in != out) std::memmove(out, in, n);
    return;
  }
  switch (elem_size) {
    case 2:
      transpose_es<Forward, 2>(in, out, ne);
      break;
    case 4:
      transpose_es<Forward, 4>(in, out, ne);
      break;
    case 8:
      transpose_es<Forward, 8>(in, out, ne);
      break;
    case 16:
      transpose_es<Forward, 16>(in, out, ne);
      break;
    default:
      Forward ? shuffle_generic(in, out, ne, elem_size) : unshuffle_generic(in, out, ne, elem_size);
      break;
  }
  size_t body = ne * elem_size;
  if (n > body) std::memcpy(out + body, in + body, n - body);
}

}  // namespace

void shuffle(const uint8_t* in, uint8_t* out, size_t n, size_t elem_size) { transpose<true>(in, out, n, elem_size); }

void unshuffle(const uint8_t* in, uint8_t* out, size_t n, size_t elem_size) { transpose<false>(in, out, n, elem_size); }

}  // namespace h5v::codecs
