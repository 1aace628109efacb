// GPTQ against a plain, unblocked optimal-brain-quantization sweep written here (double
// precision, explicit H^-1 and its Gaussian elimination after each column: no Cholesky, no
// blocks), and the properties the method is for.
#include <gtest/gtest.h>

#include <numeric>

#include "grid.h"
#include "quant.h"
#include "quant_fixture.h"

namespace {

using qb::quant::GptqOptions;
using qb::quant::Matrix;
using qb::quant::QuantSpec;
using qb::quant::Result;

using qbt::spec;

// Dense inverse by Gauss-Jordan with partial pivoting (double).
std::vector<double> inverse(std::vector<double> a, int n) {
    std::vector<double> inv((size_t)n * n, 0.0);
    for (int i = 0; i < n; ++i) inv[(size_t)i * n + i] = 1;
    for (int c = 0; c < n; ++c) {
        int p = c;
        for (int r = c + 1; r < n; ++r)
            if (std::fabs(a[(size_t)r * n + c]) > std::fabs(a[(size_t)p * n + c])) p = r;
        for (int j = 0; j < n; ++j) {
            std::swap(a[(size_t)c * n + j], a[(size_t)p * n + j]);
            std::swap(inv[(size_t)c * n + j], inv[(size_t)p * n + j]);
        }
        const double d = a[(size_t)c * n + c];
        for (int j = 0; j < n; ++j) {
            a[(size_t)c * n + j] /= d;
            inv[(size_t)c * n + j] /= d;
        }
        for (int r = 0; r < n; ++r) {
            if (r == c) continue;
            const double f = a[(size_t)r * n + c];
            if (f == 0) continue;
            for (int j = 0; j < n; ++j) {
                a[(size_t)r * n + j] -= f * a[(size_t)c * n + j];
                inv[(size_t)r * n + j] -= f * inv[(size_t)c * n + j];
            }
        }
    }
    return inv;
}

// OBQ with a fixed column order (the identity, or descending diag H for act-order), groups
// consecutive in that order with their grid taken from the current (updated) weights. After
// quantizing column k: w_j -= (w_k - q) / Hinv_kk Hinv_kj for the remaining j, then Hinv loses
// row and column k by Gaussian elimination (the inverse of H restricted to the rest).
// How close a group's grid was to a different one: the wanted scale's relative distance to a
// binary16 value (fp16_scale_up may then round either way) and, asymmetric, -lo / s's distance
// to a rounding boundary of the zero.
float grid_tie(const std::vector<float>& v, const QuantSpec& s) {
    float lo = 0, hi = 0, amax = 0;
    for (float x : v) {
        lo = std::min(lo, x);
        hi = std::max(hi, x);
        amax = std::max(amax, std::fabs(x));
    }
    const float want = s.zero_point ? (hi - lo) / (float)qb::code_max(s.bits) : amax / ((float)qb::sym_zero(s.bits) - 0.5f);
    if (!(want > 0)) return 1;
    const float near = qb::fp16_to_f32(qb::f32_to_fp16(want));
    float t = std::fabs(want - near) / want * 100.0f;   // relative 1e-5 -> 1e-3
    if (s.zero_point) {
        const double z = -(double)lo / qb::fp16_to_f32(qb::fp16_scale_up(want));
        t = std::min(t, (float)std::fabs(std::fabs(z - std::floor(z)) - 0.5));
    }
    return t;
}

// tie (optional): for each weight, the smaller of its group's grid_tie and how far x / s was from a rounding boundary, in steps.
Matrix obq(const Matrix& W, const std::vector<float>& H, const QuantSpec& s, double damp, bool act_order, std::vector<int>* order_out,
           Matrix* tie = nullptr) {
    const int N = W.rows, K = W.cols, gl = s.group_len(K);
    std::vector<double> h(H.begin(), H.end());
    Matrix w0 = W;
    for (int k = 0; k < K; ++k)
        if (h[(size_t)k * K + k] == 0) {
            h[(size_t)k * K + k] = 1;
            for (int n = 0; n < N; ++n) w0.at(n, k) = 0;
        }
    std::vector<int> order((size_t)K);
    std::iota(order.begin(), order.end(), 0);
    if (act_order) std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return h[(size_t)a * K + a] > h[(size_t)b * K + b]; });
    double mean = 0;
    for (int k = 0; k < K; ++k) mean += h[(size_t)k * K + k];
    mean /= K;
    // Dampening as GPTQ does it: percdamp x mean(diag), in float like the quantizer's H.
    const float dmp = (float)(damp * mean);
    for (int k = 0; k < K; ++k) h[(size_t)k * K + k] = (double)((float)h[(size_t)k * K + k] + dmp);
    const std::vector<double> hinv0 = inverse(h, K);
    Matrix out(N, K);
    if (tie) *tie = Matrix(N, K);
    for (int n = 0; n < N; ++n) {
        std::vector<double> hinv = hinv0, w((size_t)K);
        for (int k = 0; k < K; ++k) w[(size_t)k] = W.at(n, k);
        qb::quant::Grid g;
        float gtie = 1;
        if (gl == K) g = qb::quant::grid_for(W.row(n), K, 1, s.bits, s.zero_point);   // per-channel: the original row
        for (int k = 0; k < K; ++k) w[(size_t)k] = w0.at(n, k);
        for (int idx = 0; idx < K; ++idx) {
            const int k = order[(size_t)idx];
            if (gl != K && idx % gl == 0) {
                std::vector<float> vals((size_t)gl);
                for (int i = 0; i < gl; ++i) vals[(size_t)i] = (float)w[(size_t)order[(size_t)(idx + i)]];
                g = qb::quant::grid_for(vals.data(), gl, 1, s.bits, s.zero_point);
                gtie = grid_tie(vals, s);
            }
            const float q = qb::quant::grid_value(qb::quant::grid_code((float)w[(size_t)k], g, s.bits, s.zero_point), g, s.bits);
            out.at(n, k) = q;
            if (tie) {
                const double v = (double)(float)w[(size_t)k] / g.s;
                tie->at(n, k) = std::min(gtie, (float)std::fabs(std::fabs(v - std::floor(v)) - 0.5));
            }
            const double d = hinv[(size_t)k * K + k], e = (w[(size_t)k] - q) / d;
            for (int j2 = idx + 1; j2 < K; ++j2) {
                const int j = order[(size_t)j2];
                w[(size_t)j] -= e * hinv[(size_t)k * K + j];
            }
            std::vector<double> rowk(hinv.begin() + (size_t)k * K, hinv.begin() + (size_t)(k + 1) * K);
            for (int i = 0; i < K; ++i) {
                const double f = hinv[(size_t)i * K + k] / d;
                for (int j = 0; j < K; ++j) hinv[(size_t)i * K + j] -= f * rowk[(size_t)j];
            }
        }
    }
    if (order_out) *order_out = order;
    return out;
}

