// JS bindings for every datatype class (docs/types.md): the type of a dataset
// or attribute as a plain object, reads into natural JS values (typed arrays,
// string[], column objects, arrays of sequences, references), and writes of
// the same shapes. The numeric fast path (wrap_dataset.cc) never comes here.
#include <cstring>

#include "common/lock.h"
#include "h5/attribute.h"
#include "h5/dataset.h"
#include "h5/file.h"
#include "common/hid.h"
#include "h5/value.h"
#include "wrap.h"

namespace h5v::js {

using h5::Column;
using h5::ErrorInfo;
using h5::Kind;
using h5::Lock;
using h5::TypeNode;

namespace {

// ---- native -> JS ----------------------------------------------------------

bool is_wide(const std::string& dtype) { return dtype == "int64" || dtype == "uint64"; }

Napi::Value enum_value(Napi::Env env, const h5::EnumMember& m, const std::string& dtype) {
  if (is_wide(dtype)) {
    return m.is_unsigned ? Napi::BigInt::New(env, static_cast<uint64_t>(m.value)) : Napi::BigInt::New(env, m.value);
  }
  return Napi::Number::New(env, static_cast<double>(m.value));
}

// Own data properties even for names such as "__proto__" (Set would call the setter).
void define(Napi::Object o, const std::string& name, Napi::Value v) {
  o.DefineProperty(Napi::PropertyDescriptor::Value(name, v, napi_enumerable));
}

Napi::Value type_to_js(Napi::Env env, const TypeNode& t) {
  Napi::Object o = Napi::Object::New(env);
  bool is_bool = t.kind == Kind::Integer && t.dtype == "bool";
  o.Set("class", is_bool ? "bool" : h5::kind_name(t.kind));
  o.Set("size", static_cast<double>(t.size));
  switch (t.kind) {
    case Kind::Integer:
    case Kind::Float:
    case Kind::Bitfield:
      if (!is_bool) {
        o.Set("dtype", t.dtype);
        o.Set("bigEndian", t.big_endian);
      }
      if (t.kind == Kind::Float) o.Set("precisionLoss", t.precision_loss);
      break;
    case Kind::Complex:
      o.Set("dtype", t.dtype);
      break;
    case Kind::String:
      o.Set("variable", t.vlen_string);
      o.Set("cset", t.cset);
      o.Set("pad", t.pad);
      break;
    case Kind::Opaque:
      o.Set("tag", t.tag);
      break;
    case Kind::Enum: {
      o.Set("dtype", t.dtype);
      Napi::Object m = Napi::Object::New(env);
      for (const auto& e : t.enum_members) define(m, e.name, enum_value(env, e, t.dtype));
      o.Set("members", m);
      break;
    }
    case Kind::Compound: {
      Napi::Array f = Napi::Array::New(env, t.members.size());
      for (size_t i = 0; i < t.members.size(); ++i) {
        Napi::Object e = Napi::Object::New(env);
        e.Set("name", t.names[i]);
        e.Set("type", type_to_js(env, t.members[i]));
        f.Set(static_cast<uint32_t>(i), e);
      }
      o.Set("fields", f);
      break;
    }
    case Kind::Vlen:
      o.Set("base", type_to_js(env, t.members[0]));
      break;
    case Kind::Array: {
      Napi::Array d = Napi::Array::New(env, t.dims.size());
      for (size_t i = 0; i < t.dims.size(); ++i) d.Set(static_cast<uint32_t>(i), static_cast<double>(t.dims[i]));
      o.Set("dims", d);
      o.Set("base", type_to_js(env, t.members[0]));
      break;
    }
    case Kind::Reference:
      o.Set("kind", t.region ? "region" : "object");
      break;
  }
  return o;
}

napi_typedarray_type array_type(const std::string& d) {
  if (d == "int8") return napi_int8_array;
  if (d == "int16") return napi_int16_array;
  if (d == "int32") return napi_int32_array;
  if (d == "int64") return napi_bigint64_array;
  if (d == "uint16" || d == "float16" || d == "bfloat16") return napi_uint16_array;
  if (d == "uint32") return napi_uint32_array;
  if (d == "uint64") return napi_biguint64_array;
  if (d == "float32") return napi_float32_array;
  if (d == "float64") return napi_float64_array;
  return napi_uint8_array;  // uint8, bool, raw bytes
}

size_t array_item(napi_typedarray_type t) {
  switch (t) {
    case napi_int16_array:
    case napi_uint16_array:
      return 2;
    case napi_int32_array:
    case napi_uint32_array:
    case napi_float32_array:
      return 4;
    case napi_bigint64_array:
    case napi_biguint64_array:
    case napi_float64_array:
      return 8;
    default:
      return 1;
  }
}

Napi::Value typed_array(Napi::Env env, const std::string& dtype, const std::vector<uint8_t>& bytes) {
  napi_typedarray_type t = array_type(dtype);
  Napi::ArrayBuffer ab = Napi::ArrayBuffer::New(env, bytes.size());
  if (!bytes.empty()) std::memcpy(ab.Data(), bytes.data(), bytes.size());
  napi_value out;
  NAPI_THROW_IF_FAILED(env, napi_create_typedarray(env, t, bytes.size() / array_item(t), ab, 0, &out), Napi::Value());
  return Napi::Value(env, out);
}

}  // namespace

// Strings cross as text: UTF-8 when the bytes are UTF-8, otherwise each byte
// as one code unit (latin1), so bytes such as b'\xb5m' (an ASCII-tagged "µm")
// survive (Buffer.from(s, 'latin1') gives them back) instead of becoming U+FFFD.
// ASCII text (most strings) is latin1 too (one-byte, no decode); the rest is
// validated and decoded in one pass (utf16_of), not again by V8's UTF-8 path.
Napi::Value text_value(Napi::Env env, const std::string& s) {
  size_t ascii = 0;
  while (ascii < s.size() && !(static_cast<unsigned char>(s[ascii]) & 0x80)) ++ascii;
  napi_value v;
  size_t units = 0;
  if (const char16_t* u = ascii < s.size() ? h5::utf16_of(s, &units) : nullptr) {
    NAPI_THROW_IF_FAILED(env, napi_create_string_utf16(env, u, units, &v), Napi::Value());
    return Napi::Value(env, v);
  }
  NAPI_THROW_IF_FAILED(env, napi_create_string_latin1(env, s.data(), s.size(), &v), Napi::Value());
  return Napi::Value(env, v);
}

namespace {

struct ToJs {
  Napi::Env env;
  bool bytes_strings;  // strings as Uint8Array (exact bytes) instead of text

