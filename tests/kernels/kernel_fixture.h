// kernel_fixture.h: deterministic random data and exactly-sized quantized storage for the
// kernel and format tests. Each part of a QuantizedMatrix gets its own vector of exactly the
// format's size, so AddressSanitizer flags any kernel read past the end of q, scales or zeros
// (plan_storage's aligned single buffer would hide it in padding).
#pragma once
#include <cstdint>
#include <vector>

#include "qformat.h"
#include "rng.h"

namespace qbt {

using qb::Rng;   // shared/rng.h

// Weight-like data: mostly small values with a few outliers per row (what makes group size
// matter), plus an exact zero here and there.
inline std::vector<float> random_matrix(int rows, int cols, uint64_t seed, float scale = 1.0f) {
    Rng r(seed);
    std::vector<float> v((size_t)rows * cols);
    for (float& x : v) {
        const uint64_t u = r.next();
        x = r.uniform() * scale;
        if ((u & 63) == 0) x *= 8;
        if ((u & 255) == 1) x = 0;
    }
    return v;
}

struct QStore {
    qb::QuantizedMatrix m;
    std::vector<uint8_t> q, scales, zeros;
    QStore() = default;
    QStore(const QStore&) = delete;
    QStore& operator=(const QStore&) = delete;
};

// Allocates exact-size parts for (N, K, bits, group, zero) and quantizes W into them.
// group 0 = per-channel.
inline bool make_quantized(QStore& s, const float* W, int N, int K, int bits, int group, bool zero,
                           qb::ScaleType st = qb::ScaleType::f16) {
    s.m = qb::QuantizedMatrix{};
    s.m.rows = N;
    s.m.cols = K;
    s.m.bits = bits;
    s.m.group = group == 0 ? K : group;
    s.m.has_zero = zero;
    s.m.scale_type = st;
    if (qb::check_format(s.m) != qb::FormatError::ok) return false;
    s.q.assign(qb::q_bytes(s.m), 0xAA);
    s.scales.assign(qb::scale_bytes(s.m), 0xAA);
    s.zeros.assign(qb::zero_bytes(s.m), 0xAA);
    s.m.q = s.q.data();
    s.m.scales = s.scales.data();
    s.m.zeros = zero ? s.zeros.data() : nullptr;
    return qb::quantize_ref(W, s.m);
}

}  // namespace qbt
