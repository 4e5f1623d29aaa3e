// Native tests of native/h5/heap_check.cc: a file with vlen string and vlen
// sequence attributes and a vlen string dataset is written by libhdf5, then
// its heap IDs and heap collection are damaged byte by byte; every read must
// fail as H5_CORRUPT with the reason, never reach libhdf5's unchecked heap
// read (which ASan would report here as a heap-buffer-overflow or SEGV).
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <hdf5.h>

#include "check.h"
#include "h5_setup.h"
#include "common/lock.h"
#include "h5/attribute.h"
#include "h5/dataset.h"
#include "common/hid.h"
#include "h5/heap_check.h"
#include "h5/value.h"

using namespace h5v;

namespace {

const char* kPath = "heap-check.h5";

std::vector<uint8_t> slurp(const char* p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

void spit(const char* p, const std::vector<uint8_t>& b) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

// The sound file, written once: root attributes "note" (vlen string) and
// "seq" (vlen int32 x 2), dataset "strings" (3 vlen strings).
void write_sound() {
  {
    h5::Lock l;
    h5::Hid f(H5Fcreate(kPath, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT));
    h5::Hid str(H5Tcopy(H5T_C_S1));
    H5Tset_size(str.get(), H5T_VARIABLE);
    h5::Hid scalar(H5Screate(H5S_SCALAR));
    h5::Hid note(H5Acreate2(f.get(), "note", str.get(), scalar.get(), H5P_DEFAULT, H5P_DEFAULT));
    const char* text = "hello heap";
    H5Awrite(note.get(), str.get(), &text);
    hsize_t two = 2, three = 3;
    h5::Hid vi(H5Tvlen_create(H5T_NATIVE_INT32));
    h5::Hid s2(H5Screate_simple(1, &two, nullptr));
    h5::Hid seq(H5Acreate2(f.get(), "seq", vi.get(), s2.get(), H5P_DEFAULT, H5P_DEFAULT));
    int32_t a[3] = {1, 2, 3}, b[1] = {4};
    hvl_t v[2] = {{3, a}, {1, b}};
    H5Awrite(seq.get(), vi.get(), v);
    h5::Hid s3(H5Screate_simple(1, &three, nullptr));
    h5::Hid d(H5Dcreate2(f.get(), "strings", str.get(), s3.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
    const char* words[3] = {"one", "two", "three"};
    H5Dwrite(d.get(), str.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, words);
  }  // every id closed: the file is complete on disk
}

const std::vector<uint8_t>& sound() {
  static std::vector<uint8_t> file = [] {
    write_sound();
    return slurp(kPath);
  }();
  return file;
}

uint64_t le(const std::vector<uint8_t>& b, size_t at, unsigned n) {
  uint64_t v = 0;
  for (unsigned i = 0; i < n; ++i) v |= static_cast<uint64_t>(b[at + i]) << (8 * i);
  return v;
}
void put(std::vector<uint8_t>* b, size_t at, unsigned n, uint64_t v) {
  for (unsigned i = 0; i < n; ++i) (*b)[at + i] = static_cast<uint8_t>(v >> (8 * i));
}

struct Heap {
  size_t at = 0;                // the collection's offset
  std::vector<size_t> objects;  // offsets of object headers, index order of appearance
  size_t free_space = 0;        // offset of the free-space object's header
};

Heap heap_of(const std::vector<uint8_t>& b) {
  Heap h;
  for (size_t i = 0; i + 4 <= b.size(); ++i)
    if (std::memcmp(&b[i], "GCOL", 4) == 0) {
      h.at = i;
      break;
    }
  uint64_t size = le(b, h.at + 8, 8);
  for (size_t p = h.at + 16; p + 16 <= h.at + size;) {
    uint64_t idx = le(b, p, 2), osize = le(b, p + 8, 8);
    if (idx == 0) {
      h.free_space = p;
      break;
    }
    h.objects.push_back(p);
    p += 16 + (osize + 7) / 8 * 8;
  }
  return h;
}

// Offset of the heap ID (address, index) of the object whose data is `text`.
size_t id_of(const std::vector<uint8_t>& b, const Heap& h, const std::string& text) {
  for (size_t o : h.objects) {
    if (le(b, o + 8, 8) != text.size() || std::memcmp(&b[o + 16], text.data(), text.size()) != 0) continue;
    uint8_t pat[12];
    for (int i = 0; i < 8; ++i) pat[i] = static_cast<uint8_t>(h.at >> (8 * i));
    uint64_t idx = le(b, o, 2);
    for (int i = 0; i < 4; ++i) pat[8 + i] = static_cast<uint8_t>(idx >> (8 * i));
    for (size_t i = 0; i + 12 <= b.size(); ++i)
      if (std::memcmp(&b[i], pat, 12) == 0) return i;
  }
  return 0;
}

// Reads attribute `name` of the damaged image; returns the error.
h5::ErrorInfo read_attr_of(const std::vector<uint8_t>& bytes, const char* name, unsigned flags = H5F_ACC_RDONLY) {
  spit("heap-check-damaged.h5", bytes);
  h5::Lock l;
  h5::Hid f(H5Fopen("heap-check-damaged.h5", flags, H5P_DEFAULT));
  h5::ErrorInfo err;
  if (!f) return h5::capture_error("open");
  // read_attr: strings and numbers; read_value: every class (vlen sequences).
  h5::AttrValue v;
  h5::ValueResult r;
  Selection all;
  bool ok = std::strcmp(name, "seq") == 0 ? h5::read_value(f.get(), name, all, &r, &err)
                                          : h5::read_attr(f.get(), name, &v, &err);
  return ok ? h5::ErrorInfo() : err;
}

}  // namespace

TEST(sound_file_reads_through_the_checks) {
  const auto& b = sound();
  CHECK(!b.empty());
  spit("heap-check-damaged.h5", b);
  h5::Lock l;
  h5::Hid f(H5Fopen("heap-check-damaged.h5", H5F_ACC_RDONLY, H5P_DEFAULT));
  h5::AttrValue v;
  h5::ErrorInfo err;
  CHECK(h5::read_attr(f.get(), "note", &v, &err));
  CHECK(v.strings.size() == 1 && v.strings[0] == "hello heap");
  h5::Hid d(H5Dopen2(f.get(), "strings", H5P_DEFAULT));
  std::vector<std::string> words;
  Selection all;
  CHECK(h5::read_strings(d.get(), all, &words, &err));
  CHECK(words.size() == 3 && words[2] == "three");
}

TEST(length_that_disagrees_with_the_heap_object_is_corrupt) {
  auto b = sound();
  Heap h = heap_of(b);
  size_t id = id_of(b, h, "hello heap");
  CHECK(id > 4);
  put(&b, id - 4, 4, 10 + 1);  // one more byte than the object holds
  h5::ErrorInfo e = read_attr_of(b, "note");
  CHECK_EQ(e.code, std::string("H5_CORRUPT"));
  CHECK(e.message.find("declares 11 bytes but its heap object holds 10") != std::string::npos);
  put(&b, id - 4, 4, 4000);  // libhdf5 would copy 10 bytes into 4000: stale bytes, no overflow
  CHECK_EQ(read_attr_of(b, "note").code, std::string("H5_CORRUPT"));
}

TEST(index_past_the_collection_or_on_free_space_is_corrupt) {
  for (uint64_t idx : {uint64_t{0}, uint64_t{999}, uint64_t{0xfffffff0}}) {
    auto b = sound();
    size_t id = id_of(b, heap_of(b), "hello heap");
    put(&b, id + 8, 4, idx);
    h5::ErrorInfo e = read_attr_of(b, "note");
    CHECK_EQ(e.code, std::string("H5_CORRUPT"));
    CHECK(e.message.find("holds no such object") != std::string::npos);
  }
}

TEST(address_outside_or_off_the_collection_is_corrupt) {
  for (uint64_t delta : {uint64_t{8}, uint64_t{1} << 40}) {
    auto b = sound();
    Heap h = heap_of(b);
    size_t id = id_of(b, h, "hello heap");
    put(&b, id, 8, h.at + delta);
    CHECK_EQ(read_attr_of(b, "note").code, std::string("H5_CORRUPT"));
  }
}

TEST(collection_whose_objects_overrun_it_is_corrupt) {
  auto b = sound();
  Heap h = heap_of(b);
  put(&b, h.objects.back() + 8, 8, uint64_t{1} << 40);  // the last object claims 1 TiB
  CHECK_EQ(read_attr_of(b, "seq").code, std::string("H5_CORRUPT"));
  CHECK_EQ(read_attr_of(b, "note").code, std::string("H5_CORRUPT"));
}

TEST(zero_size_free_space_is_corrupt_not_an_endless_loop) {
  auto b = sound();
  Heap h = heap_of(b);
  CHECK(h.free_space != 0);
  put(&b, h.free_space + 8, 8, 0);
  h5::ErrorInfo e = read_attr_of(b, "note");
  CHECK_EQ(e.code, std::string("H5_CORRUPT"));
  CHECK(e.message.find("free-space block of 0 bytes") != std::string::npos);
}

TEST(vlen_sequence_length_is_checked_in_items_times_item_size) {
  auto b = sound();
  Heap h = heap_of(b);
  // "seq"[0] = {1, 2, 3}: a 12-byte object; a length of 4 items would need 16.
  size_t id = 0;
  for (size_t i = 4; i + 12 <= b.size(); ++i)
    if (le(b, i - 4, 4) == 3 && le(b, i, 8) == h.at) {
      uint64_t idx = le(b, i + 8, 4);
      for (size_t o : h.objects)
        if (le(b, o, 2) == idx && le(b, o + 8, 8) == 12) id = i;
    }
  CHECK(id != 0);
  put(&b, id - 4, 4, 4);
  h5::ErrorInfo e = read_attr_of(b, "seq");
  CHECK_EQ(e.code, std::string("H5_CORRUPT"));
  CHECK(e.message.find("declares 16 bytes but its heap object holds 12") != std::string::npos);
}

TEST(scopes_nest_and_restore) {
  // A failure in an inner scope stays in the inner scope.
  auto b = sound();
  spit("heap-check-damaged.h5", b);
  h5::Lock l;
  h5::Hid f(H5Fopen("heap-check-damaged.h5", H5F_ACC_RDONLY, H5P_DEFAULT));
  h5::HeapCheckScope outer(f.get());
  {
    h5::HeapCheckScope inner(f.get());
    CHECK(!inner.failed());
  }
  h5::AttrValue v;
  h5::ErrorInfo err;
  CHECK(h5::read_attr(f.get(), "note", &v, &err));
  CHECK(!outer.failed());
  h5::HeapCheckScope inactive(f.get(), false);
  CHECK(!inactive.failed());
}

TEST(writable_files_are_not_checked_against_the_disk) {
  // Open read-write, libhdf5's cache may hold heap collections the disk does
  // not have yet: the scope stays inactive and sound data reads as usual.
  auto b = sound();
  spit("heap-check-damaged.h5", b);
  h5::Lock l;
  h5::Hid f(H5Fopen("heap-check-damaged.h5", H5F_ACC_RDWR, H5P_DEFAULT));
  h5::Hid str(H5Tcopy(H5T_C_S1));
  H5Tset_size(str.get(), H5T_VARIABLE);
  h5::Hid scalar(H5Screate(H5S_SCALAR));
  h5::Hid a(H5Acreate2(f.get(), "fresh", str.get(), scalar.get(), H5P_DEFAULT, H5P_DEFAULT));
  const char* text = "not on disk yet";
  CHECK(H5Awrite(a.get(), str.get(), &text) >= 0);
  h5::AttrValue v;
  h5::ErrorInfo err;
  CHECK(h5::read_attr(f.get(), "fresh", &v, &err));
  CHECK(v.strings.size() == 1 && v.strings[0] == "not on disk yet");
}

H5V_TEST_MAIN()
