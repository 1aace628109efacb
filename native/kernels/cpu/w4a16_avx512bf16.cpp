// w4a16_avx512bf16.cpp: INT4 group-wise weight-only GEMM with BF16 activations and
// VDPBF16PS (AVX512_BF16), FP32 accumulation: the "avx512-bf16" level. The dispatcher sends
// INT4 here for groups 32, 64, any multiple of 128 and per-channel, at M <= the BF16 batch
// limit (1 by default: measured crossover, docs/cpu-kernels.md); other groups, larger M,
// INT3 and INT2 stay on w4a16_avx512.cpp.
//
// Why: the FP32 path (w4a16_avx512.cpp) spends 6 vector uops per 32 weights and is
// decode-bound at M = 1. Here 64 packed bytes (128 weights) are one vector of 32 words; word j
// holds the nibbles of k = 4j .. 4j+3, and for s = 0, 4, 8, 12
//     vpermw(table, w >> s)      table[i] = BF16(i % 16 - 8), 32 entries
// gives 32 BF16 values u - 8, exact (vpermw reads 5 index bits; the doubled table makes the
// 5th, the next nibble's low bit, irrelevant, so no mask). Four VDPBF16PS against the
// activations, permuted once per call to the same order (GemmArgs::Xb: block position 32 t + j
// holds k = 4j + t), give 16 FP32 lanes, lane i covering k = 8i .. 8i+7 of the block; one FMA
// applies the group scale. 128 weights: 3 shifts + 4 vpermw + 4 dot products + 1 FMA.
// Symmetric weights need nothing else; with stored zero points,
//     y = sum_g s_g sum_{k in g} x_k (u_k - 8)  -  sum_g (z_g - 8) s_g xsum_g
// where xsum_g (GemmArgs::xgs) is the group sum of the BF16 activations.
//
// Measured alternative (the first idea): (w >> s) & 0xF | 0x4300 = BF16(128 + u) with
// one vpternlogd instead of vpermw, and 128 + z subtracted per group afterwards. It was ~6%
// faster with the weights in L2 (vpermw and VDPBF16PS compete for one port here), but every
// output then cancels two sums ~136x its terms (the error bound grows ~35x, the measured error
// ~100x), so the exact signed table won.
//
// On this development VM VDPBF16PS issues once per ~2 cycles (32 MACs), no more MACs per
// cycle than two FP32 FMAs, so the gain over the FP32 path is the cheaper decode only: ~1.15-1.2x
// at M = 1 with the weights in cache, and a loss from M = 3 (each activation row costs 4 dot
// products per 128 weights here vs 8 FMAs at twice the rate there).
//
// Scales: one per lane group, from 16 converted FP16 scales per row kept per window of 16
// groups: broadcast for groups >= 128 (one group per block), vpermps-expanded for 32 / 64
// (lanes 4q..4q+3 / 8q..8q+7 of a block share a group).
// Rows shorter than a whole block (per-channel K % 128, or K % 128 = 32/64/96 for g32/64)
// end with a masked load: missing bytes decode to -8 and meet zero (padded) activations.
#include "simd.h"

#include <bit>

#include "kernel_abi.h"

// GCC: lambdas take the attribute after the parameter list.
#define QB_ALWAYS_INLINE_LAMBDA __attribute__((always_inline))

