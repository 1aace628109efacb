// data_json.h: the one reader of data/*.json (every error names file, JSON pointer and reason, and a
// failed load leaves the caller's catalog alone) and the JSON documents qbench writes.
#include <gtest/gtest.h>

#include <functional>
#include <nlohmann/json.hpp>

#include "data_json.h"
#include "fixture.h"
#include "predict.h"
#include "share_link.h"
#include "sweep.h"

namespace {

using nlohmann::json;
using qbt::catalog;

// The four embedded files as JSON, to be broken one edit at a time.
struct Docs {
    json mc, hw, eff, acc;
};

Docs embedded_docs() {
    const qb::DataTexts t = qb::embedded_data();
    return {json::parse(t.model_catalog), json::parse(t.hardware), json::parse(t.efficiency), json::parse(t.accuracy)};
}

qb::DataTexts texts_of(const Docs& d) {
    qb::DataTexts t = qb::embedded_data();
    t.model_catalog = d.mc.dump(2);
    t.hardware = d.hw.dump(2);
    t.efficiency = d.eff.dump(2);
    t.accuracy = d.acc.dump(2);
    return t;
}

struct Load {
    bool ok = false;
    std::vector<qb::DataError> errors;
    bool untouched = false;   // the output catalog still holds exactly what the caller put there
    std::string all() const {
        std::string s;
        for (const qb::DataError& e : errors) s += e.str() + "\n";
        return s;
    }
};

Load load(const qb::DataTexts& t) {
    Load r;
    qb::Catalog out;
    qb::ModelArch sentinel;
    sentinel.id = "sentinel";
    out.models.push_back(sentinel);
    r.ok = qb::load_catalog(t, &out, &r.errors);
    r.untouched = out.models.size() == 1 && out.models[0].id == "sentinel" && out.hardware.empty() &&
                  out.api_models.empty() && out.eff_classes.empty() && out.eff_overrides.empty() &&
                  out.accuracy.empty() && out.acc_sources.empty();
    return r;
}

Load load_edited(const std::function<void(Docs&)>& edit) {
    Docs d = embedded_docs();
    edit(d);
    return load(texts_of(d));
}

// The load failed, left the catalog alone and reported (file, pointer, reason).
void expect_error(const Load& r, const std::string& file, const std::string& pointer, const std::string& reason) {
    EXPECT_FALSE(r.ok);
    EXPECT_TRUE(r.untouched) << "a failed load must leave the output catalog unchanged";
    bool found = false;
    for (const qb::DataError& e : r.errors)
        found |= e.file.find(file) != std::string::npos && e.pointer == pointer && e.reason.find(reason) != std::string::npos;
    EXPECT_TRUE(found) << "no error (" << file << ", " << pointer << ", ..." << reason << "...) among:\n" << r.all();
}

TEST(DataJson, EmbeddedDataLoads) {
    const Load r = load(qb::embedded_data());
    ASSERT_TRUE(r.ok) << r.all();
    EXPECT_TRUE(r.errors.empty());
    const qb::Catalog& c = catalog();
    EXPECT_EQ(c.models.size(), embedded_docs().mc["models"].size());
    EXPECT_EQ(c.hardware.size(), embedded_docs().hw["hardware"].size());
    EXPECT_EQ(c.accuracy.size(), embedded_docs().acc["results"].size());
    EXPECT_EQ(c.eff_classes.size(), 5u);
    ASSERT_NE(c.model("llama-2-7b"), nullptr);
    EXPECT_EQ(c.model("llama-2-7b")->head_dim, 128);
    EXPECT_EQ(c.hw("h100-sxm")->peak.fp16, 989);
    EXPECT_LT(c.hw("a100-80gb")->peak.fp8, 0) << "null peak = no hardware path";
    EXPECT_EQ(c.hw("apple-m2-ultra")->kind, qb::HwKind::apple);
    EXPECT_EQ(c.api("claude-3-5-sonnet")->usd_per_m_output, 15.0);
}

TEST(DataJson, MalformedJson) {
    qb::DataTexts t = qb::embedded_data();
    t.model_catalog = "{\"schema\": \"qbench.model-catalog\", \"version\": 1, \"models\": [";
    expect_error(load(t), "model-catalog.json", "", "malformed");
    t = qb::embedded_data();
    t.accuracy = "[1, 2, 3]";
    expect_error(load(t), "accuracy.json", "", "object");
    t = qb::embedded_data();
    t.hardware = "";
    expect_error(load(t), "hardware.json", "", "malformed");
}

TEST(DataJson, FileNamesComeFromTheTexts) {
    qb::DataTexts t = qb::embedded_data();
    t.efficiency = "nope";
    t.efficiency_name = "/some/dir/efficiency.json";
    const Load r = load(t);
    ASSERT_FALSE(r.errors.empty());
    EXPECT_EQ(r.errors[0].file, "/some/dir/efficiency.json");
    EXPECT_EQ(r.errors[0].str().rfind("/some/dir/efficiency.json: ", 0), 0u) << r.errors[0].str();
}

TEST(DataJson, WrongSchemaOrVersion) {
    expect_error(load_edited([](Docs& d) { d.hw["schema"] = "qbench.hardwares"; }), "hardware.json", "/schema", "qbench.hardware");
    expect_error(load_edited([](Docs& d) { d.eff["version"] = 2; }), "efficiency.json", "/version", "version 2");
    expect_error(load_edited([](Docs& d) { d.acc.erase("schema"); }), "accuracy.json", "/schema", "missing required field");
    expect_error(load_edited([](Docs& d) { d.mc["version"] = "1"; }), "model-catalog.json", "/version", "integer");
}

TEST(DataJson, MissingRequiredField) {
    // The brief's example: drop "layers" from models[0].
    const Load r = load_edited([](Docs& d) { d.mc["models"][0].erase("layers"); });
    expect_error(r, "model-catalog.json", "/models/0/layers", "missing required field");
    for (const qb::DataError& e : r.errors) {
        if (e.pointer == "/models/0/layers") {
            EXPECT_NE(e.str().find("model-catalog.json"), std::string::npos) << e.str();
        }
    }
    expect_error(load_edited([](Docs& d) { d.hw["hardware"][3]["price"].erase("usd_per_hour"); }), "hardware.json",
                 "/hardware/3/price/usd_per_hour", "missing required field");
    expect_error(load_edited([](Docs& d) { d.mc["models"][4]["name"] = nullptr; }), "model-catalog.json", "/models/4/name",
                 "missing required field");
}

TEST(DataJson, WrongType) {
    expect_error(load_edited([](Docs& d) { d.mc["models"][1]["hidden"] = "5120"; }), "model-catalog.json", "/models/1/hidden",
                 "must be an integer");
    expect_error(load_edited([](Docs& d) { d.mc["models"][1]["layers"] = 40.5; }), "model-catalog.json", "/models/1/layers",
                 "must be an integer");
    expect_error(load_edited([](Docs& d) { d.hw["hardware"][0]["name"] = 5; }), "hardware.json", "/hardware/0/name",
                 "must be a string");
    expect_error(load_edited([](Docs& d) { d.mc["models"][2]["tied_embeddings"] = 0; }), "model-catalog.json",
                 "/models/2/tied_embeddings", "true or false");
    expect_error(load_edited([](Docs& d) { d.acc["results"][5]["ppl"] = "5.7"; }), "accuracy.json", "/results/5/ppl",
                 "must be a number");
    expect_error(load_edited([](Docs& d) { d.mc["models"] = json::object(); }), "model-catalog.json", "/models", "must be an array");
}

TEST(DataJson, OutOfRangeValues) {
    expect_error(load_edited([](Docs& d) { d.hw["hardware"][2]["bandwidth_gbps"] = -3350; }), "hardware.json",
                 "/hardware/2/bandwidth_gbps", "out of range");
    expect_error(load_edited([](Docs& d) { d.hw["hardware"][2]["max_devices"] = 0; }), "hardware.json",
                 "/hardware/2/max_devices", "out of range");
    expect_error(load_edited([](Docs& d) { d.eff["classes"][0]["kernels"]["fp16"]["bw"] = 1.5; }), "efficiency.json",
                 "/classes/0/kernels/fp16/bw", "out of range");
    expect_error(load_edited([](Docs& d) { d.mc["models"][0]["id"] = "Llama_2"; }), "model-catalog.json", "/models/0/id",
                 "kebab");
}

TEST(DataJson, DuplicateIds) {
    expect_error(load_edited([](Docs& d) { d.mc["models"][1]["id"] = "llama-2-7b"; }), "model-catalog.json", "/models/1",
                 "duplicate id 'llama-2-7b'");
    expect_error(load_edited([](Docs& d) { d.hw["hardware"][4]["id"] = "h100-sxm"; }), "hardware.json", "/hardware/4",
                 "duplicate id 'h100-sxm'");
    expect_error(load_edited([](Docs& d) { d.mc["api_models"][2]["id"] = "haiku-3.5"; }), "model-catalog.json",
                 "/api_models/2", "duplicate id 'haiku-3.5'");
}

TEST(DataJson, DuplicatePointerIsTheJsonIndexEvenAfterABadEntry) {
    // models[5] is broken (dropped from the catalog) and models[7] repeats models[6]'s id: the
    // duplicate is element 7 of the file, whatever was dropped before it.
    const Load r = load_edited([](Docs& d) {
        d.mc["models"][5].erase("layers");
        d.mc["models"][7]["id"] = d.mc["models"][6]["id"];
    });
    expect_error(r, "model-catalog.json", "/models/5/layers", "missing required field");
    expect_error(r, "model-catalog.json", "/models/7", "duplicate id");
}

TEST(DataJson, HeadsMustBeAMultipleOfKvHeads) {
    expect_error(load_edited([](Docs& d) { d.mc["models"][2]["kv_heads"] = 7; }), "model-catalog.json", "/models/2/kv_heads",
                 "multiple of kv_heads");
}

TEST(DataJson, AccuracyRowsMustResolve) {
    expect_error(load_edited([](Docs& d) { d.acc["results"][0]["model"] = "llama-9"; }), "accuracy.json", "/results/0/model",
                 "not in model-catalog.json");
    expect_error(load_edited([](Docs& d) { d.acc["results"][1]["source"] = "nope"; }), "accuracy.json", "/results/1/source",
                 "not a key of /sources");
    expect_error(load_edited([](Docs& d) { d.acc["results"][2]["method"] = "gguf"; }), "accuracy.json", "/results/2/method",
                 "unknown method");
}

TEST(DataJson, HardwareArchNeedsAnEfficiencyClass) {
    expect_error(load_edited([](Docs& d) { d.hw["hardware"][0]["arch"] = "blackwell"; }), "hardware.json", "/hardware/0/arch",
                 "efficiency.json");
    // ... and the other way round: removing the class orphans every hardware of that arch.
    const Load r = load_edited([](Docs& d) {
        ASSERT_EQ(d.eff["classes"][0]["arch"], "hopper");
        ASSERT_EQ(d.hw["hardware"][2]["id"], "h100-sxm");
        d.eff["classes"].erase(0);
    });
    expect_error(r, "hardware.json", "/hardware/2/arch", "'hopper' has no class");
    // The pointer is the file's index even when an earlier entry was dropped for another error.
    const Load s = load_edited([](Docs& d) {
        d.hw["hardware"][0].erase("name");
        d.hw["hardware"][3]["arch"] = "blackwell";
    });
    expect_error(s, "hardware.json", "/hardware/0/name", "missing required field");
    expect_error(s, "hardware.json", "/hardware/3/arch", "'blackwell' has no class");
}

TEST(DataJson, OverridesMustNameAKernelAndAHardware) {
    expect_error(load_edited([](Docs& d) {
                     d.eff["overrides"] = json::array(
                         {{{"hardware", "h100-sxm"}, {"kernel", "w2a16"}, {"bw", 0.8}, {"compute", 0.5}, {"source", "test"}}});
                 }),
                 "efficiency.json", "/overrides/0/kernel", "unknown kernel class 'w2a16'");
    expect_error(load_edited([](Docs& d) {
                     d.eff["overrides"] = json::array(
                         {{{"hardware", "b200"}, {"kernel", "w4a16"}, {"bw", 0.8}, {"compute", 0.5}, {"source", "test"}}});
                 }),
                 "efficiency.json", "/overrides/0/hardware", "not in hardware.json");
}

TEST(DataJson, AValidOverrideWinsOverTheClass) {
    Docs d = embedded_docs();
    d.eff["overrides"] = json::array({{{"hardware", "h100-sxm"}, {"kernel", "w4a16"}, {"bw", 0.5}, {"compute", 0.25}, {"source", "test"}}});
    qb::Catalog c;
    std::vector<qb::DataError> errs;
    ASSERT_TRUE(qb::load_catalog(texts_of(d), &c, &errs)) << (errs.empty() ? "" : errs[0].str());
    const qb::Eff e = c.eff(*c.hw("h100-sxm"), qb::Kernel::w4a16);
    EXPECT_EQ(e.bw, 0.5);
    EXPECT_EQ(e.compute, 0.25);
    // Other kernels and other hardware of the class keep the class figures.
    const qb::EffClass* hopper = c.eff_class("hopper");
    ASSERT_NE(hopper, nullptr);
    EXPECT_EQ(c.eff(*c.hw("h100-sxm"), qb::Kernel::fp16).bw, hopper->kernel[(int)qb::Kernel::fp16].bw);
    EXPECT_EQ(c.eff(*c.hw("h200"), qb::Kernel::w4a16).bw, hopper->kernel[(int)qb::Kernel::w4a16].bw);
    EXPECT_NE(hopper->kernel[(int)qb::Kernel::w4a16].bw, 0.5);
}

TEST(DataJson, UnknownFieldsAreIgnored) {
    const Load r = load_edited([](Docs& d) {
        d.mc["models"][0]["future_field"] = {1, 2, 3};
        d.hw["extra"] = "x";
    });
    EXPECT_TRUE(r.ok) << r.all();
}

TEST(DataJson, ErrorsAccumulateAcrossFiles) {
    // validate-data reports every problem at once, each under its own file.
    const Load r = load_edited([](Docs& d) {
        d.mc["models"][1]["hidden"] = -1;
        d.hw["hardware"][1]["memory_gb"] = "80";
        d.acc["results"][3]["source"] = "nope";
    });
    expect_error(r, "model-catalog.json", "/models/1/hidden", "out of range");
    expect_error(r, "hardware.json", "/hardware/1/memory_gb", "must be a number");
    expect_error(r, "accuracy.json", "/results/3/source", "not a key");
}

// ---- output documents ----

TEST(PredictionJson, HasEveryPromisedKey) {
    const qb::PredictResult r = qb::predict(catalog(), qb::Selections{});
    ASSERT_TRUE(r.ok());
    const json j = json::parse(qb::prediction_json(catalog(), r.p));
    EXPECT_EQ(j["schema"], "qbench.prediction");
    EXPECT_EQ(j["version"], 1);
    for (const char* k : {"selections", "share_link", "memory_gb", "latency_ms", "tokens_per_s", "accuracy",
                          "calculated_monthly_cost", "comparison_delta"})
        EXPECT_TRUE(j.contains(k)) << k;
    for (const char* k : {"weights", "kv_cache", "activations", "total", "capacity", "fits"})
        EXPECT_TRUE(j["memory_gb"].contains(k)) << "memory_gb." << k;
    for (const char* k : {"ttft", "tpot", "request"}) EXPECT_TRUE(j["latency_ms"].contains(k)) << "latency_ms." << k;
    for (const char* k : {"ppl", "ppl_fp16", "delta_pct", "provenance", "source"})
        EXPECT_TRUE(j["accuracy"].contains(k)) << "accuracy." << k;
    for (const char* k : {"usd", "gpus"}) EXPECT_TRUE(j["calculated_monthly_cost"].contains(k)) << "calculated_monthly_cost." << k;
    ASSERT_TRUE(j["comparison_delta"].contains("vs_fp16"));
    ASSERT_TRUE(j["comparison_delta"].contains("vs_api"));
    for (const std::string& id : qb::Selections{}.compare_api)
        EXPECT_TRUE(j["comparison_delta"]["vs_api"].contains(id)) << "comparison_delta.vs_api." << id;

    // The values are the prediction's.
    EXPECT_EQ(j["share_link"], "#v=1");
    EXPECT_EQ(j["selections"]["model"], "llama-2-7b");
    EXPECT_EQ(j["selections"]["method"], "gptq");
    EXPECT_EQ(j["memory_gb"]["total"].get<double>(), r.p.mem.total_gb);
    EXPECT_EQ(j["memory_gb"]["fits"].get<bool>(), r.p.mem.fits);
    EXPECT_EQ(j["latency_ms"]["tpot"].get<double>(), r.p.lat.tpot_ms);
    EXPECT_EQ(j["tokens_per_s"].get<double>(), r.p.lat.tokens_per_s);
    EXPECT_EQ(j["accuracy"]["ppl"].get<double>(), 5.63);
    EXPECT_EQ(j["accuracy"]["ppl_fp16"].get<double>(), 5.47);
    EXPECT_EQ(j["accuracy"]["provenance"], "published");
    EXPECT_EQ(j["calculated_monthly_cost"]["usd"].get<double>(), r.p.cost.usd_month);
    EXPECT_EQ(j["calculated_monthly_cost"]["gpus"].get<int>(), 1);
    EXPECT_EQ(j["comparison_delta"]["vs_api"]["claude-3-5-sonnet"]["api_usd_month"].get<double>(), r.p.vs_api[0].usd_month);
    EXPECT_EQ(j["comparison_delta"]["vs_fp16"]["decode_speedup"].get<double>(), r.p.vs_fp16.decode_speedup);
}

TEST(PredictionJson, UnknownPerplexityIsNull) {
    qb::Selections s;
    s.model = "tinyllama-1.1b";
    qb::apply_method_defaults(s, qb::Method::fp16);
    const qb::PredictResult r = qb::predict(catalog(), s);
    ASSERT_TRUE(r.ok()) << qbt::describe(r.errors);
    const json j = json::parse(qb::prediction_json(catalog(), r.p));
    EXPECT_TRUE(j["accuracy"]["ppl"].is_null());
    EXPECT_TRUE(j["accuracy"]["delta_pct"].is_null());
    EXPECT_EQ(j["accuracy"]["provenance"], "none");
    EXPECT_TRUE(j["crossover_batch"].is_null()) << "FP16 has no crossover";
}

TEST(SweepJson, OnePointPerSweepPoint) {
    const std::vector<qb::SweepPoint> pts = qb::sweep(catalog(), qb::Selections{});
    const json j = json::parse(qb::sweep_json(catalog(), qb::Selections{}, pts));
    EXPECT_EQ(j["schema"], "qbench.sweep");
    ASSERT_EQ(j["points"].size(), pts.size());
    for (size_t i = 0; i < pts.size(); ++i) {
        EXPECT_EQ(j["points"][i]["pareto"].get<bool>(), pts[i].pareto);
        EXPECT_EQ(j["points"][i]["tpot_ms"].get<double>(), pts[i].tpot_ms);
        EXPECT_EQ(j["points"][i]["share_link"], "#" + qb::encode_link(pts[i].sel));
    }
}

TEST(SelectionsJson, CarriesEveryField) {
    qb::Selections s;
    s.group_size = 0;
    s.input_tokens_per_day = 12345678.9;
    const json j = json::parse(qb::selections_json(s));
    EXPECT_EQ(j["group_size"], "per-channel");
    EXPECT_EQ(j["input_tokens_per_day"].get<double>(), 12345678.9);
    EXPECT_EQ(j["calibration"]["samples"], 128);
    EXPECT_EQ(j["compare_api"].size(), 3u);
    const json e = json::parse(qb::errors_json({{"batch", "batch must be 1..4096, not 0"}}));
    EXPECT_EQ(e["errors"][0]["field"], "batch");
}

}  // namespace
