// CPU kernels (native/kernels/cpu) against the scalar reference of shared/qformat.h, on every
// ISA level this CPU supports (each one forced in turn), over shapes (odd N, K not a multiple
// of 32 or 64 where the format allows), batches 1..128, widths 2/3/4/8, groups
// 32/64/128/256/per-channel, with and without zero points.
//
// Error bounds. Every path dequantizes each weight to exactly the reference's float
// (qformat.h dequant_at: one rounding), so the only difference is the order in which the
// float products are summed (SIMD lanes, K blocks, four-way scalar sums) versus the
// reference's exact-then-rounded double sum. For any summation order of K products in
// float, |error| <= (K + 1) u sum_k |x_k w_k| + O(u^2), u = 2^-24 (one rounding per product,
// at most K - 1 per addition chain, one for the final rounding). INT8 weight-only applies the
// row scale to the sum instead of to each weight: one more rounding per term, hence K + 2.
// The tests use (K + 4) u sum |x w|. A single wrong weight moves an output by about
// sum |x w| / K, far above this bound for the K used here (<= 1536), so the check is tight
// enough to catch indexing, packing or lane-order bugs.
// W8A8 kernels reproduce the reference bit for bit (same activation quantization, exact
// int32 sums, the same float operations in the same order): checked with ==.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <string>
#include <tuple>

#include "cpu_kernels.h"
#include "kernel_fixture.h"
#include "thread_pool.h"

