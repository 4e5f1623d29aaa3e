// Native tests of the datatype conversion in native/h5/value_*.cc: string
// padding and UTF-8 checks, type descriptions, write -> read round trips of
// every class through libhdf5 (in-memory files), the nesting limit, and
// references that resolve to nothing.
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include <hdf5.h>

#include "check.h"
#include "h5_setup.h"
#include "common/lock.h"
#include "common/hid.h"
#include "h5/value.h"

using namespace h5v;
using h5::Column;
using h5::Kind;
using h5::TypeNode;

namespace {

hid_t memory_file() {
  hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  H5Pset_fapl_core(fapl, 1 << 16, 0);  // no backing store: nothing touches the disk
  hid_t f = H5Fcreate("value-test.h5", H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
  H5Pclose(fapl);
  return f;
}

TypeNode numeric(Kind k, const char* dtype) {
  TypeNode t;
  t.kind = k;
  t.dtype = dtype;
  return t;
}

template <typename T>
std::vector<uint8_t> bytes_of(std::vector<T> v) {
  std::vector<uint8_t> b(v.size() * sizeof(T));
  std::memcpy(b.data(), v.data(), b.size());
  return b;
}

template <typename T>
std::vector<T> values_of(const Column& c) {
  std::vector<T> v(c.bytes.size() / sizeof(T));
  std::memcpy(v.data(), c.bytes.data(), c.bytes.size());
  return v;
}

}  // namespace

TEST(fixed_string_honours_padding) {
  CHECK_EQ(h5::fixed_string("ab  ", 4, H5T_STR_SPACEPAD), std::string("ab"));
  CHECK_EQ(h5::fixed_string("ab  ", 4, H5T_STR_NULLPAD), std::string("ab  "));
  CHECK_EQ(h5::fixed_string("ab\0\0", 4, H5T_STR_NULLTERM), std::string("ab"));
  CHECK_EQ(h5::fixed_string("abcd", 4, H5T_STR_NULLPAD), std::string("abcd"));  // no NUL: all 4 bytes, no overread
  CHECK_EQ(h5::fixed_string("    ", 4, H5T_STR_SPACEPAD), std::string());
}

TEST(utf8_validation) {
  CHECK(h5::is_valid_utf8("plain"));
  CHECK(h5::is_valid_utf8("\xce\xb1\xe2\x86\x92\xf0\x9d\x84\x9e"));  // α→𝄞
  CHECK(!h5::is_valid_utf8("\xb5m"));                                // latin1 µm
  CHECK(!h5::is_valid_utf8("\xc0\xaf"));                             // overlong
  CHECK(!h5::is_valid_utf8("\xed\xa0\x80"));                         // surrogate
  CHECK(!h5::is_valid_utf8("\xf4\x90\x80\x80"));                     // > U+10FFFF
  CHECK(!h5::is_valid_utf8("\xe2\x86"));                             // truncated
}

TEST(utf8_decodes_to_utf16_in_the_validating_pass) {
  const char s[] = "a\xce\xb1\xe2\x86\x92\xf0\x9d\x84\x9e";  // aα→𝄞: 1+2+3+4 bytes
  char16_t out[sizeof s] = {};
  size_t units = 0;
  CHECK(h5::utf8_to_utf16(s, sizeof s - 1, out, &units));
  CHECK_EQ(units, static_cast<size_t>(5));  // 𝄞 is a surrogate pair
  CHECK(out[0] == u'a' && out[1] == 0x3b1 && out[2] == 0x2192 && out[3] == 0xd834 && out[4] == 0xdd1e);
  CHECK(!h5::utf8_to_utf16("\xb5m", 2, out, &units));  // not UTF-8: the caller falls back to latin1
}

TEST(compound_with_vlen_string_enum_array_round_trips) {
  h5::Lock lock;
  h5::Hid f(memory_file());
  CHECK(f.valid());
  TypeNode t;
  t.kind = Kind::Compound;
  t.names = {"x", "s", "e", "a", "v"};
  TypeNode s;
  s.kind = Kind::String;
  s.vlen_string = true;
  s.cset = "utf8";
  TypeNode e = numeric(Kind::Enum, "int16");
  e.enum_members = {{"LOW", -5, false}, {"HIGH", 300, false}};
  TypeNode a;
  a.kind = Kind::Array;
  a.dims = {2};
  a.members = {numeric(Kind::Float, "float32")};
  TypeNode v;
  v.kind = Kind::Vlen;
  v.members = {numeric(Kind::Integer, "uint8")};
  t.members = {numeric(Kind::Float, "float64"), s, e, a, v};

  h5::ValueWrite w;
  w.type = t;
  w.shape = {2};
  w.column.kind = Kind::Compound;
  Column cx, cs, ce, ca, cv;
  cx.bytes = bytes_of<double>({1.5, -2});
  cs.strings = {"α", ""};
  ce.bytes = bytes_of<int16_t>({300, -5});
  ca.bytes = bytes_of<float>({1, 2, 3, 4});
  Column i0, i1;
  i0.bytes = {7, 8, 9};
  cv.items = {i0, i1};
  w.column.fields = {cx, cs, ce, ca, cv};
  h5::ErrorInfo err;
  CHECK(h5::create_value_dataset(f.get(), "c", w, &err));
  CHECK(err.ok());

  h5::Hid d(H5Dopen2(f.get(), "c", H5P_DEFAULT));
  h5::ValueResult r;
  CHECK(h5::read_value(d.get(), nullptr, Selection{}, &r, &err));
  CHECK(r.type.kind == Kind::Compound);
  CHECK_EQ(r.shape, std::vector<hsize_t>{2});
  CHECK_EQ(r.column.fields.size(), size_t(5));
  if (r.column.fields.size() != 5) return;
  CHECK_EQ(values_of<double>(r.column.fields[0]), (std::vector<double>{1.5, -2}));
  CHECK_EQ(r.column.fields[1].strings, (std::vector<std::string>{"α", ""}));
  CHECK_EQ(values_of<int16_t>(r.column.fields[2]), (std::vector<int16_t>{300, -5}));
  CHECK_EQ(r.type.members[2].enum_members.size(), size_t(2));
  CHECK_EQ(values_of<float>(r.column.fields[3]), (std::vector<float>{1, 2, 3, 4}));
  CHECK_EQ(r.column.fields[4].items.size(), size_t(2));
  CHECK_EQ(r.column.fields[4].items[0].bytes, (std::vector<uint8_t>{7, 8, 9}));
  CHECK(r.column.fields[4].items[1].bytes.empty());

  // A hyperslab of one element.
  Selection sel;
  sel.start = {1};
  sel.count = {1};
  h5::ValueResult one;
  CHECK(h5::read_value(d.get(), nullptr, sel, &one, &err));
  CHECK_EQ(one.column.fields[1].strings, std::vector<std::string>{""});
}

TEST(enum_write_refuses_unnamed_values) {
  h5::Lock lock;
  h5::Hid f(memory_file());
  h5::ValueWrite w;
  w.type = numeric(Kind::Enum, "int8");
  w.type.enum_members = {{"A", 0, false}};
  w.shape = {2};
  w.column.bytes = {0, 3};
  h5::ErrorInfo err;
  CHECK(!h5::create_value_dataset(f.get(), "e", w, &err));
  CHECK_EQ(err.code, std::string("H5_INVALID_ARGUMENT"));
  CHECK(H5Lexists(f.get(), "e", H5P_DEFAULT) == 0);  // nothing created
}

TEST(complex_and_long_double_types_are_described) {
  h5::Lock lock;
  // {r, i} of float64: complex, read as interleaved float64.
  h5::Hid c(H5Tcreate(H5T_COMPOUND, 16));
  H5Tinsert(c.get(), "r", 0, H5T_IEEE_F64BE);
  H5Tinsert(c.get(), "i", 8, H5T_IEEE_F64BE);
  TypeNode t;
  hid_t m = H5I_INVALID_HID;
  h5::ErrorInfo err;
  CHECK(h5::describe_value_type(c.get(), &t, &m, &err));
  CHECK(t.kind == Kind::Complex);
  CHECK_EQ(t.dtype, std::string("float64"));
  CHECK_EQ(t.mem_size, size_t(16));
  H5Tclose(m);
  // x87 long double: float64 with the loss flagged.
  TypeNode ld;
  CHECK(h5::describe_value_type(H5T_NATIVE_LDOUBLE, &ld, &m, &err));
  CHECK(ld.kind == Kind::Float);
  CHECK_EQ(ld.dtype, std::string("float64"));
  CHECK(ld.precision_loss);
  H5Tclose(m);
}

TEST(nesting_beyond_the_limit_is_refused) {
  h5::Lock lock;
  hid_t t = H5Tcopy(H5T_NATIVE_INT);
  for (int i = 0; i < h5::kMaxTypeDepth + 2; ++i) {
    hid_t v = H5Tvlen_create(t);
    H5Tclose(t);
    t = v;
  }
  TypeNode node;
  hid_t m = H5I_INVALID_HID;
  h5::ErrorInfo err;
  CHECK(!h5::describe_value_type(t, &node, &m, &err));
  CHECK_EQ(err.code, std::string("H5_UNSUPPORTED_TYPE"));
  CHECK(m < 0);
  H5Tclose(t);
}

TEST(references_resolve_and_dangling_ones_are_null) {
  h5::Lock lock;
  h5::Hid f(memory_file());
  h5::Hid sp(H5Screate(H5S_SCALAR));
  h5::Hid g(H5Gcreate2(f.get(), "g", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
  h5::ValueWrite w;
  w.type.kind = Kind::Reference;
  w.shape = {3};
  w.column.refs.resize(3);
  w.column.refs[0].valid = true;
  w.column.refs[0].path = "/g";
  w.column.refs[2].valid = true;
  w.column.refs[2].path = "/g";
  h5::ErrorInfo err;
  CHECK(h5::create_value_dataset(f.get(), "r", w, &err));
  // Corrupt the third reference so it points at no object.
  h5::Hid d(H5Dopen2(f.get(), "r", H5P_DEFAULT));
  hobj_ref_t refs[3];
  H5Dread(d.get(), H5T_STD_REF_OBJ, H5S_ALL, H5S_ALL, H5P_DEFAULT, refs);
  CHECK(refs[1] == 0);
  refs[2] = 0x7fff0000;
  H5Dwrite(d.get(), H5T_STD_REF_OBJ, H5S_ALL, H5S_ALL, H5P_DEFAULT, refs);
  h5::ValueResult r;
  CHECK(h5::read_value(d.get(), nullptr, Selection{}, &r, &err));
  CHECK_EQ(r.column.refs.size(), size_t(3));
  if (r.column.refs.size() != 3) return;
  CHECK(r.column.refs[0].valid);
  CHECK_EQ(r.column.refs[0].path, std::string("/g"));
  CHECK(!r.column.refs[1].valid);
  CHECK(!r.column.refs[2].valid);
  h5::clear_error_stack();
}

H5V_TEST_MAIN()
