// The one seeded generator of the native tests (splitmix64, Steele, Lea and
// Flood 2014): the same seed gives the same bytes on every machine, compiler and
// run, so a failing case names its seed and replays exactly (std::mt19937's
// distributions differ between standard libraries). Not for cryptography.
#pragma once
#include <cstdint>

namespace h5v::test {

struct Rng {
  uint64_t s;
  explicit Rng(uint64_t seed) : s(seed * 0x9E3779B97F4A7C15ull + 1) {}
  uint64_t next() {
    uint64_t z = (s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  // Uniform enough in [0, n) for test data (modulo bias is irrelevant here); 0 when n is 0.
  uint64_t below(uint64_t n) { return n ? next() % n : 0; }
};

}  // namespace h5v::test
