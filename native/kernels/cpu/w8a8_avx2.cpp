// w8a8_avx2.cpp: W8A8 GEMM with AVX2, int32 accumulation.
//
// vpmaddubsw multiplies unsigned bytes by signed bytes and adds adjacent pairs into int16
// *with saturation*. The +128 trick of the VNNI kernel would overflow here (255 x 127 x 2 =
// 64770 > 32767), so this path uses the sign trick instead:
//     |w| (unsigned, <= 128)  x  sign(x, w) (x negated where w < 0, zeroed where w == 0)
// which is w x x exactly, and a pair is at most 2 x 128 x 127 = 32512 < 32767: no
// saturation, for any int8 weight and activations in [-127, 127] (the quantizer's range).
// vpmaddwd with ones then widens the pairs to int32. Activation quantization is the
// reference rule in AVX2 (bit-identical results, as for VNNI).
#include "simd.h"

#include <cstring>

#include "kernel_abi.h"

namespace qb::cpu::avx2 {
namespace {

template <int NB, int MB>
void tile(const GemmArgs& a, int n0, int m0) {
    const QuantizedMatrix& W = *a.W;
    const int K = a.K;
    const __m256i ones = _mm256_set1_epi16(1);
    __m256i acc[NB][MB];
    const int8_t* rows[NB];
#pragma GCC unroll 16
    for (int r = 0; r < NB; ++r) {
        rows[r] = reinterpret_cast<const int8_t*>(W.q) + (size_t)(n0 + r) * (size_t)K;
#pragma GCC unroll 16
        for (int j = 0; j < MB; ++j) acc[r][j] = _mm256_setzero_si256();
    }
    int k = 0;
    for (; k + 32 <= K; k += 32) {
#pragma GCC unroll 16
        for (int r = 0; r < NB; ++r) {
            const __m256i w = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(rows[r] + k));
            const __m256i aw = _mm256_abs_epi8(w);
#pragma GCC unroll 16
            for (int j = 0; j < MB; ++j) {
                const __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a.Xq + (size_t)(m0 + j) * a.ldq + k));
                const __m256i p = _mm256_maddubs_epi16(aw, _mm256_sign_epi8(x, w));
                acc[r][j] = _mm256_add_epi32(acc[r][j], _mm256_madd_epi16(p, ones));
            }
        }
    }
    for (int r = 0; r < NB; ++r) {
        const float sw = scale_at(W, n0 + r, 0);
        for (int j = 0; j < MB; ++j) {
            const __m128i h = _mm_add_epi32(_mm256_castsi256_si128(acc[r][j]), _mm256_extracti128_si256(acc[r][j], 1));
            const __m128i h2 = _mm_add_epi32(h, _mm_shuffle_epi32(h, 0x4e));
            int32_t s = _mm_cvtsi128_si32(_mm_add_epi32(h2, _mm_shuffle_epi32(h2, 0xb1)));
            const int8_t* xq = a.Xq + (size_t)(m0 + j) * a.ldq;
            for (int kk = k; kk < K; ++kk) s += (int32_t)rows[r][kk] * (int32_t)xq[kk];
            a.Y[(size_t)(m0 + j) * a.N + n0 + r] = ((float)s * a.sx[m0 + j]) * sw;
        }
    }
}

}  // namespace

void w8a8_rows(const GemmArgs& a, int n0, int n1) {
    int n = n0;
    for (; n + kRowBlock <= n1; n += kRowBlock)
        for (int m = 0; m < a.M; m += 2) {
            if (a.M - m >= 2) tile<kRowBlock, 2>(a, n, m);
            else tile<kRowBlock, 1>(a, n, m);
        }
    for (; n < n1; ++n)
        for (int m = 0; m < a.M; m += 2) {
            if (a.M - m >= 2) tile<1, 2>(a, n, m);
            else tile<1, 1>(a, n, m);
        }
}

void w8a8_quantize_acts(const GemmArgs& a, int m0, int m1) {
    const int K = a.K;
    const __m256 absmask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    for (int m = m0; m < m1; ++m) {
        const float* x = a.X + (size_t)m * K;
        int8_t* q = a.Xq + (size_t)m * a.ldq;
        __m256 mx = _mm256_setzero_ps();
        int k = 0;
        for (; k + 8 <= K; k += 8) mx = _mm256_max_ps(mx, _mm256_and_ps(_mm256_loadu_ps(x + k), absmask));
        float lanes[8];
        _mm256_storeu_ps(lanes, mx);
        float amax = 0;
        for (float v : lanes) amax = v > amax ? v : amax;
        for (int kk = k; kk < K; ++kk) amax = (x[kk] < 0 ? -x[kk] : x[kk]) > amax ? (x[kk] < 0 ? -x[kk] : x[kk]) : amax;
        std::memset(q, 0, (size_t)a.ldq);
        if (amax == 0) {
            a.sx[m] = 0;
            a.xsum[m] = 0;
            continue;
        }
        const float inv_s = 127.0f / amax;
        const __m256 inv = _mm256_set1_ps(inv_s);
        const __m256i lo = _mm256_set1_epi32(-127), hi = _mm256_set1_epi32(127);
        __m256i sum = _mm256_setzero_si256();
        for (k = 0; k + 8 <= K; k += 8) {
            const __m256i i = _mm256_min_epi32(_mm256_max_epi32(_mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + k), inv)), lo), hi);
            sum = _mm256_add_epi32(sum, i);
            int32_t v[8];
            _mm256_storeu_si256(reinterpret_cast<__m256i*>(v), i);
            for (int t = 0; t < 8; ++t) q[k + t] = (int8_t)v[t];
        }
        int32_t v[8];
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(v), sum);
        int32_t total = 0;
        for (int32_t t : v) total += t;
        for (; k < K; ++k) {   // tail: the reference's scalar rule
            const float f = x[k] * inv_s;
            const float c = f < -127 ? -127 : (f > 127 ? 127 : f);
            q[k] = (int8_t)round_half_even(c);
            total += q[k];
        }
        a.sx[m] = amax / 127.0f;
        a.xsum[m] = total;
    }
}

}  // namespace qb::cpu::avx2
