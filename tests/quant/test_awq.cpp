// AWQ: better than RTN where activations have outlier channels; the scales it returns are
// exactly what the previous op must absorb; the search degenerates to RTN where it should.
#include <gtest/gtest.h>

#include "quant.h"
#include "quant_fixture.h"

namespace {

using qb::quant::AwqOptions;
using qb::quant::Matrix;
using qb::quant::QuantSpec;
using qb::quant::Result;

using qbt::spec;

TEST(QuantAwq, BeatsRtnWithOutlierChannels) {
    for (uint64_t seed = 1; seed <= 4; ++seed) {
        const int K = 256;
        const Matrix W = qbt::gaussian(48, K, seed, 1.0 / 16);
        const Matrix X = qbt::activations(K, 8, 64, seed + 50, 0, 0.02);    // ~5 outlier channels of 10-100x
        const Matrix Xe = qbt::activations(K, 4, 64, seed + 50, 8, 0.02);   // held out
        const qb::quant::Calibration c = qbt::calib_of(X, 256);
        for (bool zero : {false, true}) {
            const Result a = qb::quant::quantize_awq(W, c, spec(4, 64, zero), {});
            const Result r = qb::quant::quantize_rtn(W, spec(4, 64, zero));
            ASSERT_TRUE(a.ok()) << a.error;
            EXPECT_LT(qbt::output_err2(Xe, W, a.w_hat), 0.9 * qbt::output_err2(Xe, W, r.w_hat)) << "seed " << seed << " zero " << zero;
            EXPECT_GT(a.details.get("alpha"), 0.0);   // some scaling was worth it
            EXPECT_LE(a.details.get("scale_loss"), a.details.get("scale_loss_alpha0"));
        }
    }
}

// y = dequant(packed) (x / s): the packed weights with the scales folded into the input give
// the layer W_hat computes.
TEST(QuantAwq, ScalesFoldIntoTheInput) {
    const Matrix W = qbt::gaussian(16, 128, 3, 0.1);
    const Matrix X = qbt::activations(128, 4, 64, 4);
    const Result a = qb::quant::quantize_awq(W, qbt::calib_of(X, 128), spec(4, 32, true), {});
    ASSERT_TRUE(a.ok()) << a.error;
    ASSERT_EQ(a.input_scale.size(), 128u);
    const Matrix y = qb::quant::layer_forward(a, X);
    for (int t = 0; t < X.rows; ++t)
        for (int n = 0; n < 16; ++n) {
            double ref = 0, mag = 0;
            for (int k = 0; k < 128; ++k) {
                ref += (double)X.at(t, k) * a.w_hat.at(n, k);
                mag += std::fabs((double)X.at(t, k) * a.w_hat.at(n, k));
            }
            ASSERT_NEAR(y.at(t, n), ref, 1e-6 * mag + 1e-9);
        }
}

// Uniform activations carry no saliency: every alpha gives the same scales (all 1 after the
// normalisation) and AWQ without clipping is RTN.
TEST(QuantAwq, UniformActivationsGiveRtn) {
    const Matrix W = qbt::gaussian(8, 64, 5, 0.1);
    Matrix X(64, 64);
    for (int t = 0; t < 64; ++t)
        for (int k = 0; k < 64; ++k) X.at(t, k) = ((t + k) % 2) ? 1.0f : -1.0f;
    AwqOptions o;
    o.clip = false;
    const Result a = qb::quant::quantize_awq(W, qbt::calib_of(X, 64), spec(4, 32, false), o);
    const Result r = qb::quant::quantize_rtn(W, spec(4, 32, false));
    ASSERT_TRUE(a.ok()) << a.error;
    EXPECT_EQ(a.packed.q, r.packed.q);
    EXPECT_EQ(a.packed.scales, r.packed.scales);
}

// The loss auto_clip minimises: per (row, group), the output error of that group alone,
// sum_t (x_t,g . d_g)^2 (cross-group terms ignored, as in the reference). The scaling cancels
// (x_k / s_k)(d_k s_k) = x_k d_k, so it is measured in the original basis.
double group_err2(const Matrix& X, const Matrix& W, const Matrix& Wh, int gl) {
    double s = 0;
    for (int t = 0; t < X.rows; ++t)
        for (int n = 0; n < W.rows; ++n)
            for (int k0 = 0; k0 < W.cols; k0 += gl) {
                double e = 0;
                for (int k = k0; k < k0 + gl; ++k) e += (double)X.at(t, k) * ((double)W.at(n, k) - Wh.at(n, k));
                s += e * e;
            }
    return s;
}

// Clipping only ever lowers the loss it measures (every calibration token through the Gram
// blocks; per-channel groups wider than the sample use the sample tokens).
TEST(QuantAwq, ClipNeverHurtsItsLoss) {
    const Matrix W = qbt::gaussian(24, 128, 6, 0.1);
    const Matrix X = qbt::activations(128, 6, 64, 7);
    const qb::quant::Calibration c = qbt::calib_of(X, 64);
    AwqOptions noclip;
    noclip.clip = false;
    for (int group : {32, 0}) {   // Gram-block path and (per-channel, wider than the sample) token path
        const Result a = qb::quant::quantize_awq(W, c, spec(3, group, true), {});
        const Result b = qb::quant::quantize_awq(W, c, spec(3, group, true), noclip);
        ASSERT_TRUE(a.ok() && b.ok());
        const Matrix& T = group ? X : c.sample;
        const int gl = group ? group : 128;
        EXPECT_LE(group_err2(T, W, a.w_hat, gl), group_err2(T, W, b.w_hat, gl) * (1 + 1e-5));
        EXPECT_EQ(a.details.get("alpha"), b.details.get("alpha"));
        EXPECT_GE(a.details.get("clip_mean_shrink"), 0.0);
    }
}

TEST(QuantAwq, RejectsMismatchedCalibration) {
    const Matrix W = qbt::gaussian(8, 64, 5, 0.1);
    const qb::quant::Calibration c = qbt::calib_of(qbt::activations(128, 2, 32, 1));
    EXPECT_FALSE(qb::quant::quantize_awq(W, c, spec(4, 32, false), {}).ok());
}

}  // namespace
