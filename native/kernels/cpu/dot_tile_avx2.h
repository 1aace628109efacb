// dot_tile_avx2.h: the AVX2 (+FMA, F16C) twin of dot_tile_avx512.h for the weight-only
// families. Same formulation (dot products along K, weights streamed once, NB rows x MB
// activation rows per tile); differences forced by the ISA:
//   * 8 float lanes, so a 32-value chunk decodes to four vectors (w[0..3]);
//   * 16 registers, so a tile is NB = 4 rows x MB <= 2 activation rows (8 accumulators +
//     4 decoded vectors + 1 activation vector + constants) and each row is decoded and
//     consumed before the next;
//   * no 16-entry register LUT (vpermps indexes 8 lanes): the decoder returns integer codes
//     and dequantizes with (float)(u - z) x s: one convert, one subtract, one multiply per 8
//     weights, the same float as qformat.h's dequant_at().
// Internal linkage only (see dot_tile_avx512.h).
#pragma once
#include "simd.h"

#include "kernel_abi.h"

namespace qb::cpu::avx2 {
namespace {

// Decoder policy: kBits; RowState {float z, s} per (row, group); begin_group; codes(p, v[4])
// (four vectors of 8 integer codes in the lane order Xp matches); tail_weight; finish.
template <class Dec, int NB, int MB>
inline void tile(const GemmArgs& a, int n0, int m0, int kb0, int kb1, bool first_block) {
    const QuantizedMatrix& W = *a.W;
    const int K = a.K, G = W.group;
    const size_t rb = row_bytes(W);
    const int kfull = kb1 < K / kChunk * kChunk ? kb1 : K / kChunk * kChunk;
    constexpr int NA = MB == 1 ? 2 : 1;
    __m256 acc[NB][MB][NA];
#pragma GCC unroll 16
    for (int r = 0; r < NB; ++r)
#pragma GCC unroll 16
        for (int j = 0; j < MB; ++j)
#pragma GCC unroll 2
            for (int i = 0; i < NA; ++i) acc[r][j][i] = _mm256_setzero_ps();
    typename Dec::RowState st[NB];
    int next_group = kb0;
    for (int k = kb0; k < kfull; k += kChunk) {
        if (k >= next_group) {
            const int g = k / G;
            next_group = (g + 1) * G;
#pragma GCC unroll 16
            for (int r = 0; r < NB; ++r) Dec::begin_group(W, n0 + r, g, st[r]);
        }
        const size_t off = (size_t)k * Dec::kBits / 8;
#pragma GCC unroll 16
        for (int r = 0; r < NB; ++r)   // see kPrefetchBytes in dot_tile_avx512.h
            _mm_prefetch(reinterpret_cast<const char*>(W.q + (size_t)(n0 + r) * rb + off + 16384), _MM_HINT_T0);
#pragma GCC unroll 16
        for (int r = 0; r < NB; ++r) {
            __m256 w[4];
            Dec::decode(W.q + (size_t)(n0 + r) * rb + off, st[r], w);
#pragma GCC unroll 16
            for (int j = 0; j < MB; ++j) {
                const float* x = a.Xp + (size_t)(m0 + j) * K + k;
#pragma GCC unroll 4
                for (int i = 0; i < 4; ++i)
                    acc[r][j][i % NA] = _mm256_fmadd_ps(w[i], _mm256_loadu_ps(x + 8 * i), acc[r][j][i % NA]);
            }
        }
    }
    for (int r = 0; r < NB; ++r)
        for (int j = 0; j < MB; ++j) {
            __m256 v = acc[r][j][0];
            if (NA == 2) v = _mm256_add_ps(v, acc[r][j][NA - 1]);
            const __m128 h = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
            const __m128 h2 = _mm_add_ps(h, _mm_movehl_ps(h, h));
            float s = _mm_cvtss_f32(_mm_add_ss(h2, _mm_movehdup_ps(h2)));
            if (kb1 == K)
                for (int k = kfull; k < K; ++k) s += a.X[(size_t)(m0 + j) * K + k] * Dec::tail_weight(W, n0 + r, k);
            float& y = a.Y[(size_t)(m0 + j) * a.N + n0 + r];
            const float v2 = Dec::finish(W, n0 + r, s);
            y = first_block ? v2 : y + v2;
        }
}

template <class Dec, int NB>
inline void tile_m(const GemmArgs& a, int n, int m, int mb, int kb0, int kb1, bool first) {
    if (mb == 1) tile<Dec, NB, 1>(a, n, m, kb0, kb1, first);
    else tile<Dec, NB, 2>(a, n, m, kb0, kb1, first);
}

inline int k_block(int M, int K) {
    if (M <= 2) return K;
    const long kc = (long)(kXSliceBytes / (sizeof(float) * (size_t)M)) / kChunk * kChunk;
    return kc < 4 * kChunk ? 4 * kChunk : (kc > K ? K : (int)kc);
}

template <class Dec>
inline void rows_driver(const GemmArgs& a, int n0, int n1) {
    const int kc = k_block(a.M, a.K);
    for (int kb0 = 0; kb0 < a.K;) {
        int kb1 = kb0 + kc;
        if (kb1 > a.K || a.K - kb1 < kChunk) kb1 = a.K;
        const bool first = kb0 == 0;
        int n = n0;
        for (; n + kRowBlock <= n1; n += kRowBlock)
            for (int m = 0; m < a.M; m += 2) tile_m<Dec, kRowBlock>(a, n, m, a.M - m, kb0, kb1, first);
        for (; n < n1; ++n)
            for (int m = 0; m < a.M; m += 2) tile_m<Dec, 1>(a, n, m, a.M - m, kb0, kb1, first);
        kb0 = kb1;
    }
}

// (float)(u - z) x s for 8 codes: exactly dequant_at().
inline __m256 dequant8(__m256i u, const float& z, const float& s) {
    return _mm256_mul_ps(_mm256_sub_ps(_mm256_cvtepi32_ps(u), _mm256_broadcast_ss(&z)), _mm256_broadcast_ss(&s));
}

}  // namespace
}  // namespace qb::cpu::avx2
