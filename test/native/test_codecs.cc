// Native tests for the pure codecs (native/codecs): round trips, exact formats,
// and hostile input (truncation, byte flips, forged sizes) that must be
// rejected or decoded within bounds — never crash, never touch memory outside
// the caller's buffers (run under ASan+UBSan with H5VAULT_SANITIZE=1).
#include <lz4.h>
#include <lzf.h>
#include <zstd.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include "check.h"
#include "rng.h"
#include "codecs/deflate.h"
#include "codecs/fletcher32.h"
#include "codecs/lz4.h"
#include "codecs/lzf.h"
#include "codecs/shuffle.h"
#include "codecs/status.h"
#include "codecs/zstd.h"
#include "codecs/blosc.h"
#include "codecs/bitshuffle.h"

using namespace h5v::codecs;
using Bytes = std::vector<uint8_t>;

using h5v::test::Rng;

namespace {

enum Kind { kZeros, kRandom, kFloats, kPattern, kSparse, kKinds };

Bytes make_data(Kind kind, size_t n, uint64_t seed) {
  Bytes d(n);
  Rng r(seed);
  switch (kind) {
    case kZeros:
      break;
    case kRandom:
      for (auto& b : d) b = uint8_t(r.next());
      break;
    case kFloats: {  // smooth float32 "weights": compressible high bytes, noisy low bytes
      for (size_t i = 0; i + 4 <= n; i += 4) {
        float f = float(std::sin(double(i) * 0.001) * 0.05 + double(r.below(1000)) * 1e-6);
        std::memcpy(&d[i], &f, 4);
      }
      for (size_t i = n & ~size_t(3); i < n; ++i) d[i] = uint8_t(r.next());
      break;
    }
    case kPattern: {
      const char* p = "model.layers.0.attention.wq.weight ";
      size_t pl = std::strlen(p);
      for (size_t i = 0; i < n; ++i) d[i] = uint8_t(p[(i + i / 997) % pl]);
      break;
    }
    case kSparse:
      for (size_t i = 0; i < n; ++i) d[i] = r.below(16) == 0 ? uint8_t(r.next()) : 0;
      break;
    default:
      break;
  }
  return d;
}

const size_t kSizes[] = {0,    1,    2,    3,    4,    5,     7,     8,     15,     16,
                         31,   32,   33,   63,   64,   100,   255,   256,   257,    1000,
                         4095, 4096, 4097, 8191, 8193, 65535, 65536, 65537, 100003, (1u << 20) + 3};

// Byte-at-a-time reference LZF decoder (obviously correct, slow).
bool ref_lzf_decode(const Bytes& in, Bytes* out) {
  out->clear();
  size_t ip = 0;
  while (ip < in.size()) {
    unsigned c = in[ip++];
    if (c < 32) {
      for (unsigned i = 0; i <= c; ++i) {
        if (ip >= in.size()) return false;
        out->push_back(in[ip++]);
      }
    } else {
      size_t len = c >> 5;
      if (len == 7) {
        if (ip >= in.size()) return false;
        len += in[ip++];
      }
      if (ip >= in.size()) return false;
      size_t dist = ((c & 31u) << 8) + in[ip++] + 1;
      if (dist > out->size()) return false;
      for (size_t i = 0; i < len + 2; ++i) out->push_back((*out)[out->size() - dist]);
    }
  }
  return true;
}

Bytes lzf_enc(const Bytes& d) {
  Bytes out(d.size() + d.size() / 16 + 64);
  size_t len = 0;
  Status s = lzf_encode(d.data(), d.size(), out.data(), out.size(), &len);
  if (s != Status::Ok) return {};
  out.resize(len);
  return out;
}

Bytes lz4_enc(const Bytes& d, size_t block) {
  Bytes out(lz4_max_framed(d.size(), block));
  size_t len = 0;
  Status s = lz4_encode(d.data(), d.size(), block, out.data(), out.size(), &len);
  if (s != Status::Ok) return {};
  out.resize(len);
  return out;
}

Bytes deflate_enc(const Bytes& d, int level) {
  Bytes out(deflate_bound(d.size(), level));
  size_t len = 0;
  if (deflate_encode(d.data(), d.size(), level, out.data(), out.size(), &len) != Status::Ok) return {};
  out.resize(len);
  return out;
}

// std::function: codecs with parameters are passed as capturing lambdas.
using DecodeFn = std::function<Status(const uint8_t*, size_t, uint8_t*, size_t, size_t*)>;

// Decodes `in` into an exactly-sized heap buffer of `cap` bytes (so ASan sees
// any overwrite), checking the contract on the result.
Status decode_bounded(DecodeFn fn, const Bytes& in, size_t cap, Bytes* out) {
  // Copy the input into its own exactly-sized allocation so overreads fault.
  std::unique_ptr<uint8_t[]> src(new uint8_t[in.size() ? in.size() : 1]);
  if (!in.empty()) std::memcpy(src.get(), in.data(), in.size());
  std::unique_ptr<uint8_t[]> dst(new uint8_t[cap ? cap : 1]);
  size_t len = 12345;
  Status s = fn(in.empty() ? nullptr : src.get(), in.size(), dst.get(), cap, &len);
  if (s == Status::Ok) {
    CHECK(len <= cap);
    if (out) out->assign(dst.get(), dst.get() + (len <= cap ? len : 0));
  } else {
    CHECK_EQ(len, size_t(0));
  }
  return s;
}

// Every truncation of a valid stream and a batch of random byte flips: must be
// rejected or decode within bounds. For prefix-decodable formats (lzf) an Ok
// result must be a prefix of the original.
void hostile_inputs(DecodeFn fn, const Bytes& stream, const Bytes& original, bool prefix_ok, uint64_t seed, int flips) {
  size_t cap = original.size();
  for (size_t cut = 0; cut < stream.size(); ++cut) {
    Bytes t(stream.begin(), stream.begin() + cut), out;
    Status s = decode_bounded(fn, t, cap, &out);
    if (s == Status::Ok) {
      if (prefix_ok) {
        CHECK(out.size() <= original.size());
        CHECK(std::equal(out.begin(), out.end(), original.begin()));
      } else {
        CHECK(out.size() < original.size() || cut == stream.size());
      }
    }
  }
  Rng r(seed);
  for (int i = 0; i < flips && !stream.empty(); ++i) {
    Bytes t = stream;
    int nflip = 1 + int(r.below(3));
    for (int k = 0; k < nflip; ++k) t[r.below(t.size())] ^= uint8_t(1u << r.below(8));
    Bytes out;
    decode_bounded(fn, t, cap, nullptr);
    decode_bounded(fn, t, cap + 1000, nullptr);
  }
}

void put_be32(uint8_t* p, uint32_t v) {
  p[0] = uint8_t(v >> 24);
  p[1] = uint8_t(v >> 16);
  p[2] = uint8_t(v >> 8);
  p[3] = uint8_t(v);
}
void put_be64(uint8_t* p, uint64_t v) {
  for (int i = 7; i >= 0; --i, v >>= 8) p[i] = uint8_t(v);
}

}  // namespace

