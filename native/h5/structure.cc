#include "structure.h"

#include <H5DSpublic.h>

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <atomic>
#include <cstring>

#include "dataset.h"
#include "heap_check.h"
#include "file.h"
#include "../common/hid.h"

namespace h5v::h5 {

namespace {

// Link creation: intermediate groups as needed, UTF-8 names (as h5py writes).
Hid make_lcpl() {
  Hid lcpl(H5Pcreate(H5P_LINK_CREATE));
  H5Pset_create_intermediate_group(lcpl.get(), 1);
  H5Pset_char_encoding(lcpl.get(), H5T_CSET_UTF8);
  return lcpl;
}

std::string parent_of(const std::string& path) {
  size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return "";
  return slash == 0 ? "/" : path.substr(0, slash);
}

// A new link's name must be free (libhdf5's own refusal is an unclassified
// "name already exists" deep in its stack).
bool check_new_link(hid_t loc, const std::string& name, ErrorInfo* err) {
  if (link_exists(loc, name)) {
    *err = ErrorInfo::make("H5_EXISTS", "'" + name + "' already exists");
    return false;
  }
  return true;
}

}  // namespace

bool link_exists(hid_t loc, const std::string& path) {
  if (path.empty() || path == "/") return true;
  std::string dir = parent_of(path);
  if (!dir.empty() && !path_exists(loc, dir)) return false;
  hid_t lapl = link_access(false);
  htri_t e = H5Lexists(loc, path.c_str(), lapl);
  if (e < 0) clear_error_stack();
  return e > 0;
}

bool create_soft_link(hid_t loc, const std::string& target, const std::string& name, ErrorInfo* err) {
  if (!check_new_link(loc, name, err)) return false;
  Hid lcpl = make_lcpl();
  if (H5Lcreate_soft(target.c_str(), loc, name.c_str(), lcpl.get(), H5P_DEFAULT) < 0) {
    *err = capture_error("create soft link '" + name + "'");
    return false;
  }
  return true;
}

bool create_hard_link(hid_t loc, const std::string& target, const std::string& name, ErrorInfo* err) {
  if (!path_exists(loc, target)) {
    *err = ErrorInfo::make("H5_NOT_FOUND", "cannot link '" + name + "' to '" + target + "': no object there");
    return false;
  }
  if (!check_new_link(loc, name, err)) return false;
  Hid lcpl = make_lcpl();
  if (H5Lcreate_hard(loc, target.c_str(), loc, name.c_str(), lcpl.get(), H5P_DEFAULT) < 0) {
    *err = capture_error("create hard link '" + name + "'");
    return false;
  }
  return true;
}

bool create_external_link(hid_t loc, const std::string& file, const std::string& object, const std::string& name,
                          ErrorInfo* err) {
  if (!check_new_link(loc, name, err)) return false;
  Hid lcpl = make_lcpl();
  if (H5Lcreate_external(file.c_str(), object.c_str(), loc, name.c_str(), lcpl.get(), H5P_DEFAULT) < 0) {
    *err = capture_error("create external link '" + name + "'");
    return false;
  }
  return true;
}

bool delete_link(hid_t loc, const std::string& name, ErrorInfo* err) {
  if (!link_exists(loc, name)) {
    *err = ErrorInfo::make("H5_NOT_FOUND", "no link at '" + name + "'");
    return false;
  }
  if (H5Ldelete(loc, name.c_str(), H5P_DEFAULT) < 0) {
    *err = capture_error("delete '" + name + "'");
    return false;
  }
  return true;
}

bool move_link(hid_t loc, const std::string& from, const std::string& to, ErrorInfo* err) {
  if (!link_exists(loc, from)) {
    *err = ErrorInfo::make("H5_NOT_FOUND", "no link at '" + from + "'");
    return false;
  }
  if (!check_new_link(loc, to, err)) return false;
  // Moving a group below itself would detach it from the root: libhdf5
  // refuses it, but with an opaque message.
  if (to.size() > from.size() && to.compare(0, from.size(), from) == 0 && to[from.size()] == '/') {
    *err = ErrorInfo::make("H5_INVALID_ARGUMENT", "cannot move '" + from + "' into itself ('" + to + "')");
    return false;
  }
  Hid lcpl = make_lcpl();
  if (H5Lmove(loc, from.c_str(), loc, to.c_str(), lcpl.get(), H5P_DEFAULT) < 0) {
    *err = capture_error("move '" + from + "' to '" + to + "'");
    return false;
  }
  return true;
}

bool copy_object(hid_t src_loc, const std::string& src, hid_t dst_loc, const std::string& dst, ErrorInfo* err) {
  if (!path_exists(src_loc, src)) {
    *err = ErrorInfo::make("H5_NOT_FOUND", "no object at '" + src + "' to copy");
    return false;
  }
  if (!check_new_link(dst_loc, dst, err)) return false;
  Hid lcpl = make_lcpl();
  if (H5Ocopy(src_loc, src.c_str(), dst_loc, dst.c_str(), H5P_DEFAULT, lcpl.get()) < 0) {
    *err = capture_error("copy '" + src + "' to '" + dst + "'");
    return false;
  }
  return true;
}

bool link_value(hid_t loc, const std::string& name, LinkValue* out, ErrorInfo* err) {
  if (!link_exists(loc, name)) {
    *err = ErrorInfo::make("H5_NOT_FOUND", "no link at '" + name + "'");
    return false;
  }
  H5L_info_t li;
  hid_t lapl = link_access(false);
  if (H5Lget_info(loc, name.c_str(), &li, lapl) < 0) {
    *err = capture_error("get link '" + name + "'");
    return false;
  }
  if (li.type == H5L_TYPE_HARD) {
    out->type = "hard";
    return true;
  }
  if (li.type != H5L_TYPE_SOFT && li.type != H5L_TYPE_EXTERNAL) {
    *err = ErrorInfo::make("H5_UNSUPPORTED", "'" + name + "' is a user-defined link (class " +
                                                 std::to_string(static_cast<int>(li.type)) + ")");
    return false;
  }
  std::vector<char> buf(li.u.val_size + 1, '\0');
  if (H5Lget_val(loc, name.c_str(), buf.data(), buf.size(), H5P_DEFAULT) < 0) {
    *err = capture_error("get link value '" + name + "'");
    return false;
  }
  if (li.type == H5L_TYPE_SOFT) {
    out->type = "soft";
    out->target.assign(buf.data(), ::strnlen(buf.data(), li.u.val_size));
    return true;
  }
  const char* file = nullptr;
  const char* obj = nullptr;
  unsigned flags = 0;
  if (H5Lunpack_elink_val(buf.data(), li.u.val_size, &flags, &file, &obj) < 0 || !file || !obj) {
    *err = capture_error("unpack external link '" + name + "'");
    if (err->ok()) *err = ErrorInfo::make("H5_CORRUPT", "external link '" + name + "' has a malformed value");
    return false;
  }
  out->type = "external";
  out->file = file;
  out->target = obj;
  return true;
}

hid_t open_external(hid_t loc, const std::string& path, ErrorInfo* err) {
  // The target file is opened read-only whatever the linking file's mode: a
  // followed link is for reading.
  hid_t id = H5Oopen(loc, path.c_str(), link_access(true));
  if (id < 0) {
    *err = capture_error("follow external link '" + path + "'");
    if (err->code == "H5_ERROR" || err->code == "H5_OPEN_FAILED" || err->code == "H5_FILE_NOT_FOUND") {
      LinkValue v;
      ErrorInfo ignored;
      if (link_value(loc, path, &v, &ignored))
        err->message = "external link '" + path + "' names '" + v.target + "' in '" + v.file +
                       "', which cannot be opened: " + err->message;
      err->code = "H5_DANGLING_LINK";
    }
  }
  return id;
}

bool dataset_extent(hid_t dset, std::vector<hsize_t>* dims, std::vector<hsize_t>* maxdims, ErrorInfo* err) {
  Hid space(H5Dget_space(dset));
  if (!space) {
    *err = capture_error("get dataspace");
    return false;
  }
  int rank = H5Sget_simple_extent_ndims(space.get());
  if (rank < 0) {
    *err = capture_error("get rank");
    return false;
  }
  dims->assign(static_cast<size_t>(rank), 0);
  maxdims->assign(static_cast<size_t>(rank), 0);
  if (rank > 0 && H5Sget_simple_extent_dims(space.get(), dims->data(), maxdims->data()) < 0) {
    *err = capture_error("get dimensions");
    return false;
  }
  return true;
}

bool resize_dataset(hid_t dset, const std::string& path, const std::vector<hsize_t>& shape, ErrorInfo* err) {
  std::vector<hsize_t> dims, maxdims;
  if (!dataset_extent(dset, &dims, &maxdims, err)) return false;
  if (shape.size() != dims.size()) {
    *err = ErrorInfo::range_error("resize of '" + path + "': shape has rank " + std::to_string(shape.size()) +
                                  ", the dataset has rank " + std::to_string(dims.size()));
    return false;
  }
  Hid dcpl(H5Dget_create_plist(dset));
  if (!dcpl || H5Pget_layout(dcpl.get()) != H5D_CHUNKED) {
    clear_error_stack();
    *err = ErrorInfo::make(
        "H5_NOT_RESIZABLE",
        "dataset '" + path + "' is not resizable: only chunked datasets created with a maxshape can change shape");
    return false;
  }
  for (size_t i = 0; i < shape.size(); ++i) {
    if (maxdims[i] != H5S_UNLIMITED && shape[i] > maxdims[i]) {
      *err = ErrorInfo::make("H5_NOT_RESIZABLE", "dataset '" + path + "': dimension " + std::to_string(i) +
                                                     " cannot grow to " + std::to_string(shape[i]) +
                                                     ", its maximum is " + std::to_string(maxdims[i]));
      return false;
    }
  }
  // A maxshape with unlimited dimensions leaves the extent unbounded: the
  // same limit as at creation, before libhdf5's element count can wrap.
  Hid type(H5Dget_type(dset));
  if (!check_extent(shape, type ? H5Tget_size(type.get()) : 1, "cannot resize '" + path + "'", err)) return false;
  if (H5Dset_extent(dset, shape.data()) < 0) {
    *err = capture_error("resize '" + path + "'");
    return false;
  }
  return true;
}

std::vector<hsize_t> resizable_chunks(const std::vector<hsize_t>& shape, const std::vector<hsize_t>& maxshape,
                                      size_t elem_size) {
  // A dimension that may grow gets room for at least 1024 entries per chunk
  // (appending row by row must not make one chunk per row); a fixed one its
  // size. auto_chunks then halves the largest dimension down to ~1 MiB.
  std::vector<hsize_t> base(shape);
  for (size_t i = 0; i < base.size(); ++i) {
    if (maxshape[i] == shape[i]) continue;
    hsize_t room = std::max<hsize_t>(shape[i], 1024);
    base[i] = maxshape[i] == H5S_UNLIMITED ? room : std::min(room, maxshape[i]);
  }
  return auto_chunks(base, elem_size, size_t(1) << 20);
}

void set_track_order(hid_t pl) {
  unsigned flags = H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED;
  H5Pset_link_creation_order(pl, flags);
  H5Pset_attr_creation_order(pl, flags);
}

bool tracks_order(hid_t group) {
  Hid gcpl(H5Gget_create_plist(group));
  unsigned flags = 0;
  if (!gcpl || H5Pget_link_creation_order(gcpl.get(), &flags) < 0) {
    clear_error_stack();
    return false;
  }
  // Iterating by creation order needs the index, not only the tracking.
  return (flags & H5P_CRT_ORDER_TRACKED) && (flags & H5P_CRT_ORDER_INDEXED);
}

bool is_scale(hid_t dset) {
  htri_t r = H5DSis_scale(dset);
  if (r < 0) clear_error_stack();
  return r > 0;
}

bool scale_name(hid_t dset, std::string* out) {
  ssize_t n = H5DSget_scale_name(dset, nullptr, 0);
  if (n <= 0) {
    clear_error_stack();
    out->clear();
    return n == 0;
  }
  std::vector<char> buf(static_cast<size_t>(n) + 1, '\0');
  if (H5DSget_scale_name(dset, buf.data(), buf.size()) < 0) {
    clear_error_stack();
    return false;
  }
  out->assign(buf.data(), ::strnlen(buf.data(), buf.size()));
  return true;
}

namespace {
struct ScaleVisit {
  std::vector<ScaleRef>* out;
};
herr_t on_scale(hid_t, unsigned, hid_t scale, void* data) {
  auto* v = static_cast<ScaleVisit*>(data);
  ScaleRef r;
  ssize_t n = H5Iget_name(scale, nullptr, 0);
  if (n > 0) {
    std::vector<char> buf(static_cast<size_t>(n) + 1, '\0');
    H5Iget_name(scale, buf.data(), buf.size());
    r.path = buf.data();
  }
  scale_name(scale, &r.name);
  clear_error_stack();
  v->out->push_back(std::move(r));
  return 0;
}
}  // namespace

bool dimension_scales(hid_t dset, std::vector<std::vector<ScaleRef>>* out, ErrorInfo* err) {
  std::vector<hsize_t> dims, maxdims;
  if (!dataset_extent(dset, &dims, &maxdims, err)) return false;
  out->assign(dims.size(), {});
  for (unsigned d = 0; d < dims.size(); ++d) {
    int n = H5DSget_num_scales(dset, d);
    if (n < 0) {
      // No DIMENSION_LIST attribute at all reads as zero scales in libhdf5;
      // a negative count is a damaged one.
      *err = capture_error("read dimension scales of dimension " + std::to_string(d));
      return false;
    }
    if (n == 0) continue;
    ScaleVisit v{&(*out)[d]};
    int idx = 0;
    if (H5DSiterate_scales(dset, d, &idx, on_scale, &v) < 0) {
      *err = capture_error("read dimension scales of dimension " + std::to_string(d));
      return false;
    }
  }
  return true;
}

bool make_scale(hid_t dset, const std::string& name, ErrorInfo* err) {
  if (H5DSset_scale(dset, name.empty() ? nullptr : name.c_str()) < 0) {
    *err = capture_error("make dimension scale");
    return false;
  }
  return true;
}

bool attach_scale(hid_t dset, hid_t scale, unsigned dim, ErrorInfo* err) {
  if (H5DSattach_scale(dset, scale, dim) < 0) {
    *err = capture_error("attach dimension scale");
    return false;
  }
  return true;
}

bool detach_scale(hid_t dset, hid_t scale, unsigned dim, ErrorInfo* err) {
  htri_t attached = H5DSis_attached(dset, scale, dim);
  if (attached <= 0) {
    clear_error_stack();
    *err = ErrorInfo::make("H5_NOT_FOUND", "the scale is not attached to dimension " + std::to_string(dim));
    return false;
  }
  if (H5DSdetach_scale(dset, scale, dim) < 0) {
    *err = capture_error("detach dimension scale");
    return false;
  }
  return true;
}

bool set_dimension_label(hid_t dset, unsigned dim, const std::string& label, ErrorInfo* err) {
  if (H5DSset_label(dset, dim, label.c_str()) < 0) {
    *err = capture_error("set dimension label");
    return false;
  }
  return true;
}

bool dimension_labels(hid_t dset, std::vector<std::string>* out, ErrorInfo* err) {
  std::vector<hsize_t> dims, maxdims;
  if (!dataset_extent(dset, &dims, &maxdims, err)) return false;
  out->assign(dims.size(), "");
  for (unsigned d = 0; d < dims.size(); ++d) {
    ssize_t n = H5DSget_label(dset, d, nullptr, 0);
    if (n <= 0) {
      clear_error_stack();
      continue;
    }
    std::vector<char> buf(static_cast<size_t>(n) + 1, '\0');
    if (H5DSget_label(dset, d, buf.data(), buf.size()) < 0) {
      clear_error_stack();
      continue;
    }
    (*out)[d] = buf.data();
  }
  return true;
}

namespace {

int sealed_memory_file(const uint8_t* data, size_t size, ErrorInfo* err) {
#ifdef __linux__
  int fd = ::memfd_create("h5vault-image", MFD_CLOEXEC | MFD_ALLOW_SEALING);
#else
  char tmpl[] = "/tmp/h5vault-image-XXXXXX";
  int fd = ::mkstemp(tmpl);
  if (fd >= 0) ::unlink(tmpl);
#endif
  if (fd < 0) {
    *err = ErrorInfo::make("H5_IO", std::string("cannot create an in-memory file: ") + std::strerror(errno));
    return -1;
  }
  size_t done = 0;
  while (done < size) {
    ssize_t w = ::write(fd, data + done, size - done);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      *err = ErrorInfo::make("H5_IO", std::string("cannot fill an in-memory file: ") + std::strerror(errno));
      ::close(fd);
      return -1;
    }
    done += static_cast<size_t>(w);
  }
#ifdef __linux__
  if (::fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) != 0) {
    *err = ErrorInfo::make("H5_IO", std::string("cannot seal an in-memory file: ") + std::strerror(errno));
    ::close(fd);
    return -1;
  }
#endif
  return fd;
}

