#include "chunk_index.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <list>
#include <mutex>
#include <utility>

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

// Closes an hid_t on scope exit (lock must be held by the caller of the scope).
struct Id {
  hid_t id = -1;
  herr_t (*close)(hid_t) = nullptr;
  Id(hid_t i, herr_t (*c)(hid_t)) : id(i), close(c) {}
  ~Id() {
    if (id >= 0 && close) close(id);
  }
  Id(const Id&) = delete;
  Id& operator=(const Id&) = delete;
};

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

std::shared_ptr<const ChunkIndex> ChunkIndex::build(hid_t dset, h5::ErrorInfo* err) {
  h5::Lock lock;
  auto t0 = std::chrono::steady_clock::now();
  auto fail = [&](const char* what) -> std::shared_ptr<const ChunkIndex> {
    if (err) *err = h5::capture_error(what);
    return nullptr;
  };
  auto idx = std::make_shared<ChunkIndex>();
  Id dcpl(H5Dget_create_plist(dset), H5Pclose);
  if (dcpl.id < 0) return fail("chunk index: get creation properties");
  if (H5Pget_layout(dcpl.id) != H5D_CHUNKED) {
    if (err) *err = h5::ErrorInfo::make("H5_UNSUPPORTED", "chunk index: dataset is not chunked");
    return nullptr;
  }
  Id space(H5Dget_space(dset), H5Sclose);
  if (space.id < 0) return fail("chunk index: get dataspace");
  int rank = H5Sget_simple_extent_ndims(space.id);
  if (rank <= 0) return fail("chunk index: dataspace rank");
  idx->dims_.resize(rank);
  idx->chunk_.resize(rank);
  idx->grid_.resize(rank);
  if (H5Sget_simple_extent_dims(space.id, idx->dims_.data(), nullptr) < 0)
    return fail("chunk index: dataspace dims");
  if (H5Pget_chunk(dcpl.id, rank, idx->chunk_.data()) != rank) return fail("chunk index: chunk dims");
  idx->total_ = 1;
  for (int d = 0; d < rank; ++d) {
    if (idx->chunk_[d] == 0) return fail("chunk index: zero chunk dimension");
    idx->grid_[d] = (idx->dims_[d] + idx->chunk_[d] - 1) / idx->chunk_[d];
    idx->total_ *= idx->grid_[d];
  }
  // libhdf5 reports chunk addresses relative to the base address, which for
  // the sec2/core drivers is the userblock size.
  Id file(H5Iget_file_id(dset), H5Fclose);
  if (file.id < 0) return fail("chunk index: get file");
  Id fcpl(H5Fget_create_plist(file.id), H5Pclose);
  hsize_t ub = 0;
  if (fcpl.id < 0 || H5Pget_userblock(fcpl.id, &ub) < 0) return fail("chunk index: userblock");
  idx->base_ = ub;

  hsize_t nalloc = 0;
  if (idx->total_ > 0 && H5Dget_num_chunks(dset, space.id, &nalloc) < 0)
    return fail("chunk index: count chunks");
  idx->nalloc_ = nalloc;
  idx->dense_ = idx->total_ <= max_addressed_chunks();
  if (!idx->dense_) return idx;

  idx->table_.assign(idx->total_, ChunkRecord{});
  std::vector<hsize_t> gc(rank, 0), off(rank, 0);
  for (uint64_t l = 0; nalloc > 0 && l < idx->total_; ++l) {
    for (int d = 0; d < rank; ++d) off[d] = gc[d] * idx->chunk_[d];
    unsigned mask = 0;
    haddr_t addr = HADDR_UNDEF;
    hsize_t size = 0;
    if (H5Dget_chunk_info_by_coord(dset, off.data(), &mask, &addr, &size) < 0)
      return fail("chunk index: chunk info");
    if (addr != HADDR_UNDEF && size > 0) {
      if (size > UINT32_MAX) {
        if (err) *err = h5::ErrorInfo::make("H5_CORRUPT", "chunk index: chunk larger than 4 GiB");
        return nullptr;
      }
      ChunkRecord& r = idx->table_[l];
      r.addr = addr + ub;
      r.size = static_cast<uint32_t>(size);
      r.filter_mask = mask;
    }
    for (int d = rank - 1; d >= 0; --d) {
      if (++gc[d] < idx->grid_[d]) break;
      gc[d] = 0;
    }
  }
  idx->build_ms_ = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  return idx;
}

std::shared_ptr<const ChunkIndex> ChunkIndex::get(hid_t dset, h5::ErrorInfo* err) {
  h5::Lock lock;
  Key key{};
  bool cacheable = false;
  {
    Id file(H5Iget_file_id(dset), H5Fclose);
    unsigned intent = 0;
    if (file.id >= 0 && H5Fget_intent(file.id, &intent) >= 0 && (intent & (H5F_ACC_RDWR | H5F_ACC_SWMR_READ)) == 0 &&
        object_key(dset, &key))
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