// ---------------------------------------------------------------- status

TEST(status_messages_are_distinct) {
  const Status all[] = {
      Status::Ok,      Status::OutputTooSmall, Status::Corrupt, Status::Incompressible, Status::InvalidArgument,
      Status::NoMemory};
  for (Status a : all) {
    CHECK(status_message(a) != nullptr && std::strlen(status_message(a)) > 0);
    for (Status b : all)
      if (a != b) CHECK(std::strcmp(status_message(a), status_message(b)) != 0);
  }
}

// ---------------------------------------------------------------- LZF

TEST(lzf_round_trip_sizes_and_kinds) {
  for (int k = 0; k < kKinds; ++k) {
    for (size_t n : kSizes) {
      Bytes d = make_data(Kind(k), n, n * 31 + k);
      Bytes enc = lzf_enc(d);
      if (n > 0) CHECK(!enc.empty());
      Bytes out;
      CHECK(decode_bounded(lzf_decode, enc, n, &out) == Status::Ok);
      CHECK(out == d);
      size_t sz = 999;
      CHECK(lzf_decoded_size(enc.data(), enc.size(), &sz) == Status::Ok);
      CHECK_EQ(sz, n);
      if (n > 0) CHECK(decode_bounded(lzf_decode, enc, n - 1, nullptr) == Status::OutputTooSmall);
      // liblzf's own decoder agrees.
      if (n > 0) {
        Bytes ref(n);
        unsigned r = lzf_decompress(enc.data(), unsigned(enc.size()), ref.data(), unsigned(n));
        CHECK_EQ(size_t(r), n);
        CHECK(ref == d);
      }
    }
  }
}

TEST(lzf_encode_reports_incompressible) {
  Bytes d = make_data(kRandom, 4096, 7);
  Bytes out(4095);
  size_t len = 77;
  CHECK(lzf_encode(d.data(), d.size(), out.data(), out.size(), &len) == Status::Incompressible);
  CHECK_EQ(len, size_t(0));
  Bytes z = make_data(kZeros, 4096, 7);
  CHECK(lzf_encode(z.data(), z.size(), out.data(), out.size(), &len) == Status::Ok);
  CHECK(len < 200);
  CHECK(lzf_encode(z.data(), z.size(), nullptr, 0, &len) == Status::Incompressible);
  CHECK(lzf_encode(nullptr, 0, nullptr, 0, &len) == Status::Ok);
  CHECK_EQ(len, size_t(0));
}

TEST(lzf_overlapping_back_references) {
  // "ab" then back-reference distance 2, length 10 -> "abababababab"
  // ctrl: len-2 in the top 3 bits (7 = extended, + next byte); then offset-1.
  Bytes s = {0x01, 'a', 'b', uint8_t((7 << 5) | 0), uint8_t(10 - 2 - 7), 0x01};
  Bytes out;
  CHECK(decode_bounded(lzf_decode, s, 64, &out) == Status::Ok);
  CHECK(out == Bytes({'a', 'b', 'a', 'b', 'a', 'b', 'a', 'b', 'a', 'b', 'a', 'b'}));
  // distance 1 run of 264 (max length), distance 3 pattern
  s = {0x02, 'x', 'y', 'z', uint8_t(7 << 5), 255, 0x00, uint8_t(7 << 5), 255, 0x02};
  Bytes ref;
  CHECK(ref_lzf_decode(s, &ref));
  CHECK(decode_bounded(lzf_decode, s, 4096, &out) == Status::Ok);
  CHECK(out == ref);
  CHECK_EQ(out.size(), size_t(3 + 264 + 264));
  for (size_t i = 3; i < 3 + 264; ++i) CHECK_EQ(out[i], uint8_t('z'));
}

TEST(lzf_random_valid_streams_match_reference) {
  // Generate random *valid* token streams (all distances/lengths) and compare
  // with the byte-at-a-time reference and with liblzf's decoder.
  Rng r(42);
  for (int iter = 0; iter < 300; ++iter) {
    Bytes s;
    size_t produced = 0;
    int tokens = 1 + int(r.below(60));
    for (int t = 0; t < tokens; ++t) {
      if (produced == 0 || r.below(3) == 0) {
        size_t len = 1 + r.below(32);
        s.push_back(uint8_t(len - 1));
        for (size_t i = 0; i < len; ++i) s.push_back(uint8_t(r.next()));
        produced += len;
      } else {
        size_t maxd = produced < 8192 ? produced : 8192;
        size_t dist = 1 + r.below(maxd);
        size_t len = 3 + r.below(262);  // 3..264
        size_t l = len - 2;
        if (l < 7) {
          s.push_back(uint8_t((l << 5) | ((dist - 1) >> 8)));
        } else {
          s.push_back(uint8_t((7 << 5) | ((dist - 1) >> 8)));
          s.push_back(uint8_t(l - 7));
        }
        s.push_back(uint8_t((dist - 1) & 0xff));
        produced += len;
      }
    }
    Bytes ref, out;
    CHECK(ref_lzf_decode(s, &ref));
    CHECK_EQ(ref.size(), produced);
    CHECK(decode_bounded(lzf_decode, s, produced, &out) == Status::Ok);
    CHECK(out == ref);
    Bytes lib(produced);
    unsigned n = lzf_decompress(s.data(), unsigned(s.size()), lib.data(), unsigned(produced));
    CHECK_EQ(size_t(n), produced);
    CHECK(lib == ref);
    size_t sz = 0;
    CHECK(lzf_decoded_size(s.data(), s.size(), &sz) == Status::Ok);
    CHECK_EQ(sz, produced);
  }
}

TEST(lzf_rejects_malformed) {
  Bytes out;
  // literal run longer than the input
  CHECK(decode_bounded(lzf_decode, Bytes({0x05, 'a', 'b'}), 64, &out) == Status::Corrupt);
  // back-reference before the start of output
  CHECK(decode_bounded(lzf_decode, Bytes({0x00, 'a', 0x20, 0x01}), 64, &out) == Status::Corrupt);
  CHECK(decode_bounded(lzf_decode, Bytes({0x20, 0x00}), 64, &out) == Status::Corrupt);
  // truncated back-reference (missing offset byte / missing length byte)
  CHECK(decode_bounded(lzf_decode, Bytes({0x00, 'a', 0x20}), 64, &out) == Status::Corrupt);
  CHECK(decode_bounded(lzf_decode, Bytes({0x00, 'a', 0xE0}), 64, &out) == Status::Corrupt);
  CHECK(decode_bounded(lzf_decode, Bytes({0x00, 'a', 0xE0, 0x05}), 64, &out) == Status::Corrupt);
  // output too small for a literal and for a back-reference
  CHECK(decode_bounded(lzf_decode, Bytes({0x03, 'a', 'b', 'c', 'd'}), 3, &out) == Status::OutputTooSmall);
  CHECK(decode_bounded(lzf_decode, Bytes({0x00, 'a', 0x20, 0x00}), 3, &out) == Status::OutputTooSmall);
  // empty input is an empty stream
  CHECK(decode_bounded(lzf_decode, Bytes(), 0, &out) == Status::Ok);
  CHECK(out.empty());
  size_t sz = 0;
  CHECK(lzf_decoded_size(Bytes({0x05, 'a'}).data(), 2, &sz) == Status::Corrupt);
}

