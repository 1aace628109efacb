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
//
// The avx512-bf16 INT4 path (w4a16_avx512bf16.cpp) computes something else on purpose: X
// rounded to BF16 (qformat.h f32_to_bf16: nearest even, FP32 subnormals to zero, as the
// hardware does). Its reference is matmul_ref of the rounded X. It sums x (u - 8) per block
// with VDPBF16PS, scales per block, and with stored zero points subtracts (z - 8) s sum(x)
// per group afterwards. Every product is exact (8-bit x 5-bit significands; (z - 8) times an
// FP16 scale has 15 bits) and any term meets at most L = 2 ceil(K/128) + ceil(G/16) + 12
// roundings (<= 2 per dot product, 3 dot products after it in a block, one FMA per block,
// the 16-lane reduction, K blocks, the rounded group sums, the correction's chain, the
// subtraction and the final rounding), hence
//   |y - ref| <= L u sum_k |x_k| s_g (|u_k - 8| + |z_g - 8|) (1 + 2^-10) + 64 ceil(K/128) 2^-126 max s
// where the last term covers VDPBF16PS flushing subnormal lane results to zero (its inputs are
// never subnormal: the rounding already flushed them). Symmetric: L u sum |x w|, tighter than
// the FP32 paths' (K + 4) u sum |x w| for K > 11; with zero points the correction's
// cancellation can cost up to |z - 8| / |u - z| more (Bf16CancellationStaysWithinBound).
// The path runs at M <= bf16_max_batch() (1 by default); the BF16 tests raise the limit so
// its multi-row tiles and K blocks are covered too.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <string>
#include <tuple>

#include "cpu_kernels.h"
#include "kernel_abi.h"   // bf16_row_stride
#include "kernel_fixture.h"
#include "thread_pool.h"