  Napi::Value ref(const h5::RefValue& r) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("kind", r.region ? "region" : "object");
    o.Set("path", r.valid ? Napi::Value(Napi::String::New(env, r.path)) : env.Null());
    if (!r.region) return o;
    Napi::Object s = Napi::Object::New(env);
    s.Set("kind", r.valid ? r.sel_kind : "none");
    size_t rank = static_cast<size_t>(r.rank);
    auto tuple = [&](size_t at) {
      Napi::Array a = Napi::Array::New(env, rank);
      for (size_t k = 0; k < rank; ++k) a.Set(static_cast<uint32_t>(k), static_cast<double>(r.coords[at + k]));
      return a;
    };
    if (r.sel_kind == "points" && rank > 0) {
      size_t np = r.coords.size() / rank;
      Napi::Array pts = Napi::Array::New(env, np);
      for (size_t i = 0; i < np; ++i) pts.Set(static_cast<uint32_t>(i), tuple(i * rank));
      s.Set("points", pts);
    } else if (r.sel_kind == "blocks" && rank > 0) {
      size_t nb = r.coords.size() / (2 * rank);
      Napi::Array bl = Napi::Array::New(env, nb);
      for (size_t i = 0; i < nb; ++i) {
        Napi::Object b = Napi::Object::New(env);
        b.Set("start", tuple(i * 2 * rank));
        b.Set("end", tuple(i * 2 * rank + rank));
        bl.Set(static_cast<uint32_t>(i), b);
      }
      s.Set("blocks", bl);
    }
    o.Set("selection", s);
    return o;
  }