TEST(lzf_truncation_and_flips) {
  for (int k = 0; k < kKinds; ++k) {
    for (size_t n : {size_t(1), size_t(100), size_t(3000)}) {
      Bytes d = make_data(Kind(k), n, 99 + k);
      Bytes enc = lzf_enc(d);
      hostile_inputs(lzf_decode, enc, d, true, 1234 + k, 300);
    }
  }
}

TEST(lzf_max_expansion_bound_holds) {
  // The densest stream: 1 literal then maximal back-references.
  Bytes s = {0x00, 'q'};
  for (int i = 0; i < 1000; ++i) {
    s.push_back(0xE0);
    s.push_back(255);
    s.push_back(0);
  }
  size_t sz = 0;
  CHECK(lzf_decoded_size(s.data(), s.size(), &sz) == Status::Ok);
  CHECK(sz <= s.size() * kLzfMaxExpansion);
  CHECK_EQ(sz, size_t(1 + 264 * 1000));
}

// ---------------------------------------------------------------- LZ4

TEST(lz4_round_trip_sizes_kinds_blocks) {
  const size_t blocks[] = {0, 1, 7, 4096, 65536, 1 << 20};
  for (int k = 0; k < kKinds; ++k) {
    for (size_t n : kSizes) {
      for (size_t b : blocks) {
        if (b == 1 && n > 5000) continue;
        Bytes d = make_data(Kind(k), n, n * 7 + k);
        Bytes enc = lz4_enc(d, b);
        CHECK(enc.size() >= kLz4HeaderBytes);
        CHECK(enc.size() <= lz4_max_framed(n, b));
        uint64_t total = 1;
        CHECK(lz4_declared_size(enc.data(), enc.size(), &total) == Status::Ok);
        CHECK_EQ(total, uint64_t(n));
        CHECK(lz4_check_frame(enc.data(), enc.size(), &total) == Status::Ok);
        CHECK_EQ(total, uint64_t(n));
        Bytes out;
        CHECK(decode_bounded(lz4_decode, enc, n, &out) == Status::Ok);
        CHECK(out == d);
        if (n > 0) CHECK(decode_bounded(lz4_decode, enc, n - 1, nullptr) == Status::OutputTooSmall);
      }
    }
  }
}

TEST(lz4_frame_layout_matches_h5zlz4) {
  // Header: u64 BE total, u32 BE block size clamped to total.
  Bytes d = make_data(kZeros, 10000, 1);
  Bytes enc = lz4_enc(d, 4096);
  CHECK_EQ(enc[0], 0);
  uint64_t tot = 0;
  for (int i = 0; i < 8; ++i) tot = (tot << 8) | enc[i];
  CHECK_EQ(tot, uint64_t(10000));
  uint32_t bs = (uint32_t(enc[8]) << 24) | (uint32_t(enc[9]) << 16) | (uint32_t(enc[10]) << 8) | enc[11];
  CHECK_EQ(bs, uint32_t(4096));
  // default block size is clamped to the input size
  Bytes enc2 = lz4_enc(d, 0);
  bs = (uint32_t(enc2[8]) << 24) | (uint32_t(enc2[9]) << 16) | (uint32_t(enc2[10]) << 8) | enc2[11];
  CHECK_EQ(bs, uint32_t(10000));
  // three blocks (4096, 4096, 1808), each with a BE length prefix
  size_t pos = 12, blocks = 0;
  while (pos < enc.size()) {
    uint32_t c =
        (uint32_t(enc[pos]) << 24) | (uint32_t(enc[pos + 1]) << 16) | (uint32_t(enc[pos + 2]) << 8) | enc[pos + 3];
    pos += 4 + c;
    ++blocks;
  }
  CHECK_EQ(pos, enc.size());
  CHECK_EQ(blocks, size_t(3));
  // incompressible blocks are stored raw: stored size == block size
  Bytes rnd = make_data(kRandom, 5000, 3);
  Bytes encr = lz4_enc(rnd, 4096);
  CHECK_EQ(encr.size(), size_t(12 + 4 + 4096 + 4 + 904));
  CHECK(std::memcmp(encr.data() + 16, rnd.data(), 4096) == 0);
  // empty input: a bare 12-byte header of zeros
  Bytes e0 = lz4_enc(Bytes(), 0);
  CHECK(e0 == Bytes(12, 0));
  Bytes out;
  CHECK(decode_bounded(lz4_decode, e0, 0, &out) == Status::Ok);
  CHECK(out.empty());
}

TEST(lz4_hand_built_raw_frame_decodes) {
  // total 5, block 2 -> blocks of 2, 2, 1 stored raw.
  Bytes f(12);
  put_be64(f.data(), 5);
  put_be32(f.data() + 8, 2);
  const char* parts[] = {"he", "ll", "o"};
  for (const char* p : parts) {
    size_t l = std::strlen(p);
    uint8_t h[4];
    put_be32(h, uint32_t(l));
    f.insert(f.end(), h, h + 4);
    f.insert(f.end(), p, p + l);
  }
  Bytes out;
  CHECK(decode_bounded(lz4_decode, f, 5, &out) == Status::Ok);
  CHECK(out == Bytes({'h', 'e', 'l', 'l', 'o'}));
  // block size larger than total is clamped (as H5Zlz4.c does)
  Bytes g(12);
  put_be64(g.data(), 3);
  put_be32(g.data() + 8, 1000);
  uint8_t h[4];
  put_be32(h, 3);
  g.insert(g.end(), h, h + 4);
  g.insert(g.end(), {'a', 'b', 'c'});
  CHECK(decode_bounded(lz4_decode, g, 3, &out) == Status::Ok);
  CHECK(out == Bytes({'a', 'b', 'c'}));
}

