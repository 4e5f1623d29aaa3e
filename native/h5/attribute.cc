#include "attribute.h"

#include <algorithm>
#include <cstring>

#include "../common/hid.h"
#include "heap_check.h"
#include "value.h"

namespace h5v::h5 {

bool has_attr(hid_t obj, const std::string& name) {
  htri_t e = H5Aexists(obj, name.c_str());
  if (e < 0) clear_error_stack();
  return e > 0;
}

namespace {

// libhdf5 keeps attributes in the object header (h5vault writes files in the
// earliest format, which has no dense attribute storage), where one message is
// at most 64 KiB: name, datatype, dataspace and value together. The value of a
// variable-length string is a 16-byte heap reference per element.
constexpr size_t kAttrMessageMax = 65535;
constexpr size_t kAttrOverhead = 1024;  // room for name/type/space encodings

}  // namespace

bool check_attr_size(const std::string& name, const AttrValue& v, ErrorInfo* err) {
  size_t n = 1;
  for (hsize_t d : v.shape) n *= static_cast<size_t>(d);
  size_t value = v.dtype == DType::String ? n * 16 : v.bytes.size();
  if (value + name.size() + kAttrOverhead <= kAttrMessageMax) return true;
  *err = ErrorInfo::make(
      "H5_INVALID_ARGUMENT",
      "attribute '" + name + "' is " + std::to_string(value) + " bytes; HDF5 attributes are limited to " +
          std::to_string(kAttrMessageMax - kAttrOverhead) +
          " bytes (64 KiB object-header message, with its name and type); store large values in a dataset");
  return false;
}

bool write_attr(hid_t obj, const std::string& name, const AttrValue& v, ErrorInfo* err) {
  // Before the old value is deleted: a refused write must leave it in place.
  if (!check_attr_size(name, v, err)) return false;
  if (has_attr(obj, name) && H5Adelete(obj, name.c_str()) < 0) {
    *err = capture_error("replace attribute '" + name + "'");
    return false;
  }
  Hid space(v.scalar ? H5Screate(H5S_SCALAR)
                     : H5Screate_simple(static_cast<int>(v.shape.size()), v.shape.data(), nullptr));
  Hid ftype(make_file_type(v.dtype));
  Hid acpl(H5Pcreate(H5P_ATTRIBUTE_CREATE));
  H5Pset_char_encoding(acpl.get(), H5T_CSET_UTF8);
  Hid attr(H5Acreate2(obj, name.c_str(), ftype.get(), space.get(), acpl.get(), H5P_DEFAULT));
  if (!attr) {
    *err = capture_error("create attribute '" + name + "'");
    return false;
  }
  // A 0-element attribute has nothing to write, and H5Awrite rejects the
  // null buffer an empty vector gives (failing without an error stack).
  if (!v.scalar && H5Sget_simple_extent_npoints(space.get()) == 0) return true;
  herr_t rc;
  if (v.dtype == DType::String) {
    std::vector<const char*> ptrs;
    for (const auto& s : v.strings) ptrs.push_back(s.c_str());
    rc = H5Awrite(attr.get(), ftype.get(), ptrs.data());
  } else {
    Hid mtype(make_mem_type(v.dtype));
    rc = H5Awrite(attr.get(), mtype.get(), v.bytes.data());
  }
  if (rc < 0) {
    *err = capture_error("write attribute '" + name + "'");
    return false;
  }
  return true;
}

bool read_attr(hid_t obj, const std::string& name, AttrValue* v, ErrorInfo* err) {
  if (!has_attr(obj, name)) {
    *err = ErrorInfo::make("H5_NOT_FOUND", "no attribute '" + name + "'");
    return false;
  }
  Hid attr(H5Aopen(obj, name.c_str(), H5P_DEFAULT));
  if (!attr) {
    *err = capture_error("open attribute '" + name + "'");
    return false;
  }
  Hid ftype(H5Aget_type(attr.get()));
  Hid space(H5Aget_space(attr.get()));
  TypeInfo ti = describe_type(ftype.get());
  if (ti.dtype == DType::Unsupported) {
    *err = ErrorInfo::make("H5_UNSUPPORTED_TYPE",
                           "attribute '" + name + "' has an unsupported type (" + ti.description + ")");
    return false;
  }
  H5S_class_t sc = H5Sget_simple_extent_type(space.get());
  v->dtype = ti.dtype;
  v->scalar = sc != H5S_SIMPLE;
  v->null_space = sc == H5S_NULL;
  int rank = H5Sget_simple_extent_ndims(space.get());
  v->shape.assign(static_cast<size_t>(std::max(rank, 0)), 0);
  if (rank > 0) H5Sget_simple_extent_dims(space.get(), v->shape.data(), nullptr);
  hssize_t n = sc == H5S_NULL ? 0 : H5Sget_simple_extent_npoints(space.get());
  if (n < 0) n = 0;
  if (ti.dtype == DType::String) {
    v->strings.clear();
    if (n == 0) return true;
    if (ti.vlen_string) {
      Hid mtype(H5Tcopy(H5T_C_S1));
      H5Tset_size(mtype.get(), H5T_VARIABLE);
      H5Tset_cset(mtype.get(), H5Tget_cset(ftype.get()));
      std::vector<char*> ptrs(static_cast<size_t>(n), nullptr);
      HeapCheckScope heap(attr.get());
      if (H5Aread(attr.get(), mtype.get(), ptrs.data()) < 0) {
        *err = heap.error_or_capture("read attribute '" + name + "'");
        return false;
      }
      for (char* p : ptrs) v->strings.emplace_back(p ? p : "");
      H5Dvlen_reclaim(mtype.get(), space.get(), H5P_DEFAULT, ptrs.data());
    } else {
      size_t sz = ti.fixed_size;
      std::vector<char> buf(sz * static_cast<size_t>(n));
      if (H5Aread(attr.get(), ftype.get(), buf.data()) < 0) {
        *err = capture_error("read attribute '" + name + "'");
        return false;
      }
      for (hssize_t i = 0; i < n; ++i) {
        v->strings.push_back(fixed_string(buf.data() + static_cast<size_t>(i) * sz, sz, H5Tget_strpad(ftype.get())));
      }
    }
    return true;
  }
  Hid mtype(make_mem_type(ti.dtype));
  v->bytes.assign(dtype_size(ti.dtype) * static_cast<size_t>(n), 0);
  if (n > 0 && H5Aread(attr.get(), mtype.get(), v->bytes.data()) < 0) {
    *err = capture_error("read attribute '" + name + "'");
    return false;
  }
  return true;
}

namespace {
herr_t on_attr(hid_t, const char* name, const H5A_info_t*, void* data) {
  static_cast<std::vector<std::string>*>(data)->emplace_back(name);
  return 0;
}
}  // namespace

bool list_attrs(hid_t obj, std::vector<std::string>* names, ErrorInfo* err) {
  hsize_t idx = 0;
  if (H5Aiterate2(obj, H5_INDEX_NAME, H5_ITER_INC, &idx, on_attr, names) < 0) {
    *err = capture_error("list attributes");
    return false;
  }
  return true;
}

bool delete_attr(hid_t obj, const std::string& name, ErrorInfo* err) {
  if (!has_attr(obj, name)) {
    *err = ErrorInfo::make("H5_NOT_FOUND", "no attribute '" + name + "'");
    return false;
  }
  if (H5Adelete(obj, name.c_str()) < 0) {
    *err = capture_error("delete attribute '" + name + "'");
    return false;
  }
  return true;
}

}  // namespace h5v::h5