struct Problem {
    Matrix W, X;
    qb::quant::Calibration c;
};

Problem problem(int N, int K, uint64_t seed) {
    Problem p;
    p.W = qbt::gaussian(N, K, seed, 1.0 / std::sqrt((double)K));
    p.X = qbt::activations(K, 8, 64, seed + 100);
    p.c = qbt::calib_of(p.X);
    return p;
}

void expect_same(const Matrix& a, const Matrix& b, double tol, const std::string& what) {
    ASSERT_EQ(a.v.size(), b.v.size());
    int diff = 0;
    for (size_t i = 0; i < a.v.size(); ++i)
        if (std::fabs((double)a.v[i] - b.v[i]) > tol) ++diff;
    EXPECT_EQ(diff, 0) << what << ": " << diff << " of " << a.v.size() << " weights differ by more than " << tol;
}

// GPTQ computes in float, the OBQ here in double. They agree weight for weight, except that a
// weight whose x / s lies within rounding noise of a .5 boundary may round the other way, after
// which that row's remaining weights legitimately differ (likewise a group grid whose scale is
// within rounding of a binary16 value, or whose zero is near a .5 boundary). So: in each row,
// in processing order, the first weight that differs must be such a near-tie (within 1e-3 of a
// step: float GPTQ's weights carry ~1e-6 relative error after a hundred updates), and such rows
// must be rare.
TEST(QuantGptq, EqualsUnblockedObq) {
    int near_ties = 0, weights = 0;
    for (int trial = 0; trial < 6; ++trial) {
        const int K = trial % 2 ? 96 : 128;
        const Problem p = problem(12, K, 40 + trial);
        const QuantSpec s = spec(trial < 2 ? 4 : trial < 4 ? 3 : 2, trial % 3 == 0 ? 0 : 32, trial % 2 == 0);
        for (bool act : {false, true}) {
            GptqOptions o;
            o.act_order = act;
            const Result r = qb::quant::quantize_gptq(p.W, p.c.H, s, o);
            ASSERT_TRUE(r.ok()) << r.error;
            std::vector<int> order;
            Matrix tie;
            const Matrix ref = obq(p.W, p.c.H, s, 0.01, act, &order, &tie);
            const Matrix rtn = qb::quant::quantize_rtn(p.W, s).w_hat;
            int differs_from_rtn = 0;
            for (int n = 0; n < p.W.rows; ++n) {
                for (int idx = 0; idx < K; ++idx) {
                    const int k = order[(size_t)idx];
                    differs_from_rtn += r.w_hat.at(n, k) != rtn.at(n, k);
                    if (std::fabs((double)r.w_hat.at(n, k) - ref.at(n, k)) > 1e-6) {
                        EXPECT_LT(tie.at(n, k), 1e-3) << "trial " << trial << (act ? " act-order" : "") << " row " << n << " column " << k
                                                      << ": differs from OBQ without a near-tie";
                        ++near_ties;
                        break;
                    }
                }
                weights += K;
            }
            EXPECT_GT(differs_from_rtn, K / 4) << "GPTQ should not be RTN here";
        }
    }
    EXPECT_LE(near_ties * 2000, weights) << near_ties << " rows diverged at near-ties";
    std::printf("GPTQ vs OBQ: %d weights compared, %d row(s) diverged at a near-tie\n", weights, near_ties);
}

