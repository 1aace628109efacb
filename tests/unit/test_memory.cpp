// memory.h / catalog.h: stored bits per weight, weight / KV / activation memory, parameter counts.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <tuple>

#include "fixture.h"
#include "memory.h"
#include "sweep.h"

namespace {

using qb::Method;
using qb::Selections;
using qbt::catalog;

TEST(BitsPerWeight, HandChecked) {
    // W4 g128, one FP16 scale per 128 weights: 4 + 16/128 = 4.125.
    EXPECT_DOUBLE_EQ(qb::bits_per_weight(4, 128, 4096, false), 4.125);
    // + an FP16 zero per group: 4 + (16 + 16)/128 = 4.25.
    EXPECT_DOUBLE_EQ(qb::bits_per_weight(4, 128, 4096, true, 16), 4.25);
    // + a zero packed at the weight width (GPTQ/AWQ checkpoints): 4 + (16 + 4)/128 = 4.15625.
    EXPECT_DOUBLE_EQ(qb::bits_per_weight(4, 128, 4096, true), 4.15625);
    // Per-channel (group 0): one FP16 scale per output row of K = 4096 inputs: 4 + 16/4096.
    EXPECT_DOUBLE_EQ(qb::bits_per_weight(4, 0, 4096, false), 4 + 16.0 / 4096);
    // W3 g64 with a packed 3-bit zero: 3 + (16 + 3)/64.
    EXPECT_DOUBLE_EQ(qb::bits_per_weight(3, 64, 4096, true), 3 + 19.0 / 64);
}

TEST(BitsPerWeight, LinearLayersOfEachMethod) {
    Selections s;
    // FP16 / BF16: 16 bits, no scales.
    qb::apply_method_defaults(s, Method::fp16);
    EXPECT_EQ(qb::linear_bits_per_weight(s, 4096), 16);
    // INT8 / W8A8 / FP8: 8 bits + a per-channel FP16 scale: 8 + 16/4096.
    for (Method m : {Method::int8, Method::w8a8, Method::fp8}) {
        qb::apply_method_defaults(s, m);
        EXPECT_DOUBLE_EQ(qb::linear_bits_per_weight(s, 4096), 8 + 16.0 / 4096) << qb::method_name(m);
    }
    // QuIP# W2: codebook indices + one FP16 scale per row, whatever group is set: 2 + 16/11008.
    Selections q;
    qb::apply_method_defaults(q, Method::quip);
    q.bits = 2;
    EXPECT_DOUBLE_EQ(qb::linear_bits_per_weight(q, 11008), 2 + 16.0 / 11008);
    // GPTQ default (W4 g128, no zero): 4.125.
    EXPECT_DOUBLE_EQ(qb::linear_bits_per_weight(Selections{}, 4096), 4.125);
}

TEST(Memory, Llama2_7bFp16WeightsAbout13_5GB) {
    // Llama-2-7B: per layer q,k,v,o 4 x 4096^2 = 67,108,864 + gate,up,down 3 x 4096 x 11008 = 135,266,304
    // -> 202,375,168 linear params x 32 layers = 6.476e9; embeddings + LM head 2 x 32000 x 4096 = 0.262e9;
    // norms 65 x 4096. Total 6.738e9 params x 2 bytes = 13.477e9 bytes, "about 13.5 GB".
    Selections s;
    qb::apply_method_defaults(s, Method::fp16);
    ASSERT_TRUE(qb::validate(catalog(), s).empty());
    const qb::MemoryBreakdown m = qb::memory(catalog(), qbt::model("llama-2-7b"), qbt::hw("h100-sxm"), s);
    EXPECT_NEAR(m.weights_gb, 13.5, 13.5 * 0.01);
    EXPECT_NEAR(m.weights_gb, 6738415616.0 * 2 / 1e9, 1e-9);   // the exact count above
    EXPECT_DOUBLE_EQ(m.weight_bits, 16);
    EXPECT_TRUE(m.fits);
}

TEST(Memory, Llama2_7bGptqW4WeightsHandChecked) {
    // 6,476,005,376 linear params x 4.125 bits / 8 = 3.339e9 bytes; the 262,144,000 embedding/LM-head
    // params and 266,240 norm params stay FP16: + 0.525e9 bytes -> 3.864 GB.
    const double linear = 32.0 * (4 * 4096.0 * 4096 + 3 * 4096.0 * 11008);
    const double other = 6738415616.0 - linear;
    const qb::MemoryBreakdown m = qb::memory(catalog(), qbt::model("llama-2-7b"), qbt::hw("h100-sxm"), Selections{});
    EXPECT_NEAR(m.weights_gb, (linear * 4.125 / 8 + other * 2) / 1e9, 1e-9);
    EXPECT_NEAR(m.weights_gb, 3.864, 0.001);
    EXPECT_DOUBLE_EQ(m.weight_bits, 4.125);
}

TEST(Memory, KvCacheHandChecked) {
    // Llama-2-7B, FP16 KV, batch 1, 512 + 256 tokens: 2 (K,V) x 32 layers x 32 heads x 128 x 2 bytes
    // = 524,288 bytes/token x 768 tokens = 0.4027 GB.
    const qb::MemoryBreakdown m = qb::memory(catalog(), qbt::model("llama-2-7b"), qbt::hw("h100-sxm"), Selections{});
    EXPECT_NEAR(m.kv_cache_gb, 524288.0 * 768 / 1e9, 1e-12);
    // Llama-3.1-8B has 8 KV heads (GQA): a quarter of that per token; FP8 KV halves it again.
    Selections s;
    s.model = "llama-3.1-8b";
    s.kv = qb::KvType::fp8;
    const qb::MemoryBreakdown g = qb::memory(catalog(), qbt::model("llama-3.1-8b"), qbt::hw("h100-sxm"), s);
    EXPECT_NEAR(g.kv_cache_gb, 2.0 * 32 * 8 * 128 * 1 * 768 / 1e9, 1e-12);
}

TEST(Memory, TotalIsTheSumAndFitsMatchesCapacity) {
    // llama-2-70b FP16 is 138 GB of weights: it cannot fit one 80 GB H100 but fits 4 (72 GB usable each).
    Selections s;
    s.model = "llama-2-70b";
    qb::apply_method_defaults(s, Method::fp16);
    const qb::ModelArch& m = qbt::model("llama-2-70b");
    const qb::MemoryBreakdown one = qb::memory(catalog(), m, qbt::hw("h100-sxm"), s);
    EXPECT_DOUBLE_EQ(one.total_gb, one.weights_gb + one.kv_cache_gb + one.activations_gb + one.overhead_gb);
    EXPECT_FALSE(one.fits);
    s.gpus = 4;
    const qb::MemoryBreakdown four = qb::memory(catalog(), m, qbt::hw("h100-sxm"), s);
    EXPECT_DOUBLE_EQ(four.capacity_gb, 4 * 80 * 0.9);
    EXPECT_TRUE(four.fits) << four.per_device_gb;
}

TEST(Params, ComputedAgreesWithPublishedWithin1Percent) {
    ASSERT_GE(catalog().models.size(), 10u);
    for (const qb::ModelArch& m : catalog().models) {
        const double computed = qb::computed_params(m) / 1e9;
        EXPECT_NEAR(computed, m.params_b, 0.01 * m.params_b) << m.id;
    }
}

TEST(Params, Llama2_7bExact) {
    // 32 x (4 x 4096^2 + 3 x 4096 x 11008 + 2 x 4096) + 2 x 32000 x 4096 + 4096 = 6,738,415,616.
    EXPECT_EQ(qb::computed_params(qbt::model("llama-2-7b")), 6738415616.0);
}

// Sweeps used by the monotonicity tests: several models on several kinds of hardware.
struct Case { const char* model; const char* hw; int gpus; };
const Case kCases[] = {{"llama-2-7b", "h100-sxm", 1},   {"llama-3.1-8b", "a100-80gb", 1}, {"qwen2.5-7b", "l4", 1},
                       {"llama-2-70b", "h100-sxm", 4},  {"mistral-7b", "apple-m2-ultra", 1},
                       {"smollm2-135m", "xeon-8480-2s", 1}, {"qwen2.5-72b", "h200", 2}};

Selections base(const Case& k) {
    Selections s;
    s.model = k.model;
    s.hardware = k.hw;
    s.gpus = k.gpus;
    return s;
}

TEST(MemoryMonotonic, MoreBitsNeverLowerMemory) {
    for (const Case& k : kCases) {
        const Selections b = base(k);
        ASSERT_TRUE(qb::validate(catalog(), b).empty()) << k.model << " " << qbt::describe(qb::validate(catalog(), b));
        const std::vector<Selections> cfgs = qb::sweep_configs(catalog(), b);
        // (method, group, zero) -> bits -> memory
        std::map<std::tuple<int, int, bool>, std::map<int, qb::MemoryBreakdown>> by;
        for (const Selections& s : cfgs)
            by[{(int)s.method, s.group_size, s.zero_point}][s.bits] =
                qb::memory(catalog(), qbt::model(k.model), qbt::hw(k.hw), s);
        int pairs = 0;
        for (const auto& [key, bits] : by) {
            const qb::MemoryBreakdown* prev = nullptr;
            int prev_bits = 0;
            for (const auto& [b, m] : bits) {   // ascending bits
                if (prev) {
                    EXPECT_GE(m.weights_gb, prev->weights_gb) << k.model << " " << qb::method_name((Method)std::get<0>(key))
                                                              << " W" << prev_bits << " -> W" << b;
                    EXPECT_GE(m.total_gb, prev->total_gb) << k.model;
                    EXPECT_GT(m.weight_bits, prev->weight_bits) << k.model;
                    ++pairs;
                }
                prev = &m;
                prev_bits = b;
            }
        }
        EXPECT_GT(pairs, 10) << k.model << ": the sweep should have several bit widths per method";
    }
}

TEST(MemoryMonotonic, SmallerGroupNeverLowersWeightMemory) {
    // Group order from the smallest to the largest g: 32, 64, 128, 256, per-channel (g = K >= 576 here).
    const int order[] = {32, 64, 128, 256, 0};
    for (const Case& k : kCases) {
        int pairs = 0;
        for (Method m : {Method::rtn, Method::gptq, Method::awq})
            for (int bits : {2, 3, 4, 8})
                for (bool z : {false, true}) {
                    double prev = -1;
                    for (int g : order) {
                        Selections s = base(k);
                        qb::apply_method_defaults(s, m);
                        s.bits = bits;
                        s.group_size = g;
                        s.zero_point = z;
                        if (!qb::validate(catalog(), s).empty()) continue;
                        const double w = qb::memory(catalog(), qbt::model(k.model), qbt::hw(k.hw), s).weights_gb;
                        if (prev >= 0) {
                            // The previous config had the smaller group, so it stores at least as many bits.
                            EXPECT_LE(w, prev) << k.model << " " << qb::method_name(m) << " W" << bits << " g" << g;
                            ++pairs;
                        }
                        prev = w;
                    }
                }
        EXPECT_GT(pairs, 20) << k.model;
    }
}

}  // namespace