TEST(lz4_forged_sizes_rejected) {
  Bytes out;
  uint64_t total = 0;
  // header shorter than 12 bytes
  for (size_t n = 0; n < 12; ++n) {
    Bytes s(n, 0);
    CHECK(decode_bounded(lz4_decode, s, 100, &out) == Status::Corrupt);
    CHECK(lz4_declared_size(s.data(), s.size(), &total) == Status::Corrupt);
  }
  // huge declared total with a tiny body: declared_size reports it (caller
  // must check); check_frame rejects it; decode refuses for lack of room.
  Bytes f(12);
  put_be64(f.data(), uint64_t(1) << 62);
  put_be32(f.data() + 8, 1 << 20);
  f.insert(f.end(), {0, 0, 0, 5, 0x50, 1, 2, 3, 4});
  CHECK(lz4_declared_size(f.data(), f.size(), &total) == Status::Ok);
  CHECK_EQ(total, uint64_t(1) << 62);
  CHECK(lz4_check_frame(f.data(), f.size(), &total) == Status::Corrupt);
  CHECK(decode_bounded(lz4_decode, f, 1 << 16, &out) == Status::OutputTooSmall);
  // block size 0 with nonzero total: would never progress
  Bytes z(12);
  put_be64(z.data(), 10);
  put_be32(z.data() + 8, 0);
  CHECK(decode_bounded(lz4_decode, z, 100, &out) == Status::Corrupt);
  CHECK(lz4_check_frame(z.data(), z.size(), &total) == Status::Corrupt);
  // block size beyond LZ4's limit
  Bytes big(12);
  put_be64(big.data(), uint64_t(3) << 30);
  put_be32(big.data() + 8, 0xFFFFFFFFu);
  CHECK(lz4_check_frame(big.data(), big.size(), &total) == Status::Corrupt);
  // stored block size larger than the remaining input
  Bytes s(12);
  put_be64(s.data(), 4);
  put_be32(s.data() + 8, 4);
  s.insert(s.end(), {0, 0, 0, 200, 1, 2});
  CHECK(decode_bounded(lz4_decode, s, 4, &out) == Status::Corrupt);
  CHECK(lz4_check_frame(s.data(), s.size(), &total) == Status::Corrupt);
  // stored size 0 for a non-empty block
  Bytes s0(12);
  put_be64(s0.data(), 4);
  put_be32(s0.data() + 8, 4);
  s0.insert(s0.end(), {0, 0, 0, 0});
  CHECK(decode_bounded(lz4_decode, s0, 4, &out) == Status::Corrupt);
  CHECK(lz4_check_frame(s0.data(), s0.size(), &total) == Status::Corrupt);
  // implausible ratio: 1 MiB declared from a 3-byte block
  Bytes r(12);
  put_be64(r.data(), 1 << 20);
  put_be32(r.data() + 8, 1 << 20);
  r.insert(r.end(), {0, 0, 0, 3, 0x10, 'a', 0});
  CHECK(lz4_check_frame(r.data(), r.size(), &total) == Status::Corrupt);
  CHECK(decode_bounded(lz4_decode, r, 1 << 20, &out) == Status::Corrupt);
  // trailing garbage after the last block
  Bytes t = lz4_enc(make_data(kFloats, 1000, 5), 0);
  t.push_back(0);
  CHECK(decode_bounded(lz4_decode, t, 1000, &out) == Status::Corrupt);
  CHECK(lz4_check_frame(t.data(), t.size(), &total) == Status::Corrupt);
  // a real maximally-compressed stream passes the plausibility check
  Bytes zeros(1 << 22);
  Bytes ez = lz4_enc(zeros, 0);
  CHECK(lz4_check_frame(ez.data(), ez.size(), &total) == Status::Ok);
  CHECK_EQ(total, uint64_t(1) << 22);
}

TEST(lz4_encode_limits) {
  Bytes d = make_data(kRandom, 1000, 2);
  Bytes out(999);
  size_t len = 5;
  CHECK(lz4_encode(d.data(), d.size(), 0, out.data(), out.size(), &len) == Status::Incompressible);
  CHECK_EQ(len, size_t(0));
  CHECK(lz4_encode(d.data(), d.size(), size_t(3) << 30, out.data(), out.size(), &len) == Status::InvalidArgument);
  Bytes z(1000, 0);
  CHECK(lz4_encode(z.data(), z.size(), 0, out.data(), 40, &len) == Status::Ok);
  CHECK(len <= 40);
}

TEST(lz4_truncation_and_flips) {
  for (int k = 0; k < kKinds; ++k) {
    for (size_t b : {size_t(0), size_t(256)}) {
      Bytes d = make_data(Kind(k), 2000, 5 + k);
      Bytes enc = lz4_enc(d, b);
      hostile_inputs(lz4_decode, enc, d, false, 77 + k, 300);
    }
  }
}

// ---------------------------------------------------------------- deflate

TEST(deflate_round_trip_levels) {
  for (int level = 0; level <= 12; ++level) {
    for (int k = 0; k < kKinds; ++k) {
      for (size_t n : {size_t(0), size_t(1), size_t(17), size_t(4096), size_t(100003)}) {
        Bytes d = make_data(Kind(k), n, level * 100 + k);
        Bytes enc = deflate_enc(d, level);
        CHECK(enc.size() >= 2);
        CHECK_EQ(enc[0] & 0x0f, 8);  // zlib header: CM = deflate
        CHECK_EQ(((unsigned(enc[0]) << 8) | enc[1]) % 31, 0u);
        Bytes out;
        CHECK(decode_bounded(deflate_decode, enc, n, &out) == Status::Ok);
        CHECK(out == d);
        if (n > 0) CHECK(decode_bounded(deflate_decode, enc, n - 1, nullptr) == Status::OutputTooSmall);
      }
    }
  }
}

TEST(deflate_arguments_and_limits) {
  Bytes d = make_data(kRandom, 1000, 1);
  Bytes out(2000);
  size_t len = 3;
  CHECK(deflate_encode(d.data(), d.size(), -1, out.data(), out.size(), &len) == Status::InvalidArgument);
  CHECK(deflate_encode(d.data(), d.size(), 13, out.data(), out.size(), &len) == Status::InvalidArgument);
  CHECK(deflate_encode(d.data(), d.size(), 6, out.data(), 100, &len) == Status::Incompressible);
  CHECK(deflate_bound(1000, 6) >= 1000);
  CHECK(deflate_bound(1000, 99) >= 1000);
  // trailing bytes after the stream are ignored (zlib inflate does the same)
  Bytes enc = deflate_enc(d, 1);
  enc.push_back(0xAA);
  Bytes dec;
  CHECK(decode_bounded(deflate_decode, enc, 1000, &dec) == Status::Ok);
  CHECK(dec == d);
  CHECK(decode_bounded(deflate_decode, Bytes(), 10, nullptr) == Status::Corrupt);
  CHECK(decode_bounded(deflate_decode, Bytes({0x78, 0x9c, 0xff, 0xff}), 10, nullptr) == Status::Corrupt);
}

TEST(deflate_truncation_and_flips) {
  for (int k = 0; k < kKinds; ++k) {
    Bytes d = make_data(Kind(k), 3000, 11 + k);
    Bytes enc = deflate_enc(d, 6);
    hostile_inputs(deflate_decode, enc, d, false, 55 + k, 300);
  }
}