  Napi::Value column(const TypeNode& t, const Column& c) {
    switch (t.kind) {
      case Kind::Integer:
      case Kind::Float:
      case Kind::Bitfield:
      case Kind::Opaque:
      case Kind::Enum:
      case Kind::Complex:
        return typed_array(env, t.dtype, c.bytes);
      case Kind::String: {
        Napi::Array a = Napi::Array::New(env, c.strings.size());
        for (size_t i = 0; i < c.strings.size(); ++i) {
          const std::string& s = c.strings[i];
          if (bytes_strings) {
            Napi::Uint8Array u = Napi::Uint8Array::New(env, s.size());
            if (!s.empty()) std::memcpy(u.Data(), s.data(), s.size());
            a.Set(static_cast<uint32_t>(i), u);
          } else {
            a.Set(static_cast<uint32_t>(i), text_value(env, s));
          }
        }
        return a;
      }
      case Kind::Compound: {
        Napi::Object o = Napi::Object::New(env);
        for (size_t f = 0; f < t.members.size(); ++f) define(o, t.names[f], column(t.members[f], c.fields[f]));
        return o;
      }
      case Kind::Array:
        return column(t.members[0], c);
      case Kind::Vlen: {
        Napi::Array a = Napi::Array::New(env, c.items.size());
        for (size_t i = 0; i < c.items.size(); ++i) a.Set(static_cast<uint32_t>(i), column(t.members[0], c.items[i]));
        return a;
      }
      case Kind::Reference: {
        Napi::Array a = Napi::Array::New(env, c.refs.size());
        for (size_t i = 0; i < c.refs.size(); ++i) a.Set(static_cast<uint32_t>(i), ref(c.refs[i]));
        return a;
      }
    }
    return env.Undefined();
  }
};

Napi::Value result_to_js(Napi::Env env, const h5::ValueResult& r, bool bytes_strings) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("type", type_to_js(env, r.type));
  o.Set("scalar", r.scalar);
  o.Set("empty", r.null_space);
  Napi::Array shape = Napi::Array::New(env, r.shape.size());
  for (size_t i = 0; i < r.shape.size(); ++i) shape.Set(static_cast<uint32_t>(i), static_cast<double>(r.shape[i]));
  o.Set("shape", shape);
  o.Set("data", r.null_space ? env.Null() : ToJs{env, bytes_strings}.column(r.type, r.column));
  return o;
}

std::string opt_name(const Napi::CallbackInfo& info, size_t i) {
  if (info.Length() <= i || info[i].IsNull() || info[i].IsUndefined()) return {};
  if (!info[i].IsString()) throw Napi::TypeError::New(info.Env(), "attribute name must be a string");
  return info[i].As<Napi::String>().Utf8Value();
}

Selection selection_arg(Napi::Env env, Napi::Value v) {
  Selection s;
  if (v.IsUndefined() || v.IsNull()) return s;
  if (!v.IsObject()) throw Napi::TypeError::New(env, "selection must be an object { start, count, step? }");
  auto o = v.As<Napi::Object>();
  auto dims = [&](const char* key) {
    std::vector<hsize_t> out;
    Napi::Value a = o.Get(key);
    if (a.IsUndefined() || a.IsNull()) return out;
    if (!a.IsArray()) throw Napi::TypeError::New(env, std::string("selection.") + key + " must be an array");
    auto arr = a.As<Napi::Array>();
    for (uint32_t i = 0; i < arr.Length(); ++i) {
      double d = arr.Get(i).ToNumber().DoubleValue();
      if (!(d >= 0) || d > 9007199254740991.0)
        throw Napi::RangeError::New(env, "selection entries must be non-negative integers");
      out.push_back(static_cast<hsize_t>(d));
    }
    return out;
  };
  s.start = dims("start");
  s.count = dims("count");
  s.step = dims("step");
  return s;
}

// valueType(obj, attrName | null) -> H5Type
Napi::Value ValueType(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto obj = unwrap_object(info, 0);
  std::string aname = opt_name(info, 1);
  JsOp op(env, obj->file);
  TypeNode t;
  call_locked(env, [&](ErrorInfo* err) {
    h5::Hid attr, ftype;
    if (!aname.empty()) {
      if (!h5::has_attr(obj->id, aname)) {
        throw_error(env, ErrorInfo::make("H5_NOT_FOUND", "no attribute '" + aname + "' on '" + obj->path + "'"));
      }
      attr.reset(H5Aopen(obj->id, aname.c_str(), H5P_DEFAULT));
      ftype.reset(attr ? H5Aget_type(attr.get()) : H5I_INVALID_HID);
    } else {
      ftype.reset(h5::dataset_declared_type(obj->id));
    }
    if (!ftype) {
      *err = h5::capture_error("get datatype of '" + obj->path + "'");
      return false;
    }
    hid_t m = H5I_INVALID_HID;
    bool ok = h5::describe_value_type(ftype.get(), &t, &m, err);
    if (m >= 0) H5Tclose(m);
    return ok;
  });
  return type_to_js(env, t);
}

