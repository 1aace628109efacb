// w3a16_avx512vbmi.cpp: INT3 group-wise weight-only GEMM with 16-bit fixed-point activations
// and VPDPBUSD, the INT3 path of the avx512-vnni level on CPUs that also have AVX512_VBMI
// (groups that are multiples of 128, per-channel). The block loop and the activations are the
// INT4 / INT8 ones (fixed16_tile_avx512vnni.h, fixed16_acts_avx512vnni.cpp); only the decode
// differs.
//
// Why VBMI: INT3 packs eight codes in three bytes (a little-endian 24-bit word, code i at bits
// 3i..3i+2), so codes cross byte boundaries. VPERMB puts each 3-byte pack in the low bytes of
// its own 64-bit lane and VPMULTISHIFTQB takes eight 8-bit windows from each lane at bit offsets
// 0, 3, ..., 21: with an AND, 64 codes as bytes in k order per 2 instructions. Without VBMI the
// same needs byte shuffles, 16-bit variable shifts and packs across lanes (what the FP32-
// activation path w4a16_avx512.cpp does), so those CPUs keep that path.
//
// A block's 48 bytes -> v0 = k 0..63, v1 = k 64..127: the activations in k order (INT8's
// layout). Lane i covers k 4i..4i+3 and 64 + 4i..64 + 4i+3, so groups must be whole blocks.
#include "fixed16_tile_avx512vnni.h"

namespace qb::cpu::avx512vnni {
namespace {

struct DecI3 {
    static constexpr int kBlockBytes = 48;
    static constexpr bool kGroupScales = true;
    QB_ALWAYS_INLINE static void load(const uint8_t* p, __mmask64 m0, __mmask64, __m512i& v0, __m512i& v1) {
        const __m512i w = _mm512_maskz_loadu_epi8(m0 & (((__mmask64)1 << 48) - 1), p);
        // Lane L of v0 gets pack L (bytes 3L..3L+2), of v1 pack 8 + L.
        const __m512i i0 = _mm512_set_epi8(0, 0, 0, 0, 0, 23, 22, 21, 0, 0, 0, 0, 0, 20, 19, 18, 0, 0, 0, 0, 0, 17, 16, 15, 0, 0, 0,
                                           0, 0, 14, 13, 12, 0, 0, 0, 0, 0, 11, 10, 9, 0, 0, 0, 0, 0, 8, 7, 6, 0, 0, 0, 0, 0, 5, 4, 3,
                                           0, 0, 0, 0, 0, 2, 1, 0);
        const __m512i i1 = _mm512_add_epi8(i0, _mm512_set1_epi8(24));
        const __m512i sh = _mm512_set1_epi64(0x15120F0C09060300ll);   // offsets 0, 3, ..., 21
        const __m512i seven = _mm512_set1_epi8(7);
        v0 = _mm512_and_si512(_mm512_multishift_epi64_epi8(sh, _mm512_permutexvar_epi8(i0, w)), seven);
        v1 = _mm512_and_si512(_mm512_multishift_epi64_epi8(sh, _mm512_permutexvar_epi8(i1, w)), seven);
    }
    QB_ALWAYS_INLINE static float finish(const QuantizedMatrix&, int, float s) { return s; }
};

}  // namespace

void w3a16_rows(const GemmArgs& a, int n0, int n1) { rows_driver<DecI3, ScaleMode::bcast>(a, n0, n1); }

}  // namespace qb::cpu::avx512vnni
