// The reference read of the engine's differential tests: H5Dread of a whole
// dataset or a hyperslab, memory type = file type (no conversion).
#pragma once
#include <vector>

#include <hdf5.h>

#include "common/error.h"
#include "common/lock.h"
#include "engine/engine.h"

namespace h5v::test {

inline bool libhdf5_read(hid_t dset, hid_t type, const std::vector<hsize_t>& dims, const engine::Selection& sel,
                         uint8_t* out) {
  h5::Lock l;
  hid_t fspace = H5Dget_space(dset);
  hid_t mspace;
  if (sel.start.empty()) {
    mspace = H5Screate_simple(int(dims.size()), dims.data(), nullptr);
  } else {
    H5Sselect_hyperslab(fspace, H5S_SELECT_SET, sel.start.data(), sel.step.data(), sel.count.data(), nullptr);
    mspace = H5Screate_simple(int(dims.size()), sel.count.data(), nullptr);
  }
  herr_t rc = H5Dread(dset, type, mspace, fspace, H5P_DEFAULT, out);
  H5Sclose(mspace);
  H5Sclose(fspace);
  if (rc < 0) h5::clear_error_stack();
  return rc >= 0;
}

}  // namespace h5v::test
