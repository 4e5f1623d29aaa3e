// Bounded replacements for libhdf5's built-in deflate, shuffle, fletcher32
// and szip filter classes; see bounded.h for why.
#include "filters/bounded.h"
#include "filters/register.h"

#include <algorithm>
#include <cstdlib>
#include <string>

#include "codecs/deflate.h"

// libhdf5's own filter classes. Exported by every libhdf5 build but declared
// only in its private headers; weak so that a build without szip (no
// H5Z_SZIP) still loads, and such a class is simply not replaced.
extern "C" {
extern const H5Z_class2_t H5Z_DEFLATE[1] __attribute__((weak));
extern const H5Z_class2_t H5Z_SHUFFLE[1] __attribute__((weak));
extern const H5Z_class2_t H5Z_FLETCHER32[1] __attribute__((weak));
extern const H5Z_class2_t H5Z_SZIP[1] __attribute__((weak));
// The public H5Zregister refuses ids below 256 ("unable to modify predefined
// filters"); the library-internal registration it wraps replaces a class
// with the same id in place.
herr_t H5Z_register(const H5Z_class2_t* cls) __attribute__((weak));
}

namespace h5v::filters {

namespace {

thread_local uint64_t t_limit = 0;  // 0: no scope

size_t refuse_bomb(const char* func, const char* filter, uint64_t produced_at_least, uint64_t limit) {
  push_filter_error(func, H5E_CANTDECODE,
                    std::string(filter) + ": chunk decodes to more than its declared " + std::to_string(limit) +
                        " bytes" +
                        (produced_at_least ? " (header says " + std::to_string(produced_at_least) + ")" : "") +
                        ": corrupt or a decompression bomb");
  return 0;
}

// Deflate: encoding is libhdf5's (zlib, byte-identical output); decoding is
// libdeflate into a buffer of exactly the limit, so a stream that would
// inflate further fails instead of growing the buffer.
size_t deflate_filter(unsigned flags, size_t cd_nelmts, const unsigned cd_values[], size_t nbytes, size_t* buf_size,
                      void** buf) {
  if (!(flags & H5Z_FLAG_REVERSE)) return H5Z_DEFLATE->filter(flags, cd_nelmts, cd_values, nbytes, buf_size, buf);
  const uint64_t limit = decode_limit();
  void* out = std::malloc(limit ? size_t(limit) : 1);
  if (!out) {
    push_filter_error("deflate_filter", H5E_NOSPACE, "deflate: cannot allocate " + std::to_string(limit) + " bytes");
    return 0;
  }
  size_t len = 0;
  codecs::Status s = codecs::deflate_decode(static_cast<const uint8_t*>(*buf), nbytes, static_cast<uint8_t*>(out),
                                            size_t(limit), &len);
  if (s != codecs::Status::Ok) {
    std::free(out);
    if (s == codecs::Status::OutputTooSmall) return refuse_bomb("deflate_filter", "deflate", 0, limit);
    push_filter_error("deflate_filter", H5E_CANTDECODE, std::string("deflate: ") + codecs::status_message(s));
    return 0;
  }
  std::free(*buf);
  *buf = out;
  *buf_size = size_t(limit);
  return len;
}

// szip: libhdf5 allocates the size the stream's 4-byte little-endian header
// declares, then lets libaec fill at most that. Checking the header is enough.
size_t szip_filter(unsigned flags, size_t cd_nelmts, const unsigned cd_values[], size_t nbytes, size_t* buf_size,
                   void** buf) {
  if ((flags & H5Z_FLAG_REVERSE) && nbytes >= 4) {
    const uint8_t* p = static_cast<const uint8_t*>(*buf);
    uint64_t declared = uint64_t(p[0]) | uint64_t(p[1]) << 8 | uint64_t(p[2]) << 16 | uint64_t(p[3]) << 24;
    if (declared > decode_limit()) return refuse_bomb("szip_filter", "szip", declared, decode_limit());
  }
  return H5Z_SZIP->filter(flags, cd_nelmts, cd_values, nbytes, buf_size, buf);
}

// Shuffle and fletcher32 never grow their input, but their input is the
// previous stage's output (or the stored chunk): over the limit, it is not a
// chunk of this dataset.
size_t shuffle_filter(unsigned flags, size_t cd_nelmts, const unsigned cd_values[], size_t nbytes, size_t* buf_size,
                      void** buf) {
  if ((flags & H5Z_FLAG_REVERSE) && nbytes > decode_limit())
    return refuse_bomb("shuffle_filter", "shuffle", nbytes, decode_limit());
  return H5Z_SHUFFLE->filter(flags, cd_nelmts, cd_values, nbytes, buf_size, buf);
}

size_t fletcher32_filter(unsigned flags, size_t cd_nelmts, const unsigned cd_values[], size_t nbytes, size_t* buf_size,
                         void** buf) {
  if ((flags & H5Z_FLAG_REVERSE) && nbytes > decode_limit() + 4)
    return refuse_bomb("fletcher32_filter", "fletcher32", nbytes, decode_limit());
  return H5Z_FLETCHER32->filter(flags, cd_nelmts, cd_values, nbytes, buf_size, buf);
}

H5Z_class2_t wrap(const H5Z_class2_t* orig, H5Z_func_t filter) {
  H5Z_class2_t c = *orig;  // same id, name, can_apply and set_local
  c.filter = filter;
  return c;
}

// Whether values of `type` hold a variable-length part anywhere: a sequence,
// a variable-length string, or a compound/array member of either.
// H5Tdetect_class(type, H5T_VLEN) is not enough: libhdf5 answers false for a
// variable-length string nested in a compound or array, so such a chunk was
// bounded at its in-memory size (8 bytes per char*) and refused as a bomb.
bool holds_variable_length(hid_t type) {
  switch (H5Tget_class(type)) {
    case H5T_VLEN:
      return true;
    case H5T_STRING:
      return H5Tis_variable_str(type) > 0;
    case H5T_ARRAY: {
      hid_t super = H5Tget_super(type);
      if (super < 0) return false;
      bool v = holds_variable_length(super);
      H5Tclose(super);
      return v;
    }
    case H5T_COMPOUND: {
      int n = H5Tget_nmembers(type);
      for (int i = 0; i < n; ++i) {
        hid_t m = H5Tget_member_type(type, unsigned(i));
        if (m < 0) continue;
        bool v = holds_variable_length(m);
        H5Tclose(m);
        if (v) return true;
      }
      return false;
    }
    default:
      return false;
  }
}

}  // namespace

uint64_t decode_limit() { return t_limit ? t_limit : kMaxChunkBytes; }

DecodeLimit::DecodeLimit(uint64_t bytes) : prev_(t_limit) { t_limit = bytes ? bytes : 1; }
DecodeLimit::~DecodeLimit() { t_limit = prev_; }

uint64_t chunk_decode_limit(hid_t dset) {
  uint64_t limit = kMaxChunkBytes;
  hid_t dcpl = H5Dget_create_plist(dset);
  hid_t type = H5Dget_type(dset);
  if (dcpl >= 0 && type >= 0 && H5Pget_layout(dcpl) == H5D_CHUNKED) {
    hsize_t dims[H5S_MAX_RANK];
    int rank = H5Pget_chunk(dcpl, H5S_MAX_RANK, dims);
    int nf = H5Pget_nfilters(dcpl);
    uint64_t bytes = H5Tget_size(type);
    // H5Dget_type gives variable-length types (strings, sequences, and any
    // type holding one) their in-memory size: a char* (8 bytes) or hvl_t
    // (16). In the file each such value is a global heap ID, 4-byte length +
    // file address (up to 16 bytes) + 4-byte index: at most 24 bytes, so at
    // most 3x the in-memory slot. Bounding by that keeps real chunks of
    // variable-length data readable while still refusing bombs.
    if (holds_variable_length(type)) bytes *= 3;
    bool ok = rank > 0 && nf >= 0 && bytes > 0;
    for (int i = 0; ok && i < rank; ++i) ok = !__builtin_mul_overflow(bytes, uint64_t(dims[i]), &bytes);
    if (ok) limit = std::min<uint64_t>(bytes + 4 * uint64_t(nf), kMaxChunkBytes);
  }
  if (type >= 0) H5Tclose(type);
  if (dcpl >= 0) H5Pclose(dcpl);
  H5Eclear2(H5E_DEFAULT);
  return limit;
}

bool register_bounded_filters() {
  struct Slot {
    const H5Z_class2_t* orig;
    H5Z_func_t filter;
  };
  const Slot slots[] = {{H5Z_DEFLATE, deflate_filter},
                        {H5Z_SHUFFLE, shuffle_filter},
                        {H5Z_FLETCHER32, fletcher32_filter},
                        {H5Z_SZIP, szip_filter}};
  if (!H5Z_register) return true;  // a libhdf5 without it keeps its own filters (docs/security.md)
  for (const Slot& s : slots) {
    if (!s.orig) continue;
    // Registration copies the class; the original stays intact for delegation.
    H5Z_class2_t c = wrap(s.orig, s.filter);
    if (H5Z_register(&c) < 0) return false;
  }
  return true;
}

}  // namespace h5v::filters
