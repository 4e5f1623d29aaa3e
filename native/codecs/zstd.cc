// Zstandard frames via the system libzstd (see zstd.h for the framing).
#include "codecs/zstd.h"

#include <zstd.h>
#include <zstd_errors.h>

#include <climits>
#include <memory>

namespace h5v::codecs {

namespace {

struct CCtxFree {
  void operator()(ZSTD_CCtx* c) const { ZSTD_freeCCtx(c); }
};
struct DCtxFree {
  void operator()(ZSTD_DCtx* c) const { ZSTD_freeDCtx(c); }
};

// One context per thread: ZSTD_compress would allocate and free ~1 MiB of
// tables for every chunk. ZSTD_compressCCtx on a reused context produces the
// same bytes as ZSTD_compress (which is exactly create + compressCCtx + free).
ZSTD_CCtx* thread_cctx() {
  thread_local std::unique_ptr<ZSTD_CCtx, CCtxFree> c(ZSTD_createCCtx());
  return c.get();
}
ZSTD_DCtx* thread_dctx() {
  thread_local std::unique_ptr<ZSTD_DCtx, DCtxFree> d(ZSTD_createDCtx());
  return d.get();
}

Status map_error(size_t r) {
  switch (ZSTD_getErrorCode(r)) {
    case ZSTD_error_dstSize_tooSmall:
      return Status::OutputTooSmall;
    case ZSTD_error_memory_allocation:
      return Status::NoMemory;
    default:
      return Status::Corrupt;
  }
}

}  // namespace

int zstd_max_level() { return ZSTD_maxCLevel(); }

int zstd_filter_level(size_t cd_nelmts, const unsigned cd_values[]) {
  int level = cd_nelmts > 0 ? int(cd_values[0]) : ZSTD_CLEVEL_DEFAULT;
  if (level < 1) level = 1;
  if (level > ZSTD_maxCLevel()) level = ZSTD_maxCLevel();
  return level;
}

size_t zstd_bound(size_t n) { return ZSTD_compressBound(n); }

Status zstd_encode(const uint8_t* in, size_t n, int level, uint8_t* out, size_t cap, size_t* out_len) {
  if (!out_len || (n && !in) || (cap && !out)) return Status::InvalidArgument;
  *out_len = 0;
  if (level < 1 || level > ZSTD_maxCLevel()) return Status::InvalidArgument;
  ZSTD_CCtx* c = thread_cctx();
  if (!c) return Status::NoMemory;
  size_t r = ZSTD_compressCCtx(c, out, cap, in, n, level);
  if (ZSTD_isError(r)) {
    Status s = map_error(r);
    return s == Status::OutputTooSmall ? Status::Incompressible : s;
  }
  *out_len = r;
  return Status::Ok;
}

Status zstd_declared_size(const uint8_t* in, size_t n, uint64_t* size, bool* known) {
  if (!size || !known) return Status::InvalidArgument;
  *size = 0;
  *known = false;
  if (!in) return Status::Corrupt;
  unsigned long long v = ZSTD_getFrameContentSize(in, n);
  if (v == ZSTD_CONTENTSIZE_ERROR) return Status::Corrupt;
  if (v == ZSTD_CONTENTSIZE_UNKNOWN) return Status::Ok;
  *size = v;
  *known = true;
  return Status::Ok;
}

Status zstd_decode(const uint8_t* in, size_t n, uint8_t* out, size_t cap, size_t* out_len) {
  if (!out_len || (cap && !out)) return Status::InvalidArgument;
  *out_len = 0;
  uint64_t declared = 0;
  bool known = false;
  Status s = zstd_declared_size(in, n, &declared, &known);
  if (s != Status::Ok) return s;
  if (known && declared > uint64_t(cap)) return Status::OutputTooSmall;
  ZSTD_DCtx* d = thread_dctx();
  if (!d) return Status::NoMemory;
  // Single-pass decoding writes straight into out and fails with
  // dstSize_tooSmall rather than growing anything.
  size_t r = ZSTD_decompressDCtx(d, out, cap, in, n);
  if (ZSTD_isError(r)) return map_error(r);
  if (known && r != declared) return Status::Corrupt;
  *out_len = r;
  return Status::Ok;
}

}  // namespace h5v::codecs
