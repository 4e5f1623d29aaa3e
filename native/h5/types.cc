#include "types.h"

#include <cstring>

namespace h5v::h5 {

namespace {
struct Entry {
  DType t;
  const char* name;
  size_t size;
};
constexpr Entry kTypes[] = {
    {DType::Int8, "int8", 1},         {DType::Int16, "int16", 2},     {DType::Int32, "int32", 4},
    {DType::Int64, "int64", 8},       {DType::Uint8, "uint8", 1},     {DType::Uint16, "uint16", 2},
    {DType::Uint32, "uint32", 4},     {DType::Uint64, "uint64", 8},   {DType::Float16, "float16", 2},
    {DType::Bfloat16, "bfloat16", 2}, {DType::Float32, "float32", 4}, {DType::Float64, "float64", 8},
    {DType::Bool, "bool", 1},         {DType::String, "string", 0},
};

// A 2-byte float with the given field layout, little-endian.
hid_t make_half(size_t epos, size_t esize, size_t msize, size_t ebias) {
  hid_t t = H5Tcopy(H5T_IEEE_F32LE);
  if (t < 0) return t;
  // Shrink in an order libhdf5 accepts: fields first (they fit in 32 bits),
  // then precision/size.
  if (H5Tset_fields(t, 15, epos, esize, 0, msize) < 0 || H5Tset_offset(t, 0) < 0 || H5Tset_precision(t, 16) < 0 ||
      H5Tset_size(t, 2) < 0 || H5Tset_ebias(t, ebias) < 0) {
    H5Tclose(t);
    return H5I_INVALID_HID;
  }
  return t;
}

hid_t make_bool() {
  // h5py's bool: enum {FALSE:0, TRUE:1} over int8.
  hid_t t = H5Tenum_create(H5T_NATIVE_INT8);
  if (t < 0) return t;
  int8_t f = 0, v = 1;
  H5Tenum_insert(t, "FALSE", &f);
  H5Tenum_insert(t, "TRUE", &v);
  return t;
}

hid_t make_string() {
  hid_t t = H5Tcopy(H5T_C_S1);
  H5Tset_size(t, H5T_VARIABLE);
  H5Tset_cset(t, H5T_CSET_UTF8);
  return t;
}
}  // namespace

const char* dtype_name(DType t) {
  for (const auto& e : kTypes)
    if (e.t == t) return e.name;
  return "unsupported";
}

DType dtype_from_name(const std::string& name) {
  for (const auto& e : kTypes)
    if (name == e.name) return e.t;
  return DType::Unsupported;
}

size_t dtype_size(DType t) {
  for (const auto& e : kTypes)
    if (e.t == t) return e.size;
  return 0;
}

namespace {

// An integer dtype's file type (little-endian, as h5vault writes) and native
// memory type, both predefined ids (not copies); invalid for other dtypes.
struct IntTypes {
  hid_t file = H5I_INVALID_HID;
  hid_t mem = H5I_INVALID_HID;
};
IntTypes int_types(DType t) {
  switch (t) {
    case DType::Int8:
      return {H5T_STD_I8LE, H5T_NATIVE_INT8};
    case DType::Int16:
      return {H5T_STD_I16LE, H5T_NATIVE_INT16};
    case DType::Int32:
      return {H5T_STD_I32LE, H5T_NATIVE_INT32};
    case DType::Int64:
      return {H5T_STD_I64LE, H5T_NATIVE_INT64};
    case DType::Uint8:
      return {H5T_STD_U8LE, H5T_NATIVE_UINT8};
    case DType::Uint16:
      return {H5T_STD_U16LE, H5T_NATIVE_UINT16};
    case DType::Uint32:
      return {H5T_STD_U32LE, H5T_NATIVE_UINT32};
    case DType::Uint64:
      return {H5T_STD_U64LE, H5T_NATIVE_UINT64};
    default:
      return {};
  }
}

}  // namespace

hid_t make_file_type(DType t) {
  switch (t) {
    case DType::Float16:
      return make_half(10, 5, 10, 15);
    case DType::Bfloat16:
      return make_half(7, 8, 7, 127);
    case DType::Float32:
      return H5Tcopy(H5T_IEEE_F32LE);
    case DType::Float64:
      return H5Tcopy(H5T_IEEE_F64LE);
    case DType::Bool:
      return make_bool();
    case DType::String:
      return make_string();
    default: {
      IntTypes it = int_types(t);
      return it.file >= 0 ? H5Tcopy(it.file) : H5I_INVALID_HID;
    }
  }
}

hid_t make_mem_type(DType t) {
  IntTypes it = int_types(t);
  if (it.mem >= 0) return H5Tcopy(it.mem);
  return make_file_type(t);  // halves/bool/string: x86/ARM are little-endian
}

TypeInfo describe_type(hid_t type) {
  TypeInfo info;
  H5T_class_t cls = H5Tget_class(type);
  size_t size = H5Tget_size(type);
  switch (cls) {
    case H5T_INTEGER: {
      bool sign = H5Tget_sign(type) == H5T_SGN_2;
      info.big_endian = H5Tget_order(type) == H5T_ORDER_BE;
      switch (size) {
        case 1:
          info.dtype = sign ? DType::Int8 : DType::Uint8;
          break;
        case 2:
          info.dtype = sign ? DType::Int16 : DType::Uint16;
          break;
        case 4:
          info.dtype = sign ? DType::Int32 : DType::Uint32;
          break;
        case 8:
          info.dtype = sign ? DType::Int64 : DType::Uint64;
          break;
        default:
          break;
      }
      break;
    }
    case H5T_FLOAT: {
      info.big_endian = H5Tget_order(type) == H5T_ORDER_BE;
      size_t spos, epos, esize, mpos, msize;
      H5Tget_fields(type, &spos, &epos, &esize, &mpos, &msize);
      if (size == 2 && esize == 5 && msize == 10)
        info.dtype = DType::Float16;
      else if (size == 2 && esize == 8 && msize == 7)
        info.dtype = DType::Bfloat16;
      else if (size == 4 && esize == 8 && msize == 23)
        info.dtype = DType::Float32;
      else if (size == 8 && esize == 11 && msize == 52)
        info.dtype = DType::Float64;
      break;
    }
    case H5T_ENUM: {
      if (size == 1 && H5Tget_nmembers(type) == 2) {
        char* a = H5Tget_member_name(type, 0);
        char* b = H5Tget_member_name(type, 1);
        bool is_bool = a && b &&
                       ((std::strcmp(a, "FALSE") == 0 && std::strcmp(b, "TRUE") == 0) ||
                        (std::strcmp(a, "TRUE") == 0 && std::strcmp(b, "FALSE") == 0));
        H5free_memory(a);
        H5free_memory(b);
        if (is_bool) info.dtype = DType::Bool;
      }
      break;
    }
    case H5T_STRING: {
      info.dtype = DType::String;
      htri_t vl = H5Tis_variable_str(type);
      info.vlen_string = vl > 0;
      if (!info.vlen_string) info.fixed_size = size;
      break;
    }
    default:
      break;
  }
  if (info.dtype == DType::Unsupported) {
    static const char* names[] = {"integer",  "float",     "time", "string", "bitfield", "opaque",
                                  "compound", "reference", "enum", "vlen",   "array"};
    info.description = (cls >= 0 && cls < 11) ? names[cls] : "unknown";
    info.description += " of " + std::to_string(size) + " bytes";
  }
  return info;
}

size_t first_invalid_bool(const uint8_t* p, size_t n) {
  for (size_t i = 0; i < n; ++i)
    if (p[i] > 1) return i;
  return SIZE_MAX;
}

}  // namespace h5v::h5
