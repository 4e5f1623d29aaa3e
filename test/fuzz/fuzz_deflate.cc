// libFuzzer harness for the zlib-format deflate decoder (libdeflate underneath).
#include <cstdlib>
#include <cstring>
#include <vector>

#include "codecs/deflate.h"

using namespace h5v::codecs;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  size_t cap = (size_t(data[0]) << 8) + 1;
  std::vector<uint8_t> out(cap);
  size_t len = 0;
  Status s = deflate_decode(data + 1, size - 1, out.data(), cap, &len);
  if (s != Status::Ok) {
    if (len != 0) abort();
    return 0;
  }
  if (len > cap) abort();
  int level = data[0] % 13;
  std::vector<uint8_t> enc(deflate_bound(len, level)), back(len + 1);
  size_t elen = 0, blen = 0;
  if (deflate_encode(out.data(), len, level, enc.data(), enc.size(), &elen) != Status::Ok) abort();
  if (deflate_decode(enc.data(), elen, back.data(), back.size(), &blen) != Status::Ok) abort();
  if (blen != len || (len && std::memcmp(back.data(), out.data(), len) != 0)) abort();
  return 0;
}