// File-image callbacks that hand libhdf5 the Image's mapping instead of
// copies: every "allocation" of the image's size is the mapping, a copy onto
// itself is a no-op, and nothing is freed (the Image owns it). The file is
// opened read-only, so libhdf5 never writes to it or grows it.
void* image_malloc(size_t size, H5FD_file_image_op_t, void* udata) {
  auto* img = static_cast<Image*>(udata);
  return size == img->size ? img->base : nullptr;
}
void* image_memcpy(void* dest, const void* src, size_t size, H5FD_file_image_op_t, void* udata) {
  auto* img = static_cast<Image*>(udata);
  if (dest == src) return dest;
  if (dest == img->base) return nullptr;  // the mapping is read-only
  return std::memcpy(dest, src, size);
}
void* image_realloc(void*, size_t, H5FD_file_image_op_t, void*) { return nullptr; }
herr_t image_free(void*, H5FD_file_image_op_t, void*) { return 0; }
void* udata_copy(void* udata) { return udata; }
herr_t udata_free(void*) { return 0; }

}  // namespace

Image::~Image() {
  if (base) forget_image(base);
  if (base) ::munmap(base, size);
  if (fd >= 0) ::close(fd);
}

std::shared_ptr<Image> make_image(const uint8_t* data, size_t size, ErrorInfo* err) {
  auto img = std::make_shared<Image>();
  img->fd = sealed_memory_file(data, size, err);
  if (img->fd < 0) return nullptr;
  void* p = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, img->fd, 0);
  if (p == MAP_FAILED) {
    *err = ErrorInfo::make("H5_IO", std::string("cannot map an in-memory file: ") + std::strerror(errno));
    return nullptr;
  }
  img->base = static_cast<uint8_t*>(p);
  img->size = size;
  remember_image(img->base, img->fd);
  return img;
}

