// Blosc 1 chunks via the system libblosc (see blosc.h for the framing). Only
// the context functions are used: no global state, no internal threads, safe
// on h5vault's pool.
#include "codecs/blosc.h"

#include <blosc.h>

namespace h5v::codecs {

Status blosc_params(size_t cd_nelmts, const unsigned cd_values[], BloscParams* p) {
  if (!p || cd_nelmts < 4 || !cd_values) return Status::InvalidArgument;
  *p = BloscParams();
  p->typesize = cd_values[2];
  if (cd_nelmts >= 5) p->clevel = int(cd_values[4]);
  if (cd_nelmts >= 6) p->shuffle = int(cd_values[5]);
  if (cd_nelmts >= 7) {
    const char* name = nullptr;
    if (blosc_compcode_to_compname(int(cd_values[6]), &name) < 0) return Status::InvalidArgument;
    p->compressor = int(cd_values[6]);
  }
  return Status::Ok;
}

Status blosc_encode(const BloscParams& p, const uint8_t* in, size_t n, uint8_t* out, size_t cap, size_t* out_len) {
  if (!out_len || (n && !in) || (cap && !out)) return Status::InvalidArgument;
  *out_len = 0;
  const char* name = nullptr;
  if (blosc_compcode_to_compname(p.compressor, &name) < 0 || !name) return Status::InvalidArgument;
  if (n > size_t(BLOSC_MAX_BUFFERSIZE)) return Status::InvalidArgument;
  int r = blosc_compress_ctx(p.clevel, p.shuffle, p.typesize, n, in, out, cap, name, 0, 1);
  if (r < 0) return Status::InvalidArgument;  // bad clevel/shuffle/typesize
  if (r == 0) return Status::Incompressible;  // did not fit cap
  *out_len = size_t(r);
  return Status::Ok;
}

Status blosc_declared_size(const uint8_t* in, size_t n, uint64_t* size) {
  if (!size) return Status::InvalidArgument;
  *size = 0;
  if (!in || n < kBloscHeaderBytes) return Status::Corrupt;
  size_t nbytes = 0;
  // Checks the header's cbytes == n and nbytes <= BLOSC_MAX_BUFFERSIZE.
  if (blosc_cbuffer_validate(in, n, &nbytes) < 0) return Status::Corrupt;
  *size = nbytes;
  return Status::Ok;
}

Status blosc_decode(const uint8_t* in, size_t n, uint8_t* out, size_t cap, size_t* out_len) {
  if (!out_len || (cap && !out)) return Status::InvalidArgument;
  *out_len = 0;
  uint64_t declared = 0;
  Status s = blosc_declared_size(in, n, &declared);
  if (s != Status::Ok) return s;
  if (declared > cap) return Status::OutputTooSmall;
  if (declared == 0) return Status::Ok;
  int r = blosc_decompress_ctx(in, out, cap, 1);
  if (r <= 0 || uint64_t(r) != declared) return Status::Corrupt;
  *out_len = size_t(r);
  return Status::Ok;
}

}  // namespace h5v::codecs
