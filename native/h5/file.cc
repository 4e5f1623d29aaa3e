#include "file.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>

#include "handle.h"
#include "lock.h"

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
  return ErrorInfo::make("H5_OPEN_FAILED", std::string("cannot ") + verb + " '" + path + "': it is " + what +
                                               ", not a regular file");
}

std::shared_ptr<FileHandle> FileHandle::open(const std::string& path, bool writable, ErrorInfo* err) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    *err = ErrorInfo::make(errno == ENOENT ? "H5_FILE_NOT_FOUND" : "H5_OPEN_FAILED",
                           "cannot open '" + path + "': " + std::strerror(errno));
    return nullptr;
  }
  if (!S_ISREG(st.st_mode)) {
    *err = not_regular("open", path, st.st_mode);
    return nullptr;
  }
  Hid fapl(make_fapl());
  hid_t fid = H5Fopen(path.c_str(), writable ? H5F_ACC_RDWR : H5F_ACC_RDONLY, fapl.get());
  if (fid < 0) {
    *err = capture_error("open '" + path + "'");
    return nullptr;
  }
  return std::shared_ptr<FileHandle>(new FileHandle(path, fid, writable));
}

std::shared_ptr<FileHandle> FileHandle::create(const std::string& path, bool overwrite, ErrorInfo* err) {
  struct stat st;
  if (!overwrite && ::stat(path.c_str(), &st) == 0) {
    *err = ErrorInfo::make("H5_EXISTS", "cannot create '" + path + "': file exists (pass { overwrite: true })");
    return nullptr;
  }
  if (overwrite && ::stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode)) {
    *err = not_regular("create", path, st.st_mode);
    return nullptr;
  }
  Hid fapl(make_fapl());
  H5Pset_alignment(fapl.get(), 1, kAlignment);
  Hid fcpl(H5Pcreate(H5P_FILE_CREATE));
  // No timestamps on the root group: same input, same bytes (invariant 7).
  H5Pset_obj_track_times(fcpl.get(), false);
  hid_t fid = H5Fcreate(path.c_str(), overwrite ? H5F_ACC_TRUNC : H5F_ACC_EXCL, fcpl.get(), fapl.get());
  if (fid < 0) {
    *err = capture_error("create '" + path + "'");
    return nullptr;
  }
  return std::shared_ptr<FileHandle>(new FileHandle(path, fid, true));
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
  if (fid_ >= 0 && H5Iis_valid(fid_) > 0) {
    // A failed close (typically: flushing metadata to a full disk) leaves
    // libhdf5 holding the file; report it instead of pretending it closed.
    if (H5Fclose(fid_) < 0) close_error_ = capture_error("close '" + path_ + "'");
  }
  fid_ = H5I_INVALID_HID;
}

ObjHandle::~ObjHandle() {
  Lock lock;
  engine_cache.reset();
  // After a strong H5Fclose the id is already gone.
  if (!file->hdf5_closed() && id >= 0 && H5Iis_valid(id) > 0) {
    if (H5Oclose(id) < 0) clear_error_stack();
  }
}

ObjKind obj_kind(H5O_type_t t) {
  switch (t) {
    case H5O_TYPE_GROUP: return ObjKind::Group;
    case H5O_TYPE_DATASET: return ObjKind::Dataset;
    case H5O_TYPE_NAMED_DATATYPE: return ObjKind::Datatype;
    default: return ObjKind::Other;
  }
}

const char* obj_kind_name(ObjKind k) {
  switch (k) {
    case ObjKind::Group: return "group";
    case ObjKind::Dataset: return "dataset";
    case ObjKind::Datatype: return "datatype";
    default: return "other";
  }
}

bool valid_relative_path(const std::string& p, std::string* why) {
  if (p.empty()) {
    *why = "path is empty";
    return false;
  }
  size_t start = 0;
  while (start <= p.size()) {
    size_t end = p.find('/', start);
    if (end == std::string::npos) end = p.size();
    std::string comp = p.substr(start, end - start);
    if (comp.empty()) {
      if (start == 0 && end == 0 && p.size() > 1) {  // leading '/' = absolute path, allowed
        start = 1;
        continue;
      }
      if (p == "/") return true;
      *why = "path '" + p + "' has an empty component";
      return false;
    }
    if (comp == "." || comp == "..") {
      *why = "path '" + p + "' may not contain '.' or '..'";
      return false;
    }
    start = end + 1;
  }
  return true;
}

std::string join_path(const std::string& parent, const std::string& rel) {
  if (!rel.empty() && rel[0] == '/') return rel;
  if (parent.empty() || parent == "/") return "/" + rel;
  return parent + "/" + rel;
}

bool path_exists(hid_t parent, const std::string& path) {
  if (path == "/" || path.empty()) return true;
  // Check component by component: H5Lexists on 'a/b' fails if 'a' is absent.
  size_t pos = path[0] == '/' ? 1 : 0;
  std::string prefix = path[0] == '/' ? "/" : "";
  while (pos < path.size()) {
    size_t end = path.find('/', pos);
    if (end == std::string::npos) end = path.size();
    prefix += path.substr(pos, end - pos);
    htri_t e = H5Lexists(parent, prefix.c_str(), H5P_DEFAULT);
    if (e <= 0) {
      clear_error_stack();
      return false;
    }
    // H5Oexists_by_name would open the target file of an external link:
    // never follow those implicitly (they count as absent here).
    H5L_info_t li;
    if (H5Lget_info(parent, prefix.c_str(), &li, H5P_DEFAULT) < 0 || li.type == H5L_TYPE_EXTERNAL) {
      clear_error_stack();
      return false;
    }
    htri_t o = H5Oexists_by_name(parent, prefix.c_str(), H5P_DEFAULT);
    if (o <= 0) {  // dangling soft link
      clear_error_stack();
      return false;
    }
    prefix += "/";
    pos = end + 1;
  }
  return true;
}

