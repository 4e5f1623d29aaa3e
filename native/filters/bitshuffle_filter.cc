// H5Z filter 32008 ("bitshuffle"), cd_values- and byte-compatible with
// kiyo-masui/bitshuffle's bshuf_h5filter.c (Debian: bitshuffle; hdf5plugin):
// set_local moves the user's values (block size, compression, zstd level) up
// three slots and fills [0..2] with the format version and the type's size,
// as the reference does. The encoded chunk is always stored, even when it is
// larger than the data (the reference never declines a chunk, so the same
// data gives the same bytes). Decoding checks the header against the chunk's
// bound (decode_limit()) before allocating, and every block against the
// stored bytes (codecs/bitshuffle).
#include <hdf5.h>

#include <cstdlib>
#include <string>

#include "codecs/bitshuffle.h"
#include "filters/bounded.h"
#include "filters/register.h"

namespace h5v::filters {

namespace {

herr_t bitshuffle_set_local(hid_t dcpl, hid_t type, hid_t space) {
  unsigned flags = 0;
  size_t nelmts = 8;
  unsigned user[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  if (H5Pget_filter_by_id2(dcpl, kFilterBitshuffle, &flags, &nelmts, user, 0, nullptr, nullptr) < 0) return -1;
  if (nelmts > 8) nelmts = 8;
  unsigned values[11] = {codecs::kBshufVersionMajor, codecs::kBshufVersionMinor, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  for (size_t i = 0; i < nelmts; ++i) values[i + 3] = user[i];
  const size_t elem = H5Tget_size(type);
  if (elem == 0 || elem > 0xFFFFFFFFu) {
    push_filter_error("bitshuffle_set_local", H5E_CALLBACK, "bitshuffle: invalid element size");
    return -1;
  }
  values[2] = unsigned(elem);
  codecs::BitshuffleParams p;
  if (codecs::bitshuffle_params(nelmts + 3, values, &p) != codecs::Status::Ok) {
    push_filter_error("bitshuffle_set_local", H5E_CALLBACK,
                      "bitshuffle: block size must be a multiple of 8 and compression 0 (none), 2 (LZ4) or 3 (zstd)");
    return -1;
  }
  if (H5Pmodify_filter(dcpl, kFilterBitshuffle, flags, nelmts + 3, values) < 0) return -1;
  return 1;
}

size_t bitshuffle_filter(unsigned flags, size_t cd_nelmts, const unsigned cd_values[], size_t nbytes, size_t* buf_size,
                         void** buf) {
  using namespace h5v::codecs;
  const uint8_t* in = static_cast<const uint8_t*>(*buf);
  BitshuffleParams p;
  if (bitshuffle_params(cd_nelmts, cd_values, &p) != Status::Ok) {
    push_filter_error("bitshuffle_filter", H5E_CALLBACK,
                      "bitshuffle: bad cd_values (element size, block size or compression)");
    return 0;
  }
  if (!(flags & H5Z_FLAG_REVERSE)) {
    if (nbytes == 0) return 0;
    const size_t cap = bitshuffle_bound(p, nbytes);
    void* out = std::malloc(cap);
    if (!out) {
      push_filter_error("bitshuffle_filter", H5E_NOSPACE, "bitshuffle: cannot allocate compression buffer");
      return 0;
    }
    size_t len = 0;
    Status s = bitshuffle_encode(p, in, nbytes, static_cast<uint8_t*>(out), cap, &len);
    if (s != Status::Ok) {
      std::free(out);
      push_filter_error("bitshuffle_filter", H5E_CANTENCODE, std::string("bitshuffle: ") + status_message(s));
      return 0;
    }
    std::free(*buf);
    *buf = out;
    *buf_size = cap;
    return len;
  }
  uint64_t declared = 0;
  if (bitshuffle_declared_size(p, in, nbytes, &declared) != Status::Ok) {
    push_filter_error("bitshuffle_filter", H5E_CANTDECODE, "bitshuffle: chunk shorter than its 12-byte header");
    return 0;
  }
  const uint64_t limit = decode_limit();
  if (declared == 0 || declared > limit) {
    push_filter_error("bitshuffle_filter", H5E_CANTDECODE,
                      "bitshuffle: declared uncompressed size " + std::to_string(declared) +
                          " is zero or more than the chunk's " + std::to_string(limit) + " bytes");
    return 0;
  }
  void* out = std::malloc(size_t(declared));
  if (!out) {
    push_filter_error("bitshuffle_filter", H5E_NOSPACE, "bitshuffle: cannot allocate decompression buffer");
    return 0;
  }
  size_t len = 0;
  Status s = bitshuffle_decode(p, in, nbytes, static_cast<uint8_t*>(out), size_t(declared), &len);
  if (s != Status::Ok) {
    std::free(out);
    push_filter_error("bitshuffle_filter", H5E_CANTDECODE, std::string("bitshuffle: ") + status_message(s));
    return 0;
  }
  std::free(*buf);
  *buf = out;
  *buf_size = size_t(declared);
  return len;
}

}  // namespace

extern const H5Z_class2_t kBitshuffleClass = {
    H5Z_CLASS_T_VERS,  static_cast<H5Z_filter_t>(kFilterBitshuffle), 1, 1, "bitshuffle", nullptr, bitshuffle_set_local,
    bitshuffle_filter,
};

}  // namespace h5v::filters
