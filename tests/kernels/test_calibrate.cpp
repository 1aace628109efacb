// shared/calibrate.h: recovering known efficiencies from synthetic measurements generated
// with the model itself (within 1%), the error before/after, unconstrained parameters, and
// devices synthesised from a results environment.
#include <gtest/gtest.h>

#include <cmath>

#include "calibrate.h"
#include "data_json.h"
#include "kernel_fixture.h"
#include "results_fixture.h"

namespace {

const qb::Catalog& catalog() {
    static const qb::Catalog c = [] {
        qb::Catalog cat;
        std::vector<qb::DataError> e;
        if (!qb::load_catalog(qb::embedded_data(), &cat, &e)) std::abort();
        return cat;
    }();
    return c;
}

// A catalog in which hardware `id` has the given efficiencies for the given kernels.
qb::Catalog with_truth(const std::string& id, const std::vector<std::pair<qb::Kernel, qb::Eff>>& truth) {
    qb::Catalog c = catalog();
    for (const auto& [k, e] : truth) c.eff_overrides.push_back({id, "truth", k, e});
    qb::index_catalog(c);
    return c;
}

// Measurements of every kernel at batches 1..512 on three shapes, timed by the model.
std::vector<qb::Measurement> synthetic(const qb::Catalog& truth, const qb::Hardware& h) {
    std::vector<qb::Measurement> v;
    struct K { const char* kernel; int bits, group; bool zero; };
    const K ks[] = {{"fp32", 32, 0, false}, {"fp16", 16, 0, false}, {"w8a16", 8, 0, false}, {"w4a16", 4, 128, false},
                    {"w4a16", 3, 64, true}, {"w8a8", 8, 0, false}};
    const int shapes[][2] = {{11008, 4096}, {4096, 11008}, {4096, 4096}};
    for (const K& k : ks)
        for (const auto& s : shapes)
            for (int M : {1, 2, 4, 8, 16, 32, 64, 128, 256, 512}) {
                qb::Measurement m;
                m.kernel = k.kernel;
                m.bits = k.bits;
                m.group_size = k.group;
                m.zero_point = k.zero;
                m.m = M;
                m.n = s[0];
                m.k = s[1];
                m.correct = true;
                if (!qb::predict_measurement_us(truth, h, m, &m.median_us)) std::abort();
                v.push_back(m);
            }
    return v;
}

void expect_recovered(const qb::Calibration& cal, const std::vector<std::pair<qb::Kernel, qb::Eff>>& truth) {
    for (const auto& [k, e] : truth) {
        const qb::KernelFit* f = nullptr;
        for (const qb::KernelFit& x : cal.fits)
            if (x.kernel == k) f = &x;
        ASSERT_NE(f, nullptr) << qb::kernel_name(k);
        EXPECT_NEAR(f->after.bw, e.bw, 0.01 * e.bw) << qb::kernel_name(k);
        EXPECT_NEAR(f->after.compute, e.compute, 0.01 * e.compute) << qb::kernel_name(k);
        EXPECT_LT(f->mape_after, 0.1) << qb::kernel_name(k);
        EXPECT_TRUE(f->bw_fitted && f->compute_fitted);
    }
}

TEST(Calibrate, RecoversKnownEfficienciesOnACatalogCpu) {
    const std::vector<std::pair<qb::Kernel, qb::Eff>> truth = {{qb::Kernel::fp16, {0.62, 0.047}},
                                                               {qb::Kernel::w8a16, {0.58, 0.031}},
                                                               {qb::Kernel::w4a16, {0.51, 0.022}},
                                                               {qb::Kernel::w8a8, {0.55, 0.013}}};
    const qb::Catalog t = with_truth("xeon-8480-2s", truth);
    const qb::Hardware& h = *catalog().hw("xeon-8480-2s");
    const std::vector<qb::Measurement> pts = synthetic(t, *t.hw("xeon-8480-2s"));
    const qb::Calibration cal = qb::calibrate(catalog(), h, pts);
    EXPECT_EQ(cal.points, (int)pts.size());   // fp32 and fp16 points both calibrate the fp16 class
    expect_recovered(cal, truth);
    EXPECT_GT(cal.mape_before, 10);   // the class defaults are far from this "machine"
    EXPECT_LT(cal.mape_after, 0.1);
}

TEST(Calibrate, RecoversOnAGpuWithTileAndDequantCoupling) {
    // GPU: M padded to 16, weight-only compute coupled to the fp16 class (latency.h).
    const std::vector<std::pair<qb::Kernel, qb::Eff>> truth = {{qb::Kernel::fp16, {0.83, 0.61}},
                                                               {qb::Kernel::w8a16, {0.71, 0.42}},
                                                               {qb::Kernel::w4a16, {0.66, 0.28}},
                                                               {qb::Kernel::w8a8, {0.77, 0.55}}};
    const qb::Catalog t = with_truth("h100-sxm", truth);
    const std::vector<qb::Measurement> pts = synthetic(t, *t.hw("h100-sxm"));
    expect_recovered(qb::calibrate(catalog(), *catalog().hw("h100-sxm"), pts), truth);
}

TEST(Calibrate, RecoversOnASynthesisedCpu) {
    qb::Results r = qbt::sample_results();
    qb::Hardware h;
    ASSERT_TRUE(qb::synthesize_hardware(catalog(), r.env, 12.5, &h));
    EXPECT_EQ(h.arch, "x86-server");
    EXPECT_EQ(h.bandwidth_gbps, 12.5);
    EXPECT_NEAR(h.peak.fp16, 2 * 2.0 * 64 / 1000, 1e-12);   // 2 threads x 2 GHz x 64 FLOP/cycle
    EXPECT_NEAR(h.peak.int8, 4 * h.peak.fp16, 1e-12);          // VNNI
    EXPECT_EQ(h.id, "cpu-test-cpu-2-00ghz-2t");
    const std::vector<std::pair<qb::Kernel, qb::Eff>> truth = {{qb::Kernel::fp16, {0.7, 0.6}},
                                                               {qb::Kernel::w8a16, {0.65, 0.3}},
                                                               {qb::Kernel::w4a16, {0.6, 0.2}},
                                                               {qb::Kernel::w8a8, {0.66, 0.4}}};
    // The synthesised device is not in the catalog: build the truth on a copy of it.
    qb::Catalog t = catalog();
    qb::Hardware ht = h;
    for (const auto& [k, e] : truth) {
        ht.eff_override[(int)k] = (int)t.eff_overrides.size();
        t.eff_overrides.push_back({h.id, "truth", k, e});
    }
    expect_recovered(qb::calibrate(catalog(), h, synthetic(t, ht)), truth);
}

TEST(Calibrate, ParametersTheDataCannotSeeKeepTheCatalogValue) {
    // Only M = 1: every point is memory-bound, so compute is not identifiable.
    const qb::Hardware& h = *catalog().hw("xeon-8480-2s");
    const qb::Catalog t = with_truth("xeon-8480-2s", {{qb::Kernel::w4a16, {0.5, 0.02}}});
    std::vector<qb::Measurement> pts;
    for (const qb::Measurement& m : synthetic(t, *t.hw("xeon-8480-2s")))
        if (m.m == 1 && m.kernel == std::string("w4a16") && m.bits == 4) pts.push_back(m);
    const qb::Calibration cal = qb::calibrate(catalog(), h, pts);
    ASSERT_EQ(cal.fits.size(), 1u);
    EXPECT_NEAR(cal.fits[0].after.bw, 0.5, 0.005);
    EXPECT_TRUE(cal.fits[0].bw_fitted);
    EXPECT_FALSE(cal.fits[0].compute_fitted);
    EXPECT_EQ(cal.fits[0].after.compute, catalog().eff(h, qb::Kernel::w4a16).compute);
}

TEST(Calibrate, NoisyMeasurementsStillImprove) {
    const qb::Hardware& h = *catalog().hw("xeon-8480-2s");
    const qb::Catalog t = with_truth("xeon-8480-2s", {{qb::Kernel::fp16, {0.6, 0.05}}, {qb::Kernel::w4a16, {0.5, 0.03}}});
    std::vector<qb::Measurement> pts = synthetic(t, *t.hw("xeon-8480-2s"));
    qbt::Rng rng(5);
    for (qb::Measurement& m : pts) m.median_us *= 1 + 0.05 * rng.uniform();   // +-5% noise
    const qb::Calibration cal = qb::calibrate(catalog(), h, pts);
    EXPECT_LT(cal.mape_after, cal.mape_before);
    EXPECT_LT(cal.mape_after, 4);
    for (const qb::KernelFit& f : cal.fits) {
        EXPECT_GE(f.after.bw, 0.01);
        EXPECT_LE(f.after.bw, 1);
        EXPECT_GE(f.after.compute, 0.01);
        EXPECT_LE(f.after.compute, 1);
    }
}

}  // namespace
