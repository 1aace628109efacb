// w4a16_avx512vnni.cpp: INT4 and INT2 group-wise weight-only GEMM with 16-bit fixed-point
// activations and VPDPBUSD (AVX512_VNNI): exact int32 sums per 128-value block, FP32 across
// blocks. The INT4 path of the avx512-vnni level at every M, for groups 32, 64, any multiple of
// 128 and per-channel; INT2 with groups that are multiples of 128 or per-channel (session 8);
// INT3 is w3a16_avx512vbmi.cpp; other groups stay on w4a16_avx512.cpp.
//
// Why: its predecessor (BF16 activations and VDPBF16PS, removed in session 7) was bound by
// its multiplies: on the development VM VDPBF16PS issues once per two cycles (32 MACs), so
// 128 weights cost 8 cycles of port 0 before any decode. VPDPBUSD issues about once per cycle
// with 64 byte MACs, and the nibbles need no table: an AND gives the even-k weights, a shift
// and an AND the odd-k ones, as unsigned bytes u in 0..15 (docs/cpu-kernels.md).
//
// Activations (fixed16_acts_avx512vnni.cpp): per block of 128 values a_k = round(x_k 2^e) with a
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
// shift + add, convert, multiply, FMA. The block loop is fixed16_tile_avx512vnni.h, shared
// with INT8 (w8a16_avx512vnni.cpp).
//
// Numerics: exact up to the FP32 sum over blocks, on the input a_k 2^-e (qformat.h
// fixed16_round, the reference's input). Next to BF16 activations (8 significant bits per
// value) that input is finer for every value above ~2^-6 of its block's largest, and on rows
// with 100-1000x outlier channels the outputs were ~20x closer to those of the unrounded X
// (test Fixed16ActivationsAreFinerThanBf16OnLlmLikeRows).
#include "fixed16_tile_avx512vnni.h"

namespace qb::cpu::avx512vnni {
namespace {

// 64 packed bytes = 128 nibbles; byte j holds k = 2j (low nibble) and 2j + 1 (high).
struct DecI4 {
    static constexpr int kBlockBytes = 64;
    static constexpr bool kGroupScales = true;
    QB_ALWAYS_INLINE static void load(const uint8_t* p, __mmask64 m0, __mmask64, __m512i& v0, __m512i& v1) {
        const __m512i w = m0 == ~(__mmask64)0 ? _mm512_loadu_si512(p) : _mm512_maskz_loadu_epi8(m0, p);
        const __m512i nib = _mm512_set1_epi8(15);
        v0 = _mm512_and_si512(w, nib);                          // byte j: k = 2j
        v1 = _mm512_and_si512(_mm512_srli_epi16(w, 4), nib);   // byte j: k = 2j + 1
    }
    QB_ALWAYS_INLINE static float finish(const QuantizedMatrix&, int, float s) { return s; }
};

// 32 packed bytes = 128 2-bit codes; byte j holds k = 4j + i at bits 2i..2i+1. The 32 bytes go
// to both 256-bit halves, and one shift per half picks a field: v0 = fields 0 | 1 (k = 4j,
// 4j + 1), v1 = fields 2 | 3 (the activation layout of fixed16_prepare_acts puts a_k there).
// Lane i then covers k spread over 16 values (4 x 4 fields), so groups must be whole blocks.
struct DecI2 {
    static constexpr int kBlockBytes = 32;
    static constexpr bool kGroupScales = true;
    QB_ALWAYS_INLINE static void load(const uint8_t* p, __mmask64 m0, __mmask64, __m512i& v0, __m512i& v1) {
        const __m256i w = m0 == ~(__mmask64)0 ? _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))
                                                : _mm256_maskz_loadu_epi8((__mmask32)m0, p);
        const __m512i b = _mm512_broadcast_i64x4(w);
        const __m512i c01 = _mm512_inserti64x4(_mm512_setzero_si512(), _mm256_set1_epi16(2), 1);   // shifts 0 | 2
        const __m512i c23 = _mm512_add_epi16(c01, _mm512_set1_epi16(4));                           // shifts 4 | 6
        const __m512i field = _mm512_set1_epi8(3);
        v0 = _mm512_and_si512(_mm512_srlv_epi16(b, c01), field);
        v1 = _mm512_and_si512(_mm512_srlv_epi16(b, c23), field);
    }
    QB_ALWAYS_INLINE static float finish(const QuantizedMatrix&, int, float s) { return s; }
};

}  // namespace

void w4a16_rows(const GemmArgs& a, int n0, int n1) {
    if (a.W->bits == 2) rows_driver<DecI2, ScaleMode::bcast>(a, n0, n1);   // groups: multiples of 128, per-channel
    else rows_by_group<DecI4>(a, n0, n1);
}

}  // namespace qb::cpu::avx512vnni