hid_t memory_fapl(const std::shared_ptr<Image>& image) {
  Hid fapl(H5Pcreate(H5P_FILE_ACCESS));
  if (!fapl) return H5I_INVALID_HID;
  H5Pset_fclose_degree(fapl.get(), H5F_CLOSE_STRONG);
  // 64 KiB growth steps for new files; nothing is ever written to disk.
  if (H5Pset_fapl_core(fapl.get(), 64 * 1024, false) < 0) return H5I_INVALID_HID;
  if (image) {
    H5FD_file_image_callbacks_t cb = {image_malloc, image_memcpy, image_realloc, image_free,
                                      udata_copy,   udata_free,   image.get()};
    if (H5Pset_file_image_callbacks(fapl.get(), &cb) < 0) return H5I_INVALID_HID;
    if (H5Pset_file_image(fapl.get(), image->base, image->size) < 0) return H5I_INVALID_HID;
  }
  return fapl.release();
}

std::string memory_file_name() {
  static std::atomic<unsigned long> counter{0};
  return "h5vault-memory-" + std::to_string(++counter);
}

bool file_image(hid_t fid, std::vector<uint8_t>* out, ErrorInfo* err) {
  if (H5Fflush(fid, H5F_SCOPE_LOCAL) < 0) {
    *err = capture_error("flush in-memory file");
    return false;
  }
  ssize_t n = H5Fget_file_image(fid, nullptr, 0);
  if (n < 0) {
    *err = capture_error("get file image");
    return false;
  }
  out->resize(static_cast<size_t>(n));
  if (n > 0 && H5Fget_file_image(fid, out->data(), out->size()) < 0) {
    *err = capture_error("get file image");
    return false;
  }
  return true;
}

}  // namespace h5v::h5
