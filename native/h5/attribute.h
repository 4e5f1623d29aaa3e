// Attributes as plain values (caller holds the global lock).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <hdf5.h>

#include "../common/error.h"
#include "types.h"

namespace h5v::h5 {

struct AttrValue {
  DType dtype = DType::Float64;
  bool scalar = true;
  bool null_space = false;           // H5S_NULL: the attribute has no value
  std::vector<hsize_t> shape;        // when !scalar
  std::vector<uint8_t> bytes;        // numeric payload, native byte order
  std::vector<std::string> strings;  // dtype == String
};

// H5_INVALID_ARGUMENT when the value cannot fit an attribute (64 KiB limit).
bool check_attr_size(const std::string& name, const AttrValue& v, ErrorInfo* err);
bool write_attr(hid_t obj, const std::string& name, const AttrValue& v, ErrorInfo* err);
bool read_attr(hid_t obj, const std::string& name, AttrValue* v, ErrorInfo* err);
bool list_attrs(hid_t obj, std::vector<std::string>* names, ErrorInfo* err);
bool delete_attr(hid_t obj, const std::string& name, ErrorInfo* err);
bool has_attr(hid_t obj, const std::string& name);

}  // namespace h5v::h5
