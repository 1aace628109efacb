// cost.h: self-hosted monthly cost (replicas x devices x $/h x 730 h), API bills and break-even.
#include <gtest/gtest.h>

#include <climits>
#include <cmath>

#include "cost.h"
#include "fixture.h"
#include "latency.h"
#include "predict.h"

namespace {

using qb::Method;
using qb::Selections;
using qbt::catalog;

qb::Cost cost_of(const Selections& s) {
    EXPECT_TRUE(qb::validate(catalog(), s).empty()) << qbt::describe(qb::validate(catalog(), s));
    const qb::ModelArch& m = qbt::model(s.model);
    const qb::Hardware& h = qbt::hw(s.hardware);
    return qb::self_hosted_cost(h, s, qb::latency(catalog(), m, h, s));
}

TEST(ApiCost, HandChecked) {
    // 100M output tokens/day at $15/M (Claude 3.5 Sonnet output) = $1,500/day;
    // a month is 365/12 days: 1500 x 365 / 12 = $45,625.
    Selections s;
    s.input_tokens_per_day = 0;
    s.output_tokens_per_day = 100e6;
    const qb::ApiModel& a = qbt::api("claude-3-5-sonnet");
    ASSERT_EQ(a.usd_per_m_output, 15.0);
    EXPECT_NEAR(qb::api_usd_month(a, s), 1500.0 * 365 / 12, 1e-6);
    // Input is billed at its own price: 10M input + 5M output a day = 10 x $3 + 5 x $15 = $105/day.
    Selections d;
    EXPECT_NEAR(qb::api_usd_month(a, d), 105.0 * 365 / 12, 1e-9);
}

TEST(SelfHostedCost, MonthIsGpusTimesPriceTimes730Exactly) {
    for (const char* hw : {"h100-sxm", "a100-80gb", "l4", "apple-m2-ultra"}) {
        Selections s;
        s.hardware = hw;
        const qb::Cost c = cost_of(s);
        EXPECT_EQ(c.usd_per_hour, qbt::hw(hw).price.usd_per_hour) << hw;
        EXPECT_FALSE(c.price_overridden);
        EXPECT_EQ(c.usd_month, c.gpus * c.usd_per_hour * 730.0) << hw;
        EXPECT_EQ(c.gpus, c.replicas * s.gpus);
    }
    // H100 SXM at its catalog $3.78/h: one device all month = 3.78 x 730 = $2,759.40.
    EXPECT_NEAR(cost_of(Selections{}).usd_month, qbt::hw("h100-sxm").price.usd_per_hour * 730, 1e-9);
}

TEST(SelfHostedCost, UsdOverrideReplacesCatalogPrice) {
    Selections s;
    s.usd_per_hour = 2.49;
    const qb::Cost c = cost_of(s);
    EXPECT_TRUE(c.price_overridden);
    EXPECT_EQ(c.usd_per_hour, 2.49);
    EXPECT_NE(c.usd_per_hour, qbt::hw("h100-sxm").price.usd_per_hour);
    EXPECT_EQ(c.usd_month, c.gpus * 2.49 * 730.0);
    EXPECT_TRUE(c.price_provider.empty()) << "the catalog's provenance does not describe the user's price";
}

TEST(SelfHostedCost, ReplicasScaleWithTraffic) {
    Selections s;
    const qb::Cost small = cost_of(s);
    EXPECT_EQ(small.replicas, 1) << "10M + 5M tokens/day fits one H100";
    // 1e12 tokens/day (split 2:1 like 512:256) is far beyond one replica.
    qb::set_tokens_per_day(s, 1e12);
    EXPECT_NEAR(s.input_tokens_per_day, 1e12 * 2 / 3, 1);
    const qb::Cost big = cost_of(s);
    EXPECT_GT(big.replicas, 1);
    EXPECT_EQ(big.replicas, (int)std::ceil(big.requests_per_day / big.replica_requests_per_day));
    EXPECT_GT(big.usd_month, small.usd_month);
    EXPECT_LE(big.utilization, 1.0);
    EXPECT_GT(big.utilization, 0.0);
    // requests/day = max(input / prompt, output / output length) = (2/3e12) / 512 = 1.302e9.
    EXPECT_NEAR(big.requests_per_day, 1e12 * 2 / 3 / 512, 1e3);
    // Two GPUs per replica: the device count doubles with the replica count.
    s.gpus = 2;
    const qb::Cost two = cost_of(s);
    EXPECT_EQ(two.gpus, 2 * two.replicas);
}

TEST(SelfHostedCost, ZeroTrafficStillPaysForOneReplica) {
    Selections s;
    s.input_tokens_per_day = s.output_tokens_per_day = 0;
    const qb::Cost c = cost_of(s);
    EXPECT_EQ(c.replicas, 1);
    EXPECT_EQ(c.usd_month, 1 * qbt::hw("h100-sxm").price.usd_per_hour * 730);
    EXPECT_EQ(c.usd_per_m_tokens, 0);
}

TEST(SelfHostedCost, ExtremeValidTrafficNeverWrapsNegative) {
    // The largest traffic validate() accepts (1e13 tokens/day) of one-token answers to the longest
    // prompts, for a 70B model at FP16 on a laptop GPU: billions of replicas. The counts must stay
    // positive (no int wrap-around) and the cost must stay positive and finite.
    Selections s;
    s.model = "llama-3.1-70b";
    s.hardware = "apple-m3-max";
    qb::apply_method_defaults(s, Method::fp16);
    s.prompt_tokens = 131000;
    s.output_tokens = 72;
    s.input_tokens_per_day = 0;
    s.output_tokens_per_day = 1e13;
    const qb::Cost c = cost_of(s);
    EXPECT_GE(c.replicas, 1);
    EXPECT_GE(c.gpus, 1);
    EXPECT_GT(c.usd_month, 0);
    EXPECT_TRUE(std::isfinite(c.usd_month));
    EXPECT_EQ(c.usd_month, c.gpus * c.usd_per_hour * 730.0);
    const qb::PredictResult r = qb::predict(catalog(), s);
    ASSERT_TRUE(r.ok());
    EXPECT_GT(r.p.cost.usd_month, 0);
    for (const qb::ApiComparison& a : r.p.vs_api) EXPECT_TRUE(std::isfinite(a.delta_usd));
}

TEST(BreakEven, OneReplicaCostsWhatTheApiBillsAtBreakEven) {
    // Claude 3.5 Sonnet at the default 2:1 mix: 2/3 x $3 + 1/3 x $15 = $7 per M tokens; one H100 at
    // $3.78/h costs $2,759.40/month, so break-even = 2759.4 / (7e-6 x 365/12) = 12.96M tokens/day.
    int breaks = 0, never = 0;
    for (const char* hw : {"h100-sxm", "a100-80gb", "l4"})
        for (int batch : {1, 16}) {
            Selections s;
            s.hardware = hw;
            s.batch = batch;
            const qb::Cost self = cost_of(s);
            for (const qb::ApiModel& a : catalog().api_models) {
                const qb::ApiComparison cmp = qb::compare_api(a, s, self);
                EXPECT_NEAR(cmp.usd_month, qb::api_usd_month(a, s), 1e-9);
                EXPECT_NEAR(cmp.delta_usd, self.usd_month - cmp.usd_month, 1e-9);
                const double one_replica = s.gpus * self.usd_per_hour * 730;
                if (cmp.breaks_even) {
                    ++breaks;
                    // The same traffic mix at break_even_tokens_per_day: 2/3 input, 1/3 output.
                    Selections at = s;
                    const double t = cmp.break_even_tokens_per_day;
                    const double f_in = s.input_tokens_per_day / (s.input_tokens_per_day + s.output_tokens_per_day);
                    at.input_tokens_per_day = t * f_in;
                    at.output_tokens_per_day = t * (1 - f_in);
                    const double api = qb::api_usd_month(a, at);
                    EXPECT_NEAR(api, one_replica, 1e-6 * one_replica) << hw << " vs " << a.id;
                    const qb::Cost there = cost_of(at);
                    EXPECT_EQ(there.replicas, 1) << "break-even is within one replica's capacity";
                    EXPECT_NEAR(there.usd_month, api, 1e-6 * api) << hw << " vs " << a.id;
                    EXPECT_LE(t, self.replica_tokens_per_day * (1 + 1e-12));
                } else {
                    ++never;
                    EXPECT_EQ(cmp.break_even_tokens_per_day, 0);
                    // Even a fully used replica costs more than the API for the same tokens.
                    Selections full = s;
                    const double f_in = s.input_tokens_per_day / (s.input_tokens_per_day + s.output_tokens_per_day);
                    full.input_tokens_per_day = self.replica_tokens_per_day * f_in;
                    full.output_tokens_per_day = self.replica_tokens_per_day * (1 - f_in);
                    EXPECT_GT(one_replica, qb::api_usd_month(a, full)) << hw << " vs " << a.id;
                }
            }
        }
    EXPECT_GT(breaks, 0);
    EXPECT_GT(never, 0);
    // The hand-checked figure.
    const qb::ApiComparison c = qb::compare_api(qbt::api("claude-3-5-sonnet"), Selections{}, cost_of(Selections{}));
    ASSERT_TRUE(c.breaks_even);
    EXPECT_NEAR(c.usd_per_m_blended, 7.0, 1e-12);
    const double month = qbt::hw("h100-sxm").price.usd_per_hour * 730;
    EXPECT_NEAR(c.break_even_tokens_per_day, month / (7e-6 * 365 / 12), 1e-6 * month / (7e-6 * 365 / 12));
}

}  // namespace
