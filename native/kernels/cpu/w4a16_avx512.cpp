// w4a16_avx512.cpp: INT4 / INT3 / INT2 group-wise weight-only GEMM, AVX-512 (F, BW, VL, DQ).
//
// The INT4 decode is the whole trick of the M = 1 kernel, which must stream weights at memory
// bandwidth: 16 packed bytes (32 weights) become two vectors of 16 floats with
//   vpmovzxbd  (16 bytes -> 16 dword lanes, lane i = byte i = nibbles of k = 2i and 2i+1)
//   vpermps    lut[lane & 15]           -> weights of even k (vpermps ignores index bits >= 4,
//   vpsrld 4 + vpermps                  -> weights of odd k   so the low nibble needs no mask)
// where lut holds the 16 dequantized values (u - z) x s of the current (row, group), built once
// per group with one subtract and one multiply. So scales and zeros cost nothing per weight,
// each weight byte is touched once, and the float weight is exactly qformat.h's dequant_at().
// The activations are de-interleaved once per call (GemmArgs::Xp) to the even/odd lane order.
//
// INT3 and INT2 use the same LUT with duplicated entries (lut[i] = value of i & 7 or i & 3),
// so the bits above the value that a lane still carries after its shift do not matter:
//   INT2: one dword = 16 values; broadcast it and shift lane i right by 2i.
//   INT3: 6 bytes = 16 values; a masked 6-byte load (never reads past the row buffer), a
//         broadcast to the four 128-bit lanes, vpshufb places pack j's three bytes into the
//         dwords of its 8 values, then lane i shifts right by 3 (i mod 8).
// These cost 2-3 more shuffle-port instructions per 16 weights than INT4: slower, exact.
#include <cstring>

#include "dot_tile_avx512.h"

namespace qb::cpu::avx512 {
namespace {

template <int B>
struct DecLut {
    static constexpr int kBits = B;
    struct RowState { __m512 lut; };
    // Inlined, with no call left in it: a call inside the chunk loop would force the compiler
    // to keep every accumulator in memory (all vector registers are caller-saved).
    QB_ALWAYS_INLINE static void begin_group(const QuantizedMatrix& W, int n, int g, RowState& st) {
        // lane i holds the code i & (2^B - 1): the duplicated entries for B < 4
        const __m512 codes = _mm512_cvtepi32_ps(_mm512_and_si512(
            _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15), _mm512_set1_epi32((1 << B) - 1)));
        const size_t i = (size_t)n * (size_t)groups(W) + (size_t)g;
        const float z = W.has_zero ? (float)get_packed(W.zeros, B, i) : (float)sym_zero(B);
        const float s = _cvtsh_ss(static_cast<const uint16_t*>(W.scales)[i]);
        st.lut = _mm512_mul_ps(_mm512_sub_ps(codes, _mm512_set1_ps(z)), _mm512_set1_ps(s));
    }
    static float tail_weight(const QuantizedMatrix& W, int n, int k) { return dequant_at(W, n, k); }
    static float finish(const QuantizedMatrix&, int, float s) { return s; }
};

struct DecI4 : DecLut<4> {
    QB_ALWAYS_INLINE static void decode(const uint8_t* p, const RowState& st, __m512& w0, __m512& w1) {
        const __m512i v = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
        w0 = _mm512_permutexvar_ps(v, st.lut);
        w1 = _mm512_permutexvar_ps(_mm512_srli_epi32(v, 4), st.lut);
    }
};

struct DecI2 : DecLut<2> {
    QB_ALWAYS_INLINE static void decode(const uint8_t* p, const RowState& st, __m512& w0, __m512& w1) {
        const __m512i sh = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
        uint32_t d0, d1;
        std::memcpy(&d0, p, 4);
        std::memcpy(&d1, p + 4, 4);
        w0 = _mm512_permutexvar_ps(_mm512_srlv_epi32(_mm512_set1_epi32((int)d0), sh), st.lut);
        w1 = _mm512_permutexvar_ps(_mm512_srlv_epi32(_mm512_set1_epi32((int)d1), sh), st.lut);
    }
};

struct DecI3 : DecLut<3> {
    static __m512i spread(const uint8_t* p) {
        // dword lane i (128-bit lane i / 4) <- bytes 3 (i / 8) .. 3 (i / 8) + 2 of p; 0x80 = zero
        constexpr int P0 = (int)0x80020100u, P1 = (int)0x80050403u;
        const __m512i shuf = _mm512_setr_epi32(P0, P0, P0, P0,   // lanes 0-3: pack 0
                                               P0, P0, P0, P0,   // lanes 4-7: pack 0
                                               P1, P1, P1, P1,   // lanes 8-11: pack 1
                                               P1, P1, P1, P1);  // lanes 12-15: pack 1
        const __m512i sh = _mm512_setr_epi32(0, 3, 6, 9, 12, 15, 18, 21, 0, 3, 6, 9, 12, 15, 18, 21);
        const __m128i b = _mm_maskz_loadu_epi8(0x3f, p);
        return _mm512_srlv_epi32(_mm512_shuffle_epi8(_mm512_broadcast_i32x4(b), shuf), sh);
    }
    QB_ALWAYS_INLINE static void decode(const uint8_t* p, const RowState& st, __m512& w0, __m512& w1) {
        w0 = _mm512_permutexvar_ps(spread(p), st.lut);
        w1 = _mm512_permutexvar_ps(spread(p + 6), st.lut);
    }
};

}  // namespace

void w4a16_rows(const GemmArgs& a, int n0, int n1) {
    switch (a.W->bits) {
        case 4: rows_driver<DecI4>(a, n0, n1); break;
        case 3: rows_driver<DecI3>(a, n0, n1); break;
        case 2: rows_driver<DecI2>(a, n0, n1); break;
        default: break;
    }
}

}  // namespace qb::cpu::avx512
