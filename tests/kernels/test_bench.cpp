// native/bench: the runner on tiny shapes (every method, correctness flags, stats order,
// byte counts), the bandwidth probe, and the crossover summary.
#include <gtest/gtest.h>

#include <algorithm>

#include "cpu_kernels.h"
#include "probe.h"
#include "results_fixture.h"
#include "runner.h"

namespace {

TEST(Bench, RunnerMeasuresAndChecksEveryMethod) {
    qb::native::BenchSpec s;
    s.shapes = {{"small", 67, 256}, {"odd-k", 9, 100}};
    s.batches = {1, 5};
    s.configs = {{"fp32", 32, 0, false}, {"w8a16", 8, 0, false}, {"w4a16", 4, 128, false}, {"w4a16", 3, 0, true}, {"w8a8", 8, 0, false}};
    s.warmup = 0;
    s.reps = 2;
    s.probe = false;
    int calls = 0, last_done = -1;
    const qb::native::BenchReport r = qb::native::run_bench(s, [&](int done, int total, const std::string&) {
        ++calls;
        EXPECT_LE(done, total);
        EXPECT_GE(done, last_done);
        last_done = done;
    });
    EXPECT_GT(calls, 0);
    // 2 shapes x 2 batches x 5 configs, minus g128 on K = 100 (does not divide): 2 x 1.
    EXPECT_EQ(r.results.measurements.size(), 18u);
    EXPECT_EQ(r.warnings.size() - (r.results.env.load_avg > 0.5 ? 1 : 0), 1u);
    for (const qb::Measurement& m : r.results.measurements) {
        EXPECT_TRUE(m.correct) << m.shape << " " << m.kernel << " M=" << m.m << " err " << m.max_rel_err;
        EXPECT_LE(m.p10_us, m.median_us);
        EXPECT_LE(m.median_us, m.p90_us);
        EXPECT_EQ(m.reps, 2);
        EXPECT_DOUBLE_EQ(m.flops, 2.0 * m.m * m.n * m.k);
        EXPECT_GT(m.bytes, 0);
        if (m.kernel == "fp32") {
            EXPECT_DOUBLE_EQ(m.bytes, 4.0 * m.n * m.k + 4.0 * m.m * (m.n + m.k));
        }
        if (m.kernel == "w8a8") {
            EXPECT_EQ(m.max_rel_err, 0);
        }
    }
    EXPECT_TRUE(qb::valid_run_id(r.results.run_id));
    // The run parses back under the schema.
    qb::Results back;
    std::vector<qb::DataError> e;
    EXPECT_TRUE(qb::parse_results(qb::results_json(r.results), "run", &back, &e)) << (e.empty() ? "" : e.front().str());
}

TEST(Bench, ProbeCountsBytesAndPicksTheBest) {
    qb::native::ProbeSpec p;
    p.reps = 2;
    p.array_bytes = 8u << 20;
    const qb::native::ProbeResult r = qb::native::run_probe(p);
    EXPECT_GT(r.copy_gbps, 0);
    EXPECT_GT(r.triad_gbps, 0);
    EXPECT_GT(r.read_gbps, 0);
    EXPECT_EQ(r.best_gbps, std::max({r.copy_gbps, r.triad_gbps, r.read_gbps}));
    EXPECT_NEAR(r.array_mb, 8.388608, 1e-6);
    EXPECT_GE(qb::native::default_probe_array_bytes(), 64u << 20);
}

TEST(Bench, CrossoverIsWhereTheSpeedupReachesOne) {
    qb::Results r;
    auto add = [&](const char* k, int bits, int M, double us) {
        qb::Measurement m;
        m.kernel = k;
        m.bits = bits;
        m.group_size = bits == 4 ? 128 : 0;
        m.m = M;
        m.shape = "s";
        m.median_us = us;
        m.impl = "avx512";
        r.measurements.push_back(m);
    };
    for (int M : {1, 16, 64}) add("fp32", 32, M, 100.0 * M);
    add("w4a16", 4, 1, 20);     // 5x
    add("w4a16", 4, 16, 800);   // 2x
    add("w4a16", 4, 64, 9600);  // 0.667x
    add("w8a16", 8, 1, 50);
    add("w8a16", 8, 16, 1000);
    add("w8a16", 8, 64, 3200);  // faster everywhere
    const std::vector<qb::native::Crossover> c = qb::native::crossovers(r);
    ASSERT_EQ(c.size(), 2u);
    EXPECT_EQ(c[0].config, "w4a16 g128");
    EXPECT_EQ(c[0].faster_until, 16);
    EXPECT_EQ(c[0].slower_from, 64);
    EXPECT_NEAR(c[0].interpolated, 16 + (2.0 - 1) / (2.0 - 2.0 / 3) * 48, 1e-9);
    EXPECT_EQ(c[1].config, "w8a16");
    EXPECT_EQ(c[1].slower_from, 0);
    EXPECT_EQ(c[1].faster_until, 64);

    // bench --compare-isa: the same configuration twice per M is two series, each named by the
    // implementation of its smallest M (the first changes kernel with M, as INT4 does at
    // avx512-bf16), and a normal run whose kernel changes with M stays one series.
    r.measurements.erase(std::remove_if(r.measurements.begin(), r.measurements.end(),
                                        [](const qb::Measurement& m) { return m.kernel == "w8a16"; }),
                         r.measurements.end());
    r.measurements[3].impl = "avx512-bf16";   // w4a16 at M = 1
    EXPECT_EQ(qb::native::crossovers(r).size(), 1u);
    add("w4a16", 4, 1, 25);
    add("w4a16", 4, 16, 50);
    add("w4a16", 4, 64, 100);   // the capped series: faster everywhere
    const std::vector<qb::native::Crossover> d = qb::native::crossovers(r);
    ASSERT_EQ(d.size(), 2u);
    EXPECT_EQ(d[0].config, "w4a16 g128 (avx512-bf16)");
    EXPECT_EQ(d[0].slower_from, 64);
    EXPECT_EQ(d[1].config, "w4a16 g128 (avx512)");
    EXPECT_EQ(d[1].slower_from, 0);
}

TEST(Bench, ModelShapesComeFromTheMemoryModel) {
    qb::ModelArch m;
    m.id = "t";
    m.hidden = 4096;
    m.intermediate = 11008;
    m.heads = m.kv_heads = 32;
    m.head_dim = 128;
    const auto s = qb::native::model_shapes(m);
    ASSERT_EQ(s.size(), 4u);
    EXPECT_EQ(s[0].n, 3 * 4096);
    EXPECT_EQ(s[2].n, 2 * 11008);
    EXPECT_EQ(s[3].k, 11008);
    EXPECT_EQ(qb::native::default_shapes().size(), 3u);
}

}  // namespace
