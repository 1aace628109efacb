// results_check: the qbench.results v1 rules applied to uploads.
#include <gtest/gtest.h>

#include <functional>

#include "results_check.h"
#include "server_test_util.h"

using namespace qb::server;
using namespace qbt;

namespace {

// The first problem's pointer, or "" when the document is valid.
std::string first_problem(const json& doc) {
    const std::vector<ResultsProblem> p = check_results(doc);
    return p.empty() ? "" : p.front().pointer;
}

}  // namespace

TEST(ResultsCheck, ValidDocumentPasses) {
    EXPECT_TRUE(check_results(valid_run("run-1")).empty());
    json d = valid_run("2026-11-26T12:00:00Z_h100.cuda-1");
    d["environment"].erase("hardware_id");  // nullable keys may be absent
    d["environment"]["gpu"] = {{"name", "H100"}};
    d["extra"] = "unknown keys are allowed";
    d["measurements"][0]["backend"] = "cuda";
    d["measurements"][0]["group_size"] = 0;
    EXPECT_TRUE(check_results(d).empty()) << check_results(d).front().str();
}

TEST(ResultsCheck, EachRuleNamesItsPointer) {
    struct Case {
        const char* pointer;
        std::function<void(json&)> edit;
    };
    const Case cases[] = {
        {"/schema", [](json& d) { d["schema"] = "qbench.prediction"; }},
        {"/version", [](json& d) { d["version"] = 2; }},
        {"/version", [](json& d) { d["version"] = "1"; }},
        {"/run_id", [](json& d) { d["run_id"] = "../evil"; }},
        {"/run_id", [](json& d) { d["run_id"] = ""; }},
        {"/run_id", [](json& d) { d["run_id"] = std::string(129, 'a'); }},
        {"/run_id", [](json& d) { d["run_id"] = 7; }},
        {"/environment", [](json& d) { d["environment"] = "x"; }},
        {"/environment/hostname", [](json& d) { d["environment"].erase("hostname"); }},
        {"/environment/cores", [](json& d) { d["environment"]["cores"] = 0; }},
        {"/environment/threads", [](json& d) { d["environment"]["threads"] = 2.5; }},
        {"/environment/isa/1", [](json& d) { d["environment"]["isa"][1] = 3; }},
        {"/environment/gpu", [](json& d) { d["environment"]["gpu"] = "H100"; }},
        {"/environment/hardware_id", [](json& d) { d["environment"]["hardware_id"] = 5; }},
        {"/probe/gbps", [](json& d) { d["probe"]["gbps"] = 0; }},
        {"/probe/kind", [](json& d) { d["probe"].erase("kind"); }},
        {"/measurements", [](json& d) { d["measurements"] = json::array(); }},
        {"/measurements", [](json& d) { d.erase("measurements"); }},
        {"/measurements/0", [](json& d) { d["measurements"][0] = 1; }},
        {"/measurements/0/backend", [](json& d) { d["measurements"][0]["backend"] = "tpu"; }},
        {"/measurements/0/bits", [](json& d) { d["measurements"][0]["bits"] = "4"; }},
        {"/measurements/0/group_size", [](json& d) { d["measurements"][0]["group_size"] = -1; }},
        {"/measurements/0/zero_point", [](json& d) { d["measurements"][0]["zero_point"] = 0; }},
        {"/measurements/0/m", [](json& d) { d["measurements"][0]["m"] = 0; }},
        {"/measurements/0/reps", [](json& d) { d["measurements"][0].erase("reps"); }},
        {"/measurements/0/median_us", [](json& d) { d["measurements"][0]["median_us"] = -1; }},
        {"/measurements/0/gbps", [](json& d) { d["measurements"][0]["gbps"] = "fast"; }},
        {"/measurements/0/correct", [](json& d) { d["measurements"][0]["correct"] = nullptr; }},
        {"/measurements/0/kernel", [](json& d) { d["measurements"][0]["kernel"] = ""; }},
    };
    for (const Case& c : cases) {
        json d = valid_run("run-1");
        c.edit(d);
        EXPECT_EQ(first_problem(d), c.pointer) << d.dump();
    }
    EXPECT_EQ(first_problem(json::array()), "");
    EXPECT_FALSE(check_results(json::array()).empty());
    EXPECT_EQ(check_results(json::object(), 3).size(), 3u);  // capped
}

TEST(ResultsCheck, RunIdRules) {
    EXPECT_TRUE(valid_run_id("a"));
    EXPECT_TRUE(valid_run_id("2026-11-26T12:00:00Z_h100.cuda"));
    EXPECT_TRUE(valid_run_id(std::string(128, 'x')));
    EXPECT_FALSE(valid_run_id(std::string(129, 'x')));
    for (const char* bad : {"", "a/b", "a\\b", "a b", "a%2e", "\xc3\xa9"}) EXPECT_FALSE(valid_run_id(bad)) << bad;
    EXPECT_TRUE(valid_run_id(".."));  // a valid id, but never a file name:
    EXPECT_FALSE(storable_run_id(".."));
    EXPECT_FALSE(storable_run_id(".hidden"));
    EXPECT_TRUE(storable_run_id("run.1"));
}
