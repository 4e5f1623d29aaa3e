// See ohdr_walk.h.
#include "ohdr_walk.h"

#include <sys/stat.h>

#include <cstring>
#include <unordered_set>
#include <vector>

#include "../common/hid.h"
#include "../common/error.h"
#include "ohdr.h"

namespace h5v::h5 {

namespace {

constexpr int kMaxDepth = 64;

struct Walk {
  hid_t fid;
  ohdr::FileSource* src;
  uint64_t eoa;
  const std::function<void(const std::string&, DatasetInfo&&)>* each;
  ParsedWalkStats* stats;
  std::unordered_set<haddr_t> seen;
  bool ok = true;
};

struct Link {
  std::string name;
  haddr_t addr;
};

herr_t on_link(hid_t, const char* name, const H5L_info_t* info, void* data) {
  auto* links = static_cast<std::vector<Link>*>(data);
  if (info->type == H5L_TYPE_HARD) links->push_back({name, info->u.address});
  return 0;
}

DatasetInfo from_parsed(const ohdr::Dataset& d) {
  DatasetInfo info;
  info.type.dtype = d.dtype;
  info.shape.assign(d.shape.begin(), d.shape.end());
  info.scalar = d.scalar;
  info.nelements = d.nelements;
  info.layout = "contiguous";
  info.allocated = d.addr != ohdr::kUndefined;
  info.offset = info.allocated ? d.addr : HADDR_UNDEF;
  info.storage_size = info.allocated ? d.bytes : 0;
  return info;
}

bool walk_group(Walk* w, hid_t group, const std::string& prefix, int depth) {
  if (depth > kMaxDepth) return false;
  std::vector<Link> links;
  // Native order: a dense group's names are not sorted for us (the caller keys rows by path).
  hsize_t idx = 0;
  if (H5Literate(group, H5_INDEX_NAME, H5_ITER_NATIVE, &idx, on_link, &links) < 0) return false;
  for (const Link& l : links) {
    // H5Ovisit lists an object once; a second link to it is left to that
    // path. So are names no path can hold ('', '.', a '/' inside, a NUL cut):
    // a damaged link whose name would alias another tensor's path.
    if (!w->seen.insert(l.addr).second || l.name.empty() || l.name == "." || l.name.find('/') != std::string::npos ||
        l.name.size() != std::strlen(l.name.c_str()))
      return false;
    const std::string path = prefix + l.name;
    ohdr::Dataset d;
    if (ohdr::parse_dataset(*w->src, l.addr, w->eoa, &d) == ohdr::Result::Dataset) {
      ++w->stats->parsed;
      (*w->each)(path, from_parsed(d));
      continue;
    }
    Hid obj(H5Oopen_by_addr(w->fid, l.addr));
    if (!obj) return false;
    const H5I_type_t kind = H5Iget_type(obj.get());
    ++(kind == H5I_GROUP ? w->stats->groups : w->stats->opened);
    switch (kind) {
      case H5I_GROUP:
        if (!walk_group(w, obj.get(), path + "/", depth + 1)) return false;
        break;
      case H5I_DATASET: {
        DatasetInfo info;
        ErrorInfo err;
        if (!describe_dataset(obj.get(), &info, &err)) return false;
        (*w->each)(path, std::move(info));
        break;
      }
      default:
        break;  // named datatypes: H5Ovisit lists them, loadModel ignores them
    }
  }
  return true;
}

// The checks of parsed_layouts; false on any refusal.
bool walk_file(hid_t fid, const std::function<void(const std::string&, DatasetInfo&&)>& each, ParsedWalkStats* stats) {
  // Read-only (no cached header newer than the disk), sec2 (the descriptor's
  // bytes are what libhdf5 parses).
  unsigned intent = 0;
  if (H5Fget_intent(fid, &intent) < 0 || intent != H5F_ACC_RDONLY) return false;
  Hid fapl(H5Fget_access_plist(fid));
  if (!fapl || H5Pget_driver(fapl.get()) != H5FD_SEC2) return false;
  void* vh = nullptr;
  haddr_t eoa = HADDR_UNDEF;
  struct stat st;
  if (H5Fget_vfd_handle(fid, fapl.get(), &vh) < 0 || !vh || H5Fget_eoa(fid, &eoa) < 0 || eoa == HADDR_UNDEF ||
      ::fstat(*static_cast<int*>(vh), &st) != 0 || static_cast<uint64_t>(st.st_size) < eoa)
    return false;
  ohdr::FileSource src(*static_cast<int*>(vh), eoa);
  if (!ohdr::plain_superblock(src)) return false;
  Hid root(H5Gopen2(fid, "/", H5P_DEFAULT));
  H5O_info_t oi;
  if (!root || H5Oget_info2(root.get(), &oi, H5O_INFO_BASIC) < 0) return false;
  Walk w{fid, &src, eoa, &each, stats, {}};
  w.seen.insert(oi.addr);  // a link back to the root: H5Ovisit does not list it again
  return walk_group(&w, root.get(), "/", 0);
}

}  // namespace

bool parsed_layouts(hid_t fid, const std::function<void(const std::string&, DatasetInfo&&)>& each,
                    ParsedWalkStats* stats) {
  const bool ok = walk_file(fid, each, stats);
  if (!ok) clear_error_stack();  // the H5Ovisit path then reports its own errors
  return ok;
}

}  // namespace h5v::h5
