#include "lock.h"

namespace h5v::h5 {

std::recursive_mutex& global_mutex() {
  // Function-local static: constructed on first use, never destroyed before
  // threads that may still hold it at exit.
  static auto* m = new std::recursive_mutex();
  return *m;
}

}  // namespace h5v::h5
