// w4a16_avx512vnni.cpp: INT4 group-wise weight-only GEMM with 16-bit fixed-point activations
// and VPDPBUSD (AVX512_VNNI): exact int32 sums per 128-value block, FP32 across blocks. The
// INT4 path of the avx512-vnni level at every M, for groups 32, 64, any multiple of 128 and
// per-channel; other groups, INT3 and INT2 stay on w4a16_avx512.cpp.
//
// Why: its predecessor (BF16 activations and VDPBF16PS, removed in session 7) was bound by
// its multiplies: on the development VM VDPBF16PS issues once per two cycles (32 MACs), so
// 128 weights cost 8 cycles of port 0 before any decode. VPDPBUSD issues about once per cycle
// with 64 byte MACs, and the nibbles need no table: an AND gives the even-k weights, a shift
// and an AND the odd-k ones, as unsigned bytes u in 0..15 (docs/cpu-kernels.md).
//
// Activations (w4a16_prepare_acts): per block of 128 values a_k = round(x_k 2^e) with a
// power-of-two step (qformat.h fixed16_exp: |a| <= 32639, at least 14 significant bits for
// the block's largest value), split as a = 256 hi + lo into two signed bytes. VPDPBUSD
// multiplies unsigned by signed bytes, so per 128 weights and row
//     hi_acc = dpbusd(0,   u_even, hi_even) ; hi_acc = dpbusd(hi_acc, u_odd, hi_odd)
//     lo_acc = dpbusd(C_b, u_even, lo_even) ; lo_acc = dpbusd(lo_acc, u_odd, lo_odd)
//     y     += float((hi_acc << 8) + lo_acc) * (s_g 2^-e)
// where C_b (per activation row and block, 16 lanes) = -8 x each lane's sum of a, so the
// int32 lanes hold sum (u - 8) a exactly (|.| < 2^23) and the conversion is exact, as is
// s_g 2^-e. Lane i covers k = 8i .. 8i+7 of the block (bytes 4i..4i+3 of each vector), as in
// the BF16 kernel before it, so g32 / g64 spread their scales over the lanes the same way.
// Stored zero points subtract sum_g (z_g - 8) s_g xsum_g per output afterwards (xsum_g: the
// group sums of a_k 2^-e). Per 128 weights and row: 1 load, 2 AND, 1 shift, 4 VPDPBUSD,
// shift + add, convert, multiply, FMA.
//
// Numerics: exact up to the FP32 sum over blocks, on the input a_k 2^-e (qformat.h
// fixed16_round, the reference's input). Next to BF16 activations (8 significant bits per
// value) that input is finer for every value above ~2^-6 of its block's largest, and on rows
// with 100-1000x outlier channels the outputs were ~20x closer to those of the unrounded X
// (test Fixed16ActivationsAreFinerThanBf16OnLlmLikeRows).
#include "simd.h"

#include "kernel_abi.h"

// GCC: lambdas take the attribute after the parameter list.
#define QB_ALWAYS_INLINE_LAMBDA __attribute__((always_inline))

