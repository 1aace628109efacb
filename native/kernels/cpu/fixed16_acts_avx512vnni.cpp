// fixed16_acts_avx512vnni.cpp: the activations of the avx512-vnni weight-only kernels
// (INT4 / INT2 w4a16_avx512vnni.cpp, INT3 w3a16_avx512vbmi.cpp, INT8 w8a16_avx512vnni.cpp) in
// 16-bit fixed point, per row and block of 128 values (qformat.h fixed16_exp /
// fixed16_round): a_k = round(x_k 2^e) = 256 hi + lo, two signed bytes. Per block, 256 bytes in
// the order of the weight policy's two vectors (fixed16_tile_avx512vnni.h): INT4 and INT3 hi of
// even k, hi of odd k, lo of even k, lo of odd k (INT4's low and high nibbles); INT2 hi of k = 4j,
// 4j + 1, 4j + 2, 4j + 3 (j = 0..31: the four 2-bit fields of each byte), then lo the same way;
// INT8 hi of k 0..63, hi of k 64..127, lo of k 0..63, lo of k 64..127.
// Also 2^-e per block (xstep), C_b = -offset x each lane's sum of a (xcorr; the symmetric zero
// of the INT4 / INT3 / INT2 codes, 128 for INT8's XOR 0x80), and for stored zero points the
// group sums of a_k 2^-e (xgs). A row holding an infinity or a NaN sets xbad[m] and is left unfinished:
// it has no fixed-point form, and the dispatcher runs the call on the FP32 path instead.
#include "fixed16_tile_avx512vnni.h"

namespace qb::cpu::avx512vnni {

void fixed16_prepare_acts(const GemmArgs& a, int m0, int m1) {
    const int K = a.K, G = groups(*a.W), nblocks = (K + kBlock - 1) / kBlock, g = a.W->group;
    const int bits = a.W->bits;
    const bool sums = a.W->has_zero, int4_order = bits == 4 || bits == 3;   // INT3 decodes to INT4's order
    const int offset = bits == 8 ? 128 : sym_zero(bits);   // what the kernel's unsigned weight bytes carry
    const __m512i ones = _mm512_set1_epi8(1);
    for (int m = m0; m < m1; ++m) {
        const float* x = a.X + (size_t)m * K;
        a.xbad[m] = 0;
        GroupSums gs{sums ? a.xgs + (size_t)m * G : nullptr, K, g};
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
            // INT4: 128 bytes in k order as 64 words (word j = k 2j, 2j+1): low bytes = even k.
            int8_t* xs = a.Xs + (size_t)m * a.ldx + (size_t)b * kActBlockBytes;
            // 64 bytes in k order from four of the eight 16-value chunks.
            auto join = [](const __m128i* s4) {
                return _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_setr_m128i(s4[0], s4[1])), _mm256_setr_m128i(s4[2], s4[3]), 1);
            };
            auto split = [&](const __m128i* s8, int8_t* dst) {
                const __m512i w0 = join(s8), w1 = join(s8 + 4);
                _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst), _mm512_cvtepi16_epi8(w0));
                _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + 32), _mm512_cvtepi16_epi8(w1));
                _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + 64), _mm512_cvtepi16_epi8(_mm512_srai_epi16(w0, 8)));
                _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + 96), _mm512_cvtepi16_epi8(_mm512_srai_epi16(w1, 8)));
            };
            // INT2: 128 bytes in k order -> k = 4j + i at byte 32 i + j. Within each 16 bytes a
            // shuffle gathers field i into dword i; two-source dword permutes put dword (chunk
            // c, field i) at dword 8 i + c.
            auto split4 = [&](const __m128i* s8, int8_t* dst) {
                const __m512i sh = _mm512_broadcast_i32x4(_mm_setr_epi8(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15));
                const __m512i z0 = _mm512_shuffle_epi8(join(s8), sh), z1 = _mm512_shuffle_epi8(join(s8 + 4), sh);
                const __m512i i0 = _mm512_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28, 1, 5, 9, 13, 17, 21, 25, 29);
                const __m512i i1 = _mm512_add_epi32(i0, _mm512_set1_epi32(2));
                _mm512_storeu_si512(dst, _mm512_permutex2var_epi32(z0, i0, z1));
                _mm512_storeu_si512(dst + 64, _mm512_permutex2var_epi32(z0, i1, z1));
            };
            if (int4_order) {
                split(hb, xs);
                split(lb, xs + 128);
            } else if (bits == 2) {
                split4(hb, xs);
                split4(lb, xs + 128);
            } else {
                for (int c = 0; c < 8; ++c) {
                    _mm_storeu_si128(reinterpret_cast<__m128i*>(xs + 16 * c), hb[c]);
                    _mm_storeu_si128(reinterpret_cast<__m128i*>(xs + 128 + 16 * c), lb[c]);
                }
            }
            // Lane i's sum of a over its eight k, with the same byte dot products the kernel
            // uses (lane i = bytes 4i .. 4i+3 of both vectors).
            const __m512i sh = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(_mm512_setzero_si512(), ones, _mm512_loadu_si512(xs)), ones,
                                                   _mm512_loadu_si512(xs + 64));
            const __m512i sl = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(_mm512_setzero_si512(), ones, _mm512_loadu_si512(xs + 128)), ones,
                                                   _mm512_loadu_si512(xs + 192));
            const __m512i lsum = _mm512_add_epi32(_mm512_slli_epi32(sh, 8), sl);
            _mm512_storeu_si512(a.xcorr + ((size_t)m * nblocks + b) * 16, _mm512_mullo_epi32(lsum, _mm512_set1_epi32(-offset)));
            if (!sums) continue;
            if (!int4_order) {
                // INT2's lanes hold k spread over the block, and its groups are whole blocks (or
                // the row): the block's sum at once.
                gs.add((double)_mm512_reduce_add_epi32(lsum) * (double)step, k0 + n);
                continue;
            }
            alignas(64) int32_t ls[16];
            _mm512_store_si512(ls, lsum);
            for (int i = 0; i < 16 && 8 * i < n; ++i)   // lane i: k0 + 8i .. k0 + 8i + 7
                gs.add((double)ls[i] * (double)step, k0 + 8 * i + 8 < K ? k0 + 8 * i + 8 : K);
        }
    }
}

}  // namespace qb::cpu::avx512vnni
