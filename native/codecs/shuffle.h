// HDF5 byte shuffle (H5Z_FILTER_SHUFFLE): byte k of every element goes to plane k.
// Trailing bytes (n % elem_size) are copied unchanged, as libhdf5 does.
#pragma once
#include "status.h"

namespace h5v::codecs {

void shuffle(const uint8_t* in, uint8_t* out, size_t n, size_t elem_size);
void unshuffle(const uint8_t* in, uint8_t* out, size_t n, size_t elem_size);

}  // namespace h5v::codecs
