// w4a16_scalar.cpp: portable fallback of the INT4 / INT3 / INT2 weight-only family (any CPU,
// any width qformat.h defines). Each weight row is dequantized once into a float buffer with
// qformat.h's dequant_at (so the weights are the reference's, bit for bit) and reused for all
// M activation rows; float accumulation in four interleaved partial sums.
#include <vector>

#include "kernel_abi.h"

namespace qb::cpu::scalar {

namespace {
float dot(const float* x, const float* w, int K) {
    float s[4] = {0, 0, 0, 0};
    int k = 0;
    for (; k + 4 <= K; k += 4)
        for (int i = 0; i < 4; ++i) s[i] += x[k + i] * w[k + i];
    for (; k < K; ++k) s[0] += x[k] * w[k];
    return (s[0] + s[1]) + (s[2] + s[3]);
}
}  // namespace

void w4a16_rows(const GemmArgs& a, int n0, int n1) {
    const QuantizedMatrix& W = *a.W;
    std::vector<float> row((size_t)a.K);
    for (int n = n0; n < n1; ++n) {
        for (int k = 0; k < a.K; ++k) row[(size_t)k] = dequant_at(W, n, k);
        for (int m = 0; m < a.M; ++m) a.Y[(size_t)m * a.N + n] = dot(a.X + (size_t)m * a.K, row.data(), a.K);
    }
}

}  // namespace qb::cpu::scalar
