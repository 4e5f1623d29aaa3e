// Result codes shared by every pure codec. Codecs never throw and never
// allocate beyond the caller's buffers; all lengths are treated as hostile.
#pragma once
#include <cstddef>
#include <cstdint>

namespace h5v::codecs {

enum class Status {
  Ok = 0,
  OutputTooSmall,   // decoded data would not fit the caller's buffer
  Corrupt,          // malformed stream (bad header, bad length, overread)
  Incompressible,   // encoder: output would not be smaller than input
  InvalidArgument,  // e.g. element size 0, level out of range
  NoMemory,         // codec-internal allocation failed
};

const char* status_message(Status s);

}  // namespace h5v::codecs
