// The untrusted-file metadata walk; see walk.h for what and why. This file:
// the entry points and the object graph (superblock, groups, links,
// attributes, the bounded H5Ovisit); each dataset's storage: walk_dataset.cc.
#include "walk.h"
#include "walk_internal.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <string>
#include <vector>

#include <hdf5.h>

#include "../common/error.h"
#include "../common/hid.h"
#include "../common/lock.h"
#include "attribute.h"
#include "links.h"
#include "types.h"
#include "value.h"

namespace h5v::h5 {

namespace walk_detail {

// libhdf5 reports a failed malloc as one of these; the fix for them is the
// caller's memory limit, so they get their own reason.
bool is_allocation_failure(const ErrorInfo& e) {
  for (const char* needle : {"memory allocation failed", "Can't allocate", "can't allocate", "unable to allocate",
                             "No space available for allocation"}) {
    if (e.message.find(needle) != std::string::npos || e.minor.find(needle) != std::string::npos) return true;
  }
  return false;
}

std::string human(uint64_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024 && u < 6) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", v, units[u]);
  return buf;
}

namespace {

// Link values (soft-link paths, external-link targets) longer than this are
// not legitimate and are not worth a libhdf5 allocation.
constexpr size_t kMaxLinkValue = 64 * 1024;

struct LinkCollect {
  std::vector<LinkRec>* out;
  uint64_t budget;
  bool overflow = false;
};

herr_t collect_link(hid_t, const char* name, const H5L_info_t* info, void* data) {
  auto* c = static_cast<LinkCollect*>(data);
  if (c->out->size() >= c->budget) {
    c->overflow = true;
    return 1;  // stop iterating: over the link limit
  }
  c->out->push_back(LinkRec{name, info->type, info->type == H5L_TYPE_HARD ? 0 : info->u.val_size});
  return 0;
}

struct AttrCollect {
  std::vector<std::string>* out;
  uint64_t budget;
  bool overflow = false;
};

herr_t collect_attr(hid_t, const char* name, const H5A_info_t*, void* data) {
  auto* c = static_cast<AttrCollect*>(data);
  if (c->out->size() >= c->budget) {
    c->overflow = true;
    return 1;
  }
  c->out->emplace_back(name);
  return 0;
}

// Group.walk() in the parent is H5Ovisit (native/h5/links.cc). libhdf5's own
// cycle detection there only covers objects with several hard links, so a
// crafted cycle makes it loop forever (CVE-2018-15671); the walk runs the same
// visit and stops it at the depth and object limits.
struct VisitCount {
  uint64_t visits = 0, max_visits = 0;
  uint32_t max_depth = 0;
  const char* stopped = nullptr;
  std::string where;
};

herr_t count_visit(hid_t, const char* name, const H5O_info_t*, void* data) {
  auto* c = static_cast<VisitCount*>(data);
  uint32_t depth = name[0] == '.' && name[1] == 0 ? 0 : 1;
  for (const char* p = name; *p; ++p) depth += *p == '/';
  if (depth > c->max_depth)
    c->stopped = "too-deep";
  else if (++c->visits > c->max_visits)
    c->stopped = "too-many-objects";
  if (!c->stopped) return 0;
  c->where = std::string("/") + name;
  return 1;
}

}  // namespace

void Walker::run(hid_t fid) {
  H5F_info2_t finfo;
  if (H5Fget_info2(fid, &finfo) < 0) corrupt("superblock", "/");
  Hid fcpl(H5Fget_create_plist(fid));
  hsize_t ub = 0;
  if (!fcpl || H5Pget_userblock(fcpl.get(), &ub) < 0) corrupt("superblock (userblock)", "/");
  userblock_ = ub;
  Hid root(H5Gopen(fid, "/", H5P_DEFAULT));
  if (!root) corrupt("open root group", "/");
  visit(root.get(), "/", 0);
  // Same traversal as the parent's Group.walk(), bounded.
  VisitCount vc;
  vc.max_visits = lim_.max_objects;
  vc.max_depth = lim_.max_depth;
  if (H5Ovisit2(root.get(), H5_INDEX_NAME, H5_ITER_INC, count_visit, &vc, H5O_INFO_BASIC) < 0 && !vc.stopped)
    corrupt("visit objects", "/");
  if (vc.stopped)
    reject(vc.stopped,
           "H5Ovisit (Group.walk) goes past the " +
               (std::string(vc.stopped) == "too-deep" ? std::to_string(lim_.max_depth) + "-level depth limit"
                                                      : std::to_string(lim_.max_objects) + "-object limit") +
               ": a link cycle libhdf5 does not detect",
           vc.where);
}

void Walker::reject(const char* reason, std::string detail, const std::string& object) {
  rep_->reason = reason;
  rep_->detail = std::move(detail);
  rep_->object = object;
  throw Rejected{};
}

// A libhdf5 failure: the file's metadata cannot be parsed. Memory
// exhaustion (the child's RLIMIT_AS) is told apart because raising the
// memory limit is the caller's fix for it.
void Walker::corrupt(const std::string& what, const std::string& object) {
  ErrorInfo e = capture_error(what + " '" + object + "'");
  rep_->code = e.code;
  reject(is_allocation_failure(e) ? "memory" : "corrupt", e.message, object);
}

void Walker::visit(hid_t obj, const std::string& path, uint32_t depth) {
  if (depth > lim_.max_depth)
    reject("too-deep", "objects nested deeper than " + std::to_string(lim_.max_depth) + " levels", path);
  // H5O_INFO_ALL also walks the header's messages and, for groups, the
  // link B-tree/heap and attribute storage sizes: more of the file parsed here.
  H5O_info_t info;
  if (H5Oget_info2(obj, &info, H5O_INFO_ALL) < 0) corrupt("object header", path);
  // Hard links may form cycles and share objects: visit each header once.
  if (!seen_.insert(info.addr).second) return;
  if (++objects_ > lim_.max_objects)
    reject("too-many-objects", "more than " + std::to_string(lim_.max_objects) + " objects", path);
  rep_->depth = std::max(rep_->depth, depth);
  visit_attrs(obj, path, info.num_attrs);
  switch (info.type) {
    case H5O_TYPE_GROUP:
      ++rep_->groups;
      visit_group(obj, path, depth);
      break;
    case H5O_TYPE_DATASET:
      ++rep_->datasets;
      visit_dataset(obj, path);
      break;
    case H5O_TYPE_NAMED_DATATYPE: {
      ++rep_->datatypes;
      // Parse it the way a dataset using it would be described.
      describe_type(obj);
      if (H5Tget_size(obj) == 0) corrupt("named datatype", path);
      break;
    }
    default:
      reject("corrupt", "object of unknown type", path);
  }
}

void Walker::visit_group(hid_t g, const std::string& path, uint32_t depth) {
  std::vector<LinkRec> links;
  LinkCollect c{&links, lim_.max_links - std::min(lim_.max_links, rep_->links)};
  hsize_t idx = 0;
  if (H5Literate(g, H5_INDEX_NAME, H5_ITER_INC, &idx, collect_link, &c) < 0) corrupt("list links", path);
  if (c.overflow) reject("too-many-objects", "more than " + std::to_string(lim_.max_links) + " links", path);
  rep_->links += links.size();
  // The parent's own listing (Group.keys()/links()) resolves every link's
  // target kind: run that code path here too.
  std::vector<LinkEntry> entries;
  ErrorInfo err;
  if (!list_links(g, &entries, &err)) {
    rep_->code = err.code;
    reject("corrupt", err.message, path);
  }
  for (const LinkRec& l : links) {
    std::string child = join_path(path, l.name);
    if (l.type == H5L_TYPE_EXTERNAL) reject("external-link", external_target(g, l, child), child);
    if (l.type == H5L_TYPE_SOFT) {
      ++rep_->soft_links;
      soft_target(g, l, child);
      continue;
    }
    if (l.type != H5L_TYPE_HARD) reject("user-defined-link", "link class " + std::to_string(l.type), child);
    Hid obj(H5Oopen(g, l.name.c_str(), H5P_DEFAULT));
    if (!obj) corrupt("open object", child);
    visit(obj.get(), child, depth + 1);
  }
}

std::string Walker::external_target(hid_t g, const LinkRec& l, const std::string& child) {
  if (l.val_size == 0 || l.val_size > kMaxLinkValue) return "external link";
  std::vector<char> buf(l.val_size);
  const char* file = nullptr;
  const char* obj = nullptr;
  unsigned flags = 0;
  if (H5Lget_val(g, l.name.c_str(), buf.data(), buf.size(), H5P_DEFAULT) < 0 ||
      H5Lunpack_elink_val(buf.data(), buf.size(), &flags, &file, &obj) < 0) {
    clear_error_stack();
    return "external link";
  }
  return std::string("external link to '") + (file ? file : "") + "':" + (obj ? obj : "");
}

// Soft links are resolved by the parent on get(); every target is itself
// reached through hard links (visited anyway), so only the value and its
// resolution are exercised here. A dangling soft link is legal.
void Walker::soft_target(hid_t g, const LinkRec& l, const std::string& child) {
  if (l.val_size > kMaxLinkValue) reject("corrupt", "soft link value of " + human(l.val_size), child);
  std::vector<char> buf(l.val_size + 1, 0);
  if (H5Lget_val(g, l.name.c_str(), buf.data(), buf.size(), H5P_DEFAULT) < 0) corrupt("soft link", child);
  H5Oexists_by_name(g, l.name.c_str(), H5P_DEFAULT);
  clear_error_stack();
}

void Walker::visit_attrs(hid_t obj, const std::string& path, hsize_t declared_count) {
  std::vector<std::string> names;
  AttrCollect c{&names, lim_.max_attributes - std::min(lim_.max_attributes, rep_->attributes)};
  hsize_t idx = 0;
  if (declared_count > 0 && H5Aiterate2(obj, H5_INDEX_NAME, H5_ITER_INC, &idx, collect_attr, &c) < 0)
    corrupt("list attributes", path);
  if (c.overflow) reject("too-many-objects", "more than " + std::to_string(lim_.max_attributes) + " attributes", path);
  rep_->attributes += names.size();
  for (const std::string& name : names) {
    std::string where = path + "@" + name;
    Hid attr(H5Aopen(obj, name.c_str(), H5P_DEFAULT));
    if (!attr) corrupt("open attribute", where);
    Hid type(H5Aget_type(attr.get()));
    Hid space(H5Aget_space(attr.get()));
    if (!type || !space) corrupt("attribute type/space", where);
    describe_type(type.get());
    size_t esize = H5Tget_size(type.get());
    hssize_t n = H5Sget_simple_extent_npoints(space.get());
    if (esize == 0 || n < 0) corrupt("attribute type/space", where);
    uint64_t bytes = mul_sat(esize, static_cast<uint64_t>(n));
    if (bytes > lim_.max_attribute_bytes)
      reject("attribute-too-large",
             "attribute declares " + human(bytes) + " (limit " + human(lim_.max_attribute_bytes) + ")", where);
    attr.reset();
    // Read the value the way Attributes.get() will.
    AttrValue v;
    ErrorInfo err;
    uint64_t decoded = 0;
    if (!read_attr(obj, name, &v, &err)) {
      if (err.code != "H5_UNSUPPORTED_TYPE") {
        rep_->code = err.code;
        reject(is_allocation_failure(err) ? "memory" : "corrupt", err.message, where);
      }
      // Types without a flat dtype (compound, vlen, references, ...) are
      // read by the generic path (docs/types.md): read them that way here.
      ValueResult val;
      err = ErrorInfo();
      if (!read_value(obj, name.c_str(), Selection{}, &val, &err)) {
        // Types h5vault cannot represent fail the same typed way in the parent.
        if (err.code == "H5_UNSUPPORTED_TYPE") continue;
        rep_->code = err.code;
        reject(err.code == "H5_LIMIT_EXCEEDED" ? "attribute-too-large"
               : is_allocation_failure(err)    ? "memory"
                                               : "corrupt",
               err.message, where);
      }
      decoded = column_bytes(val.column);
    }
    // Variable-length strings: what the parent decodes is the strings, not
    // the 16-byte references the declared size counts.
    decoded += v.bytes.size();
    for (const std::string& str : v.strings) decoded += str.size();
    if (decoded > lim_.max_attribute_bytes)
      reject("attribute-too-large",
             "attribute decodes to " + human(decoded) + " (limit " + human(lim_.max_attribute_bytes) + ")", where);
    ++rep_->attributes_read;
  }
}

}  // namespace walk_detail

