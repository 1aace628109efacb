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

// The stored code of x on grid g: u in [0, 2^b - 1] for sub-byte widths, the int8 byte for INT8.
static inline uint32_t grid_code(float x, const Grid& g, int bits, bool has_zero) {
    if (bits == 8) return (uint32_t)(uint8_t)(int8_t)round_half_even(grid_clamp(x / g.s, -127, 127));
    if (!has_zero) {
        const float lo = -(float)sym_zero(bits), hi = (float)sym_zero(bits) - 1;
        const float q = grid_clamp(round_half_even(grid_clamp(x / g.s, lo - 1, hi + 1)), lo, hi);
        return (uint32_t)((int)q + sym_zero(bits));
    }
    const float maxq = (float)code_max(bits);
    return (uint32_t)grid_clamp(round_half_even(grid_clamp(x / g.s, -maxq - 1, maxq + 1)) + (float)g.z, 0, maxq);
}

// What a stored code dequantizes to (dequant_at's float: integer level times the scale).
static inline float grid_value(uint32_t code, const Grid& g, int bits) {
    const int level = bits == 8 ? (int)(int8_t)(uint8_t)code : (int)code - g.z;
    return (float)level * g.s;
}

}  // namespace qb::quant
