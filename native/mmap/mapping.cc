#include "mapping.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>

namespace h5v::mmap {

namespace {
std::atomic<size_t> g_live{0};
std::atomic<size_t> g_bytes{0};
}  // namespace

std::shared_ptr<Mapping> Mapping::map_fd(int fd, const std::string& path, h5::ErrorInfo* err) {
  struct stat st;
  if (fstat(fd, &st) != 0) {
    *err = h5::ErrorInfo::make("H5_NOT_VIEWABLE", "cannot stat '" + path + "': " + std::strerror(errno));
    return nullptr;
  }
  if (!S_ISREG(st.st_mode) || st.st_size <= 0) {
    *err = h5::ErrorInfo::make("H5_NOT_VIEWABLE", "'" + path + "' is not a mappable regular file");
    return nullptr;
  }
  size_t size = static_cast<size_t>(st.st_size);
  void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
  if (p == MAP_FAILED) {
    *err = h5::ErrorInfo::make("H5_NOT_VIEWABLE", "mmap of '" + path + "' failed: " + std::strerror(errno));
    return nullptr;
  }
  g_live++;
  g_bytes += size;
  return std::shared_ptr<Mapping>(new Mapping(static_cast<uint8_t*>(p), size));
}

std::shared_ptr<Mapping> Mapping::map_path(const std::string& path, h5::ErrorInfo* err) {
  int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) {
    const int e = errno;
    *err = h5::ErrorInfo::make(e == ENOENT ? "H5_FILE_NOT_FOUND" : "H5_OPEN_FAILED",
                               "cannot open '" + path + "': " + std::strerror(e));
    return nullptr;
  }
  struct stat st;
  std::shared_ptr<Mapping> out;
  if (fstat(fd, &st) != 0) {
    *err = h5::ErrorInfo::make("H5_OPEN_FAILED", "cannot stat '" + path + "': " + std::strerror(errno));
  } else if (!S_ISREG(st.st_mode)) {
    *err = h5::ErrorInfo::make("H5_OPEN_FAILED", "cannot open '" + path + "': not a regular file");
  } else if (st.st_size == 0) {
    g_live++;
    out = std::shared_ptr<Mapping>(new Mapping(nullptr, 0));
  } else {
    out = map_fd(fd, path, err);
  }
  ::close(fd);
  return out;
}

Mapping::~Mapping() {
  if (base_) ::munmap(base_, size_);
  g_live--;
  g_bytes -= size_;
}

void Mapping::prefetch(uint64_t offset, uint64_t len) const {
  if (!contains(offset, len) || len == 0) return;
  const long page = sysconf(_SC_PAGESIZE);
  uintptr_t start = reinterpret_cast<uintptr_t>(base_ + offset) & ~static_cast<uintptr_t>(page - 1);
  uintptr_t end = reinterpret_cast<uintptr_t>(base_ + offset + len);
  ::madvise(reinterpret_cast<void*>(start), end - start, MADV_WILLNEED);
  // madvise is only a hint: touch one byte per page so the faults happen here,
  // off the event loop, not in the first inference.
  volatile uint8_t sink = 0;
  for (uintptr_t a = start; a < end; a += static_cast<uintptr_t>(page)) sink ^= *reinterpret_cast<const uint8_t*>(a);
  (void)sink;
}

size_t Mapping::live_mappings() { return g_live.load(); }
size_t Mapping::live_bytes() { return g_bytes.load(); }

}  // namespace h5v::mmap
