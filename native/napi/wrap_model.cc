// modelLayout: the layout of every dataset of a read-only file in one native
// call, for loadModel's check of a tensor index it does not trust
// (docs/model-storage.md#tensor-index). The same facts the walk path reads
// (libhdf5's own object headers: type, shape, layout, data offset, and the
// tensor's stored SHA-256), without a JS object, an ObjHandle, or an
// attribute round trip per tensor.
#include <string>
#include <vector>

#include "common/lock.h"
#include "h5/attribute.h"
#include "h5/dataset.h"
#include "h5/file.h"
#include "h5/ohdr_walk.h"
#include "common/hid.h"
#include "h5/types.h"
#include "wrap.h"

namespace h5v::js {

using h5::DType;
using h5::ErrorInfo;
using h5::Lock;

namespace {

struct Layout {
  std::string path;
  h5::DatasetInfo info;
  bool has_sha = false;
  std::string sha;
};

// Every dataset reachable through hard links from the root, in the walk's
// order (H5Ovisit: depth-first, name order). False when any object cannot be
// opened or described, or the traversal stops part-way: the caller then walks
// the file object by object, which names each failure.
bool collect(hid_t root, const std::string& sha_attr, std::vector<Layout>* out, ErrorInfo* err) {
  Lock lock;
  // Each dataset is opened inside the traversal, right after libhdf5 read its
  // header for the visit: a list first and opens after it re-read evicted
  // headers from the file (~10% of the call at 10,000 tensors).
  return h5::visit_objects(
      root,
      [&](const h5::VisitEntry& e) {
        if (e.kind != h5::ObjKind::Dataset) return true;
        h5::Hid id(h5::open_by_address(root, e.addr, err));
        if (!id) return false;
        Layout l;
        l.path = "/" + e.path;
        if (!h5::describe_dataset(id.get(), &l.info, err)) return false;
        if (!sha_attr.empty() && h5::has_attr(id.get(), sha_attr)) {
          h5::AttrValue v;
          if (!h5::read_attr(id.get(), sha_attr, &v, err)) return false;
          if (v.dtype == DType::String && v.scalar && v.strings.size() == 1) {
            l.has_sha = true;
            l.sha = v.strings[0];
          }
        }
        out->push_back(std::move(l));
        return true;
      },
      err);
}

// The same list from h5vault's own header parser (h5/ohdr_walk.h), which
// opens through libhdf5 only the objects it does not understand. False when
// it declines the file, or (strict) when any object needed libhdf5.
bool collect_parsed(hid_t fid, bool strict, std::vector<Layout>* out) {
  Lock lock;
  h5::ParsedWalkStats stats;
  const bool ok = h5::parsed_layouts(
      fid,
      [&](const std::string& path, h5::DatasetInfo&& d) {
        Layout l;
        l.path = path;
        l.info = std::move(d);
        out->push_back(std::move(l));
      },
      &stats);
  return ok && (!strict || stats.opened == 0);
}

// modelLayout(file, shaAttr, engine = 'auto') -> [[path, dtype, shape,
//   offset | null, bytes, layout, bigEndian, external, allocated,
//   sha | null], ...] | null
// shaAttr '' skips the attribute (sha is then null): reading it is a fifth
// of the call's cost, and only a verifying load compares it. Without it the
// header parser answers when it can ('auto'); tests compare the engines:
// 'libhdf5' (H5Ovisit + H5Dopen per dataset), 'parser' (null when it
// declines the file), 'parser-strict' (null unless it parsed every object).
Napi::Value ModelLayout(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto f = unwrap_file(info, 0);
  if (info.Length() < 2 || !info[1].IsString()) throw Napi::TypeError::New(env, "shaAttr must be a string");
  const std::string sha_attr = info[1].As<Napi::String>().Utf8Value();
  const std::string engine = info.Length() > 2 && info[2].IsString() ? info[2].As<Napi::String>().Utf8Value() : "auto";
  if (engine != "auto" && engine != "libhdf5" && engine != "parser" && engine != "parser-strict")
    throw Napi::TypeError::New(env, "engine must be 'auto', 'libhdf5', 'parser' or 'parser-strict'");
  if (engine.rfind("parser", 0) == 0 && !sha_attr.empty())
    throw Napi::TypeError::New(env, "the parser does not read attributes: shaAttr must be ''");
  JsOp op(env, f);
  ErrorInfo err;
  std::vector<Layout> list;
  bool ok = false;
  if (engine != "libhdf5" && sha_attr.empty()) {
    ok = collect_parsed(f->id(), engine == "parser-strict", &list);
    if (!ok && engine != "auto") return env.Null();
  }
  if (!ok) {
    list.clear();
    if (!collect(f->id(), sha_attr, &list, &err)) return env.Null();
  }
  Napi::Array out = Napi::Array::New(env, list.size());
  for (size_t i = 0; i < list.size(); ++i) {
    const Layout& l = list[i];
    const h5::DatasetInfo& d = l.info;
    Napi::Array row = Napi::Array::New(env, 10);
    row.Set(0u, l.path);
    row.Set(1u, h5::dtype_name(d.type.dtype));
    Napi::Array shape = Napi::Array::New(env, d.shape.size());
    for (size_t k = 0; k < d.shape.size(); ++k) shape.Set(k, static_cast<double>(d.shape[k]));
    row.Set(2u, shape);
    row.Set(3u,
            d.offset == HADDR_UNDEF ? env.Null() : Napi::Value(Napi::Number::New(env, static_cast<double>(d.offset))));
    const size_t es =
        d.type.dtype == DType::String || d.type.dtype == DType::Unsupported ? 0 : h5::dtype_size(d.type.dtype);
    row.Set(4u, static_cast<double>(d.nelements) * static_cast<double>(es));
    row.Set(5u, d.layout);
    row.Set(6u, d.type.big_endian);
    row.Set(7u, d.external);
    row.Set(8u, d.allocated);
    row.Set(9u, l.has_sha ? Napi::Value(Napi::String::New(env, l.sha)) : env.Null());
    out.Set(i, row);
  }
  return out;
}

}  // namespace

void init_model(Napi::Env env, Napi::Object exports) {
  static const Export kExports[] = {
      {"modelLayout", ModelLayout},
  };
  set_exports(env, exports, kExports);
}

}  // namespace h5v::js
