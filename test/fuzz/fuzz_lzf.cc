// libFuzzer harness for the LZF decoder: arbitrary bytes are decoded into a
// bounded buffer (exactly sized, so ASan sees any overwrite); the size walker
// must agree with the decoder; a valid decode must re-encode and round-trip.
#include <cstdlib>
#include <cstring>
#include <vector>

#include <lzf.h>

#include "codecs/lzf.h"

using namespace h5v::codecs;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  // First byte picks the output capacity (to exercise OutputTooSmall paths).
  size_t cap = (size_t(data[0]) << 6) + 1;
  const uint8_t* in = data + 1;
  size_t n = size - 1;
  std::vector<uint8_t> out(cap);
  size_t len = 0;
  Status s = lzf_decode(in, n, out.data(), cap, &len);
  size_t exact = 0;
  Status ws = lzf_decoded_size(in, n, &exact);
  if (s == Status::Ok) {
    if (len > cap || ws != Status::Ok || exact != len) abort();
  } else if (s == Status::Corrupt) {
    if (len != 0) abort();
  } else if (s == Status::OutputTooSmall) {
    // the walker may still find a later corruption; if it accepts, it must not fit
    if (ws == Status::Ok && exact <= cap) abort();
  } else {
    abort();
  }
  if (ws == Status::Ok && exact > n * kLzfMaxExpansion) abort();  // bound documented in lzf.h
  // Differential check against liblzf's own (bounds-checked) decoder.
  std::vector<uint8_t> lib(cap);
  unsigned r = n ? lzf_decompress(in, unsigned(n), lib.data(), unsigned(cap)) : 0;
  if (r > 0 && (s != Status::Ok || len != r || std::memcmp(lib.data(), out.data(), r) != 0)) abort();
  if (s == Status::Ok && len > 0 && r != len) abort();
  if (s == Status::Ok && len > 0) {
    std::vector<uint8_t> enc(len + len / 16 + 64), back(len);
    size_t elen = 0, blen = 0;
    if (lzf_encode(out.data(), len, enc.data(), enc.size(), &elen) != Status::Ok) abort();
    if (lzf_decode(enc.data(), elen, back.data(), back.size(), &blen) != Status::Ok) abort();
    if (blen != len || std::memcmp(back.data(), out.data(), len) != 0) abort();
  }
  return 0;
}
