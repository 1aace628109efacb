// numeric.h: deterministic log2, shortest round-tripping decimal, strict parsers.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <random>

#include "numeric.h"

namespace {

TEST(DetLog2, PowersOfTwoAreExact) {
    // x = 2^k: frexp gives m = 0.5, which is rescaled to m = 1, so z = 0 and the series adds
    // nothing: the result is the integer exponent k, exactly. Includes subnormals (2^-1074).
    for (int k = -1074; k <= 1023; ++k) {
        const double x = std::ldexp(1.0, k);
        ASSERT_EQ(qb::det_log2(x), (double)k) << "2^" << k;
    }
}

TEST(DetLog2, MatchesStdLog2Within1e14Relative) {
    std::mt19937_64 rng(20240611);
    std::uniform_real_distribution<double> expo(-300, 300), near_one(0.5, 2.0);
    int n = 0;
    auto check = [&](double x) {
        const double want = std::log2(x), got = qb::det_log2(x);
        if (want == 0) {
            EXPECT_EQ(got, 0.0) << x;
        } else {
            EXPECT_LE(std::fabs(got - want), 1e-14 * std::fabs(want)) << "x=" << x << " got " << got << " want " << want;
        }
        ++n;
    };
    for (int i = 0; i < 20000; ++i) check(std::pow(10.0, expo(rng)));     // log-uniform over 1e-300..1e300
    for (int i = 0; i < 20000; ++i) check(near_one(rng));                 // the range the series works on
    for (double x : {1.0 + 1e-12, 1.0 - 1e-12, 0.70710678118654752, 0.7071067811865475, 1.4142135623730951, 3.0, 5.0,
                     7.0, 1e-310, std::numeric_limits<double>::max(), std::numeric_limits<double>::denorm_min() * 3})
        check(x);
    // The group sizes and hidden sizes the accuracy rule feeds it.
    for (double x : {32.0, 64.0, 128.0, 256.0, 576.0, 2048.0, 3584.0, 4096.0, 5120.0, 8192.0}) check(x);
    EXPECT_GT(n, 40000);
}

TEST(DetLog2, NonPositiveGivesZero) {
    EXPECT_EQ(qb::det_log2(0.0), 0.0);
    EXPECT_EQ(qb::det_log2(-8.0), 0.0);
    EXPECT_EQ(qb::det_log2(std::nan("")), 0.0);
}

TEST(FmtDouble, RoundTripsRandomDoubles) {
    std::mt19937_64 rng(7);
    int tested = 0;
    for (int i = 0; i < 20000; ++i) {
        const uint64_t bits = rng();
        double x;
        std::memcpy(&x, &bits, sizeof x);
        if (!std::isfinite(x)) continue;
        const std::string s = qb::fmt_double(x);
        ASSERT_EQ(std::strtod(s.c_str(), nullptr), x) << s;
        ++tested;
    }
    // Everyday magnitudes too (random bit patterns are mostly astronomically large or small).
    std::uniform_real_distribution<double> u(0, 1e7);
    for (int i = 0; i < 10000; ++i) {
        const double x = u(rng);
        ASSERT_EQ(std::strtod(qb::fmt_double(x).c_str(), nullptr), x);
    }
    EXPECT_GT(tested, 19000);
}

TEST(FmtDouble, IsShortest) {
    EXPECT_EQ(qb::fmt_double(0.1), "0.1");
    EXPECT_EQ(qb::fmt_double(2.49), "2.49");
    EXPECT_EQ(qb::fmt_double(12345678.9), "12345678.9");
    EXPECT_EQ(qb::fmt_double(10e6), "1e+07");   // 2 significant digits suffice; %g switches to exponent form
    EXPECT_EQ(qb::fmt_double(1e13), "1e+13");
    EXPECT_EQ(qb::fmt_double(0.0), "0");
    // 0.1 + 0.2 is not 0.3: it needs all 17 digits.
    EXPECT_EQ(qb::fmt_double(0.1 + 0.2), "0.30000000000000004");
}

TEST(ParseInt, AcceptsPlainIntegersInRange) {
    long long v = 0;
    EXPECT_TRUE(qb::parse_int("0", 0, 10, &v));
    EXPECT_EQ(v, 0);
    EXPECT_TRUE(qb::parse_int("4096", 1, 4096, &v));
    EXPECT_EQ(v, 4096);
    EXPECT_TRUE(qb::parse_int("-17", -100, 100, &v));
    EXPECT_EQ(v, -17);
    EXPECT_TRUE(qb::parse_int("999999999999999999", 0, 1000000000000000000LL, &v));   // 18 digits
    EXPECT_EQ(v, 999999999999999999LL);
}

TEST(ParseInt, RejectsOverflowAndJunk) {
    long long v = 12345;
    for (const char* s : {"9223372036854775807", "9223372036854775808", "99999999999999999999",
                          "-9223372036854775809", "18446744073709551616", "123456789012345678901234567890"})
        EXPECT_FALSE(qb::parse_int(s, std::numeric_limits<long long>::min(), std::numeric_limits<long long>::max(), &v)) << s;
    for (const char* s : {"", "-", "+5", " 5", "5 ", "5.0", "1e3", "0x10", "abc", "4097"})
        EXPECT_FALSE(qb::parse_int(s, 1, 4096, &v)) << "'" << s << "'";
    EXPECT_FALSE(qb::parse_int("0", 1, 4096, &v));
    EXPECT_EQ(v, 12345) << "a rejected parse must not write the output";
}

TEST(ParseDouble, AcceptsFiniteDecimals) {
    double v = 0;
    EXPECT_TRUE(qb::parse_double("12345678.9", &v));
    EXPECT_EQ(v, 12345678.9);
    EXPECT_TRUE(qb::parse_double("2.49", &v));
    EXPECT_EQ(v, 2.49);
    EXPECT_TRUE(qb::parse_double("1e+13", &v));
    EXPECT_EQ(v, 1e13);
    EXPECT_TRUE(qb::parse_double("-0.5", &v));
    EXPECT_EQ(v, -0.5);
}

TEST(ParseDouble, RejectsNonFiniteHexSpacesAndJunk) {
    double v = 42;
    for (const char* s : {"nan", "NaN", "-nan", "inf", "-inf", "Infinity", "1e999", "-1e999", "0x10", "0x1p3", " 1",
                          "1 ", "", "1,5", "1.5x", "e", "--1"})
        EXPECT_FALSE(qb::parse_double(s, &v)) << "'" << s << "'";
    EXPECT_FALSE(qb::parse_double(std::string(100, '1'), &v)) << "longer than 64 characters";
    EXPECT_EQ(v, 42) << "a rejected parse must not write the output";
}

}  // namespace
