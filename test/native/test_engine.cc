// Native tests for the parallel chunk engine (native/engine): every supported
// filter pipeline x dtype x chunk shape x selection is compared byte for byte
// with H5Dread (read path) and through H5Dread/H5Dread_chunk (write path).
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include <hdf5.h>

#include "check.h"
#include "codecs/bitshuffle.h"
#include "rng.h"
#include "codecs/zstd.h"
#include "h5_setup.h"
#include "engine/chunk_index.h"
#include "engine/engine.h"
#include "engine/thread_pool.h"
#include "filters/register.h"
#include "common/error.h"
#include "common/lock.h"

using namespace h5v;
using Bytes = std::vector<uint8_t>;

using h5v::test::Rng;

namespace {

struct FilterSpec {
  const char* name;
  std::vector<int> ids;  // pipeline order; deflate level 1 (4 for id 1004)
  // cd_values of the pipeline's plugin codec (zstd: level; blosc: slots 4-6 =
  // clevel, shuffle 0/1/2, compressor; bitshuffle: block size, compression
  // 0 none / 2 LZ4 / 3 zstd, zstd level); empty: the filter's defaults
  // (bitshuffle: LZ4, as hdf5plugin.Bitshuffle()).
  std::vector<unsigned> cd = {};
};

const std::vector<FilterSpec>& filter_specs() {
  static const std::vector<FilterSpec> v = {
      {"none", {}},
      {"shuffle", {2}},
      {"deflate1", {1}},
      {"shuffle+deflate4", {2, 1004}},
      {"fletcher", {3}},
      {"shuffle+deflate1+fletcher", {2, 1, 3}},
      {"fletcher+deflate1", {3, 1}},
      {"lzf", {32000}},
      {"shuffle+lzf", {2, 32000}},
      {"lz4", {32004}},
      {"shuffle+lz4+fletcher", {2, 32004, 3}},
      {"zstd", {32015}},
      {"shuffle+zstd+fletcher", {2, 32015, 3}},
      {"zstd-1", {32015}, {1}},
      {"shuffle+zstd-9", {2, 32015}, {9}},
      {"blosc", {32001}},
      {"blosc+fletcher", {32001, 3}},
      {"blosc-lz4-noshuffle", {32001}, {0, 0, 0, 0, 5, 0, 1}},
      {"blosc-lz4-byteshuffle", {32001}, {0, 0, 0, 0, 5, 1, 1}},
      {"blosc-lz4-bitshuffle+fletcher", {32001, 3}, {0, 0, 0, 0, 5, 2, 1}},
      {"blosc-zstd-bitshuffle", {32001}, {0, 0, 0, 0, 5, 2, 5}},
      {"shuffle+blosc-zstd-noshuffle", {2, 32001}, {0, 0, 0, 0, 3, 0, 5}},
      {"bitshuffle-lz4", {32008}},
      {"bitshuffle-zstd+fletcher", {32008, 3}, {0, 3, 5}},
      {"bitshuffle-none", {32008}, {64, 0}},
      {"shuffle+lzf+deflate1", {2, 32000, 1}},  // two codecs: read only
  };
  return v;
}

void add_filters(hid_t dcpl, const std::vector<int>& ids, const std::vector<unsigned>& cd = {}) {
  for (int id : ids) {
    if (id == 1)
      H5Pset_deflate(dcpl, 1);
    else if (id == 1004)
      H5Pset_deflate(dcpl, 4);
    else if (id == 2)
      H5Pset_shuffle(dcpl);
    else if (id == 3)
      H5Pset_fletcher32(dcpl);
    else if (id == 32008 && cd.empty()) {
      // hdf5plugin.Bitshuffle()'s values (LZ4); set_local prepends version and element size
      const unsigned lz4[2] = {0, 2};
      H5Pset_filter(dcpl, 32008, H5Z_FLAG_OPTIONAL, 2, lz4);
    } else
      H5Pset_filter(dcpl, id, H5Z_FLAG_OPTIONAL, cd.size(), cd.empty() ? nullptr : cd.data());
  }
}

struct Shape {
  std::vector<hsize_t> dims, chunk;
};
const std::vector<Shape>& shapes() {
  static const std::vector<Shape> v = {
      {{1000}, {64}},
      {{37, 53}, {8, 16}},
      {{32, 32}, {16, 16}},
      {{9, 10, 11}, {4, 3, 5}},
  };
  return v;
}

hid_t dtypes(int i) {
  switch (i) {
    case 0:
      return H5T_NATIVE_UINT8;
    case 1:
      return H5T_NATIVE_INT16;
    case 2:
      return H5T_NATIVE_FLOAT;
    default:
      return H5T_NATIVE_DOUBLE;
  }
}

size_t nelem(const std::vector<hsize_t>& d) {
  size_t n = 1;
  for (auto x : d) n *= x;
  return n;
}

// First half (in C order) random bytes (incompressible: optional filters end
// up skipped via the filter mask), second half smooth-ish values.
Bytes make_data(size_t n, size_t es, uint64_t seed) {
  Rng r(seed);
  Bytes b(n * es);
  for (size_t i = 0; i < n; ++i) {
    uint8_t* e = b.data() + i * es;
    if (i < n / 2) {
      for (size_t k = 0; k < es; ++k) e[k] = uint8_t(r.next() >> 13);
    } else {
      uint64_t v = (i / 7) % 23;
      if (es == 4) {
        float f = float(v) * 0.01f;
        std::memcpy(e, &f, 4);
      } else if (es == 8) {
        double f = double(v) * 0.01;
        std::memcpy(e, &f, 8);
      } else {
        for (size_t k = 0; k < es; ++k) e[k] = uint8_t(k == 0 ? v : 0);
      }
    }
  }
  return b;
}

std::string tmp_name(const char* tag) { return std::string("engine_") + tag + "_" + std::to_string(getpid()) + ".h5"; }

hid_t create_file(const std::string& path, hsize_t userblock = 0) {
  h5::Lock l;
  hid_t fcpl = H5Pcreate(H5P_FILE_CREATE);
  if (userblock) H5Pset_userblock(fcpl, userblock);
  hid_t f = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, fcpl, H5P_DEFAULT);
  H5Pclose(fcpl);
  return f;
}

