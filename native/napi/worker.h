// Promise-returning jobs (the sharp/classic-level pattern). Call order:
//   constructor  JS thread: arguments already converted to plain C++ data,
//                the file's begin_op() taken (so close() waits for us).
//   Execute()    libuv pool thread: runs `work` on plain data only; takes the
//                global HDF5 lock itself where needed.
//   OnOK()       JS thread: end_op(), then builds JS values with `done` or
//                rejects with the ErrorInfo as an H5Error.
// Buffers from JS are pinned with `keep` so GC cannot free them mid-flight.
#pragma once
#include <functional>
#include <memory>
#include <vector>

#include "h5/file.h"
#include "js.h"
#include "js_error.h"

namespace h5v::js {

class Job : public Napi::AsyncWorker {
 public:
  using Work = std::function<void(h5::ErrorInfo*)>;
  using Done = std::function<Napi::Value(Napi::Env)>;

  // Returns the promise; rejects at once if the file is closed.
  static Napi::Promise Start(Napi::Env env, std::shared_ptr<h5::FileHandle> file, Work work, Done done,
                             std::vector<Napi::Value> keep = {}) {
    auto* job = new Job(env, std::move(file), std::move(work), std::move(done));
    Napi::Promise p = job->deferred_.Promise();
    for (auto& v : keep)
      if (v.IsObject()) job->keep_.push_back(Napi::Persistent(v.As<Napi::Object>()));
    if (job->file_ && !job->file_->begin_op(&job->err_)) {
      job->deferred_.Reject(make_error(env, job->err_));
      delete job;
      return p;
    }
    job->op_open_ = job->file_ != nullptr;
    job->Queue();
    return p;
  }

 protected:
  void Execute() override {
    try {
      work_(&err_);
    } catch (const std::bad_alloc&) {
      err_ = h5::ErrorInfo::range_error("out of memory");
    }
  }
  void OnOK() override {
    finish();
    settle([&] {
      if (!err_.ok()) {
        deferred_.Reject(make_error(Env(), err_));
        return;
      }
      try {
        deferred_.Resolve(done_ ? done_(Env()) : Env().Undefined());
      } catch (const Napi::Error& e) {
        deferred_.Reject(e.Value());
      }
    });
  }
  void OnError(const Napi::Error& e) override {
    finish();
    settle([&] { deferred_.Reject(e.Value()); });
  }

 private:
  Job(Napi::Env env, std::shared_ptr<h5::FileHandle> file, Work work, Done done)
      : Napi::AsyncWorker(env, "h5vault"),
        deferred_(Napi::Promise::Deferred::New(env)),
        file_(std::move(file)),
        work_(std::move(work)),
        done_(std::move(done)) {}
  // Settling fails only while the environment is torn down (a worker exits
  // with jobs pending): no JS can observe the promise any more, and an
  // exception escaping to libuv's completion callback would std::terminate
  // the whole process.
  template <typename F>
  static void settle(F&& f) {
    try {
      f();
    } catch (const Napi::Error&) {
    }
  }
  void finish() {
    if (op_open_) file_->end_op();
    op_open_ = false;
  }

  Napi::Promise::Deferred deferred_;
  std::shared_ptr<h5::FileHandle> file_;
  Work work_;
  Done done_;
  h5::ErrorInfo err_;
  bool op_open_ = false;
  std::vector<Napi::ObjectReference> keep_;
};

}  // namespace h5v::js
