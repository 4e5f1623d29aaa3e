// The structure of a file beyond plain groups and datasets: links (soft, hard,
// external; delete, move, copy), resizable datasets, creation-order tracking,
// dimension scales and in-memory file images. Plain C++ (no napi); the caller
// holds the global lock for every function here.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <hdf5.h>

#include "../common/error.h"

namespace h5v::h5 {

// --- links ---

// True if the link `path` itself exists below `loc` (a dangling soft link
// counts; the enclosing groups must exist and are reached through no external
// link).
bool link_exists(hid_t loc, const std::string& path);
bool create_soft_link(hid_t loc, const std::string& target, const std::string& name, ErrorInfo* err);
// `target` must name an existing object (H5_NOT_FOUND otherwise).
bool create_hard_link(hid_t loc, const std::string& target, const std::string& name, ErrorInfo* err);
bool create_external_link(hid_t loc, const std::string& file, const std::string& object, const std::string& name,
                          ErrorInfo* err);
bool delete_link(hid_t loc, const std::string& name, ErrorInfo* err);
bool move_link(hid_t loc, const std::string& from, const std::string& to, ErrorInfo* err);
// H5Ocopy: `src` below src_loc to `dst` below dst_loc (which may be in another
// file). Soft links inside the copied tree stay soft links.
bool copy_object(hid_t src_loc, const std::string& src, hid_t dst_loc, const std::string& dst, ErrorInfo* err);

struct LinkValue {
  std::string type;    // "hard" | "soft" | "external"
  std::string target;  // soft: the path it names; external: the object path in the other file
  std::string file;    // external: the file name as stored in the link
};
bool link_value(hid_t loc, const std::string& name, LinkValue* out, ErrorInfo* err);

// Opens the object an external link at `path` names, read-only, through
// libhdf5's external-link traversal (the target file is found as libhdf5
// documents for H5Lcreate_external: HDF5_EXT_PREFIX, then the name as
// stored, then relative to the linking file's directory).
hid_t open_external(hid_t loc, const std::string& path, ErrorInfo* err);

// --- resizable datasets ---

// Current and maximum dimensions (H5S_UNLIMITED for unlimited ones).
bool dataset_extent(hid_t dset, std::vector<hsize_t>* dims, std::vector<hsize_t>* maxdims, ErrorInfo* err);
// H5Dset_extent after checking rank, maximum dimensions and layout, so every
// refusal is typed (RangeError / H5_UNSUPPORTED) rather than libhdf5's.
bool resize_dataset(hid_t dset, const std::string& path, const std::vector<hsize_t>& shape, ErrorInfo* err);
// Chunk shape for a resizable dataset created without one: dimensions that
// may grow count as at least 1024 before auto_chunks' ~1 MiB halving.
std::vector<hsize_t> resizable_chunks(const std::vector<hsize_t>& shape, const std::vector<hsize_t>& maxshape,
                                      size_t elem_size);

// --- creation order ---

// Sets link and attribute creation-order tracking and indexing on a group or
// file creation property list (what h5py's track_order=True sets).
void set_track_order(hid_t gcpl_or_fcpl);
// True if the group's links are tracked and indexed by creation order.
bool tracks_order(hid_t group);

// --- dimension scales (the HDF5 Dimension Scale specification's attributes,
// through libhdf5_hl's H5DS functions) ---

struct ScaleRef {
  std::string path;  // the scale dataset's path (its first name)
  std::string name;  // its NAME attribute, "" if none
};
bool is_scale(hid_t dset);
bool scale_name(hid_t dset, std::string* out);
// Scales attached to each dimension of dset.
bool dimension_scales(hid_t dset, std::vector<std::vector<ScaleRef>>* out, ErrorInfo* err);
bool make_scale(hid_t dset, const std::string& name, ErrorInfo* err);
bool attach_scale(hid_t dset, hid_t scale, unsigned dim, ErrorInfo* err);
bool detach_scale(hid_t dset, hid_t scale, unsigned dim, ErrorInfo* err);
// Dimension labels (H5DSset_label / H5DSget_label).
bool set_dimension_label(hid_t dset, unsigned dim, const std::string& label, ErrorInfo* err);
bool dimension_labels(hid_t dset, std::vector<std::string>* out, ErrorInfo* err);

// --- in-memory files ---

// An HDF5 image opened read-only: its bytes in an anonymous, sealed memory
// file (memfd; nothing in this process can change them after they were
// checked), mapped once read-only for libhdf5's core driver, which reads
// that mapping in place through file-image callbacks (no copy of its own).
// Views map the memory file again, privately (mmap layer, from fd), so a
// stray write into a view never reaches the bytes libhdf5 parses.
struct Image {
  int fd = -1;
  uint8_t* base = nullptr;
  size_t size = 0;
  ~Image();
};
std::shared_ptr<Image> make_image(const uint8_t* data, size_t size, ErrorInfo* err);
// File access for an Image (read-only), or for a new file that lives only in
// memory (core driver, no backing store) when image is null. Negative on
// failure.
hid_t memory_fapl(const std::shared_ptr<Image>& image);
// A unique name for a new in-memory file: libhdf5 treats two core-driver
// files with the same name as the same open file.
std::string memory_file_name();
// The current bytes of an open file (H5Fget_file_image), after a flush.
bool file_image(hid_t fid, std::vector<uint8_t>* out, ErrorInfo* err);

}  // namespace h5v::h5
