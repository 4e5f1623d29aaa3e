#include "copy_range.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

namespace h5v::io {

namespace {

// The errno's name, for the ones a copy meets (strerrorname_np is glibc-only: musl builds from source).
std::string errno_name(int e) {
  switch (e) {
    case ENOSPC:
      return "ENOSPC";
    case EDQUOT:
      return "EDQUOT";
    case EIO:
      return "EIO";
    case EBADF:
      return "EBADF";
    case EROFS:
      return "EROFS";
    case EFBIG:
      return "EFBIG";
    default:
      return "errno " + std::to_string(e);
  }
}

bool io_error(const char* what, int e, h5::ErrorInfo* err) {
  *err = h5::ErrorInfo::make("H5_IO", std::string(what) + ": " + std::strerror(e) + " (" + errno_name(e) + ")");
  return false;
}

bool short_source(uint64_t at, h5::ErrorInfo* err) {
  *err = h5::ErrorInfo::make(
      "H5_CORRUPT", "copy: the source file ends at byte " + std::to_string(at) + ", before the range to copy does");
  return false;
}

}  // namespace

// A bounded buffer, so a many-GiB tensor never allocates its size.
bool copy_range_by_reading(int src_fd, uint64_t src_off, int dst_fd, uint64_t dst_off, uint64_t len,
                           h5::ErrorInfo* err) {
  std::vector<char> buf(static_cast<size_t>(len < (1u << 20) ? len : (1u << 20)));
  while (len > 0) {
    size_t want = static_cast<size_t>(len < buf.size() ? len : buf.size());
    ssize_t n = pread(src_fd, buf.data(), want, static_cast<off_t>(src_off));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return io_error("copy: read", errno, err);
    if (n == 0) return short_source(src_off, err);
    for (ssize_t done = 0; done < n;) {
      ssize_t w = pwrite(dst_fd, buf.data() + done, static_cast<size_t>(n - done), static_cast<off_t>(dst_off + done));
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) return io_error("copy: write", errno, err);
      done += w;
    }
    src_off += static_cast<uint64_t>(n);
    dst_off += static_cast<uint64_t>(n);
    len -= static_cast<uint64_t>(n);
  }
  return true;
}

bool copy_range(int src_fd, uint64_t src_off, int dst_fd, uint64_t dst_off, uint64_t len, h5::ErrorInfo* err) {
  while (len > 0) {
    loff_t in = static_cast<loff_t>(src_off), out = static_cast<loff_t>(dst_off);
    // (one call moves at most ~2 GiB: the kernel's MAX_RW_COUNT)
    size_t step = static_cast<size_t>(len < (1ull << 30) ? len : (1ull << 30));
    ssize_t n = copy_file_range(src_fd, &in, dst_fd, &out, step, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == ENOSYS || errno == EXDEV || errno == EOPNOTSUPP || errno == EINVAL))
      return copy_range_by_reading(src_fd, src_off, dst_fd, dst_off, len, err);
    if (n < 0) return io_error("copy_file_range", errno, err);
    if (n == 0) return short_source(src_off, err);
    src_off += static_cast<uint64_t>(n);
    dst_off += static_cast<uint64_t>(n);
    len -= static_cast<uint64_t>(n);
  }
  return true;
}

}  // namespace h5v::io
