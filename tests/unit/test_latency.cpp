// latency.h: roofline of one linear layer, one forward step, TTFT/TPOT, and the W4-vs-FP16 crossover.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <vector>

#include "fixture.h"
#include "latency.h"
#include "memory.h"
#include "sweep.h"

namespace {

using qb::Method;
using qb::Selections;
using qbt::catalog;

Selections fp16_of(Selections s) {
    qb::apply_method_defaults(s, Method::fp16);
    return s;
}

double decode_us(const qb::ModelArch& m, const qb::Hardware& h, Selections s, int batch) {
    s.batch = batch;
    return qb::step_time(catalog(), m, h, s, false).total_us;
}

TEST(Latency, Fp16DecodeNeverBeatsDatasheetBandwidth) {
    // Llama-2-7B FP16 at batch 1 reads all of its ~13.5e9 weight bytes every token; at the H100 SXM's
    // datasheet 3.35e12 B/s that takes at least 13.5e9 / 3.35e12 s = 4.03 ms.
    const Selections s = fp16_of(Selections{});
    ASSERT_TRUE(qb::validate(catalog(), s).empty());
    const qb::Latency l = qb::latency(catalog(), qbt::model("llama-2-7b"), qbt::hw("h100-sxm"), s);
    EXPECT_GE(l.tpot_ms, 13.5e9 / 3.35e12 * 1e3);
    // ... and the roofline (bw efficiency 0.8 plus overheads) is not absurdly far above it either.
    EXPECT_LT(l.tpot_ms, 3 * 13.5e9 / 3.35e12 * 1e3);
    EXPECT_NEAR(l.seq_tokens_per_s, 1000 / l.tpot_ms, 1e-9);
}

TEST(Latency, NoDecodeBeatsWeightBytesOverBandwidthAnywhere) {
    // Every batch-1 decode step streams (at least) the linear weights and the LM head of its shard:
    // weights_gb minus the input embedding table (which is only gathered), divided over the devices.
    int checked = 0;
    for (const char* mid : {"llama-2-7b", "llama-3.1-8b", "qwen2.5-7b", "smollm2-135m", "tinyllama-1.1b"})
        for (const qb::Hardware& h : catalog().hardware) {
            Selections b;
            b.model = mid;
            b.hardware = h.id;
            const qb::ModelArch& m = qbt::model(mid);
            for (const Selections& s : qb::sweep_configs(catalog(), b)) {
                const qb::MemoryBreakdown mem = qb::memory(catalog(), m, h, s);
                const double embed = m.tied_embeddings ? 0 : (double)m.vocab * m.hidden * 2;
                const double bytes = (mem.weights_gb * 1e9 - embed) / s.gpus;
                const double floor_ms = bytes / (h.bandwidth_gbps * 1e9) * 1e3;
                EXPECT_GE(qb::latency(catalog(), m, h, s).tpot_ms, floor_ms)
                    << mid << " on " << h.id << " " << qb::method_name(s.method) << " W" << s.bits;
                ++checked;
            }
        }
    EXPECT_GT(checked, 1000);
}

TEST(Latency, LinearTimeIsMaxOfMemoryAndCompute) {
    const qb::Hardware& h = qbt::hw("h100-sxm");
    for (Method m : {Method::fp16, Method::int8, Method::gptq, Method::w8a8, Method::fp8}) {
        Selections s;
        qb::apply_method_defaults(s, m);
        for (double M : {1.0, 16.0, 17.0, 129.0, 4096.0}) {
            const qb::OpTime o = qb::linear_time(catalog(), h, s, M, 11008, 4096);
            EXPECT_DOUBLE_EQ(o.total_us, std::fmax(o.mem_us, o.mma_us + o.dequant_us)) << qb::method_name(m) << " M=" << M;
            if (m == Method::fp16 || m == Method::w8a8 || m == Method::fp8) EXPECT_EQ(o.dequant_us, 0) << qb::method_name(m);
            else EXPECT_GT(o.dequant_us, 0) << qb::method_name(m);
        }
        // M is padded to the 16-row MMA tile: rows 1..16 cost the same compute.
        EXPECT_EQ(qb::linear_time(catalog(), h, s, 1, 11008, 4096).mma_us, qb::linear_time(catalog(), h, s, 16, 11008, 4096).mma_us);
        EXPECT_LT(qb::linear_time(catalog(), h, s, 16, 11008, 4096).mma_us, qb::linear_time(catalog(), h, s, 17, 11008, 4096).mma_us);
    }
    // FP16 at M = 1 on the H100: memory-bound, (2 N K + 2 K + 2 N) bytes / (3.35e12 B/s x bw eff 0.80).
    const qb::OpTime o = qb::linear_time(catalog(), h, fp16_of(Selections{}), 1, 11008, 4096);
    const double bw16 = catalog().eff(h, qb::Kernel::fp16).bw;
    EXPECT_NEAR(o.mem_us, (2.0 * 11008 * 4096 + 2 * 4096 + 2 * 11008) / (3.35e12 * bw16) * 1e6, 1e-9);
    EXPECT_DOUBLE_EQ(o.total_us, o.mem_us);
}

// Several models on several hardware, each with its own device count.
struct Case { const char* model; const char* hw; int gpus; };
const Case kCases[] = {{"llama-2-7b", "h100-sxm", 1}, {"llama-2-7b", "a100-80gb", 1}, {"llama-3.1-8b", "l40s", 2},
                       {"qwen2.5-7b", "rtx-4090", 1}, {"llama-2-70b", "h100-sxm", 8}, {"mistral-7b", "apple-m3-max", 1},
                       {"tinyllama-1.1b", "epyc-9654-2s", 1}};

TEST(LatencyMonotonic, BiggerBatchNeverLowersDecodeStep) {
    std::vector<int> batches;
    for (int b = 1; b <= 160; ++b) batches.push_back(b);       // every batch around the crossovers
    for (int b = 192; b <= 4096; b = b * 5 / 4) batches.push_back(b);
    batches.push_back(4096);
    for (const Case& k : kCases) {
        Selections base;
        base.model = k.model;
        base.hardware = k.hw;
        base.gpus = k.gpus;
        ASSERT_TRUE(qb::validate(catalog(), base).empty()) << qbt::describe(qb::validate(catalog(), base));
        const qb::ModelArch& m = qbt::model(k.model);
        const qb::Hardware& h = qbt::hw(k.hw);
        const std::vector<Selections> cfgs = qb::sweep_configs(catalog(), base);
        ASSERT_GT(cfgs.size(), 20u);
        for (const Selections& c : cfgs) {
            double prev_step = 0, prev_tpot = 0;
            for (int b : batches) {
                Selections s = c;
                s.batch = b;
                const double step = qb::step_time(catalog(), m, h, s, false).total_us;
                const double tpot = qb::latency(catalog(), m, h, s).tpot_ms;
                ASSERT_GE(step, prev_step) << k.model << " on " << k.hw << " " << qb::method_name(s.method) << " W" << s.bits
                                           << " g" << s.group_size << " batch " << b;
                ASSERT_GE(tpot, prev_tpot) << k.model << " on " << k.hw << " batch " << b;
                prev_step = step;
                prev_tpot = tpot;
            }
        }
    }
}

// Crossover of GPTQ W4 g128 against FP16 on one linear layer, from latency.cpp's linear_time:
//
//   total = max(t_mem, t_mma + t_dequant)
//   FP16:   t_mem = (2 N K + 2 M K + 2 M N) / (BW bw16)          t_mma = 2 Mpad N K / (P16 c16)
//   W4A16:  t_mem = (N K 4.125/8 + 2 M K + 2 M N) / (BW bw4)    t_mma + t_dequant = 2 Mpad N K / (P16 c4)
//           (t_mma runs at c16 and t_dequant tops it up to c4 < c16, so the sum is the c4 rate).
//
// Near the crossover W4 is compute-bound (its weights are a quarter of FP16's, so t_mem is tiny) and
// FP16 is still memory-bound (its compute rate c16 is above c4, so its t_mma is below W4's). Setting
// W4's compute time equal to FP16's memory time and neglecting the activation bytes (2 M (N + K),
// about 4% of 2 N K at M ~ 130) and the tile padding (Mpad ~ M):
//
//   2 M N K / (P16 c4) = 2 N K / (BW bw16)   =>   M* = c4 P16 / (bw16 BW) x (2 bytes per FP16 weight) / 2
//
// H100 SXM (hopper: c4 0.35, bw16 0.80): 0.35 x 989e12 / (0.80 x 3.35e12) = 129.2;
// A100 80GB (ampere: c4 0.65, bw16 0.85): 0.65 x 312e12 / (0.85 x 2.039e12) = 117.0.
// Padding moves the first slower M by less than one 16-row tile.
double analytic_crossover(const qb::Hardware& h) {
    const qb::Eff e4 = catalog().eff(h, qb::Kernel::w4a16), e16 = catalog().eff(h, qb::Kernel::fp16);
    const double fp16_bytes_per_weight = 2;
    return e4.compute * h.peak.fp16 * 1e12 / (e16.bw * h.bandwidth_gbps * 1e9) * fp16_bytes_per_weight / 2;
}

class Crossover : public ::testing::TestWithParam<const char*> {};

TEST_P(Crossover, Llama2_7bGptqW4g128) {
    const qb::ModelArch& m = qbt::model("llama-2-7b");
    const qb::Hardware& h = qbt::hw(GetParam());
    Selections q;   // defaults: gptq W4 g128
    q.hardware = h.id;
    ASSERT_TRUE(qb::validate(catalog(), q).empty());
    const Selections f = fp16_of(q);

    // The efficiency classes this derivation assumes: W4's effective compute below FP16's.
    ASSERT_LT(catalog().eff(h, qb::Kernel::w4a16).compute, catalog().eff(h, qb::Kernel::fp16).compute);

    const int cross = qb::crossover_batch(catalog(), m, h, q);
    ASSERT_GT(cross, 1);
    EXPECT_LT(decode_us(m, h, q, cross - 1), decode_us(m, h, f, cross - 1)) << "faster than FP16 just below the crossover";
    EXPECT_GE(decode_us(m, h, q, cross), decode_us(m, h, f, cross)) << "no faster than FP16 at the crossover";
    Selections qb_ = q, fb = f;
    qb_.batch = fb.batch = cross - 1;
    EXPECT_LT(qb::latency(catalog(), m, h, qb_).tpot_ms, qb::latency(catalog(), m, h, fb).tpot_ms);

    // crossover_batch bisects; it must agree with a linear scan.
    int scan = 0;
    for (int b = 1; b <= 4096 && !scan; ++b)
        if (decode_us(m, h, q, b) >= decode_us(m, h, f, b)) scan = b;
    EXPECT_EQ(cross, scan);

    // One linear layer (gate/up-sized: N = 11008, K = 4096): the first M where W4 is no faster.
    int first = 0;
    for (int M = 1; M <= 4096 && !first; ++M)
        if (qb::linear_time(catalog(), h, q, M, 11008, 4096).total_us >= qb::linear_time(catalog(), h, f, M, 11008, 4096).total_us)
            first = M;
    const double mstar = analytic_crossover(h);
    ASSERT_GT(first, 0);
    EXPECT_LE(std::fabs(first - mstar), 16) << "single layer " << first << " vs analytic " << mstar;
    // The whole model adds only method-independent work (attention, LM head, overheads), so it
    // crosses where its linear layers do.
    EXPECT_LE(std::fabs(cross - first), 0.25 * first) << "model " << cross << " vs one layer " << first;
    EXPECT_LE(std::fabs(cross - mstar), 0.25 * mstar) << "model " << cross << " vs analytic " << mstar;
}

INSTANTIATE_TEST_SUITE_P(Gpus, Crossover, ::testing::Values("h100-sxm", "a100-80gb"));

TEST(Crossover, Fp16NeverCrossesItself) {
    // FP16 against FP16: "no faster" holds at batch 1 already.
    const Selections f = fp16_of(Selections{});
    EXPECT_EQ(qb::crossover_batch(catalog(), qbt::model("llama-2-7b"), qbt::hw("h100-sxm"), f), 1);
}

TEST(Latency, TensorParallelSpeedsUpDecode) {
    // Llama-2-70B FP16 over 8 H100s streams an eighth of the weights per device per token.
    Selections s;
    s.model = "llama-2-70b";
    qb::apply_method_defaults(s, Method::fp16);
    s.gpus = 2;
    const double t2 = qb::latency(catalog(), qbt::model("llama-2-70b"), qbt::hw("h100-sxm"), s).tpot_ms;
    s.gpus = 8;
    const double t8 = qb::latency(catalog(), qbt::model("llama-2-70b"), qbt::hw("h100-sxm"), s).tpot_ms;
    EXPECT_LT(t8, t2);
    EXPECT_GT(t8, t2 / 4) << "4x the devices cannot beat perfect scaling (overheads and all-reduces stay)";
}

TEST(Latency, RequestTimeIsTtftPlusDecodes) {
    Selections s;
    s.batch = 8;
    const qb::Latency l = qb::latency(catalog(), qbt::model("llama-2-7b"), qbt::hw("h100-sxm"), s);
    EXPECT_NEAR(l.request_ms, l.ttft_ms + 255 * l.tpot_ms, 1e-9);
    EXPECT_NEAR(l.tokens_per_s, 8.0 * 256 / (l.request_ms / 1000), 1e-6);
    EXPECT_GT(l.ttft_ms, l.tpot_ms) << "prefilling 8 x 512 tokens costs more than one decode step";
}

}  // namespace
