// w4a16_avx2_fixed16.cpp: INT4 weight-only GEMM for CPUs with AVX2 but no AVX512_VNNI, on the
// 16-bit fixed-point activations of the avx512-vnni kernels (qformat.h fixed16_exp; same
// GemmArgs::Xs / xstep / xcorr / xgs layout, so the same reference input and error bound).
// Groups that are multiples of 128 and per-channel, with or without zero points; g32 / g64
// keep the FP32-activation kernel (w4a16_avx2.cpp).
//
// Why: that kernel turns every nibble into a float (widen, convert, subtract, multiply, FMA
// per 8 weights) and was bound by that arithmetic: 24-26% of the bandwidth probe at M = 1 on
// the development VM (Zen 4 capped at AVX2), slower than INT8 (62%), so on an AVX2-only machine
// INT4 looked worse than INT8 where it should stream twice as fast. Here the nibbles stay
// bytes and meet the activation bytes in VPMADDUBSW (unsigned x signed bytes, pairs summed to
// int16): per 128 weights and activation row
//     hi16 = sum of 4 maddubs(u, hi bytes) ; lo16 = the same with the lo bytes
//     y   += float(((madd(hi16, 1) << 8) + madd(lo16, 1)) + C) * (s_g 2^-e)
// The int16 sums cannot saturate: |u a_byte| <= 15 x 128, two per maddubs, four maddubs
// (15,360 < 32,767). Lane L of the int32 result covers bytes 4L..4L+3 of both 32-byte halves
// of the block, that is the avx512-vnni kernel's lanes L and L + 8, so C = xcorr[L] + xcorr[L+8]
// (-8 x the lane's sum of a) and each lane holds sum (u - 8) a over its 16 k exactly (< 2^23):
// the conversion and s_g 2^-e are exact, as in the VNNI kernel.
#include <cfloat>
#include <cmath>
#include <cstring>

#include "simd.h"

#include "fixed16_shared.h"
#include "kernel_abi.h"

namespace qb::cpu::avx2 {
namespace {

constexpr int kBlock = kFixed16Block;
constexpr int kActBlockBytes = kFixed16ActBlockBytes;
constexpr int kBlockBytes = kBlock / 2;   // INT4: 64 bytes per 128 weights

QB_ALWAYS_INLINE float hsum(__m256 v) {
    const __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    const __m128 t = _mm_add_ps(s, _mm_movehl_ps(s, s));
    return _mm_cvtss_f32(_mm_add_ss(t, _mm_movehdup_ps(t)));
}

// (z_g - 8) s_g for the cnt <= 8 groups from group index gi (row-major over rows x groups),
// zero-filled past cnt. Exact: a 4-bit integer times an FP16 scale. Runs once per output and
// activation-row tile, so 8 at a time from one 4-byte load where the nibbles start on a byte
// (a scalar loop made zero points cost 40% at M = 1).
QB_ALWAYS_INLINE __m256 zero_coef(const QuantizedMatrix& W, const uint16_t* scales, size_t gi, int cnt) {
    if (cnt == 8 && gi % 2 == 0) {
        uint32_t word;
        std::memcpy(&word, W.zeros + gi / 2, sizeof word);   // nibbles gi .. gi + 7, low nibble first
        const __m256i z = _mm256_and_si256(_mm256_srlv_epi32(_mm256_set1_epi32((int)word), _mm256_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28)),
                                           _mm256_set1_epi32(15));
        const __m256 s = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(scales + gi)));
        return _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(z, _mm256_set1_epi32(sym_zero(4)))), s);
    }
    alignas(32) float coef[8] = {};
    for (int i = 0; i < cnt; ++i)
        coef[i] = (float)((int)get_packed(W.zeros, 4, gi + (size_t)i) - sym_zero(4)) * _cvtsh_ss(scales[gi + (size_t)i]);
    return _mm256_load_ps(coef);
}

