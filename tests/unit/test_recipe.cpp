// Recipes must use the tools' real APIs (not the seed article's invented ones) and match the selection.
#include <gtest/gtest.h>

#include "fixture.h"
#include "recipe.h"

using namespace qb;

static bool has(const std::string& s, const std::string& x) { return s.find(x) != std::string::npos; }

TEST(Recipe, GptqUsesGptqModelWithReferenceDamping) {
    Selections s;   // gptq W4 g128, act-order on, symmetric
    const Recipe r = recipe(qbt::catalog(), s);
    EXPECT_TRUE(has(r.quantize, "from gptqmodel import GPTQModel, QuantizeConfig"));
    EXPECT_TRUE(has(r.quantize, "bits=4, group_size=128, desc_act=True, sym=True, damp_percent=0.01"));
    EXPECT_FALSE(has(r.quantize, "dampening_frac"));   // the seed's invented keyword
    EXPECT_FALSE(has(r.quantize, "quantize_model"));   // the seed's invented function
    EXPECT_TRUE(has(r.serve, "vllm serve ./llama-2-7b-gptq-w4-g128 --quantization gptq_marlin"));
    EXPECT_TRUE(has(r.serve, "--max-model-len 768"));   // 512 prompt + 256 output
}

TEST(Recipe, AwqUsesAutoAwqKeys) {
    Selections s;
    apply_method_defaults(s, Method::awq);
    s.group_size = 64;
    const Recipe r = recipe(qbt::catalog(), s);
    EXPECT_TRUE(has(r.quantize, "\"zero_point\": True, \"q_group_size\": 64, \"w_bit\": 4"));
    EXPECT_FALSE(has(r.quantize, "\"bits\""));         // the seed used bits/group_size, which AutoAWQ ignores
    EXPECT_TRUE(has(r.serve, "--quantization awq_marlin"));
}

TEST(Recipe, PerChannelGptqIsGroupMinusOne) {
    Selections s;
    s.group_size = 0;
    EXPECT_TRUE(has(recipe(qbt::catalog(), s).quantize, "group_size=-1"));
}

TEST(Recipe, Fp8TensorParallelAndKvCache) {
    Selections s;
    s.model = "llama-2-70b";
    apply_method_defaults(s, Method::fp8);
    s.gpus = 2;
    s.kv = KvType::fp8;
    const Recipe r = recipe(qbt::catalog(), s);
    EXPECT_TRUE(has(r.quantize, "scheme=\"FP8_DYNAMIC\""));
    EXPECT_TRUE(has(r.serve, "--tensor-parallel-size 2"));
    EXPECT_TRUE(has(r.serve, "--kv-cache-dtype fp8"));
}

TEST(Recipe, W8a8UsesSmoothQuantThenGptq) {
    Selections s;
    apply_method_defaults(s, Method::w8a8);
    const Recipe r = recipe(qbt::catalog(), s);
    EXPECT_TRUE(has(r.quantize, "SmoothQuantModifier(smoothing_strength=0.8)"));
    EXPECT_TRUE(has(r.quantize, "scheme=\"W8A8\""));
    EXPECT_TRUE(has(r.quantize, "num_calibration_samples=128, max_seq_length=512"));
}

TEST(Recipe, AppleAndCpuUseLlamaCpp) {
    Selections s;
    s.hardware = "apple-m2-ultra";
    const Recipe r = recipe(qbt::catalog(), s);
    EXPECT_TRUE(has(r.quantize, "llama-quantize"));
    EXPECT_TRUE(has(r.quantize, "Q4_K_M"));
    EXPECT_TRUE(has(r.serve, "llama-server"));
    EXPECT_FALSE(has(r.serve, "vllm"));
}

TEST(Recipe, QuipPrintsNoUncheckedCommand) {
    Selections s;
    apply_method_defaults(s, Method::quip);
    const Recipe r = recipe(qbt::catalog(), s);
    EXPECT_TRUE(r.quantize.empty());
    EXPECT_TRUE(has(r.notes, "quip-sharp"));
}

TEST(Recipe, Int8KvCacheIsFlaggedForVllm) {
    Selections s;
    s.kv = KvType::int8;
    EXPECT_TRUE(has(recipe(qbt::catalog(), s).notes, "no INT8 KV cache"));
}
