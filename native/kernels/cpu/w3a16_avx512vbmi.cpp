// w3a16_avx512vbmi.cpp: INT3 group-wise weight-only GEMM with 16-bit fixed-point activations
// and VPDPBUSD, the INT3 path of the avx512-vnni level on CPUs that also have AVX512_VBMI
// (groups 32, 64, multiples of 128, per-channel). The block loop and the activations are INT4's
// (fixed16_tile_avx512vnni.h, fixed16_acts_avx512vnni.cpp); only the decode differs.
//
// Why VBMI: INT3 packs eight codes in three bytes (a little-endian 24-bit word, code c of pack i
// at bits 3c..3c+2, k = 8i + c), so codes cross byte boundaries. One VPERMB puts packs 2q and
// 2q + 1 (bytes 6q..6q+5) in 64-bit lane q, and VPMULTISHIFTQB takes eight 8-bit windows from
// each lane at chosen bit offsets: the even codes (offsets 0, 6, 12, 18 | 24, 30, 36, 42) for v0
// and the odd ones (3, 9, ... | 27, ..., 45) for v1, then an AND. That is INT4's order exactly
// (v0 byte j = k 2j, v1 byte j = k 2j + 1; lane i = k 8i..8i+7), so INT3 shares INT4's
// activation layout, its group-scale lanes (g32 / g64) and its zero-point sums. Without VBMI the
// same needs byte shuffles, 16-bit variable shifts and packs across lanes (what the FP32-
// activation path w4a16_avx512.cpp does), so those CPUs keep that path.
#include "fixed16_tile_avx512vnni.h"

namespace qb::cpu::avx512vnni {
namespace {

struct DecI3 {
    static constexpr int kBlockBytes = 48;
    static constexpr bool kGroupScales = true;
    QB_ALWAYS_INLINE static void load(const uint8_t* p, __mmask64 m0, __mmask64, __m512i& v0, __m512i& v1) {
        const __m512i w = _mm512_maskz_loadu_epi8(m0 & (((__mmask64)1 << 48) - 1), p);
        // 64-bit lane q <- bytes 6q..6q+5 (packs 2q, 2q + 1; the top two bytes are not read).
        const __m512i idx = _mm512_set_epi8(0, 0, 47, 46, 45, 44, 43, 42, 0, 0, 41, 40, 39, 38, 37, 36, 0, 0, 35, 34, 33, 32, 31, 30, 0,
                                            0, 29, 28, 27, 26, 25, 24, 0, 0, 23, 22, 21, 20, 19, 18, 0, 0, 17, 16, 15, 14, 13, 12, 0,
                                            0, 11, 10, 9, 8, 7, 6, 0, 0, 5, 4, 3, 2, 1, 0);
        const __m512i even = _mm512_set1_epi64(0x2A241E18120C0600ll);   // 0, 6, 12, 18, 24, 30, 36, 42
        const __m512i odd = _mm512_set1_epi64(0x2D27211B150F0903ll);    // 3, 9, 15, 21, 27, 33, 39, 45
        const __m512i packs = _mm512_permutexvar_epi8(idx, w);
        const __m512i seven = _mm512_set1_epi8(7);
        v0 = _mm512_and_si512(_mm512_multishift_epi64_epi8(even, packs), seven);
        v1 = _mm512_and_si512(_mm512_multishift_epi64_epi8(odd, packs), seven);
    }
    QB_ALWAYS_INLINE static float finish(const QuantizedMatrix&, int, float s) { return s; }
};

}  // namespace

void w3a16_rows(const GemmArgs& a, int n0, int n1) { rows_by_group<DecI3>(a, n0, n1); }

}  // namespace qb::cpu::avx512vnni
