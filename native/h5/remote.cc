#include "remote.h"

#include <cstring>

#include "../common/hid.h"

#ifdef H5_HAVE_ROS3_VFD
#include <H5FDros3.h>
#endif

namespace h5v::h5 {

bool ros3_available() {
#ifdef H5_HAVE_ROS3_VFD
  return true;
#else
  return false;
#endif
}

int posix_fd(hid_t fid) {
  int fd = -1;
  hid_t fapl = H5Fget_access_plist(fid);
  if (fapl >= 0) {
    void* vh = nullptr;
    if (H5Pget_driver(fapl) == H5FD_SEC2 && H5Fget_vfd_handle(fid, fapl, &vh) >= 0 && vh != nullptr)
      fd = *static_cast<int*>(vh);
    H5Pclose(fapl);
  }
  clear_error_stack();
  return fd;
}

bool is_remote(hid_t fid) {
#ifdef H5_HAVE_ROS3_VFD
  bool r = false;
  hid_t fapl = H5Fget_access_plist(fid);
  if (fapl >= 0) {
    r = H5Pget_driver(fapl) == H5FD_ROS3;
    H5Pclose(fapl);
  }
  clear_error_stack();
  return r;
#else
  (void)fid;
  return false;
#endif
}

#ifdef H5_HAVE_ROS3_VFD
namespace {
bool copy_field(char* dst, size_t cap, const std::string& src, const char* what, ErrorInfo* err) {
  if (src.size() > cap) {
    *err = ErrorInfo::make("H5_INVALID_ARGUMENT", std::string(what) + " is longer than libhdf5's S3 driver allows (" +
                                                      std::to_string(cap) + " characters)");
    return false;
  }
  std::memcpy(dst, src.data(), src.size());
  dst[src.size()] = '\0';
  return true;
}
}  // namespace
#endif

std::shared_ptr<FileHandle> open_ros3(const std::string& name, const std::string& url, const Ros3Credentials& cred,
                                      ErrorInfo* err) {
#ifdef H5_HAVE_ROS3_VFD
  H5FD_ros3_fapl_t fa;
  std::memset(&fa, 0, sizeof fa);
  fa.version = H5FD_CURR_ROS3_FAPL_T_VERSION;
  fa.authenticate = cred.authenticate;
  if (cred.authenticate) {
    if (!copy_field(fa.aws_region, H5FD_ROS3_MAX_REGION_LEN, cred.region, "region", err) ||
        !copy_field(fa.secret_id, H5FD_ROS3_MAX_SECRET_ID_LEN, cred.key_id, "access key id", err) ||
        !copy_field(fa.secret_key, H5FD_ROS3_MAX_SECRET_KEY_LEN, cred.secret, "secret access key", err))
      return nullptr;
  }
  Hid fapl(H5Pcreate(H5P_FILE_ACCESS));
  H5Pset_fclose_degree(fapl.get(), H5F_CLOSE_STRONG);
  herr_t set = H5Pset_fapl_ros3(fapl.get(), &fa);
  // The secret lives on in the property list until it is closed; wipe our copy.
  std::memset(fa.secret_key, 0, sizeof fa.secret_key);
  if (set < 0) {
    *err = capture_error("set up the S3 driver for '" + name + "'");
    return nullptr;
  }
  hid_t fid = H5Fopen(url.c_str(), H5F_ACC_RDONLY, fapl.get());
  if (fid < 0) {
    *err = capture_error("open '" + name + "'");
    return nullptr;
  }
  return FileHandle::adopt(name, fid);
#else
  (void)url;
  (void)cred;
  *err =
      ErrorInfo::make("H5_UNSUPPORTED", "cannot open '" + name + "': this libhdf5 was built without the ROS3 driver");
  return nullptr;
#endif
}

}  // namespace h5v::h5

namespace h5v::h5 {

std::shared_ptr<FileHandle> FileHandle::adopt(const std::string& path, hid_t fid) {
  return std::shared_ptr<FileHandle>(new FileHandle(path, path, fid, false));
}

}  // namespace h5v::h5
