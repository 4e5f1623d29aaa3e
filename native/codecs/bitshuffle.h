// Bitshuffle in the framing of HDF5 filter 32008 (kiyo-masui/bitshuffle's
// bshuf_h5filter.c; Debian package `bitshuffle`, hdf5plugin.Bitshuffle).
//
// cd_values after set_local: [0] major, [1] minor version of the writer,
// [2] element size in bytes, [3] block size in elements (0: default, else a
// multiple of 8), [4] compression (0 none, 2 LZ4, 3 zstd), [5] zstd level.
//
// The bit transpose of a block of n elements (n a multiple of 8) of E bytes:
// output row r = 8*j + k (byte j of the element, bit k, least significant
// first) is n/8 bytes whose bit (i % 8) of byte (i / 8) is bit k of byte j of
// element i. A chunk is cut into blocks of the block size; the last partial
// block is rounded down to a multiple of 8 elements, and the 0-7 elements left
// over are copied untransposed at the end.
//
// With compression the chunk is: u64 BE uncompressed bytes, u32 BE block size
// in bytes, then per block u32 BE compressed length + an LZ4 block
// (LZ4_compress_default) or a zstd frame (ZSTD_compress at the level) of the
// transposed block, then the leftover bytes. Without compression the chunk is
// the transposed blocks + leftover, same size as the input, no header.
//
// Written from that description (kiyo-masui/bitshuffle, MIT licence, was read
// for the format only; no code of it is here). The default block size rule
// (8192 bytes, multiple of 8, at least 128 elements) is part of the format.
#pragma once
#include "status.h"

namespace h5v::codecs {

constexpr unsigned kBshufCompressNone = 0;
constexpr unsigned kBshufCompressLz4 = 2;
constexpr unsigned kBshufCompressZstd = 3;
constexpr size_t kBshufHeaderBytes = 12;
// What h5vault writes in cd_values[0..1]: the format of bitshuffle 0.4 (the
// release that added zstd); readers ignore both.
constexpr unsigned kBshufVersionMajor = 0;
constexpr unsigned kBshufVersionMinor = 4;

struct BitshuffleParams {
  size_t elem_size = 1;
  size_t block_size = 0;  // elements; 0: bitshuffle_default_block(elem_size)
  unsigned compression = kBshufCompressLz4;
  int zstd_level = 3;  // 1..22 (0 in cd_values means zstd's default, 3)
};

// cd_values as the reference filter reads them: InvalidArgument with fewer
// than 3, an element size of 0, a block size not a multiple of 8, or a
// compression other than 0, 2, 3.
Status bitshuffle_params(size_t cd_nelmts, const unsigned cd_values[], BitshuffleParams* p);

// The reference's default block: 8192 bytes of elements, a multiple of 8,
// at least 128 elements.
size_t bitshuffle_default_block(size_t elem_size);

// Bit transpose of one block (n a multiple of 8; in and out n*elem bytes,
// not overlapping). The fast path (SSE2 where the CPU has it) and the
// scalar one produce the same bytes; the scalar ones are exposed for tests.
void bit_transpose(const uint8_t* in, uint8_t* out, size_t n, size_t elem);
void bit_untranspose(const uint8_t* in, uint8_t* out, size_t n, size_t elem);
void bit_transpose_scalar(const uint8_t* in, uint8_t* out, size_t n, size_t elem);
void bit_untranspose_scalar(const uint8_t* in, uint8_t* out, size_t n, size_t elem);

// Largest encoded size of an n-byte chunk.
size_t bitshuffle_bound(const BitshuffleParams& p, size_t n);

// Encodes an n-byte chunk (n a multiple of elem_size) into out, byte-identical
// to the reference filter. Incompressible if it does not fit cap.
Status bitshuffle_encode(const BitshuffleParams& p, const uint8_t* in, size_t n, uint8_t* out, size_t cap,
                         size_t* out_len);

// The uncompressed size the chunk declares (its header; the stored size
// without compression). Corrupt when there is no valid header.
Status bitshuffle_declared_size(const BitshuffleParams& p, const uint8_t* in, size_t n, uint64_t* size);

// Decodes into out, writing at most cap bytes: a declared size above cap is
// OutputTooSmall before anything is decoded; every block length, block
// output and the leftover are checked against the input (Corrupt).
Status bitshuffle_decode(const BitshuffleParams& p, const uint8_t* in, size_t n, uint8_t* out, size_t cap,
                         size_t* out_len);

}  // namespace h5v::codecs
