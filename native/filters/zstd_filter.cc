// H5Z filter 32015 ("zstd"), compatible with aparamon/HDF5Plugin-Zstandard
// (the filter hdf5plugin ships): cd_values[0] = level (optional; clamped to
// 1..22 as the reference does), the chunk is one zstd frame. No set_local,
// so the cd_values stay exactly what other readers expect.
// Differences, both on the safe side: with H5Z_FLAG_OPTIONAL (what h5py and
// h5vault set) a chunk that zstd does not shrink is stored raw (filter-mask
// bit set), as lz4_filter does; and decoding is bounded by the chunk's size
// (decode_limit()): a frame declaring more, or streaming more, is refused
// before anything of that size is allocated.
#include <hdf5.h>

#include <cstdlib>
#include <string>

#include "codecs/zstd.h"
#include "filters/bounded.h"
#include "filters/register.h"

namespace h5v::filters {

namespace {

size_t zstd_filter(unsigned flags, size_t cd_nelmts, const unsigned cd_values[], size_t nbytes, size_t* buf_size,
                   void** buf) {
  using namespace h5v::codecs;
  const uint8_t* in = static_cast<const uint8_t*>(*buf);

  if (!(flags & H5Z_FLAG_REVERSE)) {
    if (nbytes == 0) return 0;
    const bool optional = (flags & H5Z_FLAG_OPTIONAL) != 0;
    size_t cap = zstd_bound(nbytes);
    void* out = std::malloc(cap);
    if (!out) {
      push_filter_error("zstd_filter", H5E_NOSPACE, "zstd: cannot allocate compression buffer");
      return 0;
    }
    size_t len = 0;
    Status s = zstd_encode(in, nbytes, zstd_filter_level(cd_nelmts, cd_values), static_cast<uint8_t*>(out), cap, &len);
    if (s != Status::Ok || (optional && len >= nbytes)) {
      std::free(out);
      if (s != Status::Ok) push_filter_error("zstd_filter", H5E_CANTENCODE, std::string("zstd: ") + status_message(s));
      return 0;  // optional and not smaller: libhdf5 stores the chunk raw
    }
    std::free(*buf);
    *buf = out;
    *buf_size = cap;
    return len;
  }

  uint64_t declared = 0;
  bool known = false;
  if (zstd_declared_size(in, nbytes, &declared, &known) != Status::Ok) {
    push_filter_error("zstd_filter", H5E_CANTDECODE, "zstd: not a zstd frame");
    return 0;
  }
  const uint64_t limit = decode_limit();
  if (known && (declared == 0 || declared > limit)) {
    push_filter_error("zstd_filter", H5E_CANTDECODE,
                      "zstd: declared uncompressed size " + std::to_string(declared) +
                          " is zero or more than the chunk's " + std::to_string(limit) + " bytes");
    return 0;
  }
  // Unknown size (a streamed frame): decode into the chunk's size, no more.
  const size_t cap = size_t(known ? declared : limit);
  void* out = std::malloc(cap ? cap : 1);
  if (!out) {
    push_filter_error("zstd_filter", H5E_NOSPACE, "zstd: cannot allocate decompression buffer");
    return 0;
  }
  size_t len = 0;
  Status s = zstd_decode(in, nbytes, static_cast<uint8_t*>(out), cap, &len);
  if (s != Status::Ok || len == 0) {
    std::free(out);
    push_filter_error("zstd_filter", H5E_CANTDECODE,
                      s == Status::OutputTooSmall
                          ? "zstd: chunk decodes to more than its declared " + std::to_string(limit) +
                                " bytes: corrupt or a decompression bomb"
                          : std::string("zstd: ") + status_message(s == Status::Ok ? Status::Corrupt : s));
    return 0;
  }
  std::free(*buf);
  *buf = out;
  *buf_size = cap;
  return len;
}

}  // namespace

extern const H5Z_class2_t kZstdClass = {
    H5Z_CLASS_T_VERS, static_cast<H5Z_filter_t>(kFilterZstd), 1, 1, "zstd", nullptr, nullptr, zstd_filter,
};

}  // namespace h5v::filters