TEST(deflate_threads_use_private_state) {
  std::vector<std::thread> ts;
  std::vector<int> ok(8, 0);
  for (int t = 0; t < 8; ++t) {
    ts.emplace_back([t, &ok] {
      int good = 1;
      for (int i = 0; i < 20; ++i) {
        int level = (t + i) % 10;
        Bytes d = make_data(Kind((t + i) % kKinds), 20000 + size_t(i), uint64_t(t * 1000 + i));
        Bytes enc(deflate_bound(d.size(), level));
        size_t len = 0;
        if (deflate_encode(d.data(), d.size(), level, enc.data(), enc.size(), &len) != Status::Ok) good = 0;
        Bytes out(d.size());
        size_t ol = 0;
        if (deflate_decode(enc.data(), len, out.data(), out.size(), &ol) != Status::Ok || ol != d.size() || out != d)
          good = 0;
      }
      ok[size_t(t)] = good;
    });
  }
  for (auto& th : ts) th.join();
  for (int g : ok) CHECK_EQ(g, 1);
}

// ---------------------------------------------------------------- shuffle

namespace {
void ref_shuffle(const uint8_t* in, uint8_t* out, size_t n, size_t es) {
  size_t ne = es ? n / es : 0;
  if (es <= 1 || ne <= 1) {
    std::memcpy(out, in, n);
    return;
  }
  for (size_t i = 0; i < ne; ++i)
    for (size_t k = 0; k < es; ++k) out[k * ne + i] = in[i * es + k];
  std::memcpy(out + ne * es, in + ne * es, n - ne * es);
}
}  // namespace

TEST(shuffle_matches_reference_and_inverts) {
  for (size_t es = 0; es <= 17; ++es) {
    for (size_t n :
         {size_t(0), size_t(1), size_t(2), size_t(3), size_t(es), size_t(es + 1), size_t(2 * es + 1),
          size_t(31 * es + 3), size_t(32 * es), size_t(33 * es + 5), size_t(1000), size_t(4096 + 3), size_t(70001)}) {
      Bytes d = make_data(kRandom, n, es * 1000 + n);
      Bytes ref(n), out(n), back(n);
      if (n) ref_shuffle(d.data(), ref.data(), n, es);
      shuffle(d.data(), out.data(), n, es);
      CHECK(out == ref);
      unshuffle(out.data(), back.data(), n, es);
      CHECK(back == d);
    }
  }
}

TEST(shuffle_known_layout) {
  Bytes d = {0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 9, 8};
  Bytes out(d.size());
  shuffle(d.data(), out.data(), d.size(), 4);
  CHECK(out == Bytes({0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3, 9, 8}));
}

// ---------------------------------------------------------------- fletcher32

namespace {
// Straightforward transcription of the algorithm's definition (per-word folding
// schedule identical to libhdf5: fold every 360 words and at the end).
uint32_t ref_fletcher(const Bytes& d) {
  uint64_t words = d.size() / 2;
  uint32_t s1 = 0, s2 = 0;
  size_t p = 0;
  while (words) {
    uint64_t t = words > 360 ? 360 : words;
    words -= t;
    while (t--) {
      s1 += (uint32_t(d[p]) << 8) | d[p + 1];
      p += 2;
      s2 += s1;
    }
    s1 = (s1 & 0xffff) + (s1 >> 16);
    s2 = (s2 & 0xffff) + (s2 >> 16);
  }
  if (d.size() & 1) {
    s1 += uint32_t(d[p]) << 8;
    s2 += s1;
    s1 = (s1 & 0xffff) + (s1 >> 16);
    s2 = (s2 & 0xffff) + (s2 >> 16);
  }
  s1 = (s1 & 0xffff) + (s1 >> 16);
  s2 = (s2 & 0xffff) + (s2 >> 16);
  return (s2 << 16) | s1;
}
}  // namespace

TEST(fletcher32_known_vectors) {
  // (test_filters.cc also compares against libhdf5's own H5_checksum_fletcher32.)
  Bytes one = {0x01};
  CHECK_EQ(fletcher32(one.data(), 1), 0x01000100u);
  Bytes two = {0x01, 0x02};
  CHECK_EQ(fletcher32(two.data(), 2), 0x01020102u);
  Bytes ff(720, 0xff);  // sums reach 0xffff exactly: libhdf5 keeps 0xffff, not 0
  CHECK_EQ(fletcher32(ff.data(), ff.size()), ref_fletcher(ff));
  CHECK_EQ(fletcher32(ff.data(), ff.size()) & 0xffffu, 0xffffu);
  for (size_t n : kSizes) {
    Bytes d = make_data(kRandom, n, n);
    CHECK_EQ(fletcher32(d.data(), n), ref_fletcher(d));
    Bytes f(n, 0xff);
    CHECK_EQ(fletcher32(f.data(), n), ref_fletcher(f));
  }
}

TEST(fletcher32_append_and_verify) {
  for (size_t n : {size_t(0), size_t(1), size_t(2), size_t(3), size_t(719), size_t(720), size_t(721), size_t(100001)}) {
    Bytes d = make_data(kFloats, n, n);
    d.resize(n + 4);
    fletcher32_append(d.data(), n);
    uint32_t f = fletcher32(d.data(), n);
    CHECK_EQ(d[n], uint8_t(f));  // little-endian trailer (UINT32ENCODE)
    CHECK_EQ(d[n + 3], uint8_t(f >> 24));
    CHECK(fletcher32_verify(d.data(), n + 4) == Status::Ok);
    // legacy (pre-1.6.3) byte-swapped trailer is accepted like libhdf5 does
    std::swap(d[n], d[n + 1]);
    std::swap(d[n + 2], d[n + 3]);
    CHECK(fletcher32_verify(d.data(), n + 4) == Status::Ok);
    // any single flipped bit is detected (trailer or data)
    std::swap(d[n], d[n + 1]);
    std::swap(d[n + 2], d[n + 3]);
    Rng r(n);
    for (int i = 0; i < 20; ++i) {
      Bytes e = d;
      e[r.below(e.size())] ^= uint8_t(1u << r.below(8));
      CHECK(fletcher32_verify(e.data(), e.size()) == Status::Corrupt);
    }
  }
  Bytes s(3, 0);
  CHECK(fletcher32_verify(s.data(), 3) == Status::Corrupt);
  CHECK(fletcher32_verify(nullptr, 0) == Status::Corrupt);
}

// ---------------------------------------------------------------- Zstandard

namespace {
Bytes zstd_enc(const Bytes& d, int level) {
  Bytes out(zstd_bound(d.size()));
  size_t len = 0;
  if (zstd_encode(d.data(), d.size(), level, out.data(), out.size(), &len) != Status::Ok) return {};
  out.resize(len);
  return out;
}
// A frame without a recorded content size (as a streaming encoder writes it).
Bytes zstd_streamed(const Bytes& d, int level) {
  ZSTD_CCtx* c = ZSTD_createCCtx();
  ZSTD_CCtx_setParameter(c, ZSTD_c_compressionLevel, level);
  ZSTD_CCtx_setParameter(c, ZSTD_c_contentSizeFlag, 0);
  Bytes out(ZSTD_compressBound(d.size()));
  size_t r = ZSTD_compress2(c, out.data(), out.size(), d.data(), d.size());
  ZSTD_freeCCtx(c);
  CHECK(!ZSTD_isError(r));
  out.resize(ZSTD_isError(r) ? 0 : r);
  return out;
}
}  // namespace

