// Quick single-thread codec throughput on 64 MiB of float32 noise (normal,
// sigma 0.02 — like trained weights), processed in 1 MiB chunks as h5vault
// stores compressed tensors. Build (-O3) and run:
//
//   bash bench/native.sh native_codecs
//
// MB/s are of uncompressed bytes (1 MB = 1e6 bytes), best of 3 runs.
#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <random>
#include <vector>

#include "codecs/deflate.h"
#include "codecs/fletcher32.h"
#include "codecs/lz4.h"
#include "codecs/lzf.h"
#include "codecs/shuffle.h"

using namespace h5v::codecs;
using Bytes = std::vector<uint8_t>;

namespace {

constexpr size_t kTotal = size_t(64) << 20;
constexpr size_t kChunk = size_t(1) << 20;

double best_mbps(size_t bytes, const std::function<void()>& fn) {
  double best = 1e30;
  for (int r = 0; r < 3; ++r) {
    auto t0 = std::chrono::steady_clock::now();
    fn();
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (s < best) best = s;
  }
  return double(bytes) / best / 1e6;
}

struct Encoded {
  std::vector<Bytes> chunks;
  size_t total = 0;
};

template <typename Enc>
Encoded encode_all(const Bytes& src, Enc enc) {
  Encoded e;
  for (size_t off = 0; off < src.size(); off += kChunk) {
    Bytes out(kChunk * 2 + 1024);
    size_t len = 0;
    if (enc(src.data() + off, kChunk, out.data(), out.size(), &len) != Status::Ok) {
      std::fprintf(stderr, "encode failed\n");
      std::exit(1);
    }
    out.resize(len);
    e.total += len;
    e.chunks.push_back(std::move(out));
  }
  return e;
}

void run(const char* label, const Bytes& src) {
  Bytes dst(kTotal);
  auto lzf_enc = [](const uint8_t* in, size_t n, uint8_t* out, size_t cap, size_t* len) {
    return lzf_encode(in, n, out, cap, len);
  };
  auto lz4_enc = [](const uint8_t* in, size_t n, uint8_t* out, size_t cap, size_t* len) {
    return lz4_encode(in, n, 0, out, cap, len);
  };
  auto gz1_enc = [](const uint8_t* in, size_t n, uint8_t* out, size_t cap, size_t* len) {
    return deflate_encode(in, n, 1, out, cap, len);
  };
  struct Codec {
    const char* name;
    std::function<Status(const uint8_t*, size_t, uint8_t*, size_t, size_t*)> enc, dec;
  } codecs[] = {{"lzf", lzf_enc, lzf_decode}, {"lz4", lz4_enc, lz4_decode}, {"deflate-1", gz1_enc, deflate_decode}};
  std::printf("%s\n", label);
  for (auto& c : codecs) {
    Encoded e;
    double enc = best_mbps(kTotal, [&] { e = encode_all(src, c.enc); });
    double dec = best_mbps(kTotal, [&] {
      for (size_t i = 0; i < e.chunks.size(); ++i) {
        size_t len = 0;
        if (c.dec(e.chunks[i].data(), e.chunks[i].size(), dst.data() + i * kChunk, kChunk, &len) != Status::Ok) {
          std::fprintf(stderr, "decode failed\n");
          std::exit(1);
        }
      }
    });
    bool same = std::memcmp(dst.data(), src.data(), kTotal) == 0;
    std::printf("  %-10s ratio %.3f  encode %8.0f MB/s  decode %8.0f MB/s%s\n", c.name,
                double(e.total) / double(kTotal), enc, dec, same ? "" : "  MISMATCH");
  }
}

}  // namespace

int main() {
  Bytes noise(kTotal);
  std::mt19937 rng(1);
  std::normal_distribution<float> nd(0.0f, 0.02f);
  for (size_t i = 0; i < kTotal; i += 4) {
    float f = nd(rng);
    std::memcpy(&noise[i], &f, 4);
  }
  Bytes shuffled(kTotal), back(kTotal);
  double sh = best_mbps(kTotal, [&] {
    for (size_t off = 0; off < kTotal; off += kChunk) shuffle(noise.data() + off, shuffled.data() + off, kChunk, 4);
  });
  double un = best_mbps(kTotal, [&] {
    for (size_t off = 0; off < kTotal; off += kChunk) unshuffle(shuffled.data() + off, back.data() + off, kChunk, 4);
  });
  double sh8 = best_mbps(kTotal, [&] {
    for (size_t off = 0; off < kTotal; off += kChunk) shuffle(noise.data() + off, back.data() + off, kChunk, 8);
  });
  double sh2 = best_mbps(kTotal, [&] {
    for (size_t off = 0; off < kTotal; off += kChunk) shuffle(noise.data() + off, back.data() + off, kChunk, 2);
  });
  double mc = best_mbps(kTotal, [&] { std::memcpy(back.data(), noise.data(), kTotal); });
  uint32_t sink = 0;
  double fl = best_mbps(kTotal, [&] { sink ^= fletcher32(noise.data(), kTotal); });
  std::printf("float32 noise, 64 MiB in 1 MiB chunks (memcpy %.0f MB/s)\n", mc);
  std::printf("  shuffle/4 %.0f MB/s  unshuffle/4 %.0f MB/s  shuffle/2 %.0f MB/s  shuffle/8 %.0f MB/s\n", sh, un, sh2,
              sh8);
  std::printf("  fletcher32 %.0f MB/s (%08x)\n", fl, sink);
  run("raw float32 noise:", noise);
  run("shuffled float32 noise:", shuffled);
  return 0;
}
