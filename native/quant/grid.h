// grid.h: the quantization grid of shared/qformat.h, one group at a time, for the quantizers
// that choose each weight's code themselves (GPTQ, LDLQ, AWQ's search). It repeats
// qformat.cpp's quantize_group float operation for float operation (same divisions, clamps,
// round-half-even and FP16 scale rounded up), so a code chosen here is the code quantize_ref
// would store for the same group values, and (code - zero) x scale is what dequant_at returns.
// tests/quant/test_rtn.cpp checks it against quantize_ref on thousands of random groups.
//
// Internal header; static inline (it is compiled into units with different -m flags).
#pragma once
#include <cstddef>
#include <cstdint>

#include "qformat.h"

namespace qb::quant {

// The grid of one (row, group): the stored FP16 scale (and its float value) and the zero:
// the stored zero (asymmetric), 2^(b-1) (symmetric sub-byte) or 0 (INT8).
struct Grid {
    float s = 1;
    uint16_t s_bits = 0x3c00;
    int32_t z = 0;
};

static inline float grid_abs(float v) { return v < 0 ? -v : v; }
static inline float grid_clamp(float v, float lo, float hi) { return v < lo ? lo : (v > hi ? hi : v); }

// The grid quantize_ref gives `len` values read at v[0], v[stride], ... (FP16 scales).
static inline Grid grid_for(const float* v, int len, size_t stride, int bits, bool has_zero) {
    Grid g;
    auto set_scale = [&](float want) {
        g.s_bits = fp16_scale_up(want);
        g.s = fp16_to_f32(g.s_bits);
    };
    if (!has_zero) {
        float amax = 0;
        for (int i = 0; i < len; ++i) {
            const float a = grid_abs(v[(size_t)i * stride]);
            amax = a > amax ? a : amax;
        }
        if (bits == 8) {
            set_scale(amax > 0 ? amax / 127.0f : 1.0f);
            g.z = 0;
            return g;
        }
        set_scale(amax > 0 ? amax / ((float)sym_zero(bits) - 0.5f) : 1.0f);
        g.z = sym_zero(bits);
        return g;
    }
    float lo = 0, hi = 0;
    for (int i = 0; i < len; ++i) {
        const float x = v[(size_t)i * stride];
        lo = x < lo ? x : lo;
        hi = x > hi ? x : hi;
    }
    if (lo == 0 && hi == 0) { lo = -1; hi = 1; }
    const float maxq = (float)code_max(bits);
    set_scale((hi - lo) / maxq);
    g.z = (int32_t)grid_clamp(round_half_even(grid_clamp(-lo / g.s, 0, maxq)), 0, maxq);
    return g;
}

// The element formula of quantize_group, written without branches so that loops over many
// weights vectorize (the quantizers run it on every weight of every candidate):
//   u = clamp(rne(clamp(x / s, a, b)) + z, lo, hi)
// with (a, b, lo, hi, z) = (-2^(b-1) - 1, 2^(b-1), -2^(b-1), 2^(b-1) - 1, 0) symmetric sub-byte
// (u is the signed level q), (-maxq - 1, maxq + 1, 0, maxq, zero) asymmetric (u is the stored
// code), (-127, 127, -127, 127, 0) INT8. Same operations in the same order as qformat.cpp; the
// ternaries compile to min/max and rne is round_half_even's magic-number addition applied to
// |v| with the sign copied back (identical for |v| < 2^22, which the clamp guarantees, except
// that -0 stays -0: the integer codes are the same).
struct Lanes {
    float a, b, lo, hi;
    float off;   // stored code = u + off (2^(b-1) for symmetric sub-byte, else 0)
};

static inline Lanes lanes_for(int bits, bool has_zero) {
    if (bits == 8) return {-127, 127, -127, 127, 0};
    if (!has_zero) {
        const float lo = -(float)sym_zero(bits), hi = (float)sym_zero(bits) - 1;
        return {lo - 1, hi + 1, lo, hi, (float)sym_zero(bits)};
    }
    const float maxq = (float)code_max(bits);
    return {-maxq - 1, maxq + 1, 0, maxq, 0};
}

// The zero that enters the formula: the stored zero when asymmetric, else 0.
static inline float lane_zero(const Grid& g, bool has_zero) { return has_zero ? (float)g.z : 0.0f; }

static inline float lane_u(float x, float s, float z, const Lanes& l) {
    float v = x / s;
    v = v < l.a ? l.a : v;
    v = v > l.b ? l.b : v;
    const float m = 12582912.0f;   // 1.5 x 2^23 (round_half_even's magic number)
    v = __builtin_copysignf((__builtin_fabsf(v) + m) - m, v) + z;
    v = v < l.lo ? l.lo : v;
    v = v > l.hi ? l.hi : v;
    return v;
}

// The stored code of u (INT8: the two's-complement byte).
static inline uint32_t lane_code(float u, const Lanes& l) { return (uint32_t)((int)(u + l.off)) & 0xffu; }

// What it dequantizes to: (u - z) x s, dequant_at's integer level times the scale.
static inline float lane_value(float u, float s, float z) { return (u - z) * s; }

// One weight on grid g: its stored code, and its value.
static inline uint32_t grid_code(float x, const Grid& g, int bits, bool has_zero) {
    const Lanes l = lanes_for(bits, has_zero);
    return lane_code(lane_u(x, g.s, lane_zero(g, has_zero), l), l);
}

static inline float grid_value(uint32_t code, const Grid& g, int bits) {
    const int level = bits == 8 ? (int)(int8_t)(uint8_t)code : (int)code - g.z;
    return (float)level * g.s;
}

}  // namespace qb::quant
