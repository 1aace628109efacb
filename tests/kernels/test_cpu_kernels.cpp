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
// The avx512-vnni INT4 path (w4a16_avx512vnni.cpp; INT2 and INT3 the same way with their own
// decode and offset o = 2, 4 where o = 8 below; w3a16_avx512vbmi.cpp) computes something else on purpose: X in
// 16-bit fixed point per 128-value block (qformat.h fixed16_round: a_k = round(x_k 2^e), one
// power-of-two step per block, |a| <= 32639). Its reference is matmul_ref of those values.
// Each block's sum of a (u - 8) is an exact int32 (|.| < 2^23), converted exactly and scaled
// by s 2^-e exactly (barring underflow below 2^-126), then accumulated in FP32; with stored
// zero points it subtracts (z - 8) s sum(x) per group afterwards. Any term meets at most
// L = 2 ceil(K/128) + ceil(G/16) + 12 roundings (one FMA per block, the sums over K chunks
// at large M, the 16-lane reduction, the rounded group sums, the correction's chain, the
// subtraction and the final rounding), hence
//   |y - ref| <= L u sum_k |x_k| s_g (|u_k - 8| + |z_g - 8|) (1 + 2^-10) + ceil(K/128) 2^-123
// where the last term covers a scale product or an FMA landing below 2^-126 (blocks whose
// activations are all under 2^-112). Symmetric: L u sum |x w|, tighter than the FP32 paths'
// (K + 4) u sum |x w| for K > 11; with zero points the correction's cancellation can cost up
// to |z - 8| / |u - z| more (Fixed16CancellationStaysWithinBound). The path takes every M.
// INT8 weight-only at that level (w8a16_avx512vnni.cpp) takes the same activations: its block
// sums of q a are exact int32 but above 2^24 their conversion rounds, and the row scale
// multiplies the finished sum (as the FP32 path does), so the bound there is
// (3 ceil(K/128) + 12) u sum |x w| + ceil(K/128) 2^-123.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <string>
#include <tuple>

#include "cpu_kernels.h"
#include "kernel_abi.h"   // int4_row_stride
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
        qb::cpu::set_row_order(qb::cpu::detected_row_order());
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

// The fixed16 path's bound (see the top of this file), restated here from the format.
double fixed16_bound(const float* xb, const qb::QuantizedMatrix& w, int n) {
    const int K = w.cols, G = qb::groups(w), nb = (K + 127) / 128;
    if (w.bits == 8) {   // INT8: sum |x w|, one more rounding per block (the int32 sum's conversion)
        double mag = 0;
        for (int k = 0; k < K; ++k) mag += std::fabs((double)xb[k] * qb::dequant_at(w, n, k));
        return (3.0 * nb + 12) * kU * mag + nb * std::ldexp(1.0, -123);
    }
    const double L = 2.0 * nb + (G + 15) / 16 + 12;
    const int o = 1 << (w.bits - 1);   // the codes' symmetric zero: 8, 4, 2
    double mag = 0;
    for (int k = 0; k < K; ++k) {
        const int g = k / w.group;
        const double s = qb::scale_at(w, n, g);
        const int u = (int)qb::get_packed(w.q + (size_t)n * qb::row_bytes(w), w.bits, (size_t)k);
        mag += std::fabs((double)xb[k]) * s * (std::abs(u - o) + std::abs(qb::zero_at(w, n, g) - o));
    }
    return L * kU * mag * (1 + 1.0 / 1024) + nb * std::ldexp(1.0, -123);
}

// Which level a weight-only call capped at `isa` runs (the fixed16 kernels take INT8, INT4 and
// (with AVX512_VBMI) INT3 with groups 32, 64, multiples of 128 or per-channel, and INT2 with
// groups of multiples of 128 or per-channel, at every M).
Isa expected_isa(Isa isa, int bits, int group, int K) {
    const bool whole = group == 0 || group == K || group % 128 == 0;
    const bool per_block = whole || group == 32 || group == 64;
    const bool fixed16_fmt = bits == 8 || (bits == 4 && per_block) || (bits == 2 && whole) ||
                             (bits == 3 && per_block && qb::cpu::int3_fixed16_supported());
    if (isa == Isa::avx512_vnni && fixed16_fmt) return Isa::avx512_vnni;
    return (int)isa >= (int)Isa::avx512 ? Isa::avx512 : isa;
}

// Whether that call runs on the fixed16 activations: the VNNI kernels above, and INT4 in
// whole-block groups or per-channel on avx2 (w4a16_avx2_fixed16.cpp).
bool expected_fixed16(Isa isa, int bits, int group, int K) {
    const bool whole = group == 0 || group == K || group % 128 == 0;
    return expected_isa(isa, bits, group, K) == Isa::avx512_vnni || (isa == Isa::avx2 && bits == 4 && whole);
}

