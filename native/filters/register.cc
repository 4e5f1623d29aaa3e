#include "filters/register.h"

#include <hdf5.h>

#include "filters/bounded.h"

namespace h5v::filters {

extern const H5Z_class2_t kLzfClass;
extern const H5Z_class2_t kLz4Class;
extern const H5Z_class2_t kZstdClass;
extern const H5Z_class2_t kBloscClass;
extern const H5Z_class2_t kBitshuffleClass;

bool register_builtin_filters() {
  // H5Zregister replaces any class already registered under the same id (for
  // example one loaded from HDF5_PLUGIN_PATH), so ours is the one used.
  if (H5Zregister(&kLzfClass) < 0) return false;
  if (H5Zregister(&kLz4Class) < 0) return false;
  if (H5Zregister(&kZstdClass) < 0) return false;
  if (H5Zregister(&kBloscClass) < 0) return false;
  if (H5Zregister(&kBitshuffleClass) < 0) return false;
  // libhdf5's own deflate/shuffle/fletcher32/szip, made to stop at the chunk's size.
  if (!register_bounded_filters()) return false;
  return true;
}

void push_filter_error(const char* func, hid_t minor, const std::string& msg) {
  H5Epush2(H5E_DEFAULT, __FILE__, func, __LINE__, H5E_ERR_CLS, H5E_PLINE, minor, "%s", msg.c_str());
}

}  // namespace h5v::filters
