// HDF5 errors as plain data (docs/architecture.md, invariant 3). The stack is walked on the
// thread that failed, while the global lock is held, and carried to JS as an
// ErrorInfo; no napi here so native tests can use it.
#pragma once
#include <string>

#include <hdf5.h>

namespace h5v::h5 {

enum class ErrorKind { None, H5, Type, Range };

struct ErrorInfo {
  ErrorKind kind = ErrorKind::None;
  std::string code;     // stable code, see docs/errors.md (e.g. "H5_NOT_FOUND")
  std::string major;    // HDF5 major message of the top frame ("" if not from HDF5)
  std::string minor;    // HDF5 minor message of the top frame
  std::string message;  // "top (bottom)" or our own text

  bool ok() const { return kind == ErrorKind::None; }
  static ErrorInfo make(std::string code, std::string message) {
    ErrorInfo e;
    e.kind = ErrorKind::H5;
    e.code = std::move(code);
    e.message = std::move(message);
    return e;
  }
  static ErrorInfo type_error(std::string message) {
    ErrorInfo e;
    e.kind = ErrorKind::Type;
    e.message = std::move(message);
    return e;
  }
  static ErrorInfo range_error(std::string message) {
    ErrorInfo e;
    e.kind = ErrorKind::Range;
    e.message = std::move(message);
    return e;
  }
};

// The prefix of every error h5vault's range driver (h5/range_vfd.h) pushes
// onto libhdf5's error stack: capture_error classifies a stack holding one as
// H5_S3_NETWORK, whatever libhdf5 made of the failed read.
constexpr const char* kRangeErrorTag = "remote read: ";

// Turns off libhdf5's automatic stderr printing (call once, lock held).
void silence_error_printing();

// Walks the current thread's HDF5 error stack into an ErrorInfo, maps the
// (major, minor) pair to a stable code, prefixes `context` ("open 'm.h5'"),
// and clears the stack. Caller holds the global lock.
ErrorInfo capture_error(const std::string& context);

// Clears the current thread's HDF5 error stack (lock held).
void clear_error_stack();

}  // namespace h5v::h5
