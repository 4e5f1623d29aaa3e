// See ohdr.h. Layouts follow the HDF5 File Format Specification 3.0, section
// IV.A (object headers, version 1) and IV.A.2 (messages); each check below is
// at least as strict as libhdf5 1.10's decoder for the same field, so an
// accepted header is one libhdf5 opens with the same type, shape and address.
#include "ohdr.h"

#include <unistd.h>

#include <cerrno>
#include <algorithm>
#include <cstring>

namespace h5v::h5::ohdr {

namespace {

uint16_t u16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }
uint32_t u32(const uint8_t* p) { return u16(p) | (static_cast<uint32_t>(u16(p + 2)) << 16); }
uint64_t u64(const uint8_t* p) { return u32(p) | (static_cast<uint64_t>(u32(p + 4)) << 32); }

bool all_zero(const uint8_t* p, size_t n) {
  for (size_t i = 0; i < n; ++i)
    if (p[i]) return false;
  return true;
}

constexpr size_t kWindow = 32 * 1024;

enum : uint16_t {
  kNil = 0x0,
  kDataspace = 0x1,
  kDatatype = 0x3,
  kFillNew = 0x5,
  kLayout = 0x8,
  kAttribute = 0xC,
  kContinuation = 0x10,
};
constexpr uint8_t kFlagConstant = 0x01;  // the only message flag accepted

struct Seen {
  unsigned dataspace = 0, datatype = 0, fill = 0, layout = 0;
  uint64_t esize = 0;
  uint64_t layout_addr = kUndefined, layout_size = 0;
};

// Dataspace message version 1: a simple extent whose maximum equals its size
// (rank 0 is a scalar), no permutation.
bool dataspace(const uint8_t* p, size_t n, Dataset* out) {
  if (n < 8 || p[0] != 1 || p[1] > kMaxRank || p[2] > 1 || p[3] != 0 || !all_zero(p + 4, 4)) return false;
  const size_t rank = p[1];
  const bool has_max = p[2] & 1;
  if (n != 8 + rank * 8 * (has_max ? 2 : 1)) return false;
  out->shape.assign(rank, 0);
  uint64_t count = 1;
  for (size_t i = 0; i < rank; ++i) {
    const uint64_t d = u64(p + 8 + i * 8);
    if (has_max && u64(p + 8 + (rank + i) * 8) != d) return false;
    if (d != 0 && count > (uint64_t(1) << 53) / d) return false;  // no overflow, and exact as a JS number
    out->shape[i] = d;
    count *= d;
  }
  out->scalar = rank == 0;
  out->nelements = count;
  return true;
}

// The float layouts h5vault writes: size, sign, exponent position, exponent
// size, mantissa size, bias (mantissa at bit 0, implied normalization).
struct FloatForm {
  uint32_t size;
  uint8_t sign, epos, esize, msize;
  uint32_t bias;
  DType dtype;
};
constexpr FloatForm kFloats[] = {
    {2, 15, 10, 5, 10, 15, DType::Float16},
    {2, 15, 7, 8, 7, 127, DType::Bfloat16},
    {4, 31, 23, 8, 23, 127, DType::Float32},
    {8, 63, 52, 11, 52, 1023, DType::Float64},
};

// Datatype message version 1, class 0 (integer) or 1 (float), little-endian,
// no padding bits, full precision at bit offset 0.
bool datatype(const uint8_t* p, size_t n, Dataset* out, uint64_t* esize) {
  if (n < 8 || (p[0] >> 4) != 1) return false;
  const uint32_t size = u32(p + 4);
  const unsigned cls = p[0] & 0x0f;
  if (cls == 0) {
    if (n != 16 || (p[1] & ~0x08) != 0 || p[2] != 0 || p[3] != 0) return false;
    if (u16(p + 8) != 0 || u16(p + 10) != size * 8 || !all_zero(p + 12, 4)) return false;
    const bool sign = p[1] & 0x08;
    switch (size) {
      case 1:
        out->dtype = sign ? DType::Int8 : DType::Uint8;
        break;
      case 2:
        out->dtype = sign ? DType::Int16 : DType::Uint16;
        break;
      case 4:
        out->dtype = sign ? DType::Int32 : DType::Uint32;
        break;
      case 8:
        out->dtype = sign ? DType::Int64 : DType::Uint64;
        break;
      default:
        return false;
    }
    *esize = size;
    return true;
  }
  if (cls != 1 || n != 24 || p[1] != 0x20 || p[3] != 0 || u16(p + 8) != 0 || u16(p + 10) != size * 8) return false;
  for (const FloatForm& f : kFloats) {
    if (size == f.size && p[2] == f.sign && p[12] == f.epos && p[13] == f.esize && p[14] == 0 && p[15] == f.msize &&
        u32(p + 16) == f.bias && all_zero(p + 20, 4)) {
      out->dtype = f.dtype;
      *esize = size;
      return true;
    }
  }
  return false;
}

// Fill value message version 2 without a stored value (h5vault's datasets).
bool fill(const uint8_t* p, size_t n) {
  if (n != 8 || p[0] != 2 || p[1] < 1 || p[1] > 3 || p[2] > 2 || p[3] > 1) return false;
  return p[3] == 0 ? all_zero(p + 4, 4) : u32(p + 4) == 0;
}

// Layout message version 3, contiguous.
bool layout(const uint8_t* p, size_t n, Seen* s) {
  if (n != 24 || p[0] != 3 || p[1] != 1 || !all_zero(p + 18, 6)) return false;
  s->layout_addr = u64(p + 2);
  s->layout_size = u64(p + 10);
  return true;
}

struct Chunk {
  uint64_t addr, len;
};

bool overlaps(const std::vector<Chunk>& seen, uint64_t addr, uint64_t len) {
  for (const Chunk& c : seen)
    if (addr < c.addr + c.len && c.addr < addr + len) return true;
  return false;
}

// The messages of one chunk (version 1: 8-byte headers, 8-byte aligned
// sizes, the chunk exactly filled). Continuations are queued on `chunks`.
bool messages(const uint8_t* p, size_t len, uint64_t eoa, std::vector<Chunk>* chunks, size_t* count, Seen* s,
              Dataset* out) {
  size_t pos = 0;
  while (pos < len) {
    if (len - pos < 8) return false;
    const uint16_t type = u16(p + pos);
    const size_t size = u16(p + pos + 2);
    const uint8_t flags = p[pos + 4];
    if ((flags & ~kFlagConstant) != 0 || !all_zero(p + pos + 5, 3) || size % 8 != 0 || size > len - pos - 8)
      return false;
    const uint8_t* m = p + pos + 8;
    bool ok = true;
    switch (type) {
      case kNil:
      case kAttribute:
        break;
      case kDataspace:
        ok = ++s->dataspace == 1 && dataspace(m, size, out);
        break;
      case kDatatype:
        ok = ++s->datatype == 1 && datatype(m, size, out, &s->esize);
        break;
      case kFillNew:
        ok = ++s->fill == 1 && fill(m, size);
        break;
      case kLayout:
        ok = ++s->layout == 1 && layout(m, size, s);
        break;
      case kContinuation: {
        // The size first: a shorter message would read past the chunk (fuzz_ohdr's first finding).
        if (size != 16) return false;
        const uint64_t a = u64(m), l = u64(m + 8);
        ok = chunks->size() < kMaxChunks && l >= 8 && l <= kMaxChunk && l % 8 == 0 && a < eoa && l <= eoa - a &&
             !overlaps(*chunks, a, l);
        if (ok) chunks->push_back({a, l});
        break;
      }
      default:
        ok = false;  // unknown, or known but not understood here: libhdf5 decides
    }
    if (!ok) return false;
    ++*count;
    pos += 8 + size;
  }
  return true;
}

}  // namespace

