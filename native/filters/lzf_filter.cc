// H5Z filter 32000 ("lzf"), on-disk and cd_values compatible with h5py's
// lzf_filter.c: set_local stores {filter revision 4, LZF API 0x0105, chunk
// bytes}; the decoder sizes its buffer from cd_values[2]; the encoder gives up
// (returns 0) when the output would not be smaller, so with H5Z_FLAG_OPTIONAL
// libhdf5 stores the chunk raw and marks it in the chunk's filter mask.
#include <hdf5.h>

#include <climits>
#include <cstdlib>

#include "codecs/lzf.h"
#include "filters/bounded.h"
#include "filters/register.h"

namespace h5v::filters {

namespace {

constexpr unsigned kLzfFilterRevision = 4;   // h5py's H5PY_FILTER_LZF_VERSION
constexpr unsigned kLzfApiVersion = 0x0105;  // liblzf LZF_VERSION (h5py's bundled copy)

herr_t lzf_set_local(hid_t dcpl, hid_t type, hid_t space) {
  unsigned flags = 0;
  size_t nelmts = 8;
  unsigned values[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  if (H5Pget_filter_by_id2(dcpl, kFilterLzf, &flags, &nelmts, values, 0, nullptr, nullptr) < 0) return -1;
  if (nelmts > 8) nelmts = 8;
  if (nelmts < 3) nelmts = 3;  // slots 0..2 are ours; keep any higher ones
  if (values[0] == 0) values[0] = kLzfFilterRevision;
  if (values[1] == 0) values[1] = kLzfApiVersion;

  hsize_t dims[H5S_MAX_RANK];
  int rank = H5Pget_chunk(dcpl, H5S_MAX_RANK, dims);
  if (rank < 0) return -1;
  size_t type_size = H5Tget_size(type);
  if (type_size == 0) return -1;
  unsigned long long bytes = type_size;
  for (int i = 0; i < rank; ++i) {
    if (dims[i] != 0 && bytes > ULLONG_MAX / dims[i]) {
      bytes = 0;
      break;
    }
    bytes *= dims[i];
  }
  // h5py stores an unsigned int; 0 means "no guess" (decoder falls back).
  values[2] = bytes <= UINT_MAX ? unsigned(bytes) : 0u;
  if (H5Pmodify_filter(dcpl, kFilterLzf, flags, nelmts, values) < 0) return -1;
  return 1;
}

size_t lzf_filter(unsigned flags, size_t cd_nelmts, const unsigned cd_values[], size_t nbytes, size_t* buf_size,
                  void** buf) {
  using namespace h5v::codecs;
  const uint8_t* in = static_cast<const uint8_t*>(*buf);

  if (!(flags & H5Z_FLAG_REVERSE)) {
    if (nbytes == 0) return 0;
    if (nbytes > UINT_MAX) {
      push_filter_error("lzf_filter", H5E_CANTENCODE, "LZF: chunk too large to compress (over 4 GiB)");
      return 0;
    }
    // Optional (the h5py way): only keep output that is strictly smaller.
    // Mandatory: LZF may expand incompressible data by up to ~1/32; allow it.
    const bool optional = (flags & H5Z_FLAG_OPTIONAL) != 0;
    size_t cap = optional ? nbytes - 1 : nbytes + nbytes / 16 + 64;
    if (cap == 0) return 0;
    void* out = std::malloc(cap);
    if (!out) {
      push_filter_error("lzf_filter", H5E_NOSPACE, "LZF: cannot allocate compression buffer");
      return 0;
    }
    size_t len = 0;
    Status s = lzf_encode(in, nbytes, static_cast<uint8_t*>(out), cap, &len);
    if (s != Status::Ok || len == 0) {
      std::free(out);
      if (!optional || s != Status::Incompressible)
        push_filter_error("lzf_filter", H5E_CANTENCODE, "LZF: compression failed");
      return 0;  // optional: libhdf5 stores the chunk unfiltered
    }
    std::free(*buf);
    *buf = out;
    *buf_size = cap;
    return len;
  }

  // Decode. Every size here is derived from the file: bound it before allocating.
  if (nbytes == 0) {
    push_filter_error("lzf_filter", H5E_CANTDECODE, "LZF: empty compressed chunk");
    return 0;
  }
  // Never more than the chunk being read (decode_limit(): the dataset's chunk
  // size during h5vault's reads), nor than LZF can expand nbytes to.
  const size_t limit = size_t(decode_limit());
  size_t bound = nbytes > limit / kLzfMaxExpansion ? limit : nbytes * kLzfMaxExpansion;
  size_t guess = (cd_nelmts >= 3 && cd_values[2] != 0) ? size_t(cd_values[2]) : 0;
  if (guess > bound) guess = bound;
  if (guess == 0) {
    // No usable hint: measure the stream (validates it too).
    Status s = lzf_decoded_size(in, nbytes, &guess);
    if (s != Status::Ok || guess == 0) {
      push_filter_error("lzf_filter", H5E_CANTDECODE, "LZF: invalid data for LZF decompression");
      return 0;
    }
  }
  for (int attempt = 0; attempt < 2; ++attempt) {
    void* out = std::malloc(guess);
    if (!out) {
      push_filter_error("lzf_filter", H5E_NOSPACE, "LZF: cannot allocate decompression buffer");
      return 0;
    }
    size_t len = 0;
    Status s = lzf_decode(in, nbytes, static_cast<uint8_t*>(out), guess, &len);
    if (s == Status::Ok && len > 0) {
      std::free(*buf);
      *buf = out;
      *buf_size = guess;
      return len;
    }
    std::free(out);
    if (s != Status::OutputTooSmall || attempt > 0) {
      push_filter_error("lzf_filter", H5E_CANTDECODE, "LZF: invalid data for LZF decompression");
      return 0;
    }
    // The hint was too small (e.g. chunk size changed): measure exactly.
    size_t exact = 0;
    if (lzf_decoded_size(in, nbytes, &exact) != Status::Ok || exact <= guess) {
      push_filter_error("lzf_filter", H5E_CANTDECODE, "LZF: invalid data for LZF decompression");
      return 0;
    }
    if (exact > limit) {
      push_filter_error("lzf_filter", H5E_CANTDECODE,
                        "LZF: chunk decodes to more than its declared size: corrupt or a decompression bomb");
      return 0;
    }
    guess = exact;
  }
  return 0;
}

}  // namespace

extern const H5Z_class2_t kLzfClass = {
    H5Z_CLASS_T_VERS, static_cast<H5Z_filter_t>(kFilterLzf), 1, 1, "lzf", nullptr, lzf_set_local, lzf_filter,
};

}  // namespace h5v::filters
