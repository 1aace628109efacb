// w8a16_scalar.cpp: portable fallback of the INT8 weight-only family: int8 -> float per
// weight, float dot product per (m, n), the row scale applied to the sum.
#include "kernel_abi.h"

namespace qb::cpu::scalar {

void w8a16_rows(const GemmArgs& a, int n0, int n1) {
    const QuantizedMatrix& W = *a.W;
    for (int n = n0; n < n1; ++n) {
        const int8_t* w = reinterpret_cast<const int8_t*>(W.q) + (size_t)n * a.K;
        const float s = scale_at(W, n, 0);
        for (int m = 0; m < a.M; ++m) {
            const float* x = a.X + (size_t)m * a.K;
            float acc[4] = {0, 0, 0, 0};
            int k = 0;
            for (; k + 4 <= a.K; k += 4)
                for (int i = 0; i < 4; ++i) acc[i] += x[k + i] * (float)w[k + i];
            for (; k < a.K; ++k) acc[0] += x[k] * (float)w[k];
            a.Y[(size_t)m * a.N + n] = ((acc[0] + acc[1]) + (acc[2] + acc[3])) * s;
        }
    }
}

}  // namespace qb::cpu::scalar
