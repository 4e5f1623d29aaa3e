// JS bindings for untrusted-file handling: the metadata walk (run in
// the walk child process, lib/walk-child.ts), the child's own resource limits,
// and the identity of the descriptor libhdf5 holds for an open file (the
// parent's "did the file change between walk and open" check).
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <thread>
#include <utility>

#include "common/lock.h"
#include "h5/remote.h"
#include "h5/walk.h"
#include "wrap.h"

namespace h5v::js {

namespace {

uint64_t opt_u64(Napi::Object o, const char* key, uint64_t dflt) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined()) return dflt;
  if (!v.IsNumber()) throw Napi::TypeError::New(o.Env(), std::string("limits.") + key + " must be a number");
  double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= 0)) throw Napi::RangeError::New(o.Env(), std::string("limits.") + key + " must be >= 0");
  return d >= 1.8e19 ? UINT64_MAX : static_cast<uint64_t>(d);
}

h5::WalkLimits parse_limits(Napi::Object o) {
  h5::WalkLimits l;
  l.max_dataset_bytes = opt_u64(o, "maxDatasetBytes", l.max_dataset_bytes);
  l.max_attribute_bytes = opt_u64(o, "maxAttributeBytes", l.max_attribute_bytes);
  l.max_vlen_bytes = opt_u64(o, "maxVlenBytes", l.max_vlen_bytes);
  l.max_chunk_bytes = opt_u64(o, "maxChunkBytes", l.max_chunk_bytes);
  l.expansion_floor = opt_u64(o, "expansionFloorBytes", l.expansion_floor);
  l.max_depth = static_cast<uint32_t>(std::min<uint64_t>(opt_u64(o, "maxDepth", l.max_depth), UINT32_MAX));
  l.max_objects = opt_u64(o, "maxObjects", l.max_objects);
  l.max_links = opt_u64(o, "maxLinks", l.max_links);
  l.max_attributes = opt_u64(o, "maxAttributes", l.max_attributes);
  l.max_chunks = opt_u64(o, "maxChunks", l.max_chunks);
  Napi::Value ex = o.Get("maxExpansion");
  if (!ex.IsUndefined()) {
    if (!ex.IsNumber()) throw Napi::TypeError::New(o.Env(), "limits.maxExpansion must be a number");
    l.max_expansion = ex.As<Napi::Number>().DoubleValue();
  }
  Napi::Value fl = o.Get("allowFilters");
  if (!fl.IsUndefined()) {
    if (!fl.IsArray()) throw Napi::TypeError::New(o.Env(), "limits.allowFilters must be an array of filter ids");
    Napi::Array a = fl.As<Napi::Array>();
    l.allowed_filters.clear();
    for (uint32_t i = 0; i < a.Length(); ++i) {
      Napi::Value v = a.Get(i);
      if (!v.IsNumber()) throw Napi::TypeError::New(o.Env(), "limits.allowFilters must be an array of filter ids");
      l.allowed_filters.push_back(v.As<Napi::Number>().Int32Value());
    }
  }
  return l;
}

// 64-bit stamp fields go to JS as decimal strings: nanosecond times exceed 2^53.
Napi::Object stamp_object(Napi::Env env, const h5::FileStamp& s) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("dev", std::to_string(s.dev));
  o.Set("ino", std::to_string(s.ino));
  o.Set("size", std::to_string(s.size));
  o.Set("mtimeNs", std::to_string(s.mtime_ns));
  o.Set("ctimeNs", std::to_string(s.ctime_ns));
  return o;
}

// untrustedWalk(path, limits) -> report (plain object; the child prints it as JSON).
Napi::Value UntrustedWalk(const Napi::CallbackInfo& info) {
  std::string path = arg_string(info, 0, "path");
  h5::WalkLimits limits = parse_limits(arg_object(info, 1, "limits"));
  // On a thread of its own, as the parent opens (openAsync) and reads (read())
  // on libuv worker threads: libhdf5 1.10.8 mis-reads some damaged files in
  // ways whose outcome depends on where its buffers were allocated (a worker
  // thread's malloc arena lies far from the main heap, so a wrong offset that
  // lands in mapped memory from one faults from the other). The child must
  // crash wherever the parent would.
  h5::WalkReport r;
  std::thread walker([&] {
    h5::prepare_thread();
    r = h5::walk_file(path, limits);
  });
  walker.join();
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  o.Set("ok", r.ok);
  if (!r.ok) {
    o.Set("reason", r.reason);
    o.Set("detail", r.detail);
    o.Set("object", r.object);
    if (!r.code.empty()) o.Set("code", r.code);
  }
  Napi::Object s = Napi::Object::New(env);
  const std::pair<const char*, uint64_t> stats[] = {
      {"groups", r.groups},
      {"datasets", r.datasets},
      {"datatypes", r.datatypes},
      {"links", r.links},
      {"softLinks", r.soft_links},
      {"attributes", r.attributes},
      {"attributesRead", r.attributes_read},
      {"chunks", r.chunks},
      {"depth", r.depth},
      {"declaredBytes", r.declared_bytes},
      {"storedBytes", r.stored_bytes},
      {"fileSize", r.file_size},
  };
  for (const auto& [key, value] : stats) s.Set(key, static_cast<double>(value));
  o.Set("stats", s);
  if (r.stamp.valid) o.Set("stamp", stamp_object(env, r.stamp));
  return o;
}

