// libFuzzer harness for the 32004-framed LZ4 decoder. Declared sizes are
// hostile: the harness never allocates from them, only from its own cap.
#include <cstdlib>
#include <cstring>
#include <vector>

#include "codecs/lz4.h"

using namespace h5v::codecs;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  constexpr uint64_t kBigCap = 4 << 20;  // like the filter: allocate only after the check
  uint64_t declared = 0, checked = 0;
  Status ds = lz4_declared_size(data, size, &declared);
  Status cs = lz4_check_frame(data, size, &checked);
  if (cs == Status::Ok && (ds != Status::Ok || checked != declared)) abort();
  // A frame that passes the check is bounded by the input size.
  if (cs == Status::Ok && checked > uint64_t(size) * kLz4MaxExpansion + 64 * (size / 4 + 1)) abort();
  size_t cap = 4096;
  if (cs == Status::Ok && checked <= kBigCap) cap = size_t(checked) + (size & 1);  // exact or +1
  std::vector<uint8_t> out(cap);
  size_t len = 0;
  Status s = lz4_decode(data, size, out.data(), cap, &len);
  if (s == Status::Ok) {
    if (len > cap || uint64_t(len) != declared) abort();
    if (cs != Status::Ok) abort();  // whatever decodes must pass the structural check
    // re-encode with the frame's own block size and round-trip
    uint32_t bs =
        (uint32_t(data[8]) << 24) | (uint32_t(data[9]) << 16) | (uint32_t(data[10]) << 8) | uint32_t(data[11]);
    if (bs == 0 || bs > (1u << 24)) bs = 1u << 16;
    std::vector<uint8_t> enc(lz4_max_framed(len, bs)), back(len);
    size_t elen = 0, blen = 0;
    if (lz4_encode(out.data(), len, bs, enc.data(), enc.size(), &elen) != Status::Ok) abort();
    if (lz4_decode(enc.data(), elen, back.data(), back.size(), &blen) != Status::Ok) abort();
    if (blen != len || (len && std::memcmp(back.data(), out.data(), len) != 0)) abort();
  } else if (len != 0) {
    abort();
  }
  return 0;
}
