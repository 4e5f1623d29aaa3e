// The one RAII owner of a hid_t (files, groups, datasets, types, spaces,
// property lists, and the extra reference the engine holds on a dataset for
// the length of a call). Dropping the id takes the global lock itself: it is
// recursive, so owners released inside a locked region pay only a counter,
// and owners that outlive one (the engine's dataset reference, released after
// the unlocked codec work) cannot close without it (invariant 2).
#pragma once
#include <utility>

#include <hdf5.h>

#include "lock.h"

namespace h5v::h5 {

class Hid {
 public:
  Hid() = default;
  explicit Hid(hid_t id) : id_(id) {}
  Hid(const Hid&) = delete;
  Hid& operator=(const Hid&) = delete;
  Hid(Hid&& o) noexcept : id_(std::exchange(o.id_, H5I_INVALID_HID)) {}
  Hid& operator=(Hid&& o) noexcept {
    if (this != &o) {
      reset();
      id_ = std::exchange(o.id_, H5I_INVALID_HID);
    }
    return *this;
  }
  ~Hid() { reset(); }

  hid_t get() const { return id_; }
  bool valid() const { return id_ >= 0; }
  explicit operator bool() const { return valid(); }
  hid_t release() { return std::exchange(id_, H5I_INVALID_HID); }
  // H5Idec_ref closes an id we own (its count is 1) and drops our reference
  // to one we share (H5Iinc_ref / H5Iget_file_id), whatever its type.
  void reset(hid_t id = H5I_INVALID_HID) {
    if (id_ >= 0) {
      Lock lock;
      if (H5Iis_valid(id_) > 0) H5Idec_ref(id_);
    }
    id_ = id;
  }

 private:
  hid_t id_ = H5I_INVALID_HID;
};

}  // namespace h5v::h5