const uint8_t* FileSource::get(uint64_t off, size_t len) {
  if (off > size_ || len > size_ - off || len > kMaxChunk + 64) return nullptr;
  if (!buf_.empty() && off >= start_ && off - start_ <= buf_.size() && len <= buf_.size() - (off - start_))
    return buf_.data() + (off - start_);
  // A window of at least 32 KiB from `off`: the next headers are usually in
  // it (a model's small tensors sit between them), and a read per header
  // was half of the walk at 10,000 tensors (perf).
  const size_t want = static_cast<size_t>(std::min<uint64_t>(std::max<size_t>(len, kWindow), size_ - off));
  buf_.resize(want);
  size_t got = 0;
  while (got < want) {
    const ssize_t r = ::pread(fd_, buf_.data() + got, want - got, static_cast<off_t>(off + got));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    got += static_cast<size_t>(r);
  }
  buf_.resize(got);
  start_ = off;
  return got >= len ? buf_.data() : nullptr;
}

Result parse_dataset(Source& src, uint64_t addr, uint64_t eoa, Dataset* out) {
  constexpr uint64_t kPrefix = 16;
  if (addr >= eoa || eoa - addr < kPrefix) return Result::NotUnderstood;
  const uint8_t* h = src.get(addr, kPrefix);
  // Version 1 prefix: version, reserved, message count, link count, chunk 0 size, padding.
  if (!h || h[0] != 1 || h[1] != 0 || u32(h + 4) == 0 || !all_zero(h + 12, 4)) return Result::NotUnderstood;
  const size_t nmesgs = u16(h + 2);
  const uint64_t size0 = u32(h + 8);
  if (nmesgs == 0 || size0 < 8 || size0 > kMaxChunk || size0 % 8 != 0 || size0 > eoa - addr - kPrefix)
    return Result::NotUnderstood;
  std::vector<Chunk> chunks{{addr, kPrefix + size0}};
  Seen s;
  size_t count = 0;
  // Chunk 0 starts after the prefix; continuations are whole chunks of messages.
  for (size_t i = 0; i < chunks.size(); ++i) {
    const uint64_t start = i == 0 ? addr + kPrefix : chunks[i].addr;
    const uint64_t len = i == 0 ? size0 : chunks[i].len;
    const uint8_t* p = src.get(start, static_cast<size_t>(len));
    if (!p || !messages(p, static_cast<size_t>(len), eoa, &chunks, &count, &s, out)) return Result::NotUnderstood;
  }
  if (count != nmesgs || s.dataspace != 1 || s.datatype != 1 || s.fill != 1 || s.layout != 1)
    return Result::NotUnderstood;
  if (s.esize != 0 && out->nelements > (uint64_t(1) << 53) / s.esize) return Result::NotUnderstood;
  out->bytes = out->nelements * s.esize;
  if (s.layout_addr == kUndefined) {
    // Not allocated: libhdf5 reads fill values, so there is no offset to map.
    if (s.layout_size != out->bytes) return Result::NotUnderstood;
    out->addr = kUndefined;
    return Result::Dataset;
  }
  if (s.layout_size != out->bytes || s.layout_addr >= eoa || out->bytes > eoa - s.layout_addr)
    return Result::NotUnderstood;
  out->addr = s.layout_addr;
  return Result::Dataset;
}

bool plain_superblock(Source& src) {
  const uint8_t* p = src.get(0, 40);
  static const uint8_t kSig[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
  if (!p || std::memcmp(p, kSig, 8) != 0) return false;
  switch (p[8]) {
    case 0:
      return p[13] == 8 && p[14] == 8 && u64(p + 24) == 0;
    case 1:
      return p[13] == 8 && p[14] == 8 && u64(p + 28) == 0;
    case 2:
    case 3:
      return p[9] == 8 && p[10] == 8 && u64(p + 12) == 0;
    default:
      return false;
  }
}

}  // namespace h5v::h5::ohdr
