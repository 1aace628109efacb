// w8a16_avx512vnni.cpp: INT8 weight-only GEMM (per-row scale) with 16-bit fixed-point
// activations and VPDPBUSD: the INT8 path of the avx512-vnni level, every M. The block loop
// and the activations are the INT4 kernel's (fixed16_tile_avx512vnni.h,
// fixed16_acts_avx512vnni.cpp; design in w4a16_avx512vnni.cpp).
//
// Why: the FP32-activation path (w8a16_avx512.cpp) spends 3 vector uops per 16 weights (sign
// extend, convert, FMA), 24 per 128; here 128 weights cost 2 loads, 2 XOR, 4 VPDPBUSD, shift +
// add, convert, FMA. VPDPBUSD takes unsigned bytes first, so the weights go in as q + 128
// (XOR 0x80, as in the W8A8 kernel) and C_b = -128 x each lane's sum of a puts the offset
// back in the same int32 lanes: sum q a is exact in int32 (|.| < 2^27), and its conversion to
// FP32 rounds once per block (above 2^24), which the error bound counts. The row scale (FP16
// or FP32) multiplies the finished sum, as in the FP32 path.
#include "fixed16_tile_avx512vnni.h"

namespace qb::cpu::avx512vnni {
namespace {

// 128 bytes = 128 weights in k order: v0 = k 0..63 of the block, v1 = k 64..127.
struct DecI8 {
    static constexpr int kBlockBytes = 128;
    static constexpr bool kGroupScales = false;
    QB_ALWAYS_INLINE static void load(const uint8_t* p, __mmask64 m0, __mmask64 m1, __m512i& v0, __m512i& v1) {
        const __m512i off = _mm512_set1_epi8((char)0x80);
        const bool full = m0 == ~(__mmask64)0 && m1 == ~(__mmask64)0;
        v0 = _mm512_xor_si512(full ? _mm512_loadu_si512(p) : _mm512_maskz_loadu_epi8(m0, p), off);
        v1 = _mm512_xor_si512(full ? _mm512_loadu_si512(p + 64) : _mm512_maskz_loadu_epi8(m1, p + 64), off);
    }
    QB_ALWAYS_INLINE static float finish(const QuantizedMatrix& W, int n, float s) { return s * scale_at(W, n, 0); }
};

}  // namespace

void w8a16_rows(const GemmArgs& a, int n0, int n1) { rows_driver<DecI8, ScaleMode::none>(a, n0, n1); }

}  // namespace qb::cpu::avx512vnni
