// sweep.h: every valid configuration of a model on a hardware, with the latency/accuracy Pareto front.
#include <gtest/gtest.h>

#include "fixture.h"
#include "sweep.h"

namespace {

using qb::Method;
using qb::Provenance;
using qb::Selections;
using qbt::catalog;

bool comparable(const qb::SweepPoint& a, const qb::SweepPoint& b) {
    return a.sel.batch == b.sel.batch && a.sel.kv == b.sel.kv;
}
// b dominates a: no slower and no less accurate, and strictly better in one of the two.
bool dominates(const qb::SweepPoint& b, const qb::SweepPoint& a) {
    return b.fits && b.provenance != Provenance::none && comparable(a, b) && b.tpot_ms <= a.tpot_ms &&
           b.delta_pct <= a.delta_pct && (b.tpot_ms < a.tpot_ms || b.delta_pct < a.delta_pct);
}

std::string label(const qb::SweepPoint& p) {
    return std::string(qb::method_name(p.sel.method)) + " W" + std::to_string(p.sel.bits) + " g" +
           std::to_string(p.sel.group_size) + (p.sel.zero_point ? " z" : "") + " batch " + std::to_string(p.sel.batch) +
           " kv " + qb::kv_name(p.sel.kv);
}

struct Case { const char* model; const char* hw; int gpus; };
void PrintTo(const Case& c, std::ostream* os) { *os << c.model << " on " << c.gpus << " x " << c.hw; }
const Case kCases[] = {{"llama-2-7b", "h100-sxm", 1}, {"llama-2-7b", "a100-80gb", 1}, {"llama-3.1-8b", "l4", 1},
                       {"llama-2-70b", "h100-sxm", 2}, {"qwen2.5-7b", "apple-m2-ultra", 1}};

class SweepCase : public ::testing::TestWithParam<Case> {};

TEST_P(SweepCase, ParetoFrontIsSound) {
    const Case k = GetParam();
    Selections base;
    base.model = k.model;
    base.hardware = k.hw;
    base.gpus = k.gpus;
    qb::SweepSpec spec;
    spec.batches = {1, 16, 256};
    spec.kvs = {qb::KvType::fp16, qb::KvType::fp8};
    const std::vector<qb::SweepPoint> pts = qb::sweep(catalog(), base, spec);
    ASSERT_GT(pts.size(), 100u);
    int pareto = 0, dominated_checked = 0;
    for (const qb::SweepPoint& p : pts) {
        EXPECT_TRUE(qb::validate(catalog(), p.sel).empty()) << label(p) << ": " << qbt::describe(qb::validate(catalog(), p.sel));
        EXPECT_EQ(p.sel.model, k.model);
        EXPECT_EQ(p.sel.hardware, k.hw);
        EXPECT_EQ(p.sel.gpus, k.gpus);
        if (p.pareto) {
            ++pareto;
            EXPECT_TRUE(p.fits) << label(p);
            for (const qb::SweepPoint& q : pts) EXPECT_FALSE(dominates(q, p)) << label(p) << " is dominated by " << label(q);
        } else if (p.fits && p.provenance != Provenance::none) {
            bool found = false;
            for (const qb::SweepPoint& q : pts) found |= dominates(q, p);
            EXPECT_TRUE(found) << label(p) << " is off the front but nothing dominates it";
            ++dominated_checked;
        }
    }
    EXPECT_GT(pareto, 0);
    EXPECT_GT(dominated_checked, 0);
    // Every (batch, KV) slice with a fitting point has a front of its own.
    for (int b : spec.batches)
        for (qb::KvType kv : spec.kvs) {
            bool any_fit = false, any_front = false;
            for (const qb::SweepPoint& p : pts)
                if (p.sel.batch == b && p.sel.kv == kv) {
                    any_fit |= p.fits;
                    any_front |= p.pareto;
                }
            EXPECT_EQ(any_front, any_fit) << "batch " << b << " kv " << qb::kv_name(kv);
        }
}

INSTANTIATE_TEST_SUITE_P(Cases, SweepCase, ::testing::ValuesIn(kCases), [](const ::testing::TestParamInfo<Case>& i) {
    std::string n = std::string(i.param.model) + "_" + i.param.hw;
    for (char& c : n)
        if (!isalnum((unsigned char)c)) c = '_';
    return n;
});

TEST(Sweep, NoFp8OnA100) {
    for (const char* hw : {"a100-80gb", "a100-40gb", "apple-m2-ultra", "epyc-9654-2s"}) {
        Selections base;
        base.hardware = hw;
        const std::vector<qb::SweepPoint> pts = qb::sweep(catalog(), base);
        ASSERT_FALSE(pts.empty()) << hw;
        for (const qb::SweepPoint& p : pts) EXPECT_NE(p.sel.method, Method::fp8) << hw;
    }
    // ... while an H100 sweep does include it.
    bool h100_fp8 = false;
    for (const qb::SweepPoint& p : qb::sweep(catalog(), Selections{})) h100_fp8 |= p.sel.method == Method::fp8;
    EXPECT_TRUE(h100_fp8);
}

TEST(Sweep, CoversEveryValidConfigOnce) {
    // On an H100: GPTQ and RTN take 4 widths x 5 groups x 2 zero = 40 configs each; AWQ 2 widths (3, 4)
    // x 5 x 2 = 20; QuIP# 3 widths, per-channel, no zero; fp16, bf16, w8a8 and fp8 exactly one each.
    const std::vector<Selections> cfgs = qb::sweep_configs(catalog(), Selections{});
    int n[(int)Method::count] = {};
    for (const Selections& s : cfgs) {
        ++n[(int)s.method];
        EXPECT_TRUE(qb::validate(catalog(), s).empty());
    }
    EXPECT_EQ(n[(int)Method::gptq], 40);
    EXPECT_EQ(n[(int)Method::rtn], 40);
    EXPECT_EQ(n[(int)Method::awq], 20);
    EXPECT_EQ(n[(int)Method::quip], 3);
    for (Method m : {Method::fp16, Method::bf16, Method::w8a8, Method::fp8}) EXPECT_EQ(n[(int)m], 1) << qb::method_name(m);
    EXPECT_GE(n[(int)Method::int8], 1);
    for (size_t i = 0; i < cfgs.size(); ++i)
        for (size_t j = 0; j < i; ++j) EXPECT_FALSE(cfgs[i] == cfgs[j]) << i << " and " << j;
}

TEST(Sweep, FittingOnlyDropsWhatDoesNotFit) {
    // Llama-2-70B on one 24 GB L4: FP16 (138 GB) cannot fit; 2-bit (~18 GB of weights) can.
    Selections base;
    base.model = "llama-2-70b";
    base.hardware = "l4";
    const std::vector<qb::SweepPoint> all = qb::sweep(catalog(), base);
    qb::SweepSpec spec;
    spec.fitting_only = true;
    const std::vector<qb::SweepPoint> fit = qb::sweep(catalog(), base, spec);
    EXPECT_LT(fit.size(), all.size());
    EXPECT_FALSE(fit.empty());
    for (const qb::SweepPoint& p : fit) EXPECT_TRUE(p.fits);
}

TEST(Sweep, InvalidBaseGivesNothing) {
    Selections base;
    base.model = "nope";
    EXPECT_TRUE(qb::sweep(catalog(), base).empty());
}

}  // namespace