// Rows n0, n0 + rs, ..., n0 + (NB - 1) rs against activation rows m0 .. m0 + MB - 1, blocks
// [b0, b1). first: Y is written, else added to; last: the zero points are applied.
template <int NB, int MB>
void tile(const GemmArgs& a, int n0, int rs, size_t pf_dist, int m0, int b0, int b1, bool first, bool last) {
    const QuantizedMatrix& W = *a.W;
    const int g = W.group, G = groups(W);
    const size_t rb = row_bytes(W);
    const int nblocks = (a.K + kBlock - 1) / kBlock;
    const int bpg = g == a.K ? 1 << 30 : g / kBlock;   // blocks per group (per-channel: never advances)
    const __m256i nib = _mm256_set1_epi8(15), ones = _mm256_set1_epi16(1);
    const uint16_t* scales = static_cast<const uint16_t*>(W.scales);
    __m256 tot[NB][MB];
    const uint8_t* rows[NB];
#pragma GCC unroll 16
    for (int r = 0; r < NB; ++r) {
        rows[r] = W.q + (size_t)(n0 + r * rs) * rb;
#pragma GCC unroll 4
        for (int j = 0; j < MB; ++j) tot[r][j] = _mm256_setzero_ps();
    }
    alignas(32) uint8_t pad[kBlockBytes];   // the row's last, partial block, zero-filled
    for (int b = b0; b < b1; ++b) {
        const size_t off = (size_t)b * kBlockBytes;
        const int gb = b / bpg;
        __m256 step[MB];
        __m256i corr[MB];
#pragma GCC unroll 4
        for (int j = 0; j < MB; ++j) {
            const size_t i = (size_t)(m0 + j) * nblocks + b;
            step[j] = _mm256_set1_ps(a.xstep[i]);
            const int32_t* c = a.xcorr + i * 16;
            corr[j] = _mm256_add_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(c)),
                                       _mm256_loadu_si256(reinterpret_cast<const __m256i*>(c + 8)));
        }
        if (pf_dist != 0) {   // short runs only (cpu_kernels.h RowOrder)
#pragma GCC unroll 16
            for (int r = 0; r < NB; ++r) _mm_prefetch(reinterpret_cast<const char*>(rows[r] + off + pf_dist), _MM_HINT_T0);
        }
        const bool full = off + kBlockBytes <= rb;
#pragma GCC unroll 16
        for (int r = 0; r < NB; ++r) {
            const uint8_t* p = rows[r] + off;
            if (!full) {   // missing bytes are 0 and meet zero activations; C counts only real k
                std::memset(pad, 0, sizeof pad);
                std::memcpy(pad, p, rb - off);
                p = pad;
            }
            const __m256i w0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
            const __m256i w1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 32));
            const __m256i e0 = _mm256_and_si256(w0, nib), e1 = _mm256_and_si256(w1, nib);   // k = 2j
            const __m256i o0 = _mm256_and_si256(_mm256_srli_epi16(w0, 4), nib);              // k = 2j + 1
            const __m256i o1 = _mm256_and_si256(_mm256_srli_epi16(w1, 4), nib);
            const __m256 s = _mm256_set1_ps(_cvtsh_ss(scales[(size_t)(n0 + r * rs) * G + gb]));
#pragma GCC unroll 4
            for (int j = 0; j < MB; ++j) {
                const __m256i* x = reinterpret_cast<const __m256i*>(a.Xs + (size_t)(m0 + j) * a.ldx + (size_t)b * kActBlockBytes);
                __m256i hi = _mm256_add_epi16(_mm256_maddubs_epi16(e0, _mm256_loadu_si256(x)), _mm256_maddubs_epi16(e1, _mm256_loadu_si256(x + 1)));
                hi = _mm256_add_epi16(hi, _mm256_maddubs_epi16(o0, _mm256_loadu_si256(x + 2)));
                hi = _mm256_add_epi16(hi, _mm256_maddubs_epi16(o1, _mm256_loadu_si256(x + 3)));
                __m256i lo = _mm256_add_epi16(_mm256_maddubs_epi16(e0, _mm256_loadu_si256(x + 4)), _mm256_maddubs_epi16(e1, _mm256_loadu_si256(x + 5)));
                lo = _mm256_add_epi16(lo, _mm256_maddubs_epi16(o0, _mm256_loadu_si256(x + 6)));
                lo = _mm256_add_epi16(lo, _mm256_maddubs_epi16(o1, _mm256_loadu_si256(x + 7)));
                const __m256i sum = _mm256_add_epi32(_mm256_add_epi32(_mm256_slli_epi32(_mm256_madd_epi16(hi, ones), 8), _mm256_madd_epi16(lo, ones)), corr[j]);
                tot[r][j] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sum), _mm256_mul_ps(s, step[j]), tot[r][j]);
            }
        }
    }
    for (int r = 0; r < NB; ++r) {
        const int n = n0 + r * rs;
        if (last && W.has_zero) {   // sum_g (z_g - 8) s_g xsum_g, once per output, with the last K block
            __m256 c[MB];
            for (int j = 0; j < MB; ++j) c[j] = _mm256_setzero_ps();
            for (int g0 = 0; g0 < G; g0 += 8) {
                const int cnt = G - g0 < 8 ? G - g0 : 8;
                const __m256 coef = zero_coef(W, scales, (size_t)n * G + (size_t)g0, cnt);
                for (int j = 0; j < MB; ++j) {
                    const float* xs = a.xgs + (size_t)(m0 + j) * G + g0;
                    alignas(32) float xg[8] = {};
                    if (cnt < 8) std::memcpy(xg, xs, (size_t)cnt * sizeof(float));
                    c[j] = _mm256_fmadd_ps(coef, cnt == 8 ? _mm256_loadu_ps(xs) : _mm256_load_ps(xg), c[j]);
                }
            }
            for (int j = 0; j < MB; ++j) tot[r][j] = _mm256_sub_ps(tot[r][j], c[j]);
        }
        for (int j = 0; j < MB; ++j) {
            const float v = hsum(tot[r][j]);
            float& y = a.Y[(size_t)(m0 + j) * a.N + n];
            y = first ? v : y + v;
        }
    }
}