struct ReadArgs {
  std::shared_ptr<h5::ObjHandle> obj;
  std::string attr;
  Selection sel;
  bool bytes_strings = false;
};

ReadArgs read_args(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ReadArgs a;
  a.obj = unwrap_object(info, 0);
  a.attr = opt_name(info, 1);
  if (a.attr.empty() && a.obj->kind != h5::ObjKind::Dataset) throw Napi::TypeError::New(env, "expected a dataset");
  a.sel = selection_arg(env, info.Length() > 2 ? info[2] : env.Undefined());
  if (info.Length() > 3 && info[3].IsString()) a.bytes_strings = info[3].As<Napi::String>().Utf8Value() == "bytes";
  return a;
}

void do_read(const ReadArgs& a, h5::ValueResult* r, ErrorInfo* err) {
  Lock lock;
  if (!h5::read_value(a.obj->id, a.attr.empty() ? nullptr : a.attr.c_str(), a.sel, r, err)) {
    if (err->code == "H5_NOT_FOUND" && !a.attr.empty())
      err->message = "no attribute '" + a.attr + "' on '" + a.obj->path + "'";
    else if (err->code == "H5_UNSUPPORTED_TYPE")
      err->message = (a.attr.empty() ? "dataset '" : "attribute '" + a.attr + "' of '") + a.obj->path +
                     "' has an unsupported type: " + err->message;
  }
}

// valueRead(obj, attrName | null, selection | null, strings: 'text' | 'bytes')
Napi::Value ValueRead(const Napi::CallbackInfo& info) {
  ReadArgs a = read_args(info);
  JsOp op(info.Env(), a.obj->file);
  h5::ValueResult r;
  ErrorInfo err;
  do_read(a, &r, &err);
  if (!err.ok()) throw_error(info.Env(), err);
  return result_to_js(info.Env(), r, a.bytes_strings);
}

Napi::Value ValueReadAsync(const Napi::CallbackInfo& info) {
  auto a = std::make_shared<ReadArgs>(read_args(info));
  auto r = std::make_shared<h5::ValueResult>();
  return Job::Start(
      info.Env(), a->obj->file, [a, r](ErrorInfo* err) { do_read(*a, r.get(), err); },
      [a, r](Napi::Env env) { return result_to_js(env, *r, a->bytes_strings); });
}

// ---- JS -> native (writes) -------------------------------------------------

Kind kind_of(Napi::Env env, const std::string& c) {
  static const std::pair<const char*, Kind> names[] = {
      {"integer", Kind::Integer},   {"float", Kind::Float},       {"bool", Kind::Integer},
      {"string", Kind::String},     {"bitfield", Kind::Bitfield}, {"opaque", Kind::Opaque},
      {"compound", Kind::Compound}, {"complex", Kind::Complex},   {"enum", Kind::Enum},
      {"vlen", Kind::Vlen},         {"array", Kind::Array},       {"reference", Kind::Reference}};
  for (const auto& n : names)
    if (c == n.first) return n.second;
  throw Napi::TypeError::New(env, "unknown type class '" + c + "'");
}

std::string str_of(Napi::Object o, const char* key) {
  Napi::Value v = o.Get(key);
  return v.IsString() ? v.As<Napi::String>().Utf8Value() : std::string();
}

