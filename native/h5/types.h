// h5vault dtypes <-> HDF5 datatypes. File types are little-endian; memory
// types are native. bfloat16/float16/bool follow docs/architecture.md "File format choices".
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

#include <hdf5.h>

namespace h5v::h5 {

enum class DType {
  Int8,
  Int16,
  Int32,
  Int64,
  Uint8,
  Uint16,
  Uint32,
  Uint64,
  Float16,
  Bfloat16,
  Float32,
  Float64,
  Bool,
  String,
  Unsupported
};

const char* dtype_name(DType t);
// Returns Unsupported for an unknown name.
DType dtype_from_name(const std::string& name);
// Element size in memory (String: 0; stored as variable-length UTF-8).
size_t dtype_size(DType t);

// Index of the first byte of bool data that is neither 0 nor 1, or SIZE_MAX.
// HDF5's bool (h5py's enum FALSE=0/TRUE=1) has no other values: writing 7
// would store a value no reader can name, so writers refuse it.
size_t first_invalid_bool(const uint8_t* p, size_t n);

// New type ids; caller owns them (wrap in Hid).
hid_t make_file_type(DType t);
hid_t make_mem_type(DType t);

struct TypeInfo {
  DType dtype = DType::Unsupported;
  bool big_endian = false;
  bool vlen_string = false;  // String only
  size_t fixed_size = 0;     // String only, fixed-length strings
  std::string description;   // for errors about unsupported types
};
TypeInfo describe_type(hid_t type);

}  // namespace h5v::h5
