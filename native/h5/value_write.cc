// value.h, writes: the file type built from a TypeNode (little-endian,
// packed) and Columns packed into its memory layout for libhdf5 to store.
#include "value.h"

#include <algorithm>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <unordered_map>

#include "../filters/bounded.h"
#include "attribute.h"
#include "dataset.h"
#include "../common/hid.h"
#include "heap_check.h"
#include "types.h"

#include "value_internal.h"

namespace h5v::h5 {

using value_detail::checked_bytes;

namespace {

hid_t file_int(const std::string& d) {
  if (d == "int8") return H5Tcopy(H5T_STD_I8LE);
  if (d == "int16") return H5Tcopy(H5T_STD_I16LE);
  if (d == "int32") return H5Tcopy(H5T_STD_I32LE);
  if (d == "int64") return H5Tcopy(H5T_STD_I64LE);
  if (d == "uint8") return H5Tcopy(H5T_STD_U8LE);
  if (d == "uint16") return H5Tcopy(H5T_STD_U16LE);
  if (d == "uint32") return H5Tcopy(H5T_STD_U32LE);
  if (d == "uint64") return H5Tcopy(H5T_STD_U64LE);
  return H5I_INVALID_HID;
}

// The H5_INVALID_ARGUMENT every check of make_file() reports; returns false.
bool invalid_type(ErrorInfo* err, const std::string& what) {
  *err = ErrorInfo::make("H5_INVALID_ARGUMENT", what);
  return false;
}

bool make_file(const TypeNode& node, int depth, Hid* out, size_t* size, ErrorInfo* err);

hid_t file_bitfield(const std::string& d) {
  return d == "uint8"    ? H5T_STD_B8LE
         : d == "uint16" ? H5T_STD_B16LE
         : d == "uint32" ? H5T_STD_B32LE
         : d == "uint64" ? H5T_STD_B64LE
                         : H5I_INVALID_HID;
}

bool make_string(const TypeNode& node, Hid* out, ErrorInfo* err) {
  Hid t(H5Tcopy(H5T_C_S1));
  if (node.vlen_string)
    H5Tset_size(t.get(), H5T_VARIABLE);
  else if (node.size == 0)
    return invalid_type(err, "a fixed-length string needs a size of at least 1 byte");
  else
    H5Tset_size(t.get(), node.size);
  H5Tset_cset(t.get(), node.cset == "ascii" ? H5T_CSET_ASCII : H5T_CSET_UTF8);
  if (!node.vlen_string)
    H5Tset_strpad(t.get(), node.pad == "spacepad"   ? H5T_STR_SPACEPAD
                           : node.pad == "nullterm" ? H5T_STR_NULLTERM
                                                    : H5T_STR_NULLPAD);
  *out = std::move(t);
  return true;
}

bool make_enum(const TypeNode& node, Hid* out, ErrorInfo* err) {
  Hid base(file_int(node.dtype));
  if (!base) return invalid_type(err, "an enum's base is an integer dtype, not '" + node.dtype + "'");
  Hid t(H5Tenum_create(base.get()));
  for (const auto& m : node.enum_members) {
    uint8_t raw[8];
    std::memcpy(raw, &m.value, 8);  // little-endian host: the low w bytes
    if (H5Tenum_insert(t.get(), m.name.c_str(), raw) < 0) {
      *err = capture_error("enum member '" + m.name + "'");
      return false;
    }
  }
  *out = std::move(t);
  return true;
}

bool make_complex(const TypeNode& node, Hid* out, ErrorInfo* err) {
  hid_t part = node.dtype == "float32" ? H5T_IEEE_F32LE : node.dtype == "float64" ? H5T_IEEE_F64LE : H5I_INVALID_HID;
  if (part < 0) return invalid_type(err, "complex values are float32 or float64 pairs");
  size_t ps = H5Tget_size(part);
  Hid t(H5Tcreate(H5T_COMPOUND, 2 * ps));
  H5Tinsert(t.get(), "r", 0, part);
  H5Tinsert(t.get(), "i", ps, part);
  *out = std::move(t);
  return true;
}

// Fields packed one after the other, in the order given (no padding).
bool make_compound(const TypeNode& node, int depth, Hid* out, ErrorInfo* err) {
  if (node.members.empty() || node.members.size() != node.names.size())
    return invalid_type(err, "a compound needs at least one field");
  std::vector<Hid> ts;
  std::vector<size_t> sizes;
  size_t total = 0;
  for (const auto& m : node.members) {
    Hid t;
    size_t s;
    if (!make_file(m, depth + 1, &t, &s, err)) return false;
    ts.push_back(std::move(t));
    sizes.push_back(s);
    total += s;
  }
  Hid t(H5Tcreate(H5T_COMPOUND, total));
  size_t off = 0;
  for (size_t i = 0; i < ts.size(); ++i) {
    if (H5Tinsert(t.get(), node.names[i].c_str(), off, ts[i].get()) < 0) {
      *err = capture_error("compound field '" + node.names[i] + "'");
      return false;
    }
    off += sizes[i];
  }
  *out = std::move(t);
  return true;
}

// A vlen sequence or fixed array of the node's one base type.
bool make_sequence(const TypeNode& node, int depth, Hid* out, ErrorInfo* err) {
  if (node.members.size() != 1)
    return invalid_type(err, std::string("a ") + kind_name(node.kind) + " type needs a base type");
  Hid base;
  size_t s;
  if (!make_file(node.members[0], depth + 1, &base, &s, err)) return false;
  if (node.kind == Kind::Vlen) {
    out->reset(H5Tvlen_create(base.get()));
  } else {
    if (node.dims.empty() || node.dims.size() > 32) return invalid_type(err, "an array type needs 1 to 32 dimensions");
    out->reset(H5Tarray_create2(base.get(), static_cast<unsigned>(node.dims.size()), node.dims.data()));
  }
  return true;
}

bool make_file(const TypeNode& node, int depth, Hid* out, size_t* size, ErrorInfo* err) {
  if (depth > kMaxTypeDepth)
    return invalid_type(err, "type nests deeper than " + std::to_string(kMaxTypeDepth) + " levels");
  bool ok = true;
  switch (node.kind) {
    case Kind::Integer:
    case Kind::Float: {
      DType d = dtype_from_name(node.dtype);
      if (d == DType::Unsupported || d == DType::String) return invalid_type(err, "unknown dtype '" + node.dtype + "'");
      out->reset(make_file_type(d));
      break;
    }
    case Kind::Bitfield: {
      hid_t b = file_bitfield(node.dtype);
      if (b < 0) return invalid_type(err, "a bitfield is uint8, uint16, uint32 or uint64");
      out->reset(H5Tcopy(b));
      break;
    }
    case Kind::String:
      ok = make_string(node, out, err);
      break;
    case Kind::Opaque: {
      if (node.size == 0) return invalid_type(err, "an opaque type needs a size of at least 1 byte");
      Hid t(H5Tcreate(H5T_OPAQUE, node.size));
      if (t && !node.tag.empty()) H5Tset_tag(t.get(), node.tag.c_str());
      *out = std::move(t);
      break;
    }
    case Kind::Enum:
      ok = make_enum(node, out, err);
      break;
    case Kind::Complex:
      ok = make_complex(node, out, err);
      break;
    case Kind::Compound:
      ok = make_compound(node, depth, out, err);
      break;
    case Kind::Vlen:
    case Kind::Array:
      ok = make_sequence(node, depth, out, err);
      break;
    case Kind::Reference: {
      if (node.region) return invalid_type(err, "writing region references is not supported; write object references");
      out->reset(H5Tcopy(H5T_STD_REF_OBJ));
      break;
    }
  }
  if (!ok) return false;
  if (!*out) {
    *err = capture_error(std::string("make ") + kind_name(node.kind) + " type");
    return false;
  }
  *size = H5Tget_size(out->get());
  return true;
}

// Owns everything the packed buffer points to until the write is done.
struct Arena {
  std::deque<std::vector<uint8_t>> blocks;
};

// Elements in a column of type `node` (file type `ftype`): what a vlen holds.
size_t column_length(const TypeNode& node, hid_t ftype, const Column& c) {
  switch (node.kind) {
    case Kind::String:
      return c.strings.size();
    case Kind::Vlen:
      return c.items.size();
    case Kind::Reference:
      return c.refs.size();
    case Kind::Compound: {
      if (c.fields.empty() || node.members.empty()) return 0;
      Hid m0(H5Tget_member_type(ftype, 0));
      return column_length(node.members[0], m0.get(), c.fields[0]);
    }
    case Kind::Array: {
      size_t k = 1;
      for (hsize_t d : node.dims) k *= static_cast<size_t>(d);
      Hid base(H5Tget_super(ftype));
      return k ? column_length(node.members[0], base.get(), c) / k : 0;
    }
    default: {
      size_t s = H5Tget_size(ftype);
      return s ? c.bytes.size() / s : 0;
    }
  }
}

// The H5_INVALID_ARGUMENT every check of pack() reports, naming the value
// (`where`); returns false.
bool invalid_value(ErrorInfo* err, const std::string& where, const std::string& what) {
  *err = ErrorInfo::make("H5_INVALID_ARGUMENT", where + ": " + what);
  return false;
}

bool pack(const TypeNode& node, hid_t ftype, const Column& c, hid_t loc, const std::vector<uint8_t*>& ptrs,
          Arena* arena, const std::string& where, ErrorInfo* err);

// A value no member names would be stored as a number no reader can name:
// every packed enum element (`size` bytes at ptrs[i]) must be a member's.
bool check_enum_values(const TypeNode& node, size_t size, const std::vector<uint8_t*>& ptrs, const std::string& where,
                       ErrorInfo* err) {
  for (size_t i = 0; i < ptrs.size(); ++i) {
    int64_t v = 0;
    uint64_t u = 0;
    std::memcpy(&u, ptrs[i], size);
    if (node.dtype[0] == 'u')
      v = static_cast<int64_t>(u);
    else {
      int shift = static_cast<int>(64 - 8 * size);
      v = shift > 0 ? static_cast<int64_t>(u << shift) >> shift : static_cast<int64_t>(u);
    }
    bool named = std::any_of(node.enum_members.begin(), node.enum_members.end(),
                             [&](const EnumMember& m) { return m.value == v; });
    if (!named)
      return invalid_value(
          err, where, "element " + std::to_string(i) + " is " + std::to_string(v) + ", which no enum member names");
  }
  return true;
}

// Fixed-size elements (numbers, bitfields, opaque, enums, complex): the
// column's bytes are the elements already.
bool pack_fixed(const TypeNode& node, size_t size, const Column& c, const std::vector<uint8_t*>& ptrs,
                const std::string& where, ErrorInfo* err) {
  size_t n = ptrs.size();
  if (c.bytes.size() != n * size)
    return invalid_value(err, where,
                         "expected " + std::to_string(n) + " values (" + std::to_string(n * size) + " bytes), got " +
                             std::to_string(c.bytes.size()) + " bytes");
  if (node.dtype == "bool") {
    size_t b = first_invalid_bool(c.bytes.data(), c.bytes.size());
    if (b != SIZE_MAX)
      return invalid_value(
          err, where,
          "bool element " + std::to_string(b) + " is " + std::to_string(c.bytes[b]) + "; bool data must be 0 or 1");
  }
  for (size_t i = 0; i < n; ++i) std::memcpy(ptrs[i], c.bytes.data() + i * size, size);
  return node.kind != Kind::Enum || check_enum_values(node, size, ptrs, where, err);
}

// Variable-length strings point into the arena; fixed-length ones are padded.
bool pack_strings(const TypeNode& node, size_t size, const Column& c, const std::vector<uint8_t*>& ptrs, Arena* arena,
                  const std::string& where, ErrorInfo* err) {
  size_t n = ptrs.size();
  if (c.strings.size() != n)
    return invalid_value(err, where,
                         "expected " + std::to_string(n) + " strings, got " + std::to_string(c.strings.size()));
  for (size_t i = 0; i < n; ++i) {
    const std::string& s = c.strings[i];
    if (s.find('\0') != std::string::npos)
      return invalid_value(err, where, "string " + std::to_string(i) + " contains a NUL character");
    if (node.vlen_string) {
      arena->blocks.emplace_back(s.begin(), s.end());
      arena->blocks.back().push_back(0);
      const char* p = reinterpret_cast<const char*>(arena->blocks.back().data());
      std::memcpy(ptrs[i], &p, sizeof p);
    } else {
      if (s.size() > size)
        return invalid_value(err, where,
                             "string " + std::to_string(i) + " is " + std::to_string(s.size()) +
                                 " bytes; the field holds " + std::to_string(size));
      std::memset(ptrs[i], node.pad == "spacepad" ? ' ' : 0, size);
      std::memcpy(ptrs[i], s.data(), s.size());
    }
  }
  return true;
}

// Each sequence's elements go to their own arena block, which the hvl_t points to.
bool pack_vlen(const TypeNode& node, hid_t ftype, const Column& c, hid_t loc, const std::vector<uint8_t*>& ptrs,
               Arena* arena, const std::string& where, ErrorInfo* err) {
  size_t n = ptrs.size();
  if (c.items.size() != n)
    return invalid_value(err, where,
                         "expected " + std::to_string(n) + " sequences, got " + std::to_string(c.items.size()));
  Hid base(H5Tget_super(ftype));
  size_t bs = H5Tget_size(base.get());
  for (size_t i = 0; i < n; ++i) {
    const Column& item = c.items[i];
    size_t len = column_length(node.members[0], base.get(), item);
    arena->blocks.emplace_back(std::max<size_t>(len * bs, 1), 0);
    uint8_t* block = arena->blocks.back().data();
    std::vector<uint8_t*> sub(len);
    for (size_t j = 0; j < len; ++j) sub[j] = block + j * bs;
    if (!pack(node.members[0], base.get(), item, loc, sub, arena, where + "[" + std::to_string(i) + "]", err))
      return false;
    hvl_t v{len, len ? block : nullptr};
    std::memcpy(ptrs[i], &v, sizeof v);
  }
  return true;
}

// Object references, made by path from `loc`; an invalid entry is a null reference.
bool pack_refs(size_t size, const Column& c, hid_t loc, const std::vector<uint8_t*>& ptrs, const std::string& where,
               ErrorInfo* err) {
  size_t n = ptrs.size();
  if (c.refs.size() != n)
    return invalid_value(err, where,
                         "expected " + std::to_string(n) + " references, got " + std::to_string(c.refs.size()));
  for (size_t i = 0; i < n; ++i) {
    std::memset(ptrs[i], 0, size);
    if (!c.refs[i].valid) continue;  // a null reference
    if (H5Rcreate(ptrs[i], loc, c.refs[i].path.c_str(), H5R_OBJECT, -1) < 0) {
      *err = capture_error(where + ": reference to '" + c.refs[i].path + "'");
      if (err->code.empty() || err->code == "H5_ERROR") err->code = "H5_NOT_FOUND";
      return false;
    }
  }
  return true;
}

// Packs column `c` into n elements at `ptrs`, laid out as the file type of
// `node` (a packed little-endian layout, which is also the memory layout).
bool pack(const TypeNode& node, hid_t ftype, const Column& c, hid_t loc, const std::vector<uint8_t*>& ptrs,
          Arena* arena, const std::string& where, ErrorInfo* err) {
  size_t n = ptrs.size();
  size_t size = H5Tget_size(ftype);
  switch (node.kind) {
    case Kind::Integer:
    case Kind::Float:
    case Kind::Bitfield:
    case Kind::Opaque:
    case Kind::Enum:
    case Kind::Complex:
      return pack_fixed(node, size, c, ptrs, where, err);
    case Kind::String:
      return pack_strings(node, size, c, ptrs, arena, where, err);
    case Kind::Compound: {
      if (c.fields.size() != node.members.size())
        return invalid_value(err, where, "expected " + std::to_string(node.members.size()) + " fields");
      std::vector<uint8_t*> sub(n);
      for (size_t f = 0; f < node.members.size(); ++f) {
        Hid mt(H5Tget_member_type(ftype, static_cast<unsigned>(f)));
        size_t off = H5Tget_member_offset(ftype, static_cast<unsigned>(f));
        for (size_t i = 0; i < n; ++i) sub[i] = ptrs[i] + off;
        if (!pack(node.members[f], mt.get(), c.fields[f], loc, sub, arena, where + "." + node.names[f], err))
          return false;
      }
      return true;
    }
    case Kind::Array: {
      Hid base(H5Tget_super(ftype));
      size_t bs = H5Tget_size(base.get());
      size_t k = 1;
      for (hsize_t d : node.dims) k *= static_cast<size_t>(d);
      std::vector<uint8_t*> sub;
      sub.reserve(n * k);
      for (uint8_t* p : ptrs)
        for (size_t j = 0; j < k; ++j) sub.push_back(p + j * bs);
      Column inner = c;
      inner.kind = node.members[0].kind;
      return pack(node.members[0], base.get(), inner, loc, sub, arena, where, err);
    }
    case Kind::Vlen:
      return pack_vlen(node, ftype, c, loc, ptrs, arena, where, err);
    case Kind::Reference:
      return pack_refs(size, c, loc, ptrs, where, err);
  }
  return invalid_value(err, where, "unknown type");
}

bool pack_all(const ValueWrite& v, hid_t ftype, hid_t loc, std::vector<uint8_t>* buf, Arena* arena, size_t* n,
              const std::string& where, ErrorInfo* err) {
  hsize_t count = 1;
  if (!v.scalar)
    for (hsize_t d : v.shape) count *= d;
  size_t size = H5Tget_size(ftype);
  size_t bytes;
  if (!checked_bytes(count, size, &bytes)) {
    *err = ErrorInfo::range_error("the value is too large");
    return false;
  }
  buf->assign(std::max<size_t>(bytes, 1), 0);
  std::vector<uint8_t*> ptrs(static_cast<size_t>(count));
  for (size_t i = 0; i < ptrs.size(); ++i) ptrs[i] = buf->data() + i * size;
  *n = static_cast<size_t>(count);
  return pack(v.type, ftype, v.column, loc, ptrs, arena, where, err);
}

}  // namespace

hid_t make_value_file_type(const TypeNode& node, ErrorInfo* err) {
  Hid t;
  size_t s;
  if (!make_file(node, 0, &t, &s, err)) return H5I_INVALID_HID;
  return t.release();
}

bool create_value_dataset(hid_t parent, const std::string& name, const ValueWrite& v, ErrorInfo* err) {
  Hid ftype(make_value_file_type(v.type, err));
  if (!ftype) return false;
  // Pack before creating, so a refused value leaves nothing behind.
  std::vector<uint8_t> buf;
  Arena arena;
  size_t n;
  if (!pack_all(v, ftype.get(), parent, &buf, &arena, &n, "dataset '" + name + "'", err)) return false;
  Hid space(v.scalar ? H5Screate(H5S_SCALAR)
                     : H5Screate_simple(static_cast<int>(v.shape.size()), v.shape.data(), nullptr));
  Hid dcpl(H5Pcreate(H5P_DATASET_CREATE));
  H5Pset_obj_track_times(dcpl.get(), false);  // reproducible bytes (invariant 7)
  Hid lcpl(H5Pcreate(H5P_LINK_CREATE));
  H5Pset_create_intermediate_group(lcpl.get(), 1);
  H5Pset_char_encoding(lcpl.get(), H5T_CSET_UTF8);
  Hid d(H5Dcreate2(parent, name.c_str(), ftype.get(), space.get(), lcpl.get(), dcpl.get(), H5P_DEFAULT));
  if (!d) {
    *err = capture_error("create dataset '" + name + "'");
    return false;
  }
  Hid declared(dataset_declared_type(d.get()));  // kept before any conversion can sort it
  if (n > 0 && H5Dwrite(d.get(), ftype.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, buf.data()) < 0) {
    *err = capture_error("write dataset '" + name + "'");
    d.reset();
    H5Ldelete(parent, name.c_str(), H5P_DEFAULT);
    clear_error_stack();
    return false;
  }
  return true;
}

bool write_value_attr(hid_t obj, const std::string& name, const ValueWrite& v, ErrorInfo* err) {
  Hid ftype(make_value_file_type(v.type, err));
  if (!ftype) return false;
  std::vector<uint8_t> buf;
  Arena arena;
  size_t n;
  if (!pack_all(v, ftype.get(), obj, &buf, &arena, &n, "attribute '" + name + "'", err)) return false;
  // Variable-length members are stored as 16-byte heap references.
  constexpr size_t kAttrLimit = 65535 - 1024;
  if (n * H5Tget_size(ftype.get()) + name.size() > kAttrLimit) {
    *err = ErrorInfo::make("H5_INVALID_ARGUMENT",
                           "attribute '" + name + "' is " + std::to_string(n * H5Tget_size(ftype.get())) +
                               " bytes; HDF5 attributes are limited to " + std::to_string(kAttrLimit) +
                               " bytes (64 KiB object-header message); store large values in a dataset");
    return false;
  }
  if (has_attr(obj, name) && H5Adelete(obj, name.c_str()) < 0) {
    *err = capture_error("replace attribute '" + name + "'");
    return false;
  }
  Hid space(v.scalar ? H5Screate(H5S_SCALAR)
                     : H5Screate_simple(static_cast<int>(v.shape.size()), v.shape.data(), nullptr));
  Hid acpl(H5Pcreate(H5P_ATTRIBUTE_CREATE));
  H5Pset_char_encoding(acpl.get(), H5T_CSET_UTF8);
  Hid a(H5Acreate2(obj, name.c_str(), ftype.get(), space.get(), acpl.get(), H5P_DEFAULT));
  if (!a) {
    *err = capture_error("create attribute '" + name + "'");
    return false;
  }
  if (n > 0 && H5Awrite(a.get(), ftype.get(), buf.data()) < 0) {
    *err = capture_error("write attribute '" + name + "'");
    return false;
  }
  return true;
}

}  // namespace h5v::h5