template <int NB>
void tile_m(const GemmArgs& a, int n, int rs, size_t pf, int m, int mb, int b0, int b1, bool first, bool last) {
    if (mb == 1) tile<NB, 1>(a, n, rs, pf, m, b0, b1, first, last);
    else tile<NB, 2>(a, n, rs, pf, m, b0, b1, first, last);
}

}  // namespace

// The activations of this kernel, in the avx512-vnni kernels' INT4 layout
// (fixed16_acts_avx512vnni.cpp; same values, same xgs): per block hi of the even k, hi of the
// odd k, lo of the even k, lo of the odd k (64 bytes each); xcorr per 8-k lane of that layout.
void fixed16_prepare_acts_int4(const GemmArgs& a, int m0, int m1) {
    const int K = a.K, G = groups(*a.W), nblocks = (K + kBlock - 1) / kBlock, g = a.W->group;
    const int offset = sym_zero(4);
    for (int m = m0; m < m1; ++m) {
        const float* x = a.X + (size_t)m * K;
        a.xbad[m] = 0;
        GroupSums gs{a.W->has_zero ? a.xgs + (size_t)m * G : nullptr, K, g};
        for (int b = 0; b < nblocks; ++b) {
            const int k0 = b * kBlock, n = K - k0 < kBlock ? K - k0 : kBlock;
            alignas(32) float v[kBlock] = {};
            std::memcpy(v, x + k0, (size_t)n * sizeof(float));
            float amax = 0;
            bool finite = true;
            for (int i = 0; i < n; ++i) {
                const float av = std::fabs(v[i]);
                finite = finite && av <= FLT_MAX;   // false for infinities and NaN
                amax = av > amax ? av : amax;
            }
            if (!finite) { a.xbad[m] = 1; break; }
            const int e = fixed16_exp(amax);
            const float step = pow2f(-e);
            a.xstep[(size_t)m * nblocks + b] = step;
            alignas(32) int32_t q[kBlock];
            const __m256 up = _mm256_set1_ps(pow2f(e));
            for (int c = 0; c < kBlock; c += 8)   // MXCSR: nearest even, as the VNNI preparation
                _mm256_store_si256(reinterpret_cast<__m256i*>(q + c), _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_load_ps(v + c), up)));
            int8_t* xs = a.Xs + (size_t)m * a.ldx + (size_t)b * kActBlockBytes;
            for (int j = 0; j < kBlock / 2; ++j)
                for (int p = 0; p < 2; ++p) {
                    const int32_t qa = q[2 * j + p], hi = (qa + 128) >> 8;   // a = 256 hi + lo, signed bytes
                    xs[64 * p + j] = (int8_t)hi;
                    xs[128 + 64 * p + j] = (int8_t)(qa - 256 * hi);
                }
            int32_t ls[16];   // lane i: k0 + 8i .. k0 + 8i + 7
            for (int i = 0; i < 16; ++i) {
                int32_t s = 0;
                for (int t = 0; t < 8; ++t) s += q[8 * i + t];
                ls[i] = s;
                a.xcorr[((size_t)m * nblocks + b) * 16 + i] = -offset * s;
            }
            if (!a.W->has_zero) continue;
            for (int i = 0; i < 16 && 8 * i < n; ++i)   // lane i: k0 + 8i .. k0 + 8i + 7
                gs.add((double)ls[i] * (double)step, k0 + 8 * i + 8 < K ? k0 + 8 * i + 8 : K);
        }
    }
}

// Rows in groups of kRowBlock x rs, K in blocks (fixed16_shared.h), up to 2 activation rows a tile.
void w4a16_fixed16_rows(const GemmArgs& a, int n0, int n1) {
    walk_fixed16_rows(a, n0, n1, 2,
                      [&](int n, int rs, int nb, size_t pf, int m, int mb, int b0, int b1, bool first, bool last) {
                          if (nb == kRowBlock) tile_m<kRowBlock>(a, n, rs, pf, m, mb, b0, b1, first, last);
                          else tile_m<1>(a, n, rs, pf, m, mb, b0, b1, first, last);
                      });
}

}  // namespace qb::cpu::avx2
