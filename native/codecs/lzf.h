// LZF (h5py filter 32000 payload): the chunk is one raw liblzf stream, no header.
#pragma once
#include "status.h"

namespace h5v::codecs {

// Compress n bytes. Returns Incompressible when the result would not fit in
// `cap` bytes (h5py's filter then stores the chunk raw). *out_len set on Ok.
Status lzf_encode(const uint8_t* in, size_t n, uint8_t* out, size_t cap, size_t* out_len);

// Bounds-checked decode: never reads past in+n nor writes past out+cap.
// Returns OutputTooSmall if the stream decodes to more than cap bytes.
Status lzf_decode(const uint8_t* in, size_t n, uint8_t* out, size_t cap, size_t* out_len);

// Walks the stream without writing: the exact decoded size, or Corrupt if the
// stream is malformed (truncated token, back-reference before the start).
Status lzf_decoded_size(const uint8_t* in, size_t n, size_t* size);

// No LZF stream of n bytes decodes to more than kLzfMaxExpansion * n bytes
// (a 3-byte back-reference yields at most 264 bytes).
constexpr size_t kLzfMaxExpansion = 88;

}  // namespace h5v::codecs