namespace {

using qb::cpu::Isa;
using qbt::QStore;

constexpr double kU = 1.0 / 16777216.0;   // 2^-24

// Restores the ISA cap after each test.
class KernelTest : public ::testing::Test {
protected:
    void TearDown() override { qb::cpu::set_isa_cap(qb::cpu::detected_isa()); }
};

std::string fmt_name(int bits, int group, bool zero) {
    return "W" + std::to_string(bits) + (group ? " g" + std::to_string(group) : " per-channel") + (zero ? " zero" : "");
}

// sum_k |x_k w_k| for every (m, n): the scale of the error bound.
std::vector<double> abs_dot(const float* X, int M, const float* D, int N, int K) {
    std::vector<double> r((size_t)M * N);
    for (int m = 0; m < M; ++m)
        for (int n = 0; n < N; ++n) {
            double s = 0;
            for (int k = 0; k < K; ++k) s += std::fabs((double)X[(size_t)m * K + k] * D[(size_t)n * K + k]);
            r[(size_t)m * N + n] = s;
        }
    return r;
}

struct Case {
    int N, K, bits, group;   // group 0 = per-channel
    bool zero;
    std::vector<int> batches;
};

// Runs one weight format against the reference for every batch and every supported ISA.
void check_weight_only(const Case& c, uint64_t seed) {
    const int Mmax = *std::max_element(c.batches.begin(), c.batches.end());
    const std::vector<float> W = qbt::random_matrix(c.N, c.K, seed, 0.1f), X = qbt::random_matrix(Mmax, c.K, seed + 1);
    QStore s;
    ASSERT_TRUE(qbt::make_quantized(s, W.data(), c.N, c.K, c.bits, c.group, c.zero));
    std::vector<float> D((size_t)c.N * c.K);
    qb::dequantize_ref(s.m, D.data());
    std::vector<float> ref((size_t)Mmax * c.N);
    ASSERT_TRUE(qb::matmul_ref(X.data(), Mmax, s.m, ref.data()));
    const std::vector<double> mag = abs_dot(X.data(), Mmax, D.data(), c.N, c.K);
    const double tol_k = (c.K + 4) * kU;
    for (Isa isa : qb::cpu::supported_isas()) {
        ASSERT_TRUE(qb::cpu::set_isa_cap(isa));
        for (int M : c.batches) {
            SCOPED_TRACE(testing::Message() << qb::cpu::isa_name(isa) << " " << fmt_name(c.bits, c.group, c.zero) << " N=" << c.N
                                            << " K=" << c.K << " M=" << M);
            std::vector<float> Y((size_t)M * c.N, NAN);
            const qb::cpu::KernelRun r = qb::cpu::gemm_weight_only(X.data(), M, s.m, Y.data());
            ASSERT_TRUE(r.ok()) << qb::cpu::status_str(r.status);
            const Isa want = (int)isa >= (int)Isa::avx512 ? Isa::avx512 : isa;
            EXPECT_EQ(r.isa, want);
            EXPECT_STREQ(r.impl, qb::cpu::isa_name(want));
            // Rows of Y are the first M rows of the reference (each row of X is independent).
            for (int m = 0; m < M; ++m)
                for (int n = 0; n < c.N; ++n) {
                    const size_t i = (size_t)m * c.N + n;
                    ASSERT_LE(std::fabs((double)Y[i] - ref[i]), tol_k * mag[i] + 1e-30) << "m=" << m << " n=" << n;
                }
        }
    }
}

TEST_F(KernelTest, EveryFormatEveryIsa) {
    // Widths x groups x zero on one odd-N shape: K = 512 takes every group size.
    uint64_t seed = 100;
    for (int bits : {2, 3, 4})
        for (int g : {32, 64, 128, 256, 0})
            for (bool z : {false, true}) check_weight_only({37, 512, bits, g, z, {1, 3, 7}}, seed++);
    check_weight_only({37, 512, 8, 0, false, {1, 3, 7}}, seed++);
}

TEST_F(KernelTest, BatchesOneTo128) {
    const std::vector<int> b = {1, 2, 3, 7, 16, 33, 64, 128};
    check_weight_only({67, 384, 4, 128, false, b}, 1);
    check_weight_only({67, 384, 4, 128, true, b}, 2);
    check_weight_only({67, 384, 8, 0, false, b}, 3);
    check_weight_only({35, 384, 3, 64, true, b}, 4);
    check_weight_only({35, 384, 2, 32, false, b}, 5);
}

TEST_F(KernelTest, PerChannelWithKTailsAndTinyShapes) {
    // K not a multiple of 32 (the SIMD chunk) nor of 8 (INT3 packs): per-channel only.
    for (int bits : {2, 3, 4})
        for (bool z : {false, true}) {
            check_weight_only({9, 100, bits, 0, z, {1, 5}}, 200 + bits * 2 + z);
            check_weight_only({1, 1, bits, 0, z, {1, 2}}, 300 + bits * 2 + z);
            check_weight_only({3, 31, bits, 0, z, {1, 4}}, 400 + bits * 2 + z);
        }
    check_weight_only({9, 100, 8, 0, false, {1, 5}}, 500);
    check_weight_only({2, 33, 8, 0, false, {1, 9}}, 501);
}

TEST_F(KernelTest, KBlockingForLargeBatches) {
    // M > 4 splits K into blocks that keep the X slice in L2; these shapes cross block and
    // group boundaries inside a row (and the per-channel one carries a K % 32 tail).
    check_weight_only({13, 1536, 4, 128, true, {64, 128}}, 600);
    check_weight_only({13, 1536, 3, 32, false, {128}}, 601);
    check_weight_only({8, 1100, 4, 0, false, {128}}, 602);
    check_weight_only({8, 1100, 8, 0, false, {128}}, 603);
}

void check_w8a8(int N, int K, const std::vector<int>& batches, uint64_t seed) {
    const int Mmax = *std::max_element(batches.begin(), batches.end());
    std::vector<float> W = qbt::random_matrix(N, K, seed), X = qbt::random_matrix(Mmax, K, seed + 1, 4.0f);
    if (Mmax > 1)   // an all-zero activation row (scale 0) must give zeros
        for (int k = 0; k < K; ++k) X[(size_t)K + k] = 0;
    QStore s;
    ASSERT_TRUE(qbt::make_quantized(s, W.data(), N, K, 8, 0, false));
    std::vector<float> ref((size_t)Mmax * N);
    ASSERT_TRUE(qb::matmul_w8a8_ref(X.data(), Mmax, s.m, ref.data()));
    for (Isa isa : qb::cpu::supported_isas()) {
        ASSERT_TRUE(qb::cpu::set_isa_cap(isa));
        for (int M : batches) {
            SCOPED_TRACE(testing::Message() << qb::cpu::isa_name(isa) << " W8A8 N=" << N << " K=" << K << " M=" << M);
            std::vector<float> Y((size_t)M * N, NAN);
            const qb::cpu::KernelRun r = qb::cpu::gemm_w8a8(X.data(), M, s.m, Y.data());
            ASSERT_TRUE(r.ok());
            const Isa want = isa == Isa::avx512 ? Isa::avx2 : isa;   // no AVX-512 path without VNNI
            EXPECT_EQ(r.isa, want);
            for (size_t i = 0; i < Y.size(); ++i) ASSERT_EQ(Y[i], ref[i]) << "i=" << i;
        }
    }
}

TEST_F(KernelTest, W8A8BitIdenticalToReference) {
    check_w8a8(67, 384, {1, 2, 3, 7, 16, 33, 64, 128}, 700);
    check_w8a8(9, 100, {1, 5}, 701);     // K tail: VNNI mask, AVX2 scalar tail
    check_w8a8(5, 1, {1, 3}, 702);
    check_w8a8(4, 4096 + 64 + 7, {1, 3}, 703);
}

TEST_F(KernelTest, W8A8WorstCaseMagnitudesStayExact) {
    // Every weight and activation at +-127 (and one -128 weight): the AVX2 pairs reach
    // 2 x 128 x 127 = 32512, just under int16 saturation; VNNI sums 255 x 127 per product.
    const int N = 4, K = 4096;
    QStore s;
    s.m.rows = N; s.m.cols = K; s.m.bits = 8; s.m.group = K;
    s.q.assign((size_t)N * K, 0);
    s.scales.assign((size_t)N * 2, 0);
    s.m.q = s.q.data(); s.m.scales = s.scales.data();
    for (int n = 0; n < N; ++n) {
        reinterpret_cast<uint16_t*>(s.scales.data())[n] = qb::f32_to_fp16(1.0f);
        for (int k = 0; k < K; ++k) s.q[(size_t)n * K + k] = (uint8_t)(int8_t)(n % 2 ? -127 : 127);
    }
    s.q[5] = (uint8_t)(int8_t)-128;
    std::vector<float> X((size_t)2 * K);
    for (int k = 0; k < K; ++k) { X[k] = k % 2 ? -1.0f : 1.0f; X[(size_t)K + k] = 1.0f; }
    std::vector<float> ref((size_t)2 * N);
    ASSERT_TRUE(qb::matmul_w8a8_ref(X.data(), 2, s.m, ref.data()));
    EXPECT_EQ(ref[N + 1], -127.0f * 127 * K / 127);   // row of ones: sx = 1/127
    for (Isa isa : qb::cpu::supported_isas()) {
        qb::cpu::set_isa_cap(isa);
        std::vector<float> Y((size_t)2 * N);
        ASSERT_TRUE(qb::cpu::gemm_w8a8(X.data(), 2, s.m, Y.data()).ok());
        for (size_t i = 0; i < Y.size(); ++i) EXPECT_EQ(Y[i], ref[i]) << qb::cpu::isa_name(isa) << " " << i;
    }
}

TEST_F(KernelTest, Fp32BaselineMatchesReference) {
    for (auto [N, K] : {std::pair{67, 384}, std::pair{5, 100}, std::pair{130, 1}}) {
        const std::vector<float> W = qbt::random_matrix(N, K, 800), X = qbt::random_matrix(128, K, 801);
        std::vector<float> ref((size_t)128 * N);
        qb::matmul_f32_ref(X.data(), 128, W.data(), N, K, ref.data());
        const std::vector<double> mag = abs_dot(X.data(), 128, W.data(), N, K);
        for (Isa isa : qb::cpu::supported_isas()) {
            qb::cpu::set_isa_cap(isa);
            for (int M : {1, 3, 64, 128}) {
                std::vector<float> Y((size_t)M * N, NAN);
                const qb::cpu::KernelRun r = qb::cpu::gemm_fp32(X.data(), M, W.data(), N, K, Y.data());
                ASSERT_TRUE(r.ok());
                EXPECT_STREQ(r.impl, "eigen");
                for (size_t i = 0; i < Y.size(); ++i)
                    ASSERT_LE(std::fabs((double)Y[i] - ref[i]), (K + 4) * kU * mag[i] + 1e-30)
                        << qb::cpu::isa_name(isa) << " N=" << N << " K=" << K << " M=" << M << " i=" << i;
            }
        }
    }
}

TEST_F(KernelTest, ResultsDoNotDependOnThreadCount) {
    const int N = 203, K = 512, M = 9;
    const std::vector<float> W = qbt::random_matrix(N, K, 900), X = qbt::random_matrix(M, K, 901);
    QStore s;
    ASSERT_TRUE(qbt::make_quantized(s, W.data(), N, K, 4, 128, true));
    std::vector<float> a((size_t)M * N), b((size_t)M * N);
    qb::cpu::set_num_threads(1);
    qb::cpu::gemm_weight_only(X.data(), M, s.m, a.data());
    qb::cpu::set_num_threads(3);
    qb::cpu::gemm_weight_only(X.data(), M, s.m, b.data());
    qb::cpu::set_num_threads(0);
    EXPECT_EQ(a, b);   // each output is computed by one thread in a fixed order
}

TEST_F(KernelTest, RejectsBadArguments) {
    const std::vector<float> W = qbt::random_matrix(8, 64, 1), X(64 * 2, 1.0f);
    QStore s4, s8;
    ASSERT_TRUE(qbt::make_quantized(s4, W.data(), 8, 64, 4, 32, false));
    ASSERT_TRUE(qbt::make_quantized(s8, W.data(), 8, 64, 8, 0, false));
    std::vector<float> Y(8 * 2);
    EXPECT_EQ(qb::cpu::gemm_weight_only(X.data(), 0, s4.m, Y.data()).status, qb::cpu::Status::bad_shape);
    EXPECT_EQ(qb::cpu::gemm_weight_only(nullptr, 1, s4.m, Y.data()).status, qb::cpu::Status::bad_shape);
    EXPECT_EQ(qb::cpu::gemm_w8a8(X.data(), 1, s4.m, Y.data()).status, qb::cpu::Status::unsupported);
    qb::QuantizedMatrix bad = s4.m;
    bad.group = 48;
    EXPECT_EQ(qb::cpu::gemm_weight_only(X.data(), 1, bad, Y.data()).status, qb::cpu::Status::bad_format);
    EXPECT_EQ(qb::cpu::gemm_fp32(X.data(), qb::cpu::kMaxM + 1, W.data(), 8, 64, Y.data()).status, qb::cpu::Status::bad_shape);
    EXPECT_TRUE(qb::cpu::gemm_w8a8(X.data(), 2, s8.m, Y.data()).ok());
}

TEST_F(KernelTest, IsaCapAndNames) {
    const std::vector<Isa> isas = qb::cpu::supported_isas();
    ASSERT_FALSE(isas.empty());
    EXPECT_EQ(isas.front(), Isa::scalar);
    for (Isa i : isas) {
        EXPECT_TRUE(qb::cpu::set_isa_cap(i));
        EXPECT_EQ(qb::cpu::active_isa(), i);
        Isa back;
        ASSERT_TRUE(qb::cpu::parse_isa(qb::cpu::isa_name(i), &back));
        EXPECT_EQ(back, i);
    }
    if (qb::cpu::detected_isa() != Isa::avx512_vnni) {
        EXPECT_FALSE(qb::cpu::set_isa_cap(Isa::avx512_vnni));
    }
    Isa x;
    EXPECT_FALSE(qb::cpu::parse_isa("sse9", &x));
}

}  // namespace
