// LZF: encoder is the system liblzf (byte-compatible with h5py's bundled copy);
// decoder is our own, bounds-checked on every token.
//
// Stream format (liblzf): a control byte c, then
//   c < 32 : literal run of c+1 bytes that follow
//   c >= 32: back-reference; len = c >> 5 (7 means "add the next byte"),
//            offset = ((c & 31) << 8) + next byte + 1; copies len + 2 bytes
//            from op - offset (may overlap the bytes being written).
#include "codecs/lzf.h"

#include <lzf.h>

#include <climits>
#include <cstring>

namespace h5v::codecs {

Status lzf_encode(const uint8_t* in, size_t n, uint8_t* out, size_t cap, size_t* out_len) {
  if (!out_len || (n && !in)) return Status::InvalidArgument;
  *out_len = 0;
  if (n == 0) return Status::Ok;                     // empty input encodes to an empty stream
  if (n > UINT_MAX) return Status::InvalidArgument;  // liblzf uses unsigned int lengths
  if (!out || cap == 0) return Status::Incompressible;
  unsigned int c = cap > UINT_MAX ? UINT_MAX : static_cast<unsigned int>(cap);
  unsigned int r = ::lzf_compress(in, static_cast<unsigned int>(n), out, c);
  if (r == 0) return Status::Incompressible;
  *out_len = r;
  return Status::Ok;
}

namespace {

// Copies len bytes from op - dist to op where the ranges may overlap (dist < len):
// the result must repeat the pattern, exactly like a byte-by-byte copy.
inline void copy_match(uint8_t* op, size_t dist, size_t len) {
  const uint8_t* ref = op - dist;
  if (dist >= len) {
    std::memcpy(op, ref, len);
  } else if (dist == 1) {
    std::memset(op, *ref, len);
  } else {
    // Copy one period at a time: source [op-dist+done, op+done) is already
    // written and never overlaps the destination chunk (chunk <= dist).
    size_t done = 0;
    while (done < len) {
      size_t chunk = dist;
      if (chunk > len - done) chunk = len - done;
      std::memcpy(op + done, ref + done, chunk);
      done += chunk;
    }
  }
}

}  // namespace

Status lzf_decode(const uint8_t* in, size_t n, uint8_t* out, size_t cap, size_t* out_len) {
  if (!out_len || (n && !in) || (cap && !out)) return Status::InvalidArgument;
  *out_len = 0;
  const uint8_t* ip = in;
  const uint8_t* const iend = in + n;
  uint8_t* op = out;
  uint8_t* const oend = out + cap;
  while (ip < iend) {
    size_t ctrl = *ip++;
    if (ctrl < 32) {
      size_t len = ctrl + 1;
      if (static_cast<size_t>(iend - ip) < len) return Status::Corrupt;
      if (static_cast<size_t>(oend - op) < len) return Status::OutputTooSmall;
      std::memcpy(op, ip, len);
      op += len;
      ip += len;
    } else {
      size_t len = ctrl >> 5;
      if (len == 7) {
        if (ip >= iend) return Status::Corrupt;
        len += *ip++;
      }
      if (ip >= iend) return Status::Corrupt;
      size_t dist = ((ctrl & 0x1f) << 8) + *ip++ + 1;
      len += 2;
      if (static_cast<size_t>(op - out) < dist) return Status::Corrupt;
      if (static_cast<size_t>(oend - op) < len) return Status::OutputTooSmall;
      copy_match(op, dist, len);
      op += len;
    }
  }
  *out_len = static_cast<size_t>(op - out);
  return Status::Ok;
}

Status lzf_decoded_size(const uint8_t* in, size_t n, size_t* size) {
  if (!size || (n && !in)) return Status::InvalidArgument;
  *size = 0;
  size_t ip = 0, total = 0;
  while (ip < n) {
    size_t ctrl = in[ip++];
    if (ctrl < 32) {
      size_t len = ctrl + 1;
      if (n - ip < len) return Status::Corrupt;
      ip += len;
      total += len;
    } else {
      size_t len = ctrl >> 5;
      if (len == 7) {
        if (ip >= n) return Status::Corrupt;
        len += in[ip++];
      }
      if (ip >= n) return Status::Corrupt;
      size_t dist = ((ctrl & 0x1f) << 8) + in[ip++] + 1;
      if (total < dist) return Status::Corrupt;
      total += len + 2;
    }
  }
  *size = total;
  return Status::Ok;
}

}  // namespace h5v::codecs