hid_t open_file(const std::string& path, bool rdonly) {
  h5::Lock l;
  return H5Fopen(path.c_str(), rdonly ? H5F_ACC_RDONLY : H5F_ACC_RDWR, H5P_DEFAULT);
}

void close_file(hid_t f) {
  h5::Lock l;
  H5Fclose(f);
}

hid_t make_dataset(hid_t f, const std::string& name, hid_t type, const Shape& sh, const std::vector<int>& filters,
                   const void* data, const std::vector<unsigned>& cd = {}) {
  h5::Lock l;
  hid_t space = H5Screate_simple(int(sh.dims.size()), sh.dims.data(), nullptr);
  hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
  H5Pset_chunk(dcpl, int(sh.chunk.size()), sh.chunk.data());
  add_filters(dcpl, filters, cd);
  hid_t d = H5Dcreate2(f, name.c_str(), type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
  if (d >= 0 && data) H5Dwrite(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data);
  H5Pclose(dcpl);
  H5Sclose(space);
  return d;
}

hid_t open_dataset(hid_t f, const std::string& name) {
  h5::Lock l;
  return H5Dopen2(f, name.c_str(), H5P_DEFAULT);
}
void close_dataset(hid_t d) {
  h5::Lock l;
  H5Dclose(d);
}

// H5Dread of the selection into a buffer pre-filled with `sentinel`.
Bytes h5_read(hid_t d, hid_t type, const engine::Selection& sel, size_t bytes, uint8_t sentinel) {
  Bytes out(bytes, sentinel);
  h5::Lock l;
  hid_t fspace = H5Dget_space(d);
  hid_t mspace = H5S_ALL;
  if (!sel.start.empty()) {
    std::vector<hsize_t> step = sel.step.empty() ? std::vector<hsize_t>(sel.start.size(), 1) : sel.step;
    H5Sselect_hyperslab(fspace, H5S_SELECT_SET, sel.start.data(), step.data(), sel.count.data(), nullptr);
    mspace = H5Screate_simple(int(sel.count.size()), sel.count.data(), nullptr);
  }
  herr_t st = H5Dread(d, type, mspace, fspace, H5P_DEFAULT, out.data());
  if (st < 0) out.clear();
  if (mspace != H5S_ALL) H5Sclose(mspace);
  H5Sclose(fspace);
  return out;
}

struct EngineOut {
  engine::Result r;
  h5::ErrorInfo err;
  Bytes data;
};
EngineOut e_read(hid_t d, hid_t type, const engine::Selection& sel, size_t bytes, uint8_t sentinel,
                 unsigned threads = 0, const std::atomic<bool>* cancel = nullptr) {
  EngineOut o;
  o.data.assign(bytes, sentinel);
  engine::Options opt;
  opt.threads = threads;
  opt.cancel = cancel;
  o.r = engine::read(d, type, sel, o.data.data(), bytes, opt, &o.err);
  return o;
}

std::vector<engine::Selection> selections(const Shape& sh) {
  std::vector<engine::Selection> v;
  v.push_back({});  // whole dataset
  size_t r = sh.dims.size();
  engine::Selection a, b, c, e;
  for (size_t d = 0; d < r; ++d) {
    // hyperslab with a step, crossing chunk edges
    a.start.push_back(1);
    a.step.push_back(d == r - 1 ? 3 : 2);
    a.count.push_back((sh.dims[d] - 1 + a.step[d] - 1) / a.step[d]);
    // single element
    b.start.push_back(sh.dims[d] - 2);
    b.count.push_back(1);
    b.step.push_back(1);
    // contiguous interior block
    c.start.push_back(sh.dims[d] / 3);
    c.count.push_back(sh.dims[d] / 2);
    // step larger than the chunk
    e.start.push_back(0);
    e.step.push_back(sh.chunk[d] + 1);
    e.count.push_back((sh.dims[d] + sh.chunk[d]) / (sh.chunk[d] + 1));
  }
  v.push_back(a);
  v.push_back(b);
  v.push_back(c);
  v.push_back(e);
  return v;
}

size_t sel_elems(const Shape& sh, const engine::Selection& s) {
  return s.start.empty() ? nelem(sh.dims) : nelem(s.count);
}

std::string dset_name(size_t fi, int ti, size_t si) {
  return "f" + std::to_string(fi) + "_t" + std::to_string(ti) + "_s" + std::to_string(si);
}

const std::string& matrix_file() {
  static std::string path = [] {
    std::string p = tmp_name("matrix");
    hid_t f = create_file(p);
    for (size_t fi = 0; fi < filter_specs().size(); ++fi)
      for (int ti = 0; ti < 4; ++ti)
        for (size_t si = 0; si < shapes().size(); ++si) {
          hid_t type = dtypes(ti);
          const Shape& sh = shapes()[si];
          size_t es;
          {
            h5::Lock l;
            es = H5Tget_size(type);
          }
          Bytes data = make_data(nelem(sh.dims), es, fi * 100 + ti * 10 + si);
          hid_t d = make_dataset(f, dset_name(fi, ti, si), type, sh, filter_specs()[fi].ids, data.data(),
                                 filter_specs()[fi].cd);
          close_dataset(d);
        }
    close_file(f);
    return p;
  }();
  return path;
}

void run_matrix(bool rdonly, unsigned threads) {
  hid_t f = open_file(matrix_file(), rdonly);
  CHECK(f >= 0);
  int compared = 0, masked = 0;
  for (size_t fi = 0; fi < filter_specs().size(); ++fi)
    for (int ti = 0; ti < 4; ++ti)
      for (size_t si = 0; si < shapes().size(); ++si) {
        hid_t type = dtypes(ti);
        const Shape& sh = shapes()[si];
        hid_t d = open_dataset(f, dset_name(fi, ti, si));
        CHECK(d >= 0);
        size_t es;
        {
          h5::Lock l;
          es = H5Tget_size(type);
          std::vector<hsize_t> off(sh.dims.size(), 0);
          unsigned mask = 0;
          haddr_t addr;
          hsize_t size;
          if (H5Dget_chunk_info_by_coord(d, off.data(), &mask, &addr, &size) >= 0 && mask) ++masked;
        }
        for (const auto& sel : selections(sh)) {
          size_t bytes = sel_elems(sh, sel) * es;
          Bytes want = h5_read(d, type, sel, bytes, 0xAB);
          EngineOut got = e_read(d, type, sel, bytes, 0xAB, threads);
          bool ok = got.r == engine::Result::Done && got.data == want && !want.empty();
          if (!ok)
            std::fprintf(stderr, "mismatch: %s dtype %d shape %zu sel rank %zu rdonly %d: result %d %s %s\n",
                         filter_specs()[fi].name, ti, si, sel.start.size(), rdonly, int(got.r), got.err.code.c_str(),
                         got.err.message.c_str());
          CHECK(ok);
          ++compared;
        }
        close_dataset(d);
      }
  close_file(f);
  std::printf("  compared %d selections (%d datasets with a raw-stored first chunk)\n", compared, masked);
  CHECK(masked > 0);
}

}  // namespace

