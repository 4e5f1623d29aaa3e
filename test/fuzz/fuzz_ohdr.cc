// libFuzzer harness for h5vault's dataset object-header parser
// (native/h5/ohdr.h), which loadModel trusts instead of an H5Dopen per tensor.
// Input: 4 bytes of the header's address (little-endian, taken modulo the
// image's size), then a file image, copied into an exactly-sized buffer (ASan
// sees any read past it). The end of allocated space is the image's end.
// Checks: no crash or sanitizer report, and an accepted header is
// self-consistent: a tensor dtype, rank <= 32, nelements the product of the
// shape, bytes = nelements * element size, the data block (when allocated)
// inside the image. The superblock check runs on the same image.
// Seeds (test/fuzz/corpus/fuzz_ohdr/): shapes-* and attrs-*, one per dataset
// header of the two models test/api/model.header-parser.test.ts writes
// (saveModel; attrs.h5 edited by h5py: 30 attributes on "cube", whose header
// continues in a second chunk, and a big-endian "be"), written by that test
// with H5VAULT_WRITE_OHDR_SEEDS=1; finding-short-continuation is this
// harness's first finding (a continuation message shorter than 16 bytes read
// past its chunk), fixed in ohdr.cc and held by test/native/test_ohdr.cc.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "h5/ohdr.h"

using namespace h5v::h5;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 5) return 0;
  uint32_t a = 0;
  std::memcpy(&a, data, 4);
  std::vector<uint8_t> image(data + 4, data + size);
  const uint64_t eoa = image.size();
  const uint64_t addr = eoa ? a % eoa : 0;
  ohdr::MemorySource src(image.data(), image.size());
  (void)ohdr::plain_superblock(src);
  ohdr::Dataset d;
  if (ohdr::parse_dataset(src, addr, eoa, &d) != ohdr::Result::Dataset) return 0;
  const size_t es = dtype_size(d.dtype);
  if (d.dtype == DType::String || d.dtype == DType::Bool || d.dtype == DType::Unsupported || es == 0) abort();
  if (d.shape.size() > ohdr::kMaxRank || d.scalar != d.shape.empty()) abort();
  uint64_t n = 1;
  for (uint64_t v : d.shape) n *= v;  // bounded by the parser (<= 2^53), no overflow
  if (n != d.nelements || d.bytes != n * es) abort();
  if (d.addr != ohdr::kUndefined && (d.addr > eoa || d.bytes > eoa - d.addr)) abort();
  return 0;
}
