// Group and link operations of file.h (links.h): object kinds, path rules,
// link lookup that never follows external links unasked, group creation,
// link listing and the H5Ovisit walk. FileHandle lifetimes live in file.cc.
// Caller holds the global lock for every function here.
#include "links.h"

#include <cstring>
#include <string>
#include <vector>

#include "../common/hid.h"
#include "structure.h"

namespace h5v::h5 {

ObjKind obj_kind(H5O_type_t t) {
  switch (t) {
    case H5O_TYPE_GROUP:
      return ObjKind::Group;
    case H5O_TYPE_DATASET:
      return ObjKind::Dataset;
    case H5O_TYPE_NAMED_DATATYPE:
      return ObjKind::Datatype;
    default:
      return ObjKind::Other;
  }
}

const char* obj_kind_name(ObjKind k) {
  switch (k) {
    case ObjKind::Group:
      return "group";
    case ObjKind::Dataset:
      return "dataset";
    case ObjKind::Datatype:
      return "datatype";
    default:
      return "other";
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

namespace {
herr_t refuse_external_traversal(const char*, const char*, const char*, const char*, unsigned*, hid_t, void*) {
  return -1;
}
}  // namespace

hid_t link_access(bool follow_external) {
  // Made once (under the global lock, like every call here) and kept for the
  // process: creating a property list per lookup costs more than the lookup.
  static hid_t refuse = [] {
    hid_t lapl = H5Pcreate(H5P_LINK_ACCESS);
    if (lapl >= 0) H5Pset_elink_cb(lapl, refuse_external_traversal, nullptr);
    return lapl;
  }();
  // Followed links open their file read-only, whatever this file's mode.
  static hid_t follow = [] {
    hid_t lapl = H5Pcreate(H5P_LINK_ACCESS);
    if (lapl >= 0) H5Pset_elink_acc_flags(lapl, H5F_ACC_RDONLY);
    return lapl;
  }();
  return follow_external ? follow : refuse;
}

bool path_exists(hid_t parent, const std::string& path) {
  if (path == "/" || path.empty()) return true;
  hid_t lapl = link_access(false);
  // Check component by component: H5Lexists on 'a/b' fails if 'a' is absent.
  size_t pos = path[0] == '/' ? 1 : 0;
  std::string prefix = path[0] == '/' ? "/" : "";
  while (pos < path.size()) {
    size_t end = path.find('/', pos);
    if (end == std::string::npos) end = path.size();
    prefix += path.substr(pos, end - pos);
    htri_t e = H5Lexists(parent, prefix.c_str(), lapl);
    if (e <= 0) {
      clear_error_stack();
      return false;
    }
    // H5Oexists_by_name would open the target file of an external link:
    // never follow those implicitly (they count as absent here).
    H5L_info_t li;
    if (H5Lget_info(parent, prefix.c_str(), &li, lapl) < 0 || li.type == H5L_TYPE_EXTERNAL) {
      clear_error_stack();
      return false;
    }
    htri_t o = H5Oexists_by_name(parent, prefix.c_str(), lapl);
    if (o <= 0) {  // dangling soft link, or one through an external link
      clear_error_stack();
      return false;
    }
    prefix += "/";
    pos = end + 1;
  }
  return true;
}

hid_t create_group(hid_t parent, const std::string& path, ErrorInfo* err, bool track_order) {
  if (path_exists(parent, path)) {
    *err = ErrorInfo::make("H5_EXISTS", "'" + path + "' already exists");
    return H5I_INVALID_HID;
  }
  Hid lcpl(H5Pcreate(H5P_LINK_CREATE));
  H5Pset_create_intermediate_group(lcpl.get(), 1);
  H5Pset_char_encoding(lcpl.get(), H5T_CSET_UTF8);
  Hid gcpl(H5Pcreate(H5P_GROUP_CREATE));
  H5Pset_obj_track_times(gcpl.get(), false);
  if (track_order) set_track_order(gcpl.get());
  hid_t g = H5Gcreate2(parent, path.c_str(), lcpl.get(), gcpl.get(), H5P_DEFAULT);
  if (g < 0) *err = capture_error("create group '" + path + "'");
  return g;
}

hid_t open_object(hid_t parent, const std::string& path, ObjKind* kind, ErrorInfo* err, bool follow_external,
                  bool* foreign) {
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
  hid_t lapl = link_access(follow_external);
  bool external = path != "/" && H5Lget_info(parent, path.c_str(), &li, lapl) >= 0 && li.type == H5L_TYPE_EXTERNAL;
  clear_error_stack();
  if (external && !follow_external) {
    *err = ErrorInfo::make("H5_UNSUPPORTED", "'" + path +
                                                 "' is an external link; h5vault follows them only when asked "
                                                 "({ followExternal: true })");
    return H5I_INVALID_HID;
  }
  // A soft link whose target runs through an external link has an object
  // only when external links are followed.
  bool reachable =
      external || path_exists(parent, path) || (follow_external && H5Oexists_by_name(parent, path.c_str(), lapl) > 0);
  clear_error_stack();
  if (!reachable) {
    LinkValue v;
    ErrorInfo ignored;
    if (link_exists(parent, path) && link_value(parent, path, &v, &ignored) && v.type == "soft") {
      *err = ErrorInfo::make("H5_DANGLING_LINK",
                             "'" + path + "' is a soft link to '" + v.target + "', which does not exist" +
                                 (follow_external ? "" : " (external links on its way are not followed)"));
      return H5I_INVALID_HID;
    }
    clear_error_stack();
    *err = ErrorInfo::make("H5_NOT_FOUND", "no object at '" + path + "'");
    return H5I_INVALID_HID;
  }
  hid_t id = external ? open_external(parent, path, err) : H5Oopen(parent, path.c_str(), lapl);
  if (id < 0 && external) return id;
  if (id < 0) {
    *err = capture_error("open '" + path + "'");
    return id;
  }
  // In another file (an external link, or a soft link through one): nothing
  // may read its bytes through the parent file's descriptor or mapping.
  // Without follow_external the lookup's callback refused every traversal.
  if (foreign && follow_external) {
    H5O_info_t pi, oi;
    *foreign = external || (H5Oget_info2(parent, &pi, H5O_INFO_BASIC) >= 0 &&
                            H5Oget_info2(id, &oi, H5O_INFO_BASIC) >= 0 && pi.fileno != oi.fileno);
    clear_error_stack();
  }
  switch (H5Iget_type(id)) {
    case H5I_GROUP:
      *kind = ObjKind::Group;
      break;
    case H5I_DATASET:
      *kind = ObjKind::Dataset;
      break;
    case H5I_DATATYPE:
      *kind = ObjKind::Datatype;
      break;
    default:
      *kind = ObjKind::Other;
      break;
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
    hid_t lapl = link_access(false);
    if (H5Oexists_by_name(g, name, lapl) > 0 && H5Oget_info_by_name2(g, name, &oi, H5O_INFO_BASIC, lapl) >= 0) {
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
  H5_index_t order = tracks_order(group) ? H5_INDEX_CRT_ORDER : H5_INDEX_NAME;
  if (H5Literate(group, order, H5_ITER_INC, &idx, on_link, &ctx) < 0) {
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

namespace {
struct EachCtx {
  const std::function<bool(const VisitEntry&)>* each;
  bool stopped = false;
};
herr_t on_visit_each(hid_t, const char* name, const H5O_info_t* info, void* data) {
  if (std::strcmp(name, ".") == 0) return 0;
  auto* ctx = static_cast<EachCtx*>(data);
  if ((*ctx->each)({name, obj_kind(info->type), info->addr})) return 0;
  ctx->stopped = true;
  return 1;  // a positive return stops H5Ovisit without an error
}
}  // namespace

bool visit_objects(hid_t group, const std::function<bool(const VisitEntry&)>& each, ErrorInfo* err) {
  EachCtx ctx{&each};
  if (H5Ovisit2(group, H5_INDEX_NAME, H5_ITER_INC, on_visit_each, &ctx, H5O_INFO_BASIC) < 0) {
    *err = capture_error("visit objects");
    return false;
  }
  return !ctx.stopped;
}

hid_t open_by_address(hid_t loc, haddr_t addr, ErrorInfo* err) {
  hid_t id = H5Oopen_by_addr(loc, addr);
  if (id < 0) *err = capture_error("open object by address");
  return id;
}

}  // namespace h5v::h5
