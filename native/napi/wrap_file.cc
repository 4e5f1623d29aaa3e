// JS bindings for files, groups and links. Synchronous calls here touch only
// metadata; each runs inside an OpGuard (so close() cannot race it) and the
// global lock.
#include "dataset_io.h"
#include "wrap.h"

#include "common/lock.h"

namespace h5v::js {

using h5::ErrorInfo;
using h5::Lock;

namespace {

// fileOpen(path, writable) / fileCreate(path, overwrite): same shape, the
// flag's meaning differs.
template <std::shared_ptr<h5::FileHandle> (*Make)(const std::string&, bool, ErrorInfo*)>
Napi::Value OpenOrCreate(const Napi::CallbackInfo& info, const char* flag) {
  std::string path = arg_string(info, 0, "path");
  bool b = arg_bool(info, 1, flag);
  auto f = call_locked(info.Env(), [&](ErrorInfo* err) { return Make(path, b, err); });
  return wrap_file(info.Env(), f);
}

// fileOpen(path, writable, openPath?): with openPath (a /proc/self/fd/N the
// caller hashed or walked), libhdf5 opens that while messages name `path`.
Napi::Value FileOpen(const Napi::CallbackInfo& info) {
  if (info.Length() < 3 || info[2].IsUndefined()) return OpenOrCreate<&h5::FileHandle::open>(info, "writable");
  std::string path = arg_string(info, 0, "path");
  bool writable = arg_bool(info, 1, "writable");
  std::string open_path = arg_string(info, 2, "openPath");
  auto f =
      call_locked(info.Env(), [&](ErrorInfo* err) { return h5::FileHandle::open_as(path, open_path, writable, err); });
  return wrap_file(info.Env(), f);
}
// fileCreate(path, overwrite, trackOrder?)
Napi::Value FileCreate(const Napi::CallbackInfo& info) {
  if (info.Length() < 3 || info[2].IsUndefined()) return OpenOrCreate<&h5::FileHandle::create>(info, "overwrite");
  std::string path = arg_string(info, 0, "path");
  bool overwrite = arg_bool(info, 1, "overwrite");
  bool track = arg_bool(info, 2, "trackOrder");
  auto f = call_locked(info.Env(),
                       [&](ErrorInfo* err) { return h5::FileHandle::create_ordered(path, overwrite, track, err); });
  return wrap_file(info.Env(), f);
}

Napi::Value FileClose(const Napi::CallbackInfo& info) {
  auto f = unwrap_file(info, 0);
  f->close();
  ErrorInfo err;
  {
    Lock lock;
    if (f->hdf5_closed()) err = f->close_error();
  }
  if (!err.ok()) throw_error(info.Env(), err);
  return info.Env().Undefined();
}

// Resolves once the HDF5 file is really closed (after pending work).
Napi::Value FileCloseAsync(const Napi::CallbackInfo& info) {
  auto f = unwrap_file(info, 0);
  f->close();
  return Job::Start(
      info.Env(), nullptr,
      [f](ErrorInfo* err) {
        // Waiting for pending operations = waiting until do_close ran. Poll under
        // the lock; pending ops end quickly once their HDF5 calls return.
        for (;;) {
          {
            Lock lock;
            if (f->hdf5_closed()) {
              *err = f->close_error();
              return;
            }
          }
          std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
      },
      nullptr);
}

Napi::Value FileState(const Napi::CallbackInfo& info) {
  auto f = unwrap_file(info, 0);
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("path", f->path());
  o.Set("writable", f->writable());
  o.Set("closed", f->close_requested());
  return o;
}

Napi::Value FileFlush(const Napi::CallbackInfo& info) {
  auto f = unwrap_file(info, 0);
  JsOp op(info.Env(), f);
  call_locked(info.Env(), [&](ErrorInfo* err) {
    if (H5Fflush(f->id(), H5F_SCOPE_GLOBAL) >= 0) return true;
    *err = h5::capture_error("flush");
    return false;
  });
  return info.Env().Undefined();
}

Napi::Value FileRoot(const Napi::CallbackInfo& info) {
  auto f = unwrap_file(info, 0);
  JsOp op(info.Env(), f);
  hid_t g = call_locked(info.Env(), [&](ErrorInfo* err) {
    hid_t id = H5Gopen2(f->id(), "/", H5P_DEFAULT);
    if (id < 0) *err = h5::capture_error("open root group");
    return id;
  });
  return wrap_object(info.Env(), std::make_shared<h5::ObjHandle>(f, g, h5::ObjKind::Group, "/"));
}

// objOpen(parent, path, followExternal?) -> { handle, kind, path }
Napi::Value ObjOpen(const Napi::CallbackInfo& info) {
  auto parent = unwrap_object(info, 0);
  std::string path = arg_string(info, 1, "path");
  bool follow = info.Length() > 2 && info[2].ToBoolean();
  bool foreign = false;
  if (follow && parent->file->refuse_external)
    throw_error(info.Env(), ErrorInfo::make("H5_UNSUPPORTED",
                                            "'" + h5::join_path(parent->path, path) +
                                                "': external links are not followed in a file opened with "
                                                "{ untrusted } or { expectDigest }: the check covered this file only"));
  std::string why;
  if (!h5::valid_relative_path(path, &why)) throw Napi::TypeError::New(info.Env(), why);
  JsOp op(info.Env(), parent->file);
  h5::ObjKind kind;
  std::string abs = h5::join_path(parent->path, path);
  hid_t id = call_locked(
      info.Env(), [&](ErrorInfo* err) { return h5::open_object(parent->id, path, &kind, err, follow, &foreign); },
      [&](ErrorInfo& err) {
        if (err.code == "H5_NOT_FOUND") err.message = "no object at '" + abs + "' in '" + parent->file->path() + "'";
      });
  auto o = std::make_shared<h5::ObjHandle>(parent->file, id, kind, abs);
  o->foreign_file = foreign || parent->foreign_file;
  Napi::Object r = Napi::Object::New(info.Env());
  r.Set("handle", wrap_object(info.Env(), o));
  r.Set("kind", h5::obj_kind_name(kind));
  r.Set("path", abs);
  return r;
}

Napi::Value ObjExists(const Napi::CallbackInfo& info) {
  auto parent = unwrap_object(info, 0);
  std::string path = arg_string(info, 1, "path");
  std::string why;
  if (!h5::valid_relative_path(path, &why)) throw Napi::TypeError::New(info.Env(), why);
  JsOp op(info.Env(), parent->file);
  Lock lock;
  return Napi::Boolean::New(info.Env(), h5::path_exists(parent->id, path));
}

Napi::Value GroupCreate(const Napi::CallbackInfo& info) {
  auto parent = unwrap_kind(info, 0, h5::ObjKind::Group);
  std::string path = arg_string(info, 1, "path");
  std::string why;
  if (!h5::valid_relative_path(path, &why)) throw Napi::TypeError::New(info.Env(), why);
  JsOp op(info.Env(), parent->file);
  require_writable(info.Env(), parent->file);
  auto g = call_locked(info.Env(), [&](ErrorInfo* err) {
    return h5::create_group(parent->id, path, err, info.Length() > 2 && info[2].ToBoolean());
  });
  return wrap_object(info.Env(), std::make_shared<h5::ObjHandle>(parent->file, g, h5::ObjKind::Group,
                                                                 h5::join_path(parent->path, path)));
}

Napi::Value GroupList(const Napi::CallbackInfo& info) {
  auto g = unwrap_kind(info, 0, h5::ObjKind::Group);
  JsOp op(info.Env(), g->file);
  std::vector<h5::LinkEntry> links;
  call_locked(info.Env(), [&](ErrorInfo* err) { return h5::list_links(g->id, &links, err); });
  Napi::Array arr = Napi::Array::New(info.Env(), links.size());
  for (size_t i = 0; i < links.size(); ++i) {
    Napi::Object e = Napi::Object::New(info.Env());
    e.Set("name", links[i].name);
    e.Set("kind", links[i].kind);
    e.Set("link", links[i].link);
    arr.Set(i, e);
  }
  return arr;
}

Napi::Value ObjIdentity(const Napi::CallbackInfo& info) {
  auto o = unwrap_object(info, 0);
  JsOp op(info.Env(), o->file);
  Lock lock;
  return Napi::String::New(info.Env(), h5::object_identity(o->id));
}

// groupWalk(g) -> [{ path, kind, handle }] for every object below g
// (H5Ovisit order), opened by address and, for datasets, described — one call
// instead of a list + open + describe round trip per tensor. An object that
// cannot be opened or described is one { path, kind: 'error', error } entry
// (an H5Error), and a traversal libhdf5 stops part-way (a corrupt link table)
// ends with one for the group it was listing: the walk never fails whole for
// one bad object, and no failure is silent.
Napi::Value GroupWalk(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto g = unwrap_kind(info, 0, h5::ObjKind::Group);
  // groupWalk(g, datatypes?): committed datatypes are listed only when asked.
  bool datatypes = info.Length() > 1 && info[1].ToBoolean();
  ErrorInfo err;
  JsOp op(env, g->file);
  std::vector<h5::VisitEntry> entries;
  bool complete;
  {
    Lock lock;
    complete = h5::visit_objects(g->id, &entries, &err);
  }
  Napi::Array out = Napi::Array::New(env);
  uint32_t k = 0;
  auto failed = [&](const std::string& path, const ErrorInfo& e) {
    Napi::Object r = Napi::Object::New(env);
    r.Set("path", path);
    r.Set("kind", "error");
    r.Set("error", make_error(env, e));
    out.Set(k++, r);
  };
  for (const auto& e : entries) {
    if (e.kind != h5::ObjKind::Group && e.kind != h5::ObjKind::Dataset &&
        !(datatypes && e.kind == h5::ObjKind::Datatype))
      continue;
    const std::string path = h5::join_path(g->path, e.path);
    hid_t id;
    {
      Lock lock;
      id = h5::open_by_address(g->id, e.addr, &err);
    }
    if (id < 0) {
      failed(path, err);
      continue;
    }
    auto o = std::make_shared<h5::ObjHandle>(g->file, id, e.kind, path);
    if (e.kind == h5::ObjKind::Dataset) {
      // Describe now (cached natively for read-only files); JS asks for the
      // full description only if it needs it — building it is costly in napi.
      h5::DatasetInfo d;
      if (!describe(o, &d, &err)) {
        failed(path, err);
        continue;
      }
    }
    Napi::Object r = Napi::Object::New(env);
    r.Set("path", o->path);
    r.Set("kind", h5::obj_kind_name(e.kind));
    r.Set("handle", wrap_object(env, o));
    out.Set(k++, r);
  }
  if (!complete) {
    err.message = "listing stopped after " + std::to_string(entries.size()) + " objects: " + err.message;
    failed(g->path, err);
  }
  return out;
}

}  // namespace

void init_file(Napi::Env env, Napi::Object exports) {
  static const Export kExports[] = {
      {"fileOpen", FileOpen},       {"fileCreate", FileCreate},
      {"fileClose", FileClose},     {"fileCloseAsync", FileCloseAsync},
      {"fileState", FileState},     {"fileFlush", FileFlush},
      {"fileRoot", FileRoot},       {"objOpen", ObjOpen},
      {"objExists", ObjExists},     {"objIdentity", ObjIdentity},
      {"groupCreate", GroupCreate}, {"groupList", GroupList},
      {"groupWalk", GroupWalk},
  };
  set_exports(env, exports, kExports);
}

}  // namespace h5v::js
