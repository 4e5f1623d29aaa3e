// H5Z filter 32001 ("blosc"), cd_values- and byte-compatible with Blosc/
// hdf5-blosc's blosc_filter.c (Debian: hdf5-filter-plugin-blosc-serial):
// set_local fills slots 0-3 (filter revision 2, Blosc format 2, type size
// (an array's base type; over 255 -> 1), chunk bytes) and keeps the user's
// slots 4-6 (clevel, shuffle, compressor). Encoding into a buffer of the
// chunk's own size, so a chunk Blosc does not shrink is left to libhdf5 to
// store raw (optional filter), as the reference does. Decoding checks the
// header against the stored size and the chunk's bound (decode_limit())
// before allocating.
#include <hdf5.h>

#include <climits>
#include <cstdlib>
#include <string>

#include "codecs/blosc.h"
#include "filters/bounded.h"
#include "filters/register.h"

namespace h5v::filters {

namespace {

herr_t blosc_set_local(hid_t dcpl, hid_t type, hid_t space) {
  unsigned flags = 0;
  size_t nelmts = 8;
  unsigned values[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  if (H5Pget_filter_by_id2(dcpl, kFilterBlosc, &flags, &nelmts, values, 0, nullptr, nullptr) < 0) return -1;
  if (nelmts > 8) nelmts = 8;
  if (nelmts < 4) nelmts = 4;
  values[0] = codecs::kBloscFilterRevision;
  values[1] = 2;  // BLOSC_VERSION_FORMAT of Blosc 1.x
  hsize_t dims[32];
  int rank = H5Pget_chunk(dcpl, 32, dims);
  if (rank < 0) return -1;
  size_t typesize = H5Tget_size(type);
  if (typesize == 0) return -1;
  size_t base = typesize;
  if (H5Tget_class(type) == H5T_ARRAY) {
    hid_t super = H5Tget_super(type);
    base = H5Tget_size(super);
    H5Tclose(super);
  }
  if (base > 255) base = 1;  // BLOSC_MAX_TYPESIZE
  values[2] = unsigned(base);
  unsigned long long bytes = typesize;
  for (int i = 0; i < rank; ++i) bytes *= dims[i];
  values[3] = unsigned(bytes);  // the reference stores it truncated to 32 bits too
  if (H5Pmodify_filter(dcpl, kFilterBlosc, flags, nelmts, values) < 0) return -1;
  return 1;
}

size_t blosc_filter(unsigned flags, size_t cd_nelmts, const unsigned cd_values[], size_t nbytes, size_t* buf_size,
                    void** buf) {
  using namespace h5v::codecs;
  const uint8_t* in = static_cast<const uint8_t*>(*buf);
  BloscParams p;
  if (blosc_params(cd_nelmts, cd_values, &p) != Status::Ok) {
    push_filter_error("blosc_filter", H5E_CALLBACK, "Blosc: bad cd_values or a compressor this libblosc lacks");
    return 0;
  }
  if (!(flags & H5Z_FLAG_REVERSE)) {
    if (nbytes == 0) return 0;
    void* out = std::malloc(nbytes);
    if (!out) {
      push_filter_error("blosc_filter", H5E_NOSPACE, "Blosc: cannot allocate compression buffer");
      return 0;
    }
    size_t len = 0;
    Status s = blosc_encode(p, in, nbytes, static_cast<uint8_t*>(out), nbytes, &len);
    // Optional and no gain: stored raw (the engine decides the same way).
    if (s != Status::Ok || ((flags & H5Z_FLAG_OPTIONAL) && len >= nbytes)) {
      std::free(out);
      if (s != Status::Ok && s != Status::Incompressible)
        push_filter_error("blosc_filter", H5E_CANTENCODE, "Blosc compression error");
      return 0;
    }
    std::free(*buf);
    *buf = out;
    *buf_size = nbytes;
    return len;
  }
  uint64_t declared = 0;
  if (blosc_declared_size(in, nbytes, &declared) != Status::Ok) {
    push_filter_error("blosc_filter", H5E_CANTDECODE, "Blosc: header does not match the stored chunk");
    return 0;
  }
  if (declared == 0 || declared > decode_limit()) {
    push_filter_error("blosc_filter", H5E_CANTDECODE,
                      "Blosc: declared uncompressed size " + std::to_string(declared) +
                          " is zero or more than the chunk's " + std::to_string(decode_limit()) + " bytes");
    return 0;
  }
  void* out = std::malloc(size_t(declared));
  if (!out) {
    push_filter_error("blosc_filter", H5E_NOSPACE, "Blosc: cannot allocate decompression buffer");
    return 0;
  }
  size_t len = 0;
  Status s = blosc_decode(in, nbytes, static_cast<uint8_t*>(out), size_t(declared), &len);
  if (s != Status::Ok) {
    std::free(out);
    push_filter_error("blosc_filter", H5E_CANTDECODE, "Blosc decompression error");
    return 0;
  }
  std::free(*buf);
  *buf = out;
  *buf_size = size_t(declared);
  return len;
}

}  // namespace

extern const H5Z_class2_t kBloscClass = {
    H5Z_CLASS_T_VERS, static_cast<H5Z_filter_t>(kFilterBlosc), 1, 1, "blosc", nullptr, blosc_set_local, blosc_filter,
};

}  // namespace h5v::filters