TypeNode type_from_js(Napi::Env env, Napi::Value v, int depth) {
  if (depth > h5::kMaxTypeDepth) throw Napi::RangeError::New(env, "type nests too deeply");
  if (!v.IsObject()) throw Napi::TypeError::New(env, "a type must be an object { class, ... }");
  Napi::Object o = v.As<Napi::Object>();
  std::string cls = str_of(o, "class");
  TypeNode t;
  t.kind = kind_of(env, cls);
  t.dtype = cls == "bool" ? "bool" : str_of(o, "dtype");
  if (o.Get("size").IsNumber()) t.size = static_cast<size_t>(o.Get("size").As<Napi::Number>().Int64Value());
  switch (t.kind) {
    case Kind::String:
      t.vlen_string = o.Get("variable").ToBoolean();
      t.cset = str_of(o, "cset");
      t.pad = str_of(o, "pad");
      break;
    case Kind::Opaque:
      t.tag = str_of(o, "tag");
      break;
    case Kind::Enum: {
      Napi::Value m = o.Get("members");
      if (!m.IsObject()) throw Napi::TypeError::New(env, "an enum type needs members { name: value }");
      Napi::Object mo = m.As<Napi::Object>();
      Napi::Array keys = mo.GetPropertyNames();
      for (uint32_t i = 0; i < keys.Length(); ++i) {
        h5::EnumMember e;
        e.name = keys.Get(i).As<Napi::String>().Utf8Value();
        Napi::Value x = mo.Get(keys.Get(i));
        bool lossless = true;
        if (x.IsBigInt()) {
          if (t.dtype == "uint64")
            e.value = static_cast<int64_t>(x.As<Napi::BigInt>().Uint64Value(&lossless));
          else
            e.value = x.As<Napi::BigInt>().Int64Value(&lossless);
        } else if (x.IsNumber()) {
          double d = x.As<Napi::Number>().DoubleValue();
          lossless = d == static_cast<double>(static_cast<int64_t>(d));
          e.value = static_cast<int64_t>(d);
        } else {
          lossless = false;
        }
        if (!lossless) throw Napi::TypeError::New(env, "enum member '" + e.name + "' must be an integer");
        e.is_unsigned = !t.dtype.empty() && t.dtype[0] == 'u';
        t.enum_members.push_back(std::move(e));
      }
      break;
    }
    case Kind::Compound: {
      Napi::Value f = o.Get("fields");
      if (!f.IsArray()) throw Napi::TypeError::New(env, "a compound type needs fields [{ name, type }]");
      Napi::Array fa = f.As<Napi::Array>();
      for (uint32_t i = 0; i < fa.Length(); ++i) {
        Napi::Value e = fa.Get(i);
        if (!e.IsObject()) throw Napi::TypeError::New(env, "a compound field is { name, type }");
        t.names.push_back(str_of(e.As<Napi::Object>(), "name"));
        t.members.push_back(type_from_js(env, e.As<Napi::Object>().Get("type"), depth + 1));
      }
      break;
    }
    case Kind::Vlen:
    case Kind::Array:
      t.members.push_back(type_from_js(env, o.Get("base"), depth + 1));
      if (t.kind == Kind::Array) {
        Napi::Value d = o.Get("dims");
        if (!d.IsArray()) throw Napi::TypeError::New(env, "an array type needs dims");
        Napi::Array da = d.As<Napi::Array>();
        for (uint32_t i = 0; i < da.Length(); ++i) {
          double x = da.Get(i).ToNumber().DoubleValue();
          if (!(x >= 1) || x > 4294967295.0)
            throw Napi::RangeError::New(env, "array type dims must be positive integers");
          t.dims.push_back(static_cast<hsize_t>(x));
        }
      }
      break;
    case Kind::Reference:
      t.region = str_of(o, "kind") == "region";
      break;
    default:
      break;
  }
  return t;
}

Column column_from_js(Napi::Env env, const TypeNode& t, Napi::Value v, int depth) {
  if (depth > 4 * h5::kMaxTypeDepth) throw Napi::RangeError::New(env, "data nests too deeply");
  Column c;
  c.kind = t.kind;
  switch (t.kind) {
    case Kind::Integer:
    case Kind::Float:
    case Kind::Bitfield:
    case Kind::Opaque:
    case Kind::Enum:
    case Kind::Complex: {
      if (!v.IsTypedArray())
        throw Napi::TypeError::New(env, std::string(h5::kind_name(t.kind)) + " data must be a TypedArray");
      Bytes b = typed_array_bytes(env, v);
      c.bytes.assign(b.data, b.data + b.size);
      break;
    }
    case Kind::String: {
      if (!v.IsArray()) throw Napi::TypeError::New(env, "string data must be a string[]");
      Napi::Array a = v.As<Napi::Array>();
      for (uint32_t i = 0; i < a.Length(); ++i) c.strings.push_back(string_value(env, a.Get(i), "string", i));
      break;
    }
    case Kind::Compound: {
      if (!v.IsObject()) throw Napi::TypeError::New(env, "compound data must be an object of columns");
      Napi::Object o = v.As<Napi::Object>();
      for (size_t f = 0; f < t.members.size(); ++f) {
        if (!o.HasOwnProperty(t.names[f]))
          throw Napi::TypeError::New(env, "compound data has no column '" + t.names[f] + "'");
        c.fields.push_back(column_from_js(env, t.members[f], o.Get(t.names[f]), depth + 1));
      }
      break;
    }
    case Kind::Array: {
      Column inner = column_from_js(env, t.members[0], v, depth + 1);
      c = std::move(inner);
      c.kind = Kind::Array;
      break;
    }
    case Kind::Vlen: {
      if (!v.IsArray()) throw Napi::TypeError::New(env, "vlen data must be an array of sequences");
      Napi::Array a = v.As<Napi::Array>();
      for (uint32_t i = 0; i < a.Length(); ++i)
        c.items.push_back(column_from_js(env, t.members[0], a.Get(i), depth + 1));
      break;
    }
    case Kind::Reference: {
      if (!v.IsArray()) throw Napi::TypeError::New(env, "reference data must be an array of { path } or null");
      Napi::Array a = v.As<Napi::Array>();
      for (uint32_t i = 0; i < a.Length(); ++i) {
        h5::RefValue r;
        Napi::Value e = a.Get(i);
        if (e.IsObject() && e.As<Napi::Object>().Get("path").IsString()) {
          r.valid = true;
          r.path = e.As<Napi::Object>().Get("path").As<Napi::String>().Utf8Value();
        } else if (!e.IsNull() && !(e.IsObject() && e.As<Napi::Object>().Get("path").IsNull())) {
          throw Napi::TypeError::New(env, "a reference is { path } (or null for a null reference)");
        }
        c.refs.push_back(std::move(r));
      }
      break;
    }
  }
  return c;
}

