// The calibration pass: H = 2/n X^T X, mean |x| and the strided token subset, against plain
// double-precision loops; the AMX BF16 path against the same sums of BF16-rounded activations.
#include <gtest/gtest.h>

#include <cstring>

#include "quant.h"
#include "quant_fixture.h"

namespace {

using qb::quant::Matrix;

float bf16_round(float f) {
    uint32_t u;
    std::memcpy(&u, &f, 4);
    u += 0x7fffu + ((u >> 16) & 1u);
    u &= 0xffff0000u;
    std::memcpy(&f, &u, 4);
    return f;
}

// Checks c.H against 2/n X^T X in double: |H_ij - ref_ij| <= tol sqrt(ref_ii ref_jj).
void expect_hessian(const qb::quant::Calibration& c, const Matrix& X, double tol, bool round_bf16) {
    const int K = X.cols, n = X.rows;
    ASSERT_EQ(c.tokens, n);
    ASSERT_EQ(c.H.size(), (size_t)K * K);
    std::vector<double> ref((size_t)K * K, 0.0);
    for (int t = 0; t < n; ++t)
        for (int i = 0; i < K; ++i) {
            const double xi = round_bf16 ? bf16_round(X.at(t, i)) : X.at(t, i);
            for (int j = 0; j < K; ++j) ref[(size_t)i * K + j] += xi * (round_bf16 ? bf16_round(X.at(t, j)) : X.at(t, j));
        }
    for (double& v : ref) v *= 2.0 / n;
    for (int i = 0; i < K; ++i)
        for (int j = 0; j < K; ++j) {
            const double bound = tol * std::sqrt(ref[(size_t)i * K + i] * ref[(size_t)j * K + j]);
            ASSERT_NEAR(c.H[(size_t)i * K + j], ref[(size_t)i * K + j], bound) << "(" << i << ", " << j << ")";
            ASSERT_EQ(c.H[(size_t)i * K + j], c.H[(size_t)j * K + i]);   // exactly symmetric
        }
}

TEST(QuantCalibrate, HessianMeanAndSample) {
    const Matrix X = qbt::activations(80, 5, 61, 3);   // 305 tokens: chunks of 64 with a ragged end
    qb::quant::MatrixSource src(X, 64);
    const qb::quant::Calibration c = qb::quant::calibrate(src, 50);
    expect_hessian(c, X, 2e-6, false);
    for (int k = 0; k < 80; ++k) {
        double s = 0;
        for (int t = 0; t < X.rows; ++t) s += std::fabs((double)X.at(t, k));
        EXPECT_NEAR(c.abs_mean[(size_t)k], s / X.rows, 1e-6 * s / X.rows);
    }
    ASSERT_EQ(c.sample.rows, 50);   // stride floor(305 / 50) = 6: tokens 0, 6, ..., 294
    for (int j = 0; j < 50; ++j) EXPECT_EQ(std::memcmp(c.sample.row(j), X.row(6 * j), 80 * sizeof(float)), 0) << j;
    EXPECT_FALSE(c.bf16);
}

TEST(QuantCalibrate, AmxBf16) {
    if (!qb::quant::amx_bf16_available()) GTEST_SKIP() << "no AMX-BF16 on this CPU / kernel";
    for (int K : {64, 80, 200}) {   // multiples of 32 and not (padded tiles)
        const Matrix X = qbt::activations(K, 3, 77, 5);   // 231 tokens: an odd token count
        qb::quant::MatrixSource src(X, 64);
        const qb::quant::Calibration c = qb::quant::calibrate(src, 16, true);
        ASSERT_TRUE(c.bf16);
        expect_hessian(c, X, 2e-6, true);   // exact products of the rounded values, FP32 sums
    }
}

}  // namespace
