// Read-only remote files, read through h5vault's range driver (range_vfd.h)
// from the block cache on 127.0.0.1, and the one question every layer that
// wants libhdf5's POSIX descriptor must ask first: is there one? Plain C++
// (no napi).
#pragma once
#include <memory>
#include <string>

#include <hdf5.h>

#include "../common/error.h"
#include "file.h"
#include "range_vfd.h"

namespace h5v::h5 {

// libhdf5's file descriptor for `fid` when the file was opened with the POSIX
// (sec2) driver, else -1. Other drivers hand out other things from
// H5Fget_vfd_handle (the range driver: its own struct), which must never be
// used as a descriptor. Lock held by caller; leaves the error stack clear.
int posix_fd(hid_t fid);

// Whether `fid` was opened with open_range (a remote file). Lock held by caller.
bool is_remote(hid_t fid);

}  // namespace h5v::h5