TEST(zstd_round_trip_is_the_reference_frame) {
  for (int kind = 0; kind < kKinds; ++kind) {
    for (size_t n : kSizes) {
      if (n > 70000 && kind != kFloats) continue;
      Bytes d = make_data(Kind(kind), n, n + 3 * kind);
      for (int level : {1, 3, 19}) {
        if (level == 19 && n > 70000) continue;
        Bytes enc = zstd_enc(d, level);
        CHECK(!enc.empty());
        // What the HDF5-Zstd plugin writes: ZSTD_compress at this level.
        Bytes ref(ZSTD_compressBound(n));
        size_t rl = ZSTD_compress(ref.data(), ref.size(), d.data(), n, level);
        CHECK(!ZSTD_isError(rl));
        ref.resize(rl);
        CHECK(enc == ref);
        uint64_t declared = 0;
        bool known = false;
        CHECK(zstd_declared_size(enc.data(), enc.size(), &declared, &known) == Status::Ok);
        CHECK(known && declared == n);
        Bytes out;
        CHECK(decode_bounded(zstd_decode, enc, n, &out) == Status::Ok);
        CHECK(out == d);
        if (n > 0) CHECK(decode_bounded(zstd_decode, enc, n - 1, nullptr) == Status::OutputTooSmall);
      }
    }
  }
}

TEST(zstd_filter_level_clamps_like_the_plugin) {
  const unsigned zero = 0, one = 1, nine = 9, big = 100, neg = unsigned(-5);
  CHECK_EQ(zstd_filter_level(0, nullptr), 3);
  CHECK_EQ(zstd_filter_level(1, &zero), 1);
  CHECK_EQ(zstd_filter_level(1, &one), 1);
  CHECK_EQ(zstd_filter_level(1, &nine), 9);
  CHECK_EQ(zstd_filter_level(1, &big), zstd_max_level());
  CHECK_EQ(zstd_filter_level(1, &neg), 1);
  Bytes d = make_data(kFloats, 1000, 1), out(2000);
  size_t len = 0;
  CHECK(zstd_encode(d.data(), d.size(), 0, out.data(), out.size(), &len) == Status::InvalidArgument);
  CHECK(zstd_encode(d.data(), d.size(), 23, out.data(), out.size(), &len) == Status::InvalidArgument);
  // too little room is Incompressible (the caller stores the chunk raw)
  Bytes rnd = make_data(kRandom, 4096, 2);
  CHECK(zstd_encode(rnd.data(), rnd.size(), 3, out.data(), 100, &len) == Status::Incompressible);
  CHECK_EQ(len, size_t(0));
}

TEST(zstd_streamed_frames_decode_within_the_cap) {
  Bytes d = make_data(kPattern, 100003, 4);
  Bytes s = zstd_streamed(d, 3);
  uint64_t declared = 7;
  bool known = true;
  CHECK(zstd_declared_size(s.data(), s.size(), &declared, &known) == Status::Ok);
  CHECK(!known && declared == 0);
  Bytes out;
  CHECK(decode_bounded(zstd_decode, s, d.size(), &out) == Status::Ok);
  CHECK(out == d);
  CHECK(decode_bounded(zstd_decode, s, d.size() + 17, &out) == Status::Ok);
  CHECK(out == d);
  // a streamed bomb: 8 MiB of zeros, no declared size, decoded into 64 KiB
  Bytes zeros(8 << 20, 0);
  Bytes bomb = zstd_streamed(zeros, 3);
  CHECK(bomb.size() < 4096);
  CHECK(decode_bounded(zstd_decode, bomb, 65536, nullptr) == Status::OutputTooSmall);
}

TEST(zstd_forged_and_hostile_frames) {
  Bytes out;
  uint64_t declared = 0;
  bool known = false;
  CHECK(zstd_declared_size(nullptr, 0, &declared, &known) == Status::Corrupt);
  for (Bytes bad : {Bytes{}, Bytes{1, 2, 3}, Bytes{0x28, 0xb5, 0x2f}, Bytes(300, 0x5a)})
    CHECK(decode_bounded(zstd_decode, bad, 1000, &out) == Status::Corrupt);
  // a declared size beyond the cap is refused before decoding
  Bytes zeros(1 << 20, 0);
  Bytes big = zstd_enc(zeros, 3);
  CHECK(decode_bounded(zstd_decode, big, 1024, nullptr) == Status::OutputTooSmall);
  // trailing garbage after a valid frame
  Bytes d = make_data(kFloats, 5000, 9);
  Bytes t = zstd_enc(d, 3);
  t.push_back(0);
  t.push_back(1);
  CHECK(decode_bounded(zstd_decode, t, 5000, &out) == Status::Corrupt);
  // two frames: more than the first frame declares
  Bytes two = zstd_enc(d, 3);
  Bytes second = zstd_enc(d, 1);
  two.insert(two.end(), second.begin(), second.end());
  CHECK(decode_bounded(zstd_decode, two, 10000, &out) == Status::Corrupt);
  for (int k = 0; k < kKinds; ++k) {
    Bytes src = make_data(Kind(k), 3000, 40 + k);
    hostile_inputs(zstd_decode, zstd_enc(src, 3), src, false, 90 + k, 300);
    hostile_inputs(zstd_decode, zstd_streamed(src, 3), src, false, 95 + k, 100);
  }
}

// ---------------------------------------------------------------- Blosc

TEST(blosc_round_trip_every_compressor_and_shuffle) {
  for (int comp : {0, 1, 2, 4, 5}) {
    for (int shuf : {0, 1, 2}) {
      for (size_t n : {size_t(0), size_t(1), size_t(15), size_t(16), size_t(1000), size_t(65536), size_t(100003)}) {
        Bytes d = make_data(kFloats, n, n + comp);
        unsigned cd[7] = {2, 2, 4, unsigned(n), 5, unsigned(shuf), unsigned(comp)};
        BloscParams p;
        CHECK(blosc_params(7, cd, &p) == Status::Ok);
        Bytes enc(n + kBloscHeaderBytes);
        size_t len = 0;
        CHECK(blosc_encode(p, d.data(), n, enc.data(), enc.size(), &len) == Status::Ok);
        enc.resize(len);
        uint64_t declared = 0;
        CHECK(blosc_declared_size(enc.data(), enc.size(), &declared) == Status::Ok);
        CHECK_EQ(declared, uint64_t(n));
        Bytes out;
        CHECK(decode_bounded(blosc_decode, enc, n, &out) == Status::Ok);
        CHECK(out == d);
        if (n > 0) CHECK(decode_bounded(blosc_decode, enc, n - 1, nullptr) == Status::OutputTooSmall);
      }
    }
  }
  // fewer than 4 cd_values, an unknown compressor code
  unsigned three[3] = {2, 2, 4}, bad[7] = {2, 2, 4, 100, 5, 1, 9};
  BloscParams p;
  CHECK(blosc_params(3, three, &p) == Status::InvalidArgument);
  CHECK(blosc_params(7, bad, &p) == Status::InvalidArgument);
  // no room: Incompressible (the chunk is stored raw)
  Bytes rnd = make_data(kRandom, 4096, 3), out(4096);
  size_t len = 0;
  CHECK(blosc_encode(BloscParams(), rnd.data(), rnd.size(), out.data(), out.size(), &len) == Status::Incompressible);
}

