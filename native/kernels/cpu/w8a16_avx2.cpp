// w8a16_avx2.cpp: INT8 weight-only GEMM (per-row scale, float activations), AVX2 + FMA.
// 8 int8 weights -> vpmovsxbd + vcvtdq2ps; the row scale multiplies the row's sum once.
#include "dot_tile_avx2.h"

namespace qb::cpu::avx2 {
namespace {

struct DecI8 {
    static constexpr int kBits = 8;
    struct RowState {};
    QB_ALWAYS_INLINE static void begin_group(const QuantizedMatrix&, int, int, RowState&) {}
    QB_ALWAYS_INLINE static void decode(const uint8_t* p, const RowState&, __m256 w[4]) {
        for (int i = 0; i < 4; ++i)
            w[i] = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p + 8 * i))));
    }
    static float tail_weight(const QuantizedMatrix& W, int n, int k) { return (float)level_at(W, n, k); }
    static float finish(const QuantizedMatrix& W, int n, float s) { return s * scale_at(W, n, 0); }
};

}  // namespace

void w8a16_rows(const GemmArgs& a, int n0, int n1) { rows_driver<DecI8>(a, n0, n1); }

}  // namespace qb::cpu::avx2