namespace {

using qb::cpu::Isa;
using qbt::QStore;

constexpr double kU = 1.0 / 16777216.0;   // 2^-24

// Restores the ISA cap after each test.
class KernelTest : public ::testing::Test {
protected:
    void TearDown() override {
        qb::cpu::set_isa_cap(qb::cpu::detected_isa());
        qb::cpu::set_bf16_max_batch(1);
    }
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

// The BF16 path's bound (see the top of this file), restated here from the format.
double bf16_bound(const float* xb, const qb::QuantizedMatrix& w, int n) {
    const int K = w.cols, G = qb::groups(w), nb = (K + 127) / 128;
    const double L = 2.0 * nb + (G + 15) / 16 + 12;
    double mag = 0, smax = 0;
    for (int k = 0; k < K; ++k) {
        const int g = k / w.group;
        const double s = qb::scale_at(w, n, g);
        const int u = (int)qb::get_packed(w.q + (size_t)n * qb::row_bytes(w), 4, (size_t)k);
        mag += std::fabs((double)xb[k]) * s * (std::abs(u - 8) + std::abs(qb::zero_at(w, n, g) - 8));
        smax = std::max(smax, s);
    }
    return L * kU * mag * (1 + 1.0 / 1024) + 64.0 * nb * std::ldexp(1.0, -126) * smax;
}

// Which level a weight-only call capped at `isa` runs (the BF16 kernel takes INT4 with groups
// 32, 64, multiples of 128 or per-channel).
Isa expected_isa(Isa isa, int bits, int group, int K, int M) {
    const bool bf16_fmt = bits == 4 && (group == 0 || group == K || group % 128 == 0 || group == 32 || group == 64);
    if (isa == Isa::avx512_bf16 && bf16_fmt && M <= qb::cpu::bf16_max_batch()) return Isa::avx512_bf16;
    return (int)isa >= (int)Isa::avx512 ? Isa::avx512 : isa;
}

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
    std::vector<float> Xb(X.size()), refb((size_t)Mmax * c.N);
    for (size_t i = 0; i < X.size(); ++i) Xb[i] = qb::bf16_round(X[i]);
    ASSERT_TRUE(qb::matmul_ref(Xb.data(), Mmax, s.m, refb.data()));
    for (Isa isa : qb::cpu::supported_isas()) {
        ASSERT_TRUE(qb::cpu::set_isa_cap(isa));
        for (int M : c.batches) {
            SCOPED_TRACE(testing::Message() << qb::cpu::isa_name(isa) << " " << fmt_name(c.bits, c.group, c.zero) << " N=" << c.N
                                            << " K=" << c.K << " M=" << M);
            std::vector<float> Y((size_t)M * c.N, NAN);
            const qb::cpu::KernelRun r = qb::cpu::gemm_weight_only(X.data(), M, s.m, Y.data());
            ASSERT_TRUE(r.ok()) << qb::cpu::status_str(r.status);
            const Isa want = expected_isa(isa, c.bits, c.group, c.K, M);
            EXPECT_EQ(r.isa, want);
            EXPECT_STREQ(r.impl, qb::cpu::isa_name(want));
            EXPECT_EQ(r.bf16_acts, want == Isa::avx512_bf16);
            // Rows of Y are the first M rows of the reference (each row of X is independent).
            for (int m = 0; m < M; ++m)
                for (int n = 0; n < c.N; ++n) {
                    const size_t i = (size_t)m * c.N + n;
                    if (r.bf16_acts) {
                        const double tol = bf16_bound(Xb.data() + (size_t)m * c.K, s.m, n);
                        ASSERT_LE(std::fabs((double)Y[i] - refb[i]), tol) << "m=" << m << " n=" << n;
                        // the library's bound (the bench's check) is the same
                        ASSERT_DOUBLE_EQ(qb::cpu::error_bound(r, false, Xb.data() + (size_t)m * c.K, c.K, &s.m, nullptr, n), tol);
                    } else {
                        ASSERT_LE(std::fabs((double)Y[i] - ref[i]), tol_k * mag[i] + 1e-30) << "m=" << m << " n=" << n;
                    }
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

TEST_F(KernelTest, Bf16PathGroupsAndKTails) {
    // K % 128 = 64 (a half block at the row's end) with groups 32 and 64 (G = 14 and 7: an
    // odd G puts every other row's zeros off a byte boundary); group 96 falls back to the
    // avx512 path at the avx512-bf16 level.
    uint64_t seed = 1000;
    qb::cpu::set_bf16_max_batch(qb::cpu::kMaxM);   // every M through the BF16 kernel
    for (int g : {32, 64})
        for (bool z : {false, true}) check_weight_only({11, 448, 4, g, z, {1, 2, 5, 9}}, seed++);
    check_weight_only({11, 384, 4, 96, true, {1, 5}}, seed++);
    check_weight_only({6, 130, 4, 0, true, {1, 6}}, seed++);    // per-channel, K % 128 = 2
    check_weight_only({5, 4096, 4, 128, false, {1, 4}}, seed++);   // a Llama-like K: the bound at K = 4096
    // The multi-row tiles and the K blocks of large M (the X slice kept in L2).
    check_weight_only({67, 384, 4, 128, true, {2, 3, 7, 16, 33, 128}}, seed++);
    check_weight_only({13, 1536, 4, 128, true, {64, 128}}, seed++);
    check_weight_only({8, 1100, 4, 0, false, {128}}, seed++);
    check_weight_only({37, 512, 4, 32, true, {3, 7}}, seed++);
    // The default limit: M = 1 only.
    qb::cpu::set_bf16_max_batch(1);
    check_weight_only({11, 448, 4, 64, true, {1, 2, 5}}, seed++);
}

TEST_F(KernelTest, Bf16StridedRowBlocks) {
    // Rows under 4 KB are read in blocks of rows n, n + rs, ... (kernel_abi.h
    // bf16_row_stride): rs = 2 (K = 4096, 2 KB rows), 3 (K = 3072), 4 (K = 512), each with an
    // N that leaves plain 4-row and 1-row tiles after the strided groups.
    static_assert(qb::cpu::bf16_row_stride(2048) == 2 && qb::cpu::bf16_row_stride(1536) == 3 &&
                  qb::cpu::bf16_row_stride(256) == 4 && qb::cpu::bf16_row_stride(5504) == 1 &&
                  qb::cpu::bf16_row_stride(4096) == 1 && qb::cpu::bf16_row_stride(2752) == 2);
    uint64_t seed = 1100;
    check_weight_only({29, 4096, 4, 128, false, {1}}, seed++);
    check_weight_only({29, 4096, 4, 64, true, {1}}, seed++);
    check_weight_only({31, 3072, 4, 128, true, {1}}, seed++);
    check_weight_only({53, 512, 4, 32, false, {1}}, seed++);
    qb::cpu::set_bf16_max_batch(qb::cpu::kMaxM);   // the strided tiles with several activation rows
    check_weight_only({29, 4096, 4, 128, true, {2, 5}}, seed++);
}

TEST_F(KernelTest, Bf16ResultsDoNotDependOnThreadCount) {
    // The task split moves with the thread count (in whole strided groups), so a row may be in
    // a strided tile with one count and a plain or 1-row tile with another; each row's sum
    // runs in the same order in every tile shape.
    if (!qb::cpu::isa_supported(Isa::avx512_bf16)) GTEST_SKIP() << "this CPU lacks AVX512_BF16";
    for (int K : {512, 4096}) {
        const int N = 203;
        const std::vector<float> W = qbt::random_matrix(N, K, 910), X = qbt::random_matrix(1, K, 911);
        QStore s;
        ASSERT_TRUE(qbt::make_quantized(s, W.data(), N, K, 4, 128, true));
        std::vector<float> a(N), b(N), c(N);
        qb::cpu::set_num_threads(1);
        ASSERT_TRUE(qb::cpu::gemm_weight_only(X.data(), 1, s.m, a.data()).bf16_acts);
        qb::cpu::set_num_threads(3);
        qb::cpu::gemm_weight_only(X.data(), 1, s.m, b.data());
        qb::cpu::set_num_threads(7);
        qb::cpu::gemm_weight_only(X.data(), 1, s.m, c.data());
        qb::cpu::set_num_threads(0);
        EXPECT_EQ(a, b) << "K=" << K;
        EXPECT_EQ(a, c) << "K=" << K;
    }
}

TEST_F(KernelTest, Bf16LevelRunsOrIsSkipped) {
    if (!qb::cpu::isa_supported(Isa::avx512_bf16))
        GTEST_SKIP() << "this CPU lacks AVX512_BF16: the avx512-bf16 level (INT4 with BF16 activations) is not tested here; "
                        "INT4 runs on the avx512 path";
    const std::vector<float> W = qbt::random_matrix(8, 256, 1100), X = qbt::random_matrix(1, 256, 1101);
    QStore s;
    ASSERT_TRUE(qbt::make_quantized(s, W.data(), 8, 256, 4, 128, false));
    std::vector<float> Y(8);
    ASSERT_TRUE(qb::cpu::set_isa_cap(Isa::avx512_bf16));
    const qb::cpu::KernelRun r = qb::cpu::gemm_weight_only(X.data(), 1, s.m, Y.data());
    EXPECT_EQ(r.isa, Isa::avx512_bf16);
    EXPECT_STREQ(r.impl, "avx512-bf16");
    EXPECT_TRUE(r.bf16_acts);
    ASSERT_TRUE(qb::cpu::set_isa_cap(Isa::avx512_vnni));   // the cap sends INT4 back to FP32 activations
    EXPECT_FALSE(qb::cpu::gemm_weight_only(X.data(), 1, s.m, Y.data()).bf16_acts);
}

TEST_F(KernelTest, Bf16RoundingTiesAndSubnormals) {
    // One nonzero activation at a time, so an output is x * w up to ~2^-16 relative (two FP32
    // roundings of ~136 x the result), while rounding x differently from f32_to_bf16 would be
    // off by up to 2^-8: ties go to even, subnormals become zero (exactly 0 out).
    if (!qb::cpu::isa_supported(Isa::avx512_bf16)) GTEST_SKIP() << "this CPU lacks AVX512_BF16";
    ASSERT_TRUE(qb::cpu::set_isa_cap(Isa::avx512_bf16));
    qb::cpu::set_bf16_max_batch(qb::cpu::kMaxM);
    const int N = 4, K = 32;
    const std::vector<float> W = qbt::random_matrix(N, K, 1200);
    QStore s;
    ASSERT_TRUE(qbt::make_quantized(s, W.data(), N, K, 4, 0, false));
    const float tie_even = 1.0f + 0x1p-8f, tie_odd = 1.0f + 3 * 0x1p-8f, sub = 0x1p-130f;
    EXPECT_EQ(qb::bf16_round(tie_even), 1.0f);
    EXPECT_EQ(qb::bf16_round(tie_odd), 1.0f + 0x1p-6f);
    EXPECT_EQ(qb::bf16_round(-sub), 0.0f);
    EXPECT_EQ(qb::bf16_round(0x1p-126f), 0x1p-126f);
    for (float v : {tie_even, tie_odd, -tie_odd, 3.0f + 0x1p-7f, 1e-30f, 0x1p-126f, sub, -sub, 1e30f})
        for (int k : {0, 1, 2, 3, 5, 31}) {
            std::vector<float> X(K, 0.0f), Y(N), ref(N);
            X[k] = v;
            std::vector<float> Xb = X;
            for (float& x : Xb) x = qb::bf16_round(x);
            ASSERT_TRUE(qb::matmul_ref(Xb.data(), 1, s.m, ref.data()));
            ASSERT_TRUE(qb::cpu::gemm_weight_only(X.data(), 1, s.m, Y.data()).bf16_acts);
            for (int n = 0; n < N; ++n) {
                if (std::fabs(v) < 0x1p-126f) EXPECT_EQ(Y[n], 0.0f) << "subnormal x=" << v << " k=" << k;
                else EXPECT_LE(std::fabs((double)Y[n] - ref[n]), 0x1p-12 * std::fabs((double)ref[n])) << "x=" << v << " k=" << k << " n=" << n;
            }
        }
}

TEST_F(KernelTest, Bf16OneHotActivationsPickEachWeight) {
    // The bound above is loose at large K (it must cover the offset's cancellation), so the
    // layout is checked separately: with one nonzero activation per row, output n is x w[n][k]
    // to ~2^-16, and any permutation, group or scale-lane mistake picks another weight.
    if (!qb::cpu::isa_supported(Isa::avx512_bf16)) GTEST_SKIP() << "this CPU lacks AVX512_BF16";
    ASSERT_TRUE(qb::cpu::set_isa_cap(Isa::avx512_bf16));
    qb::cpu::set_bf16_max_batch(qb::cpu::kMaxM);
    struct F { int K, group; };
    uint64_t seed = 1400;
    for (F f : {F{320, 32}, F{320, 64}, F{384, 128}, F{512, 256}, F{320, 0}, F{77, 0}})
        for (bool z : {false, true}) {
            const int N = 9, M = 3, K = f.K;
            const std::vector<float> W = qbt::random_matrix(N, K, seed++);
            QStore s;
            ASSERT_TRUE(qbt::make_quantized(s, W.data(), N, K, 4, f.group, z));
            for (int k = 0; k < K; ++k) {
                std::vector<float> X((size_t)M * K, 0.0f), Y((size_t)M * N), ref((size_t)M * N);
                for (int m = 0; m < M; ++m) X[(size_t)m * K + (k + 37 * m) % K] = m == 1 ? -1.5f : 2.25f;   // exact in BF16
                ASSERT_TRUE(qb::matmul_ref(X.data(), M, s.m, ref.data()));
                ASSERT_TRUE(qb::cpu::gemm_weight_only(X.data(), M, s.m, Y.data()).bf16_acts);
                for (size_t i = 0; i < Y.size(); ++i)
                    ASSERT_LE(std::fabs((double)Y[i] - ref[i]), 0x1p-14 * std::fabs((double)ref[i]))
                        << fmt_name(4, f.group, z) << " K=" << K << " k=" << k << " i=" << i;
            }
        }
}

TEST_F(KernelTest, Bf16CancellationStaysWithinBound) {
    // Every code at its zero point: the true output is exactly 0, and all the kernel returns is
    // the rounding left over from subtracting (z - 8) s sum(x) from sum x (u - 8) s, the worst
    // case for the correction's cancellation (symmetric: both are 0, so y must be exactly 0).
    // Large activations of one sign maximise it.
    if (!qb::cpu::isa_supported(Isa::avx512_bf16)) GTEST_SKIP() << "this CPU lacks AVX512_BF16";
    ASSERT_TRUE(qb::cpu::set_isa_cap(Isa::avx512_bf16));
    qb::cpu::set_bf16_max_batch(qb::cpu::kMaxM);
    for (bool zero : {false, true}) {
        const int N = 8, K = 11008, G = K / 128, M = 2;
        QStore s;
        s.m.rows = N; s.m.cols = K; s.m.bits = 4; s.m.group = 128; s.m.has_zero = zero;
        s.q.assign(qb::q_bytes(s.m), 0);
        s.scales.assign(qb::scale_bytes(s.m), 0);
        s.zeros.assign(qb::zero_bytes(s.m), 0);
        s.m.q = s.q.data(); s.m.scales = s.scales.data(); s.m.zeros = zero ? s.zeros.data() : nullptr;
        qbt::Rng rng(1300);
        for (int n = 0; n < N; ++n)
            for (int g = 0; g < G; ++g) {
                const uint32_t z = zero ? (uint32_t)(rng.next() % 16) : 8u;
                if (zero) qb::set_packed(s.m.zeros, 4, (size_t)n * G + g, z);
                reinterpret_cast<uint16_t*>(s.scales.data())[(size_t)n * G + g] = qb::f32_to_fp16(0.01f + 0.02f * std::fabs(rng.uniform()));
                for (int k = g * 128; k < (g + 1) * 128; ++k) qb::set_packed(s.m.q + (size_t)n * qb::row_bytes(s.m), 4, (size_t)k, z);
            }
        std::vector<float> X((size_t)M * K);
        for (size_t i = 0; i < X.size(); ++i) X[i] = i < (size_t)K ? 1.0f + std::fabs(rng.uniform()) : 100.0f * rng.uniform();
        std::vector<float> Y((size_t)M * N, NAN), Xb(X);
        for (float& x : Xb) x = qb::bf16_round(x);
        ASSERT_TRUE(qb::cpu::gemm_weight_only(X.data(), M, s.m, Y.data()).bf16_acts);
        double worst = 0;
        for (int m = 0; m < M; ++m)
            for (int n = 0; n < N; ++n) {
                const double tol = bf16_bound(Xb.data() + (size_t)m * K, s.m, n);
                ASSERT_LE(std::fabs((double)Y[(size_t)m * N + n]), tol) << "zero=" << zero << " m=" << m << " n=" << n;
                if (!zero) {
                    ASSERT_EQ(Y[(size_t)m * N + n], 0.0f);
                }
                if (tol > 0) worst = std::max(worst, std::fabs((double)Y[(size_t)m * N + n]) / tol);
            }
        std::printf("  zero-point cancellation (zero points %s): worst |y| / bound = %.3g\n", zero ? "stored" : "implicit, y must be 0", worst);
    }
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
            // no AVX-512 path without VNNI; avx512-bf16 adds nothing to W8A8
            const Isa want = isa == Isa::avx512 ? Isa::avx2 : isa == Isa::avx512_bf16 ? Isa::avx512_vnni : isa;
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
    if ((int)qb::cpu::detected_isa() < (int)Isa::avx512_vnni) {
        EXPECT_FALSE(qb::cpu::set_isa_cap(Isa::avx512_vnni));
    }
    if ((int)qb::cpu::detected_isa() < (int)Isa::avx512_bf16) {
        EXPECT_FALSE(qb::cpu::set_isa_cap(Isa::avx512_bf16));
    }
    Isa x;
    EXPECT_FALSE(qb::cpu::parse_isa("sse9", &x));
}

}  // namespace
