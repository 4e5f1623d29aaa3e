// Helpers shared by the value.h implementation files (value_type.cc,
// value_read.cc, value_write.cc); not part of value.h's interface.
#pragma once
#include <cstddef>
#include <cstdint>

#include <hdf5.h>

namespace h5v::h5::value_detail {

// n elements of `size` bytes as a byte count; false when that overflows
// size_t (a hostile extent must not wrap into a small allocation).
inline bool checked_bytes(hsize_t n, size_t size, size_t* out) {
  if (size != 0 && n > SIZE_MAX / size) return false;
  *out = static_cast<size_t>(n) * size;
  return true;
}

}  // namespace h5v::h5::value_detail
