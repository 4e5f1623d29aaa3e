// libFuzzer harness for shuffle/unshuffle (any element size, any length with
// trailing bytes) and fletcher32 append/verify.
#include <cstdlib>
#include <cstring>
#include <vector>

#include "codecs/fletcher32.h"
#include "codecs/shuffle.h"

using namespace h5v::codecs;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  size_t es = data[0] % 40;  // includes 0, 1 and the specialised 2/4/8/16
  const uint8_t* in = data + 1;
  size_t n = size - 1;
  std::vector<uint8_t> src(in, in + n), sh(n), back(n);
  shuffle(src.data(), sh.data(), n, es);
  unshuffle(sh.data(), back.data(), n, es);
  if (back != src) abort();
  // spot-check the layout against the definition
  size_t ne = es ? n / es : 0;
  if (es > 1 && ne > 1) {
    for (size_t i = 0; i < ne; i += 1 + ne / 7)
      for (size_t k = 0; k < es; ++k)
        if (sh[k * ne + i] != src[i * es + k]) abort();
    for (size_t t = ne * es; t < n; ++t)
      if (sh[t] != src[t]) abort();
  } else if (sh != src) {
    abort();
  }
  // fletcher32: appended trailer verifies; the raw input as a framed chunk
  // must not crash whatever its trailer says.
  std::vector<uint8_t> buf(src);
  buf.resize(n + 4);
  fletcher32_append(buf.data(), n);
  if (fletcher32_verify(buf.data(), buf.size()) != Status::Ok) abort();
  if (n > 0) {  // any single-bit change in the data changes the checksum
    uint32_t before = fletcher32(buf.data(), n);
    buf[size_t(data[0]) % n] ^= uint8_t(1u << (n % 8));
    if (fletcher32(buf.data(), n) == before) abort();
  }
  std::vector<uint8_t> raw(src);  // exact-size copy
  (void)fletcher32_verify(raw.data(), raw.size());
  return 0;
}
