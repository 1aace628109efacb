// w8a8_avx512vnni.cpp: W8A8 GEMM with AVX-512 VNNI (vpdpbusd), int32 accumulation.
//
// vpdpbusd multiplies *unsigned* bytes by *signed* bytes (4 products summed per dword lane,
// no saturation: the add wraps, and our bound keeps it in range). Both our operands are
// signed, so the weights are made unsigned with the +128 trick:
//     u = w XOR 0x80 = w + 128 in [1, 255]   (one vpxorq per 64 weights, shared by the MB
//                                             activation rows of the tile)
//     sum_k u_k x_k = sum_k w_k x_k + 128 sum_k x_k
// and the correction 128 x sum_k x_k is per *activation* row, computed once while quantizing
// the activations (GemmArgs::xsum). Range: |sum u x| <= K x 255 x 127 < 2^31 for
// K <= 65536 (kW8A8MaxK), so every partial sum is exact.
// Activations are quantized per row with the reference rule (absmax, x * (127 / absmax),
// round to nearest even via vcvtps2dq under the default MXCSR, clamp to [-127, 127]) into
// rows padded with zeros to a multiple of 64, so the K tail needs a mask on the weights only;
// the result is bit-identical to matmul_w8a8_ref.
#include "simd.h"

#include <cstring>

#include "kernel_abi.h"

namespace qb::cpu::avx512vnni {
namespace {

template <int NB, int MB>
void tile(const GemmArgs& a, int n0, int m0) {
    const QuantizedMatrix& W = *a.W;
    const int K = a.K;
    const __m512i flip = _mm512_set1_epi8((char)0x80);
    __m512i acc[NB][MB];
    const uint8_t* rows[NB];
#pragma GCC unroll 16
    for (int r = 0; r < NB; ++r) {
        rows[r] = W.q + (size_t)(n0 + r) * (size_t)K;
#pragma GCC unroll 16
        for (int j = 0; j < MB; ++j) acc[r][j] = _mm512_setzero_si512();
    }
    auto step = [&](int k, __mmask64 mask) {
        __m512i wu[NB];
#pragma GCC unroll 16
        for (int r = 0; r < NB; ++r) wu[r] = _mm512_xor_si512(_mm512_maskz_loadu_epi8(mask, rows[r] + k), flip);
#pragma GCC unroll 16
        for (int j = 0; j < MB; ++j) {
            const __m512i xv = _mm512_loadu_si512(a.Xq + (size_t)(m0 + j) * a.ldq + k);
#pragma GCC unroll 16
            for (int r = 0; r < NB; ++r) acc[r][j] = _mm512_dpbusd_epi32(acc[r][j], wu[r], xv);
        }
    };
    int k = 0;
    for (; k + 64 <= K; k += 64) step(k, ~(__mmask64)0);
    // Masked-off weight bytes load as 0 and flip to 128, but meet zero activations (padding).
    if (k < K) step(k, ((__mmask64)1 << (K - k)) - 1);
    for (int r = 0; r < NB; ++r) {
        const float sw = scale_at(W, n0 + r, 0);
        for (int j = 0; j < MB; ++j) {
            const int32_t s = _mm512_reduce_add_epi32(acc[r][j]) - 128 * a.xsum[m0 + j];
            a.Y[(size_t)(m0 + j) * a.N + n0 + r] = ((float)s * a.sx[m0 + j]) * sw;
        }
    }
}

template <int NB>
void tile_m(const GemmArgs& a, int n, int m, int mb) {
    switch (mb) {
        case 1: tile<NB, 1>(a, n, m); break;
        case 2: tile<NB, 2>(a, n, m); break;
        case 3: tile<NB, 3>(a, n, m); break;
        default: tile<NB, 4>(a, n, m); break;
    }
}

}  // namespace

void w8a8_rows(const GemmArgs& a, int n0, int n1) {
    int n = n0;
    for (; n + kRowBlock <= n1; n += kRowBlock)
        for (int m = 0; m < a.M; m += 4) tile_m<kRowBlock>(a, n, m, a.M - m);
    for (; n < n1; ++n)
        for (int m = 0; m < a.M; m += 4) tile_m<1>(a, n, m, a.M - m);
}

void w8a8_quantize_acts(const GemmArgs& a, int m0, int m1) {
    const int K = a.K;
    for (int m = m0; m < m1; ++m) {
        const float* x = a.X + (size_t)m * K;
        int8_t* q = a.Xq + (size_t)m * a.ldq;
        __m512 mx = _mm512_setzero_ps();
        int k = 0;
        for (; k + 16 <= K; k += 16) mx = _mm512_max_ps(mx, _mm512_abs_ps(_mm512_loadu_ps(x + k)));
        const __mmask16 tail = (__mmask16)((1u << (K - k)) - 1);
        if (k < K) mx = _mm512_max_ps(mx, _mm512_abs_ps(_mm512_maskz_loadu_ps(tail, x + k)));
        const float amax = _mm512_reduce_max_ps(mx);
        if (amax == 0) {
            std::memset(q, 0, (size_t)a.ldq);
            a.sx[m] = 0;
            a.xsum[m] = 0;
            continue;
        }
        const __m512 inv = _mm512_set1_ps(127.0f / amax);
        const __m512i lo = _mm512_set1_epi32(-127), hi = _mm512_set1_epi32(127);
        __m512i sum = _mm512_setzero_si512();
        auto quant16 = [&](__m512 v, int8_t* dst) {
            const __m512i i = _mm512_min_epi32(_mm512_max_epi32(_mm512_cvtps_epi32(_mm512_mul_ps(v, inv)), lo), hi);
            sum = _mm512_add_epi32(sum, i);
            _mm_storeu_si128(reinterpret_cast<__m128i*>(dst), _mm512_cvtepi32_epi8(i));
        };
        for (k = 0; k + 16 <= K; k += 16) quant16(_mm512_loadu_ps(x + k), q + k);
        if (k < K) {   // masked-off lanes load 0 and quantize to 0: the padding
            quant16(_mm512_maskz_loadu_ps(tail, x + k), q + k);
            k += 16;
        }
        std::memset(q + k, 0, (size_t)(a.ldq - k));
        a.sx[m] = amax / 127.0f;
        a.xsum[m] = _mm512_reduce_add_epi32(sum);
    }
}

}  // namespace qb::cpu::avx512vnni
