// Read-only files behind an HTTP(S) URL, opened with libhdf5's read-only S3
// driver (ROS3), and the one question every layer that wants libhdf5's POSIX
// descriptor must ask first: is there one? Plain C++ (no napi).
#pragma once
#include <memory>
#include <string>

#include <hdf5.h>

#include "../common/error.h"
#include "file.h"

namespace h5v::h5 {

// How ROS3 signs its requests. authenticate=false sends anonymous requests
// (what h5vault's own loopback block cache expects, docs/object-storage.md).
struct Ros3Credentials {
  bool authenticate = false;
  std::string region;
  std::string key_id;
  std::string secret;
};

// Opens `url` (http:// or https://, path-style) read-only with the ROS3 driver;
// `name` names the file in messages (e.g. the s3:// URL the user gave).
// H5_UNSUPPORTED when this libhdf5 has no ROS3 driver. Lock held by caller.
std::shared_ptr<FileHandle> open_ros3(const std::string& name, const std::string& url, const Ros3Credentials& cred,
                                      ErrorInfo* err);

// libhdf5's file descriptor for `fid` when the file was opened with the POSIX
// (sec2) driver, else -1. Other drivers hand out other things from
// H5Fget_vfd_handle (ROS3: its connection struct), which must never be used as
// a descriptor. Lock held by caller; leaves the error stack clear.
int posix_fd(hid_t fid);

// Whether `fid` was opened with open_ros3. Lock held by caller.
bool is_remote(hid_t fid);

// Whether this libhdf5 was built with the ROS3 driver.
bool ros3_available();

}  // namespace h5v::h5
