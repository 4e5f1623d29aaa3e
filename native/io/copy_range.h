// Copying a byte range from one open file into another without passing it
// through user space: the delta pull (lib/model/store/cas.ts) rebuilds a
// version whose unchanged tensors a cached file already holds, and copying
// them through a mapping costs a page fault per page on both sides.
#pragma once
#include <cstdint>

#include "../common/error.h"

namespace h5v::io {

// Copies `len` bytes of `src_fd` at `src_off` to `dst_fd` at `dst_off`
// (neither descriptor's file position is used or moved). copy_file_range(2)
// first: the kernel moves the bytes between page caches, or shares extents
// on filesystems that can (XFS, btrfs). Where the kernel or filesystem cannot
// (ENOSYS, EXDEV across filesystems before Linux 5.3, EOPNOTSUPP, EINVAL on
// some filesystems) the rest goes through pread/pwrite in 1 MiB steps.
// A source shorter than `src_off + len` is H5_CORRUPT; a failed read or
// write (ENOSPC, EIO, EBADF...) is H5_IO with the errno's name in the message.
bool copy_range(int src_fd, uint64_t src_off, int dst_fd, uint64_t dst_off, uint64_t len, h5::ErrorInfo* err);

// The pread/pwrite fallback alone (same contract), for its native test: this
// machine's kernel may never need it.
bool copy_range_by_reading(int src_fd, uint64_t src_off, int dst_fd, uint64_t dst_off, uint64_t len,
                           h5::ErrorInfo* err);

}  // namespace h5v::io
