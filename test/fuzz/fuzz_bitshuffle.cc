// libFuzzer harness for the filter-32008 Bitshuffle decoder. The first byte
// picks the chunk size (the cap the filter allocates), the second the
// cd_values (element size, block size, LZ4 or zstd); the header and every
// block length are hostile. The decoder must stay within the cap and the
// input, and an Ok result must be exactly the declared size.
#include <cstdlib>
#include <vector>

#include "codecs/bitshuffle.h"

using namespace h5v::codecs;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const size_t cap = size_t(data[0]) * 64 + 1;
  const unsigned sel = data[1];
  static const unsigned kElem[8] = {1, 2, 4, 8, 3, 16, 5, 12};
  BitshuffleParams p;
  p.elem_size = kElem[sel & 7];
  p.block_size = ((sel >> 3) & 3) * 8;  // 0 (default), 8, 16, 24
  p.compression = (sel & 0x20) ? kBshufCompressZstd : (sel & 0x40) ? kBshufCompressNone : kBshufCompressLz4;
  const uint8_t* in = data + 2;
  const size_t n = size - 2;
  uint64_t declared = 0;
  Status ds = bitshuffle_declared_size(p, in, n, &declared);
  std::vector<uint8_t> out(cap);
  size_t len = 12345;
  Status s = bitshuffle_decode(p, in, n, out.data(), cap, &len);
  if (s == Status::Ok) {
    if (ds != Status::Ok || len > cap || uint64_t(len) != declared) abort();
    // Re-encoding the decoded chunk must decode to the same bytes.
    std::vector<uint8_t> enc(bitshuffle_bound(p, len)), back(len);
    size_t elen = 0, blen = 0;
    if (bitshuffle_encode(p, out.data(), len, enc.data(), enc.size(), &elen) != Status::Ok) abort();
    if (bitshuffle_decode(p, enc.data(), elen, back.data(), len, &blen) != Status::Ok || blen != len) abort();
    for (size_t i = 0; i < len; ++i)
      if (back[i] != out[i]) abort();
  } else if (len != 0) {
    abort();
  }
  return 0;
}
