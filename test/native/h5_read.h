// The reference read of the engine's differential tests: H5Dread of a whole
// dataset or a hyperslab, memory type = file type (no conversion).
#pragma once
#include <vector>

#include <hdf5.h>

#include "common/error.h"
#include "common/lock.h"
#include "engine/engine.h"

namespace h5v::test {

// A dataset opened for the differential tests: its id, file type, element size
// and extent (the caller closes dset and type).
struct OpenedDataset {
  hid_t dset;
  hid_t type;
  size_t es;
  std::vector<hsize_t> dims;
};

inline OpenedDataset open_dataset(hid_t file, const char* name) {
  h5::Lock l;
  OpenedDataset d;
  d.dset = H5Dopen2(file, name, H5P_DEFAULT);
  d.type = H5Dget_type(d.dset);
  d.es = H5Tget_size(d.type);
  hid_t space = H5Dget_space(d.dset);
  d.dims.resize(H5Sget_simple_extent_ndims(space));
  H5Sget_simple_extent_dims(space, d.dims.data(), nullptr);
  H5Sclose(space);
  return d;
}

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
