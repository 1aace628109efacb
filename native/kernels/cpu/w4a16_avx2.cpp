// w4a16_avx2.cpp: INT4 / INT3 / INT2 group-wise weight-only GEMM, AVX2 + FMA + F16C.
// Layouts and lane orders as in w4a16_avx512.cpp; the unpack per width:
//   INT4: 8 bytes -> vpmovzxbd -> & 15 (even k) and >> 4 (odd k); a chunk's 16 bytes give
//         w[0] = even k of bytes 0-7, w[1] = even k of bytes 8-15, w[2], w[3] the odd k,
//         which is the de-interleaved activation order (16 even k, then 16 odd k).
//   INT3: one pack (3 bytes = 8 values) -> broadcast 24-bit word, lane i >> 3i, & 7.
//   INT2: one dword (16 values) -> broadcast, lane i >> 2i (and >> 16 + 2i), & 3.
#include <cstring>

#include "dot_tile_avx2.h"

namespace qb::cpu::avx2 {
namespace {

template <int B>
struct DecBase {
    static constexpr int kBits = B;
    struct RowState { float z, s; };
    QB_ALWAYS_INLINE static void begin_group(const QuantizedMatrix& W, int n, int g, RowState& st) {
        const size_t i = (size_t)n * (size_t)groups(W) + (size_t)g;   // no call: see w4a16_avx512.cpp
        st.z = W.has_zero ? (float)get_packed(W.zeros, B, i) : (float)sym_zero(B);
        st.s = _cvtsh_ss(static_cast<const uint16_t*>(W.scales)[i]);
    }
    static float tail_weight(const QuantizedMatrix& W, int n, int k) { return dequant_at(W, n, k); }
    static float finish(const QuantizedMatrix&, int, float s) { return s; }
};

struct DecI4 : DecBase<4> {
    QB_ALWAYS_INLINE static void decode(const uint8_t* p, const RowState& st, __m256 w[4]) {
        const __m256i lo4 = _mm256_set1_epi32(15);
        const __m256i b0 = _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)));
        const __m256i b1 = _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p + 8)));
        w[0] = dequant8(_mm256_and_si256(b0, lo4), st.z, st.s);
        w[1] = dequant8(_mm256_and_si256(b1, lo4), st.z, st.s);
        w[2] = dequant8(_mm256_srli_epi32(b0, 4), st.z, st.s);
        w[3] = dequant8(_mm256_srli_epi32(b1, 4), st.z, st.s);
    }
};

struct DecI3 : DecBase<3> {
    QB_ALWAYS_INLINE static void decode(const uint8_t* p, const RowState& st, __m256 w[4]) {
        const __m256i sh = _mm256_setr_epi32(0, 3, 6, 9, 12, 15, 18, 21), m7 = _mm256_set1_epi32(7);
        for (int i = 0; i < 4; ++i) {
            const uint32_t word = (uint32_t)p[3 * i] | (uint32_t)p[3 * i + 1] << 8 | (uint32_t)p[3 * i + 2] << 16;
            w[i] = dequant8(_mm256_and_si256(_mm256_srlv_epi32(_mm256_set1_epi32((int)word), sh), m7), st.z, st.s);
        }
    }
};

struct DecI2 : DecBase<2> {
    QB_ALWAYS_INLINE static void decode(const uint8_t* p, const RowState& st, __m256 w[4]) {
        const __m256i sh0 = _mm256_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14), sh1 = _mm256_setr_epi32(16, 18, 20, 22, 24, 26, 28, 30);
        const __m256i m3 = _mm256_set1_epi32(3);
        uint32_t d[2];
        std::memcpy(d, p, 8);
        for (int i = 0; i < 2; ++i) {
            const __m256i v = _mm256_set1_epi32((int)d[i]);
            w[2 * i] = dequant8(_mm256_and_si256(_mm256_srlv_epi32(v, sh0), m3), st.z, st.s);
            w[2 * i + 1] = dequant8(_mm256_and_si256(_mm256_srlv_epi32(v, sh1), m3), st.z, st.s);
        }
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

}  // namespace qb::cpu::avx2
