#include "remote.h"

#include "../common/hid.h"
#include "range_vfd.h"

namespace h5v::h5 {

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

bool is_remote(hid_t fid) { return is_range_file(fid); }

}  // namespace h5v::h5

namespace h5v::h5 {

std::shared_ptr<FileHandle> FileHandle::adopt(const std::string& path, hid_t fid) {
  return std::shared_ptr<FileHandle>(new FileHandle(path, path, fid, false));
}

}  // namespace h5v::h5
