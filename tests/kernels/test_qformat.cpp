// qformat.h: FP16 conversion, packing, byte sizes against shared/memory.h, quantization
// round trips, the reference matmul and the W8A8 activation rule.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "kernel_fixture.h"
#include "memory.h"
#include "qformat.h"

float qformat_hd_roundtrip(float v);   // qformat_hd_compile.cpp

namespace {

using qbt::QStore;

TEST(Format, HeaderCompilesInTheCudaConfiguration) { EXPECT_EQ(qformat_hd_roundtrip(1.5f), 1.5f); }

uint16_t half_bits(_Float16 h) { uint16_t u; std::memcpy(&u, &h, 2); return u; }
_Float16 half_of(uint16_t u) { _Float16 h; std::memcpy(&h, &u, 2); return h; }

// Independent oracle: GCC's _Float16 conversions (libgcc / hardware), round-to-nearest-even.
TEST(Fp16, EveryHalfConvertsExactlyAndBack) {
    for (uint32_t u = 0; u < 65536; ++u) {
        const uint16_t h = (uint16_t)u;
        const float f = qb::fp16_to_f32(h);
        const bool nan = (h & 0x7c00) == 0x7c00 && (h & 0x3ff);
        if (nan) {
            EXPECT_TRUE(std::isnan(f)) << std::hex << h;
            EXPECT_TRUE(std::isnan(qb::fp16_to_f32(qb::f32_to_fp16(f)))) << std::hex << h;
            continue;
        }
        ASSERT_EQ(qb::f32_bits(f), qb::f32_bits((float)half_of(h))) << std::hex << h;
        ASSERT_EQ(qb::f32_to_fp16(f), h) << std::hex << h;
    }
}

TEST(Fp16, RoundingMatchesFloat16CastOnRandomAndEdgeFloats) {
    std::vector<float> cases = {0.0f, -0.0f, 65504.0f, 65519.99f, 65520.0f, 65536.0f, 1e30f, -1e30f,
                                std::ldexp(1.0f, -24), std::ldexp(1.0f, -25), std::ldexp(1.0f, -25) * 1.0000001f,
                                std::ldexp(1.5f, -25), std::ldexp(1.0f, -14), std::ldexp(1.0f, -14) * 0.99999f,
                                std::ldexp(1.0f, -26), 1.0f + std::ldexp(1.0f, -11), 1.0f + 3 * std::ldexp(1.0f, -11),
                                2049.0f, 2051.0f, INFINITY, -INFINITY};
    qbt::Rng r(7);
    for (int i = 0; i < 400000; ++i) cases.push_back(qb::f32_from_bits((uint32_t)r.next()));
    // Dense sweep of the subnormal / normal boundary region.
    for (uint32_t b = 0x33000000u; b < 0x39000000u; b += 0x1003u) cases.push_back(qb::f32_from_bits(b));
    for (float f : cases) {
        if (std::isnan(f)) {
            EXPECT_EQ(qb::f32_to_fp16(f) & 0x7c00, 0x7c00);
            continue;
        }
        ASSERT_EQ(qb::f32_to_fp16(f), half_bits((_Float16)f)) << f << " bits " << std::hex << qb::f32_bits(f);
    }
}

TEST(Fp16, ScaleRoundsUpToTheNextHalf) {
    qbt::Rng r(11);
    for (int i = 0; i < 100000; ++i) {
        const float f = std::ldexp(std::fabs(r.uniform()) + 1e-3f, (int)(r.next() % 40) - 30);
        const uint16_t h = qb::fp16_scale_up(f);
        const float up = qb::fp16_to_f32(h);
        ASSERT_GE(up, f);
        if (h > 1 && up < 65504) {
            ASSERT_LT(qb::fp16_to_f32((uint16_t)(h - 1)), f) << f;
        }
    }
    EXPECT_EQ(qb::fp16_scale_up(1e9f), 0x7bffu);   // saturates at 65504, never infinity
    EXPECT_EQ(qb::fp16_scale_up(1e-30f), 1u);       // smallest subnormal, never 0
}

TEST(Rounding, HalfToEven) {
    const float in[] = {0.5f, 1.5f, 2.5f, -0.5f, -1.5f, -2.5f, 0.49999997f, 7.5f, -7.5f, 3.0f, 1e6f + 0.5f};
    const float want[] = {0, 2, 2, 0, -2, -2, 0, 8, -8, 3, 1e6f};
    for (size_t i = 0; i < sizeof in / sizeof *in; ++i) EXPECT_EQ(qb::round_half_even(in[i]), want[i]) << in[i];
}

TEST(Packing, DocumentedByteLayouts) {
    uint8_t b[8] = {};
    // INT4: low nibble = even k.
    qb::set_packed(b, 4, 0, 0x1);
    qb::set_packed(b, 4, 1, 0x2);
    EXPECT_EQ(b[0], 0x21);
    // INT2: value i of byte at bits 2i.
    std::memset(b, 0, sizeof b);
    for (int i = 0; i < 4; ++i) qb::set_packed(b, 2, i, (uint32_t)(i + 1) & 3);
    EXPECT_EQ(b[0], 0x39);   // 1 | 2 << 2 | 3 << 4 | 0 << 6
    // INT3: 8 values in a little-endian 24-bit word, value i at bits 3i.
    std::memset(b, 0, sizeof b);
    uint32_t word = 0;
    for (uint32_t i = 0; i < 8; ++i) {
        qb::set_packed(b, 3, i, i);
        word |= i << (3 * i);
    }
    EXPECT_EQ(b[0], word & 0xff);
    EXPECT_EQ(b[1], (word >> 8) & 0xff);
    EXPECT_EQ(b[2], (word >> 16) & 0xff);
    EXPECT_EQ(b[3], 0);
}

TEST(Packing, RoundTripsEveryWidthExactly) {
    for (int bits : {2, 3, 4, 8}) {
        qbt::Rng r((uint64_t)bits);
        const size_t n = 1001;
        std::vector<uint8_t> buf(qb::packed_bytes(bits, n), 0);
        std::vector<uint32_t> v(n);
        for (size_t i = 0; i < n; ++i) {
            v[i] = (uint32_t)r.next() & ((1u << bits) - 1);
            qb::set_packed(buf.data(), bits, i, v[i]);
        }
        // Overwrite a few in the middle: neighbours must survive.
        for (size_t i = 3; i < n; i += 97) {
            v[i] = (v[i] + 1) & ((1u << bits) - 1);
            qb::set_packed(buf.data(), bits, i, v[i]);
        }
        for (size_t i = 0; i < n; ++i) ASSERT_EQ(qb::get_packed(buf.data(), bits, i), v[i]) << bits << " bits, value " << i;
    }
}

TEST(Format, ChecksRejectImpossibleLayouts) {
    qb::QuantizedMatrix w;
    w.rows = 4; w.cols = 256; w.bits = 4; w.group = 128;
    EXPECT_EQ(qb::check_format(w), qb::FormatError::ok);
    w.bits = 5; EXPECT_EQ(qb::check_format(w), qb::FormatError::bad_bits);
    w.bits = 4; w.group = 48; EXPECT_EQ(qb::check_format(w), qb::FormatError::bad_group);    // not a multiple of 32
    w.group = 96; EXPECT_EQ(qb::check_format(w), qb::FormatError::bad_group);                // does not divide K
    w.group = 256; w.cols = 100; w.group = 100; EXPECT_EQ(qb::check_format(w), qb::FormatError::ok);  // per-channel, any K
    w.bits = 8; w.group = 100; w.has_zero = true; EXPECT_EQ(qb::check_format(w), qb::FormatError::int8_has_no_zero);
    w.has_zero = false; w.cols = 256; w.group = 128; EXPECT_EQ(qb::check_format(w), qb::FormatError::int8_is_per_channel);
    w.bits = 4; w.scale_type = qb::ScaleType::f32; EXPECT_EQ(qb::check_format(w), qb::FormatError::f32_scale_needs_int8);
    w.scale_type = qb::ScaleType::f16; w.rows = 0; EXPECT_EQ(qb::check_format(w), qb::FormatError::bad_shape);
}

// The format's byte count is the memory model's: bits_per_weight(...) x N x K / 8.
TEST(Format, ByteSizesEqualTheMemoryModel) {
    const int shapes[][2] = {{4096, 4096}, {11008, 4096}, {4096, 11008}, {12288, 4096}, {8, 512}};
    int checked = 0;
    for (const auto& sh : shapes)
        for (int bits : {2, 3, 4, 8})
            for (int g : {32, 64, 128, 256, 0})
                for (bool z : {false, true})
                    for (bool f32 : {false, true}) {
                        qb::QuantizedMatrix w;
                        w.rows = sh[0]; w.cols = sh[1]; w.bits = bits; w.group = g ? g : sh[1]; w.has_zero = z;
                        w.scale_type = f32 ? qb::ScaleType::f32 : qb::ScaleType::f16;
                        if (qb::check_format(w) != qb::FormatError::ok) continue;
                        const double model = qb::bits_per_weight(bits, g, sh[1], z, -1, f32 ? 32 : 16) * sh[0] * sh[1] / 8;
                        EXPECT_NEAR((double)qb::weight_bytes(w), model, model * 1e-12)
                            << sh[0] << "x" << sh[1] << " b" << bits << " g" << g << " z" << z;
                        const qb::StoragePlan p = qb::plan_storage(w);
                        EXPECT_GE(p.total, qb::weight_bytes(w));
                        EXPECT_EQ(p.scale_offset % 64, 0u);
                        EXPECT_EQ(p.zero_offset % 64, 0u);
                        ++checked;
                    }
    EXPECT_EQ(checked, 5 * (3 * 5 * 2 + 2));   // every sub-byte combination plus INT8 with FP16 / FP32 scales
    // Where the model counts fractions of a byte the format rounds up to whole bytes: an odd
    // number of per-channel INT4 zeros, or a per-channel INT3 row of K not a multiple of 8.
    qb::QuantizedMatrix w;
    w.rows = 3; w.cols = 100; w.bits = 3; w.group = 100; w.has_zero = true;
    EXPECT_EQ(qb::row_bytes(w), 38u);        // ceil(300 / 8)
    EXPECT_EQ(qb::zero_bytes(w), 2u);        // ceil(9 / 8)
}

void expect_round_trip(int N, int K, int bits, int group, bool zero, qb::ScaleType st = qb::ScaleType::f16) {
    SCOPED_TRACE(testing::Message() << N << "x" << K << " b" << bits << " g" << group << " z" << zero);
    const std::vector<float> W = qbt::random_matrix(N, K, 1000 + bits * 10 + group + zero, 0.05f);
    QStore s;
    ASSERT_TRUE(qbt::make_quantized(s, W.data(), N, K, bits, group, zero, st));
    std::vector<float> D((size_t)N * K);
    ASSERT_TRUE(qb::dequantize_ref(s.m, D.data()));
    const int G = s.m.group;
    bool used_lo = false, used_hi = false;
    for (int n = 0; n < N; ++n)
        for (int k = 0; k < K; ++k) {
            const float sc = qb::scale_at(s.m, n, k / G);
            const float w = W[(size_t)n * K + k], d = D[(size_t)n * K + k];
            ASSERT_GT(sc, 0);
            // Half a step, plus float rounding of w / s and of the dequantized product.
            ASSERT_LE(std::fabs(w - d), sc * 0.5f * (1 + 1e-6f) + std::fabs(w) * 1e-6f) << n << "," << k;
            const int lvl = qb::level_at(s.m, n, k);
            if (bits == 8) {
                ASSERT_TRUE(lvl >= -127 && lvl <= 127);
            } else if (!zero) {
                ASSERT_TRUE(lvl >= -(1 << (bits - 1)) && lvl <= (1 << (bits - 1)) - 1);
                used_lo |= lvl <= -((1 << (bits - 1)) - 1);
                used_hi |= lvl == (1 << (bits - 1)) - 1;
            } else {
                const int z = qb::zero_at(s.m, n, k / G);
                ASSERT_TRUE(z >= 0 && z <= qb::code_max(bits));
                ASSERT_TRUE(lvl + z >= 0 && lvl + z <= qb::code_max(bits));
            }
        }
    // Symmetric sub-byte reaches both ends of the range (-2^(b-1) itself only when a value sits
    // within float rounding of -absmax, since the FP16 scale is rounded up).
    if (bits != 8 && !zero) {
        EXPECT_TRUE(used_lo);
        EXPECT_TRUE(used_hi);
    }
}

TEST(Quantize, RoundTripWithinHalfAStepForEveryFormat) {
    for (int bits : {2, 3, 4})
        for (int g : {32, 64, 128, 256, 0})
            for (bool z : {false, true}) expect_round_trip(9, 512, bits, g, z);
    expect_round_trip(9, 100, 3, 0, true);   // per-channel, K not a multiple of 8 or 32
    expect_round_trip(9, 100, 4, 0, false);
    expect_round_trip(7, 300, 8, 0, false);
    expect_round_trip(7, 300, 8, 0, false, qb::ScaleType::f32);
}

TEST(Quantize, AllZeroGroupsAndConstantGroups) {
    std::vector<float> W(2 * 64, 0.0f);
    for (int k = 32; k < 64; ++k) W[k] = 0.25f;   // row 0: zeros, then a constant positive group
    for (int k = 64; k < 128; ++k) W[k] = -3.0f;  // row 1: constant negative
    for (bool z : {false, true}) {
        QStore s;
        ASSERT_TRUE(qbt::make_quantized(s, W.data(), 2, 64, 4, 32, z));
        std::vector<float> D(W.size());
        qb::dequantize_ref(s.m, D.data());
        for (size_t i = 0; i < W.size(); ++i) EXPECT_NEAR(D[i], W[i], qb::scale_at(s.m, (int)(i / 64), (int)(i % 64) / 32) / 2) << i;
        EXPECT_EQ(D[0], 0.0f);   // zero stays exactly zero in both modes
    }
}

TEST(Reference, MatmulMatchesDequantizedDoubleProduct) {
    const int M = 5, N = 11, K = 256;
    const std::vector<float> W = qbt::random_matrix(N, K, 3), X = qbt::random_matrix(M, K, 4);
    QStore s;
    ASSERT_TRUE(qbt::make_quantized(s, W.data(), N, K, 4, 64, true));
    std::vector<float> D((size_t)N * K), Y((size_t)M * N, -1), Yf((size_t)M * N, -1);
    qb::dequantize_ref(s.m, D.data());
    ASSERT_TRUE(qb::matmul_ref(X.data(), M, s.m, Y.data()));
    qb::matmul_f32_ref(X.data(), M, D.data(), N, K, Yf.data());
    for (int m = 0; m < M; ++m)
        for (int n = 0; n < N; ++n) {
            double acc = 0;
            for (int k = 0; k < K; ++k) acc += (double)X[(size_t)m * K + k] * D[(size_t)n * K + k];
            EXPECT_EQ(Y[(size_t)m * N + n], (float)acc);
            EXPECT_EQ(Yf[(size_t)m * N + n], (float)acc);
        }
    // A column range writes only those columns.
    std::vector<float> Yr((size_t)M * N, -7);
    qb::matmul_ref(X.data(), M, s.m, Yr.data(), 3, 5);
    for (int m = 0; m < M; ++m)
        for (int n = 0; n < N; ++n) EXPECT_EQ(Yr[(size_t)m * N + n], n >= 3 && n < 5 ? Y[(size_t)m * N + n] : -7);
}

TEST(Reference, ActivationQuantizationRule) {
    const int K = 77;
    std::vector<float> x = qbt::random_matrix(1, K, 5, 3.0f);
    std::vector<int8_t> q(K);
    float s = 0;
    qb::quantize_act_ref(x.data(), K, q.data(), &s);
    float amax = 0;
    for (float v : x) amax = std::max(amax, std::fabs(v));
    EXPECT_EQ(s, amax / 127.0f);
    int qmax = 0;
    for (int k = 0; k < K; ++k) {
        EXPECT_LE(std::abs((int)q[k]), 127);
        qmax = std::max(qmax, std::abs((int)q[k]));
        EXPECT_LE(std::fabs(x[k] - q[k] * s), s * 0.5f * (1 + 1e-5f));
    }
    EXPECT_EQ(qmax, 127);
    std::vector<float> z(K, 0.0f);
    qb::quantize_act_ref(z.data(), K, q.data(), &s);
    EXPECT_EQ(s, 0.0f);
    for (int8_t v : q) EXPECT_EQ(v, 0);
}

TEST(Reference, W8A8IsIntegerDotTimesScales) {
    const int M = 3, N = 5, K = 70;
    const std::vector<float> W = qbt::random_matrix(N, K, 8), X = qbt::random_matrix(M, K, 9);
    QStore s;
    ASSERT_TRUE(qbt::make_quantized(s, W.data(), N, K, 8, 0, false));
    std::vector<float> Y((size_t)M * N);
    ASSERT_TRUE(qb::matmul_w8a8_ref(X.data(), M, s.m, Y.data()));
    for (int m = 0; m < M; ++m) {
        std::vector<int8_t> q(K);
        float sx;
        qb::quantize_act_ref(&X[(size_t)m * K], K, q.data(), &sx);
        for (int n = 0; n < N; ++n) {
            int acc = 0;
            for (int k = 0; k < K; ++k) acc += q[k] * qb::level_at(s.m, n, k);
            EXPECT_EQ(Y[(size_t)m * N + n], ((float)acc * sx) * qb::scale_at(s.m, n, 0));
        }
    }
    QStore s4;
    ASSERT_TRUE(qbt::make_quantized(s4, W.data(), N, 64, 4, 32, false));
    EXPECT_FALSE(qb::matmul_w8a8_ref(X.data(), M, s4.m, Y.data()));   // W8A8 needs INT8 weights
}

}  // namespace
