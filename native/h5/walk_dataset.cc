// The untrusted walk's dataset checks (walk_internal.h): layout, filters
// against the allow-list, declared against stored and decoded sizes (shape
// bombs), every chunk index entry against the file's end, variable-length
// data, and the generic read of types without a flat dtype. The object graph
// that reaches each dataset is walk.cc's.
#include <algorithm>
#include <cstdio>
#include <limits>
#include <string>
#include <vector>

#include <hdf5.h>

#include "../common/error.h"
#include "../common/hid.h"
#include "../filters/bounded.h"
#include "dataset.h"
#include "heap_check.h"
#include "types.h"
#include "value.h"
#include "walk_internal.h"

namespace h5v::h5::walk_detail {

namespace {

// Mirrors the engine's addressed-index threshold (native/engine/chunk_index.h):
// up to this many grid slots the parent asks H5Dget_chunk_storage_size and
// H5Dget_chunk_info_by_coord for every slot, so the walk does the same; above
// it the parent only ever asks H5Dget_chunk_storage_size + H5Dread_chunk per chunk.
constexpr uint64_t kAddressedChunks = 1024;

}  // namespace

void Walker::visit_dataset(hid_t d, const std::string& path) {
  DatasetInfo info;
  ErrorInfo err;
  if (!describe_dataset(d, &info, &err)) {
    rep_->code = err.code;
    reject("corrupt", err.message, path);
  }
  if (info.layout == "virtual") reject("virtual-dataset", "virtual dataset (maps other files)", path);
  if (info.layout == "unknown") reject("corrupt", "unknown storage layout", path);
  if (info.external) reject("external-storage", "raw data stored in external files", path);
  for (const FilterInfo& f : info.filters) {
    if (std::find(lim_.allowed_filters.begin(), lim_.allowed_filters.end(), f.id) == lim_.allowed_filters.end())
      reject("filter", "filter " + std::to_string(f.id) + " (" + f.name + ") is not in the allow-list", path);
  }
  Hid type(H5Dget_type(d));
  size_t esize = type ? H5Tget_size(type.get()) : 0;
  if (esize == 0) corrupt("dataset type", path);
  // nelements is itself a product of dimensions that libhdf5 may have wrapped.
  uint64_t elements = 1;
  for (hsize_t dim : info.shape) elements = mul_sat(elements, dim);
  if (info.scalar) elements = 1;
  if (info.shape.empty() && !info.scalar) elements = 0;  // null dataspace
  uint64_t declared = mul_sat(esize, elements);

  // Sizes are judged by what reading the dataset would decode from storage
  // (`decoded`), not by the declared extent: a dataset with nothing written
  // reads as fill values and decodes nothing, however large it is declared.
  uint64_t stored = 0, decoded = 0;
  if (info.layout == "chunked") {
    stored = walk_chunks(d, info, esize, path, &decoded);
  } else if (info.layout == "contiguous") {
    if (info.allocated && info.offset != HADDR_UNDEF) {
      stored = info.storage_size;
      uint64_t end = 0;
      if (__builtin_add_overflow(static_cast<uint64_t>(info.offset), std::max<uint64_t>(declared, stored), &end) ||
          end > rep_->file_size)
        reject("out-of-bounds",
               "data at offset " + std::to_string(info.offset) + " + " + human(declared) +
                   " lies past the end of the " + human(rep_->file_size) + " file",
               path);
    }
    decoded = stored;
  } else {  // compact: the data lives in the object header itself
    stored = decoded = info.storage_size;
  }
  if (decoded > lim_.max_dataset_bytes)
    reject("dataset-too-large",
           "dataset stores " + human(decoded) + " to decode (limit " + human(lim_.max_dataset_bytes) + ")", path);
  decoded = std::max(decoded, vlen_bytes(d, info, path));
  // DBL_MAX is "no limit" (JS Infinity crosses JSON as Number.MAX_VALUE);
  // it must also pass datasets with nothing stored, where any ratio is infinite.
  bool unlimited = lim_.max_expansion >= std::numeric_limits<double>::max();
  if (!unlimited && decoded > lim_.expansion_floor &&
      static_cast<double>(decoded) > lim_.max_expansion * static_cast<double>(stored)) {
    char ratio[32];
    snprintf(ratio, sizeof ratio, "%g", lim_.max_expansion);
    reject("shape-bomb", "decodes " + human(decoded) + " from " + human(stored) + " stored (more than " + ratio + "x)",
           path);
  }
  rep_->declared_bytes += declared;
  rep_->stored_bytes += stored;
  if (info.type.dtype == DType::Unsupported && elements > 0) read_generic(d, path);
}

// Types without a flat dtype (compound, vlen sequences, references, array,
// enum, opaque, bitfield, odd-size numbers) are read by the parent through
// libhdf5's type conversion (H5Dread into a converted memory type), which a
// damaged type or heap can crash (a compound member of absurd size, a
// reference into garbage, nested sequences pointing anywhere). Sizes are
// checked above; here the child does the very read the parent will, so such
// a crash stays in the child.
void Walker::read_generic(hid_t d, const std::string& path) {
  ValueResult val;
  ErrorInfo err;
  const bool ok = read_value(d, nullptr, Selection{}, &val, &err);
  if (ok) return;
  // Types h5vault cannot represent fail the same typed way in the parent.
  if (err.code == "H5_UNSUPPORTED_TYPE") return;
  rep_->code = err.code;
  reject(err.code == "H5_LIMIT_EXCEEDED" ? "dataset-too-large"
         : is_allocation_failure(err)    ? "memory"
                                         : "corrupt",
         err.message, path);
}

// Variable-length data (strings, sequences, and compounds or arrays holding
// them): the bytes a read of the whole dataset decodes (many elements may
// reference one large heap object). 0 for other types.
uint64_t Walker::vlen_bytes(hid_t d, const DatasetInfo& info, const std::string& path) {
  // A scalar holds one string: nothing to amplify (and libhdf5 1.10.8
  // crashes measuring a scalar dataspace).
  if (info.scalar) return 0;
  Hid ftype(H5Dget_type(d));
  Hid space(H5Dget_space(d));
  if (!ftype || !space) corrupt("datatype", path);
  // Strings, vlen sequences, and compounds/arrays holding them: measured
  // with the memory type the read will use.
  TypeNode node;
  hid_t m = H5I_INVALID_HID;
  ErrorInfo terr;
  if (!describe_value_type(ftype.get(), &node, &m, &terr)) return 0;  // unreadable: refused typed at read time
  Hid mtype(m);
  if (!node.has_vlen) return 0;
  hsize_t bytes = 0;
  filters::DecodeLimit limit(filters::chunk_decode_limit(d));
  HeapCheckScope heap(d);
  if (H5Dvlen_get_buf_size(d, mtype.get(), space.get(), &bytes) < 0) {
    if (heap.failed()) {
      rep_->code = "H5_CORRUPT";
      reject("corrupt", heap.error_or_capture("variable-length data").message, path);
    }
    corrupt("variable-length data", path);
  }
  if (bytes > lim_.max_vlen_bytes)
    reject("dataset-too-large",
           std::string(node.kind == Kind::String ? "strings decode to " : "variable-length data decodes to ") +
               human(bytes) + " (limit maxVlenBytes " + human(lim_.max_vlen_bytes) + ")",
           path);
  return bytes;
}

// Returns the stored bytes of all allocated chunks; *decoded: what they decode to.
uint64_t Walker::walk_chunks(hid_t d, const DatasetInfo& info, size_t esize, const std::string& path,
                             uint64_t* decoded) {
  const size_t rank = info.shape.size();
  if (info.chunks.size() != rank || rank == 0) reject("corrupt", "chunk rank does not match the dataspace", path);
  uint64_t chunk_bytes = esize, grid = 1;
  std::vector<hsize_t> gridv(rank);
  for (size_t i = 0; i < rank; ++i) {
    if (info.chunks[i] == 0) reject("corrupt", "zero chunk dimension", path);
    chunk_bytes = mul_sat(chunk_bytes, info.chunks[i]);
    gridv[i] = info.shape[i] / info.chunks[i] + (info.shape[i] % info.chunks[i] != 0);
    grid = mul_sat(grid, gridv[i]);
  }
  if (chunk_bytes > lim_.max_chunk_bytes)
    reject("chunk-too-large", "chunks of " + human(chunk_bytes) + " (limit " + human(lim_.max_chunk_bytes) + ")", path);
  hsize_t nalloc = 0;
  Hid space(H5Dget_space(d));
  std::vector<hsize_t> dims(rank), maxdims(rank);
  if (!space || H5Sget_simple_extent_dims(space.get(), dims.data(), maxdims.data()) != static_cast<int>(rank))
    corrupt("dataspace", path);
  // libhdf5 never writes a chunk wider than a fixed-size dimension; its
  // read path trusts that (CVE-2018-11205: out-of-bounds copy).
  for (size_t i = 0; i < rank; ++i) {
    if (maxdims[i] != H5S_UNLIMITED && info.chunks[i] > maxdims[i])
      reject("corrupt",
             "chunk dimension " + std::to_string(i) + " (" + std::to_string(info.chunks[i]) +
                 ") exceeds the fixed maximum extent " + std::to_string(maxdims[i]),
             path);
  }
  if (grid > 0 && H5Dget_num_chunks(d, space.get(), &nalloc) < 0) corrupt("chunk index", path);
  if (nalloc > grid)
    reject("corrupt", "chunk index lists " + std::to_string(nalloc) + " chunks for " + std::to_string(grid) + " slots",
           path);
  // The limit is on chunks that exist: a huge, sparsely written (or
  // unwritten) grid decodes only what is stored. Past the grid limit the
  // few stored chunks are listed by index (quadratic in libhdf5 1.10, so
  // only up to the addressed-index threshold).
  const bool by_index = grid > lim_.max_chunks;
  if (nalloc > lim_.max_chunks || (by_index && nalloc > kAddressedChunks))
    reject("too-many-chunks",
           "chunk grid of " + std::to_string(grid) + " slots with " + std::to_string(nalloc) + " stored (limit " +
               std::to_string(lim_.max_chunks) + ")",
           path);
  uint64_t stored = 0, nstored = 0;
  *decoded = 0;
  // What one stored chunk may occupy: the chunk, plus what any allowed
  // filter can add to incompressible data (far less than this), plus checksums.
  const uint64_t max_stored = mul_sat(chunk_bytes, 2) + (uint64_t(1) << 20);
  std::vector<hsize_t> gc(rank, 0), off(rank, 0);
  const uint64_t steps = by_index ? nalloc : grid;
  for (uint64_t slot = 0; nalloc > 0 && slot < steps; ++slot) {
    for (size_t i = 0; i < rank; ++i) off[i] = gc[i] * info.chunks[i];
    hsize_t size = 0;
    if (by_index) {
      unsigned mask = 0;
      haddr_t addr = HADDR_UNDEF;
      if (H5Dget_chunk_info(d, space.get(), slot, off.data(), &mask, &addr, &size) < 0) corrupt("chunk index", path);
      check_chunk_extent(addr, size, path);
    } else if (grid <= kAddressedChunks) {
      unsigned mask = 0;
      haddr_t addr = HADDR_UNDEF;
      if (H5Dget_chunk_info_by_coord(d, off.data(), &mask, &addr, &size) < 0) corrupt("chunk index", path);
      if (addr != HADDR_UNDEF) check_chunk_extent(addr, size, path);
      // The engine also asks the real lookup for every slot and counts what
      // it finds (chunk_index.h: _by_coord mislabels some index types).
      if (H5Dget_chunk_storage_size(d, off.data(), &size) < 0) {
        clear_error_stack();
        size = 0;
      }
    } else if (H5Dget_chunk_storage_size(d, off.data(), &size) < 0) {
      // Unallocated chunks fail this call in 1.10.8; that is not corruption.
      clear_error_stack();
      size = 0;
    }
    if (size > max_stored)
      reject("chunk-too-large", "a chunk stores " + human(size) + " for " + human(chunk_bytes) + " of data", path);
    if (size > 0) {
      ++rep_->chunks;
      stored += size;
      *decoded = mul_sat(++nstored, chunk_bytes);
    }
    for (size_t i = rank; i-- > 0;) {
      if (++gc[i] < gridv[i]) break;
      gc[i] = 0;
    }
  }
  return stored;
}

void Walker::check_chunk_extent(haddr_t addr, hsize_t size, const std::string& path) {
  uint64_t end = 0;
  if (size > 0 &&
      (addr == HADDR_UNDEF || __builtin_add_overflow(static_cast<uint64_t>(addr) + userblock_, size, &end) ||
       end > rep_->file_size))
    reject("out-of-bounds",
           "chunk at " + std::to_string(addr) + " + " + human(size) + " lies past the end of the " +
               human(rep_->file_size) + " file",
           path);
}

}  // namespace h5v::h5::walk_detail
