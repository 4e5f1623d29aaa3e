// szip (HDF5 filter 4) chunk payload, decode only: what libhdf5's H5Z szip
// filter stores is a 4-byte little-endian length (the decoded size) followed
// by one szip stream, coded with the filter's four stored parameters
// (options mask, pixels per block, bits per pixel, pixels per scanline).
//
// The decoder is libaec's szip-compatible SZ_BufftoBuffDecompress, taken
// from the libsz that libhdf5 itself loaded (dlopen with RTLD_NOLOAD): the
// engine decodes szip exactly when libhdf5 could, with the same library, and
// h5vault needs no link-time dependency of its own. It keeps no state
// between calls (each call builds its own stream), so workers call it in
// parallel.
#pragma once
#include "status.h"

namespace h5v::codecs {

struct SzipParams {
  uint32_t options_mask = 0;
  uint32_t pixels_per_block = 0;
  uint32_t bits_per_pixel = 0;
  uint32_t pixels_per_scanline = 0;
};

// True if libhdf5's libsz is loaded in this process and has the decoder.
bool szip_available();

// Decodes one stored chunk (header + stream, n bytes) into out[0..cap).
// Corrupt if the header is missing, names more than cap bytes, or the stream
// does not decode to exactly that many bytes; InvalidArgument if the
// decoder is not available or rejects the parameters.
Status szip_decode(const SzipParams& prm, const uint8_t* in, size_t n, uint8_t* out, size_t cap, size_t* out_len);

}  // namespace h5v::codecs
