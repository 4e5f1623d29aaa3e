// Native tests of native/h5/ohdr.cc (h5vault's dataset object-header parser)
// and ohdr_walk.cc (the model-layout walk built on it). Hand-built headers:
// the canonical one parses to its type, shape and address; each unusual
// variant (shared message, duplicate or missing essential message, unknown
// type, a filter pipeline, other versions, bad sizes, out-of-file or
// overflowing addresses, continuation loops and chains past the cap) is
// NotUnderstood, never a layout. Then files written by h5vault's own
// create_dataset: the walk's rows equal describe_dataset's for every dataset.
#include <cstdint>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include <hdf5.h>

#include "check.h"
#include "h5_setup.h"
#include "common/hid.h"
#include "common/lock.h"
#include "h5/dataset.h"
#include "h5/file.h"
#include "h5/links.h"
#include "h5/ohdr.h"
#include "h5/ohdr_walk.h"

using namespace h5v;
using h5::ohdr::Result;

namespace {

void put16(std::vector<uint8_t>* b, uint16_t v) {
  b->push_back(v & 0xff);
  b->push_back(v >> 8);
}
void put32(std::vector<uint8_t>* b, uint32_t v) {
  put16(b, v & 0xffff);
  put16(b, v >> 16);
}
void put64(std::vector<uint8_t>* b, uint64_t v) {
  put32(b, static_cast<uint32_t>(v));
  put32(b, static_cast<uint32_t>(v >> 32));
}

struct Msg {
  uint16_t type;
  std::vector<uint8_t> data;
  uint8_t flags = 0;
};

Msg dataspace(std::vector<uint64_t> dims) {
  Msg m{1, {1, static_cast<uint8_t>(dims.size()), 1, 0, 0, 0, 0, 0}};
  for (auto d : dims) put64(&m.data, d);
  for (auto d : dims) put64(&m.data, d);
  return m;
}
Msg float32() {
  Msg m{3, {0x11, 0x20, 31, 0}, 1};
  put32(&m.data, 4);
  put16(&m.data, 0);
  put16(&m.data, 32);
  for (uint8_t v : {23, 8, 0, 23}) m.data.push_back(v);
  put32(&m.data, 127);
  m.data.resize(24, 0);
  return m;
}
Msg fill() { return {5, {2, 1, 1, 1, 0, 0, 0, 0}, 1}; }
Msg layout(uint64_t addr, uint64_t size) {
  Msg m{8, {3, 1}, 1};
  put64(&m.data, addr);
  put64(&m.data, size);
  m.data.resize(24, 0);
  return m;
}
Msg cont(uint64_t addr, uint64_t len) {
  Msg m{0x10, {}};
  put64(&m.data, addr);
  put64(&m.data, len);
  return m;
}

void put_msgs(std::vector<uint8_t>* b, const std::vector<Msg>& msgs) {
  for (const Msg& m : msgs) {
    put16(b, m.type);
    put16(b, static_cast<uint16_t>(m.data.size()));
    b->push_back(m.flags);
    b->insert(b->end(), 3, 0);
    b->insert(b->end(), m.data.begin(), m.data.end());
  }
}

// A v1 header at offset 0 with `msgs`, then 4096 bytes of data space; nmesgs
// counts `extra` messages in continuation chunks too.
std::vector<uint8_t> header(const std::vector<Msg>& msgs, size_t extra = 0) {
  std::vector<uint8_t> body;
  put_msgs(&body, msgs);
  std::vector<uint8_t> b{1, 0};
  put16(&b, static_cast<uint16_t>(msgs.size() + extra));
  put32(&b, 1);
  put32(&b, static_cast<uint32_t>(body.size()));
  put32(&b, 0);
  b.insert(b.end(), body.begin(), body.end());
  b.resize(4096, 0);
  return b;
}

std::vector<Msg> canonical() {
  return {dataspace({3, 4}), float32(), fill(), layout(2048, 48), {12, {0, 0, 0, 0, 0, 0, 0, 0}}};
}

Result parse(const std::vector<uint8_t>& b, h5::ohdr::Dataset* d = nullptr) {
  h5::ohdr::Dataset tmp;
  h5::ohdr::MemorySource src(b.data(), b.size());
  return h5::ohdr::parse_dataset(src, 0, b.size(), d ? d : &tmp);
}

}  // namespace

