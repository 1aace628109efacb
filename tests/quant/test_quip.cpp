// QuIP-style incoherence processing: the random transforms are orthogonal (power-of-two and
// Kronecker dims), they make W and H incoherent, they are reproducible from the seed, and
// LDLQ on the transformed problem beats RTN where outliers hurt it.
#include <gtest/gtest.h>

#include "quant.h"
#include "quant_fixture.h"

namespace {

using qb::quant::Matrix;
using qb::quant::QuantSpec;
using qb::quant::Result;

using qbt::spec;

void expect_orthogonal(const qb::quant::Orthogonal& t) {
    const int n = t.n;
    std::vector<float> cols((size_t)n * n, 0.0f);   // column j = T e_j
    for (int j = 0; j < n; ++j) {
        float* c = cols.data() + (size_t)j * n;
        c[j] = 1;
        t.apply(c);
    }
    for (int i = 0; i < n; ++i)
        for (int j = 0; j < n; ++j) {
            double d = 0;
            for (int r = 0; r < n; ++r) d += (double)cols[(size_t)i * n + r] * cols[(size_t)j * n + r];
            ASSERT_NEAR(d, i == j ? 1.0 : 0.0, 2e-6) << "n " << n << " (" << i << ", " << j << ")";
        }
    std::vector<float> x((size_t)n), y;
    for (int i = 0; i < n; ++i) x[(size_t)i] = (float)(i % 5) - 2.0f;
    y = x;
    t.apply(y.data());
    t.apply_t(y.data());
    for (int i = 0; i < n; ++i) ASSERT_NEAR(y[(size_t)i], x[(size_t)i], 1e-5);
}

TEST(QuantQuip, TransformsAreOrthogonal) {
    // rows x cols: 2^p x odd m factorisations on both sides (96 = 32 x 3, 80 = 16 x 5, 7 = 1 x 7).
    for (auto [N, K] : {std::pair{64, 128}, std::pair{80, 96}, std::pair{7, 64}}) {
        const Matrix W = qbt::gaussian(N, K, 1, 0.1);
        const Matrix X = qbt::activations(K, 4, 64, 2);
        const Result r = qb::quant::quantize_quip(W, qbt::calib_of(X).H, spec(4, 0, false), {});
        ASSERT_TRUE(r.ok()) << r.error;
        EXPECT_EQ(r.u.n, N);
        EXPECT_EQ(r.v.n, K);
        EXPECT_EQ(r.u.pow2 * r.u.m, N);
        expect_orthogonal(r.u);
        expect_orthogonal(r.v);
    }
}

// Outlier channels make H's diagonal spiky and heavy rows make W's entries spiky; after the
// transforms the max-to-RMS ratio of both drops (QuIP's mu-incoherence).
TEST(QuantQuip, LowersIncoherence) {
    const int K = 256;
    Matrix W = qbt::gaussian(64, K, 3, 1.0 / 16);
    for (int k = 0; k < K; ++k) W.at(7, k) *= 20;   // a heavy row
    W.at(20, 3) = 3.0f;                              // and a single huge weight
    const Matrix X = qbt::activations(K, 8, 64, 4, 0, 0.02);
    const Result r = qb::quant::quantize_quip(W, qbt::calib_of(X).H, spec(4, 64, false), {});
    ASSERT_TRUE(r.ok()) << r.error;
    const double w0 = r.details.get("mu_w_before"), w1 = r.details.get("mu_w_after");
    const double h0 = r.details.get("mu_h_before"), h1 = r.details.get("mu_h_after");
    EXPECT_LT(w1, 0.5 * w0) << w0 << " -> " << w1;
    EXPECT_LT(h1, 0.5 * h0) << h0 << " -> " << h1;
    EXPECT_DOUBLE_EQ(w0, qb::quant::max_to_rms(W.v.data(), W.v.size()));
}

TEST(QuantQuip, BeatsRtnWithOutliers) {
    for (uint64_t seed = 1; seed <= 3; ++seed) {
        const int K = 256;
        const Matrix W = qbt::gaussian(48, K, seed, 1.0 / 16);
        const Matrix X = qbt::activations(K, 8, 64, seed + 9, 0, 0.02);
        const Matrix Xe = qbt::activations(K, 4, 64, seed + 9, 8, 0.02);
        for (int bits : {2, 3, 4}) {
            const Result q = qb::quant::quantize_quip(W, qbt::calib_of(X).H, spec(bits, 64, false), {});
            const Result r = qb::quant::quantize_rtn(W, spec(bits, 64, false));
            ASSERT_TRUE(q.ok()) << q.error;
            EXPECT_LT(qbt::output_err2(Xe, W, q.w_hat), qbt::output_err2(Xe, W, r.w_hat)) << "seed " << seed << " bits " << bits;
        }
    }
}

TEST(QuantQuip, SeededAndReproducible) {
    const Matrix W = qbt::gaussian(32, 96, 5, 0.1);
    const std::vector<float> H = qbt::calib_of(qbt::activations(96, 4, 64, 6)).H;
    qb::quant::QuipOptions a, b;
    b.seed = 12345;
    const Result r1 = qb::quant::quantize_quip(W, H, spec(4, 32, true), a);
    const Result r2 = qb::quant::quantize_quip(W, H, spec(4, 32, true), a);
    const Result r3 = qb::quant::quantize_quip(W, H, spec(4, 32, true), b);
    ASSERT_TRUE(r1.ok() && r2.ok() && r3.ok());
    EXPECT_EQ(r1.seed, qb::quant::kDefaultSeed);
    EXPECT_EQ(r1.packed.q, r2.packed.q);
    EXPECT_EQ(r1.w_hat.v, r2.w_hat.v);
    EXPECT_NE(r1.v.signs, r3.v.signs);
}

}  // namespace
