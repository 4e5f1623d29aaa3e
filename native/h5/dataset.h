// Dataset creation, description and (serial, libhdf5) read/write. Plain C++;
// the caller holds the global lock for everything here. The parallel engine
// (native/engine) is tried first by the napi layer for chunked data.
#pragma once
#include <string>
#include <vector>

#include <hdf5.h>

#include "../common/error.h"
#include "../common/selection.h"
#include "types.h"

namespace h5v::h5 {

struct FilterInfo {
  int id = 0;
  std::string name;  // "gzip", "shuffle", "fletcher32", "szip", "lzf", "lz4", "zstd", "blosc", "bitshuffle",
                     // "scaleoffset", "nbit", or HDF5's name
  unsigned flags = 0;
  std::vector<unsigned> cd_values;
  bool available = true;  // H5Zfilter_avail
};

struct DatasetInfo {
  TypeInfo type;
  std::vector<hsize_t> shape;
  std::vector<hsize_t> chunks;  // empty unless chunked
  std::string layout;           // "contiguous" | "chunked" | "compact" | "virtual"
  std::vector<FilterInfo> filters;
  hsize_t storage_size = 0;      // bytes allocated in the file
  haddr_t offset = HADDR_UNDEF;  // contiguous data offset (H5Dget_offset)
  bool external = false;         // external raw-data files (H5Pget_external_count > 0)
  bool allocated = false;
  bool scalar = false;
  hsize_t nelements = 0;
};

bool describe_dataset(hid_t dset, DatasetInfo* info, ErrorInfo* err);

struct CreateSpec {
  DType dtype = DType::Float32;
  std::vector<hsize_t> shape;
  bool scalar = false;
  std::vector<hsize_t> chunks;  // empty: contiguous unless filters need chunks (then auto)
  // Maximum dimensions (H5S_UNLIMITED for unlimited); empty: fixed at `shape`.
  // Resizable datasets are chunked (auto chunks if none are given).
  std::vector<hsize_t> maxshape;
  std::string compression;  // "", "gzip", "lzf", "lz4", "zstd", "blosc", "bitshuffle", "szip"
  int gzip_level = 4;
  bool szip_ec = false;  // false = nn
  unsigned szip_ppb = 32;
  unsigned lz4_block = 0;               // 0 = filter default
  int zstd_level = 3;                   // 1..22 (hdf5plugin default 3)
  int blosc_level = 5;                  // 0..9
  unsigned blosc_shuffle = 1;           // 0 none, 1 byte, 2 bit
  unsigned blosc_compressor = 1;        // Blosc code: 0 blosclz 1 lz4 2 lz4hc 4 zlib 5 zstd
  unsigned bitshuffle_block = 0;        // elements, multiple of 8; 0 = the filter default
  unsigned bitshuffle_compression = 2;  // 0 none, 2 LZ4, 3 zstd (level: zstd_level)
  bool shuffle = false;
  bool fletcher32 = false;
};

// Chunk shape aiming at ~target bytes (1 MiB): halves the largest dims.
std::vector<hsize_t> auto_chunks(const std::vector<hsize_t>& shape, size_t elem_size, size_t target = size_t(1) << 20);

hid_t create_dataset(hid_t parent, const std::string& name, const CreateSpec& spec, ErrorInfo* err);

// The largest extent h5vault gives a dataset or attribute: elements x element
// size at most 2^63 - 1 bytes, the largest offset in an HDF5 file. Beyond it
// libhdf5's own element counts wrap (a [2^31, 2^31, 2^31] extent has "0
// elements") and a write into it crashes inside libhdf5; chunked or not, no
// such dataset could ever be written out. Dimensions equal to H5S_UNLIMITED
// are skipped (they bound nothing until a resize names a size).
bool extent_fits(const std::vector<hsize_t>& dims, size_t item);
// H5_TOO_LARGE "<what>: shape [...] of <item>-byte elements is ..." unless
// extent_fits(dims, item). Every creation and resize calls this.
bool check_extent(const std::vector<hsize_t>& dims, size_t item, const std::string& what, ErrorInfo* err);

// Returns false + H5_FILTER_UNAVAILABLE naming the filter id if any mandatory
// filter is missing (a missing optional one is left to the read, per chunk).
bool check_filters(const DatasetInfo& info, const std::string& path, ErrorInfo* err);
// After a failed read: an H5_FILTER_UNAVAILABLE message names the missing filters.
void name_missing_filters(const DatasetInfo& info, const std::string& path, ErrorInfo* err);

// Number of elements selected (validates the selection against the shape).
bool selection_elements(const DatasetInfo& info, const Selection& sel, hsize_t* n, std::vector<hsize_t>* out_shape,
                        ErrorInfo* err);

// Serial read/write of numeric data through libhdf5 (type conversion included).
bool read_numeric(hid_t dset, DType dtype, const Selection& sel, void* out, ErrorInfo* err);
bool write_numeric(hid_t dset, DType dtype, const Selection& sel, const void* in, ErrorInfo* err);
// Most variable-length bytes one read_strings() call decodes (H5_LIMIT_EXCEEDED
// beyond): the size of the largest string V8 can hold.
constexpr uint64_t kMaxVlenReadBytes = uint64_t(512) << 20;
bool read_strings(hid_t dset, const Selection& sel, std::vector<std::string>* out, ErrorInfo* err);
bool write_strings(hid_t dset, const Selection& sel, const std::vector<std::string>& in, ErrorInfo* err);

}  // namespace h5v::h5
