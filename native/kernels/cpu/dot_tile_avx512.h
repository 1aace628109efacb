// dot_tile_avx512.h: the register-blocked GEMM driver shared by the AVX-512 weight-only
// families (w8a16_avx512.cpp, w4a16_avx512.cpp). Included only by translation units built
// with -mavx512f -mavx512bw -mavx512vl -mavx512dq -mfma -mf16c; everything here has internal
// linkage (anonymous namespace), so each such unit keeps its own copy.
//
// Formulation: "dot product along K". Weights stay in their row-major packed layout and are
// streamed exactly once: a tile of NB weight rows x MB activation rows keeps NB x MB vector
// accumulators of 16 partial sums along K; each 32-value chunk of a weight row is decoded to
// two vectors of 16 floats in registers (the Decoder policy), then FMA'd into the MB
// accumulators of its row. Horizontal sums happen once per tile, per K block.
//
//            k ->  [chunk 32][chunk 32] ...                 X rows m0..m0+MB-1 (L1/L2)
//   row n0      :  decode -> w0 w1 ---+--> acc[0][0..MB)
//   row n0+1    :  decode -> w0 w1 ---+--> acc[1][0..MB)       (NB = 4 rows per tile)
//   ...
//
// Decoder policy (one per weight width):
//   kBits                          stored bits per weight
//   RowState                       per (row, group) state, e.g. the 16-entry LUT of dequantized values
//   begin_group(W, n, g, st)       called at the first chunk of every group (and of every K block)
//   decode(p, st, w0, w1)          the 32 values at p -> 16 + 16 floats, in the lane order the
//                                  activation layout (GemmArgs::Xp) matches
//   tail_weight(W, n, k)           scalar weight for the K % 32 tail (per-channel only), natural order
//   finish(W, n, sum)              what the row's float sum becomes (INT8: times the row scale)
#pragma once
#include "simd.h"

#include "kernel_abi.h"