uint64_t current_vsize() {
  // /proc/self/statm: first field is the total mapped size in pages (Linux).
  FILE* f = std::fopen("/proc/self/statm", "r");
  if (!f) return 0;
  unsigned long long pages = 0;
  int n = std::fscanf(f, "%llu", &pages);
  std::fclose(f);
  return n == 1 ? pages * static_cast<uint64_t>(sysconf(_SC_PAGESIZE)) : 0;
}

bool set_limit(int resource, uint64_t value) {
  struct rlimit rl;
  rl.rlim_cur = rl.rlim_max = static_cast<rlim_t>(value);
  return setrlimit(resource, &rl) == 0;
}

// limitProcess(memoryBudget, cpuSeconds): caps THIS process (the walk child).
// V8 has reserved a lot of address space by the time JS runs (measured in
// docs/security.md), so RLIMIT_AS is set to what is mapped now plus the
// budget rather than to an absolute figure. Core dumps are disabled: a
// crashing hostile file must not litter the disk with cores.
Napi::Value LimitProcess(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsNumber() || !info[1].IsNumber())
    throw Napi::TypeError::New(env, "limitProcess(memoryBudgetBytes, cpuSeconds) expects two numbers");
  double budget = info[0].As<Napi::Number>().DoubleValue();
  double cpu = info[1].As<Napi::Number>().DoubleValue();
  if (!(budget > 0) || !(cpu > 0)) throw Napi::RangeError::New(env, "limits must be positive");
  Napi::Object o = Napi::Object::New(env);
  uint64_t vsize = current_vsize();
  o.Set("vsize", static_cast<double>(vsize));
  uint64_t as = vsize ? vsize + static_cast<uint64_t>(budget) : 0;
  o.Set("addressSpace", static_cast<double>(as && set_limit(RLIMIT_AS, as) ? as : 0));
  uint64_t secs = static_cast<uint64_t>(cpu + 0.999);
  o.Set("cpuSeconds", static_cast<double>(set_limit(RLIMIT_CPU, secs) ? secs : 0));
  set_limit(RLIMIT_CORE, 0);
  return o;
}

// fileStamp(file) -> identity of the descriptor libhdf5 has open for it.
Napi::Value FileStamp(const Napi::CallbackInfo& info) {
  auto f = unwrap_file(info, 0);
  h5::FileStamp s;
  call_locked(info.Env(), [&](h5::ErrorInfo* err) {
    h5::OpGuard guard(f, err);
    if (guard.ok() && !h5::file_stamp(f->id(), &s))
      *err = h5::ErrorInfo::make("H5_IO", "cannot stat the descriptor of '" + f->path() + "'");
    return s.valid;
  });
  return stamp_object(info.Env(), s);
}

// fileDescriptor(file) -> the descriptor libhdf5 reads the file through
// (sec2 files). Hashing through it reads exactly the bytes libhdf5 parses;
// valid until the file is closed.
Napi::Value FileDescriptor(const Napi::CallbackInfo& info) {
  auto f = unwrap_file(info, 0);
  int fd = -1;
  call_locked(info.Env(), [&](h5::ErrorInfo* err) {
    h5::OpGuard guard(f, err);
    if (!guard.ok()) return false;
    // In-memory files: the core driver's handle is a pointer to its memory,
    // not a descriptor. An image has its sealed memory file instead.
    if (f->in_memory()) {
      fd = f->image_fd();
      if (fd < 0) *err = h5::ErrorInfo::make("H5_IO", "'" + f->path() + "' is an in-memory file: it has no descriptor");
    } else {
      fd = f->posix_fd();
      if (fd < 0) *err = h5::ErrorInfo::make("H5_IO", "no file descriptor for '" + f->path() + "'");
    }
    return fd >= 0;
  });
  return Napi::Number::New(info.Env(), fd);
}

}  // namespace

void init_untrusted(Napi::Env env, Napi::Object exports) {
  static const Export kExports[] = {
      {"untrustedWalk", UntrustedWalk},
      {"limitProcess", LimitProcess},
      {"fileStamp", FileStamp},
      {"fileDescriptor", FileDescriptor},
  };
  set_exports(env, exports, kExports);
}

}  // namespace h5v::js
