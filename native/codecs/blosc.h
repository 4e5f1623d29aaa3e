// Blosc 1 (system libblosc) in the framing of HDF5 filter 32001 (Blosc/
// hdf5-blosc blosc_filter.c): the chunk is one Blosc buffer; cd_values are
//   [0] filter revision (2)   [1] Blosc format version (2)
//   [2] type size             [3] chunk size in bytes
//   [4] clevel (default 5)    [5] shuffle: 0 none, 1 byte, 2 bit (default 1)
//   [6] compressor code: 0 blosclz, 1 lz4, 2 lz4hc, 3 snappy, 4 zlib, 5 zstd
//       (default blosclz)
#pragma once
#include "status.h"

namespace h5v::codecs {

constexpr unsigned kBloscFilterRevision = 2;  // hdf5-blosc FILTER_BLOSC_VERSION
constexpr size_t kBloscHeaderBytes = 16;      // BLOSC_MIN_HEADER_LENGTH

struct BloscParams {
  unsigned typesize = 1;
  int clevel = 5;
  int shuffle = 1;
  int compressor = 0;  // Blosc compressor code
};

// cd_values read as the reference filter reads them. InvalidArgument if
// there are fewer than 4, or a compressor code this libblosc lacks.
Status blosc_params(size_t cd_nelmts, const unsigned cd_values[], BloscParams* p);

// Compresses n bytes into out (cap bytes), byte-identical to the reference
// filter's blosc_compress(clevel, shuffle, typesize, n, in, out, cap) with the
// compressor set, single-threaded. Incompressible if it does not fit cap
// (the reference filter passes cap = n: no gain, chunk stored raw).
Status blosc_encode(const BloscParams& p, const uint8_t* in, size_t n, uint8_t* out, size_t cap, size_t* out_len);

// The header's uncompressed size, after checking that the header's
// compressed size is exactly n (so the decoder cannot read past the input).
Status blosc_declared_size(const uint8_t* in, size_t n, uint64_t* size);

// Decodes into out; a declared size above cap is OutputTooSmall (refused
// before decoding).
Status blosc_decode(const uint8_t* in, size_t n, uint8_t* out, size_t cap, size_t* out_len);

}  // namespace h5v::codecs
