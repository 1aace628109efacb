// random_quant.h: stored quantized weights with random contents (every code pattern, scales of
// a realistic size, random zero points) in qformat.h's layout, for the CUDA bench and the GPU
// tests: one generator, so a seed gives the same matrix in a benchmark row and in a test.
#pragma once
#include <cstdint>
#include <vector>

#include "qformat.h"
#include "rng.h"

namespace qb {

struct OwnedQuantized {   // a QuantizedMatrix with owned host parts
    QuantizedMatrix w;
    std::vector<uint8_t> q, scales, zeros;
};

// group 0: per-channel (group = K).
inline void random_quantized(OwnedQuantized* h, int N, int K, int bits, int group, bool zero, ScaleType st, uint64_t seed) {
    h->w = QuantizedMatrix{};
    h->w.rows = N;
    h->w.cols = K;
    h->w.bits = bits;
    h->w.group = group == 0 ? K : group;
    h->w.has_zero = zero;
    h->w.scale_type = st;
    Rng r(seed);
    h->q.resize(q_bytes(h->w));
    for (size_t i = 0; i < h->q.size(); i += 8) {
        const uint64_t v = r.next();
        for (size_t j = 0; j < 8 && i + j < h->q.size(); ++j) h->q[i + j] = (uint8_t)(v >> (8 * j));
    }
    if (bits == 8)
        for (auto& b : h->q)
            if (b == 0x80) b = 0x81;   // qformat's INT8 range is [-127, 127]
    h->scales.resize(scale_bytes(h->w));
    const size_t ns = (size_t)N * groups(h->w);
    for (size_t i = 0; i < ns; ++i) {
        const float base = bits == 8 ? 0.0005f : 0.004f;
        const float s = base * (1.0f + 3.0f * (r.uniform() * 0.5f + 0.5f));
        if (st == ScaleType::f32) reinterpret_cast<float*>(h->scales.data())[i] = s;
        else reinterpret_cast<uint16_t*>(h->scales.data())[i] = f32_to_fp16(s);
    }
    h->zeros.assign(zero_bytes(h->w), 0);
    if (zero)
        for (size_t i = 0; i < ns; ++i) set_packed(h->zeros.data(), bits, i, (uint32_t)(r.next() >> 60));
    h->w.q = h->q.data();
    h->w.scales = h->scales.data();
    h->w.zeros = zero ? h->zeros.data() : nullptr;
}

}  // namespace qb