hid_t create_group(hid_t parent, const std::string& path, ErrorInfo* err) {
  if (path_exists(parent, path)) {
    *err = ErrorInfo::make("H5_EXISTS", "'" + path + "' already exists");
    return H5I_INVALID_HID;
  }
  Hid lcpl(H5Pcreate(H5P_LINK_CREATE));
  H5Pset_create_intermediate_group(lcpl.get(), 1);
  H5Pset_char_encoding(lcpl.get(), H5T_CSET_UTF8);
  Hid gcpl(H5Pcreate(H5P_GROUP_CREATE));
  H5Pset_obj_track_times(gcpl.get(), false);
  hid_t g = H5Gcreate2(parent, path.c_str(), lcpl.get(), gcpl.get(), H5P_DEFAULT);
  if (g < 0) *err = capture_error("create group '" + path + "'");
  return g;
}

hid_t open_object(hid_t parent, const std::string& path, ObjKind* kind, ErrorInfo* err) {
  // Never follow external links implicitly (they open other files). Checked
  // before path_exists, which reports them as absent; the enclosing groups are
  // checked first so H5Lget_info traverses no external link on the way.
  size_t slash = path.find_last_of('/');
  std::string dir = slash == std::string::npos ? "" : slash == 0 ? "/" : path.substr(0, slash);
  if (!dir.empty() && !path_exists(parent, dir)) {
    *err = ErrorInfo::make("H5_NOT_FOUND", "no object at '" + path + "'");
    return H5I_INVALID_HID;
  }
  H5L_info_t li;
  if (path != "/" && H5Lget_info(parent, path.c_str(), &li, H5P_DEFAULT) >= 0 &&
      li.type == H5L_TYPE_EXTERNAL) {
    *err = ErrorInfo::make("H5_UNSUPPORTED", "'" + path + "' is an external link; h5vault does not follow them");
    return H5I_INVALID_HID;
  }
  clear_error_stack();
  if (!path_exists(parent, path)) {
    *err = ErrorInfo::make("H5_NOT_FOUND", "no object at '" + path + "'");
    return H5I_INVALID_HID;
  }
  hid_t id = H5Oopen(parent, path.c_str(), H5P_DEFAULT);
  if (id < 0) {
    *err = capture_error("open '" + path + "'");
    return id;
  }
  switch (H5Iget_type(id)) {
    case H5I_GROUP: *kind = ObjKind::Group; break;
    case H5I_DATASET: *kind = ObjKind::Dataset; break;
    case H5I_DATATYPE: *kind = ObjKind::Datatype; break;
    default: *kind = ObjKind::Other; break;
  }
  return id;
}

std::string object_identity(hid_t obj) {
  H5O_info_t info;
  if (H5Oget_info2(obj, &info, H5O_INFO_BASIC) < 0) {
    clear_error_stack();
    return "";
  }
  return std::to_string(info.fileno) + ":" + std::to_string(info.addr);
}

namespace {
struct ListCtx {
  std::vector<LinkEntry>* out;
};
herr_t on_link(hid_t g, const char* name, const H5L_info_t* info, void* data) {
  auto* ctx = static_cast<ListCtx*>(data);
  LinkEntry e;
  e.name = name;
  if (info->type == H5L_TYPE_EXTERNAL) {
    e.kind = "external";
    e.link = "external";
  } else {
    e.link = info->type == H5L_TYPE_SOFT ? "soft" : info->type == H5L_TYPE_HARD ? "hard" : "other";
    H5O_info_t oi;
    if (H5Oexists_by_name(g, name, H5P_DEFAULT) > 0 &&
        H5Oget_info_by_name2(g, name, &oi, H5O_INFO_BASIC, H5P_DEFAULT) >= 0) {
      e.kind = obj_kind_name(obj_kind(oi.type));
    } else {
      e.kind = "dangling";
    }
    clear_error_stack();
  }
  ctx->out->push_back(std::move(e));
  return 0;
}
}  // namespace

bool list_links(hid_t group, std::vector<LinkEntry>* out, ErrorInfo* err) {
  ListCtx ctx{out};
  hsize_t idx = 0;
  if (H5Literate(group, H5_INDEX_NAME, H5_ITER_INC, &idx, on_link, &ctx) < 0) {
    *err = capture_error("list links");
    return false;
  }
  return true;
}

namespace {
herr_t on_visit(hid_t, const char* name, const H5O_info_t* info, void* data) {
  if (std::strcmp(name, ".") == 0) return 0;  // the starting group itself
  auto* out = static_cast<std::vector<VisitEntry>*>(data);
  out->push_back({name, obj_kind(info->type), info->addr});
  return 0;
}
}  // namespace

bool visit_objects(hid_t group, std::vector<VisitEntry>* out, ErrorInfo* err) {
  if (H5Ovisit2(group, H5_INDEX_NAME, H5_ITER_INC, on_visit, out, H5O_INFO_BASIC) < 0) {
    *err = capture_error("visit objects");
    return false;
  }
  return true;
}

hid_t open_by_address(hid_t loc, haddr_t addr, ErrorInfo* err) {
  hid_t id = H5Oopen_by_addr(loc, addr);
  if (id < 0) *err = capture_error("open object by address");
  return id;
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