// The block size only changes when updates are applied, not what they are.
TEST(QuantGptq, BlockedEqualsUnblocked) {
    const Problem p = problem(20, 384, 9);
    for (int group : {0, 32, 128}) {
        GptqOptions o;
        o.block = 128;
        const Result blocked = qb::quant::quantize_gptq(p.W, p.c.H, spec(4, group, true), o);
        o.block = 1;   // every update immediate: the plain column-by-column algorithm
        const Result unblocked = qb::quant::quantize_gptq(p.W, p.c.H, spec(4, group, true), o);
        o.block = 384;
        const Result one_block = qb::quant::quantize_gptq(p.W, p.c.H, spec(4, group, true), o);
        ASSERT_TRUE(blocked.ok() && unblocked.ok() && one_block.ok());
        expect_same(blocked.w_hat, unblocked.w_hat, 1e-6, "block 128 vs 1, group " + std::to_string(group));
        expect_same(blocked.w_hat, one_block.w_hat, 1e-6, "block 128 vs 384, group " + std::to_string(group));
    }
}

// With H diagonal there is nothing to compensate: GPTQ is RTN, byte for byte.
TEST(QuantGptq, DiagonalHessianIsRtn) {
    const Matrix W = qbt::gaussian(16, 128, 2, 0.1);
    std::vector<float> H((size_t)128 * 128, 0.0f);
    for (int k = 0; k < 128; ++k) H[(size_t)k * 128 + k] = 1.0f + (float)(k % 7);
    for (int bits : {2, 3, 4, 8})
        for (int group : {0, 32})
            for (bool zero : {false, true}) {
                const QuantSpec s = spec(bits, group, zero);
                if (!qb::quant::check_spec(s, 16, 128).empty()) continue;
                const Result g = qb::quant::quantize_gptq(W, H, s, {});
                const Result r = qb::quant::quantize_rtn(W, s);
                ASSERT_TRUE(g.ok() && r.ok());
                EXPECT_EQ(g.packed.q, r.packed.q);
                EXPECT_EQ(g.packed.scales, r.packed.scales);
                EXPECT_EQ(g.packed.zeros, r.packed.zeros);
            }
}

// On correlated activations GPTQ's output error is below RTN's (held-out tokens, several seeds).
TEST(QuantGptq, BeatsRtnOnCorrelatedActivations) {
    for (uint64_t seed = 1; seed <= 5; ++seed) {
        const Problem p = problem(32, 128, seed);
        const Matrix Xe = qbt::activations(128, 4, 64, seed + 100, 8);   // samples 8..11: held out
        for (int bits : {3, 4}) {
            const QuantSpec s = spec(bits, 32, false);
            const Result g = qb::quant::quantize_gptq(p.W, p.c.H, s, {});
            const Result r = qb::quant::quantize_rtn(p.W, s);
            ASSERT_TRUE(g.ok() && r.ok());
            EXPECT_LT(qbt::output_err2(Xe, p.W, g.w_hat), qbt::output_err2(Xe, p.W, r.w_hat)) << "seed " << seed << " bits " << bits;
        }
    }
}

