// Group and link operations (links.cc): object kinds, path rules, link
// lookups that never follow an external link unless asked, group creation,
// link listing and the hard-link visit. Plain C++ over libhdf5 (no napi);
// the caller holds the global lock. File and object lifetimes: file.h.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include <hdf5.h>

#include "../common/error.h"

namespace h5v::h5 {

enum class ObjKind { Group, Dataset, Datatype, Other };

ObjKind obj_kind(H5O_type_t t);
// "group" | "dataset" | "datatype" | "other": the names JS sees.
const char* obj_kind_name(ObjKind k);

// Creates intermediate groups as needed ('a/b/c'); H5_EXISTS if present.
// With track_order, the new group tracks and indexes creation order.
hid_t create_group(hid_t parent, const std::string& path, ErrorInfo* err, bool track_order = false);
// Opens the object at path (follows soft links); H5_NOT_FOUND if absent,
// H5_DANGLING_LINK for a soft link to nothing. An external link as the last
// component is refused (H5_UNSUPPORTED) unless follow_external, which opens
// its target read-only (*foreign is then set: the object is in another file).
hid_t open_object(hid_t parent, const std::string& path, ObjKind* kind, ErrorInfo* err, bool follow_external = false,
                  bool* foreign = nullptr);
bool path_exists(hid_t parent, const std::string& path);
// A link access property list for name lookups. Unless follow_external, its
// external-link callback refuses every traversal: a soft link whose target
// runs through an external link ('/s' -> '/ext/x') would otherwise make
// libhdf5 open the linked file behind any lookup of '/s'. With
// follow_external, linked files are opened read-only. Shared: never close it.
hid_t link_access(bool follow_external);

struct LinkEntry {
  std::string name;
  std::string kind;  // "group" | "dataset" | "datatype" | "dangling" | "external" | "other"
  std::string link;  // "hard" | "soft" | "external"
};
// Links of a group, in creation order if the group tracks and indexes it
// (h5py's track_order=True), else in name order (as h5py lists them).
// External links are listed but never followed.
bool list_links(hid_t group, std::vector<LinkEntry>* out, ErrorInfo* err);
std::string object_identity(hid_t obj);

// Join a parent path and a relative path into an absolute one.
std::string join_path(const std::string& parent, const std::string& rel);
// Rejects empty components, '.'/'..', absolute paths inside names etc.
bool valid_relative_path(const std::string& p, std::string* why);

struct VisitEntry {
  std::string path;  // relative to the visited group, e.g. "block0/q"
  ObjKind kind;
  haddr_t addr;
};
// Every object below `group` reachable through hard links, each once, depth-first
// in name order (H5Ovisit: the same traversal as h5py's visititems). Soft,
// dangling and external links are not followed.
bool visit_objects(hid_t group, std::vector<VisitEntry>* out, ErrorInfo* err);
// The same traversal, handing each object to `each` while libhdf5 still holds
// its header in the metadata cache (opening it then reads no file bytes). A
// false return stops the traversal; the function then returns false too.
bool visit_objects(hid_t group, const std::function<bool(const VisitEntry&)>& each, ErrorInfo* err);
// Opens an object by its header address (no path traversal).
hid_t open_by_address(hid_t loc, haddr_t addr, ErrorInfo* err);

}  // namespace h5v::h5
