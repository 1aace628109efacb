// shared/quantize_json.h: the quantize report (writer -> parser round trip, every kind of bad
// field, hostile documents, the row a selection picks) and the report committed under
// data/quantize/, which the site loads by default.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "quantize_json.h"

namespace {

using nlohmann::json;

qb::QuantizeRow row(const char* method, int bits, int group, double out_err) {
    qb::QuantizeRow r;
    r.method = method;
    r.bits = bits;
    r.group_size = group;
    r.weight_rel_err = 0.11;
    r.output_rel_err = out_err;
    r.output_sqnr_db = -20 * std::log10(out_err);
    r.time_s = 1.25;
    r.packed_bytes = 4096LL * 4096 * bits / 8;
    r.bits_per_weight = bits + 16.0 / (group ? group : 4096);
    r.details = {{"alpha", 0.25}, {"scale_loss", 1.5e-3}};
    return r;
}

qb::QuantizeReport sample() {
    qb::QuantizeReport q;
    q.created_utc = "2026-11-26T22:00:00Z";
    q.tool_version = "0.1.0";
    q.env = {"Intel Xeon", "Linux 6.1 x86_64", "g++ 12.2.0", "release", "avx512", "3.4.0", 2, 2, {"avx2", "avx512f"}};
    q.input.kind = "synthetic";
    q.input.model = "llama-2-7b";
    q.input.calib_samples = 32;
    q.input.calib_tokens_per_sample = 512;
    q.input.eval_samples = 4;
    q.input.eval_tokens_per_sample = 512;
    q.input.has_synthetic = true;
    q.input.synthetic = {0x5eed2026ULL, 0.005, 10, 100, 16, 0.5, 0.9, 0.01};
    q.config.methods = {"rtn", "gptq", "awq", "quip"};
    q.config.quip_seed = 0xffffffffffffffffULL;   // a full 64-bit seed must survive
    q.config.quip_transform = "randomized Hadamard";
    for (const char* name : {"model.layers.0.self_attn.q_proj.weight", "model.layers.0.mlp.down_proj.weight"}) {
        qb::QuantizeLayer l;
        l.name = name;
        l.rows = 4096;
        l.cols = 4096;
        l.calibration = {"synthetic", 16384, 2048, 512, "f32", 3.5, 1.2, 5.1, false};
        l.results = {row("rtn", 4, 128, 0.111), row("gptq", 4, 128, 0.0428), row("awq", 4, 128, 0.0679), row("quip", 4, 128, 0.0158)};
        l.results[3].has_seed = true;
        l.results[3].seed = 12345;
        l.results[3].transform = "quip";
        q.layers.push_back(l);
    }
    qb::QuantizeRow failed;
    failed.method = "gptq";
    failed.ok = false;
    failed.error = "H is not positive definite";
    q.layers[1].results.push_back(failed);
    q.total_s = 42.5;
    return q;
}

std::vector<qb::DataError> parse_errors(const std::string& text, qb::QuantizeReport* out = nullptr) {
    std::vector<qb::DataError> e;
    qb::QuantizeReport r;
    qb::parse_quantize(text, "q.json", out ? out : &r, &e);
    return e;
}

bool has_error(const std::vector<qb::DataError>& e, const std::string& pointer, const std::string& needle = "") {
    for (const qb::DataError& x : e)
        if (x.pointer == pointer && x.reason.find(needle) != std::string::npos && x.file == "q.json") return true;
    return false;
}

std::string describe(const std::vector<qb::DataError>& e) {
    std::string s;
    for (const qb::DataError& x : e) s += x.str() + "\n";
    return s;
}

json sample_json() { return json::parse(qb::quantize_json(sample())); }

TEST(QuantizeJson, RoundTripsExactly) {
    const qb::QuantizeReport q = sample();
    const std::string t = qb::quantize_json(q);
    qb::QuantizeReport back;
    const auto e = parse_errors(t, &back);
    ASSERT_TRUE(e.empty()) << describe(e);
    EXPECT_EQ(qb::quantize_json(back), t);
    ASSERT_EQ(back.layers.size(), 2u);
    EXPECT_EQ(back.input.model, "llama-2-7b");
    EXPECT_EQ(back.config.quip_seed, 0xffffffffffffffffULL);
    EXPECT_EQ(back.layers[0].results[1].output_rel_err, 0.0428);
    EXPECT_EQ(back.layers[0].results[3].seed, 12345u);
    EXPECT_FALSE(back.layers[1].results[4].ok);
    EXPECT_EQ(back.layers[1].results[4].error, "H is not positive definite");
    EXPECT_EQ(back.layers[0].results[2].details.size(), 2u);
    const json j = json::parse(t);
    EXPECT_EQ(j["schema"], "qbench.quantize");
    EXPECT_EQ(j["version"], 1);
    EXPECT_FALSE(j["layers"][1]["results"][4].contains("output_rel_err"));   // a failed row has no figures
}

TEST(QuantizeJson, InfiniteSqnrIsNullAndReadsBack) {
    qb::QuantizeReport q = sample();
    q.layers[0].results[0].output_rel_err = 0;
    q.layers[0].results[0].output_sqnr_db = INFINITY;
    q.layers[0].results[0].details.push_back({"nan_detail", NAN});
    const std::string t = qb::quantize_json(q);
    const json j = json::parse(t);
    EXPECT_TRUE(j["layers"][0]["results"][0]["output_sqnr_db"].is_null());
    EXPECT_FALSE(j["layers"][0]["results"][0]["details"].contains("nan_detail"));
    qb::QuantizeReport back;
    ASSERT_TRUE(parse_errors(t, &back).empty());
    EXPECT_TRUE(std::isinf(back.layers[0].results[0].output_sqnr_db));
}

TEST(QuantizeJson, WrongSchemaOrVersion) {
    json d = sample_json();
    d["schema"] = "qbench.results";
    EXPECT_TRUE(has_error(parse_errors(d.dump()), "/schema", "expected 'qbench.quantize'"));
    d = sample_json();
    d["version"] = 2;
    EXPECT_TRUE(has_error(parse_errors(d.dump()), "/version", "not supported"));
    d = sample_json();
    d.erase("schema");
    EXPECT_TRUE(has_error(parse_errors(d.dump()), "/schema", "missing"));
    EXPECT_TRUE(has_error(parse_errors("[1, 2]"), "", "top level must be an object"));
}

TEST(QuantizeJson, WrongTypesNameTheField) {
    struct Case { const char* pointer; json value; const char* needle; };
    const Case cases[] = {
        {"/layers/0/results/1/output_rel_err", "0.04", "must be a number"},
        {"/layers/0/results/1/bits", 4.5, "must be an integer"},
        {"/layers/0/results/1/zero_point", 0, "must be true or false"},
        {"/layers/0/rows", "4096", "must be an integer"},
        {"/layers/0/name", 7, "must be a string"},
        {"/layers/0/calibration", json::array(), "must be an object"},
        {"/layers", json::object(), "must be an array"},
        {"/config/methods", "rtn", "must be an array"},
        {"/environment/cpu_features", 3, "must be an array"},
        {"/input/calibration/synthetic/seed", -1, "non-negative integer"},
        {"/created_utc", "yesterday", "not a UTC ISO-8601 time"},
        {"/layers/0/results/1/method", "fp16", "not rtn, gptq, awq or quip"},
        {"/config/methods/0", "int8", "one of rtn, gptq, awq, quip"},
        {"/input/kind", "pickle", "is not one of synthetic, safetensors"},
        {"/config/hessian", "fp64", "is not one of f32, bf16"},
        {"/input/model", "Llama 2", "not a lower-case kebab id"},
    };
    for (const Case& c : cases) {
        json d = sample_json();
        d[json::json_pointer(c.pointer)] = c.value;
        const auto e = parse_errors(d.dump());
        EXPECT_TRUE(has_error(e, c.pointer, c.needle)) << c.pointer << " -> " << c.value.dump() << ":\n" << describe(e);
    }
}

TEST(QuantizeJson, MissingRequiredFields) {
    for (const char* p : {"/layers/0/results/0/output_rel_err", "/layers/0/results/0/time_s", "/layers/0/calibration/tokens",
                          "/layers/1/results/4/error", "/config/bits", "/environment/threads", "/input/calibration", "/total_s",
                          "/tool/version"}) {
        json d = sample_json();
        const json::json_pointer ptr(p);
        d[ptr.parent_pointer()].erase(ptr.back());
        EXPECT_TRUE(has_error(parse_errors(d.dump()), p, "missing required field")) << p << "\n" << describe(parse_errors(d.dump()));
    }
}

TEST(QuantizeJson, OutOfRangeAndNonFiniteNumbers) {
    const std::pair<const char*, json> cases[] = {
        {"/layers/0/results/0/output_rel_err", -0.1},
        {"/layers/0/results/0/output_rel_err", 1e300},
        {"/layers/0/results/0/output_sqnr_db", 1e5},
        {"/layers/0/results/0/time_s", -1},
        {"/layers/0/results/0/bits", 99},
        {"/layers/0/rows", 0},
        {"/layers/0/cols", 1LL << 40},
        {"/layers/0/calibration/tokens", 0},
        {"/layers/0/results/0/packed_bytes", 18446744073709551615ULL},   // above INT64_MAX: must not wrap
        {"/config/damp", 1e9},
    };
    for (const auto& [p, v] : cases) {
        json d = sample_json();
        d[json::json_pointer(p)] = v;
        const auto e = parse_errors(d.dump());
        EXPECT_TRUE(has_error(e, p, "out of range")) << p << " = " << v.dump() << "\n" << describe(e);
    }
    // NaN and infinity are not JSON: neither the literals nor a number too large for a double
    // (1e999) parse.
    std::string t = qb::quantize_json(sample());
    const std::string key = "\"total_s\": 42.5";
    ASSERT_NE(t.find(key), std::string::npos);
    for (const char* bad : {"NaN", "Infinity", "-Infinity", "nan", "1e999", "-1e999"}) {
        std::string b = t;
        b.replace(b.find(key), key.size(), std::string("\"total_s\": ") + bad);
        EXPECT_TRUE(has_error(parse_errors(b), "", "malformed JSON")) << bad;
    }
}

TEST(QuantizeJson, HostileDocuments) {
    const std::string t = qb::quantize_json(sample());
    for (size_t cut : {size_t(0), size_t(1), t.size() / 3, t.size() / 2, t.size() - 3}) {
        const auto e = parse_errors(t.substr(0, cut));
        EXPECT_TRUE(has_error(e, "", "")) << "truncated at " << cut;
        EXPECT_FALSE(e.empty());
    }
    EXPECT_TRUE(has_error(parse_errors(std::string(100000, '[')), "", "nested deeper"));
    EXPECT_TRUE(has_error(parse_errors("{\"schema\": \"" + std::string(10 << 20, 'a') + "\"}"), "", "string longer than"));
    EXPECT_TRUE(has_error(parse_errors(std::string(qb::kQuantizeMaxBytes + 1, ' ')), "", "larger than"));
    EXPECT_TRUE(has_error(parse_errors("\xff\xfe{}"), "", "malformed JSON"));
    // Too many layers / results: refused by count, before any of them is read.
    json d = sample_json();
    json layers = json::array();
    for (size_t i = 0; i <= qb::kQuantizeMaxLayers; ++i) layers.push_back(json::object());
    d["layers"] = layers;
    EXPECT_TRUE(has_error(parse_errors(d.dump()), "/layers", "must hold 1 to"));
    d = sample_json();
    d["layers"] = json::array();
    EXPECT_TRUE(has_error(parse_errors(d.dump()), "/layers", "must hold 1 to"));
    d = sample_json();
    json many = json::object();
    for (int i = 0; i < 100; ++i) many["k" + std::to_string(i)] = i;
    d["layers"][0]["results"][0]["details"] = many;
    EXPECT_TRUE(has_error(parse_errors(d.dump()), "/layers/0/results/0/details", "more than"));
    // Hundreds of broken layers stop after about 50 messages.
    d = sample_json();
    json bad = d["layers"][0];
    bad["rows"] = "x";
    bad["cols"] = "x";
    d["layers"] = json::array();
    for (int i = 0; i < 200; ++i) d["layers"].push_back(bad);
    const auto e = parse_errors(d.dump());
    EXPECT_LT(e.size(), 60u);
    EXPECT_TRUE(has_error(e, "/layers", "too many errors"));
}

TEST(QuantizeJson, FailedParseLeavesOutputUnchanged) {
    qb::QuantizeReport out = sample();
    out.total_s = 7;
    json d = sample_json();
    d["layers"][0]["results"][0]["bits"] = "four";
    std::vector<qb::DataError> e;
    EXPECT_FALSE(qb::parse_quantize(d.dump(), "q.json", &out, &e));
    EXPECT_EQ(out.total_s, 7);
}

TEST(QuantizeJson, RowForSelection) {
    qb::QuantizeLayer l = sample().layers[0];
    qb::Selections s;
    s.method = qb::Method::gptq;
    s.bits = 4;
    s.group_size = 128;
    EXPECT_EQ(qb::quantize_row_for(l, s), 1);
    s.method = qb::Method::quip;
    EXPECT_EQ(qb::quantize_row_for(l, s), 3);
    s.bits = 3;
    EXPECT_EQ(qb::quantize_row_for(l, s), -1);   // no 3-bit row
    s.bits = 4;
    s.group_size = 64;
    EXPECT_EQ(qb::quantize_row_for(l, s), -1);
    s.method = qb::Method::fp16;
    s.group_size = 128;
    EXPECT_EQ(qb::quantize_row_for(l, s), -1);
    // Two GPTQ rows differing in act-order: the one the selection asks for.
    l.results.push_back(row("gptq", 4, 128, 0.0403));
    l.results.back().act_order = true;
    s.method = qb::Method::gptq;
    s.act_order = true;
    EXPECT_EQ(qb::quantize_row_for(l, s), 4);
    s.act_order = false;
    EXPECT_EQ(qb::quantize_row_for(l, s), 1);
}

// What the widget's getState().quantize holds: figures copied from the report, the selected rows.
TEST(QuantizeJson, SummaryForTheWidget) {
    qb::Selections s;
    s.model = "llama-2-7b";
    s.method = qb::Method::gptq;
    s.bits = 4;
    s.group_size = 128;
    const json j = json::parse(qb::quantize_summary_json(sample(), "data/quantize/x.json", s));
    EXPECT_EQ(j["origin"], "data/quantize/x.json");
    EXPECT_EQ(j["model"], "llama-2-7b");
    EXPECT_TRUE(j["model_matches"].get<bool>());
    EXPECT_EQ(j["layers"], 2);
    EXPECT_EQ(j["calibration_tokens"], 16384);
    EXPECT_EQ(j["eval_tokens"], 2048);
    EXPECT_EQ(j["rows"].size(), 9u);
    ASSERT_EQ(j["selected"].size(), 2u);
    for (const json& r : j["selected"]) {
        EXPECT_EQ(r["method"], "gptq");
        EXPECT_EQ(r["output_rel_err"], 0.0428);
        EXPECT_TRUE(r["selected"].get<bool>());
    }
    EXPECT_FALSE(j["rows"][8]["ok"].get<bool>());   // the failed row is listed, with no figures
    EXPECT_FALSE(j["rows"][8].contains("output_rel_err"));
    s.model = "llama-3.1-8b";
    s.method = qb::Method::fp8;
    s.bits = 8;
    const json k = json::parse(qb::quantize_summary_json(sample(), "x", s));
    EXPECT_FALSE(k["model_matches"].get<bool>());
    EXPECT_EQ(k["selected_model"], "llama-3.1-8b");
    EXPECT_EQ(k["rows"].size(), 9u);   // every row is still listed
    EXPECT_TRUE(k["selected"].empty());
}

TEST(QuantizeJson, SourceLine) {
    EXPECT_EQ(qb::quantize_source_line(sample()),
              "synthetic layers shaped as llama-2-7b, synthetic activations: 16,384 calibration / 2,048 held-out tokens");
}

// The report the site loads by default must parse (validate-data checks it as well).
TEST(QuantizeJson, CommittedReportParses) {
    const std::string path = std::string(QB_DATA_DIR) + "/quantize/synthetic-llama2-7b.json";
    std::ifstream f(path);
    ASSERT_TRUE(f) << "cannot open " << path;
    std::stringstream ss;
    ss << f.rdbuf();
    qb::QuantizeReport q;
    const auto e = parse_errors(ss.str(), &q);
    ASSERT_TRUE(e.empty()) << describe(e);
    EXPECT_EQ(q.input.model, "llama-2-7b");
    EXPECT_FALSE(q.layers.empty());
    for (const qb::QuantizeLayer& l : q.layers)
        for (const qb::QuantizeRow& r : l.results) {
            EXPECT_TRUE(r.ok) << l.name << " " << r.method;
            EXPECT_GT(r.output_rel_err, 0) << l.name << " " << r.method;
            EXPECT_LT(r.output_rel_err, 1) << l.name << " " << r.method;
        }
    // Nothing is lost or changed by reading it: the writer gives back the same document.
    EXPECT_TRUE(json::parse(qb::quantize_json(q)) == json::parse(ss.str())) << "the report does not round-trip";
}

}  // namespace