namespace qb::cpu::avx512bf16 {
namespace {

constexpr int kBlock = 128;          // weights per 512-bit vector of packed nibbles
constexpr int kBlockBytes = 64;
// At least as far ahead as w4a16_avx512.cpp (dot_tile_avx512.h: 16 KB, tuned there), one
// prefetch per row and cache line; rounded up to whole row tiles in tile().
constexpr int kPrefetchBytes = 16384;

// table[i] = BF16(i % 16 - 8): small integers, so the BF16 bits are the FP32 bits' top half.
struct Table {
    alignas(64) uint16_t v[32];
    constexpr Table() : v() {
        for (int i = 0; i < 32; ++i) v[i] = (uint16_t)(std::bit_cast<uint32_t>((float)((i & 15) - 8)) >> 16);
    }
};
constexpr Table kTable{};

// Where the scales of a block come from.
enum class ScaleMode { bcast, lanes };

// The 16 FP16 scales (or fewer at the row's end; the rest 0) of groups gw .. gw+15 of row n.
QB_ALWAYS_INLINE __m512 scale_window(const QuantizedMatrix& W, int n, int G, int gw) {
    const int cnt = G - gw < 16 ? G - gw : 16;
    const __m256i h = _mm256_maskz_loadu_epi16((__mmask16)((1u << cnt) - 1u),
                                               static_cast<const uint16_t*>(W.scales) + (size_t)n * (size_t)G + (size_t)gw);
    return _mm512_cvtph_ps(h);
}

// z - 8 of groups gw .. gw+15 of row n (asymmetric only), as floats (lanes past the row's end:
// anything finite; they meet zero scales).
QB_ALWAYS_INLINE __m512 zero_window(const QuantizedMatrix& W, int n, int G, int gw) {
    const int cnt = G - gw < 16 ? G - gw : 16;
    const size_t first = (size_t)n * (size_t)G + (size_t)gw;
    __m512i z;
    if (first % 2 == 0) {   // byte-aligned: load the bytes, one per two lanes, shift odd lanes
        const int nb = (cnt + 1) / 2;
        const __m128i b = _mm_maskz_loadu_epi8((__mmask16)((1u << nb) - 1u), W.zeros + first / 2);
        const __m512i d = _mm512_cvtepu8_epi32(_mm_unpacklo_epi8(b, b));
        const __m512i sh = _mm512_setr_epi32(0, 4, 0, 4, 0, 4, 0, 4, 0, 4, 0, 4, 0, 4, 0, 4);
        z = _mm512_and_si512(_mm512_srlv_epi32(d, sh), _mm512_set1_epi32(15));
    } else {                // odd G and an odd row: G odd means few groups, so a short loop
        alignas(64) int32_t t[16] = {};
        for (int i = 0; i < cnt; ++i) t[i] = (int32_t)get_packed(W.zeros, 4, first + (size_t)i);
        z = _mm512_load_si512(t);
    }
    return _mm512_cvtepi32_ps(_mm512_sub_epi32(z, _mm512_set1_epi32(sym_zero(4))));
}

// The four BF16 vectors of one block's 128 weights, u - 8 (small integers, exact in BF16), in
// the Xb order: v[t] word j = weight of k = 4j + t.
QB_ALWAYS_INLINE void decode(__m512i w, __m512i lut, __m512bh v[4]) {
    // vpermw reads bits 0-4 of each index word; bit 4 is the next nibble's low bit, which the
    // doubled table ignores, so no mask is needed.
    v[0] = (__m512bh)_mm512_permutexvar_epi16(w, lut);
    v[1] = (__m512bh)_mm512_permutexvar_epi16(_mm512_srli_epi16(w, 4), lut);
    v[2] = (__m512bh)_mm512_permutexvar_epi16(_mm512_srli_epi16(w, 8), lut);
    v[3] = (__m512bh)_mm512_permutexvar_epi16(_mm512_srli_epi16(w, 12), lut);
}

// Rows n0, n0 + rs, ..., n0 + (NB - 1) rs; prefetches pf_dist bytes ahead of each.
template <ScaleMode SM, int NB, int MB>
void tile(const GemmArgs& a, int n0, int rs, size_t pf_dist, int m0, int b0, int b1, bool first, bool last) {
    const QuantizedMatrix& W = *a.W;
    const int g = W.group, G = groups(W);
    const size_t rb = row_bytes(W);
    const __m512i lut = _mm512_load_si512(kTable.v);
    // lane i of a block is k = 8i .. 8i+7: its group offset from the block's first group
    const __m512i lane_g = SM == ScaleMode::lanes
                               ? _mm512_srlv_epi32(_mm512_setr_epi32(0, 8, 16, 24, 32, 40, 48, 56, 64, 72, 80, 88, 96, 104, 112, 120),
                                                   _mm512_set1_epi32(g == 32 ? 5 : 6))
                               : _mm512_setzero_si512();
    // Groups per block (lanes), or blocks per group (bcast; per-channel: never advances).
    const int span = SM == ScaleMode::lanes ? kBlock / g : 1;
    const int bpg = SM == ScaleMode::lanes ? 1 : g == a.K ? 1 << 30 : g / kBlock;
    __m512 tot[NB][MB];
    __m512 scv[NB];
    alignas(64) float scw[NB][16];
    const uint8_t* rows[NB];
#pragma GCC unroll 16
    for (int r = 0; r < NB; ++r) {
        rows[r] = W.q + (size_t)(n0 + r * rs) * rb;
        scv[r] = _mm512_setzero_ps();
#pragma GCC unroll 16
        for (int j = 0; j < MB; ++j) tot[r][j] = _mm512_setzero_ps();
    }
    int gw = -1 << 30;   // first group of the scale window
    int gb = SM == ScaleMode::lanes ? b0 * span : b0 / bpg, bin = SM == ScaleMode::lanes ? 0 : b0 % bpg;
    // One block of the tile; `mask` is all ones except for a row's last, partial block.
    auto block = [&](int b, bool full, __mmask64 mask) QB_ALWAYS_INLINE_LAMBDA {
        if (gb + span > gw + 16) {
            gw = gb;
#pragma GCC unroll 16
            for (int r = 0; r < NB; ++r) {
                scv[r] = scale_window(W, n0 + r * rs, G, gw);
                if (SM == ScaleMode::bcast) _mm512_store_ps(scw[r], scv[r]);
            }
        }
        const __m512i sidx = _mm512_add_epi32(lane_g, _mm512_set1_epi32(gb - gw));
        const size_t off = (size_t)b * kBlockBytes;
#pragma GCC unroll 16
        for (int r = 0; r < NB; ++r) _mm_prefetch(reinterpret_cast<const char*>(rows[r] + off + pf_dist), _MM_HINT_T0);
#pragma GCC unroll 16
        for (int r = 0; r < NB; ++r) {
            const __m512i w = full ? _mm512_loadu_si512(rows[r] + off) : _mm512_maskz_loadu_epi8(mask, rows[r] + off);
            __m512bh v[4];
            decode(w, lut, v);
            const __m512 s = SM == ScaleMode::lanes ? _mm512_permutexvar_ps(sidx, scv[r]) : _mm512_set1_ps(scw[r][gb - gw]);
#pragma GCC unroll 16
            for (int j = 0; j < MB; ++j) {
                const uint16_t* x = a.Xb + (size_t)(m0 + j) * (size_t)a.ldb + (size_t)b * kBlock;
                // One chain per (row, activation row): the other rows' chains and the next
                // block fill the dot products' latency (two chains measured no faster).
                __m512 p = _mm512_dpbf16_ps(_mm512_setzero_ps(), v[0], (__m512bh)_mm512_loadu_si512(x));
                p = _mm512_dpbf16_ps(p, v[1], (__m512bh)_mm512_loadu_si512(x + 32));
                p = _mm512_dpbf16_ps(p, v[2], (__m512bh)_mm512_loadu_si512(x + 64));
                p = _mm512_dpbf16_ps(p, v[3], (__m512bh)_mm512_loadu_si512(x + 96));
                tot[r][j] = _mm512_fmadd_ps(p, s, tot[r][j]);
            }
        }
        if (SM == ScaleMode::lanes) gb += span;
        else if (++bin == bpg) { bin = 0; ++gb; }
    };
    const int bfull = (int)(rb / kBlockBytes);   // blocks with all 64 bytes inside the row
    const int bmain = b1 < bfull ? b1 : bfull;
    int b = b0;
    for (; b < bmain; ++b) block(b, true, ~(__mmask64)0);
    // Missing bytes load as 0 (weight -8) and meet zero activations (the padding of Xb).
    for (; b < b1; ++b) block(b, false, ((__mmask64)1 << (rb - (size_t)b * kBlockBytes)) - 1);
    for (int r = 0; r < NB; ++r) {
        if (last && W.has_zero) {   // the zero points, once per output, with the last K block
            __m512 c[MB];
            for (int j = 0; j < MB; ++j) c[j] = _mm512_setzero_ps();
            for (int g0 = 0; g0 < G; g0 += 16) {
                const __m512 coef = _mm512_mul_ps(zero_window(W, n0 + r * rs, G, g0), scale_window(W, n0 + r * rs, G, g0));   // exact
                const int cnt = G - g0 < 16 ? G - g0 : 16;
                for (int j = 0; j < MB; ++j)
                    c[j] = _mm512_fmadd_ps(coef, _mm512_maskz_loadu_ps((__mmask16)((1u << cnt) - 1u), a.xgs + (size_t)(m0 + j) * G + g0), c[j]);
            }
            for (int j = 0; j < MB; ++j) tot[r][j] = _mm512_sub_ps(tot[r][j], c[j]);
        }
        for (int j = 0; j < MB; ++j) {
            const float v = _mm512_reduce_add_ps(tot[r][j]);
            float& y = a.Y[(size_t)(m0 + j) * a.N + n0 + (size_t)r * rs];
            y = first ? v : y + v;
        }
    }
}

template <ScaleMode SM, int NB>
void tile_m(const GemmArgs& a, int n, int rs, size_t pf, int m, int mb, int b0, int b1, bool first, bool last) {
    switch (mb) {
        case 1: tile<SM, NB, 1>(a, n, rs, pf, m, b0, b1, first, last); break;
        case 2: tile<SM, NB, 2>(a, n, rs, pf, m, b0, b1, first, last); break;
        case 3: tile<SM, NB, 3>(a, n, rs, pf, m, b0, b1, first, last); break;
        default: tile<SM, NB, 4>(a, n, rs, pf, m, b0, b1, first, last); break;
    }
}

// K block (in 128-value blocks): all of K for small M; otherwise the BF16 X slice (M rows x
// kc values) stays within kXSliceBytes, so every weight block reuses it from L2.
int k_blocks(int M, int nblocks) {
    if (M <= 4) return nblocks;
    const long kb = (long)(kXSliceBytes / (sizeof(uint16_t) * (size_t)M)) / kBlock;
    return kb < 2 ? 2 : (kb > nblocks ? nblocks : (int)kb);
}

// Rows in groups of kRowBlock x rs (the dispatcher's task granule): rs strided tiles per group
// (kernel_abi.h bf16_row_stride), then plain 4-row and 1-row tiles for the rest.
template <ScaleMode SM>
void rows_driver(const GemmArgs& a, int n0, int n1) {
    const int nblocks = (a.K + kBlock - 1) / kBlock, kc = k_blocks(a.M, nblocks);
    const size_t rb = row_bytes(*a.W);
    const int rs = bf16_row_stride(rb), span = kRowBlock * rs;
    // A whole number of row groups ahead (>= kPrefetchBytes), so each row's prefetch lands on
    // the same row of a later group at the same offset. A plain 16 KB on every row (the FP32
    // path's rule) puts, for 5.5 KB rows (K = 11008), row 0's prefetch on row 3 of the tile
    // being read and never prefetches that row ahead.
    const size_t group_bytes = (size_t)span * rb;
    const size_t pf = (kPrefetchBytes + group_bytes - 1) / group_bytes * group_bytes;
    for (int b0 = 0; b0 < nblocks;) {
        const int b1 = b0 + kc < nblocks ? b0 + kc : nblocks;
        const bool first = b0 == 0, last = b1 == nblocks;
        int n = n0;
        for (; n + span <= n1; n += span)
            for (int i = 0; i < rs; ++i)
                for (int m = 0; m < a.M; m += 4) tile_m<SM, kRowBlock>(a, n + i, rs, pf, m, a.M - m, b0, b1, first, last);
        for (; n + kRowBlock <= n1; n += kRowBlock)
            for (int m = 0; m < a.M; m += 4) tile_m<SM, kRowBlock>(a, n, 1, pf, m, a.M - m, b0, b1, first, last);
        for (; n < n1; ++n)
            for (int m = 0; m < a.M; m += 4) tile_m<SM, 1>(a, n, 1, pf, m, a.M - m, b0, b1, first, last);
        b0 = b1;
    }
}

}  // namespace

void w4a16_rows(const GemmArgs& a, int n0, int n1) {
    const int g = a.W->group;
    if (g == 32 || g == 64) rows_driver<ScaleMode::lanes>(a, n0, n1);
    else rows_driver<ScaleMode::bcast>(a, n0, n1);
}

// Rows [m0, m1) of X -> Xb (BF16, block order) and xgs (group sums). VCVTNE2PS2BF16 rounds to
// nearest even with FP32 subnormals read as zero: exactly qformat.h's f32_to_bf16.
void w4a16_prepare_acts(const GemmArgs& a, int m0, int m1) {
    const int K = a.K, g = a.W->group, G = groups(*a.W);
    // Output t of a block takes k = 4j + t: j < 8 from chunk 0 (word 4j + t), j in 8..15 from
    // chunk 1 (index 32 + word): one two-source word permute per pair of 32-value chunks.
    __m512i idx[4];
    for (int t = 0; t < 4; ++t) {
        alignas(64) uint16_t v[32];
        for (int j = 0; j < 32; ++j) v[j] = (uint16_t)(j < 8 ? 4 * j + t : j < 16 ? 32 + 4 * (j - 8) + t : 0);
        idx[t] = _mm512_load_si512(v);
    }
    for (int m = m0; m < m1; ++m) {
        const float* x = a.X + (size_t)m * K;
        uint16_t* xb = a.Xb + (size_t)m * a.ldb;
        float* xs = a.xgs + (size_t)m * G;
        const bool sums = a.W->has_zero;   // only the zero points need the group sums
        __m512d gsum = _mm512_setzero_pd();
        for (int b = 0; b * kBlock < K; ++b) {
            __m512i R[4];
            for (int c = 0; c < 4; ++c) {
                const int k = b * kBlock + c * 32;
                const int left = K - k;
                const __mmask16 ml = left >= 16 ? (__mmask16)0xFFFF : left > 0 ? (__mmask16)((1u << left) - 1u) : 0;
                const __mmask16 mh = left >= 32 ? (__mmask16)0xFFFF : left > 16 ? (__mmask16)((1u << (left - 16)) - 1u) : 0;
                const __m512 lo = _mm512_maskz_loadu_ps(ml, x + (k < K ? k : 0));
                const __m512 hi = _mm512_maskz_loadu_ps(mh, x + (k + 16 < K ? k + 16 : 0));
                R[c] = (__m512i)_mm512_cvtne2ps_pbh(hi, lo);
                if (left <= 0 || !sums) continue;
                // The 32 rounded values back in FP32, summed in double (exact for any
                // realistic spread of magnitudes), into the group of this 32-value chunk.
                const __m512 flo = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm512_castsi512_si256(R[c])), 16));
                const __m512 fhi = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm512_extracti64x4_epi64(R[c], 1)), 16));
                gsum = _mm512_add_pd(gsum, _mm512_add_pd(_mm512_add_pd(_mm512_cvtps_pd(_mm512_castps512_ps256(flo)),
                                                                       _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(flo), 1)))),
                                                         _mm512_add_pd(_mm512_cvtps_pd(_mm512_castps512_ps256(fhi)),
                                                                       _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(fhi), 1))))));
                if (k + 32 >= K || (k + 32) % g == 0) {   // the chunk closes its group
                    xs[k / g] = (float)_mm512_reduce_add_pd(gsum);
                    gsum = _mm512_setzero_pd();
                }
            }
            for (int t = 0; t < 4; ++t) {
                const __m512i lo = _mm512_permutex2var_epi16(R[0], idx[t], R[1]);
                const __m512i hi = _mm512_permutex2var_epi16(R[2], idx[t], R[3]);
                _mm512_storeu_si512(xb + (size_t)b * kBlock + 32 * t, _mm512_inserti64x4(lo, _mm512_castsi512_si256(hi), 1));
            }
        }
    }
}

}  // namespace qb::cpu::avx512bf16
