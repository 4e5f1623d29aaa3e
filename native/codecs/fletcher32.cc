// Fletcher-32 exactly as libhdf5's H5_checksum_fletcher32: big-endian 16-bit
// words, sums starting at 0, folded ((x & 0xffff) + (x >> 16)) every 360 words
// (and once more at the end); an odd trailing byte counts as the high byte of
// a final word. The folding schedule matters: 0 and 0xffff are both possible
// representations of "0 mod 65535", so only the same schedule is bit-exact.
#include "codecs/fletcher32.h"

namespace h5v::codecs {

namespace {

inline uint32_t load_le32(const uint8_t* p) {
  return uint32_t(p[0]) | (uint32_t(p[1]) << 8) | (uint32_t(p[2]) << 16) | (uint32_t(p[3]) << 24);
}

}  // namespace

uint32_t fletcher32(const uint8_t* data, size_t n) {
  if (!data) return 0;
  size_t words = n / 2;
  uint32_t sum1 = 0, sum2 = 0;
  while (words) {
    size_t t = words > 360 ? 360 : words;
    words -= t;
    for (size_t i = 0; i < t; ++i) {
      sum1 += (uint32_t(data[2 * i]) << 8) | uint32_t(data[2 * i + 1]);
      sum2 += sum1;
    }
    data += 2 * t;
    sum1 = (sum1 & 0xffff) + (sum1 >> 16);
    sum2 = (sum2 & 0xffff) + (sum2 >> 16);
  }
  if (n % 2) {
    sum1 += uint32_t(*data) << 8;
    sum2 += sum1;
    sum1 = (sum1 & 0xffff) + (sum1 >> 16);
    sum2 = (sum2 & 0xffff) + (sum2 >> 16);
  }
  sum1 = (sum1 & 0xffff) + (sum1 >> 16);
  sum2 = (sum2 & 0xffff) + (sum2 >> 16);
  return (sum2 << 16) | sum1;
}

void fletcher32_append(uint8_t* buf, size_t n) {
  if (!buf) return;
  uint32_t f = fletcher32(buf, n);
  // H5Z_filter_fletcher32 appends with UINT32ENCODE: little-endian.
  buf[n] = uint8_t(f);
  buf[n + 1] = uint8_t(f >> 8);
  buf[n + 2] = uint8_t(f >> 16);
  buf[n + 3] = uint8_t(f >> 24);
}

Status fletcher32_verify(const uint8_t* buf, size_t n) {
  if (!buf || n < 4) return Status::Corrupt;
  size_t len = n - 4;
  uint32_t stored = load_le32(buf + len);
  uint32_t f = fletcher32(buf, len);
  // libhdf5 (1.6.3+, still in 1.10.8) also accepts the checksum written by
  // releases before 1.6.3 on little-endian hosts: the bytes of each 16-bit
  // half swapped.
  uint32_t legacy = ((f & 0x00ff00ffu) << 8) | ((f & 0xff00ff00u) >> 8);
  return stored == f || stored == legacy ? Status::Ok : Status::Corrupt;
}

}  // namespace h5v::codecs
