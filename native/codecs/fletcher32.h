// HDF5's Fletcher-32 (H5_checksum_fletcher32): the filter appends the 4-byte
// checksum to the chunk; on read it is verified and stripped.
#pragma once
#include "status.h"

namespace h5v::codecs {

uint32_t fletcher32(const uint8_t* data, size_t n);
// Writes the checksum after data[n] in the same byte order libhdf5 uses. out must hold n+4.
void fletcher32_append(uint8_t* buf, size_t n);
// buf holds n bytes including the 4-byte trailer; Ok if it matches, Corrupt otherwise.
Status fletcher32_verify(const uint8_t* buf, size_t n);

}  // namespace h5v::codecs