TEST(blosc_forged_and_hostile_buffers) {
  Bytes d = make_data(kFloats, 20000, 7);
  BloscParams p;
  p.typesize = 4;
  p.compressor = 1;
  Bytes enc(d.size() + kBloscHeaderBytes);
  size_t len = 0;
  CHECK(blosc_encode(p, d.data(), d.size(), enc.data(), enc.size(), &len) == Status::Ok);
  enc.resize(len);
  Bytes out;
  // stored length differs from the header's: refused before decoding
  Bytes shorter(enc.begin(), enc.end() - 1), longer = enc;
  longer.push_back(0);
  CHECK(decode_bounded(blosc_decode, shorter, d.size(), &out) == Status::Corrupt);
  CHECK(decode_bounded(blosc_decode, longer, d.size(), &out) == Status::Corrupt);
  CHECK(decode_bounded(blosc_decode, Bytes{1, 2, 3}, 100, &out) == Status::Corrupt);
  // a header claiming 1 GiB
  Bytes forged = enc;
  forged[4] = 0;
  forged[5] = 0;
  forged[6] = 0;
  forged[7] = 0x40;
  CHECK(decode_bounded(blosc_decode, forged, d.size(), &out) == Status::OutputTooSmall);
  for (int comp : {0, 1, 4, 5}) {
    p.compressor = comp;
    Bytes src = make_data(Kind(comp % kKinds), 3000, 60 + comp);
    Bytes e(src.size() + kBloscHeaderBytes);
    CHECK(blosc_encode(p, src.data(), src.size(), e.data(), e.size(), &len) == Status::Ok);
    e.resize(len);
    hostile_inputs(blosc_decode, e, src, false, 70 + comp, 300);
  }
}

// The transpose by its definition, one bit at a time: output row 8*j + k
// holds bit k of byte j of every element, element i at bit i % 8 of byte i / 8.
Bytes naive_bit_transpose(const Bytes& in, size_t n, size_t elem) {
  Bytes out(n * elem, 0);
  for (size_t i = 0; i < n; ++i)
    for (size_t j = 0; j < elem; ++j)
      for (size_t k = 0; k < 8; ++k)
        if ((in[i * elem + j] >> k) & 1) out[(j * 8 + k) * (n / 8) + i / 8] |= uint8_t(1u << (i % 8));
  return out;
}

TEST(bitshuffle_transpose_matches_its_definition_fast_and_scalar) {
  for (size_t elem : {1, 2, 3, 4, 5, 8, 12, 16, 17}) {
    for (size_t n : {8, 16, 24, 32, 40, 64, 120, 128, 1000, 2048}) {
      for (Kind kind : {kRandom, kFloats, kSparse}) {
        Bytes d = make_data(kind, n * elem, n * 31 + elem);
        Bytes want = naive_bit_transpose(d, n, elem);
        Bytes fast(d.size()), scalar(d.size()), back(d.size()), back_s(d.size());
        bit_transpose(d.data(), fast.data(), n, elem);
        bit_transpose_scalar(d.data(), scalar.data(), n, elem);
        CHECK(fast == want);
        CHECK(scalar == want);
        bit_untranspose(want.data(), back.data(), n, elem);
        bit_untranspose_scalar(want.data(), back_s.data(), n, elem);
        CHECK(back == d);
        CHECK(back_s == d);
      }
    }
  }
  // Hand-checked: element 3 has bit 0 set, element 0 bit 7 (one-byte elements).
  Bytes one = {0x80, 0, 0, 1, 0, 0, 0, 0}, out(8);
  bit_transpose(one.data(), out.data(), 8, 1);
  CHECK(out == (Bytes{0x08, 0, 0, 0, 0, 0, 0, 0x01}));
}

TEST(bitshuffle_default_block_and_params_as_the_reference) {
  CHECK_EQ(bitshuffle_default_block(1), size_t(8192));
  CHECK_EQ(bitshuffle_default_block(4), size_t(2048));
  CHECK_EQ(bitshuffle_default_block(3), size_t(2728));
  CHECK_EQ(bitshuffle_default_block(128), size_t(128));  // at least 128
  CHECK_EQ(bitshuffle_default_block(100000), size_t(128));
  BitshuffleParams p;
  unsigned lz4[5] = {0, 4, 4, 0, 2}, zstd6[6] = {0, 4, 2, 256, 3, 6}, zstd0[6] = {0, 4, 2, 0, 3, 0};
  CHECK(bitshuffle_params(5, lz4, &p) == Status::Ok);
  CHECK(p.elem_size == 4 && p.block_size == 0 && p.compression == kBshufCompressLz4);
  CHECK(bitshuffle_params(6, zstd6, &p) == Status::Ok);
  CHECK(p.elem_size == 2 && p.block_size == 256 && p.compression == kBshufCompressZstd && p.zstd_level == 6);
  CHECK(bitshuffle_params(6, zstd0, &p) == Status::Ok);
  CHECK_EQ(p.zstd_level, 3);  // 0 is zstd's default level
  unsigned plain[3] = {0, 3, 8};
  CHECK(bitshuffle_params(3, plain, &p) == Status::Ok);
  CHECK(p.compression == kBshufCompressNone);
  unsigned two[2] = {0, 3}, zero_elem[5] = {0, 4, 0, 0, 2}, odd_block[5] = {0, 4, 4, 12, 2}, comp1[5] = {0, 4, 4, 0, 1};
  CHECK(bitshuffle_params(2, two, &p) == Status::InvalidArgument);
  CHECK(bitshuffle_params(5, zero_elem, &p) == Status::InvalidArgument);
  CHECK(bitshuffle_params(5, odd_block, &p) == Status::InvalidArgument);
  CHECK(bitshuffle_params(5, comp1, &p) == Status::InvalidArgument);
}

Bytes bshuf_enc(const BitshuffleParams& p, const Bytes& d) {
  Bytes out(bitshuffle_bound(p, d.size()));
  size_t len = 0;
  if (bitshuffle_encode(p, d.data(), d.size(), out.data(), out.size(), &len) != Status::Ok) return {};
  out.resize(len);
  return out;
}

