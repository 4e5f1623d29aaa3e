#include "dataset.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <memory>
#include <new>

#include "../filters/bounded.h"
#include "../filters/register.h"
#include "../common/hid.h"
#include "heap_check.h"
#include "value.h"
#include "structure.h"

namespace h5v::h5 {

namespace {

const char* filter_short_name(int id) {
  switch (id) {
    case H5Z_FILTER_DEFLATE:
      return "gzip";
    case H5Z_FILTER_SHUFFLE:
      return "shuffle";
    case H5Z_FILTER_FLETCHER32:
      return "fletcher32";
    case H5Z_FILTER_SZIP:
      return "szip";
    case H5Z_FILTER_NBIT:
      return "nbit";
    case H5Z_FILTER_SCALEOFFSET:
      return "scaleoffset";
    case filters::kFilterLzf:
      return "lzf";
    case filters::kFilterLz4:
      return "lz4";
    case filters::kFilterZstd:
      return "zstd";
    case filters::kFilterBlosc:
      return "blosc";
    case filters::kFilterBitshuffle:
      return "bitshuffle";
    default:
      return nullptr;
  }
}

// Selects `sel` in a copy of the dataset's file space; returns the memory space.
bool make_spaces(hid_t dset, const Selection& sel, Hid* fspace, Hid* mspace, ErrorInfo* err) {
  fspace->reset(H5Dget_space(dset));
  if (!*fspace) {
    *err = capture_error("get dataspace");
    return false;
  }
  if (sel.start.empty()) {
    mspace->reset(H5Scopy(fspace->get()));
    H5Sselect_all(mspace->get());
    return true;
  }
  const hsize_t* step = sel.step.empty() ? nullptr : sel.step.data();
  if (H5Sselect_hyperslab(fspace->get(), H5S_SELECT_SET, sel.start.data(), step, sel.count.data(), nullptr) < 0) {
    *err = capture_error("select hyperslab");
    return false;
  }
  mspace->reset(H5Screate_simple(static_cast<int>(sel.count.size()), sel.count.data(), nullptr));
  return true;
}

}  // namespace

bool describe_dataset(hid_t dset, DatasetInfo* info, ErrorInfo* err) {
  Hid type(H5Dget_type(dset));
  Hid space(H5Dget_space(dset));
  if (!type || !space) {
    *err = capture_error("describe dataset");
    return false;
  }
  info->type = describe_type(type.get());
  H5S_class_t sc = H5Sget_simple_extent_type(space.get());
  info->scalar = sc == H5S_SCALAR;
  int rank = H5Sget_simple_extent_ndims(space.get());
  if (rank < 0) {
    *err = capture_error("get rank");
    return false;
  }
  info->shape.assign(static_cast<size_t>(rank), 0);
  if (rank > 0) H5Sget_simple_extent_dims(space.get(), info->shape.data(), nullptr);
  hssize_t np = H5Sget_simple_extent_npoints(space.get());
  info->nelements = sc == H5S_NULL ? 0 : static_cast<hsize_t>(np < 0 ? 0 : np);

  // Fast path (it dominates opening a model): a defined data offset means
  // contiguous, allocated, no filters and no external files, so the costly
  // H5Dget_create_plist copy is not needed.
  haddr_t offset = H5Dget_offset(dset);
  clear_error_stack();  // undefined offsets push an error in 1.10
  if (offset != HADDR_UNDEF) {
    info->layout = "contiguous";
    info->offset = offset;
    info->allocated = true;
    info->storage_size = H5Dget_storage_size(dset);
    return true;
  }
  Hid dcpl(H5Dget_create_plist(dset));
  if (!dcpl) {
    *err = capture_error("describe dataset");
    return false;
  }
  H5D_layout_t layout = H5Pget_layout(dcpl.get());
  switch (layout) {
    case H5D_CONTIGUOUS:
      info->layout = "contiguous";
      break;
    case H5D_CHUNKED:
      info->layout = "chunked";
      break;
    case H5D_COMPACT:
      info->layout = "compact";
      break;
    case H5D_VIRTUAL:
      info->layout = "virtual";
      break;
    default:
      info->layout = "unknown";
      break;
  }
  if (layout == H5D_CHUNKED) {
    info->chunks.assign(static_cast<size_t>(rank), 0);
    H5Pget_chunk(dcpl.get(), rank, info->chunks.data());
  }
  int nf = H5Pget_nfilters(dcpl.get());
  for (int i = 0; i < nf; ++i) {
    FilterInfo f;
    unsigned flags = 0, config = 0;
    size_t ncd = 16;
    unsigned cd[16];
    char name[128] = {0};
    H5Z_filter_t id =
        H5Pget_filter2(dcpl.get(), static_cast<unsigned>(i), &flags, &ncd, cd, sizeof name, name, &config);
    f.id = id;
    f.flags = flags;
    f.cd_values.assign(cd, cd + std::min<size_t>(ncd, 16));
    const char* shortn = filter_short_name(id);
    f.name = shortn ? shortn : (name[0] ? name : "filter " + std::to_string(id));
    f.available = H5Zfilter_avail(id) > 0;
    info->filters.push_back(std::move(f));
  }
  info->external = H5Pget_external_count(dcpl.get()) > 0;
  info->storage_size = H5Dget_storage_size(dset);
  H5D_space_status_t status;
  if (H5Dget_space_status(dset, &status) >= 0) info->allocated = status != H5D_SPACE_STATUS_NOT_ALLOCATED;
  info->offset = HADDR_UNDEF;  // the fast path above handles defined offsets
  return true;
}

std::vector<hsize_t> auto_chunks(const std::vector<hsize_t>& shape, size_t elem_size, size_t target) {
  std::vector<hsize_t> c(shape.size());
  for (size_t i = 0; i < shape.size(); ++i) c[i] = std::max<hsize_t>(shape[i], 1);
  if (elem_size == 0) elem_size = 1;
  auto bytes = [&] {
    long double b = static_cast<long double>(elem_size);
    for (auto v : c) b *= static_cast<long double>(v);
    return b;
  };
  // Halve the largest dimension until the chunk fits; the last dims (rows of a
  // weight matrix) stay whole as long as possible because the largest goes first.
  while (bytes() > static_cast<long double>(target)) {
    size_t big = 0;
    for (size_t i = 1; i < c.size(); ++i)
      if (c[i] > c[big]) big = i;
    if (c[big] <= 1) break;
    c[big] = (c[big] + 1) / 2;
  }
  return c;
}

namespace {

// The end of the file moved past the new storage at creation, but libhdf5
// only extends the file itself when it closes it, where a failure (a file
// larger than the filesystem or RLIMIT_FSIZE allows: EFBIG) cannot be undone
// and leaves nothing but a failed close. So ask the filesystem now, with a
// scratch file in the same directory grown to that size (sparse: no data is
// written). Never the file itself: growing it would leave it longer than
// libhdf5's end of file, and cutting it back could cut a concurrent write.
bool file_can_hold_allocation(hid_t parent, const std::string& name, ErrorInfo* err) {
  hid_t fid = H5Iget_file_id(parent);
  haddr_t eoa = 0;
  void* vh = nullptr;
  std::string fname;
  if (fid >= 0 && H5Fget_eoa(fid, &eoa) >= 0 && H5Fget_vfd_handle(fid, H5P_DEFAULT, &vh) >= 0 && vh != nullptr) {
    ssize_t n = H5Fget_name(fid, nullptr, 0);
    if (n > 0) {
      fname.resize(static_cast<size_t>(n) + 1);
      H5Fget_name(fid, fname.data(), fname.size());
      fname.resize(static_cast<size_t>(n));
    }
  }
  if (fid >= 0) H5Idec_ref(fid);
  clear_error_stack();
  if (fname.empty()) return true;  // not a POSIX file: libhdf5 reports any failure itself
  struct stat st;
  if (::fstat(*static_cast<int*>(vh), &st) != 0 || static_cast<uint64_t>(st.st_size) >= eoa) return true;
  size_t slash = fname.find_last_of('/');
  std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : fname.substr(0, slash);
#ifdef O_TMPFILE
  int probe = ::open(dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
#else
  int probe = -1;
#endif
  if (probe < 0) {
    std::string tmpl = dir + "/.h5vault-size-probe-XXXXXX";
    probe = ::mkstemp(tmpl.data());
    if (probe >= 0) ::unlink(tmpl.c_str());
  }
  if (probe < 0) return true;  // cannot ask: libhdf5 reports it at close
  int rc = ::ftruncate(probe, static_cast<off_t>(eoa));
  int e = errno;
  ::close(probe);
  if (rc == 0) return true;
  std::string why = std::string(std::strerror(e)) + ", errno = " + std::to_string(e);
  if (e == EFBIG || e == EINVAL) {
    *err = ErrorInfo::make("H5_TOO_LARGE", "cannot create dataset '" + name +
                                               "': its contiguous storage would make the file " + std::to_string(eoa) +
                                               " bytes, more than this filesystem allows (" + why +
                                               "); give it chunks to store it sparsely");
  } else {
    *err = ErrorInfo::make("H5_IO", "cannot create dataset '" + name + "': cannot tell whether the file can grow to " +
                                        std::to_string(eoa) + " bytes (" + why + ")");
  }
  return false;
}

}  // namespace

bool extent_fits(const std::vector<hsize_t>& dims, size_t item) {
  constexpr uint64_t kMax = static_cast<uint64_t>(INT64_MAX);
  uint64_t bytes = std::max<size_t>(item, 1);
  for (hsize_t d : dims) {
    if (d == H5S_UNLIMITED) continue;
    if (d == 0) return true;  // empty: nothing to address, whatever the other dims
  }
  for (hsize_t d : dims) {
    if (d == H5S_UNLIMITED) continue;
    if (__builtin_mul_overflow(bytes, static_cast<uint64_t>(d), &bytes) || bytes > kMax) return false;
  }
  return true;
}

bool check_extent(const std::vector<hsize_t>& dims, size_t item, const std::string& what, ErrorInfo* err) {
  if (extent_fits(dims, item)) return true;
  std::string shape;
  long double log2 = std::log2(static_cast<long double>(std::max<size_t>(item, 1)));
  for (hsize_t d : dims) {
    shape += (shape.empty() ? "" : ", ") + (d == H5S_UNLIMITED ? std::string("unlimited") : std::to_string(d));
    if (d != H5S_UNLIMITED) log2 += std::log2(static_cast<long double>(d));
  }
  *err = ErrorInfo::make("H5_TOO_LARGE", what + ": shape [" + shape + "] of " + std::to_string(item) +
                                             "-byte elements is about 2^" + std::to_string(static_cast<int>(log2)) +
                                             " bytes, more than the 2^63 - 1 bytes an HDF5 file can address");
  return false;
}

hid_t create_dataset(hid_t parent, const std::string& name, const CreateSpec& spec, ErrorInfo* err) {
  Hid ftype(make_file_type(spec.dtype));
  if (!ftype) {
    *err = capture_error("make datatype");
    return H5I_INVALID_HID;
  }
  // Before libhdf5 sees the extent (its element count would wrap), for every
  // layout: the shape, and the finite dimensions of the maximum shape.
  const size_t item = H5Tget_size(ftype.get());
  if (!check_extent(spec.shape, item, "cannot create dataset '" + name + "'", err) ||
      !check_extent(spec.maxshape, item, "cannot create dataset '" + name + "' with this maxshape", err))
    return H5I_INVALID_HID;
  Hid space(spec.scalar ? H5Screate(H5S_SCALAR)
                        : H5Screate_simple(static_cast<int>(spec.shape.size()), spec.shape.data(),
                                           spec.maxshape.empty() ? nullptr : spec.maxshape.data()));
  if (!space) {
    *err = capture_error("make dataspace");
    return H5I_INVALID_HID;
  }
  // A name this addon does not know (a JavaScript layer newer than the addon)
  // must not quietly write the data uncompressed.
  static const char* const kKnown[] = {"", "gzip", "lzf", "lz4", "zstd", "blosc", "bitshuffle", "szip"};
  if (std::none_of(std::begin(kKnown), std::end(kKnown), [&](const char* k) { return spec.compression == k; })) {
    *err = ErrorInfo::make("H5_FILTER_UNAVAILABLE", "cannot create dataset '" + name + "': compression '" +
                                                        spec.compression + "' is not built into this addon");
    return H5I_INVALID_HID;
  }
  Hid dcpl(H5Pcreate(H5P_DATASET_CREATE));
  H5Pset_obj_track_times(dcpl.get(), false);  // reproducible bytes (invariant 7)
  bool filtered = !spec.compression.empty() || spec.shuffle || spec.fletcher32;
  std::vector<hsize_t> chunks = spec.chunks;
  bool resizable = !spec.maxshape.empty() && spec.maxshape != spec.shape;
  if (resizable && chunks.empty())
    chunks = resizable_chunks(spec.shape, spec.maxshape, std::max<size_t>(dtype_size(spec.dtype), 8));
  else if (filtered && chunks.empty())
    chunks = auto_chunks(spec.shape, std::max<size_t>(dtype_size(spec.dtype), 8));
  if (!chunks.empty()) {
    // Chunk dims may not be 0 even for empty dims.
    for (auto& c : chunks) c = std::max<hsize_t>(c, 1);
    if (H5Pset_chunk(dcpl.get(), static_cast<int>(chunks.size()), chunks.data()) < 0) {
      *err = capture_error("set chunk shape");
      return H5I_INVALID_HID;
    }
    // Same write order as h5py: shuffle, compression, fletcher32.
    if (spec.shuffle) H5Pset_shuffle(dcpl.get());
    if (spec.compression == "gzip") {
      H5Pset_deflate(dcpl.get(), static_cast<unsigned>(spec.gzip_level));
    } else if (spec.compression == "lzf") {
      H5Pset_filter(dcpl.get(), filters::kFilterLzf, H5Z_FLAG_OPTIONAL, 0, nullptr);
    } else if (spec.compression == "lz4") {
      unsigned cd[1] = {spec.lz4_block};
      H5Pset_filter(dcpl.get(), filters::kFilterLz4, H5Z_FLAG_OPTIONAL, 1, cd);
    } else if (spec.compression == "zstd") {
      unsigned cd[1] = {unsigned(spec.zstd_level)};  // hdf5plugin.Zstd(clevel): one cd_value
      H5Pset_filter(dcpl.get(), filters::kFilterZstd, H5Z_FLAG_OPTIONAL, 1, cd);
    } else if (spec.compression == "blosc") {
      // Slots 0-3 are filled by the filter's set_local, as hdf5-blosc does.
      unsigned cd[7] = {0, 0, 0, 0, unsigned(spec.blosc_level), spec.blosc_shuffle, spec.blosc_compressor};
      H5Pset_filter(dcpl.get(), filters::kFilterBlosc, H5Z_FLAG_OPTIONAL, 7, cd);
    } else if (spec.compression == "bitshuffle") {
      // hdf5plugin.Bitshuffle's values (block size, compression[, zstd level]);
      // set_local prepends version and element size, as the reference does.
      unsigned cd[3] = {spec.bitshuffle_block, spec.bitshuffle_compression, unsigned(spec.zstd_level)};
      H5Pset_filter(dcpl.get(), filters::kFilterBitshuffle, H5Z_FLAG_OPTIONAL, spec.bitshuffle_compression == 3 ? 3 : 2,
                    cd);
    } else if (spec.compression == "szip") {
      unsigned mask = spec.szip_ec ? H5_SZIP_EC_OPTION_MASK : H5_SZIP_NN_OPTION_MASK;
      if (H5Pset_szip(dcpl.get(), mask, spec.szip_ppb) < 0) {
        *err = capture_error("set szip");
        return H5I_INVALID_HID;
      }
    }
    if (spec.fletcher32) H5Pset_fletcher32(dcpl.get());
  } else if (spec.dtype != DType::String) {
    // Contiguous: allocate at creation, never write the fill value, so the
    // data has a fixed offset at once and views are possible.
    H5Pset_layout(dcpl.get(), H5D_CONTIGUOUS);
    H5Pset_alloc_time(dcpl.get(), H5D_ALLOC_TIME_EARLY);
    H5Pset_fill_time(dcpl.get(), H5D_FILL_TIME_NEVER);
  }
  Hid lcpl(H5Pcreate(H5P_LINK_CREATE));
  H5Pset_create_intermediate_group(lcpl.get(), 1);
  H5Pset_char_encoding(lcpl.get(), H5T_CSET_UTF8);
  bool allocated_now = chunks.empty() && spec.dtype != DType::String;
  hid_t d = H5Dcreate2(parent, name.c_str(), ftype.get(), space.get(), lcpl.get(), dcpl.get(), H5P_DEFAULT);
  if (d < 0) {
    *err = capture_error("create dataset '" + name + "'");
    return d;
  }
  if (allocated_now && !file_can_hold_allocation(parent, name, err)) {
    H5Dclose(d);
    // Deleting the only link frees the storage, and libhdf5 gives the end of
    // the file back, so nothing of the refused dataset remains to be closed.
    H5Ldelete(parent, name.c_str(), H5P_DEFAULT);
    clear_error_stack();
    return H5I_INVALID_HID;
  }
  return d;
}

bool check_filters(const DatasetInfo& info, const std::string& path, ErrorInfo* err) {
  for (const auto& f : info.filters) {
    // An optional filter may have been skipped on every chunk (its bit in
    // the chunk's filter mask); libhdf5's read path decides per chunk and
    // reports a chunk that really needs it as H5_FILTER_UNAVAILABLE.
    if (!f.available && !(f.flags & H5Z_FLAG_OPTIONAL)) {
      *err = ErrorInfo::make("H5_FILTER_UNAVAILABLE", "dataset '" + path + "' needs filter " + std::to_string(f.id) +
                                                          " (" + f.name + "), which is not available");
      return false;
    }
  }
  return true;
}

void name_missing_filters(const DatasetInfo& info, const std::string& path, ErrorInfo* err) {
  if (err->code != "H5_FILTER_UNAVAILABLE") return;
  std::string names;
  for (const auto& f : info.filters)
    if (!f.available) names += (names.empty() ? "" : ", ") + std::to_string(f.id) + " (" + f.name + ")";
  if (!names.empty())
    err->message =
        "dataset '" + path + "' has chunks that need filter " + names + ", which is not available: " + err->message;
}

bool selection_elements(const DatasetInfo& info, const Selection& sel, hsize_t* n, std::vector<hsize_t>* out_shape,
                        ErrorInfo* err) {
  if (sel.start.empty()) {
    *n = info.nelements;
    *out_shape = info.shape;
    return true;
  }
  size_t rank = info.shape.size();
  if (info.scalar || sel.start.size() != rank || sel.count.size() != rank ||
      (!sel.step.empty() && sel.step.size() != rank)) {
    *err = ErrorInfo::range_error("selection rank does not match the dataset's rank " + std::to_string(rank));
    return false;
  }
  hsize_t total = 1;
  for (size_t i = 0; i < rank; ++i) {
    hsize_t step = sel.step.empty() ? 1 : sel.step[i];
    if (step == 0) {
      *err = ErrorInfo::range_error("selection step must be >= 1");
      return false;
    }
    hsize_t c = sel.count[i];
    if (c > 0) {
      hsize_t last = sel.start[i] + (c - 1) * step;
      if (sel.start[i] >= info.shape[i] || last >= info.shape[i] || last < sel.start[i]) {
        *err = ErrorInfo::range_error("selection exceeds dimension " + std::to_string(i) + " (size " +
                                      std::to_string(info.shape[i]) + ")");
        return false;
      }
    }
    total *= c;
  }
  *n = total;
  *out_shape = sel.count;
  return true;
}

bool read_numeric(hid_t dset, DType dtype, const Selection& sel, void* out, ErrorInfo* err) {
  Hid mtype(make_mem_type(dtype));
  Hid fspace, mspace;
  if (!make_spaces(dset, sel, &fspace, &mspace, err)) return false;
  if (H5Sget_select_npoints(mspace.get()) == 0) return true;
  // libhdf5 decodes the chunks here: no filter may produce more than a chunk.
  filters::DecodeLimit limit(filters::chunk_decode_limit(dset));
  if (H5Dread(dset, mtype.get(), mspace.get(), fspace.get(), H5P_DEFAULT, out) < 0) {
    *err = capture_error("read");
    return false;
  }
  return true;
}

bool write_numeric(hid_t dset, DType dtype, const Selection& sel, const void* in, ErrorInfo* err) {
  Hid mtype(make_mem_type(dtype));
  Hid fspace, mspace;
  if (!make_spaces(dset, sel, &fspace, &mspace, err)) return false;
  if (H5Sget_select_npoints(mspace.get()) == 0) return true;
  // A partial chunk is read back (decoded) before it is rewritten.
  filters::DecodeLimit limit(filters::chunk_decode_limit(dset));
  if (H5Dwrite(dset, mtype.get(), mspace.get(), fspace.get(), H5P_DEFAULT, in) < 0) {
    *err = capture_error("write");
    return false;
  }
  return true;
}

namespace {

// libhdf5 mallocs every vlen string it reads, and H5Dvlen_reclaim walks the
// selection again to free each one (~15% of a 2,293-string read). This arena
// serves them from 64 KiB blocks freed together: nothing to reclaim, and a
// failed read leaks nothing. Its total is what the read decodes, which the
// vlen limit bounds before H5Dread; a failed allocation fails the read.
struct VlenArena {
  std::vector<std::unique_ptr<char[]>> blocks;
  size_t used = 0, cap = 0;
  static void* alloc(size_t n, void* info) {
    auto* a = static_cast<VlenArena*>(info);
    n = (n + 15) & ~static_cast<size_t>(15);
    if (n > a->cap - a->used) {
      size_t size = std::max<size_t>(n, 64 * 1024);
      std::unique_ptr<char[]> b(new (std::nothrow) char[size]);
      if (!b) return nullptr;
      a->blocks.push_back(std::move(b));
      a->used = 0, a->cap = size;
    }
    void* p = a->blocks.back().get() + a->used;
    a->used += n;
    return p;
  }
  static void release(void*, void*) {}
};

// libhdf5 clears its whole type-conversion buffer (1 MiB by default) on every
// read: ~10 us, most of a small read's fixed cost. A vlen string converts
// from 16 file bytes (8-byte addresses) to an 8-byte pointer, so n * 16 bytes
// hold the selection; wider elements or larger reads convert in strips.
size_t conversion_buffer(size_t n) { return std::clamp<size_t>(n * 16, 4096, 1024 * 1024); }

}  // namespace

bool read_strings(hid_t dset, const Selection& sel, std::vector<std::string>* out, ErrorInfo* err) {
  Hid ftype(H5Dget_type(dset));
  TypeInfo ti = describe_type(ftype.get());
  Hid fspace, mspace;
  if (!make_spaces(dset, sel, &fspace, &mspace, err)) return false;
  hssize_t n = H5Sget_select_npoints(mspace.get());
  out->clear();
  if (n <= 0) return true;
  filters::DecodeLimit limit(filters::chunk_decode_limit(dset));
  if (ti.vlen_string) {
    Hid mtype(H5Tcopy(H5T_C_S1));
    H5Tset_size(mtype.get(), H5T_VARIABLE);
    H5Tset_cset(mtype.get(), H5Tget_cset(ftype.get()));
    // Many elements may point at one large heap object: what the read would
    // allocate is the sum of the strings, not the declared extent. libhdf5
    // measures it element by element with one reused buffer. A scalar holds
    // one string, which cannot be amplified (and libhdf5 1.10.8 crashes
    // measuring a scalar dataspace).
    // When the heap checks see every element anyway, they sum the lengths
    // in the same pass (bound_decoded): H5Dvlen_get_buf_size reads one
    // element per H5Dread, ~50 us a string here, most of a read's time.
    hsize_t decoded = 0;
    HeapCheckScope heap(dset);
    if (!heap.bound_decoded(kMaxVlenReadBytes) && H5Sget_simple_extent_type(fspace.get()) == H5S_SIMPLE &&
        H5Dvlen_get_buf_size(dset, mtype.get(), fspace.get(), &decoded) < 0) {
      *err = heap.error_or_capture("read strings");
      return false;
    }
    if (decoded > kMaxVlenReadBytes) {
      *err = ErrorInfo::make("H5_LIMIT_EXCEEDED",
                             "reading " + std::to_string(n) + " strings would decode " + std::to_string(decoded) +
                                 " bytes of variable-length data (limit " + std::to_string(kMaxVlenReadBytes) + ")");
      return false;
    }
    std::vector<char*> ptrs(static_cast<size_t>(n), nullptr);
    VlenArena arena;
    Hid dxpl(H5Pcreate(H5P_DATASET_XFER));
    if (dxpl.get() < 0 ||
        H5Pset_vlen_mem_manager(dxpl.get(), VlenArena::alloc, &arena, VlenArena::release, &arena) < 0 ||
        H5Pset_buffer(dxpl.get(), conversion_buffer(static_cast<size_t>(n)), nullptr, nullptr) < 0 ||
        H5Dread(dset, mtype.get(), mspace.get(), fspace.get(), dxpl.get(), ptrs.data()) < 0) {
      *err = heap.error_or_capture("read strings");
      return false;
    }
    out->reserve(ptrs.size());
    for (char* p : ptrs) out->emplace_back(p ? p : "");
  } else {
    size_t sz = ti.fixed_size;
    Hid mtype(H5Tcopy(ftype.get()));
    std::vector<char> buf(sz * static_cast<size_t>(n));
    if (H5Dread(dset, mtype.get(), mspace.get(), fspace.get(), H5P_DEFAULT, buf.data()) < 0) {
      *err = capture_error("read strings");
      return false;
    }
    for (hssize_t i = 0; i < n; ++i) {
      out->push_back(fixed_string(buf.data() + static_cast<size_t>(i) * sz, sz, H5Tget_strpad(ftype.get())));
    }
  }
  return true;
}

bool write_strings(hid_t dset, const Selection& sel, const std::vector<std::string>& in, ErrorInfo* err) {
  Hid ftype(H5Dget_type(dset));
  TypeInfo ti = describe_type(ftype.get());
  Hid fspace, mspace;
  if (!make_spaces(dset, sel, &fspace, &mspace, err)) return false;
  hssize_t n = H5Sget_select_npoints(mspace.get());
  if (static_cast<size_t>(n) != in.size()) {
    *err = ErrorInfo::range_error("expected " + std::to_string(n) + " strings, got " + std::to_string(in.size()));
    return false;
  }
  if (n == 0) return true;
  filters::DecodeLimit limit(filters::chunk_decode_limit(dset));
  herr_t rc;
  if (ti.vlen_string) {
    Hid mtype(H5Tcopy(H5T_C_S1));
    H5Tset_size(mtype.get(), H5T_VARIABLE);
    H5Tset_cset(mtype.get(), H5T_CSET_UTF8);
    std::vector<const char*> ptrs;
    for (const auto& s : in) ptrs.push_back(s.c_str());
    rc = H5Dwrite(dset, mtype.get(), mspace.get(), fspace.get(), H5P_DEFAULT, ptrs.data());
  } else {
    // A longer string would be cut to the field's size: refuse, naming it.
    for (size_t i = 0; i < in.size(); ++i) {
      if (in[i].size() > ti.fixed_size) {
        *err = ErrorInfo::make("H5_INVALID_ARGUMENT",
                               "string [" + std::to_string(i) + "] is " + std::to_string(in[i].size()) +
                                   " bytes (UTF-8) but the dataset's fixed-length strings hold " +
                                   std::to_string(ti.fixed_size));
        return false;
      }
    }
    std::vector<char> buf(ti.fixed_size * in.size(), 0);
    for (size_t i = 0; i < in.size(); ++i)
      std::memcpy(buf.data() + i * ti.fixed_size, in[i].data(), std::min(in[i].size(), ti.fixed_size));
    rc = H5Dwrite(dset, ftype.get(), mspace.get(), fspace.get(), H5P_DEFAULT, buf.data());
  }
  if (rc < 0) {
    *err = capture_error("write strings");
    return false;
  }
  return true;
}

}  // namespace h5v::h5
