// w8a16_avx512.cpp: INT8 weight-only GEMM (per-row scale, float activations), AVX-512.
//
// 32 int8 weights -> two vpmovsxbd + vcvtdq2ps -> 32 floats, FMA'd with the activations in
// natural order. The row scale is applied once to the row's sum (finish), not per weight:
// per-channel scales factor out of the dot product, which saves a multiply per 16 weights.
#include "dot_tile_avx512.h"

namespace qb::cpu::avx512 {
namespace {

struct DecI8 {
    static constexpr int kBits = 8;
    struct RowState {};
    QB_ALWAYS_INLINE static void begin_group(const QuantizedMatrix&, int, int, RowState&) {}
    QB_ALWAYS_INLINE static void decode(const uint8_t* p, const RowState&, __m512& w0, __m512& w1) {
        w0 = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))));
        w1 = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16))));
    }
    static float tail_weight(const QuantizedMatrix& W, int n, int k) { return (float)level_at(W, n, k); }
    static float finish(const QuantizedMatrix& W, int n, float s) { return s * scale_at(W, n, 0); }
};

}  // namespace

void w8a16_rows(const GemmArgs& a, int n0, int n1) { rows_driver<DecI8>(a, n0, n1); }

}  // namespace qb::cpu::avx512