TEST(bitshuffle_chunk_round_trip_layout_and_edge_sizes) {
  for (unsigned comp : {kBshufCompressNone, kBshufCompressLz4, kBshufCompressZstd}) {
    for (size_t elem : {1, 2, 4, 8, 3}) {
      for (size_t block : {0, 8, 64, 2048}) {
        for (size_t count : {1, 7, 8, 9, 63, 64, 65, 1000, 4099, 20003}) {
          BitshuffleParams p;
          p.elem_size = elem;
          p.block_size = block;
          p.compression = comp;
          p.zstd_level = 3;
          Bytes d = make_data(Kind((count + elem) % kKinds), count * elem, count * 7 + elem + comp);
          Bytes enc = bshuf_enc(p, d);
          CHECK(!enc.empty());
          CHECK(enc.size() <= bitshuffle_bound(p, d.size()));
          const size_t bs = block ? block : bitshuffle_default_block(elem);
          const size_t left = (count % 8) * elem;
          // the leftover elements are the last bytes, untransposed
          CHECK(std::equal(enc.end() - left, enc.end(), d.end() - left));
          if (comp == kBshufCompressNone) {
            CHECK_EQ(enc.size(), d.size());
            if (count >= 8 && count <= bs) {  // one block: the transpose of the first count - count % 8
              Bytes want = naive_bit_transpose(d, count - count % 8, elem);
              CHECK(std::equal(want.begin(), want.end(), enc.begin()));
            }
          } else {
            uint64_t total = 0;
            for (int i = 0; i < 8; ++i) total = (total << 8) | enc[i];
            uint32_t bb = (uint32_t(enc[8]) << 24) | (uint32_t(enc[9]) << 16) | (uint32_t(enc[10]) << 8) | enc[11];
            CHECK_EQ(total, uint64_t(d.size()));
            CHECK_EQ(size_t(bb), bs * elem);
          }
          Bytes out;
          CHECK(decode_bounded([&](const uint8_t* in, size_t n, uint8_t* o, size_t cap,
                                   size_t* len) { return bitshuffle_decode(p, in, n, o, cap, len); },
                               enc, d.size(), &out) == Status::Ok);
          CHECK(out == d);
          if (comp != kBshufCompressNone)
            CHECK(decode_bounded([&](const uint8_t* in, size_t n, uint8_t* o, size_t cap,
                                     size_t* len) { return bitshuffle_decode(p, in, n, o, cap, len); },
                                 enc, d.size() - 1, nullptr) == Status::OutputTooSmall);
        }
      }
    }
  }
  // A chunk that is not a whole number of elements is refused, as by the reference.
  BitshuffleParams p;
  p.elem_size = 4;
  Bytes d(10), out(64);
  size_t len = 0;
  CHECK(bitshuffle_encode(p, d.data(), d.size(), out.data(), out.size(), &len) == Status::InvalidArgument);
}

TEST(bitshuffle_lz4_blocks_are_lz4_compress_default_of_the_transposed_block) {
  BitshuffleParams p;
  p.elem_size = 4;
  p.block_size = 256;
  Bytes d = make_data(kFloats, 4 * 600, 11);  // 2 full blocks + 88-element block + 0 left
  Bytes enc = bshuf_enc(p, d);
  size_t pos = kBshufHeaderBytes, done = 0;
  for (size_t elems : {256, 256, 88}) {
    Bytes t(elems * 4), lz(LZ4_compressBound(int(elems * 4)));
    bit_transpose(d.data() + done, t.data(), elems, 4);
    int r = LZ4_compress_default(reinterpret_cast<const char*>(t.data()), reinterpret_cast<char*>(lz.data()),
                                 int(t.size()), int(lz.size()));
    uint32_t len =
        (uint32_t(enc[pos]) << 24) | (uint32_t(enc[pos + 1]) << 16) | (uint32_t(enc[pos + 2]) << 8) | enc[pos + 3];
    CHECK_EQ(int(len), r);
    CHECK(std::equal(lz.begin(), lz.begin() + r, enc.begin() + pos + 4));
    pos += 4 + len;
    done += elems * 4;
  }
  CHECK_EQ(pos, enc.size());
}

TEST(bitshuffle_hostile_headers_and_blocks) {
  auto dec = [](const BitshuffleParams& p) {
    return [p](const uint8_t* in, size_t n, uint8_t* o, size_t cap, size_t* len) {
      return bitshuffle_decode(p, in, n, o, cap, len);
    };
  };
  for (unsigned comp : {kBshufCompressLz4, kBshufCompressZstd}) {
    BitshuffleParams p;
    p.elem_size = 4;
    p.block_size = 64;
    p.compression = comp;
    Bytes d = make_data(kFloats, 4 * 1001, 5 + comp);
    Bytes enc = bshuf_enc(p, d), out;
    // a header claiming 1 GiB, or 2^64 - 1: refused before decoding
    Bytes big = enc;
    big[4] = 0x40;
    CHECK(decode_bounded(dec(p), big, d.size(), &out) == Status::OutputTooSmall);
    std::fill(big.begin(), big.begin() + 8, 0xFF);
    CHECK(decode_bounded(dec(p), big, d.size(), &out) == Status::OutputTooSmall);
    // total not a whole number of elements
    Bytes frac = enc;
    frac[7] ^= 1;
    CHECK(decode_bounded(dec(p), frac, d.size() + 8, &out) == Status::Corrupt);
    // block size not a multiple of 8 elements (12 elements of 4 bytes)
    Bytes odd = enc;
    odd[8] = odd[9] = odd[10] = 0;
    odd[11] = 48;
    CHECK(decode_bounded(dec(p), odd, d.size(), &out) == Status::Corrupt);
    // a block length pointing past the end; a trailing byte; the leftover cut short
    Bytes past = enc;
    past[12] = 0x7F;
    CHECK(decode_bounded(dec(p), past, d.size(), &out) == Status::Corrupt);
    Bytes longer = enc;
    longer.push_back(0);
    CHECK(decode_bounded(dec(p), longer, d.size(), &out) == Status::Corrupt);
    CHECK(decode_bounded(dec(p), Bytes(enc.begin(), enc.end() - 1), d.size(), &out) == Status::Corrupt);
    CHECK(decode_bounded(dec(p), Bytes{0, 0, 0}, d.size(), &out) == Status::Corrupt);
    // a block that decodes to more than the block size: Corrupt, not an overflow
    BitshuffleParams whole = p;
    whole.block_size = 0;
    Bytes wide = bshuf_enc(whole, d);               // 1000 elements in one block
    for (int i = 8; i < 12; ++i) wide[i] = enc[i];  // but the header says 64
    CHECK(decode_bounded(dec(p), wide, d.size(), &out) == Status::Corrupt);
    hostile_inputs(dec(p), enc, d, false, 90 + comp, 300);
  }
}

H5V_TEST_MAIN()
