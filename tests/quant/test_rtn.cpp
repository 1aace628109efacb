// RTN (quant.h quantize_rtn = qformat's quantize_ref) on hand-computed cases, the grid of
// grid.h against quantize_ref, and the round trip of every method's packed output through the
// reference dequantizer.
#include <gtest/gtest.h>

#include <cstring>

#include "grid.h"
#include "quant.h"
#include "quant_fixture.h"

namespace {

using qb::quant::Matrix;
using qb::quant::QuantSpec;
using qb::quant::Result;

Matrix row(std::vector<float> v) {
    Matrix m(1, (int)v.size());
    m.v = std::move(v);
    return m;
}

using qbt::spec;

// 4-bit symmetric, per-channel: absmax 7.5 gives s = 7.5 / 7.5 = 1 exactly. q = rne(w / s)
// clamped to [-8, 7]: 7.5 rounds to 8 and is clamped to 7; -7.5 rounds (ties to even) to -8;
// 0.5 -> 0 and 2.5 -> 2 (ties to even). Stored codes u = q + 8, low nibble = even k.
TEST(QuantRtn, HandInt4Symmetric) {
    const Result r = qb::quant::quantize_rtn(row({7.5f, -3.2f, 0.5f, 2.5f, -7.5f, 1.0f, -0.25f, 0.0f}), spec(4, 0, false));
    ASSERT_TRUE(r.ok()) << r.error;
    EXPECT_EQ(r.packed.scales, std::vector<uint16_t>({0x3C00}));
    EXPECT_EQ(r.packed.q, std::vector<uint8_t>({0x5F, 0xA8, 0x90, 0x88}));   // u = 15 5 | 8 10 | 0 9 | 8 8
    EXPECT_EQ(r.w_hat.v, std::vector<float>({7, -3, 0, 2, -8, 1, 0, 0}));
    EXPECT_TRUE(r.packed.zeros.empty());
}

// A scale that FP16 cannot hold: absmax 1.5 / 7.5 = 0.2; binary16 0x3266 = 0.199951... is
// below it, so the stored scale is rounded up to 0x3267 = 0.2000732421875 (every weight stays
// within half a step). 1.5 / s = 7.497 -> 7, -0.75 / s = -3.749 -> -4, 0.2 / s = 0.9996 -> 1.
TEST(QuantRtn, HandInt4ScaleRoundedUp) {
    const Result r = qb::quant::quantize_rtn(row({1.5f, -0.75f, 0.2f, 0.0f}), spec(4, 0, false));
    ASSERT_TRUE(r.ok()) << r.error;
    EXPECT_EQ(r.packed.scales, std::vector<uint16_t>({0x3267}));
    EXPECT_EQ(r.packed.q, std::vector<uint8_t>({0x4F, 0x89}));   // u = 15 4 | 9 8
    EXPECT_EQ(r.w_hat.v, std::vector<float>({1.4005126953125f, -0.80029296875f, 0.2000732421875f, 0.0f}));
}

// 4-bit asymmetric: lo = min(0, -1) = -1, hi = 14: s = 15 / 15 = 1, z = rne(1 / 1) = 1;
// u = clamp(rne(w / s) + z, 0, 15): -1 -> 0, 0.5 -> 0 + 1 = 1, 2 -> 3, 14 -> 15.
TEST(QuantRtn, HandInt4Asymmetric) {
    const Result r = qb::quant::quantize_rtn(row({-1.0f, 0.5f, 2.0f, 14.0f}), spec(4, 0, true));
    ASSERT_TRUE(r.ok()) << r.error;
    EXPECT_EQ(r.packed.scales, std::vector<uint16_t>({0x3C00}));
    EXPECT_EQ(r.packed.zeros, std::vector<uint8_t>({0x01}));
    EXPECT_EQ(r.packed.q, std::vector<uint8_t>({0x10, 0xF3}));
    EXPECT_EQ(r.w_hat.v, std::vector<float>({-1, 0, 2, 14}));
}

// 3-bit symmetric: s = 3.5 / (4 - 0.5) = 1; q in [-4, 3]: 3.5 -> 4 -> 3, -3.5 -> -4 (even),
// 2.5 -> 2, 0.4 -> 0. u = q + 4 = 7 0 5 3 6 4 2 7, eight values in one little-endian 24-bit
// word at bits 3i: 0xEA6747.
TEST(QuantRtn, HandInt3Symmetric) {
    const Result r = qb::quant::quantize_rtn(row({3.5f, -3.5f, 1, -1, 2.5f, 0.4f, -2, 3}), spec(3, 0, false));
    ASSERT_TRUE(r.ok()) << r.error;
    EXPECT_EQ(r.packed.q, std::vector<uint8_t>({0x47, 0x67, 0xEA}));
    EXPECT_EQ(r.w_hat.v, std::vector<float>({3, -4, 1, -1, 2, 0, -2, 3}));
}

// 2-bit symmetric: s = 1.5 / 1.5 = 1; q in [-2, 1]: 1.5 -> 2 -> 1, -1.5 -> -2, 0.5 -> 0,
// -0.6 -> -1; u = q + 2 = 3 0 2 1 at bits 2i: 0b01100011.
TEST(QuantRtn, HandInt2Symmetric) {
    const Result r = qb::quant::quantize_rtn(row({1.5f, -1.5f, 0.5f, -0.6f}), spec(2, 0, false));
    ASSERT_TRUE(r.ok()) << r.error;
    EXPECT_EQ(r.packed.q, std::vector<uint8_t>({0x63}));
    EXPECT_EQ(r.w_hat.v, std::vector<float>({1, -2, 0, -1}));
}

// INT8: s = 127 / 127 = 1; -63.5 -> -64 (ties to even); bytes are two's complement.
TEST(QuantRtn, HandInt8) {
    const Result r = qb::quant::quantize_rtn(row({127.0f, -63.5f, 0.5f, -127.0f}), spec(8, 0, false));
    ASSERT_TRUE(r.ok()) << r.error;
    EXPECT_EQ(r.packed.q, std::vector<uint8_t>({0x7F, 0xC0, 0x00, 0x81}));
    EXPECT_EQ(r.w_hat.v, std::vector<float>({127, -64, 0, -127}));
}

// Groups: two groups of 32 get their own scales (absmax 7.5 -> 1, absmax 0.75 -> 0.1 rounded up).
TEST(QuantRtn, HandGroups) {
    std::vector<float> v(64, 0.0f);
    v[0] = 7.5f;
    v[32] = 0.75f;
    v[33] = -0.3f;
    const Result r = qb::quant::quantize_rtn(row(v), spec(4, 32, false));
    ASSERT_TRUE(r.ok()) << r.error;
    ASSERT_EQ(r.packed.scales.size(), 2u);
    EXPECT_EQ(r.packed.scales[0], 0x3C00);
    EXPECT_EQ(r.packed.scales[1], qb::fp16_scale_up(0.1f));
    const float s1 = qb::fp16_to_f32(r.packed.scales[1]);
    EXPECT_EQ(r.w_hat.v[0], 7.0f);
    EXPECT_EQ(r.w_hat.v[32], 7.0f * s1);
    EXPECT_EQ(r.w_hat.v[33], -3.0f * s1);
}

TEST(QuantRtn, RejectsBadFormats) {
    EXPECT_FALSE(qb::quant::quantize_rtn(qbt::gaussian(2, 100, 1), spec(4, 64, false)).ok());   // 64 does not divide 100
    EXPECT_FALSE(qb::quant::quantize_rtn(qbt::gaussian(2, 128, 1), spec(8, 32, false)).ok());   // INT8 is per-channel
    EXPECT_FALSE(qb::quant::quantize_rtn(qbt::gaussian(2, 128, 1), spec(5, 32, false)).ok());
    EXPECT_FALSE(qb::quant::quantize_rtn(qbt::gaussian(2, 128, 1), spec(8, 0, true)).ok());     // INT8 has no zero
}

// quantize_rtn runs quantize_ref on chunks of rows in parallel: the bytes must be those of one
// call on the whole matrix (odd row count, 3-bit zeros packed across rows).
TEST(QuantRtn, ParallelRowsEqualOneCall) {
    const Matrix W = qbt::gaussian(37, 96, 9);
    for (bool zero : {false, true}) {
        const Result r = qb::quant::quantize_rtn(W, spec(3, 32, zero));
        ASSERT_TRUE(r.ok()) << r.error;
        qb::quant::PackedWeights p;
        p.allocate(37, 96, spec(3, 32, zero));
        qb::QuantizedMatrix m = p.view();
        ASSERT_TRUE(qb::quantize_ref(W.v.data(), m));
        EXPECT_EQ(r.packed.q, p.q);
        EXPECT_EQ(r.packed.scales, p.scales);
        EXPECT_EQ(r.packed.zeros, p.zeros);
    }
}

// grid.h repeats quantize_ref's arithmetic: same scale bits, zero, codes and values on many
// random groups, including all-zero groups, single outliers and exact ties.
TEST(QuantRtn, GridAgreesWithQuantizeRef) {
    std::mt19937_64 rng(7);
    std::normal_distribution<float> nd(0.0f, 1.0f);
    for (int bits : {2, 3, 4, 8})
        for (bool zero : {false, true}) {
            if (bits == 8 && zero) continue;
            for (int trial = 0; trial < 200; ++trial) {
                const int len = bits == 8 ? 8 + trial % 57 : 32 * (1 + trial % 4);
                Matrix w(1, len);
                for (float& x : w.v) x = nd(rng) * (trial % 3 == 0 ? 0.01f : 1.0f);
                if (trial % 17 == 0) std::fill(w.v.begin(), w.v.end(), 0.0f);
                if (trial % 11 == 1) w.v[(size_t)trial % len] = 40.0f;
                if (trial % 13 == 2) for (float& x : w.v) x = std::round(x * 4) / 2;   // exact .5 ties
                const Result r = qb::quant::quantize_rtn(w, spec(bits, 0, zero));
                ASSERT_TRUE(r.ok()) << r.error;
                const qb::quant::Grid g = qb::quant::grid_for(w.v.data(), len, 1, bits, zero);
                const qb::QuantizedMatrix m = r.packed.view();
                ASSERT_EQ(g.s_bits, r.packed.scales[0]);
                ASSERT_EQ(g.z, qb::zero_at(m, 0, 0));
                for (int k = 0; k < len; ++k) {
                    const uint32_t c = qb::quant::grid_code(w.v[(size_t)k], g, bits, zero);
                    const uint32_t stored = bits == 8 ? m.q[k] : qb::get_packed(m.q, bits, (size_t)k);
                    ASSERT_EQ(c, stored) << "bits " << bits << " zero " << zero << " k " << k;
                    ASSERT_EQ(qb::quant::grid_value(c, g, bits), qb::dequant_at(m, 0, k));
                }
            }
        }
}

// Every method's packed output, dequantized by the reference and carried through the storage
// chain (quant.h), is the quantizer's own W_hat; for RTN, AWQ and GPTQ exactly per weight.
TEST(QuantRtn, EveryPackedOutputRoundTrips) {
    const Matrix W = qbt::gaussian(24, 128, 3, 0.1);
    const Matrix X = qbt::activations(128, 4, 64, 5);
    const qb::quant::Calibration c = qbt::calib_of(X, 128);
    for (int bits : {2, 3, 4, 8})
        for (int group : {0, 32})
            for (bool zero : {false, true}) {
                const QuantSpec s = spec(bits, group, zero);
                if (!qb::quant::check_spec(s, W.rows, W.cols).empty()) continue;
                qb::quant::GptqOptions go;
                go.act_order = true;
                std::vector<Result> rs;
                rs.push_back(qb::quant::quantize_rtn(W, s));
                rs.push_back(qb::quant::quantize_gptq(W, c.H, s, go));
                rs.push_back(qb::quant::quantize_awq(W, c, s, {}));
                rs.push_back(qb::quant::quantize_quip(W, c.H, s, {}));
                for (const Result& r : rs) {
                    ASSERT_TRUE(r.ok()) << r.error;
                    Matrix d(W.rows, W.cols);
                    ASSERT_TRUE(qb::dequantize_ref(r.packed.view(), d.v.data()));
                    if (r.method == qb::quant::Method::quip) {
                        // Through the transforms: compare the layer on unit vectors (its columns).
                        Matrix I(W.cols, W.cols);
                        for (int k = 0; k < W.cols; ++k) I.at(k, k) = 1;
                        const Matrix y = qb::quant::layer_forward(r, I);   // row k = W_hat[:, k]
                        for (int n = 0; n < W.rows; ++n)
                            for (int k = 0; k < W.cols; ++k) ASSERT_NEAR(y.at(k, n), r.w_hat.at(n, k), 2e-6);
                        continue;
                    }
                    for (int n = 0; n < W.rows; ++n)
                        for (int j = 0; j < W.cols; ++j) {
                            const int k = r.perm.empty() ? j : r.perm[(size_t)j];
                            const float want = r.input_scale.empty() ? d.at(n, j) : d.at(n, j) / r.input_scale[(size_t)k];
                            ASSERT_EQ(want, r.w_hat.at(n, k)) << qb::quant::method_name(r.method) << " bits " << bits << " group " << group;
                        }
                }
            }
}

}  // namespace