TEST(canonical_header_parses_to_its_layout) {
  h5::ohdr::Dataset d;
  CHECK(parse(header(canonical()), &d) == Result::Dataset);
  CHECK(d.dtype == h5::DType::Float32);
  CHECK_EQ(d.shape, (std::vector<uint64_t>{3, 4}));
  CHECK_EQ(d.nelements, uint64_t(12));
  CHECK_EQ(d.bytes, uint64_t(48));
  CHECK_EQ(d.addr, uint64_t(2048));
}

TEST(unusual_headers_are_left_to_libhdf5) {
  std::vector<std::pair<const char*, std::vector<Msg>>> cases;
  auto with = [&](const char* why, auto edit) {
    auto m = canonical();
    edit(m);
    cases.push_back({why, m});
  };
  with("shared datatype", [](auto& m) { m[1].flags = 0x02; });
  with("unknown flag", [](auto& m) { m[0].flags = 0x80; });
  with("duplicate dataspace", [](auto& m) { m.push_back(dataspace({3, 4})); });
  with("duplicate layout", [](auto& m) { m.push_back(layout(2048, 48)); });
  with("no fill message", [](auto& m) { m.erase(m.begin() + 2); });
  with("filter pipeline", [](auto& m) { m.push_back({11, {2, 0, 0, 0, 0, 0, 0, 0}}); });
  with("unknown message type", [](auto& m) { m.push_back({0x30, {0, 0, 0, 0, 0, 0, 0, 0}}); });
  with("external file list", [](auto& m) { m.push_back({7, std::vector<uint8_t>(16, 0)}); });
  with("datatype version 2", [](auto& m) { m[1].data[0] = 0x21; });
  with("big-endian float", [](auto& m) { m[1].data[1] = 0x21; });
  with("odd exponent bias", [](auto& m) { m[1].data[16] = 0x7e; });
  with("precision below size", [](auto& m) { m[1].data[10] = 31; });
  with("dataspace version 2", [](auto& m) { m[0].data[0] = 2; });
  with("maximum above size", [](auto& m) { m[0].data[8 + 16] = 9; });
  with("rank 33", [](auto& m) { m[0].data[1] = 33; });
  with("layout size not the data's", [](auto& m) { m[3] = layout(2048, 44); });
  with("layout past the end", [](auto& m) { m[3] = layout(4090, 48); });
  with("layout address wraps", [](auto& m) { m[3] = layout(~uint64_t(0) - 8, 48); });
  with("chunked layout", [](auto& m) { m[3].data[1] = 2; });
  with("layout version 4", [](auto& m) { m[3].data[0] = 4; });
  with("element count overflows", [](auto& m) { m[0] = dataspace({uint64_t(1) << 40, uint64_t(1) << 40}); });
  with("continuation past the end", [](auto& m) { m.push_back(cont(4096, 64)); });
  with("continuation into its own chunk", [](auto& m) { m.push_back(cont(8, 64)); });
  with("fill value stored", [](auto& m) { m[2].data[4] = 4; });
  for (auto& [why, msgs] : cases) {
    const bool refused = parse(header(msgs)) == Result::NotUnderstood;
    if (!refused) std::fprintf(stderr, "accepted: %s\n", why);
    CHECK(refused);
  }
  auto b = header(canonical());
  b[0] = 2;  // prefix version
  CHECK(parse(b) == Result::NotUnderstood);
  b = header(canonical());
  b[2] = 6;  // message count disagrees
  CHECK(parse(b) == Result::NotUnderstood);
  b = header(canonical());
  b[8] = 12;  // chunk 0 shorter than its messages
  CHECK(parse(b) == Result::NotUnderstood);
  b = header(canonical());
  for (size_t cut : {0, 8, 16, 40, 100}) {
    h5::ohdr::Dataset d;
    h5::ohdr::MemorySource src(b.data(), cut);
    CHECK(h5::ohdr::parse_dataset(src, 0, cut, &d) == Result::NotUnderstood);
  }
}

// fuzz_ohdr's first finding: a continuation message shorter than its 16
// bytes, last in the chunk, was decoded before its size was checked (a read
// past the chunk; ASan reports it in the H5VAULT_SANITIZE=1 build).
TEST(short_continuation_at_the_end_of_a_chunk_is_refused_without_reading_past_it) {
  auto msgs = canonical();
  msgs.push_back({0x10, std::vector<uint8_t>(8, 0)});
  auto b = header(msgs);
  const size_t end = 16 + b[8] + (b[9] << 8);
  std::vector<uint8_t> exact(b.begin(), b.begin() + static_cast<std::ptrdiff_t>(end));
  h5::ohdr::Dataset d;
  h5::ohdr::MemorySource src(exact.data(), exact.size());
  CHECK(h5::ohdr::parse_dataset(src, 0, 4096, &d) == Result::NotUnderstood);
}

