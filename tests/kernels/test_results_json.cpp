// shared/results_json.h: the results schema (round trip, every required field, wrong types,
// hostile documents), run ids and fingerprints, the index and the efficiency overrides edit.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "data_json.h"
#include "results_fixture.h"
#include "results_json.h"

namespace {

using nlohmann::json;

std::vector<qb::DataError> parse_errors(const std::string& text, qb::Results* out = nullptr) {
    std::vector<qb::DataError> e;
    qb::Results r;
    qb::parse_results(text, "run.json", out ? out : &r, &e);
    return e;
}

bool has_error(const std::vector<qb::DataError>& e, const std::string& pointer, const std::string& needle = "") {
    for (const qb::DataError& x : e)
        if (x.pointer == pointer && x.reason.find(needle) != std::string::npos && x.file == "run.json") return true;
    return false;
}

std::string describe(const std::vector<qb::DataError>& e) {
    std::string s;
    for (const qb::DataError& x : e) s += x.str() + "\n";
    return s;
}

TEST(ResultsJson, RoundTripsExactly) {
    const qb::Results r = qbt::sample_results();
    const std::string t = qb::results_json(r);
    qb::Results back;
    const auto e = parse_errors(t, &back);
    ASSERT_TRUE(e.empty()) << describe(e);
    EXPECT_EQ(qb::results_json(back), t);
    EXPECT_EQ(back.measurements.size(), r.measurements.size());
    EXPECT_EQ(back.env.isa, r.env.isa);
    EXPECT_TRUE(back.env.hardware_id.empty());
    EXPECT_FALSE(back.env.has_gpu);
    const json j = json::parse(t);
    EXPECT_EQ(j["schema"], "qbench.results");
    EXPECT_EQ(j["version"], 1);
    EXPECT_TRUE(j["environment"]["hardware_id"].is_null());
    EXPECT_TRUE(j["environment"]["gpu"].is_null());
    for (const char* k : {"backend", "kernel", "impl", "bits", "group_size", "zero_point", "m", "n", "k", "shape", "reps", "median_us",
                          "p10_us", "p90_us", "bytes", "flops", "gbps", "pct_of_probe", "correct", "max_rel_err"})
        EXPECT_TRUE(j["measurements"][0].contains(k)) << k;
}

TEST(ResultsJson, GpuBlockAndHardwareIdRoundTrip) {
    qb::Results r = qbt::sample_results();
    r.env.hardware_id = "h100-sxm";
    r.env.has_gpu = true;
    r.env.gpu = {"NVIDIA H100 80GB HBM3", "550.54", "12.4", 1980, 2619, 50};
    for (qb::Measurement& m : r.measurements) m.backend = "cuda";
    qb::Results back;
    const auto e = parse_errors(qb::results_json(r), &back);
    ASSERT_TRUE(e.empty()) << describe(e);
    EXPECT_EQ(back.env.hardware_id, "h100-sxm");
    EXPECT_EQ(back.env.gpu.name, "NVIDIA H100 80GB HBM3");
    EXPECT_EQ(back.env.gpu.l2_mb, 50);
    EXPECT_EQ(back.env.gpu.sm_clock_mhz, 1980);
}

TEST(ResultsJson, EveryRequiredFieldIsRequired) {
    const json good = json::parse(qb::results_json(qbt::sample_results()));
    for (const char* k : {"run_id", "environment", "probe", "measurements"}) {
        json d = good;
        d.erase(k);
        EXPECT_TRUE(has_error(parse_errors(d.dump()), std::string("/") + k, "missing")) << k;
    }
    for (const auto& [k, v] : good["environment"].items()) {
        if (k == "cpu_mhz" || k == "load_avg") continue;   // optional
        json d = good;
        d["environment"].erase(k);
        EXPECT_TRUE(has_error(parse_errors(d.dump()), "/environment/" + k, "missing")) << k;
    }
    for (const auto& [k, v] : good["measurements"][1].items()) {
        if (k == "isa") continue;   // optional
        json d = good;
        d["measurements"][1].erase(k);
        EXPECT_TRUE(has_error(parse_errors(d.dump()), "/measurements/1/" + k, "missing")) << k;
    }
}

TEST(ResultsJson, WrongTypesNameThePointer) {
    const json good = json::parse(qb::results_json(qbt::sample_results()));
    struct Case { const char* ptr; json v; const char* why; };
    const Case cases[] = {
        {"/environment/cores", "two", "integer"},
        {"/environment/cores", 2.5, "integer"},
        {"/environment/isa", "avx2", "array"},
        {"/environment/isa/0", 5, "string"},
        {"/environment/gpu", 3, "object or null"},
        {"/environment/timestamp", "yesterday", "ISO-8601"},
        {"/environment/hardware_id", "H100 SXM", "kebab"},
        {"/probe/gbps", "fast", "number"},
        {"/probe/gbps", 0, "out of range"},
        {"/measurements/0/median_us", -1, "out of range"},
        {"/measurements/0/correct", "yes", "true or false"},
        {"/measurements/0/backend", "tpu", "cpu or cuda"},
        {"/measurements/0/kernel", "int3", "not fp32"},
        {"/measurements/0/bits", 4, "do not fit"},
        {"/measurements/0/m", 0, "out of range"},
        {"/run_id", "../../etc/passwd", "names a file"},
        {"/run_id", "", "names a file"},
        {"/version", 2, "not supported"},
        {"/schema", "qbench.prediction", "expected 'qbench.results'"},
    };
    for (const Case& c : cases) {
        json d = good;
        d[json::json_pointer(c.ptr)] = c.v;
        const auto e = parse_errors(d.dump());
        EXPECT_TRUE(has_error(e, c.ptr, c.why)) << c.ptr << " = " << c.v.dump() << ": " << describe(e);
    }
    json d = good;
    d["measurements"][0]["p10_us"] = 1e9;   // p10 > median
    EXPECT_TRUE(has_error(parse_errors(d.dump()), "/measurements/0", "p10_us <= median_us"));
    d = good;
    d["measurements"] = json::object();
    EXPECT_TRUE(has_error(parse_errors(d.dump()), "/measurements", "array"));
    d = good;
    d["measurements"][0] = 7;
    EXPECT_TRUE(has_error(parse_errors(d.dump()), "/measurements/0", "object"));
}

TEST(ResultsJson, MalformedAndHostileDocuments) {
    EXPECT_TRUE(has_error(parse_errors("{\"schema\": \"qbench.results\", "), "", "malformed"));
    EXPECT_TRUE(has_error(parse_errors(""), "", "malformed"));
    EXPECT_TRUE(has_error(parse_errors("[1, 2]"), "", "object"));
    EXPECT_TRUE(has_error(parse_errors("\"just a string\""), "", "object"));
    // Numbers beyond double range do not parse; huge but finite ones fail the range checks.
    const json good = json::parse(qb::results_json(qbt::sample_results()));
    std::string t = good.dump();
    const std::string needle = "\"median_us\":";
    const size_t at = t.find(needle) + needle.size();
    std::string huge = t.substr(0, at) + "1e400" + t.substr(t.find(',', at));
    EXPECT_TRUE(has_error(parse_errors(huge), "", "malformed"));
    json d = good;
    d["measurements"][0]["median_us"] = 1e300;
    EXPECT_TRUE(has_error(parse_errors(d.dump()), "/measurements/0/median_us", "out of range"));
    d = good;
    d["measurements"][0]["n"] = 18446744073709551615ull;
    EXPECT_TRUE(has_error(parse_errors(d.dump()), "/measurements/0/n", "out of range"));
    // A 10 MB string is refused by the pre-parse scan (never copied into a JSON value); a
    // string within the global limit but over its field's limit names the field.
    t = good.dump();
    const size_t host = t.find("\"test-host\"");
    ASSERT_NE(host, std::string::npos);
    const std::string ten_mb = t.substr(0, host + 1) + std::string(10u << 20, 'a') + t.substr(host + 1);
    EXPECT_TRUE(has_error(parse_errors(ten_mb), "", "string longer than"));
    d = good;
    d["environment"]["hostname"] = std::string(300, 'a');
    EXPECT_TRUE(has_error(parse_errors(d.dump()), "/environment/hostname", "longer than 255"));
    // Deep nesting is refused before parsing (no recursion, no allocation of a million levels).
    const std::string deep = std::string(1000000, '[') + std::string(1000000, ']');
    EXPECT_TRUE(has_error(parse_errors(deep), "", "nested deeper"));
    d = good;
    std::string nested = "1";
    for (int i = 0; i < 20; ++i) nested = "[" + nested + "]";
    std::string t2 = d.dump();
    t2.insert(t2.size() - 1, ",\"extra\":" + nested);
    EXPECT_TRUE(has_error(parse_errors(t2), "", "nested deeper"));
    // Brackets inside strings do not count as nesting.
    d = good;
    d["environment"]["os"] = std::string(100, '[');
    EXPECT_TRUE(parse_errors(d.dump()).empty());
    // Oversized documents stop at the size limit.
    EXPECT_TRUE(has_error(parse_errors(std::string(qb::kResultsMaxBytes + 1, ' ')), "", "larger than"));
    // Unknown fields are ignored (forward compatibility).
    d = good;
    d["future_field"] = {{"a", 1}};
    d["measurements"][0]["future"] = true;
    EXPECT_TRUE(parse_errors(d.dump()).empty());
}

TEST(ResultsJson, FailedParseLeavesOutputUntouched) {
    qb::Results out = qbt::sample_results("keep-me");
    const auto e = parse_errors("{}", &out);
    EXPECT_FALSE(e.empty());
    EXPECT_EQ(out.env.hostname, "keep-me");
}

TEST(ResultsJson, RunIdsAndFingerprints) {
    const qb::Results a = qbt::sample_results("My Host.example", 1.0);
    EXPECT_TRUE(qb::valid_run_id(a.run_id)) << a.run_id;
    EXPECT_EQ(a.run_id.rfind("20261126t120000z-my-host-example-", 0), 0u) << a.run_id;
    qb::Results b = a;
    b.run_id = "renamed";
    EXPECT_EQ(qb::results_fingerprint(a), qb::results_fingerprint(b));   // run_id is not part of it
    b.measurements[0].median_us += 1;
    EXPECT_NE(qb::results_fingerprint(a), qb::results_fingerprint(b));
    EXPECT_FALSE(qb::valid_run_id("a/b"));
    EXPECT_FALSE(qb::valid_run_id("-x"));
    EXPECT_FALSE(qb::valid_run_id("a..b"));
    EXPECT_FALSE(qb::valid_run_id(std::string(129, 'a')));
}

TEST(ResultsJson, FpThirtyTwoCalibratesTheDenseClass) {
    qb::Kernel k;
    ASSERT_TRUE(qb::measurement_kernel("fp32", &k));
    EXPECT_EQ(k, qb::Kernel::fp16);
    ASSERT_TRUE(qb::measurement_kernel("w4a16", &k));
    EXPECT_EQ(k, qb::Kernel::w4a16);
    EXPECT_FALSE(qb::measurement_kernel("attn", &k));
    EXPECT_FALSE(qb::measurement_kernel("int4", &k));
}

TEST(ResultsJson, EfficiencyOverridesAreSplicedAndValidate) {
    const qb::DataTexts base = qb::embedded_data();
    size_t base_overrides = 0;   // the shipped file may already carry fitted overrides (other devices)
    {
        qb::Catalog b;
        std::vector<qb::DataError> e;
        ASSERT_TRUE(qb::load_catalog(base, &b, &e));
        base_overrides = b.eff_overrides.size();
        for (const qb::EffOverride& o : b.eff_overrides) ASSERT_NE(o.hardware, "xeon-8480-2s");
    }
    std::vector<qb::EffOverride> add = {{"xeon-8480-2s", "fitted (test)", qb::Kernel::w4a16, {0.61, 0.123}},
                                        {"xeon-8480-2s", "fitted (test)", qb::Kernel::fp16, {0.7, 0.2}}};
    std::string out, err;
    ASSERT_TRUE(qb::efficiency_with_overrides(base.efficiency, add, &out, &err)) << err;
    // Everything before "overrides" is byte-identical (hand formatting kept).
    const size_t at = base.efficiency.find("\"overrides\"");
    ASSERT_NE(at, std::string::npos);
    EXPECT_EQ(out.substr(0, at), base.efficiency.substr(0, at));
    qb::DataTexts t = base;
    t.efficiency = out;
    qb::Catalog c;
    std::vector<qb::DataError> errs;
    ASSERT_TRUE(qb::load_catalog(t, &c, &errs)) << (errs.empty() ? "" : errs.front().str());
    EXPECT_DOUBLE_EQ(c.eff(*c.hw("xeon-8480-2s"), qb::Kernel::w4a16).bw, 0.61);
    // Replacing: the same (hardware, kernel) again changes the value, not the count.
    add = {{"xeon-8480-2s", "again", qb::Kernel::w4a16, {0.5, 0.1}}};
    std::string out2;
    ASSERT_TRUE(qb::efficiency_with_overrides(out, add, &out2, &err));
    t.efficiency = out2;
    ASSERT_TRUE(qb::load_catalog(t, &c, &errs));
    EXPECT_EQ(c.eff_overrides.size(), base_overrides + 2);
    EXPECT_DOUBLE_EQ(c.eff(*c.hw("xeon-8480-2s"), qb::Kernel::w4a16).bw, 0.5);
    // A file without an overrides key gets one; garbage is refused.
    ASSERT_TRUE(qb::efficiency_with_overrides("{\"schema\": \"x\"}\n", add, &out, &err));
    EXPECT_TRUE(json::parse(out)["overrides"].is_array());
    EXPECT_FALSE(qb::efficiency_with_overrides("not json", add, &out, &err));
}

}  // namespace
