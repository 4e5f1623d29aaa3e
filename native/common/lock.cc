#include "lock.h"

#include <hdf5.h>

namespace h5v::h5 {

std::recursive_mutex& global_mutex() {
  // Function-local static: constructed on first use, never destroyed before
  // threads that may still hold it at exit.
  static auto* m = new std::recursive_mutex();
  return *m;
}

void prepare_thread() {
  thread_local bool silenced = false;
  if (!silenced) {
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    silenced = true;
  }
}

}  // namespace h5v::h5
