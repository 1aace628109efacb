// selections.h: defaults, method defaults and the rules that reject impossible combinations.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "fixture.h"
#include "predict.h"
#include "selections.h"

namespace {

using qb::Method;
using qb::Selections;
using qbt::catalog;
using qbt::has_field;

std::vector<qb::FieldError> check(const Selections& s) { return qb::validate(catalog(), s); }

TEST(Selections, DefaultsAreValid) {
    EXPECT_TRUE(check(Selections{}).empty()) << qbt::describe(check(Selections{}));
    EXPECT_TRUE(qb::predict(catalog(), Selections{}).ok());
}

TEST(Selections, EveryMethodsDefaultsAreValidOnH100) {
    for (int i = 0; i < (int)Method::count; ++i) {
        Selections s;
        qb::apply_method_defaults(s, (Method)i);
        EXPECT_TRUE(check(s).empty()) << qb::method_name((Method)i) << ": " << qbt::describe(check(s));
        // Switching back and forth ends valid too.
        qb::apply_method_defaults(s, Method::gptq);
        EXPECT_TRUE(check(s).empty()) << "gptq after " << qb::method_name((Method)i) << ": " << qbt::describe(check(s));
    }
}

TEST(Selections, NamesRoundTrip) {
    for (int i = 0; i < (int)Method::count; ++i) {
        Method m = Method::count;
        ASSERT_TRUE(qb::parse_method(qb::method_name((Method)i), &m));
        EXPECT_EQ(m, (Method)i);
    }
    for (int i = 0; i < (int)qb::KvType::count; ++i) {
        qb::KvType k = qb::KvType::count;
        ASSERT_TRUE(qb::parse_kv(qb::kv_name((qb::KvType)i), &k));
        EXPECT_EQ(k, (qb::KvType)i);
    }
    Method m;
    EXPECT_FALSE(qb::parse_method("GPTQ", &m));
    EXPECT_FALSE(qb::parse_method("", &m));
}

TEST(Selections, KernelAndWidths) {
    EXPECT_EQ(qb::kernel_for(Method::gptq, 4), qb::Kernel::w4a16);
    EXPECT_EQ(qb::kernel_for(Method::rtn, 8), qb::Kernel::w8a16);
    EXPECT_EQ(qb::kernel_for(Method::int8, 8), qb::Kernel::w8a16);
    EXPECT_EQ(qb::kernel_for(Method::w8a8, 8), qb::Kernel::w8a8);
    EXPECT_EQ(qb::kernel_for(Method::fp8, 8), qb::Kernel::fp8);
    EXPECT_EQ(qb::kernel_for(Method::bf16, 16), qb::Kernel::fp16);
    EXPECT_EQ(qb::fixed_bits(Method::fp16), 16);
    EXPECT_EQ(qb::fixed_bits(Method::fp8), 8);
    EXPECT_EQ(qb::fixed_bits(Method::awq), 0);
    EXPECT_EQ(qb::kv_bytes(qb::KvType::fp8), 1.0);
    EXPECT_EQ(qb::kv_bytes(qb::KvType::bf16), 2.0);
}

TEST(Validate, Fp8OnA100IsRejectedNamingFp8) {
    Selections s;
    qb::apply_method_defaults(s, Method::fp8);
    s.hardware = "a100-80gb";
    const auto e = check(s);
    EXPECT_TRUE(has_field(e, "method", "fp8")) << qbt::describe(e);
    EXPECT_FALSE(qb::predict(catalog(), s).ok());
    s.hardware = "h100-sxm";
    EXPECT_TRUE(check(s).empty()) << qbt::describe(check(s));
}

TEST(Validate, ImpossibleQuantCombos) {
    Selections s;
    qb::apply_method_defaults(s, Method::fp8);
    s.bits = 3;   // fp8 is an 8-bit format
    EXPECT_TRUE(has_field(check(s), "bits")) << qbt::describe(check(s));

    Selections q;
    qb::apply_method_defaults(q, Method::quip);
    q.group_size = 128;   // QuIP# has one scale per row
    EXPECT_TRUE(has_field(check(q), "group_size")) << qbt::describe(check(q));

    Selections z;
    qb::apply_method_defaults(z, Method::fp8);
    z.zero_point = true;   // symmetric format
    EXPECT_TRUE(has_field(check(z), "zero_point")) << qbt::describe(check(z));

    Selections a;
    qb::apply_method_defaults(a, Method::awq);
    a.bits = 2;
    EXPECT_TRUE(has_field(check(a), "bits", "awq")) << qbt::describe(check(a));

    Selections g;
    g.group_size = 100;
    EXPECT_TRUE(has_field(check(g), "group_size")) << qbt::describe(check(g));

    Selections b;
    b.bits = 5;
    EXPECT_TRUE(has_field(check(b), "bits")) << qbt::describe(check(b));

    Selections w;   // W8A8 needs an INT8 matrix engine; Apple GPUs have none
    qb::apply_method_defaults(w, Method::w8a8);
    w.hardware = "apple-m2-ultra";
    EXPECT_TRUE(has_field(check(w), "method", "w8a8")) << qbt::describe(check(w));
}

TEST(Validate, TensorParallelMustDivideHeads) {
    // Llama-2-7B has 32 attention heads: 3 devices cannot split them.
    Selections s;
    s.gpus = 3;
    EXPECT_TRUE(has_field(check(s), "gpus", "32")) << qbt::describe(check(s));
    s.gpus = 4;
    EXPECT_TRUE(check(s).empty());
    s.gpus = 16;   // more than an 8-GPU server holds
    EXPECT_TRUE(has_field(check(s), "gpus")) << qbt::describe(check(s));
    s.gpus = 0;
    EXPECT_TRUE(has_field(check(s), "gpus"));
    Selections a;   // one Apple device per replica
    a.hardware = "apple-m2-ultra";
    a.gpus = 2;
    EXPECT_TRUE(has_field(check(a), "gpus")) << qbt::describe(check(a));
}

TEST(Validate, PromptPlusOutputOverContext) {
    // Llama-2-7B's context is 4096 tokens: 4000 + 200 = 4200 does not fit; 3840 + 256 = 4096 does.
    Selections s;
    s.prompt_tokens = 4000;
    s.output_tokens = 200;
    EXPECT_TRUE(has_field(check(s), "prompt_tokens", "4200")) << qbt::describe(check(s));
    s.prompt_tokens = 3840;
    s.output_tokens = 256;
    EXPECT_TRUE(check(s).empty()) << qbt::describe(check(s));
    s.prompt_tokens = 0;
    EXPECT_TRUE(has_field(check(s), "prompt_tokens"));
    s.prompt_tokens = 512;
    s.output_tokens = 0;
    EXPECT_TRUE(has_field(check(s), "output_tokens"));
}

TEST(Validate, UnknownIds) {
    Selections m;
    m.model = "llama-9-1t";
    EXPECT_TRUE(has_field(check(m), "model", "llama-9-1t"));
    EXPECT_FALSE(qb::predict(catalog(), m).ok());
    Selections h;
    h.hardware = "b200";
    EXPECT_TRUE(has_field(check(h), "hardware", "b200"));
    Selections a;
    a.compare_api = {"gpt-4o", "gemini-9"};
    EXPECT_TRUE(has_field(check(a), "compare_api", "gemini-9"));
    EXPECT_FALSE(has_field(check(a), "compare_api", "gpt-4o'"));
}

TEST(Validate, TokensPerDayMustBeFiniteAndSane) {
    for (double bad : {-1.0, std::nan(""), 1e20, std::numeric_limits<double>::infinity()}) {
        Selections s;
        s.input_tokens_per_day = bad;
        EXPECT_TRUE(has_field(check(s), "input_tokens_per_day")) << bad;
        Selections o;
        o.output_tokens_per_day = bad;
        EXPECT_TRUE(has_field(check(o), "output_tokens_per_day")) << bad;
    }
    Selections ok;
    ok.input_tokens_per_day = 0;
    ok.output_tokens_per_day = 1e13;
    EXPECT_TRUE(check(ok).empty());
}

TEST(Validate, BatchAndOtherRanges) {
    Selections s;
    s.batch = 0;
    EXPECT_TRUE(has_field(check(s), "batch"));
    s.batch = 4097;
    EXPECT_TRUE(has_field(check(s), "batch"));
    s.batch = 4096;
    EXPECT_TRUE(check(s).empty());
    Selections u;
    u.usd_per_hour = -1;
    EXPECT_TRUE(has_field(check(u), "usd_per_hour"));
    u.usd_per_hour = std::nan("");
    EXPECT_TRUE(has_field(check(u), "usd_per_hour"));
    Selections c;
    c.calib_samples = 0;
    EXPECT_TRUE(has_field(check(c), "calib_samples"));
}

TEST(Selections, SetTokensPerDaySplitsByRequestShape) {
    // 512 prompt : 256 output -> 2/3 input, 1/3 output.
    Selections s;
    qb::set_tokens_per_day(s, 3e6);
    EXPECT_DOUBLE_EQ(s.input_tokens_per_day, 2e6);
    EXPECT_DOUBLE_EQ(s.output_tokens_per_day, 1e6);
    EXPECT_EQ(s.input_tokens_per_day + s.output_tokens_per_day, 3e6);
}

}  // namespace
