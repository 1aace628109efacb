// fixed16_tile_avx512vnni.h: the register-blocked driver shared by the weight-only kernels
// that multiply 16-bit fixed-point activations (fixed16_acts_avx512vnni.cpp) with VPDPBUSD:
// INT4 and INT2 (w4a16_avx512vnni.cpp), INT3 (w3a16_avx512vbmi.cpp) and INT8
// (w8a16_avx512vnni.cpp). Included only by units built with the avx512-vnni flags; everything
// has internal linkage.
//
// Per 128-value block and weight row, the weight policy gives two vectors of 64 unsigned
// bytes, v0 and v1, in the order of the activation block's two halves (GemmArgs::Xs: hi bytes
// for v0, for v1, lo bytes for v0, for v1); then
//     hi = dpbusd(dpbusd(0, v0, hi0), v1, hi1) ; lo = dpbusd(dpbusd(C_b, v0, lo0), v1, lo1)
//     y += float((hi << 8) + lo) * f
// with C_b (GemmArgs::xcorr) = -offset x each lane's sum of a, so the int32 lanes hold
// sum (weight - offset) a exactly; lane i covers bytes 4i..4i+3 of both vectors. f is the
// block's 2^-e, times the group scale where the policy has group scales (INT4; INT8 applies
// its row scale to the finished sum).
//
// Weight policy (Dec):
//   kBlockBytes                 stored bytes per 128 weights (32 INT2, 48 INT3, 64 INT4, 128 INT8)
//   kGroupScales                scales per group in the block loop (else finish() applies them)
//   load(p, mask0, mask1, v0, v1)  the block at p -> v0, v1 (masks: bytes inside the row)
//   finish(W, n, sum)           what a row's float sum becomes
#pragma once
#include "simd.h"

#include "fixed16_shared.h"
#include "kernel_abi.h"

// GCC: lambdas take the attribute after the parameter list.
#define QB_ALWAYS_INLINE_LAMBDA __attribute__((always_inline))

