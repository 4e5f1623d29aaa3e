// Every HDF5 datatype class as plain data (docs/types.md): a TypeNode says
// what the file holds and how h5vault reads it; a Column holds the values of
// n elements column-wise (a compound is one Column per field, a vlen sequence
// one Column per element). Reading builds a native memory type from the file
// type, lets libhdf5 convert into it (H5Dread/H5Aread), walks the buffer into
// Columns and reclaims every variable-length allocation libhdf5 made.
// Writing packs Columns into the same memory layout and lets libhdf5 store
// it. The numeric fast path (dataset.h, engine/) never comes here.
// Plain C++, no napi; the caller holds the global lock.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <hdf5.h>

#include "../common/error.h"
#include "../common/selection.h"

namespace h5v::h5 {

enum class Kind { Integer, Float, String, Bitfield, Opaque, Compound, Complex, Enum, Vlen, Array, Reference };
const char* kind_name(Kind k);

struct EnumMember {
  std::string name;
  int64_t value = 0;  // as read into the native base type
  bool is_unsigned = false;
};

struct TypeNode {
  Kind kind = Kind::Integer;
  size_t size = 0;      // bytes per element in the file
  size_t mem_size = 0;  // bytes per element in the memory layout
  // Integer, Float, Bitfield, Enum, Complex (its parts): typed-array dtype of
  // the values read ("int8".."uint64", "float16", "bfloat16", "float32",
  // "float64", "bool"); "uint8" for raw bytes (Opaque, odd-size Bitfield).
  std::string dtype;
  bool big_endian = false;
  bool precision_loss = false;  // Float: converted to float64, bits lost
  // String
  bool vlen_string = false;
  std::string cset;  // "ascii" | "utf8"
  std::string pad;   // "nullterm" | "nullpad" | "spacepad"
  std::string tag;   // Opaque
  // Compound: names/members/offsets (memory offsets); Array, Vlen: members[0]
  std::vector<std::string> names;
  std::vector<TypeNode> members;
  std::vector<size_t> offsets;
  std::vector<EnumMember> enum_members;
  std::vector<hsize_t> dims;  // Array
  bool region = false;        // Reference: dataset region (else object)
  bool has_vlen = false;      // this type or a member is variable-length
};

// Builds the node and its memory type (returned in *mtype, caller owns it).
// H5_UNSUPPORTED_TYPE for a class h5vault cannot read (time, references of
// other kinds, integers wider than 64 bits, nesting deeper than kMaxTypeDepth).
constexpr int kMaxTypeDepth = 32;
bool describe_value_type(hid_t ftype, TypeNode* node, hid_t* mtype, ErrorInfo* err);

// H5Dget_type, but with compound and enum members in the order the file
// declares them, whatever reads came before (libhdf5 sorts the dataset's own
// type in place when it converts: value_type.cc). Caller owns the id.
hid_t dataset_declared_type(hid_t dset);

struct RefValue {
  bool valid = false;  // false: a null or unresolvable reference
  std::string path;
  bool region = false;
  std::string sel_kind;  // region: "all" | "none" | "points" | "blocks"
  int rank = 0;
  std::vector<hsize_t> coords;  // points: rank per point; blocks: start,end (2*rank) per block
};

struct Column {
  Kind kind = Kind::Integer;
  std::string dtype;                 // numeric columns and raw bytes
  std::vector<uint8_t> bytes;        // numeric payload (native order) or raw bytes
  std::vector<std::string> strings;  // String: raw bytes of each string
  std::vector<Column> fields;        // Compound: one per member (names in TypeNode)
  std::vector<Column> items;         // Vlen: one per element
  std::vector<RefValue> refs;        // Reference
};

// Decodes n elements at `ptrs` (addresses in a buffer laid out by the memory
// type of `node`) into *out. `loc` is any object in the file (references are
// resolved against it). *vlen_bytes accumulates the variable-length bytes seen.
bool decode_column(const TypeNode& node, hid_t loc, const std::vector<const uint8_t*>& ptrs, Column* out,
                   uint64_t* vlen_bytes, ErrorInfo* err);

// Bytes a decoded column holds (numbers, string contents, every sequence):
// what a read hands to JS, for limits.
uint64_t column_bytes(const Column& c);

// A fixed-length string field as HDF5 defines its padding: NULLTERM and
// NULLPAD end at the first NUL; SPACEPAD also drops trailing spaces (h5py does).
std::string fixed_string(const char* p, size_t size, H5T_str_t pad);
// True when `s` is well-formed UTF-8 (no overlongs, surrogates or > U+10FFFF).
bool is_valid_utf8(const std::string& s);
// The same check on n bytes at `s`; when it passes and `out` is not null
// (room for n units), also writes the text as UTF-16 and its length in units.
bool utf8_to_utf16(const char* s, size_t n, char16_t* out, size_t* units);
// `s` as UTF-16 in a buffer of this thread's, valid until its next call (or
// nullptr when `s` is not UTF-8): a read's strings share one allocation.
const char16_t* utf16_of(const std::string& s, size_t* units);

struct ValueResult {
  TypeNode type;
  Column column;
  std::vector<hsize_t> shape;  // of the selection; [] for scalar and null
  bool scalar = false;
  bool null_space = false;  // H5S_NULL: no value at all
};

// Reads a dataset (attr_name == nullptr) or the attribute `attr_name` of `obj`.
// Variable-length data is bounded by kMaxVlenReadBytes (H5_LIMIT_EXCEEDED):
// measured before the read for datasets, and counted as it is decoded for
// attributes (libhdf5 has no measure for them; an attribute holds at most
// 64 KiB of references).
bool read_value(hid_t obj, const char* attr_name, const Selection& sel, ValueResult* out, ErrorInfo* err);

// Writes: the file type is built from a TypeNode (little-endian, packed) and
// the values packed from a Column of n elements. References are created
// against `obj`'s file from their paths.
hid_t make_value_file_type(const TypeNode& node, ErrorInfo* err);
struct ValueWrite {
  TypeNode type;
  Column column;
  std::vector<hsize_t> shape;
  bool scalar = false;
};
bool create_value_dataset(hid_t parent, const std::string& name, const ValueWrite& v, ErrorInfo* err);
bool write_value_attr(hid_t obj, const std::string& name, const ValueWrite& v, ErrorInfo* err);

}  // namespace h5v::h5
