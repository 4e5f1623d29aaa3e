// Native tests for the H5Z filters 32000 (lzf), 32004 (lz4), 32008 (bitshuffle), 32015 (zstd) and for the
// codecs' agreement with libhdf5's own shuffle / fletcher32 / deflate: files
// are written through libhdf5, raw chunks fetched with H5Dread_chunk and
// decoded with our codecs directly (and the other way round).
#include <hdf5.h>
#include <unistd.h>
#include <zstd.h>

#include <climits>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "check.h"
#include "codecs/bitshuffle.h"
#include "rng.h"
#include "codecs/deflate.h"
#include "codecs/fletcher32.h"
#include "codecs/lz4.h"
#include "codecs/lzf.h"
#include "codecs/shuffle.h"
#include "codecs/zstd.h"
#include "filters/bounded.h"
#include "filters/register.h"

extern "C" uint32_t H5_checksum_fletcher32(const void* data, size_t len);  // exported by libhdf5

namespace h5v::filters {
extern const H5Z_class2_t kLzfClass;
extern const H5Z_class2_t kLz4Class;
extern const H5Z_class2_t kZstdClass;
extern const H5Z_class2_t kBitshuffleClass;
}  // namespace h5v::filters

using namespace h5v::codecs;
using h5v::filters::kFilterLz4;
using h5v::filters::kFilterLzf;
using h5v::filters::kFilterZstd;
using Bytes = std::vector<uint8_t>;

using h5v::test::Rng;

