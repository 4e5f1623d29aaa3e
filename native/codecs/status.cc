#include "codecs/status.h"

#include <iterator>

namespace h5v::codecs {

const char* status_message(Status s) {
  // Indexed by Status, in the order status.h declares it (Ok = 0).
  static constexpr const char* kNames[] = {"ok",
                                           "decoded data does not fit the output buffer",
                                           "compressed stream is corrupt or truncated",
                                           "data is incompressible (output would not be smaller)",
                                           "invalid codec argument",
                                           "codec could not allocate memory"};
  static_assert(std::size(kNames) == static_cast<size_t>(Status::NoMemory) + 1, "one name per Status");
  auto i = static_cast<size_t>(s);
  return i < std::size(kNames) ? kNames[i] : "unknown codec status";
}

}  // namespace h5v::codecs