// A few input channels with very large H_ii: quantized first (act-order), their error is
// spread over the many ordinary columns; quantized in place, late ones have nothing left to
// absorb it.
TEST(QuantGptq, ActOrderBeatsNaturalOrderOnLargeDiagonal) {
    const int K = 128;
    Matrix X = qbt::gaussian(1024, K, 11);
    Matrix mix = qbt::gaussian(K, K, 12, 0.3);   // correlate the channels
    Matrix Xc(X.rows, K);
    for (int t = 0; t < X.rows; ++t)
        for (int k = 0; k < K; ++k) {
            double s = X.at(t, k);
            for (int j = 0; j < 8; ++j) s += mix.at(k, j) * X.at(t, j);
            Xc.at(t, k) = (float)s;
        }
    for (int k : {100, 110, 120, 127})
        for (int t = 0; t < X.rows; ++t) Xc.at(t, k) *= 30.0f;   // late columns, huge H_ii
    const qb::quant::Calibration c = qbt::calib_of(Xc);
    const Matrix W = qbt::gaussian(32, K, 13, 0.1);
    GptqOptions natural, act;
    act.act_order = true;
    for (int group : {0, 32}) {
        const Result a = qb::quant::quantize_gptq(W, c.H, spec(3, group, false), act);
        const Result b = qb::quant::quantize_gptq(W, c.H, spec(3, group, false), natural);
        ASSERT_TRUE(a.ok() && b.ok());
        EXPECT_LT(qbt::output_err2(Xc, W, a.w_hat), 0.9 * qbt::output_err2(Xc, W, b.w_hat)) << "group " << group;
        EXPECT_EQ(a.perm.empty(), group == 0);   // per-channel needs no permutation in storage
    }
}

// Static groups (AutoGPTQ): grids fixed on the original contiguous groups, so act-order needs no
// stored permutation; the result still beats RTN.
TEST(QuantGptq, StaticGroupsStoreNoPermutation) {
    const Problem p = problem(16, 128, 21);
    GptqOptions o;
    o.act_order = true;
    o.static_groups = true;
    const Result r = qb::quant::quantize_gptq(p.W, p.c.H, spec(4, 32, true), o);
    ASSERT_TRUE(r.ok()) << r.error;
    EXPECT_TRUE(r.perm.empty());
    Matrix d(16, 128);
    qb::dequantize_ref(r.packed.view(), d.v.data());
    EXPECT_EQ(d.v, r.w_hat.v);
    const Result rtn = qb::quant::quantize_rtn(p.W, spec(4, 32, true));
    EXPECT_LT(qbt::output_err2(p.X, p.W, r.w_hat), qbt::output_err2(p.X, p.W, rtn.w_hat));
}

// An input channel that is always zero: H_ii = 0 would make H singular. GPTQ sets H_ii = 1 and
// zeroes the weight column, which then quantizes to exactly 0.
TEST(QuantGptq, DeadColumns) {
    Matrix X = qbt::activations(64, 4, 64, 31);
    for (int t = 0; t < X.rows; ++t) X.at(t, 5) = X.at(t, 40) = 0;
    const qb::quant::Calibration c = qbt::calib_of(X);
    ASSERT_EQ(c.H[5 * 64 + 5], 0.0f);
    const Matrix W = qbt::gaussian(8, 64, 32, 0.2);
    for (bool act : {false, true}) {
        GptqOptions o;
        o.act_order = act;
        o.damp = 0;   // no dampening: only the dead-column rule keeps the factorization alive
        const Result r = qb::quant::quantize_gptq(W, c.H, spec(4, 32, false), o);
        ASSERT_TRUE(r.ok()) << r.error;
        EXPECT_EQ(r.details.get("dead_columns"), 2);
        for (int n = 0; n < 8; ++n) {
            EXPECT_EQ(r.w_hat.at(n, 5), 0.0f);
            EXPECT_EQ(r.w_hat.at(n, 40), 0.0f);
        }
    }
    const Result q = qb::quant::quantize_quip(W, c.H, spec(4, 32, false), {});
    ASSERT_TRUE(q.ok()) << q.error;
}

TEST(QuantGptq, RejectsBadInput) {
    const Matrix W = qbt::gaussian(4, 64, 1);
    EXPECT_FALSE(qb::quant::quantize_gptq(W, std::vector<float>(10, 0.0f), spec(4, 32, false), {}).ok());
    std::vector<float> H((size_t)64 * 64, 0.0f);
    for (int k = 0; k < 64; ++k) H[(size_t)k * 64 + k] = -1;   // negative definite
    const Result r = qb::quant::quantize_gptq(W, H, spec(4, 32, false), {});
    EXPECT_FALSE(r.ok());
    EXPECT_NE(r.error.find("positive definite"), std::string::npos);
}

}  // namespace
