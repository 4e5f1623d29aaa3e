// h5vault's read-only "range" virtual file driver: libhdf5 reads a remote file
// through it, one HTTP/1.1 ranged GET per read over a loopback TCP connection
// to h5vault's block cache (lib/remote/cache-worker.ts), which answers from
// blocks fetched through the AWS SDK. It replaces libhdf5's ROS3 driver, so the
// libhdf5 h5vault ships needs no libcurl/OpenSSL (docs/object-storage.md,
// "Lazy remote reads"). Plain C++ (no napi).
//
// The block cache is trusted code, but its answers are parsed as if it were
// not: every failure of the exchange (refused, reset, closed early, a status
// other than 206, a Content-Length or Content-Range that is not the range
// asked for, oversized headers, chunked bodies, no progress within the
// timeout) is one read error whose description starts with kRangeErrorTag,
// which capture_error (common/error.cc) classifies as H5_S3_NETWORK. Nothing
// is allocated from what the peer sends: headers go into a fixed buffer,
// bodies straight into libhdf5's buffer.
#pragma once
#include <cstdint>
#include <memory>
#include <string>

#include <hdf5.h>

#include "../common/error.h"
#include "file.h"

namespace h5v::h5 {

struct RangeOptions {
  // The object's size (the block cache's HEAD at open): the file's EOF.
  uint64_t size = 0;
  // Longest wait for any progress (connect, send, each receive), in ms.
  uint32_t timeout_ms = 120000;
};

// Opens `url` (http://127.0.0.1:PORT/PATH; nothing else is accepted) read-only
// with the range driver; `name` names the file in messages (the s3:// URL the
// user gave). Lock held by caller.
std::shared_ptr<FileHandle> open_range(const std::string& name, const std::string& url, const RangeOptions& opt,
                                       ErrorInfo* err);

// Whether `fid` was opened with open_range. Lock held by caller.
bool is_range_file(hid_t fid);

}  // namespace h5v::h5