namespace {

using walk_detail::Rejected;
using walk_detail::Walker;

hid_t walk_fapl() {
  hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  // Same settings as FileHandle::open, so the walk takes the parent's paths.
  H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG);
  H5Pset_file_locking(fapl, true, true);
  return fapl;
}

void walk_open_file(hid_t fid, const WalkLimits& limits, WalkReport* rep) {
  try {
    Walker(limits, rep).run(fid);
    rep->ok = true;
  } catch (const Rejected&) {
    rep->ok = false;
  }
  clear_error_stack();
}

void open_failed(WalkReport* rep, const std::string& what) {
  ErrorInfo e = capture_error(what);
  rep->reason = "open-failed";
  rep->code = e.code;
  rep->detail = e.message;
  rep->object = "/";
}

}  // namespace

bool file_stamp(hid_t fid, FileStamp* out) {
  void* vh = nullptr;
  struct stat st;
  if (H5Fget_vfd_handle(fid, H5P_DEFAULT, &vh) < 0 || !vh || ::fstat(*static_cast<int*>(vh), &st) != 0) {
    clear_error_stack();
    return false;
  }
  out->valid = true;
  out->dev = st.st_dev;
  out->ino = st.st_ino;
  out->size = static_cast<uint64_t>(st.st_size);
  out->mtime_ns = int64_t(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  out->ctime_ns = int64_t(st.st_ctim.tv_sec) * 1000000000 + st.st_ctim.tv_nsec;
  return true;
}

WalkReport walk_file(const std::string& path, const WalkLimits& limits) {
  WalkReport rep;
  struct stat st;
  int rc = ::stat(path.c_str(), &st);
  if (rc != 0 || !S_ISREG(st.st_mode)) {
    bool missing = rc != 0 && errno == ENOENT;
    rep.reason = "open-failed";
    rep.code = missing ? "H5_FILE_NOT_FOUND" : "H5_OPEN_FAILED";
    rep.detail = "open '" + path + "': " + (missing ? "no such file" : "not a regular file");
    return rep;
  }
  Lock lock;
  Hid fapl(walk_fapl());
  Hid fid(H5Fopen(path.c_str(), H5F_ACC_RDONLY, fapl.get()));
  if (!fid) {
    open_failed(&rep, "open '" + path + "'");
    return rep;
  }
  // Identity of what libhdf5 actually read, for the parent's change check.
  rep.file_size = file_stamp(fid.get(), &rep.stamp) ? rep.stamp.size : static_cast<uint64_t>(st.st_size);
  walk_open_file(fid.get(), limits, &rep);
  fid.reset();
  clear_error_stack();
  return rep;
}

WalkReport walk_image(const void* data, size_t size, const WalkLimits& limits) {
  WalkReport rep;
  rep.file_size = size;
  Lock lock;
  Hid fapl(walk_fapl());
  // Core driver over a copy of the image, no backing store: no disk I/O.
  if (H5Pset_fapl_core(fapl.get(), 64 * 1024, false) < 0 ||
      H5Pset_file_image(fapl.get(), const_cast<void*>(data), size) < 0) {
    open_failed(&rep, "file image");
    return rep;
  }
  Hid fid(H5Fopen("untrusted-image.h5", H5F_ACC_RDONLY, fapl.get()));
  if (!fid) {
    open_failed(&rep, "open file image");
    return rep;
  }
  walk_open_file(fid.get(), limits, &rep);
  fid.reset();
  clear_error_stack();
  return rep;
}

}  // namespace h5v::h5