namespace qb::cpu::avx512vnni {
namespace {

constexpr int kBlock = kFixed16Block;   // 128 weights: 64 packed bytes, one vector
constexpr int kBlockBytes = 64;
constexpr int kPrefetchBytes = 16384;   // as the BF16 kernel before it (tuned there)

enum class ScaleMode { bcast, lanes };

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
    if (first % 2 == 0) {
        const int nb = (cnt + 1) / 2;
        const __m128i b = _mm_maskz_loadu_epi8((__mmask16)((1u << nb) - 1u), W.zeros + first / 2);
        const __m512i d = _mm512_cvtepu8_epi32(_mm_unpacklo_epi8(b, b));
        const __m512i sh = _mm512_setr_epi32(0, 4, 0, 4, 0, 4, 0, 4, 0, 4, 0, 4, 0, 4, 0, 4);
        z = _mm512_and_si512(_mm512_srlv_epi32(d, sh), _mm512_set1_epi32(15));
    } else {
        alignas(64) int32_t t[16] = {};
        for (int i = 0; i < cnt; ++i) t[i] = (int32_t)get_packed(W.zeros, 4, first + (size_t)i);
        z = _mm512_load_si512(t);
    }
    return _mm512_cvtepi32_ps(_mm512_sub_epi32(z, _mm512_set1_epi32(sym_zero(4))));
}

// Rows n0, n0 + rs, ..., n0 + (NB - 1) rs against activation rows m0 .. m0 + MB - 1.
template <ScaleMode SM, int NB, int MB>
void tile(const GemmArgs& a, int n0, int rs, size_t pf_dist, int m0, int b0, int b1, bool first, bool last) {
    const QuantizedMatrix& W = *a.W;
    const int g = W.group, G = groups(W);
    const size_t rb = row_bytes(W);
    const int nblocks = (a.K + kBlock - 1) / kBlock;
    const __m512i nib = _mm512_set1_epi8(15);
    const __m512i lane_g = SM == ScaleMode::lanes
                               ? _mm512_srlv_epi32(_mm512_setr_epi32(0, 8, 16, 24, 32, 40, 48, 56, 64, 72, 80, 88, 96, 104, 112, 120),
                                                   _mm512_set1_epi32(g == 32 ? 5 : 6))
                               : _mm512_setzero_si512();
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
    int gw = -1 << 30;
    int gb = SM == ScaleMode::lanes ? b0 * span : b0 / bpg, bin = SM == ScaleMode::lanes ? 0 : b0 % bpg;
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
        // The activation row's 2^-e of this block, per activation row.
        __m512 step[MB];
#pragma GCC unroll 16
        for (int j = 0; j < MB; ++j) step[j] = _mm512_set1_ps(a.xstep[(size_t)(m0 + j) * nblocks + b]);
#pragma GCC unroll 16
        for (int r = 0; r < NB; ++r) _mm_prefetch(reinterpret_cast<const char*>(rows[r] + off + pf_dist), _MM_HINT_T0);
#pragma GCC unroll 16
        for (int r = 0; r < NB; ++r) {
            const __m512i w = full ? _mm512_loadu_si512(rows[r] + off) : _mm512_maskz_loadu_epi8(mask, rows[r] + off);
            const __m512i ue = _mm512_and_si512(w, nib);                          // byte j: k = 2j
            const __m512i uo = _mm512_and_si512(_mm512_srli_epi16(w, 4), nib);   // byte j: k = 2j + 1
            const __m512 s = SM == ScaleMode::lanes ? _mm512_permutexvar_ps(sidx, scv[r]) : _mm512_set1_ps(scw[r][gb - gw]);
#pragma GCC unroll 16
            for (int j = 0; j < MB; ++j) {
                const int8_t* x = a.Xs + (size_t)(m0 + j) * a.ldx + (size_t)b * (4 * kBlockBytes);
                const __m512i c = _mm512_loadu_si512(a.xcorr + ((size_t)(m0 + j) * nblocks + b) * 16);
                __m512i hi = _mm512_dpbusd_epi32(_mm512_setzero_si512(), ue, _mm512_loadu_si512(x));
                hi = _mm512_dpbusd_epi32(hi, uo, _mm512_loadu_si512(x + 64));
                __m512i lo = _mm512_dpbusd_epi32(c, ue, _mm512_loadu_si512(x + 128));
                lo = _mm512_dpbusd_epi32(lo, uo, _mm512_loadu_si512(x + 192));
                const __m512 v = _mm512_cvtepi32_ps(_mm512_add_epi32(_mm512_slli_epi32(hi, 8), lo));
                tot[r][j] = _mm512_fmadd_ps(v, _mm512_mul_ps(s, step[j]), tot[r][j]);
            }
        }
        if (SM == ScaleMode::lanes) gb += span;
        else if (++bin == bpg) { bin = 0; ++gb; }
    };
    const int bfull = (int)(rb / kBlockBytes);
    const int bmain = b1 < bfull ? b1 : bfull;
    int b = b0;
    for (; b < bmain; ++b) block(b, true, ~(__mmask64)0);
    // Missing bytes load as 0 (u = 0) and meet zero activations; C_b counts only real k.
    for (; b < b1; ++b) block(b, false, ((__mmask64)1 << (rb - (size_t)b * kBlockBytes)) - 1);
    for (int r = 0; r < NB; ++r) {
        if (last && W.has_zero) {
            __m512 c[MB];
            for (int j = 0; j < MB; ++j) c[j] = _mm512_setzero_ps();
            for (int g0 = 0; g0 < G; g0 += 16) {
                const __m512 coef = _mm512_mul_ps(zero_window(W, n0 + r * rs, G, g0), scale_window(W, n0 + r * rs, G, g0));
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

// K block (in 128-value blocks): all of K for small M; otherwise the X slice (M rows x kc
// blocks x 256 bytes) stays within kXSliceBytes.
int k_blocks(int M, int nblocks) {
    if (M <= 4) return nblocks;
    const long kb = (long)(kXSliceBytes / (4 * kBlockBytes * (size_t)M));
    return kb < 2 ? 2 : (kb > nblocks ? nblocks : (int)kb);
}

template <ScaleMode SM>
void rows_driver(const GemmArgs& a, int n0, int n1) {
    const int nblocks = (a.K + kBlock - 1) / kBlock, kc = k_blocks(a.M, nblocks);
    const size_t rb = row_bytes(*a.W);
    const int rs = int4_row_stride(rb), span = kRowBlock * rs;
    // A whole number of row groups ahead (>= kPrefetchBytes), so each row's prefetch lands on
    // the same row of a later group (docs/cpu-kernels.md, "Prefetch").
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

// Rows [m0, m1) of X -> Xs (per block: hi bytes of even k, hi of odd k, lo of even k, lo of
// odd k; 64 each), xstep (2^-e per block), xcorr (C_b) and, with zero points, xgs. A row with
// an infinity or a NaN sets xbad[m] and is left unfinished (the dispatcher runs the call on
// the FP32-activation path instead).
void w4a16_prepare_acts(const GemmArgs& a, int m0, int m1) {
    const int K = a.K, G = groups(*a.W), nblocks = (K + kBlock - 1) / kBlock, g = a.W->group;
    const bool sums = a.W->has_zero;
    const __m512i ones = _mm512_set1_epi8(1);
    for (int m = m0; m < m1; ++m) {
        const float* x = a.X + (size_t)m * K;
        a.xbad[m] = 0;
        double gsum = 0;   // the open group's sum of a_k 2^-e (exact in double)
        for (int b = 0; b < nblocks; ++b) {
            const int k0 = b * kBlock, n = K - k0 < kBlock ? K - k0 : kBlock;
            __m512 v[8];
            __m512 amax = _mm512_setzero_ps();
            __mmask16 fin = 0xFFFF;
            for (int c = 0; c < 8; ++c) {
                const int left = n - 16 * c;
                const __mmask16 mk = left >= 16 ? (__mmask16)0xFFFF : left > 0 ? (__mmask16)((1u << left) - 1u) : 0;
                v[c] = _mm512_maskz_loadu_ps(mk, x + k0 + (left > 0 ? 16 * c : 0));
                const __m512 av = _mm512_abs_ps(v[c]);
                // Finite: |v| <= FLT_MAX (false for infinities and NaN).
                fin &= _mm512_cmp_ps_mask(av, _mm512_set1_ps(3.4028235e38f), _CMP_LE_OQ);
                amax = _mm512_max_ps(amax, av);
            }
            if (fin != 0xFFFF) { a.xbad[m] = 1; break; }
            const int e = fixed16_exp(_mm512_reduce_max_ps(amax));
            const float step = pow2f(-e);
            a.xstep[(size_t)m * nblocks + b] = step;
            const __m512 up = _mm512_set1_ps(pow2f(e));
            // hi = (a + 128) >> 8, lo = a - 256 hi (both signed bytes), 16 k per vector.
            __m128i hb[8], lb[8];
            for (int c = 0; c < 8; ++c) {
                const __m512i q = _mm512_cvtps_epi32(_mm512_mul_ps(v[c], up));   // MXCSR: nearest even
                const __m512i hi = _mm512_srai_epi32(_mm512_add_epi32(q, _mm512_set1_epi32(128)), 8);
                hb[c] = _mm512_cvtepi32_epi8(hi);
                lb[c] = _mm512_cvtepi32_epi8(_mm512_sub_epi32(q, _mm512_slli_epi32(hi, 8)));
            }
            // 128 bytes in k order as 64 words (word j = k 2j, 2j+1): low bytes = even k.
            int8_t* xs = a.Xs + (size_t)m * a.ldx + (size_t)b * (4 * kBlockBytes);
            auto split = [&](const __m128i* s8, int8_t* dst) {
                const __m512i w0 = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_setr_m128i(s8[0], s8[1])), _mm256_setr_m128i(s8[2], s8[3]), 1);
                const __m512i w1 = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_setr_m128i(s8[4], s8[5])), _mm256_setr_m128i(s8[6], s8[7]), 1);
                _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst), _mm512_cvtepi16_epi8(w0));
                _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + 32), _mm512_cvtepi16_epi8(w1));
                _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + 64), _mm512_cvtepi16_epi8(_mm512_srai_epi16(w0, 8)));
                _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + 96), _mm512_cvtepi16_epi8(_mm512_srai_epi16(w1, 8)));
            };
            split(hb, xs);
            split(lb, xs + 128);
            // Lane i's sum of a over k = 8i .. 8i+7, with the same byte dot products the kernel
            // uses (lane i = bytes 4i .. 4i+3 of the even and of the odd vectors).
            const __m512i sh = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(_mm512_setzero_si512(), ones, _mm512_loadu_si512(xs)), ones,
                                                   _mm512_loadu_si512(xs + 64));
            const __m512i sl = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(_mm512_setzero_si512(), ones, _mm512_loadu_si512(xs + 128)), ones,
                                                   _mm512_loadu_si512(xs + 192));
            const __m512i lsum = _mm512_add_epi32(_mm512_slli_epi32(sh, 8), sl);
            _mm512_storeu_si512(a.xcorr + ((size_t)m * nblocks + b) * 16, _mm512_mullo_epi32(lsum, _mm512_set1_epi32(-8)));
            if (!sums) continue;
            alignas(64) int32_t ls[16];
            _mm512_store_si512(ls, lsum);
            for (int i = 0; i < 16 && 8 * i < n; ++i) {
                gsum += (double)ls[i] * (double)step;
                const int kend = k0 + 8 * i + 8 < K ? k0 + 8 * i + 8 : K;   // one past the lane's last k
                if (kend == K || kend % g == 0) {
                    a.xgs[(size_t)m * G + (kend - 1) / g] = (float)gsum;
                    gsum = 0;
                }
            }
        }
    }
}

}  // namespace qb::cpu::avx512vnni
