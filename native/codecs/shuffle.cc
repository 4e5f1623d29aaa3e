// HDF5 byte shuffle. The common element sizes get fixed-size kernels that work
// on blocks of kBlock elements: the inner loops have compile-time trip counts
// and strides, so the compiler turns them into vector transposes. Other sizes
// use a plain strided loop. Semantics match H5Z_filter_shuffle exactly,
// including the untouched trailing n % elem_size bytes.
#include "codecs/shuffle.h"

#include <cstring>

namespace h5v::codecs {

namespace {

constexpr size_t kBlock = 32;  // elements per block (ES * 32 bytes per block)

template <size_t ES>
inline void shuffle_fixed(const uint8_t* __restrict in, uint8_t* __restrict out, size_t ne) {
  size_t i = 0;
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
inline void unshuffle_fixed(const uint8_t* __restrict in, uint8_t* __restrict out, size_t ne) {
  size_t i = 0;
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
      Forward ? shuffle_fixed<2>(in, out, ne) : unshuffle_fixed<2>(in, out, ne);
      break;
    case 4:
      Forward ? shuffle_fixed<4>(in, out, ne) : unshuffle_fixed<4>(in, out, ne);
      break;
    case 8:
      Forward ? shuffle_fixed<8>(in, out, ne) : unshuffle_fixed<8>(in, out, ne);
      break;
    case 16:
      Forward ? shuffle_fixed<16>(in, out, ne) : unshuffle_fixed<16>(in, out, ne);
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
