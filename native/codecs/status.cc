#include "codecs/status.h"

namespace h5v::codecs {

const char* status_message(Status s) {
  switch (s) {
    case Status::Ok:
      return "ok";
    case Status::OutputTooSmall:
      return "decoded data does not fit the output buffer";
    case Status::Corrupt:
      return "compressed stream is corrupt or truncated";
    case Status::Incompressible:
      return "data is incompressible (output would not be smaller)";
    case Status::InvalidArgument:
      return "invalid codec argument";
    case Status::NoMemory:
      return "codec could not allocate memory";
  }
  return "unknown codec status";
}

}  // namespace h5v::codecs
