// Guards and the lock/call/throw step shared by the binding's functions (in
// the spirit of better-sqlite3's REQUIRE_* guards), so each error a binding
// reports is built in one place: tests assert these codes and messages.
// JS thread only, except read_only_error() (plain data, for worker jobs).
#pragma once
#include <memory>
#include <utility>

#include "common/lock.h"
#include "h5/file.h"
#include "js_error.h"

namespace h5v::js {

// H5_READ_ONLY: a write to a file opened read-only.
inline h5::ErrorInfo read_only_error(const h5::FileHandle& f) {
  return h5::ErrorInfo::make("H5_READ_ONLY", "file '" + f.path() + "' is open read-only");
}

// Throws H5_READ_ONLY to JS unless `f` was opened for writing.
inline void require_writable(Napi::Env env, const std::shared_ptr<h5::FileHandle>& f) {
  if (!f->writable()) throw_error(env, read_only_error(*f));
}

// Under the lock: H5_EXISTS to JS when `name` already exists below `parent`
// (checked before a create, which would fail with a less direct message).
inline void require_absent(Napi::Env env, const std::shared_ptr<h5::ObjHandle>& parent, const std::string& name) {
  if (h5::path_exists(parent->id, name))
    throw_error(env, h5::ErrorInfo::make("H5_EXISTS", "'" + h5::join_path(parent->path, name) + "' already exists"));
}

namespace detail {
// How a locked call reports failure: false, a negative id, a null handle.
inline bool failed(bool ok) { return !ok; }
inline bool failed(hid_t id) { return id < 0; }
template <typename T>
bool failed(const std::shared_ptr<T>& p) {
  return !p;
}
}  // namespace detail

// Calls fn(&err) holding the HDF5 lock and returns its result. The lock is
// released before anything reaches JS: when the result says the call failed,
// `reword` may make err's message name what the caller was after (e.g. the
// missing object), then err is thrown to JS.
template <typename Fn, typename Reword>
auto call_locked(Napi::Env env, Fn&& fn, Reword&& reword) {
  h5::ErrorInfo err;
  auto r = [&] {
    h5::Lock lock;
    return fn(&err);
  }();
  if (detail::failed(r)) {
    reword(err);
    throw_error(env, err);
  }
  return r;
}

template <typename Fn>
auto call_locked(Napi::Env env, Fn&& fn) {
  return call_locked(env, std::forward<Fn>(fn), [](h5::ErrorInfo&) {});
}

// call_locked() for a binding whose JS result is undefined.
template <typename Fn>
Napi::Value call_locked_undefined(Napi::Env env, Fn&& fn) {
  call_locked(env, std::forward<Fn>(fn));
  return env.Undefined();
}

}  // namespace h5v::js
