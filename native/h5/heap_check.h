// Global heap IDs are checked before libhdf5 dereferences them.
//
// Why: libhdf5 1.10.8 trusts the heap ID a variable-length element (or a
// region reference) stores in the file. H5HG_read indexes heap->obj[idx]
// without checking idx against the collection or that the slot is in use,
// and copies the object's stored size into a buffer sized from the element's
// own length field; the collection parser bounds no object by its collection
// and loops forever on a zero-size free-space object. A damaged or hostile
// file thus gives out-of-bounds reads, heap-buffer overflows or a hang in the
// process that reads a vlen attribute or dataset. The untrusted walk child
// cannot stand guard for the parent: an out-of-bounds read faults only
// sometimes, so the child can pass a file whose read then crashes the parent
// (seen: SIGSEGV in H5HG_read <- H5T__conv_vlen <- H5Aread, one bit flipped).
//
// How: install_heap_checks() registers a soft vlen -> vlen conversion that
// wraps libhdf5's own (H5T__conv_vlen, found with H5Tfind before ours is
// registered). While a HeapCheckScope is active on the calling thread, every
// source element is decoded in libhdf5's disk format (length u32, address,
// index u32) and its heap object is checked against the collection, parsed
// from the file's bytes the way H5HG__cache_heap_deserialize parses it, before
// the library's function runs. A failed check fails the conversion, and the
// read returns the scope's H5_CORRUPT error.
//
// Scopes are active for files open read-only on the sec2 driver, where the
// bytes on disk are what libhdf5 loads (a writable file's metadata cache may
// hold heap collections newer than the disk), and for read-only in-memory
// images (remember_image).
#pragma once
#include <cstdint>
#include <memory>
#include <string>

#include <hdf5.h>

#include "../common/error.h"

namespace h5v::h5 {

// Registers the checking conversion once per process. Lock held, after
// H5open. Returns false if libhdf5 has no vlen conversion to wrap.
bool install_heap_checks();

// For the lifetime of the scope, vlen conversions on this thread check the
// heap IDs they read against the file that holds `obj` (a dataset, attribute
// or group). `active` = false (the read has no variable-length data) makes it
// a no-op without a libhdf5 call. Scopes nest; the innermost one is used.
class HeapCheckScope {
 public:
  explicit HeapCheckScope(hid_t obj, bool active = true);
  ~HeapCheckScope();
  HeapCheckScope(const HeapCheckScope&) = delete;
  HeapCheckScope& operator=(const HeapCheckScope&) = delete;

  // If the scope checks this file's reads: bounds what its vlen elements
  // decode to (summed over the scope, each conversion batch measured before
  // libhdf5 decodes it) at `limit` bytes, failing H5_LIMIT_EXCEEDED, and
  // returns true. False (nothing bounded) when the scope is inactive.
  bool bound_decoded(uint64_t limit);

  // True if a check failed (the read then failed in libhdf5 too).
  bool failed() const;
  // The failed check's H5_CORRUPT error, else capture_error(context).
  ErrorInfo error_or_capture(const std::string& context) const;

  struct State;

 private:
  std::unique_ptr<State> state_;
  State* prev_ = nullptr;
};

// Whether (and through which descriptor) a file id's reads are checked is
// asked of libhdf5 once per file id (a copy of its access property list);
// forget it when the id is closed.
void forget_heap_file(hid_t fid);

// In-memory images (File.fromBuffer) are read by the core driver from a
// mapping of a sealed memfd; the scope checks them through that memfd. The
// mapping's base is what H5Fget_vfd_handle names for a core-driver file.
void remember_image(const uint8_t* base, int fd);
void forget_image(const uint8_t* base);

// A dataset region reference (hdset_reg_ref_t bytes) names a heap object that
// holds an object address and a serialized selection. Checks that object and
// the selection's length against the active scope's file before H5Rget_name /
// H5Rget_region decode them. True (nothing checked) without an active scope.
bool check_region_reference(const uint8_t* ref, ErrorInfo* err);

}  // namespace h5v::h5
