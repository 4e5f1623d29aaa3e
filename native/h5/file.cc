#include "file.h"
#include "heap_check.h"
#include "remote.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <random>
#include <vector>

#include "../common/hid.h"
#include "structure.h"
#include "../common/lock.h"

namespace h5v::h5 {

namespace {

// Every dataset's data starts on a 64-byte boundary so typed-array views
// (which need element alignment; 64 also suits SIMD and cache lines) are
// always possible. Cost: at most 63 bytes of padding per allocation.
constexpr hsize_t kAlignment = 64;

hid_t make_fapl() {
  hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  // Strong close: H5Fclose closes every object still open in the file, so a
  // user's close() really releases the file even if handles leak.
  H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG);
  // Use file locks, but do not fail on filesystems without them (NFS).
  H5Pset_file_locking(fapl, true, true);
  return fapl;
}

std::string dir_of(const std::string& path) {
  size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

// `.<base>.h5vault-tmp-<pid>-<hex>` next to `path`: the same directory (so the
// rename is atomic) and the same name pattern as saveModel's temps, so the
// stale-temp cleanup of a later save collects one left by a crash.
std::string temp_path_for(const std::string& path) {
  size_t slash = path.find_last_of('/');
  std::string dir = slash == std::string::npos ? "" : path.substr(0, slash + 1);
  std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
  std::random_device rd;
  char hex[13];
  std::snprintf(hex, sizeof hex, "%06x%06x", rd() & 0xffffffu, rd() & 0xffffffu);
  return dir + "." + base + ".h5vault-tmp-" + std::to_string(::getpid()) + "-" + hex;
}

std::string errno_text(int e) { return std::string(std::strerror(e)) + ", errno = " + std::to_string(e); }

// Points libhdf5's descriptor for `fid` at an anonymous in-memory file, so
// every later write and truncate of that file succeeds and goes nowhere.
// Used only to tear down a file whose flush failed; what is already on disk
// stays as it is.
bool redirect_to_sink(hid_t fid) {
  void* vh = nullptr;
  if (H5Fget_vfd_handle(fid, H5P_DEFAULT, &vh) < 0 || vh == nullptr) {
    clear_error_stack();
    return false;
  }
  int fd = *static_cast<int*>(vh);
#ifdef __linux__
  int sink = ::memfd_create("h5vault-discard", MFD_CLOEXEC);
#else
  char tmpl[] = "/tmp/h5vault-discard-XXXXXX";
  int sink = ::mkstemp(tmpl);
  if (sink >= 0) ::unlink(tmpl);
#endif
  if (sink < 0) return false;
#ifdef __linux__
  bool ok = ::dup3(sink, fd, O_CLOEXEC) >= 0;  // (dup2 would clear close-on-exec: see close_on_exec)
#else
  bool ok = ::dup2(sink, fd) >= 0;
#endif
  ::close(sink);
  return ok;
}

}  // namespace

ErrorInfo not_regular(const char* verb, const std::string& path, unsigned mode) {
  // libhdf5 would open() these and then block (a FIFO with no writer), read
  // forever (/dev/zero) or fail obscurely: refuse them before any open.
  const char* what = S_ISDIR(mode)    ? "a directory"
                     : S_ISFIFO(mode) ? "a FIFO (named pipe)"
                     : S_ISCHR(mode)  ? "a character device"
                     : S_ISBLK(mode)  ? "a block device"
                     : S_ISSOCK(mode) ? "a socket"
                                      : "a special file";
  return ErrorInfo::make("H5_OPEN_FAILED",
                         std::string("cannot ") + verb + " '" + path + "': it is " + what + ", not a regular file");
}

std::shared_ptr<FileHandle> FileHandle::open(const std::string& path, bool writable, ErrorInfo* err) {
  return open_as(path, path, writable, err);
}

std::shared_ptr<FileHandle> FileHandle::open_as(const std::string& path, const std::string& open_path, bool writable,
                                                ErrorInfo* err) {
  struct stat st;
  if (::stat(open_path.c_str(), &st) != 0) {
    *err = ErrorInfo::make(errno == ENOENT ? "H5_FILE_NOT_FOUND" : "H5_OPEN_FAILED",
                           "cannot open '" + path + "': " + std::strerror(errno));
    return nullptr;
  }
  if (!S_ISREG(st.st_mode)) {
    *err = not_regular("open", path, st.st_mode);
    return nullptr;
  }
  Hid fapl(make_fapl());
  hid_t fid = H5Fopen(open_path.c_str(), writable ? H5F_ACC_RDWR : H5F_ACC_RDONLY, fapl.get());
  if (fid < 0) {
    *err = capture_error("open '" + path + "'");
    return nullptr;
  }
  return std::shared_ptr<FileHandle>(new FileHandle(path, path, fid, writable));
}

std::shared_ptr<FileHandle> FileHandle::create(const std::string& path, bool overwrite, ErrorInfo* err) {
  return create_ordered(path, overwrite, false, err);
}

std::shared_ptr<FileHandle> FileHandle::create_ordered(const std::string& path, bool overwrite, bool track_order,
                                                       ErrorInfo* err) {
  struct stat st;
  bool exists = ::stat(path.c_str(), &st) == 0;
  if (exists && !overwrite) {
    *err = ErrorInfo::make("H5_EXISTS", "cannot create '" + path + "': file exists (pass { overwrite: true })");
    return nullptr;
  }
  if (exists && !S_ISREG(st.st_mode)) {
    *err = not_regular("create", path, st.st_mode);
    return nullptr;
  }
  // H5F_ACC_TRUNC would truncate the existing inode in place, under every
  // process that has it mapped (SIGBUS), and before libhdf5 even checks the
  // file lock. An overwrite writes a new temp file instead; close() renames it.
  std::string hdf5_path = overwrite ? temp_path_for(path) : path;
  Hid fapl(make_fapl());
  H5Pset_alignment(fapl.get(), 1, kAlignment);
  Hid fcpl(H5Pcreate(H5P_FILE_CREATE));
  // No timestamps on the root group: same input, same bytes (invariant 7).
  H5Pset_obj_track_times(fcpl.get(), false);
  if (track_order) set_track_order(fcpl.get());
  // Aggregators only, no free-space manager. With alignment, every allocation
  // whose predecessor did not end on a 64-byte boundary frees the gap (< 64
  // bytes) to the free-space manager, and an aligned request scans every
  // section of its size bin and above one by one (libhdf5's aligned search
  // is linear, the unaligned one is a skip-list lookup). No gap can serve an
  // aligned request, so they pile up: writing n chunks stored smaller than
  // 64 bytes (tiny or very compressible chunks) cost O(n^2) — 16,384 one-byte
  // chunks took 5.9 s, 32,768 took 58 s. Without the manager freed space is
  // not reused within the session; it was not reused after close either (the
  // default does not persist free space), so files only lose the reuse of
  // space freed and re-allocated in one session (chunks rewritten at another
  // size, deleted datasets). The strategy is recorded in the superblock
  // (version 2, readable by libhdf5 >= 1.10, so by every current h5py).
  H5Pset_file_space_strategy(fcpl.get(), H5F_FSPACE_STRATEGY_AGGR, false, 1);
  hid_t fid = H5Fcreate(hdf5_path.c_str(), H5F_ACC_EXCL, fcpl.get(), fapl.get());
  if (fid < 0) {
    *err = capture_error("create '" + path + "'");
    if (overwrite) ::unlink(hdf5_path.c_str());
    return nullptr;
  }
  return std::shared_ptr<FileHandle>(new FileHandle(path, hdf5_path, fid, true));
}

std::shared_ptr<FileHandle> FileHandle::open_image(const std::string& name, const uint8_t* bytes, size_t size,
                                                   ErrorInfo* err) {
  auto img = make_image(bytes, size, err);
  if (!img) return nullptr;
  // libhdf5 takes two core-driver files of the same name for one open file.
  std::string unique = memory_file_name();
  Hid fapl(memory_fapl(img));
  if (!fapl) {
    *err = capture_error("open '" + name + "'");
    return nullptr;
  }
  hid_t fid = H5Fopen(unique.c_str(), H5F_ACC_RDONLY, fapl.get());
  if (fid < 0) {
    *err = capture_error("open '" + name + "'");
    return nullptr;
  }
  auto f = std::shared_ptr<FileHandle>(new FileHandle(name, name, fid, false));
  f->image_ = std::move(img);
  f->in_memory_ = true;
  return f;
}

int FileHandle::image_fd() const { return image_ ? image_->fd : -1; }

// libhdf5's sec2 driver opens its file without O_CLOEXEC, and libuv's spawn
// closes nothing in the child: every process Node starts while the file is
// open (child_process, and any daemon that one starts) would inherit the
// descriptor, and with it the flock libhdf5 took, which then outlives our
// close: every later open of that inode fails ("unable to lock file, errno =
// 11"), and a deleted file keeps its space. So the flag is set as soon as the
// file is open (the constructor runs under the global lock, like the open).
void FileHandle::close_on_exec() const {
  int fd = posix_fd();
  if (fd < 0) return;
  int flags = ::fcntl(fd, F_GETFD);
  if (flags >= 0 && !(flags & FD_CLOEXEC)) ::fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
}

int FileHandle::posix_fd() const {
  if (posix_fd_ == -2) posix_fd_ = h5::posix_fd(fid_);
  return posix_fd_;
}

bool FileHandle::remote() const {
  if (remote_ == -1) remote_ = h5::is_remote(fid_) ? 1 : 0;
  return remote_ == 1;
}

std::shared_ptr<FileHandle> FileHandle::create_in_memory(bool track_order, ErrorInfo* err) {
  std::string name = memory_file_name();
  Hid fapl(memory_fapl(nullptr));
  if (!fapl) {
    *err = capture_error("create in-memory file");
    return nullptr;
  }
  // Same layout choices as files on disk: aligned data, no timestamps.
  H5Pset_alignment(fapl.get(), 1, kAlignment);
  Hid fcpl(H5Pcreate(H5P_FILE_CREATE));
  H5Pset_obj_track_times(fcpl.get(), false);
  if (track_order) set_track_order(fcpl.get());
  hid_t fid = H5Fcreate(name.c_str(), H5F_ACC_EXCL, fcpl.get(), fapl.get());
  if (fid < 0) {
    *err = capture_error("create in-memory file");
    return nullptr;
  }
  auto f = std::shared_ptr<FileHandle>(new FileHandle(name, name, fid, true));
  f->in_memory_ = true;
  return f;
}

FileHandle::~FileHandle() {
  Lock lock;
  if (!hdf5_closed_) do_close();
}

bool FileHandle::begin_op(ErrorInfo* err) {
  std::lock_guard<std::mutex> g(m_);
  if (close_requested_) {
    *err = ErrorInfo::make("H5_CLOSED", "file '" + path_ + "' is closed");
    return false;
  }
  ++pending_;
  return true;
}

void FileHandle::end_op() {
  bool close_now = false;
  {
    std::lock_guard<std::mutex> g(m_);
    --pending_;
    close_now = close_requested_ && pending_ == 0;
  }
  if (close_now) {
    Lock lock;
    if (!hdf5_closed_) do_close();
  }
}

void FileHandle::close() {
  bool close_now = false;
  {
    std::lock_guard<std::mutex> g(m_);
    if (close_requested_) return;
    close_requested_ = true;
    close_now = pending_ == 0;
  }
  if (close_now) {
    Lock lock;
    if (!hdf5_closed_) do_close();
  }
}

bool FileHandle::close_requested() const {
  std::lock_guard<std::mutex> g(m_);
  return close_requested_;
}

void FileHandle::do_close() {
  // Lock held by caller. Views hold their own reference to the mapping, so
  // dropping ours lets it go with the last view.
  hdf5_closed_ = true;
  mapping.reset();
  forget_heap_file(fid_);
  if (fid_ >= 0 && H5Iis_valid(fid_) > 0) {
    if (writable_) flush_for_close();
    if (H5Fclose(fid_) < 0 && close_error_.ok()) close_error_ = capture_error("close '" + path_ + "'");
  }
  fid_ = H5I_INVALID_HID;
  if (hdf5_path_ != path_) {
    if (close_error_.ok() && write_failed_) {
      // Publishing it would replace a complete file with one missing data.
      close_error_ = ErrorInfo::make("H5_IO", "close '" + path_ + "': a write to the new file failed");
    }
    if (close_error_.ok()) {
      publish();
    } else {
      ::unlink(hdf5_path_.c_str());
      close_error_.message += " ('" + path_ + "' was not replaced)";
    }
  }
}

// libhdf5 1.10.8 cannot close a file whose metadata flush failed: a failed
// flush leaves its metadata cache half set up, H5Fclose then fails too, keeps
// the file id alive over freed state, and the next H5Fclose of any file, or
// libhdf5's exit handler, crashes. Only a flush that succeeds puts the cache
// back in order. Closing a dataset whose cached raw data (the sieve buffer of
// a contiguous dataset) cannot be written is just as fatal: H5Dclose fails
// half way and leaves an id over freed state that H5Fclose or the exit
// handler then closes again (SIGSEGV in H5D_close, seen on a full tmpfs).
// So: flush everything while the objects are still open; if that fails,
// once more (a full disk may have space again, and a flush() that failed
// earlier leaves the cache needing exactly this); and if it fails again,
// point libhdf5's descriptor at an in-memory sink so every later write
// succeeds and goes nowhere. Only then close the objects (a strong close
// would close them after our flush and could dirty metadata again) and flush
// the metadata their closing wrote. The file on disk is then incomplete, and
// close() reports the first failure.
void FileHandle::flush_for_close() {
  auto flush_or_sink = [&]() {
    clear_error_stack();
    if (H5Fflush(fid_, H5F_SCOPE_LOCAL) >= 0) return;
    ErrorInfo first = capture_error("close '" + path_ + "'");
    if (H5Fflush(fid_, H5F_SCOPE_LOCAL) >= 0) return;
    clear_error_stack();
    if (close_error_.ok()) {
      close_error_ = first;
      if (hdf5_path_ == path_) close_error_.message += " (the file is incomplete)";
    }
    if (redirect_to_sink(fid_)) H5Fflush(fid_, H5F_SCOPE_LOCAL);
    clear_error_stack();
  };
  flush_or_sink();
  unsigned types = H5F_OBJ_LOCAL | H5F_OBJ_DATASET | H5F_OBJ_GROUP | H5F_OBJ_DATATYPE | H5F_OBJ_ATTR;
  ssize_t n = H5Fget_obj_count(fid_, types);
  if (n > 0) {
    std::vector<hid_t> ids(static_cast<size_t>(n));
    n = H5Fget_obj_ids(fid_, types, ids.size(), ids.data());
    for (ssize_t i = 0; i < n; ++i) {
      if (H5Iget_type(ids[i]) == H5I_ATTR)
        H5Aclose(ids[i]);
      else
        H5Oclose(ids[i]);
    }
  }
  flush_or_sink();
}

// The last step of an overwrite: make the temp file durable with the old
// file's mode and owner, rename it over the path, make the rename durable.
// Any failure before the rename leaves the old file and removes the temp.
void FileHandle::publish() {
  const std::string& tmp = hdf5_path_;
  auto fail = [&](const std::string& what) {
    close_error_ = ErrorInfo::make("H5_IO", "close '" + path_ + "': " + what + ": " + errno_text(errno));
    return false;
  };
  auto prepare = [&](int fd) {
    struct stat st;
    if (::stat(path_.c_str(), &st) == 0 && S_ISREG(st.st_mode)) {
      // Owner first: chown clears set-id bits, which the chmod then restores.
      // Only root may give a file away; others can still keep its group.
      if (::geteuid() == 0) {
        if (::fchown(fd, st.st_uid, st.st_gid) != 0) return fail("cannot keep the owner of the old file");
      } else if (st.st_gid != ::getegid()) {
        (void)::fchown(fd, static_cast<uid_t>(-1), st.st_gid);
      }
      if (::fchmod(fd, st.st_mode & 07777) != 0) return fail("cannot keep the mode of the old file");
    }
    // Durable before it is visible: a rename of unsynced data can leave an
    // empty file at the path after a power loss.
    if (::fsync(fd) != 0) return fail("fsync of the new file failed");
    return true;
  };
  int fd = ::open(tmp.c_str(), O_RDONLY | O_CLOEXEC);
  bool ok = fd >= 0 ? prepare(fd) : fail("cannot open the new file '" + tmp + "'");
  if (fd >= 0) ::close(fd);
  if (ok && ::rename(tmp.c_str(), path_.c_str()) != 0) ok = fail("cannot rename the new file into place");
  if (!ok) {
    ::unlink(tmp.c_str());
    close_error_.message += " ('" + path_ + "' was not replaced)";
    return;
  }
  int dfd = ::open(dir_of(path_).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0 || (::fsync(dfd) != 0 && errno != EINVAL)) {
    fail("replaced, but fsync of its directory failed: the rename may not survive power loss");
  }
  if (dfd >= 0) ::close(dfd);
}

ObjHandle::~ObjHandle() {
  Lock lock;
  // After a strong H5Fclose the id is already gone.
  // An object reached through an external link lives in another file, which
  // stays open until the object is closed: close it even after our file.
  if ((foreign_file || !file->hdf5_closed()) && id >= 0 && H5Iis_valid(id) > 0) {
    // A dataset of a writable file may hold raw data not yet written (the
    // sieve buffer); closing it when that write fails (a full disk) leaves a
    // half-destroyed id that crashes the file's close or libhdf5's exit
    // handler. Write it first; if that fails, leave the id open: the file's
    // close flushes it, or sends it to the sink (flush_for_close).
    if (!foreign_file && kind == ObjKind::Dataset && file->writable() && H5Dflush(id) < 0) {
      clear_error_stack();
      return;
    }
    if (H5Oclose(id) < 0) clear_error_stack();
  }
}

const char* libhdf5_version() {
  static std::string v = [] {
    unsigned maj, min, rel;
    H5get_libversion(&maj, &min, &rel);
    return std::to_string(maj) + "." + std::to_string(min) + "." + std::to_string(rel);
  }();
  return v.c_str();
}

}  // namespace h5v::h5
