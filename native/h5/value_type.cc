// value.h, reading side of types: a file datatype described as a TypeNode
// with the native memory type libhdf5 converts it into, and a dataset's type
// in the member order its file declares.
#include "value.h"

#include <algorithm>
#include <cstring>
#include <iterator>
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

namespace h5v::h5 {

const char* kind_name(Kind k) {
  // Indexed by Kind, in the order value.h declares it.
  static constexpr const char* kNames[] = {"integer", "float", "string", "bitfield", "opaque",   "compound",
                                           "complex", "enum",  "vlen",   "array",    "reference"};
  static_assert(std::size(kNames) == static_cast<size_t>(Kind::Reference) + 1, "one name per Kind");
  auto i = static_cast<size_t>(k);
  return i < std::size(kNames) ? kNames[i] : "unknown";
}

namespace {

ErrorInfo unsupported(const std::string& what) { return ErrorInfo::make("H5_UNSUPPORTED_TYPE", what); }

const char* int_dtype(size_t size, bool sign) {
  switch (size) {
    case 1:
      return sign ? "int8" : "uint8";
    case 2:
      return sign ? "int16" : "uint16";
    case 4:
      return sign ? "int32" : "uint32";
    case 8:
      return sign ? "int64" : "uint64";
    default:
      return nullptr;
  }
}

hid_t native_int(size_t size, bool sign) {
  switch (size) {
    case 1:
      return H5Tcopy(sign ? H5T_NATIVE_INT8 : H5T_NATIVE_UINT8);
    case 2:
      return H5Tcopy(sign ? H5T_NATIVE_INT16 : H5T_NATIVE_UINT16);
    case 4:
      return H5Tcopy(sign ? H5T_NATIVE_INT32 : H5T_NATIVE_UINT32);
    default:
      return H5Tcopy(sign ? H5T_NATIVE_INT64 : H5T_NATIVE_UINT64);
  }
}

// Smallest native width that holds `size` bytes (odd sizes such as 3 widen).
size_t widen(size_t size) { return size <= 1 ? 1 : size <= 2 ? 2 : size <= 4 ? 4 : 8; }

std::string member_name(hid_t t, unsigned i) {
  char* n = H5Tget_member_name(t, i);
  std::string s = n ? n : "";
  if (n) H5free_memory(n);
  return s;
}

bool is_bool_enum(hid_t t) {
  if (H5Tget_size(t) != 1 || H5Tget_nmembers(t) != 2) return false;
  std::string a = member_name(t, 0), b = member_name(t, 1);
  return (a == "FALSE" && b == "TRUE") || (a == "TRUE" && b == "FALSE");
}

// Returns the float dtype h5vault reads a float type as, and whether bits are lost.
std::string float_dtype(hid_t t, bool* loss) {
  size_t size = H5Tget_size(t);
  size_t spos, epos, esize, mpos, msize;
  H5Tget_fields(t, &spos, &epos, &esize, &mpos, &msize);
  *loss = false;
  if (size == 2 && esize == 5 && msize == 10) return "float16";
  if (size == 2 && esize == 8 && msize == 7) return "bfloat16";
  if (size == 4 && esize == 8 && msize == 23) return "float32";
  if (size == 8 && esize == 11 && msize == 52) return "float64";
  // Anything else (long double, 24-bit floats, ...) converts to float64, as
  // h5py's numpy does for what numpy lacks; more bits than float64 holds are lost.
  *loss = esize > 11 || msize > 52;
  return "float64";
}

bool build(hid_t ftype, int depth, TypeNode* node, Hid* mtype, ErrorInfo* err);

// The base type of a vlen or array type, as node->members[0]; its memory type in *mtype.
bool build_base(hid_t ftype, int depth, TypeNode* node, Hid* mtype, ErrorInfo* err) {
  Hid super(H5Tget_super(ftype));
  if (!super) {
    *err = capture_error(std::string(kind_name(node->kind)) + " base type");
    return false;
  }
  TypeNode child;
  if (!build(super.get(), depth + 1, &child, mtype, err)) return false;
  node->members.push_back(std::move(child));
  return true;
}

// One build_* per type class: each fills `node` and sets *mtype (build()
// checks it was made and records its size).
bool build_integer(hid_t ftype, TypeNode* node, Hid* mtype, ErrorInfo* err) {
  node->kind = Kind::Integer;
  bool sign = H5Tget_sign(ftype) == H5T_SGN_2;
  node->big_endian = H5Tget_order(ftype) == H5T_ORDER_BE;
  if (node->size > 8 || node->size == 0) {
    *err = unsupported("integer of " + std::to_string(node->size) + " bytes (h5vault reads up to 64 bits)");
    return false;
  }
  size_t w = widen(node->size);
  node->dtype = int_dtype(w, sign);
  mtype->reset(native_int(w, sign));
  return true;
}

bool build_float(hid_t ftype, TypeNode* node, Hid* mtype, ErrorInfo* err) {
  node->kind = Kind::Float;
  node->big_endian = H5Tget_order(ftype) == H5T_ORDER_BE;
  // No float format is wider than 128 bits. A wider declared size (the HDF
  // Group's tmisc38a.h5 has a 65,525-byte float with float32 fields) makes
  // libhdf5 1.10's conversion copy past the end of the stored data (SIGSEGV
  // in H5D__scatgath_read); h5py refuses it too ("Insufficient precision").
  if (node->size == 0 || node->size > 16) {
    *err = unsupported("float of " + std::to_string(node->size) + " bytes (h5vault reads floats up to 128 bits)");
    return false;
  }
  node->dtype = float_dtype(ftype, &node->precision_loss);
  if (node->dtype == "float16")
    mtype->reset(make_mem_type(DType::Float16));
  else if (node->dtype == "bfloat16")
    mtype->reset(make_mem_type(DType::Bfloat16));
  else if (node->dtype == "float32")
    mtype->reset(H5Tcopy(H5T_NATIVE_FLOAT));
  else
    mtype->reset(H5Tcopy(H5T_NATIVE_DOUBLE));
  return true;
}

bool build_string(hid_t ftype, TypeNode* node, Hid* mtype, ErrorInfo* err) {
  node->kind = Kind::String;
  htri_t vl = H5Tis_variable_str(ftype);
  node->vlen_string = vl > 0;
  node->cset = H5Tget_cset(ftype) == H5T_CSET_UTF8 ? "utf8" : "ascii";
  H5T_str_t pad = H5Tget_strpad(ftype);
  node->pad = pad == H5T_STR_SPACEPAD ? "spacepad" : pad == H5T_STR_NULLPAD ? "nullpad" : "nullterm";
  if (node->vlen_string) {
    Hid t(H5Tcopy(H5T_C_S1));
    H5Tset_size(t.get(), H5T_VARIABLE);
    H5Tset_cset(t.get(), H5Tget_cset(ftype));
    *mtype = std::move(t);
    node->has_vlen = true;
  } else {
    // Fixed strings are read as stored; padding is interpreted on decode.
    mtype->reset(H5Tcopy(ftype));
  }
  return true;
}

bool build_bitfield(hid_t ftype, TypeNode* node, Hid* mtype, ErrorInfo* err) {
  node->kind = Kind::Bitfield;
  node->big_endian = H5Tget_order(ftype) == H5T_ORDER_BE;
  switch (node->size) {
    case 1:
      mtype->reset(H5Tcopy(H5T_NATIVE_B8));
      node->dtype = "uint8";
      break;
    case 2:
      mtype->reset(H5Tcopy(H5T_NATIVE_B16));
      node->dtype = "uint16";
      break;
    case 4:
      mtype->reset(H5Tcopy(H5T_NATIVE_B32));
      node->dtype = "uint32";
      break;
    case 8:
      mtype->reset(H5Tcopy(H5T_NATIVE_B64));
      node->dtype = "uint64";
      break;
    default:
      mtype->reset(H5Tcopy(ftype));
      node->dtype = "uint8";
      break;
  }
  return true;
}

bool build_opaque(hid_t ftype, TypeNode* node, Hid* mtype, ErrorInfo* err) {
  node->kind = Kind::Opaque;
  node->dtype = "uint8";
  char* tag = H5Tget_tag(ftype);
  node->tag = tag ? tag : "";
  if (tag) H5free_memory(tag);
  mtype->reset(H5Tcopy(ftype));
  return true;
}

bool build_enum(hid_t ftype, TypeNode* node, Hid* mtype, ErrorInfo* err) {
  if (is_bool_enum(ftype)) {
    node->kind = Kind::Integer;
    node->dtype = "bool";
    mtype->reset(make_mem_type(DType::Bool));
    return true;
  }
  node->kind = Kind::Enum;
  Hid super(H5Tget_super(ftype));
  if (!super) {
    *err = capture_error("enum base type");
    return false;
  }
  size_t bsize = H5Tget_size(super.get());
  bool sign = H5Tget_sign(super.get()) == H5T_SGN_2;
  if (bsize == 0 || bsize > 8) {
    *err = unsupported("enum over " + std::to_string(bsize) + "-byte integers");
    return false;
  }
  node->big_endian = H5Tget_order(super.get()) == H5T_ORDER_BE;
  size_t w = widen(bsize);
  node->dtype = int_dtype(w, sign);
  mtype->reset(H5Tget_native_type(ftype, H5T_DIR_ASCEND));
  if (!*mtype || H5Tget_size(mtype->get()) != w) {
    *err = mtype->valid() ? unsupported("enum whose native type is not " + std::to_string(w) + " bytes")
                          : capture_error("enum memory type");
    return false;
  }
  int nm = H5Tget_nmembers(mtype->get());
  for (int i = 0; i < nm; ++i) {
    EnumMember m;
    m.name = member_name(mtype->get(), static_cast<unsigned>(i));
    m.is_unsigned = !sign;
    uint8_t raw[8] = {0};
    if (H5Tget_member_value(mtype->get(), static_cast<unsigned>(i), raw) < 0) {
      *err = capture_error("enum member value");
      return false;
    }
    if (sign) {
      int64_t v = 0;
      if (w == 1)
        v = static_cast<int8_t>(raw[0]);
      else if (w == 2) {
        int16_t x;
        std::memcpy(&x, raw, 2);
        v = x;
      } else if (w == 4) {
        int32_t x;
        std::memcpy(&x, raw, 4);
        v = x;
      } else
        std::memcpy(&v, raw, 8);
      m.value = v;
    } else {
      uint64_t v = 0;
      std::memcpy(&v, raw, w);  // little-endian host (docs/architecture.md)
      m.value = static_cast<int64_t>(v);
    }
    node->enum_members.push_back(std::move(m));
  }
  return true;
}

bool build_compound(hid_t ftype, int depth, TypeNode* node, Hid* mtype, ErrorInfo* err) {
  int nm = H5Tget_nmembers(ftype);
  if (nm <= 0) {
    *err = unsupported("compound with no members");
    return false;
  }
  std::vector<Hid> mtypes;
  for (int i = 0; i < nm; ++i) {
    Hid mft(H5Tget_member_type(ftype, static_cast<unsigned>(i)));
    if (!mft) {
      *err = capture_error("compound member type");
      return false;
    }
    TypeNode child;
    Hid cm;
    if (!build(mft.get(), depth + 1, &child, &cm, err)) return false;
    node->names.push_back(member_name(ftype, static_cast<unsigned>(i)));
    node->has_vlen = node->has_vlen || child.has_vlen;
    node->members.push_back(std::move(child));
    mtypes.push_back(std::move(cm));
  }
  // Complex numbers as h5py writes them: {r, i} of one float type.
  bool complex = nm == 2 && node->names[0] == "r" && node->names[1] == "i" && node->members[0].kind == Kind::Float &&
                 node->members[1].kind == Kind::Float && node->members[0].dtype == node->members[1].dtype &&
                 (node->members[0].dtype == "float32" || node->members[0].dtype == "float64") &&
                 !node->members[0].precision_loss;
  size_t total = 0;
  for (auto& m : node->members) {
    node->offsets.push_back(total);
    total += m.mem_size;
  }
  Hid ct(H5Tcreate(H5T_COMPOUND, std::max<size_t>(total, 1)));
  if (!ct) {
    *err = capture_error("compound memory type");
    return false;
  }
  for (int i = 0; i < nm; ++i) {
    if (H5Tinsert(ct.get(), node->names[static_cast<size_t>(i)].c_str(), node->offsets[static_cast<size_t>(i)],
                  mtypes[static_cast<size_t>(i)].get()) < 0) {
      *err = capture_error("compound member '" + node->names[static_cast<size_t>(i)] + "'");
      return false;
    }
  }
  *mtype = std::move(ct);
  if (complex) {
    node->kind = Kind::Complex;
    node->dtype = node->members[0].dtype;
  } else {
    node->kind = Kind::Compound;
  }
  node->mem_size = std::max<size_t>(total, 1);
  return true;
}

bool build_vlen(hid_t ftype, int depth, TypeNode* node, Hid* mtype, ErrorInfo* err) {
  node->kind = Kind::Vlen;
  node->has_vlen = true;
  Hid cm;
  if (!build_base(ftype, depth, node, &cm, err)) return false;
  mtype->reset(H5Tvlen_create(cm.get()));
  return true;
}

bool build_array(hid_t ftype, int depth, TypeNode* node, Hid* mtype, ErrorInfo* err) {
  node->kind = Kind::Array;
  int nd = H5Tget_array_ndims(ftype);
  if (nd <= 0 || nd > 32) {
    *err = unsupported("array type of rank " + std::to_string(nd));
    return false;
  }
  node->dims.assign(static_cast<size_t>(nd), 0);
  H5Tget_array_dims2(ftype, node->dims.data());
  Hid cm;
  if (!build_base(ftype, depth, node, &cm, err)) return false;
  node->has_vlen = node->members[0].has_vlen;
  mtype->reset(H5Tarray_create2(cm.get(), static_cast<unsigned>(nd), node->dims.data()));
  return true;
}

bool build_reference(hid_t ftype, TypeNode* node, Hid* mtype, ErrorInfo* err) {
  node->kind = Kind::Reference;
  if (H5Tequal(ftype, H5T_STD_REF_OBJ) > 0) {
    mtype->reset(H5Tcopy(H5T_STD_REF_OBJ));
  } else if (H5Tequal(ftype, H5T_STD_REF_DSETREG) > 0) {
    node->region = true;
    mtype->reset(H5Tcopy(H5T_STD_REF_DSETREG));
  } else {
    *err = unsupported("reference of " + std::to_string(node->size) + " bytes of an unknown kind");
    return false;
  }
  return true;
}

bool build(hid_t ftype, int depth, TypeNode* node, Hid* mtype, ErrorInfo* err) {
  if (depth > kMaxTypeDepth) {
    *err = unsupported("datatype nests deeper than " + std::to_string(kMaxTypeDepth) + " levels");
    return false;
  }
  H5T_class_t cls = H5Tget_class(ftype);
  node->size = H5Tget_size(ftype);
  bool ok = false;
  switch (cls) {
    case H5T_INTEGER:
      ok = build_integer(ftype, node, mtype, err);
      break;
    case H5T_FLOAT:
      ok = build_float(ftype, node, mtype, err);
      break;
    case H5T_STRING:
      ok = build_string(ftype, node, mtype, err);
      break;
    case H5T_BITFIELD:
      ok = build_bitfield(ftype, node, mtype, err);
      break;
    case H5T_OPAQUE:
      ok = build_opaque(ftype, node, mtype, err);
      break;
    case H5T_ENUM:
      ok = build_enum(ftype, node, mtype, err);
      break;
    case H5T_COMPOUND:
      // Sets its own mem_size: the memory type is at least 1 byte.
      return build_compound(ftype, depth, node, mtype, err);
    case H5T_VLEN:
      ok = build_vlen(ftype, depth, node, mtype, err);
      break;
    case H5T_ARRAY:
      ok = build_array(ftype, depth, node, mtype, err);
      break;
    case H5T_REFERENCE:
      ok = build_reference(ftype, node, mtype, err);
      break;
    default:
      *err = unsupported(std::string(cls == H5T_TIME ? "time" : "unknown") + " datatype of " +
                         std::to_string(node->size) + " bytes");
      return false;
  }
  if (!ok) return false;
  if (!*mtype) {
    *err = capture_error(std::string("memory type for ") + kind_name(node->kind));
    return false;
  }
  node->mem_size = H5Tget_size(mtype->get());
  return true;
}

}  // namespace

bool describe_value_type(hid_t ftype, TypeNode* node, hid_t* mtype, ErrorInfo* err) {
  Hid m;
  if (!build(ftype, 0, node, &m, err)) return false;
  *mtype = m.release();
  return true;
}

// ---------------------------------------------------------------------------
// A dataset's type as the file declares it

namespace {

// libhdf5 1.10 converts a compound (or enum) by sorting the source type's
// members by offset (by value) in place (H5T__conv_struct_init), and H5Dread's
// source is the dataset's own shared type: after the first converting read,
// H5Dget_type lists the members in another order until every id of the
// dataset is closed (PyTables' out_of_order_types.h5: test_5, test_10, test_15
// on the first read, test_15, test_10, test_5 on every later one). The type is
// therefore kept as first seen, per object in each open file (the file's
// number and the object's address; a second open of the same file shares
// both, and the same libhdf5 state), and handed out instead.
std::map<std::pair<unsigned long, haddr_t>, Hid> g_declared_types;
unsigned long g_declared_newest_file = 0;

// Drops the entries of files libhdf5 no longer has open (their numbers are
// never reused). Runs when a file not seen before shows up.
void prune_declared_types() {
  ssize_t n = H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_FILE);
  std::vector<hid_t> ids(static_cast<size_t>(std::max<ssize_t>(n, 0)));
  if (n > 0) n = H5Fget_obj_ids(H5F_OBJ_ALL, H5F_OBJ_FILE, ids.size(), ids.data());
  std::vector<unsigned long> open;
  for (ssize_t i = 0; i < n; ++i) {
    H5O_info_t oi;
    if (H5Oget_info_by_name2(ids[static_cast<size_t>(i)], "/", &oi, H5O_INFO_BASIC, H5P_DEFAULT) >= 0)
      open.push_back(oi.fileno);
  }
  clear_error_stack();
  for (auto it = g_declared_types.begin(); it != g_declared_types.end();) {
    if (std::find(open.begin(), open.end(), it->first.first) == open.end())
      it = g_declared_types.erase(it);
    else
      ++it;
  }
}

}  // namespace

hid_t dataset_declared_type(hid_t dset) {
  Hid t(H5Dget_type(dset));
  if (!t) return H5I_INVALID_HID;
  H5T_class_t cls = H5Tget_class(t.get());
  if (cls != H5T_COMPOUND && cls != H5T_ENUM) return t.release();
  H5O_info_t oi;
  if (H5Oget_info2(dset, &oi, H5O_INFO_BASIC) < 0) {
    clear_error_stack();
    return t.release();
  }
  if (oi.fileno != g_declared_newest_file) {
    g_declared_newest_file = oi.fileno;
    prune_declared_types();
  }
  auto key = std::make_pair(oi.fileno, oi.addr);
  auto it = g_declared_types.find(key);
  // H5Tequal ignores member order; a different type at the address (a dataset
  // deleted and another created there) replaces the entry.
  if (it != g_declared_types.end() && H5Tequal(it->second.get(), t.get()) > 0) return H5Tcopy(it->second.get());
  clear_error_stack();
  g_declared_types[key] = Hid(H5Tcopy(t.get()));
  return t.release();
}

}  // namespace h5v::h5