namespace qb::cpu::avx512vnni {
namespace {

constexpr int kBlock = kFixed16Block;   // 128 weights per block
constexpr int kActBlockBytes = kFixed16ActBlockBytes;   // per block of activations: hi0, hi1, lo0, lo1

enum class ScaleMode { none, bcast, lanes };

QB_ALWAYS_INLINE __m512 scale_window(const QuantizedMatrix& W, int n, int G, int gw) {
    const int cnt = G - gw < 16 ? G - gw : 16;
    const __m256i h = _mm256_maskz_loadu_epi16((__mmask16)((1u << cnt) - 1u),
                                               static_cast<const uint16_t*>(W.scales) + (size_t)n * (size_t)G + (size_t)gw);
    return _mm512_cvtph_ps(h);
}

QB_ALWAYS_INLINE __m512 zero_window(const QuantizedMatrix& W, int n, int G, int gw) {
    const int cnt = G - gw < 16 ? G - gw : 16;
    const size_t first = (size_t)n * (size_t)G + (size_t)gw;
    __m512i z;
    if (W.bits == 4 && first % 2 == 0) {
        const int nb = (cnt + 1) / 2;
        const __m128i b = _mm_maskz_loadu_epi8((__mmask16)((1u << nb) - 1u), W.zeros + first / 2);
        const __m512i d = _mm512_cvtepu8_epi32(_mm_unpacklo_epi8(b, b));
        const __m512i sh = _mm512_setr_epi32(0, 4, 0, 4, 0, 4, 0, 4, 0, 4, 0, 4, 0, 4, 0, 4);
        z = _mm512_and_si512(_mm512_srlv_epi32(d, sh), _mm512_set1_epi32(15));
    } else if (W.bits <= 3) {
        // INT3 / INT2: the 16 fields (<= 48 bits after a shift of <= 7) from one 8-byte load,
        // masked at the end of the buffer. Per output this runs G / 16 times, so a scalar
        // extraction (as below) cost INT3 g32 with zeros ~1.4 ms on a 11008x4096 layer.
        const size_t bit0 = first * (size_t)W.bits, byte0 = bit0 >> 3, avail = zero_bytes(W) - byte0;
        const __m128i raw = _mm_maskz_loadu_epi8((__mmask16)(avail >= 8 ? 0xFFu : (1u << avail) - 1u), W.zeros + byte0);
        const __m512i b = _mm512_set1_epi64((long long)((uint64_t)_mm_cvtsi128_si64(raw) >> (bit0 & 7)));
        const long long f = W.bits;
        const __m512i sh0 = _mm512_setr_epi64(0, f, 2 * f, 3 * f, 4 * f, 5 * f, 6 * f, 7 * f);
        const __m512i sh1 = _mm512_add_epi64(sh0, _mm512_set1_epi64(8 * f));
        const __m512i m = _mm512_set1_epi64((1ll << f) - 1);
        const __m256i z0 = _mm512_cvtepi64_epi32(_mm512_and_si512(_mm512_srlv_epi64(b, sh0), m));
        const __m256i z1 = _mm512_cvtepi64_epi32(_mm512_and_si512(_mm512_srlv_epi64(b, sh1), m));
        z = _mm512_inserti64x4(_mm512_castsi256_si512(z0), z1, 1);
    } else {   // INT4 starting on an odd nibble: 68 bits, past one 8-byte load
        alignas(64) int32_t t[16] = {};
        for (int i = 0; i < cnt; ++i) t[i] = (int32_t)get_packed(W.zeros, W.bits, first + (size_t)i);
        z = _mm512_load_si512(t);
    }
    return _mm512_cvtepi32_ps(_mm512_sub_epi32(z, _mm512_set1_epi32(sym_zero(W.bits))));
}

// The byte mask of the part of a 64-byte vector at byte offset `at` of a row of rb bytes.
QB_ALWAYS_INLINE __mmask64 row_mask(size_t at, size_t rb) {
    if (at >= rb) return 0;
    return rb - at >= 64 ? ~(__mmask64)0 : ((__mmask64)1 << (rb - at)) - 1;
}

// Rows n0, n0 + rs, ..., n0 + (NB - 1) rs against activation rows m0 .. m0 + MB - 1.
template <class Dec, ScaleMode SM, int NB, int MB>
void tile(const GemmArgs& a, int n0, int rs, size_t pf_dist, int m0, int b0, int b1, bool first, bool last) {
    const QuantizedMatrix& W = *a.W;
    const int g = W.group, G = groups(W);
    const size_t rb = row_bytes(W);
    const int nblocks = (a.K + kBlock - 1) / kBlock;
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
    auto block = [&](int b, __mmask64 m0k, __mmask64 m1k) QB_ALWAYS_INLINE_LAMBDA {
        if (SM != ScaleMode::none && gb + span > gw + 16) {
            gw = gb;
#pragma GCC unroll 16
            for (int r = 0; r < NB; ++r) {
                scv[r] = scale_window(W, n0 + r * rs, G, gw);
                if (SM == ScaleMode::bcast) _mm512_store_ps(scw[r], scv[r]);
            }
        }
        const __m512i sidx = _mm512_add_epi32(lane_g, _mm512_set1_epi32(gb - gw));
        const size_t off = (size_t)b * Dec::kBlockBytes;
        __m512 step[MB];   // the activation rows' 2^-e of this block
#pragma GCC unroll 16
        for (int j = 0; j < MB; ++j) step[j] = _mm512_set1_ps(a.xstep[(size_t)(m0 + j) * nblocks + b]);
        if (pf_dist != 0) {   // short runs only (cpu_kernels.h RowOrder)
#pragma GCC unroll 16
            for (int r = 0; r < NB; ++r)
#pragma GCC unroll 2
                for (int c = 0; c < Dec::kBlockBytes; c += 64)
                    _mm_prefetch(reinterpret_cast<const char*>(rows[r] + off + c + pf_dist), _MM_HINT_T0);
        }
#pragma GCC unroll 16
        for (int r = 0; r < NB; ++r) {
            __m512i v0, v1;
            Dec::load(rows[r] + off, m0k, m1k, v0, v1);
            __m512 s = _mm512_setzero_ps();
            if (SM == ScaleMode::lanes) s = _mm512_permutexvar_ps(sidx, scv[r]);
            else if (SM == ScaleMode::bcast) s = _mm512_set1_ps(scw[r][gb - gw]);
#pragma GCC unroll 16
            for (int j = 0; j < MB; ++j) {
                const int8_t* x = a.Xs + (size_t)(m0 + j) * a.ldx + (size_t)b * kActBlockBytes;
                const __m512i c = _mm512_loadu_si512(a.xcorr + ((size_t)(m0 + j) * nblocks + b) * 16);
                __m512i hi = _mm512_dpbusd_epi32(_mm512_setzero_si512(), v0, _mm512_loadu_si512(x));
                hi = _mm512_dpbusd_epi32(hi, v1, _mm512_loadu_si512(x + 64));
                __m512i lo = _mm512_dpbusd_epi32(c, v0, _mm512_loadu_si512(x + 128));
                lo = _mm512_dpbusd_epi32(lo, v1, _mm512_loadu_si512(x + 192));
                const __m512 v = _mm512_cvtepi32_ps(_mm512_add_epi32(_mm512_slli_epi32(hi, 8), lo));
                tot[r][j] = _mm512_fmadd_ps(v, SM == ScaleMode::none ? step[j] : _mm512_mul_ps(s, step[j]), tot[r][j]);
            }
        }
        if (SM == ScaleMode::lanes) gb += span;
        else if (++bin == bpg) { bin = 0; ++gb; }
    };
    const int bfull = (int)(rb / Dec::kBlockBytes);   // blocks with all their bytes inside the row
    const int bmain = b1 < bfull ? b1 : bfull;
    int b = b0;
    for (; b < bmain; ++b) block(b, ~(__mmask64)0, ~(__mmask64)0);
    // Missing bytes load as 0 and meet zero activations; C_b counts only real k.
    for (; b < b1; ++b) {
        const size_t at = (size_t)b * Dec::kBlockBytes;
        block(b, row_mask(at, rb), row_mask(at + 64, rb));   // the second: INT8's bytes 64..127 (INT4 has none)
    }
    for (int r = 0; r < NB; ++r) {
        if (last && Dec::kGroupScales && W.has_zero) {   // the zero points, once per output, with the last K block
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
            const float v = Dec::finish(W, n0 + r * rs, _mm512_reduce_add_ps(tot[r][j]));
            float& y = a.Y[(size_t)(m0 + j) * a.N + n0 + (size_t)r * rs];
            y = first ? v : y + v;
        }
    }
}

template <class Dec, ScaleMode SM, int NB>
void tile_m(const GemmArgs& a, int n, int rs, size_t pf, int m, int mb, int b0, int b1, bool first, bool last) {
    switch (mb) {
        case 1: tile<Dec, SM, NB, 1>(a, n, rs, pf, m, b0, b1, first, last); break;
        case 2: tile<Dec, SM, NB, 2>(a, n, rs, pf, m, b0, b1, first, last); break;
        case 3: tile<Dec, SM, NB, 3>(a, n, rs, pf, m, b0, b1, first, last); break;
        default: tile<Dec, SM, NB, 4>(a, n, rs, pf, m, b0, b1, first, last); break;
    }
}

// Rows in groups of kRowBlock x rs, K in blocks (fixed16_shared.h), up to 4 activation rows a tile.
template <class Dec, ScaleMode SM>
void rows_driver(const GemmArgs& a, int n0, int n1) {
    walk_fixed16_rows(a, n0, n1, 4,
                      [&](int n, int rs, int nb, size_t pf, int m, int mb, int b0, int b1, bool first, bool last) {
                          if (nb == kRowBlock) tile_m<Dec, SM, kRowBlock>(a, n, rs, pf, m, mb, b0, b1, first, last);
                          else tile_m<Dec, SM, 1>(a, n, rs, pf, m, mb, b0, b1, first, last);
                      });
}

// The scale mode for the matrix's group: g32 / g64 spread over the lanes (policies whose lane i
// holds k 8i..8i+7: INT4, INT3), else one scale per block (groups of whole blocks, per-channel).
template <class Dec>
void rows_by_group(const GemmArgs& a, int n0, int n1) {
    const int g = a.W->group;
    if (g == 32 || g == 64) rows_driver<Dec, ScaleMode::lanes>(a, n0, n1);
    else rows_driver<Dec, ScaleMode::bcast>(a, n0, n1);
}

}  // namespace
}  // namespace qb::cpu::avx512vnni