TEST(continuation_chunks_are_followed_and_bounded) {
  // The layout in a continuation chunk at 1024.
  auto msgs = canonical();
  Msg lay = msgs[3];
  msgs.erase(msgs.begin() + 3);
  msgs.push_back(cont(1024, 32));
  auto b = header(msgs, 1);
  std::vector<uint8_t> chunk;
  put_msgs(&chunk, {lay});
  std::copy(chunk.begin(), chunk.end(), b.begin() + 1024);
  h5::ohdr::Dataset d;
  CHECK(parse(b, &d) == Result::Dataset);
  CHECK_EQ(d.addr, uint64_t(2048));
  // A continuation that points back at itself (a loop).
  auto loop = b;
  std::vector<uint8_t> self;
  put_msgs(&self, {cont(1024, 24)});
  std::copy(self.begin(), self.end(), loop.begin() + 1024);
  CHECK(parse(loop) == Result::NotUnderstood);
  // A chain of continuations longer than kMaxChunks.
  auto chain = header({dataspace({3, 4}), float32(), fill(), layout(2048, 48), cont(512, 24)}, 40);
  for (size_t i = 0; i < 40; ++i) {
    std::vector<uint8_t> c;
    put_msgs(&c, {cont(512 + (i + 1) * 24, 24)});
    std::copy(c.begin(), c.end(), chain.begin() + 512 + i * 24);
  }
  CHECK(parse(chain) == Result::NotUnderstood);
}

TEST(walk_rows_equal_describe_dataset_for_files_h5vault_writes) {
  const char* path = "ohdr-walk.h5";
  {
    h5::ErrorInfo err;
    auto f = h5::FileHandle::create(path, true, &err);
    CHECK(f != nullptr);
    if (!f) return;
    h5::Lock lock;
    auto make = [&](const char* name, h5::DType t, std::vector<hsize_t> shape, const char* comp) {
      h5::CreateSpec s;
      s.dtype = t;
      s.shape = shape;
      s.scalar = shape.empty();
      s.compression = comp;
      h5::Hid d(h5::create_dataset(f->id(), name, s, &err));
      CHECK(d.valid());
    };
    make("a", h5::DType::Float32, {3, 4}, "");
    make("g/b", h5::DType::Int64, {5}, "");
    make("g/h/c", h5::DType::Uint8, {}, "");
    make("g/e", h5::DType::Float64, {0}, "");
    make("z", h5::DType::Float32, {1000}, "gzip");
    make("s", h5::DType::Float16, {7}, "");
  }
  h5::ErrorInfo err;
  auto f = h5::FileHandle::open(path, false, &err);
  CHECK(f != nullptr);
  if (!f) return;
  h5::Lock lock;
  std::map<std::string, h5::DatasetInfo> parsed;
  h5::ParsedWalkStats stats;
  CHECK(h5::parsed_layouts(
      f->id(), [&](const std::string& p, h5::DatasetInfo&& d) { parsed[p] = std::move(d); }, &stats));
  CHECK_EQ(parsed.size(), size_t(6));
  CHECK_EQ(stats.parsed, size_t(5));  // all but the gzip dataset
  CHECK_EQ(stats.opened, size_t(1));
  for (const auto& [p, d] : parsed) {
    h5::Hid ds(H5Dopen2(f->id(), p.c_str(), H5P_DEFAULT));
    h5::DatasetInfo ref;
    CHECK(h5::describe_dataset(ds.get(), &ref, &err));
    CHECK(d.type.dtype == ref.type.dtype);
    CHECK_EQ(d.shape, ref.shape);
    CHECK_EQ(d.scalar, ref.scalar);
    CHECK_EQ(d.nelements, ref.nelements);
    CHECK_EQ(d.layout, ref.layout);
    CHECK_EQ(d.offset, ref.offset);
    CHECK_EQ(d.allocated, ref.allocated);
    CHECK_EQ(d.external, ref.external);
    CHECK_EQ(d.type.big_endian, ref.type.big_endian);
  }
}

H5V_TEST_MAIN()
