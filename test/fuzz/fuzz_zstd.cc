// libFuzzer harness for the filter-32015 Zstandard decoder. The frame's
// declared size is hostile: the harness only allocates its own cap (as the
// filter allocates the chunk's size), and the decoder must never write or
// claim more than that cap.
#include <cstdlib>
#include <cstring>
#include <vector>

#include "codecs/zstd.h"

using namespace h5v::codecs;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  // First byte picks the cap (the chunk size the filter would allow).
  const size_t cap = size_t(data[0]) * 256 + 1;
  const uint8_t* in = data + 1;
  const size_t n = size - 1;
  uint64_t declared = 0;
  bool known = false;
  Status ds = zstd_declared_size(in, n, &declared, &known);
  std::vector<uint8_t> out(cap);
  size_t len = 12345;
  Status s = zstd_decode(in, n, out.data(), cap, &len);
  if (s == Status::Ok) {
    if (len > cap || ds != Status::Ok) abort();
    if (known && uint64_t(len) != declared) abort();
    // round trip what decoded
    std::vector<uint8_t> enc(zstd_bound(len)), back(len + 1);
    size_t elen = 0, blen = 0;
    if (zstd_encode(out.data(), len, 1, enc.data(), enc.size(), &elen) != Status::Ok) abort();
    if (zstd_decode(enc.data(), elen, back.data(), len, &blen) != Status::Ok) abort();
    if (blen != len || (len && std::memcmp(back.data(), out.data(), len) != 0)) abort();
  } else {
    if (len != 0) abort();
    if (known && declared > cap && s != Status::OutputTooSmall) abort();
  }
  return 0;
}
