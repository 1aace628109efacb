// w8a8_scalar.cpp: portable fallback of the W8A8 family: the reference activation
// quantization (quantize_act_ref) and plain int32 dot products, bit-identical to
// matmul_w8a8_ref.
#include <cstring>

#include "kernel_abi.h"

namespace qb::cpu::scalar {

void w8a8_quantize_acts(const GemmArgs& a, int m0, int m1) {
    for (int m = m0; m < m1; ++m) {
        int8_t* q = a.Xq + (size_t)m * a.ldq;
        std::memset(q, 0, (size_t)a.ldq);
        quantize_act_ref(a.X + (size_t)m * a.K, a.K, q, &a.sx[m]);
        int32_t s = 0;
        for (int k = 0; k < a.K; ++k) s += q[k];
        a.xsum[m] = s;
    }
}

void w8a8_rows(const GemmArgs& a, int n0, int n1) {
    const QuantizedMatrix& W = *a.W;
    for (int n = n0; n < n1; ++n) {
        const int8_t* w = reinterpret_cast<const int8_t*>(W.q) + (size_t)n * a.K;
        const float sw = scale_at(W, n, 0);
        for (int m = 0; m < a.M; ++m) {
            const int8_t* x = a.Xq + (size_t)m * a.ldq;
            int32_t acc = 0;
            for (int k = 0; k < a.K; ++k) acc += (int32_t)w[k] * (int32_t)x[k];
            a.Y[(size_t)m * a.N + n] = ((float)acc * a.sx[m]) * sw;
        }
    }
}

}  // namespace qb::cpu::scalar