// The levels whose kernels run on the fixed16 activations on this CPU: avx512-vnni (every
// fixed16 format) and avx2 (INT4 in whole-block groups). The avx2 kernel's lanes are not the
// VNNI kernel's (lane L holds k of both 32-byte halves of a block), so the layout, cancellation,
// fallback and thread-count tests below run at both.
std::vector<Isa> fixed16_levels() {
    std::vector<Isa> v;
    for (Isa i : {Isa::avx512_vnni, Isa::avx2})
        if (qb::cpu::isa_supported(i)) v.push_back(i);
    return v;
}

// X as the fixed16 path sees it, row by row.
std::vector<float> fixed16_rows(const std::vector<float>& X, int K) {
    std::vector<float> out(X.size());
    for (size_t m = 0; m < X.size() / (size_t)K; ++m) EXPECT_TRUE(qb::fixed16_round(X.data() + m * K, K, out.data() + m * K));
    return out;
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
    const std::vector<float> Xb = fixed16_rows(X, c.K);
    std::vector<float> refb((size_t)Mmax * c.N);
    ASSERT_TRUE(qb::matmul_ref(Xb.data(), Mmax, s.m, refb.data()));
    for (Isa isa : qb::cpu::supported_isas()) {
        ASSERT_TRUE(qb::cpu::set_isa_cap(isa));
        for (int M : c.batches) {
            SCOPED_TRACE(testing::Message() << qb::cpu::isa_name(isa) << " " << fmt_name(c.bits, c.group, c.zero) << " N=" << c.N
                                            << " K=" << c.K << " M=" << M);
            std::vector<float> Y((size_t)M * c.N, NAN);
            const qb::cpu::KernelRun r = qb::cpu::gemm_weight_only(X.data(), M, s.m, Y.data());
            ASSERT_TRUE(r.ok()) << qb::cpu::status_str(r.status);
            const Isa want = expected_isa(isa, c.bits, c.group, c.K);
            EXPECT_EQ(r.isa, want);
            EXPECT_STREQ(r.impl, qb::cpu::isa_name(want));
            EXPECT_EQ(r.fixed16_acts, expected_fixed16(isa, c.bits, c.group, c.K));
            // Rows of Y are the first M rows of the reference (each row of X is independent).
            for (int m = 0; m < M; ++m)
                for (int n = 0; n < c.N; ++n) {
                    const size_t i = (size_t)m * c.N + n;
                    if (r.fixed16_acts) {
                        const double tol = fixed16_bound(Xb.data() + (size_t)m * c.K, s.m, n);
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

TEST_F(KernelTest, Fixed16PathGroupsAndKTails) {
    // K % 128 = 64 (a half block at the row's end) with groups 32 and 64 (G = 14 and 7: an
    // odd G puts every other row's zeros off a byte boundary); group 96 falls back to the
    // avx512 path at the avx512-vnni level.
    uint64_t seed = 1000;
    for (int bits : {4, 3})   // INT3 takes INT4's lanes where it runs fixed16 (AVX512_VBMI)
        for (int g : {32, 64})
            for (bool z : {false, true}) check_weight_only({11, 448, bits, g, z, {1, 2, 5, 9}}, seed++);
    check_weight_only({11, 384, 4, 96, true, {1, 5}}, seed++);
    check_weight_only({6, 130, 4, 0, true, {1, 6}}, seed++);    // per-channel, K % 128 = 2
    check_weight_only({5, 4096, 4, 128, false, {1, 4}}, seed++);   // a Llama-like K: the bound at K = 4096
    check_weight_only({5, 1024, 4, 512, true, {1, 3}}, seed++);    // groups spanning blocks
    check_weight_only({9, 1152, 4, 128, true, {1, 3}}, seed++);    // G = 9: odd rows' zeros start on an odd nibble
    // The multi-row tiles and the K blocks of large M (the X slice kept in L2).
    check_weight_only({67, 384, 4, 128, true, {2, 3, 7, 16, 33, 128}}, seed++);
    check_weight_only({13, 1536, 4, 128, true, {64, 128}}, seed++);
    check_weight_only({8, 1100, 4, 0, false, {128}}, seed++);
    check_weight_only({37, 512, 4, 32, true, {3, 7}}, seed++);
}

TEST_F(KernelTest, Int4StridedRowBlocks) {
    // Rows under 4 KB are read in blocks of rows n, n + rs, ... (kernel_abi.h
    // int4_row_stride): rs = 2 (K = 4096, 2 KB rows), 3 (K = 3072), 4 (K = 512), each with an
    // N that leaves plain 4-row and 1-row tiles after the strided groups.
    static_assert(qb::cpu::int4_row_stride(2048) == 2 && qb::cpu::int4_row_stride(1536) == 3 &&
                  qb::cpu::int4_row_stride(256) == 4 && qb::cpu::int4_row_stride(5504) == 1 &&
                  qb::cpu::int4_row_stride(4096) == 1 && qb::cpu::int4_row_stride(2752) == 2);
    uint64_t seed = 1100;
    check_weight_only({29, 4096, 4, 128, false, {1}}, seed++);
    check_weight_only({29, 4096, 4, 64, true, {1}}, seed++);
    check_weight_only({31, 3072, 4, 128, true, {1}}, seed++);
    check_weight_only({53, 512, 4, 32, false, {1}}, seed++);
    // the strided tiles with several activation rows
    check_weight_only({29, 4096, 4, 128, true, {2, 5}}, seed++);
}

TEST_F(KernelTest, Fixed16ResultsDoNotDependOnThreadCount) {
    // The task split moves with the thread count (in whole strided groups), so a row may be in
    // a strided tile with one count and a plain or 1-row tile with another; each row's sum
    // runs in the same order in every tile shape.
    for (Isa lv : fixed16_levels())
    for (int K : {512, 4096}) {
        ASSERT_TRUE(qb::cpu::set_isa_cap(lv));
        const int N = 203;
        const std::vector<float> W = qbt::random_matrix(N, K, 910), X = qbt::random_matrix(1, K, 911);
        QStore s;
        ASSERT_TRUE(qbt::make_quantized(s, W.data(), N, K, 4, 128, true));
        std::vector<float> a(N), b(N), c(N);
        qb::cpu::set_num_threads(1);
        ASSERT_TRUE(qb::cpu::gemm_weight_only(X.data(), 1, s.m, a.data()).fixed16_acts);
        qb::cpu::set_num_threads(3);
        qb::cpu::gemm_weight_only(X.data(), 1, s.m, b.data());
        qb::cpu::set_num_threads(7);
        qb::cpu::gemm_weight_only(X.data(), 1, s.m, c.data());
        qb::cpu::set_num_threads(0);
        EXPECT_EQ(a, b) << qb::cpu::isa_name(lv) << " K=" << K;
        EXPECT_EQ(a, c) << qb::cpu::isa_name(lv) << " K=" << K;
    }
}

TEST(RowOrder, NamesAndStrides) {
    using qb::cpu::RowOrder;
    RowOrder o;
    ASSERT_TRUE(qb::cpu::parse_row_order("long", &o));
    EXPECT_EQ(o, RowOrder::long_runs);
    ASSERT_TRUE(qb::cpu::parse_row_order("short", &o));
    EXPECT_EQ(o, RowOrder::short_runs);
    EXPECT_FALSE(qb::cpu::parse_row_order("Long", &o));
    EXPECT_FALSE(qb::cpu::parse_row_order("", &o));
    EXPECT_STREQ(qb::cpu::row_order_name(RowOrder::long_runs), "long");
    EXPECT_STREQ(qb::cpu::row_order_name(RowOrder::short_runs), "short");
    // short: the page stride whatever N and the threads
    EXPECT_EQ(qb::cpu::fixed16_row_stride(2048, 11008, 2, RowOrder::short_runs), 2);
    EXPECT_EQ(qb::cpu::fixed16_row_stride(5504, 4096, 16, RowOrder::short_runs), 1);
    // long: kLongRunRows where the groups of 4 x 32 rows give >= 4 tasks per thread ...
    EXPECT_EQ(qb::cpu::fixed16_row_stride(2048, 11008, 2, RowOrder::long_runs), 32);   // 86 groups
    EXPECT_EQ(qb::cpu::fixed16_row_stride(5504, 4096, 2, RowOrder::long_runs), 32);    // 32 groups
    // ... halved until they do: 4096 rows on 16 threads need 64 groups of 64 rows: stride 16
    EXPECT_EQ(qb::cpu::fixed16_row_stride(5504, 4096, 16, RowOrder::long_runs), 16);
    EXPECT_EQ(qb::cpu::fixed16_row_stride(5504, 4096, 0, RowOrder::long_runs), 32);    // 0 threads counts as 1
    // ... never under the page stride, however few the rows
    EXPECT_EQ(qb::cpu::fixed16_row_stride(2048, 5, 8, RowOrder::long_runs), 2);
    EXPECT_EQ(qb::cpu::fixed16_row_stride(256, 30, 64, RowOrder::long_runs), 4);
    EXPECT_EQ(qb::cpu::fixed16_row_stride(8192, 1, 1, RowOrder::long_runs), 1);
    // long runs only where the launch is a weight stream
    EXPECT_TRUE(qb::cpu::long_runs_apply(1, 4));
    EXPECT_TRUE(qb::cpu::long_runs_apply(1, 2));
    EXPECT_TRUE(qb::cpu::long_runs_apply(2, 8));
    EXPECT_FALSE(qb::cpu::long_runs_apply(2, 4));
    EXPECT_FALSE(qb::cpu::long_runs_apply(3, 8));
    EXPECT_FALSE(qb::cpu::long_runs_apply(16, 8));
}

TEST_F(KernelTest, RowOrderDoesNotChangeBits) {
    // Long runs group other rows into the 4-row register blocks, and split N into other tasks,
    // than short runs; each row's sum runs in the same order in every tile, so both give the
    // same bits. N leaves plain 4-row and 1-row tiles after the groups; 4 x 32 x 4 x threads
    // rows take the full kLongRunRows stride with this machine's pool.
    if (!qb::cpu::isa_supported(Isa::avx512_vnni)) GTEST_SKIP() << "this CPU lacks AVX512_VNNI";
    using qb::cpu::RowOrder;
    const int threads = qb::cpu::num_threads();
    const int big = 4 * qb::cpu::kLongRunRows * 4 * threads + 37;
    EXPECT_EQ(qb::cpu::fixed16_row_stride(256, big, threads, RowOrder::long_runs), qb::cpu::kLongRunRows);
    uint64_t seed = 1200;
    struct C { int N, K, bits, group; bool zero; };
    std::vector<C> cases = {{big, 512, 4, 128, false}, {big, 256, 4, 32, true}, {big, 384, 8, 0, false},
                            {203, 4096, 4, 64, true}, {203, 1536, 4, 0, false}, {77, 640, 2, 128, false}, {61, 640, 4, 128, true}};
    if (qb::cpu::int3_fixed16_supported()) cases.push_back({big, 512, 3, 128, true});
    for (const C& c : cases)
        for (int M : {1, 2, 3, 6}) {
            SCOPED_TRACE(testing::Message() << fmt_name(c.bits, c.group, c.zero) << " N=" << c.N << " K=" << c.K << " M=" << M);
            const std::vector<float> W = qbt::random_matrix(c.N, c.K, seed, 0.1f), X = qbt::random_matrix(M, c.K, seed + 1);
            seed += 2;
            QStore s;
            ASSERT_TRUE(qbt::make_quantized(s, W.data(), c.N, c.K, c.bits, c.group, c.zero));
            std::vector<float> a((size_t)M * c.N, NAN), b((size_t)M * c.N, NAN);
            qb::cpu::set_row_order(RowOrder::short_runs);
            ASSERT_TRUE(qb::cpu::gemm_weight_only(X.data(), M, s.m, a.data()).fixed16_acts);
            qb::cpu::set_row_order(RowOrder::long_runs);
            EXPECT_EQ(qb::cpu::active_row_order(), RowOrder::long_runs);
            ASSERT_TRUE(qb::cpu::gemm_weight_only(X.data(), M, s.m, b.data()).fixed16_acts);
            ASSERT_EQ(a, b);
        }
}

TEST(RowOrder, DefaultFollowsTheVendor) {
    // AMD: long runs (measured faster on Zen 4); every other CPU: the short runs tuned on Xeons.
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    EXPECT_EQ(qb::cpu::detected_row_order(),
              __builtin_cpu_is("amd") ? qb::cpu::RowOrder::long_runs : qb::cpu::RowOrder::short_runs);
#else
    EXPECT_EQ(qb::cpu::detected_row_order(), qb::cpu::RowOrder::short_runs);
#endif
}

TEST_F(KernelTest, Fixed16LevelRunsOrIsSkipped) {
    if (!qb::cpu::isa_supported(Isa::avx512_vnni))
        GTEST_SKIP() << "this CPU lacks AVX512_VNNI: the avx512-vnni level (INT4 with 16-bit fixed-point activations) is not tested "
                        "here; INT4 runs on the avx512 or avx2 path";
    const std::vector<float> W = qbt::random_matrix(8, 256, 1100), X = qbt::random_matrix(1, 256, 1101);
    QStore s;
    ASSERT_TRUE(qbt::make_quantized(s, W.data(), 8, 256, 4, 128, false));
    std::vector<float> Y(8);
    ASSERT_TRUE(qb::cpu::set_isa_cap(Isa::avx512_vnni));
    const qb::cpu::KernelRun r = qb::cpu::gemm_weight_only(X.data(), 1, s.m, Y.data());
    EXPECT_EQ(r.isa, Isa::avx512_vnni);
    EXPECT_STREQ(r.impl, "avx512-vnni");
    EXPECT_TRUE(r.fixed16_acts);
    ASSERT_TRUE(qb::cpu::set_isa_cap(Isa::avx512));   // the cap sends INT4 back to FP32 activations
    EXPECT_FALSE(qb::cpu::gemm_weight_only(X.data(), 1, s.m, Y.data()).fixed16_acts);
}

TEST(Fixed16, ExponentAndRounding) {
    // The step is the largest power of two that keeps |a| <= 32639: 2^14 <= a_max for
    // mantissas up to 32639 / 16384 = 1.99213..., 2^13 <= a_max above that.
    EXPECT_EQ(qb::fixed16_exp(1.0f), 14);
    EXPECT_EQ(qb::fixed16_exp(1.99f), 14);      // 32604
    EXPECT_EQ(qb::fixed16_exp(1.995f), 13);     // 32686 would not split into two signed bytes
    EXPECT_EQ(qb::fixed16_exp(0.75f), 15);
    EXPECT_EQ(qb::fixed16_exp(1e38f), 14 - 126);
    EXPECT_EQ(qb::fixed16_exp(0x1p-112f), 126);
    EXPECT_EQ(qb::fixed16_exp(1e-40f), 126);    // subnormal: clamped, so 2^-e stays normal
    EXPECT_EQ(qb::fixed16_exp(0.0f), 0);
    // Values as the kernel sees them: a 2^-e, ties to even, every block on its own step.
    std::vector<float> x(300, 0.0f), y(300);
    x[0] = 1.0f;                          // block 0: e = 14
    x[1] = 1.0f + 0x1.8p-15f;             // 16384.75 -> 16385
    x[2] = 0x1p-15f;                      // 0.5 -> 0 (tie to even)
    x[3] = 3 * 0x1p-15f;                  // 1.5 -> 2
    x[4] = -3 * 0x1p-15f;                 // -1.5 -> -2
    x[128] = 1000.0f;                     // block 1: e = 5, step 1/32
    x[129] = 0.01f;                       // 0.32 -> 0
    x[130] = 0.02f;                       // 0.64 -> 1 -> 1/32
    x[256] = 1e-40f;                      // block 2 (44 values): all under 2^-112 -> 0
    ASSERT_TRUE(qb::fixed16_round(x.data(), 300, y.data()));
    EXPECT_EQ(y[0], 1.0f);
    EXPECT_EQ(y[1], 16385 * 0x1p-14f);
    EXPECT_EQ(y[2], 0.0f);
    EXPECT_EQ(y[3], 2 * 0x1p-14f);
    EXPECT_EQ(y[4], -2 * 0x1p-14f);
    EXPECT_EQ(y[128], 1000.0f);
    EXPECT_EQ(y[129], 0.0f);
    EXPECT_EQ(y[130], 1.0f / 32);
    EXPECT_EQ(y[256], 0.0f);
    for (float v : {INFINITY, -INFINITY, NAN}) {
        std::vector<float> z(x);
        z[200] = v;
        EXPECT_FALSE(qb::fixed16_round(z.data(), 300, y.data()));
    }
}

// BF16 rounding (nearest even), the activations of the INT4 kernel that the fixed16 one
// replaced and of torch's int4 path; here only as the yardstick below.
float bf16_round(float f) {
    uint32_t u;
    std::memcpy(&u, &f, 4);
    u = (u + 0x7fffu + ((u >> 16) & 1u)) & 0xffff0000u;
    std::memcpy(&f, &u, 4);
    return f;
}

TEST_F(KernelTest, Fixed16ActivationsAreFinerThanBf16OnLlmLikeRows) {
    // The cost of rounding the activations, against the unrounded reference: for rows with a
    // few channels 100x or 1000x larger than the rest (the "massive activations" of LLMs;
    // the rest uniform with 1 in 64 values 8x larger), the fixed16 path's largest output
    // error must stay below what BF16 activations alone would cost (matmul_ref of
    // BF16-rounded X, no kernel error at all). The outliers decide both: BF16 keeps 8
    // significant bits of an outlier, fixed16 14-15, and loses only absolute precision (2^-15
    // of the outlier) on the other values of its block. Measured here: ~0.05x of BF16's error
    // in all three cases.
    if (!qb::cpu::isa_supported(Isa::avx512_vnni)) GTEST_SKIP() << "this CPU lacks AVX512_VNNI";
    const int N = 64, K = 4096, M = 4;
    const std::vector<float> W = qbt::random_matrix(N, K, 1600, 0.1f);
    QStore s;
    ASSERT_TRUE(qbt::make_quantized(s, W.data(), N, K, 4, 128, false));
    for (float outlier : {1.0f, 100.0f, 1000.0f}) {
        std::vector<float> X = qbt::random_matrix(M, K, 1601);
        for (int m = 0; m < M; ++m)
            for (int k = 7; k < K; k += 509) X[(size_t)m * K + k] *= outlier;   // 8 channels per row
        std::vector<float> Xb(X), Y((size_t)M * N), ref((size_t)M * N), refb((size_t)M * N);
        for (float& v : Xb) v = bf16_round(v);
        ASSERT_TRUE(qb::matmul_ref(X.data(), M, s.m, ref.data()));
        ASSERT_TRUE(qb::matmul_ref(Xb.data(), M, s.m, refb.data()));
        ASSERT_TRUE(qb::cpu::gemm_weight_only(X.data(), M, s.m, Y.data()).fixed16_acts);
        double e16 = 0, eb = 0;
        for (size_t i = 0; i < Y.size(); ++i) {
            e16 = std::max(e16, std::fabs((double)Y[i] - ref[i]));
            eb = std::max(eb, std::fabs((double)refb[i] - ref[i]));
        }
        std::printf("  outliers x%g: max |y - y(X)| fixed16 kernel %.3g, BF16-rounded X %.3g (ratio %.3f)\n", outlier, e16, eb, e16 / eb);
        EXPECT_LT(e16, eb) << "outliers x" << outlier;
    }
}

TEST_F(KernelTest, Fixed16NonFiniteActivationsTakeTheFp32Path) {
    // No fixed-point form for an infinity or a NaN: the whole call runs the FP32-activation
    // path and its outputs follow the reference (NaN where it has NaN, the same infinities).
    const int N = 6, K = 256, M = 3;
    const std::vector<float> W = qbt::random_matrix(N, K, 1500);
    QStore s;
    ASSERT_TRUE(qbt::make_quantized(s, W.data(), N, K, 4, 128, false));
    for (Isa lv : fixed16_levels())
    for (float v : {INFINITY, -INFINITY, NAN}) {
        ASSERT_TRUE(qb::cpu::set_isa_cap(lv));
        SCOPED_TRACE(qb::cpu::isa_name(lv));
        std::vector<float> X = qbt::random_matrix(M, K, 1501), Y((size_t)M * N), ref((size_t)M * N);
        X[(size_t)K + 130] = v;   // row 1 only
        ASSERT_TRUE(qb::matmul_ref(X.data(), M, s.m, ref.data()));
        const qb::cpu::KernelRun r = qb::cpu::gemm_weight_only(X.data(), M, s.m, Y.data());
        ASSERT_TRUE(r.ok());
        EXPECT_FALSE(r.fixed16_acts);
        EXPECT_EQ(r.isa, lv == Isa::avx2 ? Isa::avx2 : Isa::avx512);
        for (size_t i = 0; i < Y.size(); ++i) {
            if (std::isnan(ref[i])) EXPECT_TRUE(std::isnan(Y[i])) << "i=" << i;
            else if (std::isinf(ref[i])) EXPECT_EQ(Y[i], ref[i]) << "i=" << i;
            else EXPECT_NEAR(Y[i], ref[i], 1e-4 * (1 + std::fabs(ref[i]))) << "i=" << i;
        }
    }
}

TEST_F(KernelTest, Fixed16SingleActivationsAndTinyBlocks) {
    // One nonzero activation at a time: an output is x_ref w up to one FP32 rounding (every
    // other term is an exact 0), so a wrong step, rounding or byte split shows at once. A block
    // under 2^-112 keeps the step 2^-126 (fixed16_exp's clamp): 2^-126 itself survives as a = 1,
    // values up to half that step come out as exactly 0.
    const int N = 4, K = 160;
    const std::vector<float> W = qbt::random_matrix(N, K, 1200);
    QStore s;
    ASSERT_TRUE(qbt::make_quantized(s, W.data(), N, K, 4, 0, false));
    for (Isa lv : fixed16_levels())
    for (float v : {1.0f, 1.99f, -1.995f, 3.0f + 0x1p-7f, 1e-30f, 0x1p-126f, 1e-40f, -1e-40f, 1e30f, -3e36f})
        for (int k : {0, 1, 2, 3, 5, 31, 127, 128, 159}) {
            ASSERT_TRUE(qb::cpu::set_isa_cap(lv));
            std::vector<float> X(K, 0.0f), Y(N), ref(N);
            X[k] = v;
            const std::vector<float> Xb = fixed16_rows(X, K);
            ASSERT_TRUE(qb::matmul_ref(Xb.data(), 1, s.m, ref.data()));
            ASSERT_TRUE(qb::cpu::gemm_weight_only(X.data(), 1, s.m, Y.data()).fixed16_acts);
            for (int n = 0; n < N; ++n) {
                if (std::fabs(v) <= 0x1p-127f) EXPECT_EQ(Y[n], 0.0f) << qb::cpu::isa_name(lv) << " x=" << v << " k=" << k;
                // (0x1p-126: its step times the scale is subnormal, so an absolute floor)
                else EXPECT_LE(std::fabs((double)Y[n] - ref[n]), std::max(0x1p-22 * std::fabs((double)ref[n]), 0x1p-140))
                    << qb::cpu::isa_name(lv) << " x=" << v << " k=" << k << " n=" << n;
            }
        }
}

TEST_F(KernelTest, Fixed16OneHotActivationsPickEachWeight) {
    // The bound above is loose at large K (it must cover the offset's cancellation), so the
    // layout is checked separately: with one nonzero activation per row, output n is x w[n][k]
    // to ~2^-20, and any byte order, group or scale-lane mistake picks another weight.
    struct F { int K, group; };
    uint64_t seed = 1400;
    struct FB { int K, group, bits; };
    std::vector<FB> fs;
    for (F f : {F{320, 32}, F{320, 64}, F{384, 128}, F{512, 256}, F{320, 0}, F{77, 0}}) fs.push_back({f.K, f.group, 4});
    // INT2 (whole-block groups, per-channel: its lanes hold k spread over a block); INT3 with
    // every group INT4 takes (it decodes to INT4's order).
    for (F f : {F{384, 128}, F{512, 256}, F{320, 0}, F{77, 0}}) fs.push_back({f.K, f.group, 2});
    if (qb::cpu::int3_fixed16_supported())
        for (F f : {F{320, 32}, F{320, 64}, F{384, 128}, F{512, 256}, F{320, 0}, F{77, 0}}) fs.push_back({f.K, f.group, 3});
    for (Isa lv : fixed16_levels())
    for (FB f : fs)
        for (bool z : {false, true}) {
            const int N = 9, M = 3, K = f.K;
            if (!expected_fixed16(lv, f.bits, f.group, K)) continue;   // avx2: INT4 in whole-block groups
            ASSERT_TRUE(qb::cpu::set_isa_cap(lv));
            const std::vector<float> W = qbt::random_matrix(N, K, seed++);
            QStore s;
            ASSERT_TRUE(qbt::make_quantized(s, W.data(), N, K, f.bits, f.group, z));
            for (int k = 0; k < K; ++k) {
                std::vector<float> X((size_t)M * K, 0.0f), Y((size_t)M * N), ref((size_t)M * N);
                for (int m = 0; m < M; ++m) X[(size_t)m * K + (k + 37 * m) % K] = m == 1 ? -1.5f : 2.25f;   // exact in fixed16
                ASSERT_TRUE(qb::matmul_ref(X.data(), M, s.m, ref.data()));
                ASSERT_TRUE(qb::cpu::gemm_weight_only(X.data(), M, s.m, Y.data()).fixed16_acts);
                for (size_t i = 0; i < Y.size(); ++i)
                    ASSERT_LE(std::fabs((double)Y[i] - ref[i]), 0x1p-20 * std::fabs((double)ref[i]))
                        << qb::cpu::isa_name(lv) << " " << fmt_name(f.bits, f.group, z) << " K=" << K << " k=" << k << " i=" << i;
            }
        }
}

TEST_F(KernelTest, Fixed16Int8OrderScalesAndWorstCaseMagnitudes) {
    // INT8 weight-only on the fixed16 path (w8a16_avx512vnni.cpp). One-hot activations at every
    // k of a row with a K % 128 tail: any byte or half mix-up picks another weight. FP32 row
    // scales as well as FP16. And the largest int32 block sums: every weight +-127 and the
    // activations at their block's largest magnitude, one sign, over K = 11008 (each block sum
    // ~2^27, above FP32's exact integers), within the bound.
    if (!qb::cpu::isa_supported(Isa::avx512_vnni)) GTEST_SKIP() << "this CPU lacks AVX512_VNNI";
    for (qb::ScaleType st : {qb::ScaleType::f16, qb::ScaleType::f32}) {
        const int N = 7, K = 200, M = 2;
        const std::vector<float> W = qbt::random_matrix(N, K, 1700);
        QStore s;
        ASSERT_TRUE(qbt::make_quantized(s, W.data(), N, K, 8, 0, false, st));
        for (int k = 0; k < K; ++k) {
            std::vector<float> X((size_t)M * K, 0.0f), Y((size_t)M * N), ref((size_t)M * N);
            for (int m = 0; m < M; ++m) X[(size_t)m * K + (k + 59 * m) % K] = m ? -1.5f : 2.25f;
            ASSERT_TRUE(qb::matmul_ref(X.data(), M, s.m, ref.data()));
            ASSERT_TRUE(qb::cpu::gemm_weight_only(X.data(), M, s.m, Y.data()).fixed16_acts);
            for (size_t i = 0; i < Y.size(); ++i)
                ASSERT_LE(std::fabs((double)Y[i] - ref[i]), 0x1p-20 * std::fabs((double)ref[i])) << "k=" << k << " i=" << i;
        }
    }
    const int N = 4, K = 11008, M = 2;
    QStore s;
    s.m.rows = N; s.m.cols = K; s.m.bits = 8; s.m.group = K;
    s.q.assign(qb::q_bytes(s.m), 0);
    s.scales.assign(qb::scale_bytes(s.m), 0);
    s.m.q = s.q.data(); s.m.scales = s.scales.data();
    for (int n = 0; n < N; ++n) {
        reinterpret_cast<uint16_t*>(s.scales.data())[n] = qb::f32_to_fp16(0.01f);
        for (int k = 0; k < K; ++k) s.q[(size_t)n * K + k] = (uint8_t)(int8_t)(n % 2 ? -127 : 127);
    }
    std::vector<float> X((size_t)M * K), Y((size_t)M * N), ref((size_t)M * N);
    for (size_t i = 0; i < X.size(); ++i) X[i] = i < (size_t)K ? 1.99f : -3.0f;   // every value its block's largest
    const std::vector<float> Xb = fixed16_rows(X, K);
    ASSERT_TRUE(qb::matmul_ref(Xb.data(), M, s.m, ref.data()));
    ASSERT_TRUE(qb::cpu::gemm_weight_only(X.data(), M, s.m, Y.data()).fixed16_acts);
    for (int m = 0; m < M; ++m)
        for (int n = 0; n < N; ++n) {
            const size_t i = (size_t)m * N + n;
            EXPECT_LE(std::fabs((double)Y[i] - ref[i]), fixed16_bound(Xb.data() + (size_t)m * K, s.m, n)) << "m=" << m << " n=" << n;
            EXPECT_LE(std::fabs((double)Y[i] - ref[i]), 1e-6 * std::fabs((double)ref[i])) << "m=" << m << " n=" << n;
        }
}

TEST_F(KernelTest, Fixed16CancellationStaysWithinBound) {
    // Every code at its zero point: the true output is exactly 0, and all the kernel returns is
    // the rounding left over from subtracting (z - 8) s sum(x) from sum x (u - 8) s, the worst
    // case for the correction's cancellation (symmetric: both are 0, so y must be exactly 0).
    // Large activations of one sign maximise it.
    for (Isa lv : fixed16_levels())
    for (bool zero : {false, true}) {
        ASSERT_TRUE(qb::cpu::set_isa_cap(lv));
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
        std::vector<float> Y((size_t)M * N, NAN);
        const std::vector<float> Xb = fixed16_rows(X, K);
        ASSERT_TRUE(qb::cpu::gemm_weight_only(X.data(), M, s.m, Y.data()).fixed16_acts);
        double worst = 0;
        for (int m = 0; m < M; ++m)
            for (int n = 0; n < N; ++n) {
                const double tol = fixed16_bound(Xb.data() + (size_t)m * K, s.m, n);
                ASSERT_LE(std::fabs((double)Y[(size_t)m * N + n]), tol) << "zero=" << zero << " m=" << m << " n=" << n;
                if (!zero) {
                    ASSERT_EQ(Y[(size_t)m * N + n], 0.0f);
                }
                if (tol > 0) worst = std::max(worst, std::fabs((double)Y[(size_t)m * N + n]) / tol);
            }
        std::printf("  zero-point cancellation, %s (zero points %s): worst |y| / bound = %.3g\n", qb::cpu::isa_name(lv),
                    zero ? "stored" : "implicit, y must be 0", worst);
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
            // no AVX-512 path without VNNI
            const Isa want = isa == Isa::avx512 ? Isa::avx2 : isa;
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
    Isa back_removed;
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
    EXPECT_FALSE(qb::cpu::parse_isa("avx512-bf16", &back_removed));   // the level session 7 removed
    EXPECT_FALSE(qb::cpu::parse_isa("sse9", &back_removed));
}

}  // namespace
