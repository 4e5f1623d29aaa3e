// The layouts of a read-only model file's datasets without an H5Dopen per
// dataset: libhdf5 lists each group's links (H5Literate reads no object
// header), ohdr::parse_dataset reads each dataset's header, and only objects
// the parser does not understand (groups, compressed or unusual datasets) are
// opened through libhdf5 and described as the H5Ovisit path describes them.
// Plain C++ (no napi); the caller holds the global lock.
#pragma once
#include <functional>
#include <string>

#include <hdf5.h>

#include "dataset.h"

namespace h5v::h5 {

struct ParsedWalkStats {
  size_t parsed = 0;  // datasets described by the parser
  size_t groups = 0;  // groups, opened through libhdf5 to list their links
  size_t opened = 0;  // other objects opened through libhdf5 (datasets it did not understand)
};

// Calls `each("/path", info)` for every dataset reachable through hard links,
// with the DatasetInfo fields describe_dataset fills for loadModel (type,
// shape, layout, offset, allocated, external, nelements). False (nothing to
// trust; the caller uses the H5Ovisit path) when the file is not a read-only
// sec2 file with a plain superblock, when an object is reached twice, when
// nesting exceeds 64 levels, or when libhdf5 fails on an object.
bool parsed_layouts(hid_t fid, const std::function<void(const std::string&, DatasetInfo&&)>& each,
                    ParsedWalkStats* stats);

}  // namespace h5v::h5
