// File and object lifetimes (group/link operations: links.h). Plain C++ (no napi).
//
// Lifetime rule (docs/architecture.md, invariant 2, "close() waits for pending work"):
// every operation brackets itself with begin_op()/end_op(). close() marks the
// file closed at once (new operations fail with H5_CLOSED) and the HDF5 file
// is actually closed when the last pending operation ends. Objects (groups,
// datasets) hold a shared_ptr to their file, so the FileHandle outlives them.
#pragma once
#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <hdf5.h>

#include "../common/error.h"
#include "links.h"

namespace h5v::mmap {
class Mapping;
}

namespace h5v::h5 {

struct DatasetInfo;  // dataset.h
struct Image;        // structure.h

// H5_OPEN_FAILED naming what `path` is (a FIFO, a device, ...): h5vault
// opens regular files only. `mode` is a stat() st_mode.
ErrorInfo not_regular(const char* verb, const std::string& path, unsigned mode);

class FileHandle {
 public:
  // Open an existing file: writable=false -> H5F_ACC_RDONLY, true -> RDWR.
  static std::shared_ptr<FileHandle> open(const std::string& path, bool writable, ErrorInfo* err);
  // open(), but libhdf5 opens `open_path` (e.g. /proc/self/fd/N of a
  // descriptor the caller vetted) while `path` names the file in messages.
  static std::shared_ptr<FileHandle> open_as(const std::string& path, const std::string& open_path, bool writable,
                                             ErrorInfo* err);
  // Create a file (fails with H5_EXISTS unless overwrite). Files are created
  // with h5vault's layout choices (alignment, no timestamps). With overwrite,
  // an existing file is never truncated in place: libhdf5 writes a new temp
  // file next to it, which close() renames over the path (keeping the old
  // file's mode and, as root, owner) once libhdf5 has closed it cleanly.
  // Until then, and if anything fails, the path keeps the old file, so
  // readers that mapped it keep valid bytes.
  static std::shared_ptr<FileHandle> create(const std::string& path, bool overwrite, ErrorInfo* err);
  // create(), with the root group tracking link and attribute creation order.
  static std::shared_ptr<FileHandle> create_ordered(const std::string& path, bool overwrite, bool track_order,
                                                    ErrorInfo* err);
  // Opens an HDF5 file image held in memory, read-only: `bytes` are copied
  // once into a sealed memory file that libhdf5 reads in place (structure.h,
  // Image); `name` names it in messages.
  static std::shared_ptr<FileHandle> open_image(const std::string& name, const uint8_t* bytes, size_t size,
                                                ErrorInfo* err);
  // A new, empty file that lives only in memory (core driver, no backing
  // store); its bytes are read with structure.h's file_image().
  static std::shared_ptr<FileHandle> create_in_memory(bool track_order, ErrorInfo* err);
  // Takes ownership of a file libhdf5 already opened read-only through another
  // driver (remote.cc: the range driver); `path` names it in messages.
  static std::shared_ptr<FileHandle> adopt(const std::string& path, hid_t fid);
  ~FileHandle();

  hid_t id() const { return fid_; }
  const std::string& path() const { return path_; }
  bool writable() const { return writable_; }

  // Returns false (and sets err to H5_CLOSED) once close() was requested.
  bool begin_op(ErrorInfo* err);
  void end_op();
  // Idempotent. Actually closes now if nothing is pending, else when the
  // last pending operation ends.
  void close();
  bool close_requested() const;
  // True once H5Fclose ran (read under the global lock).
  bool hdf5_closed() const { return hdf5_closed_; }
  // Set if the close failed: libhdf5 could not flush or close the file, or
  // an overwrite could not be published (read under the global lock once
  // hdf5_closed()).
  const ErrorInfo& close_error() const { return close_error_; }
  // A write of data into the file failed (it may hold part of the data): an
  // overwrite is then not published at close.
  void mark_write_failed() { write_failed_ = true; }
  // The file libhdf5 writes: path() itself, or the temp file of an overwrite.
  const std::string& hdf5_path() const { return hdf5_path_; }

  // The file's read-only mapping for views, made by the napi layer on first
  // use (lock held) and unmapped when the last view and the file are gone.
  std::shared_ptr<mmap::Mapping> mapping;
  bool in_memory() const { return in_memory_; }
  // The descriptor of an image's memory file (views map it), else -1.
  int image_fd() const;
  // The sec2 descriptor libhdf5 reads (-1 for any other driver) and whether
  // the file is remote (the range driver). Asked of libhdf5 once: both cost a copy of the
  // file-access property list, and an open file's driver never changes (per
  // call, they made view() 7x and a small readSync() 2x slower). Lock held.
  int posix_fd() const;
  bool remote() const;
  // Set for files opened after an untrusted walk or a digest check: those
  // vouch for this file only, so external links (to unchecked files) are
  // never followed, even when asked.
  bool refuse_external = false;

 private:
  FileHandle(std::string path, std::string hdf5_path, hid_t fid, bool writable)
      : path_(std::move(path)), hdf5_path_(std::move(hdf5_path)), fid_(fid), writable_(writable) {
    close_on_exec();
  }
  void close_on_exec() const;
  void do_close();
  void flush_for_close();
  void publish();

  std::string path_;
  std::string hdf5_path_;
  hid_t fid_;
  bool writable_;
  bool in_memory_ = false;
  mutable int posix_fd_ = -2;     // -2: not asked yet
  mutable int remote_ = -1;       // -1: not asked yet
  std::shared_ptr<Image> image_;  // the sealed memory file of open_image()
  mutable std::mutex m_;
  int pending_ = 0;
  bool close_requested_ = false;
  bool hdf5_closed_ = false;
  std::atomic<bool> write_failed_{false};
  ErrorInfo close_error_;
};

// An open group or dataset. Destruction closes the id (takes the lock).
class ObjHandle {
 public:
  ObjHandle(std::shared_ptr<FileHandle> file, hid_t id, ObjKind kind, std::string path)
      : file(std::move(file)), id(id), kind(kind), path(std::move(path)) {}
  ~ObjHandle();
  ObjHandle(const ObjHandle&) = delete;
  ObjHandle& operator=(const ObjHandle&) = delete;

  std::shared_ptr<FileHandle> file;
  hid_t id;
  ObjKind kind;
  std::string path;  // absolute path in the file, for messages
  // Cached DatasetInfo (datasets in read-only files only: their metadata cannot
  // change under us), filled by the napi layer on first describe.
  std::shared_ptr<const DatasetInfo> info_cache;
  // Opened through an external link: the object lives in another file than
  // `file`, so nothing may use `file`'s descriptor or mapping for its bytes.
  bool foreign_file = false;
};

// RAII bracket around one operation on a file (begin_op/end_op).
class OpGuard {
 public:
  OpGuard(std::shared_ptr<FileHandle> f, ErrorInfo* err) : f_(std::move(f)) { ok_ = f_->begin_op(err); }
  ~OpGuard() {
    if (ok_) f_->end_op();
  }
  bool ok() const { return ok_; }

 private:
  std::shared_ptr<FileHandle> f_;
  bool ok_;
};

// The version of the libhdf5 this addon runs on, e.g. "1.10.8".
const char* libhdf5_version();

}  // namespace h5v::h5
