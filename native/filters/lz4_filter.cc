// H5Z filter 32004 ("lz4"), compatible with hdf5plugin / HDFGroup H5Zlz4.c:
// cd_values[0] = block size in bytes (0 or absent: 1 GiB); further cd_values
// (e.g. the newer plugin's encoder level) are accepted and ignored. No
// set_local: the cd_values must stay exactly what other readers expect.
// The frame's declared size is hostile: the frame is walked and checked
// (lz4_check_frame) and capped at 4 GiB before anything is allocated.
#include <hdf5.h>

#include <cstdlib>
#include <string>

#include "codecs/lz4.h"
#include "filters/bounded.h"
#include "filters/register.h"

namespace h5v::filters {

namespace {

size_t lz4_filter(unsigned flags, size_t cd_nelmts, const unsigned cd_values[], size_t nbytes, size_t* buf_size,
                  void** buf) {
  using namespace h5v::codecs;
  const uint8_t* in = static_cast<const uint8_t*>(*buf);

  if (!(flags & H5Z_FLAG_REVERSE)) {
    if (nbytes == 0) return 0;
    size_t block = (cd_nelmts > 0 && cd_values[0] > 0) ? size_t(cd_values[0]) : 0;
    size_t bound = lz4_max_framed(nbytes, block);
    // Optional: keep only output that is smaller than the chunk, so
    // incompressible chunks are stored raw (filter-mask bit set).
    const bool optional = (flags & H5Z_FLAG_OPTIONAL) != 0;
    size_t cap = optional ? nbytes - 1 : bound;
    if (cap < kLz4HeaderBytes)
      return optional ? 0 : (push_filter_error("lz4_filter", H5E_CANTENCODE, "LZ4: chunk too small"), 0);
    void* out = std::malloc(cap);
    if (!out) {
      push_filter_error("lz4_filter", H5E_NOSPACE, "LZ4: cannot allocate compression buffer");
      return 0;
    }
    size_t len = 0;
    Status s = lz4_encode(in, nbytes, block, static_cast<uint8_t*>(out), cap, &len);
    if (s != Status::Ok) {
      std::free(out);
      if (s == Status::InvalidArgument)
        push_filter_error("lz4_filter", H5E_CANTENCODE, "LZ4: block size exceeds LZ4's 2 GiB limit");
      else if (!optional || s != Status::Incompressible)
        push_filter_error("lz4_filter", H5E_CANTENCODE, "LZ4: compression failed");
      return 0;
    }
    std::free(*buf);
    *buf = out;
    *buf_size = cap;
    return len;
  }

  uint64_t total = 0;
  Status s = lz4_check_frame(in, nbytes, &total);
  if (s != Status::Ok) {
    push_filter_error("lz4_filter", H5E_CANTDECODE, "LZ4: malformed frame (bad header or block sizes)");
    return 0;
  }
  // The header's size is the file's claim: it must fit the chunk being read
  // (decode_limit(), the dataset's chunk size during h5vault's reads).
  if (total == 0 || total > decode_limit() || total > uint64_t(SIZE_MAX)) {
    push_filter_error("lz4_filter", H5E_CANTDECODE,
                      "LZ4: declared uncompressed size " + std::to_string(total) +
                          " is zero or more than the chunk's " + std::to_string(decode_limit()) + " bytes");
    return 0;
  }
  void* out = std::malloc(size_t(total));
  if (!out) {
    push_filter_error("lz4_filter", H5E_NOSPACE, "LZ4: cannot allocate decompression buffer");
    return 0;
  }
  size_t len = 0;
  s = lz4_decode(in, nbytes, static_cast<uint8_t*>(out), size_t(total), &len);
  if (s != Status::Ok || len != total) {
    std::free(out);
    push_filter_error("lz4_filter", H5E_CANTDECODE, "LZ4: corrupt compressed block");
    return 0;
  }
  std::free(*buf);
  *buf = out;
  *buf_size = size_t(total);
  return len;
}

}  // namespace

extern const H5Z_class2_t kLz4Class = {
    H5Z_CLASS_T_VERS, static_cast<H5Z_filter_t>(kFilterLz4), 1, 1, "lz4", nullptr, nullptr, lz4_filter,
};

}  // namespace h5v::filters
