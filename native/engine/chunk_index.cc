#include "chunk_index.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <list>
#include <mutex>
#include <utility>

#include "../common/hid.h"
#include "../common/lock.h"

namespace h5v::engine {

namespace {

struct Key {
  unsigned long fileno;
  haddr_t addr;
  bool operator==(const Key& o) const { return fileno == o.fileno && addr == o.addr; }
};

struct Cache {
  std::mutex m;
  // Most recently used at the front.
  std::list<std::pair<Key, std::shared_ptr<const ChunkIndex>>> entries;
};

Cache& cache() {
  static auto* c = new Cache();  // leaked: safe during process exit
  return *c;
}

bool object_key(hid_t obj, Key* k) {
  H5O_info_t info;
  if (H5Oget_info2(obj, &info, H5O_INFO_BASIC) < 0) return false;
  k->fileno = info.fileno;
  k->addr = info.addr;
  return true;
}

}  // namespace

namespace {
std::atomic<uint64_t> g_max_addressed{0};
constexpr uint64_t kDefaultMaxAddressed = 1024;
}  // namespace

uint64_t ChunkIndex::max_addressed_chunks() {
  uint64_t v = g_max_addressed.load();
  return v ? v : kDefaultMaxAddressed;
}
void ChunkIndex::set_max_addressed_chunks(uint64_t n) { g_max_addressed.store(n); }

uint64_t ChunkIndex::linear(const hsize_t* gc) const {
  uint64_t l = 0;
  for (size_t d = 0; d < grid_.size(); ++d) l = l * grid_[d] + gc[d];
  return l;
}

#if H5_VERSION_GE(1, 12, 3)
namespace {

// H5Dchunk_iter's callback took the chunk size as uint32_t in some releases
// and hsize_t in others: take whatever this header declares.
template <typename F>
struct IterSizeArg;
template <typename R, typename A, typename B, typename C, typename D, typename E>
struct IterSizeArg<R (*)(A, B, C, D, E)> {
  using type = D;
};
using IterSize = IterSizeArg<H5D_chunk_iter_op_t>::type;

struct IterState {
  const ChunkIndex* idx;
  std::vector<ChunkRecord>* out;
  uint64_t ub;
  bool bad = false;
};

int iter_cb(const hsize_t* offset, unsigned mask, haddr_t addr, IterSize size, void* op) {
  auto* st = static_cast<IterState*>(op);
  std::vector<hsize_t> gc(st->idx->rank());
  for (int d = 0; d < st->idx->rank(); ++d) {
    hsize_t c = st->idx->chunk_dims()[d];
    if (offset[d] % c != 0 || offset[d] / c >= st->idx->grid()[d]) {
      st->bad = true;
      return H5_ITER_STOP;
    }
    gc[d] = offset[d] / c;
  }
  ChunkRecord& r = (*st->out)[st->idx->linear(gc.data())];
  if (r.size != 0 || addr == HADDR_UNDEF || uint64_t(size) == 0 || uint64_t(size) > UINT32_MAX) {
    st->bad = true;  // listed twice, or a record no lookup could produce
    return H5_ITER_STOP;
  }
  r.addr = addr + st->ub;
  r.size = static_cast<uint32_t>(size);
  r.filter_mask = mask;
  return H5_ITER_CONT;
}

}  // namespace
#endif

// Every allocated chunk's record as libhdf5's index iteration reports it,
// by grid position: one pass with H5Dchunk_iter where this libhdf5 has it,
// otherwise H5Dget_chunk_info_by_coord per chunk (one index iteration
// each). False on any HDF5 failure or an impossible record.
bool ChunkIndex::collect_records(hid_t dset, const ChunkIndex& idx, std::vector<ChunkRecord>* out) {
#if H5_VERSION_GE(1, 12, 3)
  IterState st{&idx, out, idx.base_};
  if (H5Dchunk_iter(dset, H5P_DEFAULT, iter_cb, &st) < 0) return false;
  return !st.bad;
#else
  const int rank = idx.rank();
  std::vector<hsize_t> gc(rank, 0), off(rank, 0);
  for (uint64_t l = 0; l < idx.total_; ++l) {
    for (int d = 0; d < rank; ++d) off[d] = gc[d] * idx.chunk_[d];
    unsigned mask = 0;
    haddr_t addr = HADDR_UNDEF;
    hsize_t size = 0;
    if (H5Dget_chunk_info_by_coord(dset, off.data(), &mask, &addr, &size) < 0) return false;
    if (addr != HADDR_UNDEF && size > 0) {
      if (size > UINT32_MAX) return false;
      ChunkRecord& r = (*out)[l];
      r.addr = addr + idx.base_;
      r.size = static_cast<uint32_t>(size);
      r.filter_mask = mask;
    }
    for (int d = rank - 1; d >= 0; --d) {
      if (++gc[d] < idx.grid_[d]) break;
      gc[d] = 0;
    }
  }
  return true;
#endif
}

// A chunk H5Dget_chunk_storage_size reports (`size` bytes) but the index
// iteration does not list: true if it is only a chunk-cache entry with no
// storage. H5Dread_chunk evicts the chunk from the cache and looks it up
// again; it fails for an unallocated chunk (before writing to `buf`), and a
// second size query then answers from the index alone.
bool ChunkIndex::confirm_unallocated(hid_t dset, const std::vector<hsize_t>& off, hsize_t size) {
  std::unique_ptr<uint8_t[]> buf(new uint8_t[size]);
  unsigned mask = 0;
  if (H5Dread_chunk(dset, H5P_DEFAULT, off.data(), &mask, buf.get()) >= 0) return false;
  h5::clear_error_stack();
  hsize_t again = 0;
  if (H5Dget_chunk_storage_size(dset, off.data(), &again) >= 0 && again > 0) return false;
  h5::clear_error_stack();
  return true;
}

namespace {

// A failed libhdf5 query during build(): its error stack, labelled `what`.
bool build_failed(h5::ErrorInfo* err, const char* what) {
  if (err) *err = h5::capture_error(what);
  return false;
}

}  // namespace

// Element offset of the chunk numbered `l` in row-major grid order.
void ChunkIndex::chunk_offset(uint64_t l, std::vector<hsize_t>* off) const {
  for (int d = rank() - 1; d >= 0; --d) {
    (*off)[d] = (l % grid_[d]) * chunk_[d];
    l /= grid_[d];
  }
}

// Extent, chunk shape, grid and chunk count from the dataspace and the
// creation properties.
bool ChunkIndex::read_grid(hid_t dcpl, hid_t space, h5::ErrorInfo* err) {
  int rank = H5Sget_simple_extent_ndims(space);
  if (rank <= 0) return build_failed(err, "chunk index: dataspace rank");
  dims_.resize(rank);
  chunk_.resize(rank);
  grid_.resize(rank);
  if (H5Sget_simple_extent_dims(space, dims_.data(), nullptr) < 0)
    return build_failed(err, "chunk index: dataspace dims");
  if (H5Pget_chunk(dcpl, rank, chunk_.data()) != rank) return build_failed(err, "chunk index: chunk dims");
  total_ = 1;
  for (int d = 0; d < rank; ++d) {
    if (chunk_[d] == 0) return build_failed(err, "chunk index: zero chunk dimension");
    grid_[d] = (dims_[d] + chunk_[d] - 1) / chunk_[d];
    total_ *= grid_[d];
  }
  return true;
}

// Which index types libhdf5's iteration-based queries label correctly (see
// the header): all but an extensible array whose unlimited dimension is not
// the first. Sets labels_trusted_.
bool ChunkIndex::check_labels(hid_t dset, hid_t space, h5::ErrorInfo* err) {
  const int rank = this->rank();
  std::vector<hsize_t> maxdims(rank);
  if (H5Sget_simple_extent_dims(space, dims_.data(), maxdims.data()) < 0)
    return build_failed(err, "chunk index: dataspace max dims");
  H5D_chunk_index_t itype = H5D_CHUNK_IDX_BTREE;
  if (H5Dget_chunk_index_type(dset, &itype) < 0) return build_failed(err, "chunk index: index type");
  bool labels_trusted = true;
  if (itype == H5D_CHUNK_IDX_EARRAY)
    for (int d = 1; d < rank; ++d)
      if (maxdims[d] == H5S_UNLIMITED) labels_trusted = false;
  labels_trusted_ = labels_trusted;
  return true;
}

// Step 1 of build(): allocation and stored size of every chunk from the real
// lookup (H5Dget_chunk_storage_size: the lookup H5Dread and H5Dread_chunk
// use) into *real (0: the lookup found nothing), *found of them nonzero. In
// 1.10 it fails for an unallocated chunk, and it answers for a chunk sitting
// in libhdf5's chunk cache (e.g. fill values an earlier H5Dread produced) as
// if it were stored.
bool ChunkIndex::lookup_sizes(hid_t dset, std::vector<hsize_t>* real, uint64_t* found, h5::ErrorInfo* err) const {
  std::vector<hsize_t> off(rank(), 0);
  real->assign(total_, 0);
  *found = 0;
  for (uint64_t l = 0; nalloc_ > 0 && l < total_; ++l) {
    chunk_offset(l, &off);
    hsize_t& size = (*real)[l];
    if (H5Dget_chunk_storage_size(dset, off.data(), &size) < 0) {
      h5::clear_error_stack();
      size = 0;
    }
    if (size > UINT32_MAX) {
      if (err) *err = h5::ErrorInfo::make("H5_CORRUPT", "chunk index: chunk larger than 4 GiB");
      return false;
    }
    if (size) ++*found;
  }
  return true;
}

// Step 2 of build(): the records (address, size, filter mask) from libhdf5's
// iteration, for index types that label them right, each checked against
// step 1's sizes. A record the lookup does not confirm, or a chunk the lookup
// finds and the iteration does not list, means libhdf5 contradicts itself:
// returns what it contradicts (build() then defers to libhdf5's own read
// path), or nullptr with the table set.
const char* ChunkIndex::take_records(hid_t dset, const std::vector<hsize_t>& real, uint64_t found) {
  std::vector<ChunkRecord> got(total_);
  if (labels_trusted_) {
    if (nalloc_ > 0 && !collect_records(dset, *this, &got)) {
      h5::clear_error_stack();
      return "index iteration failed";
    }
    std::vector<hsize_t> off(rank(), 0);
    uint64_t listed = 0;
    for (uint64_t l = 0; l < total_; ++l) {
      if (got[l].size) {
        ++listed;
        if (real[l] != got[l].size) return "record and lookup disagree on a chunk's size";
      } else if (real[l]) {
        chunk_offset(l, &off);
        if (!confirm_unallocated(dset, off, real[l])) return "the lookup finds a chunk the iteration does not list";
      }
    }
    if (listed != nalloc_) return "the iteration lists a different number of chunks";
  } else {
    // Only the lookup: its failures are "unallocated" if the number of
    // chunks it finds is the number the index holds (a cached chunk counted
    // as stored would make it larger, a failing lookup smaller).
    if (found != nalloc_) return "the lookup and the chunk count disagree";
    for (uint64_t l = 0; l < total_; ++l) got[l].size = static_cast<uint32_t>(real[l]);
  }
  table_ = std::move(got);
  dense_ = true;  // allocation + sizes verified
  return nullptr;
}

// Step 3 of build(): addresses, for pread, only from trusted labels, inside
// the file, pairwise disjoint (addresses_verified()). Otherwise chunks come
// through H5Dread_chunk.
void ChunkIndex::check_addresses(hid_t file) {
  hsize_t fsize = 0;
  bool ok = H5Fget_filesize(file, &fsize) >= 0;
  if (!ok) h5::clear_error_stack();
  std::vector<std::pair<uint64_t, uint64_t>> spans;  // [addr, addr + size)
  for (uint64_t l = 0; ok && l < total_; ++l) {
    const ChunkRecord& r = table_[l];
    if (!r.size) continue;
    if (r.addr > fsize || r.size > fsize - r.addr) ok = false;
    spans.emplace_back(r.addr, r.addr + r.size);
  }
  std::sort(spans.begin(), spans.end());
  for (size_t i = 1; ok && i < spans.size(); ++i)
    if (spans[i].first < spans[i - 1].second) ok = false;
  addr_verified_ = ok;
}

std::shared_ptr<const ChunkIndex> ChunkIndex::build(hid_t dset, h5::ErrorInfo* err) {
  h5::Lock lock;
  auto t0 = std::chrono::steady_clock::now();
  auto idx = std::make_shared<ChunkIndex>();
  auto fail = [&](const char* what) -> std::shared_ptr<const ChunkIndex> {
    build_failed(err, what);
    return nullptr;
  };
  auto finish = [&] {
    idx->build_ms_ = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    return idx;
  };
  h5::Hid dcpl(H5Dget_create_plist(dset));
  if (dcpl.get() < 0) return fail("chunk index: get creation properties");
  if (H5Pget_layout(dcpl.get()) != H5D_CHUNKED) {
    if (err) *err = h5::ErrorInfo::make("H5_UNSUPPORTED", "chunk index: dataset is not chunked");
    return nullptr;
  }
  h5::Hid space(H5Dget_space(dset));
  if (space.get() < 0) return fail("chunk index: get dataspace");
  if (!idx->read_grid(dcpl.get(), space.get(), err)) return nullptr;
  // libhdf5 reports chunk addresses relative to the base address, which for
  // the sec2/core drivers is the userblock size.
  h5::Hid file(H5Iget_file_id(dset));
  if (file.get() < 0) return fail("chunk index: get file");
  h5::Hid fcpl(H5Fget_create_plist(file.get()));
  hsize_t ub = 0;
  if (fcpl.get() < 0 || H5Pget_userblock(fcpl.get(), &ub) < 0) return fail("chunk index: userblock");
  idx->base_ = ub;

  hsize_t nalloc = 0;
  if (idx->total_ > 0 && H5Dget_num_chunks(dset, space.get(), &nalloc) < 0) return fail("chunk index: count chunks");
  idx->nalloc_ = nalloc;
  if (!idx->check_labels(dset, space.get(), err)) return nullptr;

  // Files open for writing: see the header (the size queries of step 1 are
  // not reliable while libhdf5's chunk cache may hold dirty chunks).
  unsigned intent = 0;
  if (H5Fget_intent(file.get(), &intent) < 0) return fail("chunk index: file intent");
  if (idx->total_ > max_addressed_chunks() || (intent & H5F_ACC_RDWR)) {
    // Lookup mode. Its only iteration-based query tells unallocated chunks
    // apart (engine fetch_chunk); with untrusted labels and unallocated
    // chunks, libhdf5 reads the dataset itself.
    idx->defer_ = !idx->labels_trusted_ && nalloc != idx->total_;
    return finish();
  }

  std::vector<hsize_t> real;
  uint64_t found = 0;
  if (!idx->lookup_sizes(dset, &real, &found, err)) return nullptr;
  if (idx->take_records(dset, real, found) != nullptr) {
    // libhdf5 contradicts itself (take_records says where): its own read
    // path decides.
    idx->table_.clear();
    idx->defer_ = true;
    return finish();
  }
  if (idx->labels_trusted_) idx->check_addresses(file.get());
  return finish();
}

std::shared_ptr<const ChunkIndex> ChunkIndex::get(hid_t dset, h5::ErrorInfo* err) {
  h5::Lock lock;
  Key key{};
  bool cacheable = false;
  {
    h5::Hid file(H5Iget_file_id(dset));
    unsigned intent = 0;
    if (file.get() >= 0 && H5Fget_intent(file.get(), &intent) >= 0 &&
        (intent & (H5F_ACC_RDWR | H5F_ACC_SWMR_READ)) == 0 && object_key(dset, &key))
      cacheable = true;
    else
      h5::clear_error_stack();
  }
  if (cacheable) {
    Cache& c = cache();
    std::lock_guard<std::mutex> g(c.m);
    for (auto it = c.entries.begin(); it != c.entries.end(); ++it) {
      if (it->first == key) {
        c.entries.splice(c.entries.begin(), c.entries, it);
        return c.entries.front().second;
      }
    }
  } else {
    // Chunks may still sit dirty in libhdf5's chunk cache.
    if (H5Dflush(dset) < 0) {
      if (err) *err = h5::capture_error("chunk index: flush dataset");
      return nullptr;
    }
  }
  auto idx = build(dset, err);
  if (!idx || !cacheable) return idx;
  Cache& c = cache();
  std::lock_guard<std::mutex> g(c.m);
  c.entries.emplace_front(key, idx);
  while (c.entries.size() > kCacheEntries) c.entries.pop_back();
  return idx;
}

void ChunkIndex::forget(hid_t dset) {
  Key key{};
  {
    h5::Lock lock;
    if (!object_key(dset, &key)) {
      h5::clear_error_stack();
      return;
    }
  }
  Cache& c = cache();
  std::lock_guard<std::mutex> g(c.m);
  c.entries.remove_if([&](const auto& e) { return e.first == key; });
}

void ChunkIndex::forget_file(hid_t file) {
  Key key{};
  {
    h5::Lock lock;
    if (!object_key(file, &key)) {
      h5::clear_error_stack();
      return;
    }
  }
  Cache& c = cache();
  std::lock_guard<std::mutex> g(c.m);
  c.entries.remove_if([&](const auto& e) { return e.first.fileno == key.fileno; });
}

void ChunkIndex::clear_cache() {
  Cache& c = cache();
  std::lock_guard<std::mutex> g(c.m);
  c.entries.clear();
}

size_t ChunkIndex::cache_size() {
  Cache& c = cache();
  std::lock_guard<std::mutex> g(c.m);
  return c.entries.size();
}

}  // namespace h5v::engine
