// rng.h: xorshift64*, the deterministic generator behind the synthetic weights and activations
// of the kernel tests and the CUDA bench (CPU and GPU alike), defined once so that a seed means
// the same data in a test, a benchmark and a bug report. Not for anything statistical.
#pragma once
#include <cstdint>

namespace qb {

struct Rng {
    uint64_t s;
    explicit Rng(uint64_t seed) : s(seed * 0x9E3779B97F4A7C15ull + 1) {}
    uint64_t next() {
        s ^= s >> 12;
        s ^= s << 25;
        s ^= s >> 27;
        return s * 2685821657736338717ull;
    }
    float uniform() { return (float)((next() >> 40) * (1.0 / 16777216.0)) * 2.0f - 1.0f; }   // [-1, 1)
};

}  // namespace qb