TEST(read_matrix_readonly_pread) { run_matrix(true, 0); }
TEST(read_matrix_readwrite_read_chunk) { run_matrix(false, 0); }
TEST(read_matrix_single_thread) { run_matrix(true, 1); }
TEST(read_matrix_three_threads) { run_matrix(true, 3); }

// Lookup mode (grids too large for an addressed index): H5Dread_chunk per chunk.
struct LookupMode {
  LookupMode() {
    engine::ChunkIndex::set_max_addressed_chunks(1);
    engine::ChunkIndex::clear_cache();
  }
  ~LookupMode() {
    engine::ChunkIndex::set_max_addressed_chunks(0);
    engine::ChunkIndex::clear_cache();
  }
};
TEST(read_matrix_lookup_mode_readonly) {
  LookupMode m;
  run_matrix(true, 0);
}
TEST(read_matrix_lookup_mode_readwrite) {
  LookupMode m;
  run_matrix(false, 2);
}

static void fill_values_test();
TEST(read_unallocated_chunks_fill_values) { fill_values_test(); }
TEST(read_unallocated_chunks_fill_values_lookup_mode) {
  LookupMode m;
  fill_values_test();
}
static void fill_values_test() {
  std::string p = tmp_name("fill");
  hid_t f = create_file(p);
  Shape sh{{40, 30}, {10, 7}};
  struct Variant {
    const char* name;
    H5D_fill_time_t time;
    int value;  // 0 = default fill, 1 = user value, 2 = undefined
  } variants[] = {
      {"default", H5D_FILL_TIME_IFSET, 0},     {"ifset_user", H5D_FILL_TIME_IFSET, 1},
      {"ifset_undef", H5D_FILL_TIME_IFSET, 2}, {"never_user", H5D_FILL_TIME_NEVER, 1},
      {"alloc_user", H5D_FILL_TIME_ALLOC, 1},  {"alloc_undef", H5D_FILL_TIME_ALLOC, 2},
  };
  std::vector<std::string> names;
  for (const auto& v : variants)
    for (int ti = 0; ti < 4; ++ti)
      for (int fz = 0; fz < 2; ++fz) {
        h5::Lock l;
        hid_t type = dtypes(ti);
        hid_t space = H5Screate_simple(2, sh.dims.data(), nullptr);
        hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
        H5Pset_chunk(dcpl, 2, sh.chunk.data());
        if (fz) {
          H5Pset_shuffle(dcpl);
          H5Pset_deflate(dcpl, 1);
        }
        uint8_t fillbuf[8];
        for (int k = 0; k < 8; ++k) fillbuf[k] = uint8_t(0x41 + k);
        if (v.value == 1) H5Pset_fill_value(dcpl, type, fillbuf);
        if (v.value == 2) H5Pset_fill_value(dcpl, type, nullptr);
        H5Pset_fill_time(dcpl, v.time);
        std::string name = std::string(v.name) + "_" + std::to_string(ti) + "_" + std::to_string(fz);
        hid_t d = H5Dcreate2(f, name.c_str(), type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
        if (d < 0) {
          // libhdf5 refuses fill time NEVER with filters, and ALLOC with no value.
          bool refused = (fz == 1 && v.time == H5D_FILL_TIME_NEVER) || (v.time == H5D_FILL_TIME_ALLOC && v.value == 2);
          if (!refused) std::fprintf(stderr, "create failed: %s\n", name.c_str());
          CHECK(refused);
          h5::clear_error_stack();
          H5Pclose(dcpl);
          H5Sclose(space);
          names.push_back("");
          continue;
        }
        // write a block that covers some chunks fully, some partially
        hsize_t start[2] = {5, 8}, count[2] = {12, 9};
        H5Sselect_hyperslab(space, H5S_SELECT_SET, start, nullptr, count, nullptr);
        hid_t ms = H5Screate_simple(2, count, nullptr);
        size_t es = H5Tget_size(type);
        Bytes data = make_data(12 * 9, es, 99);
        CHECK(H5Dwrite(d, type, ms, space, H5P_DEFAULT, data.data()) >= 0);
        H5Sclose(ms);
        H5Dclose(d);
        H5Pclose(dcpl);
        H5Sclose(space);
        names.push_back(name);
      }
  close_file(f);
  for (int rd = 0; rd < 2; ++rd) {
    f = open_file(p, rd == 0);
    size_t i = 0;
    for (const auto& v : variants)
      for (int ti = 0; ti < 4; ++ti)
        for (int fz = 0; fz < 2; ++fz) {
          if (names[i].empty()) {
            ++i;
            continue;
          }
          hid_t d = open_dataset(f, names[i++]);
          hid_t type = dtypes(ti);
          size_t es;
          {
            h5::Lock l;
            es = H5Tget_size(type);
          }
          for (const auto& sel : selections(sh)) {
            size_t bytes = sel_elems(sh, sel) * es;
            Bytes want = h5_read(d, type, sel, bytes, 0x5C);
            EngineOut got = e_read(d, type, sel, bytes, 0x5C);
            bool ok = got.r == engine::Result::Done && got.data == want && !want.empty();
            if (!ok)
              std::fprintf(stderr, "fill mismatch %s dtype %d rd %d: %d %s\n", v.name, ti, rd, int(got.r),
                           got.err.message.c_str());
            CHECK(ok);
          }
          close_dataset(d);
        }
    close_file(f);
  }
  std::remove(p.c_str());
}

TEST(read_raw_chunk_via_filter_mask_and_userblock) {
  std::string p = tmp_name("mask");
  hid_t f = create_file(p, 1024);
  Shape sh{{64, 64}, {16, 16}};
  Bytes data = make_data(64 * 64, 4, 5);
  // Second half compressible: every chunk there is compressed; then overwrite
  // one compressible chunk stored raw with the deflate bit set in its mask.
  for (size_t i = 0; i < data.size() / 2; ++i) data[i] = uint8_t(i % 5);
  hid_t d = make_dataset(f, "m", H5T_NATIVE_FLOAT, sh, {2, 1, 3}, data.data());
  {
    h5::Lock l;
    hsize_t off[2] = {16, 32};
    Bytes raw(16 * 16 * 4 + 4);
    for (size_t i = 0; i < 256; ++i) {
      float x = float(i) * 0.5f;
      std::memcpy(raw.data() + 4 * i, &x, 4);
    }
    // shuffle applied (bit 0 clear), deflate skipped (bit 1), fletcher32 applied.
    Bytes sh_raw(raw.size());
    for (size_t i = 0; i < 256; ++i)
      for (size_t k = 0; k < 4; ++k) sh_raw[k * 256 + i] = raw[4 * i + k];
    // fletcher32 over the shuffled bytes, appended little-endian
    uint32_t s1 = 0, s2 = 0;
    {
      const uint8_t* src = sh_raw.data();
      size_t len = 1024 / 2;
      while (len) {
        size_t tlen = len > 360 ? 360 : len;
        len -= tlen;
        do {
          s1 += uint32_t((uint16_t(src[0]) << 8) | src[1]);
          s2 += s1;
          src += 2;
        } while (--tlen);
        s1 = (s1 & 0xffff) + (s1 >> 16);
        s2 = (s2 & 0xffff) + (s2 >> 16);
      }
      s1 = (s1 & 0xffff) + (s1 >> 16);
      s2 = (s2 & 0xffff) + (s2 >> 16);
    }
    uint32_t sum = (s2 << 16) | s1;
    for (int k = 0; k < 4; ++k) sh_raw[1024 + k] = uint8_t(sum >> (8 * k));
    CHECK(H5Dwrite_chunk(d, H5P_DEFAULT, 0x2, off, sh_raw.size(), sh_raw.data()) >= 0);
    H5Dclose(d);
  }
  close_file(f);
  for (int rd = 0; rd < 2; ++rd) {
    f = open_file(p, rd == 0);
    d = open_dataset(f, "m");
    for (const auto& sel : selections(sh)) {
      size_t bytes = sel_elems(sh, sel) * 4;
      Bytes want = h5_read(d, H5T_NATIVE_FLOAT, sel, bytes, 0);
      EngineOut got = e_read(d, H5T_NATIVE_FLOAT, sel, bytes, 0);
      CHECK(!want.empty());
      CHECK(got.r == engine::Result::Done);
      CHECK(got.data == want);
    }
    close_dataset(d);
    close_file(f);
  }
  std::remove(p.c_str());
}

TEST(read_corrupt_chunks_fail_cleanly) {
  std::string p = tmp_name("corrupt");
  hid_t f = create_file(p);
  Shape sh{{64, 64}, {16, 16}};
  Bytes data(64 * 64 * 4);
  for (size_t i = 0; i < data.size(); ++i) data[i] = uint8_t(i % 7);
  struct Case {
    const char* name;
    std::vector<int> filters;
    uint32_t mask;
    Bytes bytes;
  };
  Bytes garbage(300);
  for (size_t i = 0; i < garbage.size(); ++i) garbage[i] = uint8_t(i * 37 + 11);
  Bytes raw_bad_sum(16 * 16 * 4 + 4, 0x11);
  Bytes short_raw(100, 0);
  // A valid frame of 1 MiB of zeros where the chunk holds 1 KiB.
  Bytes zeros(1 << 20, 0), zstd_bomb(codecs::zstd_bound(zeros.size()));
  size_t zlen = 0;
  CHECK(codecs::zstd_encode(zeros.data(), zeros.size(), 3, zstd_bomb.data(), zstd_bomb.size(), &zlen) ==
        codecs::Status::Ok);
  zstd_bomb.resize(zlen);
  // A valid bitshuffle+LZ4 chunk whose header says 1 MiB where the chunk holds 1 KiB.
  Bytes bshuf_bomb(codecs::kBshufHeaderBytes + 64, 0);
  {
    codecs::BitshuffleParams bp;
    bp.elem_size = 4;
    Bytes enc(codecs::bitshuffle_bound(bp, 16 * 16 * 4));
    size_t blen = 0;
    CHECK(codecs::bitshuffle_encode(bp, data.data(), 16 * 16 * 4, enc.data(), enc.size(), &blen) == codecs::Status::Ok);
    enc.resize(blen);
    enc[5] = 0x10;  // total 0x100400 bytes
    bshuf_bomb = enc;
  }
  std::vector<Case> cases = {
      {"bitshuffle_garbage", {32008}, 0, garbage}, {"bitshuffle_bomb", {32008}, 0, bshuf_bomb},
      {"deflate_garbage", {2, 1}, 0, garbage},     {"lzf_garbage", {32000}, 0, garbage},
      {"lz4_garbage", {32004}, 0, garbage},        {"zstd_garbage", {32015}, 0, garbage},
      {"zstd_bomb", {32015}, 0, zstd_bomb},        {"blosc_garbage", {32001}, 0, garbage},
      {"fletcher_mismatch", {3}, 0, raw_bad_sum},  {"raw_wrong_size", {1}, 1, short_raw},
  };
  for (auto& c : cases) {
    hid_t d = make_dataset(f, c.name, H5T_NATIVE_FLOAT, sh, c.filters, data.data());
    h5::Lock l;
    hsize_t off[2] = {32, 16};
    CHECK(H5Dwrite_chunk(d, H5P_DEFAULT, c.mask, off, c.bytes.size(), c.bytes.data()) >= 0);
    H5Dclose(d);
  }
  close_file(f);
  for (int rd = 0; rd < 2; ++rd) {
    f = open_file(p, rd == 0);
    for (auto& c : cases) {
      hid_t d = open_dataset(f, c.name);
      EngineOut got = e_read(d, H5T_NATIVE_FLOAT, {}, data.size(), 0);
      CHECK(got.r == engine::Result::Failed);
      CHECK_EQ(got.err.code, std::string("H5_CORRUPT"));
      CHECK(got.err.message.find("(32, 16)") != std::string::npos);
      if (got.err.code != "H5_CORRUPT")
        std::fprintf(stderr, "%s: %s %s\n", c.name, got.err.code.c_str(), got.err.message.c_str());
      // A selection that avoids the bad chunk still reads.
      engine::Selection s{{0, 0}, {16, 64}, {}};
      EngineOut ok = e_read(d, H5T_NATIVE_FLOAT, s, 16 * 64 * 4, 0);
      CHECK(ok.r == engine::Result::Done);
      CHECK(ok.data == h5_read(d, H5T_NATIVE_FLOAT, s, 16 * 64 * 4, 0));
      close_dataset(d);
    }
    close_file(f);
  }
  std::remove(p.c_str());
}

TEST(truncated_file_is_io_error) {
  std::string p = tmp_name("trunc");
  hid_t f = create_file(p);
  Shape sh{{4096}, {256}};
  Bytes data = make_data(4096, 4, 3);
  close_dataset(make_dataset(f, "t", H5T_NATIVE_FLOAT, sh, {}, data.data()));
  close_file(f);
  // The last chunk is the last thing in the file: chop part of it off.
  f = open_file(p, true);
  hid_t d = open_dataset(f, "t");
  {
    h5::Lock l;
    hsize_t off[1] = {4096 - 256};
    unsigned mask;
    haddr_t addr;
    hsize_t size;
    CHECK(H5Dget_chunk_info_by_coord(d, off, &mask, &addr, &size) >= 0);
    CHECK(truncate(p.c_str(), off_t(addr + 100)) == 0);
  }
  EngineOut got = e_read(d, H5T_NATIVE_FLOAT, {}, data.size(), 0);
  CHECK(got.r == engine::Result::Failed);
  CHECK_EQ(got.err.code, std::string("H5_IO"));
  close_dataset(d);
  close_file(f);
  std::remove(p.c_str());
}

TEST(unsupported_cases_fall_back) {
  std::string p = tmp_name("unsup");
  hid_t f = create_file(p);
  Bytes data = make_data(1000, 4, 1);
  h5::Lock l;
  hsize_t dims[1] = {1000}, chunk[1] = {100};
  hid_t space = H5Screate_simple(1, dims, nullptr);
  auto mk = [&](const char* name, hid_t type, hid_t dcpl) {
    hid_t d = H5Dcreate2(f, name, type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, data.data());
    return d;
  };
  hid_t contig = mk("contig", H5T_NATIVE_FLOAT, H5P_DEFAULT);
  hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
  H5Pset_chunk(dcpl, 1, chunk);
  hid_t be = mk("be", H5T_IEEE_F32BE, dcpl);
  H5Pset_scaleoffset(dcpl, H5Z_SO_FLOAT_DSCALE, 3);
  hid_t so = mk("so", H5T_NATIVE_FLOAT, dcpl);
  hid_t dcpl2 = H5Pcreate(H5P_DATASET_CREATE);
  H5Pset_chunk(dcpl2, 1, chunk);
  H5Pset_nbit(dcpl2);
  hid_t nb = mk("nbit", H5T_NATIVE_FLOAT, dcpl2);
  hid_t dcpl3 = H5Pcreate(H5P_DATASET_CREATE);
  H5Pset_chunk(dcpl3, 1, chunk);
  H5Pset_chunk_opts(dcpl3, H5D_CHUNK_DONT_FILTER_PARTIAL_CHUNKS);
  H5Pset_deflate(dcpl3, 1);
  hid_t dp = mk("dontfilter", H5T_NATIVE_FLOAT, dcpl3);
  hid_t dcpl4 = H5Pcreate(H5P_DATASET_CREATE);
  H5Pset_chunk(dcpl4, 1, chunk);
  hid_t ok = mk("ok", H5T_NATIVE_FLOAT, dcpl4);
  l.unlock();
  Bytes out(4000), out8(8000);
  engine::Options opt;
  h5::ErrorInfo err;
  for (hid_t d : {contig, be, so, nb, dp}) {
    CHECK(engine::read(d, H5T_NATIVE_FLOAT, {}, out.data(), out.size(), opt, &err) == engine::Result::Unsupported);
    CHECK(engine::write(d, H5T_NATIVE_FLOAT, {}, out.data(), out.size(), opt, &err) == engine::Result::Unsupported);
  }
  // type conversion requested (float file type, double memory type)
  CHECK(engine::read(ok, H5T_NATIVE_DOUBLE, {}, out8.data(), out8.size(), opt, &err) == engine::Result::Unsupported);
  CHECK(engine::read(ok, H5T_NATIVE_INT32, {}, out.data(), out.size(), opt, &err) == engine::Result::Unsupported);
  // bad arguments are errors, not crashes
  CHECK(engine::read(ok, H5T_NATIVE_FLOAT, {}, out.data(), out.size() - 4, opt, &err) == engine::Result::Failed);
  CHECK(err.kind == h5::ErrorKind::Range);
  engine::Selection beyond{{990}, {20}, {}};
  CHECK(engine::read(ok, H5T_NATIVE_FLOAT, beyond, out.data(), 80, opt, &err) == engine::Result::Failed);
  engine::Selection wrong_rank{{0, 0}, {1, 1}, {}};
  CHECK(engine::read(ok, H5T_NATIVE_FLOAT, wrong_rank, out.data(), 4, opt, &err) == engine::Result::Failed);
  engine::Selection empty{{5}, {0}, {}};
  CHECK(engine::read(ok, H5T_NATIVE_FLOAT, empty, out.data(), 0, opt, &err) == engine::Result::Done);
  CHECK(engine::read(H5I_INVALID_HID, H5T_NATIVE_FLOAT, {}, out.data(), out.size(), opt, &err) ==
        engine::Result::Failed);
  // unaligned write selection -> fallback
  engine::Selection unaligned{{50}, {100}, {}};
  CHECK(engine::write(ok, H5T_NATIVE_FLOAT, unaligned, out.data(), 400, opt, &err) == engine::Result::Unsupported);
  l.lock();
  H5Pclose(dcpl4);
  H5Dclose(contig);
  H5Dclose(be);
  H5Dclose(so);
  H5Dclose(nb);
  H5Dclose(dp);
  H5Dclose(ok);
  H5Pclose(dcpl);
  H5Pclose(dcpl2);
  H5Pclose(dcpl3);
  H5Sclose(space);
  H5Fclose(f);
  std::remove(p.c_str());
}

namespace {

Bytes read_chunk_bytes(hid_t d, const std::vector<hsize_t>& off, uint32_t* mask) {
  h5::Lock l;
  hsize_t size = 0;
  if (H5Dget_chunk_storage_size(d, off.data(), &size) < 0) return {};
  Bytes b(size);
  if (H5Dread_chunk(d, H5P_DEFAULT, off.data(), mask, b.data()) < 0) return {};
  return b;
}

}  // namespace

TEST(write_round_trip_matrix) {
  std::string p = tmp_name("write");
  hid_t f = create_file(p);
  int compared_bytes = 0, same_bytes = 0;
  for (size_t fi = 0; fi < filter_specs().size(); ++fi)
    for (int ti = 0; ti < 4; ++ti)
      for (size_t si = 0; si < shapes().size(); ++si) {
        const auto& spec = filter_specs()[fi];
        hid_t type = dtypes(ti);
        const Shape& sh = shapes()[si];
        size_t es;
        {
          h5::Lock l;
          es = H5Tget_size(type);
        }
        Bytes data = make_data(nelem(sh.dims), es, 7 + fi * 31 + ti * 5 + si);
        std::string n = dset_name(fi, ti, si);
        hid_t ref = make_dataset(f, n + "_lib", type, sh, spec.ids, data.data(), spec.cd);
        hid_t d = make_dataset(f, n, type, sh, spec.ids, nullptr, spec.cd);
        h5::ErrorInfo err;
        engine::Result r = engine::write(d, type, {}, data.data(), data.size(), engine::Options{}, &err);
        bool two_codecs = fi == filter_specs().size() - 1;
        if (two_codecs) {
          CHECK(r == engine::Result::Unsupported);
        } else {
          if (r != engine::Result::Done)
            std::fprintf(stderr, "write %s: %d %s %s\n", spec.name, int(r), err.code.c_str(), err.message.c_str());
          CHECK(r == engine::Result::Done);
          CHECK(h5_read(d, type, {}, data.size(), 0) == data);
          // engine read of what the engine wrote
          EngineOut back = e_read(d, type, {}, data.size(), 0);
          CHECK(back.r == engine::Result::Done && back.data == data);
          // Chunk bytes equal libhdf5's own for deterministic codecs; with
          // deflate, libdeflate's stream may differ from zlib's.
          bool has_deflate = false;
          for (int id : spec.ids) has_deflate = has_deflate || id == 1 || id == 1004;
          std::vector<hsize_t> off(sh.dims.size(), 0);
          for (int which = 0; which < 2; ++which) {
            if (which)
              for (size_t k = 0; k < off.size(); ++k) off[k] = (sh.dims[k] - 1) / sh.chunk[k] * sh.chunk[k];
            uint32_t m1 = 0, m2 = 0;
            Bytes a = read_chunk_bytes(d, off, &m1), b = read_chunk_bytes(ref, off, &m2);
            CHECK(!a.empty() && !b.empty());
            ++compared_bytes;
            if (a == b && m1 == m2)
              ++same_bytes;
            else if (!has_deflate)
              std::fprintf(stderr, "chunk bytes differ: %s dtype %d shape %zu (%zu/%u vs lib %zu/%u)\n", spec.name, ti,
                           si, a.size(), m1, b.size(), m2);
            if (!has_deflate) CHECK(a == b && m1 == m2);
          }
        }
        close_dataset(d);
        close_dataset(ref);
      }
  std::printf("  %d/%d sampled chunks byte-identical to libhdf5's\n", same_bytes, compared_bytes);
  close_file(f);
  std::remove(p.c_str());
}

TEST(write_partial_aligned_selection_and_fill_padding) {
  std::string p = tmp_name("wpart");
  hid_t f = create_file(p);
  Shape sh{{50, 45}, {16, 16}};
  hid_t d;
  {
    h5::Lock l;
    hid_t space = H5Screate_simple(2, sh.dims.data(), nullptr);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_chunk(dcpl, 2, sh.chunk.data());
    H5Pset_shuffle(dcpl);
    H5Pset_deflate(dcpl, 1);
    int32_t fill = -5;
    H5Pset_fill_value(dcpl, H5T_NATIVE_INT32, &fill);
    d = H5Dcreate2(f, "p", H5T_NATIVE_INT32, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    H5Pclose(dcpl);
    H5Sclose(space);
  }
  // rows 16..49 (to the edge), cols 32..44 (edge chunk column)
  engine::Selection sel{{16, 32}, {34, 13}, {}};
  std::vector<int32_t> src(34 * 13);
  for (size_t i = 0; i < src.size(); ++i) src[i] = int32_t(i * 3 + 1);
  h5::ErrorInfo err;
  CHECK(engine::write(d, H5T_NATIVE_INT32, sel, src.data(), src.size() * 4, engine::Options{}, &err) ==
        engine::Result::Done);
  Bytes all = h5_read(d, H5T_NATIVE_INT32, {}, 50 * 45 * 4, 0);
  const int32_t* v = reinterpret_cast<const int32_t*>(all.data());
  bool ok = true;
  for (size_t r = 0; r < 50; ++r)
    for (size_t c = 0; c < 45; ++c) {
      int32_t want = (r >= 16 && c >= 32) ? src[(r - 16) * 13 + (c - 32)] : -5;
      ok = ok && v[r * 45 + c] == want;
    }
  CHECK(ok);
  // padding of an edge chunk is the fill value, as libhdf5 writes it
  std::vector<hsize_t> off{48, 32};
  uint32_t mask = 0;
  Bytes raw = read_chunk_bytes(d, off, &mask);
  CHECK(!raw.empty());
  close_dataset(d);
  close_file(f);
  std::remove(p.c_str());
}

TEST(cancellation) {
  std::string p = tmp_name("cancel");
  hid_t f = create_file(p);
  Shape sh{{1 << 16}, {1024}};
  Bytes data = make_data(1 << 16, 4, 2);
  hid_t d = make_dataset(f, "c", H5T_NATIVE_FLOAT, sh, {2, 1}, data.data());
  std::atomic<bool> cancel{true};
  EngineOut got = e_read(d, H5T_NATIVE_FLOAT, {}, data.size(), 0, 2, &cancel);
  CHECK(got.r == engine::Result::Failed);
  CHECK_EQ(got.err.code, std::string("H5_ABORTED"));
  hid_t d2 = make_dataset(f, "c2", H5T_NATIVE_FLOAT, sh, {2, 1}, nullptr);
  engine::Options opt;
  opt.cancel = &cancel;
  h5::ErrorInfo err;
  CHECK(engine::write(d2, H5T_NATIVE_FLOAT, {}, data.data(), data.size(), opt, &err) == engine::Result::Failed);
  CHECK_EQ(err.code, std::string("H5_ABORTED"));
  // Cancel from another thread while a read is running: either it finished
  // first or it stopped with H5_ABORTED; never anything else.
  std::atomic<bool> later{false};
  std::thread t([&] {
    std::this_thread::sleep_for(std::chrono::microseconds(200));
    later = true;
  });
  got = e_read(d, H5T_NATIVE_FLOAT, {}, data.size(), 0, 2, &later);
  t.join();
  CHECK(got.r == engine::Result::Done || got.err.code == "H5_ABORTED");
  if (got.r == engine::Result::Done) CHECK(got.data == data);
  close_dataset(d);
  close_dataset(d2);
  close_file(f);
  std::remove(p.c_str());
}

TEST(thread_pool_lifecycle) {
  engine::set_pool_size(3);
  CHECK_EQ(engine::pool_size(), 3u);
  std::atomic<int> sum{0};
  std::atomic<int> next{0};
  engine::parallel_for(4, [&](unsigned) {
    for (int i; (i = next.fetch_add(1)) < 1000;) sum += i;
  });
  CHECK_EQ(sum.load(), 999 * 1000 / 2);
  engine::shutdown_pool();
  engine::shutdown_pool();            // idempotent
  CHECK_EQ(engine::pool_size(), 3u);  // re-created on demand
  engine::set_pool_size(0);
  CHECK_EQ(engine::pool_size(), engine::hardware_threads());
  // concurrent engine calls share the pool
  std::string p = tmp_name("pool");
  hid_t f = create_file(p);
  Shape sh{{1 << 15}, {512}};
  Bytes data = make_data(1 << 15, 4, 4);
  close_dataset(make_dataset(f, "a", H5T_NATIVE_FLOAT, sh, {2, 32004}, data.data()));
  close_file(f);
  f = open_file(p, true);
  hid_t d = open_dataset(f, "a");
  std::vector<std::thread> ts;
  std::atomic<int> good{0};
  for (int k = 0; k < 4; ++k)
    ts.emplace_back([&] {
      for (int it = 0; it < 5; ++it) {
        EngineOut o = e_read(d, H5T_NATIVE_FLOAT, {}, data.size(), 0, 2);
        if (o.r == engine::Result::Done && o.data == data) ++good;
      }
    });
  for (auto& t : ts) t.join();
  CHECK_EQ(good.load(), 20);
  engine::shutdown_pool();
  EngineOut o = e_read(d, H5T_NATIVE_FLOAT, {}, data.size(), 0, 2);
  CHECK(o.r == engine::Result::Done && o.data == data);
  close_dataset(d);
  close_file(f);
  std::remove(p.c_str());
}

TEST(chunk_index_cache_and_lookup_cost) {
  std::string p = tmp_name("index");
  hid_t f = create_file(p);
  Shape sh{{4096 * 64}, {64}};  // 4096 chunks
  Bytes data = make_data(4096 * 64, 4, 8);
  close_dataset(make_dataset(f, "x", H5T_NATIVE_FLOAT, sh, {}, data.data()));
  close_file(f);
  engine::ChunkIndex::clear_cache();
  f = open_file(p, true);
  hid_t d = open_dataset(f, "x");
  {
    // H5Dget_chunk_info (by index) vs _by_coord for all 4096 chunks.
    h5::Lock l;
    hid_t space = H5Dget_space(d);
    auto t0 = std::chrono::steady_clock::now();
    for (hsize_t i = 0; i < 4096; ++i) {
      hsize_t off[1];
      unsigned m;
      haddr_t a;
      hsize_t s;
      CHECK(H5Dget_chunk_info(d, space, i, off, &m, &a, &s) >= 0);
    }
    auto t1 = std::chrono::steady_clock::now();
    for (hsize_t i = 0; i < 4096; ++i) {
      hsize_t off[1] = {i * 64};
      unsigned m;
      haddr_t a;
      hsize_t s;
      CHECK(H5Dget_chunk_info_by_coord(d, off, &m, &a, &s) >= 0);
    }
    auto t2 = std::chrono::steady_clock::now();
    H5Sclose(space);
    std::printf("  4096 chunks: H5Dget_chunk_info %.1f ms, H5Dget_chunk_info_by_coord %.1f ms\n",
                std::chrono::duration<double, std::milli>(t1 - t0).count(),
                std::chrono::duration<double, std::milli>(t2 - t1).count());
  }
  h5::ErrorInfo err;
  auto a = engine::ChunkIndex::get(d, &err);
  auto b = engine::ChunkIndex::get(d, &err);
  CHECK(a && a == b);
  CHECK(!a->addressed());  // 4096 > 1024: lookup mode
  std::printf("  index of 4096 chunks (lookup mode): %.2f ms\n", a->build_ms());
  {
    engine::ChunkIndex::set_max_addressed_chunks(4096);
    auto full = engine::ChunkIndex::build(d, &err);
    CHECK(full && full->addressed());
    std::printf("  addressed index of 4096 chunks: %.1f ms\n", full->build_ms());
    engine::ChunkIndex::set_max_addressed_chunks(0);
    hsize_t gc[1] = {17};
    CHECK(full->at(gc).allocated());
  }
  CHECK_EQ(a->total_chunks(), uint64_t(4096));
  CHECK_EQ(a->allocated_chunks(), uint64_t(4096));
  CHECK_EQ(engine::ChunkIndex::cache_size(), size_t(1));
  engine::ChunkIndex::forget_file(f);
  CHECK_EQ(engine::ChunkIndex::cache_size(), size_t(0));
  auto c = engine::ChunkIndex::get(d, &err);
  CHECK(c && c != a);
  close_dataset(d);
  close_file(f);
  // Rewrite the file with a different layout under the same name; the
  // reopened file must not hit the old entry.
  f = create_file(p);
  close_dataset(make_dataset(f, "x", H5T_NATIVE_FLOAT, Shape{{4096 * 64}, {128}}, {1}, data.data()));
  close_file(f);
  f = open_file(p, true);
  d = open_dataset(f, "x");
  auto e = engine::ChunkIndex::get(d, &err);
  CHECK(e && e->total_chunks() == 2048);
  EngineOut o = e_read(d, H5T_NATIVE_FLOAT, {}, data.size(), 0);
  CHECK(o.r == engine::Result::Done && o.data == data);
  close_dataset(d);
  close_file(f);
  // read-write files are never cached
  f = open_file(p, false);
  d = open_dataset(f, "x");
  auto g1 = engine::ChunkIndex::get(d, &err), g2 = engine::ChunkIndex::get(d, &err);
  CHECK(g1 && g2 && g1 != g2);
  close_dataset(d);
  close_file(f);
  engine::ChunkIndex::clear_cache();
  std::remove(p.c_str());
}

TEST(read_after_libhdf5_write_in_same_rw_session) {
  // Chunks still dirty in libhdf5's chunk cache must be seen by the engine.
  std::string p = tmp_name("dirty");
  hid_t f = create_file(p);
  Shape sh{{256}, {32}};
  Bytes data = make_data(256, 8, 6);
  hid_t d = make_dataset(f, "d", H5T_NATIVE_DOUBLE, sh, {2, 1}, data.data());
  EngineOut o = e_read(d, H5T_NATIVE_DOUBLE, {}, data.size(), 0);
  CHECK(o.r == engine::Result::Done && o.data == data);
  // engine write then libhdf5 partial write then engine read
  Bytes data2 = make_data(256, 8, 60);
  h5::ErrorInfo err;
  CHECK(engine::write(d, H5T_NATIVE_DOUBLE, {}, data2.data(), data2.size(), engine::Options{}, &err) ==
        engine::Result::Done);
  {
    h5::Lock l;
    hid_t fs = H5Dget_space(d);
    hsize_t start[1] = {10}, count[1] = {5};
    H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, nullptr, count, nullptr);
    hid_t ms = H5Screate_simple(1, count, nullptr);
    double v[5] = {1, 2, 3, 4, 5};
    H5Dwrite(d, H5T_NATIVE_DOUBLE, ms, fs, H5P_DEFAULT, v);
    std::memcpy(data2.data() + 80, v, 40);
    H5Sclose(ms);
    H5Sclose(fs);
  }
  o = e_read(d, H5T_NATIVE_DOUBLE, {}, data2.size(), 0);
  CHECK(o.r == engine::Result::Done && o.data == data2);
  close_dataset(d);
  close_file(f);
  std::remove(p.c_str());
}

TEST(zz_cleanup) {
  std::remove(matrix_file().c_str());
  engine::shutdown_pool();
}

H5V_TEST_MAIN()
