// libFuzzer harness for the filter-32001 Blosc decoder. The header's sizes
// are hostile: the harness allocates only its own cap (as the filter
// allocates the chunk's size); the decoder must refuse a header whose
// compressed size is not the input's and never write past the cap.
#include <cstdlib>
#include <cstring>
#include <vector>

#include "codecs/blosc.h"

using namespace h5v::codecs;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const size_t cap = size_t(data[0]) * 256 + 1;  // first byte: the chunk size
  const uint8_t* in = data + 1;
  const size_t n = size - 1;
  uint64_t declared = 0;
  Status ds = blosc_declared_size(in, n, &declared);
  std::vector<uint8_t> out(cap);
  size_t len = 12345;
  Status s = blosc_decode(in, n, out.data(), cap, &len);
  if (s == Status::Ok) {
    if (ds != Status::Ok || len > cap || uint64_t(len) != declared) abort();
  } else if (len != 0) {
    abort();
  }
  return 0;
}
