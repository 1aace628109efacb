// qformat.cpp: the scalar reference of the quantized formats (see qformat.h for the formats,
// the rounding rules and the accumulation contract). Plain loops, no SIMD, no libm: the
// answer every backend is compared against.
#include "qformat.h"

#include <vector>

namespace qb {

namespace {

float fabs_(float v) { return v < 0 ? -v : v; }
float clampf(float v, float lo, float hi) { return v < lo ? lo : (v > hi ? hi : v); }

// Quantizes one group (n, g) of `len` values starting at src.
void quantize_group(const float* src, int len, QuantizedMatrix& w, int64_t n, int64_t g) {
    const int b = w.bits;
    const size_t si = (size_t)n * (size_t)groups(w) + (size_t)g;
    uint8_t* row = w.q + (size_t)n * row_bytes(w);
    const int64_t k0 = g * (int64_t)w.group;
    float s = 1;   // the stored scale, as float
    auto store_scale = [&](float want) {
        if (w.scale_type == ScaleType::f32) {
            static_cast<float*>(w.scales)[si] = want;
            s = want;
        } else {
            const uint16_t h = fp16_scale_up(want);
            static_cast<uint16_t*>(w.scales)[si] = h;
            s = fp16_to_f32(h);
        }
    };
    if (!w.has_zero) {
        float amax = 0;
        for (int i = 0; i < len; ++i) amax = fabs_(src[i]) > amax ? fabs_(src[i]) : amax;
        if (b == 8) {
            store_scale(amax > 0 ? amax / 127.0f : 1.0f);
            for (int i = 0; i < len; ++i)
                row[k0 + i] = (uint8_t)(int8_t)round_half_even(clampf(src[i] / s, -127, 127));
            return;
        }
        const float half_range = (float)sym_zero(b) - 0.5f;   // 7.5 for INT4
        store_scale(amax > 0 ? amax / half_range : 1.0f);
        const float lo = -(float)sym_zero(b), hi = (float)sym_zero(b) - 1;
        for (int i = 0; i < len; ++i) {
            // Clamp before rounding (keeps |v| < 2^22 for round_half_even) and after (the +half
            // step of absmax rounds one past the last code).
            const float q = clampf(round_half_even(clampf(src[i] / s, lo - 1, hi + 1)), lo, hi);
            set_packed(row, b, (size_t)(k0 + i), (uint32_t)((int)q + sym_zero(b)));
        }
        return;
    }
    float lo = 0, hi = 0;
    for (int i = 0; i < len; ++i) {
        lo = src[i] < lo ? src[i] : lo;
        hi = src[i] > hi ? src[i] : hi;
    }
    if (lo == 0 && hi == 0) { lo = -1; hi = 1; }
    const float maxq = (float)code_max(b);
    store_scale((hi - lo) / maxq);
    const float z = clampf(round_half_even(clampf(-lo / s, 0, maxq)), 0, maxq);
    set_packed(w.zeros, b, si, (uint32_t)z);
    for (int i = 0; i < len; ++i) {
        const float u = clampf(round_half_even(clampf(src[i] / s, -maxq - 1, maxq + 1)) + z, 0, maxq);
        set_packed(row, b, (size_t)(k0 + i), (uint32_t)u);
    }
}

int resolve_end(int n_end, int rows) { return n_end < 0 || n_end > rows ? rows : n_end; }

}  // namespace

bool quantize_ref(const float* W, QuantizedMatrix& w) {
    if (check_format(w) != FormatError::ok || !w.q || !w.scales || (w.has_zero && !w.zeros)) return false;
    // Padding bits of each row (per-channel, K b not a multiple of 8) and of the zero stream are 0.
    for (size_t i = 0; i < q_bytes(w); ++i) w.q[i] = 0;
    for (size_t i = 0; i < zero_bytes(w); ++i) w.zeros[i] = 0;
    for (int64_t n = 0; n < w.rows; ++n)
        for (int64_t g = 0; g < groups(w); ++g)
            quantize_group(W + n * (int64_t)w.cols + g * w.group, w.group, w, n, g);
    return true;
}

bool dequantize_ref(const QuantizedMatrix& w, float* out) {
    if (check_format(w) != FormatError::ok) return false;
    for (int64_t n = 0; n < w.rows; ++n)
        for (int64_t k = 0; k < w.cols; ++k) out[n * w.cols + k] = dequant_at(w, n, k);
    return true;
}

bool matmul_ref(const float* X, int M, const QuantizedMatrix& w, float* Y, int n_begin, int n_end) {
    if (check_format(w) != FormatError::ok || M < 0) return false;
    n_end = resolve_end(n_end, w.rows);
    std::vector<float> row((size_t)w.cols);
    for (int n = n_begin; n < n_end; ++n) {
        for (int64_t k = 0; k < w.cols; ++k) row[(size_t)k] = dequant_at(w, n, k);
        for (int m = 0; m < M; ++m) {
            const float* x = X + (size_t)m * (size_t)w.cols;
            double acc = 0;
            for (int64_t k = 0; k < w.cols; ++k) acc += (double)x[k] * (double)row[(size_t)k];
            Y[(size_t)m * (size_t)w.rows + (size_t)n] = (float)acc;
        }
    }
    return true;
}

void matmul_f32_ref(const float* X, int M, const float* W, int N, int K, float* Y, int n_begin, int n_end) {
    n_end = resolve_end(n_end, N);
    for (int n = n_begin; n < n_end; ++n)
        for (int m = 0; m < M; ++m) {
            double acc = 0;
            for (int k = 0; k < K; ++k) acc += (double)X[(size_t)m * K + k] * (double)W[(size_t)n * K + k];
            Y[(size_t)m * N + n] = (float)acc;
        }
}

void quantize_act_ref(const float* x, int K, int8_t* q, float* scale) {
    float amax = 0;
    for (int k = 0; k < K; ++k) amax = fabs_(x[k]) > amax ? fabs_(x[k]) : amax;
    if (amax == 0) {
        for (int k = 0; k < K; ++k) q[k] = 0;
        *scale = 0;
        return;
    }
    const float inv = 127.0f / amax;
    for (int k = 0; k < K; ++k) q[k] = (int8_t)round_half_even(clampf(x[k] * inv, -127, 127));
    *scale = amax / 127.0f;
}

bool fixed16_round(const float* x, int K, float* out) {
    for (int k = 0; k < K; ++k)
        if (!(fabs_(x[k]) <= 3.4028235e38f)) return false;
    for (int k0 = 0; k0 < K; k0 += kFixed16Block) {
        const int k1 = k0 + kFixed16Block < K ? k0 + kFixed16Block : K;
        float amax = 0;
        for (int k = k0; k < k1; ++k) amax = fabs_(x[k]) > amax ? fabs_(x[k]) : amax;
        const int e = fixed16_exp(amax);
        const float up = pow2f(e), down = pow2f(-e);
        for (int k = k0; k < k1; ++k) out[k] = round_half_even(x[k] * up) * down;
    }
    return true;
}

bool matmul_w8a8_ref(const float* X, int M, const QuantizedMatrix& w, float* Y, int n_begin, int n_end) {
    if (check_format(w) != FormatError::ok || w.bits != 8 || w.cols > kW8A8MaxK || M < 0) return false;
    n_end = resolve_end(n_end, w.rows);
    const size_t K = (size_t)w.cols;
    std::vector<int8_t> xq((size_t)M * K);
    std::vector<float> sx((size_t)M);
    for (int m = 0; m < M; ++m) quantize_act_ref(X + (size_t)m * K, (int)K, xq.data() + (size_t)m * K, &sx[(size_t)m]);
    for (int n = n_begin; n < n_end; ++n) {
        const int8_t* wr = reinterpret_cast<const int8_t*>(w.q + (size_t)n * K);
        const float sw = scale_at(w, n, 0);
        for (int m = 0; m < M; ++m) {
            const int8_t* xr = xq.data() + (size_t)m * K;
            int32_t acc = 0;
            for (size_t k = 0; k < K; ++k) acc += (int32_t)xr[k] * (int32_t)wr[k];
            Y[(size_t)m * (size_t)w.rows + (size_t)n] = ((float)acc * sx[(size_t)m]) * sw;
        }
    }
    return true;
}

}  // namespace qb