h5::ValueWrite write_args(const Napi::CallbackInfo& info, size_t at) {
  Napi::Env env = info.Env();
  h5::ValueWrite w;
  w.type = type_from_js(env, info[at], 0);
  Napi::Value shape = info.Length() > at + 1 ? info[at + 1] : env.Null();
  w.scalar = !shape.IsArray();
  if (!w.scalar) {
    Napi::Array a = shape.As<Napi::Array>();
    for (uint32_t i = 0; i < a.Length(); ++i) {
      double d = a.Get(i).ToNumber().DoubleValue();
      if (!(d >= 0) || d > 9007199254740991.0)
        throw Napi::RangeError::New(env, "shape entries must be non-negative integers");
      w.shape.push_back(static_cast<hsize_t>(d));
    }
    // The data must hold every element, so an extent past 2^63 is refused
    // whatever the element size: its count would wrap in libhdf5.
    ErrorInfo err;
    if (!h5::check_extent(w.shape, 1, "cannot store this value", &err)) throw_error(env, err);
  }
  w.column = column_from_js(env, w.type, info.Length() > at + 2 ? info[at + 2] : env.Undefined(), 0);
  return w;
}

// valueCreateDataset(group, name, type, shape | null, data) -> handle
Napi::Value ValueCreateDataset(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto parent = unwrap_kind(info, 0, h5::ObjKind::Group);
  std::string name = arg_string(info, 1, "name");
  std::string why;
  if (!h5::valid_relative_path(name, &why)) throw Napi::TypeError::New(env, why);
  h5::ValueWrite w = write_args(info, 2);
  JsOp op(env, parent->file);
  require_writable(env, parent->file);
  hid_t d = call_locked(env, [&](ErrorInfo* err) {
    require_absent(env, parent, name);
    if (!h5::create_value_dataset(parent->id, name, w, err)) return hid_t{H5I_INVALID_HID};
    h5::ObjKind kind;
    return h5::open_object(parent->id, name, &kind, err);
  });
  return wrap_object(
      env, std::make_shared<h5::ObjHandle>(parent->file, d, h5::ObjKind::Dataset, h5::join_path(parent->path, name)));
}

// valueSetAttr(obj, name, type, shape | null, data)
Napi::Value ValueSetAttr(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto obj = unwrap_object(info, 0);
  std::string name = arg_string(info, 1, "attribute name");
  if (name.empty()) throw Napi::TypeError::New(env, "attribute name must not be empty");
  h5::ValueWrite w = write_args(info, 2);
  JsOp op(env, obj->file);
  require_writable(env, obj->file);
  call_locked(env, [&](ErrorInfo* err) { return h5::write_value_attr(obj->id, name, w, err); });
  return env.Undefined();
}

}  // namespace

void init_value(Napi::Env env, Napi::Object exports) {
  static const Export kExports[] = {
      {"valueType", ValueType},           {"valueRead", ValueRead},
      {"valueReadAsync", ValueReadAsync}, {"valueCreateDataset", ValueCreateDataset},
      {"valueSetAttr", ValueSetAttr},
  };
  set_exports(env, exports, kExports);
}

}  // namespace h5v::js
