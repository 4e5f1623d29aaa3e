// LZ4 blocks (system liblz4) inside the HDF Group filter-32004 framing.
// Byte-compatible with hdf5plugin / HDFGroup H5Zlz4.c: same header, same
// per-block raw fallback, same LZ4_compress_default (acceleration 1).
#include "codecs/lz4.h"

#include <lz4.h>

#include <cstring>

#include "codecs/big_endian.h"

namespace h5v::codecs {

namespace {

inline size_t effective_block(size_t n, size_t block_size) {
  size_t bs = block_size ? block_size : kLz4DefaultBlock;
  return bs > n ? n : bs;
}

// Header fields after the same clamping the reference decoder does.
struct Header {
  uint64_t total;
  uint64_t block;  // clamped to total; 0 only when total == 0
};

Status read_header(const uint8_t* in, size_t n, Header* h) {
  if (!in || n < kLz4HeaderBytes) return Status::Corrupt;
  h->total = load_be64(in);
  h->block = load_be32(in + 8);
  if (h->block > h->total) h->block = h->total;
  if (h->total > 0 && h->block == 0) return Status::Corrupt;  // would never progress
  if (h->block > uint64_t(LZ4_MAX_INPUT_SIZE)) return Status::Corrupt;
  return Status::Ok;
}

}  // namespace

size_t lz4_max_framed(size_t n, size_t block_size) {
  size_t bs = effective_block(n, block_size);
  size_t blocks = n == 0 ? 0 : (n - 1) / bs + 1;
  // A block is stored raw whenever LZ4 would not shrink it, so each block
  // costs at most its own size plus the 4-byte length prefix.
  return kLz4HeaderBytes + blocks * 4 + n;
}

Status lz4_encode(const uint8_t* in, size_t n, size_t block_size, uint8_t* out, size_t cap, size_t* out_len) {
  if (!out_len || (n && !in)) return Status::InvalidArgument;
  *out_len = 0;
  size_t bs = effective_block(n, block_size);
  if ((block_size ? block_size : kLz4DefaultBlock) > size_t(LZ4_MAX_INPUT_SIZE)) return Status::InvalidArgument;
  if (!out || cap < kLz4HeaderBytes) return Status::Incompressible;
  store_be64(out, uint64_t(n));
  store_be32(out + 8, uint32_t(bs));
  size_t pos = kLz4HeaderBytes;
  for (size_t done = 0; done < n;) {
    size_t blk = n - done < bs ? n - done : bs;
    if (cap - pos < 4) return Status::Incompressible;
    uint8_t* dst = out + pos + 4;
    size_t room = cap - pos - 4;
    // Ask LZ4 for strictly less than blk bytes: otherwise the block is stored raw.
    size_t limit = blk - 1 < room ? blk - 1 : room;
    int c = 0;
    if (limit > 0) {
      c = LZ4_compress_default(reinterpret_cast<const char*>(in + done), reinterpret_cast<char*>(dst), int(blk),
                               limit > size_t(INT32_MAX) ? INT32_MAX : int(limit));
    }
    size_t stored;
    if (c > 0 && size_t(c) < blk) {
      stored = size_t(c);
    } else {
      if (room < blk) return Status::Incompressible;
      std::memcpy(dst, in + done, blk);
      stored = blk;
    }
    store_be32(out + pos, uint32_t(stored));
    pos += 4 + stored;
    done += blk;
  }
  *out_len = pos;
  return Status::Ok;
}

Status lz4_declared_size(const uint8_t* in, size_t n, uint64_t* total) {
  if (!total) return Status::InvalidArgument;
  *total = 0;
  Header h;
  Status s = read_header(in, n, &h);
  if (s != Status::Ok) return s;
  *total = h.total;
  return Status::Ok;
}

Status lz4_check_frame(const uint8_t* in, size_t n, uint64_t* total) {
  if (!total) return Status::InvalidArgument;
  *total = 0;
  Header h;
  Status s = read_header(in, n, &h);
  if (s != Status::Ok) return s;
  size_t pos = kLz4HeaderBytes;
  for (uint64_t done = 0; done < h.total;) {
    uint64_t blk = h.total - done < h.block ? h.total - done : h.block;
    if (n - pos < 4) return Status::Corrupt;
    uint64_t stored = load_be32(in + pos);
    pos += 4;
    if (stored > n - pos) return Status::Corrupt;
    if (stored != blk) {
      // An LZ4 block of c bytes cannot expand beyond ~255x; reject frames whose
      // declared size is not backed by enough compressed input.
      if (stored == 0 || blk > stored * kLz4MaxExpansion + 64) return Status::Corrupt;
    }
    pos += size_t(stored);
    done += blk;
  }
  if (pos != n) return Status::Corrupt;  // trailing garbage
  *total = h.total;
  return Status::Ok;
}

Status lz4_decode(const uint8_t* in, size_t n, uint8_t* out, size_t cap, size_t* out_len) {
  if (!out_len || (cap && !out)) return Status::InvalidArgument;
  *out_len = 0;
  Header h;
  Status s = read_header(in, n, &h);
  if (s != Status::Ok) return s;
  if (h.total > uint64_t(cap)) return Status::OutputTooSmall;
  size_t total = size_t(h.total), bs = size_t(h.block);
  size_t pos = kLz4HeaderBytes;
  for (size_t done = 0; done < total;) {
    size_t blk = total - done < bs ? total - done : bs;
    if (n - pos < 4) return Status::Corrupt;
    size_t stored = load_be32(in + pos);
    pos += 4;
    if (stored > n - pos) return Status::Corrupt;
    if (stored == blk) {
      std::memcpy(out + done, in + pos, blk);
    } else {
      if (stored > size_t(INT32_MAX)) return Status::Corrupt;
      int r = LZ4_decompress_safe(reinterpret_cast<const char*>(in + pos), reinterpret_cast<char*>(out + done),
                                  int(stored), int(blk));
      if (r < 0 || size_t(r) != blk) return Status::Corrupt;
    }
    pos += stored;
    done += blk;
  }
  if (pos != n) return Status::Corrupt;
  *out_len = total;
  return Status::Ok;
}

}  // namespace h5v::codecs
