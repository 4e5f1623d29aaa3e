#include "szip.h"

#include <dlfcn.h>

#include <climits>
#include <initializer_list>

#if __has_include(<szlib.h>)
#include <szlib.h>
#define H5V_HAVE_SZLIB_H 1
#endif

namespace h5v::codecs {

#ifdef H5V_HAVE_SZLIB_H
namespace {

using DecompressFn = int (*)(void*, size_t*, const void*, size_t, SZ_com_t*);

DecompressFn decoder() {
  // Resolved once. RTLD_NOLOAD: only the copy libhdf5 already depends on
  // (its soname, or the unversioned name of a development install).
  static const DecompressFn fn = [] {
    for (const char* name : {"libsz.so.2", "libsz.so"}) {
      if (void* h = ::dlopen(name, RTLD_NOW | RTLD_NOLOAD)) {
        if (void* f = ::dlsym(h, "SZ_BufftoBuffDecompress")) return reinterpret_cast<DecompressFn>(f);
      }
    }
    return DecompressFn(nullptr);
  }();
  return fn;
}

}  // namespace

bool szip_available() { return decoder() != nullptr; }

Status szip_decode(const SzipParams& prm, const uint8_t* in, size_t n, uint8_t* out, size_t cap, size_t* out_len) {
  DecompressFn fn = decoder();
  if (!fn) return Status::InvalidArgument;
  if (prm.options_mask > INT_MAX || prm.bits_per_pixel > INT_MAX || prm.pixels_per_block > INT_MAX ||
      prm.pixels_per_scanline > INT_MAX)
    return Status::InvalidArgument;
  if (n < 4) return Status::Corrupt;
  // libhdf5 writes the decoded size little-endian (UINT32ENCODE).
  const size_t size = size_t(in[0]) | size_t(in[1]) << 8 | size_t(in[2]) << 16 | size_t(in[3]) << 24;
  if (size > cap) return Status::OutputTooSmall;
  SZ_com_t p;
  p.options_mask = int(prm.options_mask);
  p.bits_per_pixel = int(prm.bits_per_pixel);
  p.pixels_per_block = int(prm.pixels_per_block);
  p.pixels_per_scanline = int(prm.pixels_per_scanline);
  size_t got = size;
  int rc = fn(out, &got, in + 4, n - 4, &p);
  if (rc == SZ_PARAM_ERROR) return Status::InvalidArgument;
  if (rc != SZ_OK || got != size) return Status::Corrupt;
  *out_len = got;
  return Status::Ok;
}

#else

bool szip_available() { return false; }

Status szip_decode(const SzipParams&, const uint8_t*, size_t, uint8_t*, size_t, size_t*) {
  return Status::InvalidArgument;
}

#endif

}  // namespace h5v::codecs