namespace qb::cpu::avx512 {
namespace {
// Software prefetch distance along each weight row, in bytes. The four rows of a tile are
// four streams (2-5.5 KB apart for Llama shapes) that the hardware prefetchers follow, but at
// M = 1 each core is busy decoding (6 vector uops per 32 INT4 weights) and cannot also keep
// enough demand misses in flight. Prefetching 16 KB ahead (past a short row this lands in the
// next tiles' rows, which follow in memory) keeps DRAM busy: on the development VM, quiet,
// 2 threads, the INT4 11008 x 4096 layer took ~2.7 ms without it, ~2.7 / 1.9 / 1.8 / 1.5 ms at
// 1 / 4 / 8 / 16 KB and 1.7-2.0 ms at 32-64 KB (INT8 likewise best at 16 KB). Prefetches past
// the end of the buffer are harmless (they never fault).
inline constexpr int kPrefetchBytes = 16384;

template <class Dec, int NB, int MB>
inline void tile(const GemmArgs& a, int n0, int m0, int kb0, int kb1, bool first_block) {
    const QuantizedMatrix& W = *a.W;
    const int K = a.K, G = W.group;
    const size_t rb = row_bytes(W);
    const int kfull = kb1 < K / kChunk * kChunk ? kb1 : K / kChunk * kChunk;
    // At M = 1 each row gets two accumulators (w0 and w1 chains), so the FMA latency of one
    // chain does not limit the stream.
    constexpr int NA = MB == 1 ? 2 : 1;
    __m512 acc[NB][MB][NA];
#pragma GCC unroll 16
    for (int r = 0; r < NB; ++r)
#pragma GCC unroll 16
        for (int j = 0; j < MB; ++j)
#pragma GCC unroll 2
            for (int i = 0; i < NA; ++i) acc[r][j][i] = _mm512_setzero_ps();
    typename Dec::RowState st[NB];
    const uint8_t* rows[NB];
#pragma GCC unroll 16
    for (int r = 0; r < NB; ++r) rows[r] = W.q + (size_t)(n0 + r) * rb;
    int next_group = kb0;   // first k of the next group boundary
    int g = kb0 / G - 1;
    for (int k = kb0; k < kfull; k += kChunk) {
        if (k >= next_group) {
            g = k / G;
            next_group = (g + 1) * G;
#pragma GCC unroll 16
            for (int r = 0; r < NB; ++r) Dec::begin_group(W, n0 + r, g, st[r]);
        }
        __m512 w0[NB], w1[NB];
        const size_t off = (size_t)k * Dec::kBits / 8;
#pragma GCC unroll 16
        for (int r = 0; r < NB; ++r) _mm_prefetch(reinterpret_cast<const char*>(rows[r] + off + kPrefetchBytes), _MM_HINT_T0);
#pragma GCC unroll 16
        for (int r = 0; r < NB; ++r) Dec::decode(rows[r] + off, st[r], w0[r], w1[r]);
#pragma GCC unroll 16
        for (int j = 0; j < MB; ++j) {
            const float* x = a.Xp + (size_t)(m0 + j) * K + k;
            const __m512 x0 = _mm512_loadu_ps(x), x1 = _mm512_loadu_ps(x + 16);
#pragma GCC unroll 16
            for (int r = 0; r < NB; ++r) {
                acc[r][j][0] = _mm512_fmadd_ps(w0[r], x0, acc[r][j][0]);
                acc[r][j][NA - 1] = _mm512_fmadd_ps(w1[r], x1, acc[r][j][NA - 1]);
            }
        }
    }
    for (int r = 0; r < NB; ++r)
        for (int j = 0; j < MB; ++j) {
            __m512 v = acc[r][j][0];
            if (NA == 2) v = _mm512_add_ps(v, acc[r][j][NA - 1]);
            float s = _mm512_reduce_add_ps(v);
            if (kb1 == K)   // the last K block carries the K % 32 tail (natural order in X)
                for (int k = kfull; k < K; ++k) s += a.X[(size_t)(m0 + j) * K + k] * Dec::tail_weight(W, n0 + r, k);
            float& y = a.Y[(size_t)(m0 + j) * a.N + n0 + r];
            const float v2 = Dec::finish(W, n0 + r, s);
            y = first_block ? v2 : y + v2;
        }
}

template <class Dec, int NB>
inline void tile_m(const GemmArgs& a, int n, int m, int mb, int kb0, int kb1, bool first) {
    switch (mb) {
        case 1: tile<Dec, NB, 1>(a, n, m, kb0, kb1, first); break;
        case 2: tile<Dec, NB, 2>(a, n, m, kb0, kb1, first); break;
        case 3: tile<Dec, NB, 3>(a, n, m, kb0, kb1, first); break;
        default: tile<Dec, NB, 4>(a, n, m, kb0, kb1, first); break;
    }
}

// K block length: the whole of K for small M; otherwise as many 32-value chunks as keep the
// X slice (M rows x kc floats) within kXSliceBytes, so every weight block reuses it from L2.
inline int k_block(int M, int K) {
    if (M <= 4) return K;
    const long kc = (long)(kXSliceBytes / (sizeof(float) * (size_t)M)) / kChunk * kChunk;
    return kc < 4 * kChunk ? 4 * kChunk : (kc > K ? K : (int)kc);
}

template <class Dec>
inline void rows_driver(const GemmArgs& a, int n0, int n1) {
    const int kc = k_block(a.M, a.K);
    for (int kb0 = 0; kb0 < a.K;) {
        int kb1 = kb0 + kc;
        if (kb1 > a.K || a.K - kb1 < kChunk) kb1 = a.K;   // the last block takes the tail
        const bool first = kb0 == 0;
        int n = n0;
        for (; n + kRowBlock <= n1; n += kRowBlock)
            for (int m = 0; m < a.M; m += 4) tile_m<Dec, kRowBlock>(a, n, m, a.M - m, kb0, kb1, first);
        for (; n < n1; ++n)
            for (int m = 0; m < a.M; m += 4) tile_m<Dec, 1>(a, n, m, a.M - m, kb0, kb1, first);
        kb0 = kb1;
    }
}

}  // namespace
}  // namespace qb::cpu::avx512
