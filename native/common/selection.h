// A hyperslab selection in dataset element coordinates. Shared by the h5
// layer (H5Dread/H5Dwrite fallbacks) and the chunk engine, which is why it
// lives below both of them.
#pragma once
#include <vector>

#include <hdf5.h>

namespace h5v {

struct Selection {
  // Empty vectors mean "the whole dataset". step empty means all 1.
  std::vector<hsize_t> start, count, step;
};

}  // namespace h5v