namespace {

Bytes floats(size_t count, uint64_t seed) {
  Bytes d(count * 4);
  Rng r(seed);
  for (size_t i = 0; i < count; ++i) {
    // Quantised "weights": few distinct values, so every codec finds matches.
    float f = float(std::floor(std::sin(double(i) * 0.01) * 64.0) / 256.0);
    if (r.next() % 8 == 0) f += float(r.next() % 16) / 1024.0f;
    std::memcpy(&d[i * 4], &f, 4);
  }
  return d;
}

Bytes random_bytes(size_t n, uint64_t seed) {
  Bytes d(n);
  Rng r(seed);
  for (auto& b : d) b = uint8_t(r.next());
  return d;
}

std::string tmp_path(const char* tag) {
  return std::string("h5v_test_filters_") + tag + "_" + std::to_string(getpid()) + ".h5";
}

void ensure_registered() {
  static bool once = [] {
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    return h5v::filters::register_builtin_filters();
  }();
  CHECK(once);
}

struct Pipeline {
  bool shuffle = false;
  int filter = 0;  // 0 = none, kFilterLzf, kFilterLz4, 1 = deflate, 3 = fletcher32
  std::vector<unsigned> cd;
  unsigned flags = H5Z_FLAG_OPTIONAL;
  int deflate_level = 4;
};

// Creates a 1-D chunked dataset "d" of `type` with `count` elements in
// chunks of `chunk` elements and writes `data`. Returns false on failure.
bool write_1d(const std::string& path, hid_t type, const Bytes& data, hsize_t count, hsize_t chunk, const Pipeline& p) {
  hid_t f = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  if (f < 0) return false;
  hid_t space = H5Screate_simple(1, &count, nullptr);
  hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
  H5Pset_chunk(dcpl, 1, &chunk);
  if (p.shuffle) H5Pset_shuffle(dcpl);
  if (p.filter == kFilterLzf || p.filter == kFilterLz4 || p.filter == kFilterZstd ||
      p.filter == h5v::filters::kFilterBitshuffle)
    H5Pset_filter(dcpl, H5Z_filter_t(p.filter), p.flags, p.cd.size(), p.cd.data());
  else if (p.filter == 1)
    H5Pset_deflate(dcpl, unsigned(p.deflate_level));
  else if (p.filter == 3)
    H5Pset_fletcher32(dcpl);
  hid_t d = H5Dcreate2(f, "d", type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
  bool ok = d >= 0 && H5Dwrite(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data.data()) >= 0;
  if (d >= 0) H5Dclose(d);
  H5Pclose(dcpl);
  H5Sclose(space);
  H5Fclose(f);
  return ok;
}

struct Opened {
  hid_t f = -1, d = -1;
  explicit Opened(const std::string& path, unsigned mode = H5F_ACC_RDONLY) {
    f = H5Fopen(path.c_str(), mode, H5P_DEFAULT);
    if (f >= 0) d = H5Dopen2(f, "d", H5P_DEFAULT);
  }
  ~Opened() {
    if (d >= 0) H5Dclose(d);
    if (f >= 0) H5Fclose(f);
  }
};

bool read_chunk(hid_t d, hsize_t offset, Bytes* raw, uint32_t* mask) {
  hsize_t size = 0;
  if (H5Dget_chunk_storage_size(d, &offset, &size) < 0) return false;
  raw->assign(size, 0);
  return H5Dread_chunk(d, H5P_DEFAULT, &offset, mask, raw->data()) >= 0;
}

Bytes read_all(hid_t d, hid_t type, size_t nbytes, bool* ok) {
  Bytes out(nbytes, 0xCD);
  *ok = H5Dread(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data()) >= 0;
  return out;
}

// Whether the current error stack mentions `needle` (then clears it).
bool stack_mentions(const char* needle) {
  struct Ctx {
    const char* needle;
    bool found;
  } ctx{needle, false};
  H5Ewalk2(
      H5E_DEFAULT, H5E_WALK_DOWNWARD,
      [](unsigned, const H5E_error2_t* e, void* p) -> herr_t {
        auto* c = static_cast<Ctx*>(p);
        if (e->desc && std::strstr(e->desc, c->needle)) c->found = true;
        return 0;
      },
      &ctx);
  H5Eclear2(H5E_DEFAULT);
  return ctx.found;
}

// Calls a filter class's function the way H5Z_pipeline does (malloc'd buffer).
size_t call_filter(const H5Z_class2_t& cls, unsigned flags, std::vector<unsigned> cd, const Bytes& in, Bytes* out) {
  size_t buf_size = in.size() ? in.size() : 1;
  void* buf = std::malloc(buf_size);
  if (!in.empty()) std::memcpy(buf, in.data(), in.size());
  size_t r = cls.filter(flags, cd.size(), cd.empty() ? nullptr : cd.data(), in.size(), &buf_size, &buf);
  if (r && out) {
    CHECK(r <= buf_size);
    out->assign(static_cast<uint8_t*>(buf), static_cast<uint8_t*>(buf) + r);
  }
  std::free(buf);
  return r;
}

Bytes decode_lzf(const Bytes& raw, size_t n) {
  Bytes out(n);
  size_t len = 0;
  if (lzf_decode(raw.data(), raw.size(), out.data(), n, &len) != Status::Ok || len != n) return {};
  return out;
}
Bytes decode_zstd(const Bytes& raw, size_t n) {
  Bytes out(n);
  size_t len = 0;
  if (zstd_decode(raw.data(), raw.size(), out.data(), n, &len) != Status::Ok || len != n) return {};
  return out;
}
Bytes decode_lz4(const Bytes& raw, size_t n) {
  Bytes out(n);
  size_t len = 0;
  if (lz4_decode(raw.data(), raw.size(), out.data(), n, &len) != Status::Ok || len != n) return {};
  return out;
}

}  // namespace

TEST(filters_register) {
  ensure_registered();
  for (int id : {kFilterLzf, kFilterLz4, kFilterZstd}) {
    CHECK(H5Zfilter_avail(H5Z_filter_t(id)) > 0);
    unsigned info = 0;
    CHECK(H5Zget_filter_info(H5Z_filter_t(id), &info) >= 0);
    CHECK(info & H5Z_FILTER_CONFIG_ENCODE_ENABLED);
    CHECK(info & H5Z_FILTER_CONFIG_DECODE_ENABLED);
  }
  // registering twice is harmless
  CHECK(h5v::filters::register_builtin_filters());
}

TEST(filters_round_trip_through_libhdf5) {
  ensure_registered();
  struct Case {
    int filter;
    std::vector<unsigned> cd;
    bool shuffle;
  };
  const Case cases[] = {
      {kFilterLzf, {}, false}, {kFilterLzf, {}, true},     {kFilterLz4, {}, false},
      {kFilterLz4, {}, true},  {kFilterLz4, {4096}, true}, {kFilterLz4, {1000, 1}, false},
  };
  const hsize_t count = 10000, chunk = 3000;  // 4 chunks, the last one partial
  Bytes data = floats(count, 3);
  int ci = 0;
  for (const Case& c : cases) {
    std::string path = tmp_path(("rt" + std::to_string(ci++)).c_str());
    Pipeline p;
    p.filter = c.filter;
    p.cd = c.cd;
    p.shuffle = c.shuffle;
    CHECK(write_1d(path, H5T_NATIVE_FLOAT, data, count, chunk, p));
    {
      Opened o(path);
      CHECK(o.d >= 0);
      bool ok = false;
      Bytes back = read_all(o.d, H5T_NATIVE_FLOAT, data.size(), &ok);
      CHECK(ok);
      CHECK(back == data);
      // The stored cd_values are what h5py / hdf5plugin expect.
      hid_t dcpl = H5Dget_create_plist(o.d);
      unsigned flags = 0, cdv[8] = {0};
      size_t ncd = 8;
      CHECK(H5Pget_filter_by_id2(dcpl, H5Z_filter_t(c.filter), &flags, &ncd, cdv, 0, nullptr, nullptr) >= 0);
      CHECK(flags & H5Z_FLAG_OPTIONAL);
      if (c.filter == kFilterLzf) {
        CHECK_EQ(ncd, size_t(3));
        CHECK_EQ(cdv[0], 4u);
        CHECK_EQ(cdv[1], 0x0105u);
        CHECK_EQ(cdv[2], unsigned(chunk * 4));
      } else {
        CHECK_EQ(ncd, c.cd.size());
        for (size_t i = 0; i < c.cd.size() && i < 8; ++i) CHECK_EQ(cdv[i], c.cd[i]);
      }
      H5Pclose(dcpl);
      // Every raw chunk decodes with the codec directly to the right bytes.
      for (hsize_t off = 0; off < count; off += chunk) {
        Bytes raw;
        uint32_t mask = 99;
        CHECK(read_chunk(o.d, off, &raw, &mask));
        CHECK_EQ(mask, 0u);
        size_t n = size_t(chunk) * 4;  // edge chunks are stored full-size
        Bytes dec = c.filter == kFilterLzf ? decode_lzf(raw, n) : decode_lz4(raw, n);
        CHECK_EQ(dec.size(), n);
        if (c.filter == kFilterLz4 && dec.size() == n) {
          uint64_t total = 0;
          CHECK(lz4_check_frame(raw.data(), raw.size(), &total) == Status::Ok);
          uint32_t bs = (uint32_t(raw[8]) << 24) | (uint32_t(raw[9]) << 16) | (uint32_t(raw[10]) << 8) | raw[11];
          size_t want = c.cd.empty() || c.cd[0] == 0 ? n : c.cd[0];
          CHECK_EQ(size_t(bs), want < n ? want : n);
        }
        if (c.shuffle && dec.size() == n) {
          Bytes un(n);
          unshuffle(dec.data(), un.data(), n, 4);
          dec.swap(un);
        }
        size_t valid = size_t(std::min<hsize_t>(chunk, count - off)) * 4;
        CHECK(dec.size() == n && std::memcmp(dec.data(), data.data() + off * 4, valid) == 0);
        if (!(raw.size() < n))
          std::fprintf(stderr, "case %d off %llu raw %zu n %zu\n", ci, (unsigned long long)off, raw.size(), n);
        CHECK(raw.size() < n);  // the float data does compress
      }
    }
    std::remove(path.c_str());
  }
}

TEST(filters_incompressible_chunks_stored_raw_with_mask) {
  ensure_registered();
  const hsize_t count = 4096, chunk = 1024;
  Bytes data = random_bytes(count, 11);
  for (int id : {kFilterLzf, kFilterLz4, kFilterZstd}) {
    for (bool shuf : {false, true}) {
      std::string path = tmp_path("raw");
      Pipeline p;
      p.filter = id;
      p.shuffle = shuf;
      CHECK(write_1d(path, H5T_NATIVE_UINT8, data, count, chunk, p));
      Opened o(path);
      bool ok = false;
      CHECK(read_all(o.d, H5T_NATIVE_UINT8, data.size(), &ok) == data);
      CHECK(ok);
      Bytes raw;
      uint32_t mask = 0;
      CHECK(read_chunk(o.d, 0, &raw, &mask));
      // uint8 shuffle is a no-op but still in the pipeline at index 0
      uint32_t bit = shuf ? 2u : 1u;
      CHECK_EQ(mask, bit);
      CHECK(raw.size() == chunk && std::memcmp(raw.data(), data.data(), chunk) == 0);
      std::remove(path.c_str());
    }
  }
  // Mandatory LZ4: the chunk is framed even though it grows (hdf5plugin's behaviour).
  std::string path = tmp_path("mand");
  Pipeline p;
  p.filter = kFilterLz4;
  p.flags = H5Z_FLAG_MANDATORY;
  CHECK(write_1d(path, H5T_NATIVE_UINT8, data, count, chunk, p));
  {
    Opened o(path);
    Bytes raw;
    uint32_t mask = 9;
    CHECK(read_chunk(o.d, 0, &raw, &mask));
    CHECK_EQ(mask, 0u);
    CHECK_EQ(raw.size(), size_t(chunk + 16));
    bool ok = false;
    CHECK(read_all(o.d, H5T_NATIVE_UINT8, data.size(), &ok) == data);
    CHECK(ok);
  }
  std::remove(path.c_str());
  // Mandatory LZF also succeeds (output may grow slightly).
  p.filter = kFilterLzf;
  CHECK(write_1d(path, H5T_NATIVE_UINT8, data, count, chunk, p));
  {
    Opened o(path);
    bool ok = false;
    CHECK(read_all(o.d, H5T_NATIVE_UINT8, data.size(), &ok) == data);
    CHECK(ok);
  }
  std::remove(path.c_str());
}

TEST(filters_read_chunks_written_by_codecs) {
  // Chunks produced by our encoders and stored with H5Dwrite_chunk read back
  // through libhdf5 + our filters (and libhdf5's own deflate).
  ensure_registered();
  const hsize_t count = 2048, chunk = 2048;
  Bytes data = floats(count, 5);
  for (int id : {kFilterLzf, kFilterLz4, 1}) {
    std::string path = tmp_path("wc");
    Pipeline p;
    p.filter = id;
    CHECK(write_1d(path, H5T_NATIVE_FLOAT, Bytes(data.size(), 0), count, chunk, p));
    Bytes enc(data.size() * 2 + 64);
    size_t len = 0;
    if (id == kFilterLzf)
      CHECK(lzf_encode(data.data(), data.size(), enc.data(), enc.size(), &len) == Status::Ok);
    else if (id == kFilterLz4)
      CHECK(lz4_encode(data.data(), data.size(), 1000, enc.data(), enc.size(), &len) == Status::Ok);
    else
      CHECK(deflate_encode(data.data(), data.size(), 6, enc.data(), enc.size(), &len) == Status::Ok);
    {
      Opened o(path, H5F_ACC_RDWR);
      hsize_t off = 0;
      CHECK(H5Dwrite_chunk(o.d, H5P_DEFAULT, 0, &off, len, enc.data()) >= 0);
    }
    {
      Opened o(path);
      bool ok = false;
      CHECK(read_all(o.d, H5T_NATIVE_FLOAT, data.size(), &ok) == data);
      CHECK(ok);
    }
    std::remove(path.c_str());
  }
}

TEST(filters_reject_corrupt_chunks_cleanly) {
  ensure_registered();
  const hsize_t count = 1024, chunk = 1024;
  struct Bad {
    int id;
    Bytes raw;
    const char* msg;
  };
  Bytes huge(12 + 4 + 5, 0);  // declares 2^40 bytes
  huge[3] = 1;
  huge[8] = 0x40;
  huge[15] = 5;
  Bytes lz_bad_block(12 + 4 + 8, 0x11);  // declares 4096 bytes, 8 garbage block bytes
  for (int i = 0; i < 12; ++i) lz_bad_block[size_t(i)] = 0;
  lz_bad_block[6] = 0x10;
  lz_bad_block[10] = 0x10;
  lz_bad_block[15] = 8;
  const Bad bads[] = {
      {kFilterLzf, {0x05, 'a'}, "LZF"},              // truncated literal
      {kFilterLzf, {0x00, 'a', 0x20, 0x05}, "LZF"},  // reference before start
      {kFilterLz4, {1, 2, 3}, "LZ4"},                // short header
      {kFilterLz4, huge, "LZ4"},                     // forged declared size
      {kFilterLz4, lz_bad_block, "LZ4"},             // garbage LZ4 block
  };
  for (const Bad& b : bads) {
    std::string path = tmp_path("bad");
    Pipeline p;
    p.filter = b.id;
    CHECK(write_1d(path, H5T_NATIVE_UINT8, Bytes(count, 0), count, chunk, p));
    {
      Opened o(path, H5F_ACC_RDWR);
      hsize_t off = 0;
      CHECK(H5Dwrite_chunk(o.d, H5P_DEFAULT, 0, &off, b.raw.size(), b.raw.data()) >= 0);
    }
    {
      Opened o(path);
      Bytes out(count);
      H5Eclear2(H5E_DEFAULT);
      CHECK(H5Dread(o.d, H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data()) < 0);
      CHECK(stack_mentions(b.msg));
    }
    std::remove(path.c_str());
  }
}

TEST(filter_functions_direct) {
  using h5v::filters::kLz4Class;
  using h5v::filters::kLzfClass;
  Bytes data = floats(5000, 9);
  Bytes enc, dec;
  // LZF encode/decode with the set_local hint, a too-small hint (growth
  // fallback), no hint, and an absurd hint (must be clamped, not allocated).
  CHECK(call_filter(kLzfClass, H5Z_FLAG_OPTIONAL, {4, 0x105, 20000}, data, &enc) > 0);
  CHECK(enc.size() < data.size());
  for (std::vector<unsigned> cd : {std::vector<unsigned>{4, 0x105, 20000}, std::vector<unsigned>{4, 0x105, 1},
                                   std::vector<unsigned>{}, std::vector<unsigned>{4, 0x105, UINT_MAX}}) {
    dec.clear();
    CHECK_EQ(call_filter(kLzfClass, H5Z_FLAG_REVERSE, cd, enc, &dec), data.size());
    CHECK(dec == data);
  }
  // incompressible + optional -> 0 (libhdf5 then stores raw), no error pushed
  Bytes rnd = random_bytes(3000, 1);
  H5Eclear2(H5E_DEFAULT);
  CHECK_EQ(call_filter(kLzfClass, H5Z_FLAG_OPTIONAL, {}, rnd, nullptr), size_t(0));
  CHECK_EQ(call_filter(kLz4Class, H5Z_FLAG_OPTIONAL, {}, rnd, nullptr), size_t(0));
  CHECK_EQ(H5Eget_num(H5E_DEFAULT), ssize_t(0));
  // LZ4 through the function, default and small blocks
  for (std::vector<unsigned> cd : {std::vector<unsigned>{}, std::vector<unsigned>{0}, std::vector<unsigned>{512}}) {
    enc.clear();
    dec.clear();
    CHECK(call_filter(kLz4Class, H5Z_FLAG_OPTIONAL, cd, data, &enc) > 0);
    CHECK_EQ(call_filter(kLz4Class, H5Z_FLAG_REVERSE, cd, enc, &dec), data.size());
    CHECK(dec == data);
  }
  // LZ4 block size beyond LZ4's limit is an encode error, not a crash
  CHECK_EQ(call_filter(kLz4Class, 0, {0xF0000000u}, data, nullptr), size_t(0));
  CHECK(stack_mentions("LZ4"));
  // forged LZ4 size: rejected before allocation
  Bytes forged(16, 0);
  forged[0] = 0x7f;
  forged[11] = 1;
  CHECK_EQ(call_filter(kLz4Class, H5Z_FLAG_REVERSE, {}, forged, nullptr), size_t(0));
  CHECK(stack_mentions("LZ4"));
  // a real frame declaring more than 4 GiB (many raw 1-byte blocks would be
  // needed; the plausibility check and the 4 GiB cap both refuse it)
  Bytes f5(12 + 8, 0);
  f5[3] = 0x01;  // 2^32 * 256... total = 0x0000000100000000
  f5[11] = 0x40;
  CHECK_EQ(call_filter(kLz4Class, H5Z_FLAG_REVERSE, {}, f5, nullptr), size_t(0));
  CHECK(stack_mentions("LZ4"));
  // LZF garbage
  CHECK_EQ(call_filter(kLzfClass, H5Z_FLAG_REVERSE, {4, 0x105, 100}, Bytes{0x1f, 1}, nullptr), size_t(0));
  CHECK(stack_mentions("LZF"));
}

TEST(zstd_filter_through_libhdf5) {
  ensure_registered();
  const hsize_t count = 10000, chunk = 3000;  // 4 chunks, the last one partial
  Bytes data = floats(count, 21);
  int ci = 0;
  // cd_values as hdf5plugin.Zstd(clevel) stores them; 0 and 100 are clamped
  // to 1 and 22 by the reference filter, none means level 3.
  const std::pair<std::vector<unsigned>, int> cases[] = {{{}, 3}, {{1}, 1}, {{19}, 19}, {{0}, 1}, {{100}, 22}};
  for (const auto& c : cases) {
    std::string path = tmp_path(("zstd" + std::to_string(ci++)).c_str());
    Pipeline p;
    p.filter = kFilterZstd;
    p.cd = c.first;
    CHECK(write_1d(path, H5T_NATIVE_FLOAT, data, count, chunk, p));
    Opened o(path);
    bool ok = false;
    CHECK(read_all(o.d, H5T_NATIVE_FLOAT, data.size(), &ok) == data);
    CHECK(ok);
    hid_t dcpl = H5Dget_create_plist(o.d);
    unsigned flags = 0, cdv[8] = {0};
    size_t ncd = 8;
    CHECK(H5Pget_filter_by_id2(dcpl, kFilterZstd, &flags, &ncd, cdv, 0, nullptr, nullptr) >= 0);
    CHECK_EQ(ncd, c.first.size());  // no set_local: stored as given
    H5Pclose(dcpl);
    for (hsize_t off = 0; off < count; off += chunk) {
      Bytes raw;
      uint32_t mask = 99;
      CHECK(read_chunk(o.d, off, &raw, &mask));
      CHECK_EQ(mask, 0u);
      // The chunk is exactly ZSTD_compress(whole chunk, level): the plugin's bytes.
      Bytes plain(size_t(chunk) * 4, 0);
      size_t valid = size_t(std::min<hsize_t>(chunk, count - off)) * 4;
      std::memcpy(plain.data(), data.data() + off * 4, valid);
      Bytes ref(ZSTD_compressBound(plain.size()));
      ref.resize(ZSTD_compress(ref.data(), ref.size(), plain.data(), plain.size(), c.second));
      CHECK(raw == ref);
    }
    std::remove(path.c_str());
  }
  // Incompressible + optional is covered with LZF/LZ4 (stored raw, mask bit
  // set); mandatory zstd frames the chunk anyway, as the reference filter does.
  Bytes rnd = random_bytes(4096, 5);
  std::string path = tmp_path("zstdraw");
  Pipeline p;
  p.filter = kFilterZstd;
  p.flags = H5Z_FLAG_MANDATORY;
  CHECK(write_1d(path, H5T_NATIVE_UINT8, rnd, 4096, 1024, p));
  {
    Opened o(path);
    Bytes raw;
    uint32_t mask = 9;
    CHECK(read_chunk(o.d, 0, &raw, &mask));
    CHECK_EQ(mask, 0u);
    CHECK(raw.size() > 1024);
    CHECK(decode_zstd(raw, 1024) == Bytes(rnd.begin(), rnd.begin() + 1024));
  }
  std::remove(path.c_str());
}

TEST(zstd_filter_refuses_bombs_and_garbage) {
  ensure_registered();
  using h5v::filters::kZstdClass;
  Bytes zeros(1 << 20, 0);
  Bytes bomb(ZSTD_compressBound(zeros.size()));
  bomb.resize(ZSTD_compress(bomb.data(), bomb.size(), zeros.data(), zeros.size(), 3));
  Bytes streamed(ZSTD_compressBound(zeros.size()));
  {
    ZSTD_CCtx* c = ZSTD_createCCtx();
    ZSTD_CCtx_setParameter(c, ZSTD_c_contentSizeFlag, 0);
    streamed.resize(ZSTD_compress2(c, streamed.data(), streamed.size(), zeros.data(), zeros.size()));
    ZSTD_freeCCtx(c);
  }
  {
    h5v::filters::DecodeLimit lim(4096);  // what h5vault's reads set: the chunk's size
    CHECK_EQ(call_filter(kZstdClass, H5Z_FLAG_REVERSE, {}, bomb, nullptr), size_t(0));
    CHECK(stack_mentions("declared uncompressed size 1048576"));
    CHECK_EQ(call_filter(kZstdClass, H5Z_FLAG_REVERSE, {}, streamed, nullptr), size_t(0));
    CHECK(stack_mentions("decompression bomb"));
    CHECK_EQ(call_filter(kZstdClass, H5Z_FLAG_REVERSE, {}, Bytes{1, 2, 3, 4, 5}, nullptr), size_t(0));
    CHECK(stack_mentions("zstd"));
  }
  // within the limit both decode
  Bytes dec;
  CHECK_EQ(call_filter(kZstdClass, H5Z_FLAG_REVERSE, {}, bomb, &dec), zeros.size());
  CHECK(dec == zeros);
  dec.clear();
  CHECK_EQ(call_filter(kZstdClass, H5Z_FLAG_REVERSE, {}, streamed, &dec), zeros.size());
  CHECK(dec == zeros);
  // through libhdf5: a chunk of 1 KiB whose stored frame declares 1 MiB
  std::string path = tmp_path("zstdbomb");
  Pipeline p;
  p.filter = kFilterZstd;
  CHECK(write_1d(path, H5T_NATIVE_UINT8, Bytes(1024, 0), 1024, 1024, p));
  {
    Opened o(path, H5F_ACC_RDWR);
    hsize_t off = 0;
    CHECK(H5Dwrite_chunk(o.d, H5P_DEFAULT, 0, &off, bomb.size(), bomb.data()) >= 0);
  }
  {
    Opened o(path);
    h5v::filters::DecodeLimit lim(h5v::filters::chunk_decode_limit(o.d));
    Bytes out(1024);
    H5Eclear2(H5E_DEFAULT);
    CHECK(H5Dread(o.d, H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data()) < 0);
    CHECK(stack_mentions("zstd"));
  }
  std::remove(path.c_str());
}

TEST(bitshuffle_filter_through_libhdf5_set_local_and_bytes) {
  ensure_registered();
  const hsize_t count = 10003, chunk = 3001;  // 4 chunks: 3001 = 375 groups of 8 + 1 leftover
  Bytes data = floats(count, 23);
  // user cd_values as hdf5plugin.Bitshuffle passes them -> after set_local
  const std::pair<std::vector<unsigned>, std::vector<unsigned>> cases[] = {
      {{0, 2}, {0, 4, 4, 0, 2}}, {{64, 3, 7}, {0, 4, 4, 64, 3, 7}}, {{}, {0, 4, 4}}, {{0, 0}, {0, 4, 4, 0, 0}}};
  int ci = 0;
  for (const auto& c : cases) {
    std::string path = tmp_path(("bshuf" + std::to_string(ci++)).c_str());
    Pipeline p;
    p.filter = h5v::filters::kFilterBitshuffle;
    p.cd = c.first;
    CHECK(write_1d(path, H5T_NATIVE_FLOAT, data, count, chunk, p));
    Opened o(path);
    bool ok = false;
    CHECK(read_all(o.d, H5T_NATIVE_FLOAT, data.size(), &ok) == data);
    CHECK(ok);
    hid_t dcpl = H5Dget_create_plist(o.d);
    unsigned flags = 0, cdv[8] = {0};
    size_t ncd = 8;
    CHECK(H5Pget_filter_by_id2(dcpl, h5v::filters::kFilterBitshuffle, &flags, &ncd, cdv, 0, nullptr, nullptr) >= 0);
    CHECK(std::vector<unsigned>(cdv, cdv + ncd) == c.second);
    H5Pclose(dcpl);
    BitshuffleParams bp;
    CHECK(bitshuffle_params(ncd, cdv, &bp) == Status::Ok);
    for (hsize_t off = 0; off < count; off += chunk) {
      Bytes raw;
      uint32_t mask = 99;
      CHECK(read_chunk(o.d, off, &raw, &mask));
      CHECK_EQ(mask, 0u);  // stored encoded even where it would not shrink
      Bytes plain(size_t(chunk) * 4, 0);
      std::memcpy(plain.data(), data.data() + off * 4, size_t(std::min<hsize_t>(chunk, count - off)) * 4);
      Bytes ref(bitshuffle_bound(bp, plain.size()));
      size_t len = 0;
      CHECK(bitshuffle_encode(bp, plain.data(), plain.size(), ref.data(), ref.size(), &len) == Status::Ok);
      ref.resize(len);
      CHECK(raw == ref);
    }
    std::remove(path.c_str());
  }
  // set_local refuses a block size that is not a multiple of 8 or an unknown compression
  for (const std::vector<unsigned>& bad : {std::vector<unsigned>{12, 2}, std::vector<unsigned>{0, 1}}) {
    Pipeline p;
    p.filter = h5v::filters::kFilterBitshuffle;
    p.cd = bad;
    std::string path = tmp_path("bshufbad");
    H5Eclear2(H5E_DEFAULT);
    CHECK(!write_1d(path, H5T_NATIVE_FLOAT, data, count, chunk, p));
    std::remove(path.c_str());
  }
}

TEST(bitshuffle_filter_refuses_bombs_and_garbage) {
  ensure_registered();
  using h5v::filters::kBitshuffleClass;
  const std::vector<unsigned> cd = {0, 4, 4, 0, 2};
  Bytes zeros(1 << 20, 0), enc;
  CHECK_EQ(call_filter(kBitshuffleClass, 0, cd, zeros, &enc), enc.size());
  CHECK(enc.size() > 12 && enc.size() < zeros.size() / 50);
  {
    h5v::filters::DecodeLimit lim(4096);  // what h5vault's reads set: the chunk's size
    CHECK_EQ(call_filter(kBitshuffleClass, H5Z_FLAG_REVERSE, cd, enc, nullptr), size_t(0));
    CHECK(stack_mentions("declared uncompressed size 1048576"));
    CHECK_EQ(call_filter(kBitshuffleClass, H5Z_FLAG_REVERSE, cd, Bytes{1, 2, 3, 4, 5}, nullptr), size_t(0));
    CHECK(stack_mentions("bitshuffle"));
    Bytes lying = enc;
    lying[4] = lying[5] = lying[6] = 0;
    lying[7] = 0x40;  // 64 bytes declared, 1 MiB of blocks stored
    CHECK_EQ(call_filter(kBitshuffleClass, H5Z_FLAG_REVERSE, cd, lying, nullptr), size_t(0));
    CHECK(stack_mentions("bitshuffle"));
  }
  Bytes dec;
  CHECK_EQ(call_filter(kBitshuffleClass, H5Z_FLAG_REVERSE, cd, enc, &dec), zeros.size());
  CHECK(dec == zeros);
}

TEST(fletcher32_matches_libhdf5_symbol) {
  Rng r(17);
  for (size_t n = 1; n < 2000; n += (n < 800 ? 1 : 37)) {
    Bytes d(n);
    for (auto& b : d) b = uint8_t(r.next());
    CHECK_EQ(fletcher32(d.data(), n), H5_checksum_fletcher32(d.data(), n));
    Bytes ff(n, 0xff);
    CHECK_EQ(fletcher32(ff.data(), n), H5_checksum_fletcher32(ff.data(), n));
  }
  Bytes big(5 << 20);
  for (auto& b : big) b = uint8_t(r.next() | 0xf0);
  CHECK_EQ(fletcher32(big.data(), big.size()), H5_checksum_fletcher32(big.data(), big.size()));
  CHECK_EQ(fletcher32(big.data(), big.size() - 1), H5_checksum_fletcher32(big.data(), big.size() - 1));
}

TEST(fletcher32_trailer_matches_libhdf5_filter) {
  ensure_registered();
  for (hsize_t chunk : {hsize_t(1), hsize_t(2), hsize_t(7), hsize_t(720), hsize_t(721), hsize_t(1001)}) {
    const hsize_t count = chunk * 2 + 1;
    Bytes data = random_bytes(size_t(count), chunk);
    std::string path = tmp_path("f32");
    Pipeline p;
    p.filter = 3;
    CHECK(write_1d(path, H5T_NATIVE_UINT8, data, count, chunk, p));
    {
      Opened o(path);
      for (hsize_t off = 0; off < count; off += chunk) {
        Bytes raw;
        uint32_t mask = 0;
        CHECK(read_chunk(o.d, off, &raw, &mask));
        CHECK_EQ(raw.size(), size_t(chunk + 4));
        if (raw.size() != chunk + 4) continue;
        Bytes mine(raw.begin(), raw.end() - 4);
        mine.resize(raw.size());
        fletcher32_append(mine.data(), size_t(chunk));
        CHECK(mine == raw);
        CHECK(fletcher32_verify(raw.data(), raw.size()) == Status::Ok);
      }
    }
    // libhdf5 accepts the legacy byte-swapped trailer; so do we.
    {
      Bytes chunk0(data.begin(), data.begin() + long(chunk));
      chunk0.resize(size_t(chunk) + 4);
      fletcher32_append(chunk0.data(), size_t(chunk));
      std::swap(chunk0[size_t(chunk)], chunk0[size_t(chunk) + 1]);
      std::swap(chunk0[size_t(chunk) + 2], chunk0[size_t(chunk) + 3]);
      CHECK(fletcher32_verify(chunk0.data(), chunk0.size()) == Status::Ok);
      Opened o(path, H5F_ACC_RDWR);
      hsize_t off = 0;
      CHECK(H5Dwrite_chunk(o.d, H5P_DEFAULT, 0, &off, chunk0.size(), chunk0.data()) >= 0);
    }
    {
      Opened o(path);
      bool ok = false;
      CHECK(read_all(o.d, H5T_NATIVE_UINT8, data.size(), &ok) == data);
      CHECK(ok);
    }
    // and both reject a corrupted trailer
    {
      Bytes chunk0(data.begin(), data.begin() + long(chunk));
      chunk0.resize(size_t(chunk) + 4);
      fletcher32_append(chunk0.data(), size_t(chunk));
      chunk0[size_t(chunk)] ^= 0x5a;
      CHECK(fletcher32_verify(chunk0.data(), chunk0.size()) == Status::Corrupt);
      Opened o(path, H5F_ACC_RDWR);
      hsize_t off = 0;
      CHECK(H5Dwrite_chunk(o.d, H5P_DEFAULT, 0, &off, chunk0.size(), chunk0.data()) >= 0);
    }
    {
      Opened o(path);
      bool ok = true;
      read_all(o.d, H5T_NATIVE_UINT8, data.size(), &ok);
      CHECK(!ok);
      H5Eclear2(H5E_DEFAULT);
    }
    std::remove(path.c_str());
  }
}

TEST(shuffle_matches_libhdf5_filter) {
  ensure_registered();
  for (size_t es : {size_t(2), size_t(3), size_t(4), size_t(8), size_t(12), size_t(16)}) {
    hid_t type = H5Tcreate(H5T_OPAQUE, es);
    H5Tset_tag(type, "bytes");
    const hsize_t count = 1000, chunk = 333;
    Bytes data = random_bytes(size_t(count) * es, es);
    std::string path = tmp_path("shuf");
    Pipeline p;
    p.shuffle = true;
    CHECK(write_1d(path, type, data, count, chunk, p));
    {
      Opened o(path);
      for (hsize_t off = 0; off < count; off += chunk) {
        Bytes raw;
        uint32_t mask = 0;
        CHECK(read_chunk(o.d, off, &raw, &mask));
        size_t n = size_t(chunk) * es;
        CHECK_EQ(raw.size(), n);
        if (raw.size() != n) continue;
        Bytes un(n), sh(n);
        unshuffle(raw.data(), un.data(), n, es);
        size_t valid = size_t(std::min<hsize_t>(chunk, count - off)) * es;
        CHECK(std::memcmp(un.data(), data.data() + off * es, valid) == 0);
        shuffle(un.data(), sh.data(), n, es);
        CHECK(sh == raw);
      }
    }
    std::remove(path.c_str());
    H5Tclose(type);
  }
}

TEST(deflate_reads_libhdf5_gzip_chunks) {
  ensure_registered();
  for (int level : {1, 6, 9}) {
    const hsize_t count = 20000, chunk = 8192;
    Bytes data = floats(count, size_t(level));
    std::string path = tmp_path("gz");
    Pipeline p;
    p.filter = 1;
    p.deflate_level = level;
    p.shuffle = true;
    CHECK(write_1d(path, H5T_NATIVE_FLOAT, data, count, chunk, p));
    {
      Opened o(path);
      for (hsize_t off = 0; off < count; off += chunk) {
        Bytes raw;
        uint32_t mask = 0;
        CHECK(read_chunk(o.d, off, &raw, &mask));
        size_t n = size_t(chunk) * 4, len = 0;
        Bytes dec(n), un(n);
        CHECK(deflate_decode(raw.data(), raw.size(), dec.data(), n, &len) == Status::Ok);
        CHECK_EQ(len, n);
        unshuffle(dec.data(), un.data(), n, 4);
        size_t valid = size_t(std::min<hsize_t>(chunk, count - off)) * 4;
        CHECK(std::memcmp(un.data(), data.data() + off * 4, valid) == 0);
      }
    }
    std::remove(path.c_str());
  }
}

H5V_TEST_MAIN()
