// results_check.cpp: schema rules for qbench.results v1 (see results_check.h: temporary until
// shared/results_json lands).
#include "results_check.h"

#include <nlohmann/json.hpp>

namespace qb::server {

namespace {

using nlohmann::json;

// Collects problems; each check names the JSON pointer of what it looked at.
class Checker {
public:
    explicit Checker(size_t max) : max_(max) {}
    std::vector<ResultsProblem> problems;

    bool full() const { return problems.size() >= max_; }
    void add(const std::string& ptr, std::string why) {
        if (!full()) problems.push_back({ptr, std::move(why)});
    }

    // Member lookup; reports a missing key unless `optional`.
    const json* member(const json& obj, const std::string& ptr, const char* key, bool optional = false) {
        const auto it = obj.find(key);
        if (it == obj.end()) {
            if (!optional) add(ptr + "/" + key, "missing");
            return nullptr;
        }
        return &*it;
    }
    void string(const json& obj, const std::string& ptr, const char* key, bool non_empty = false) {
        if (const json* v = member(obj, ptr, key)) {
            if (!v->is_string()) add(ptr + "/" + key, "must be a string");
            else if (non_empty && v->get_ref<const std::string&>().empty()) add(ptr + "/" + key, "must not be empty");
        }
    }
    void integer(const json& obj, const std::string& ptr, const char* key, long long lo) {
        if (const json* v = member(obj, ptr, key)) {
            if (!v->is_number_integer()) add(ptr + "/" + key, "must be an integer");
            else if (v->is_number_unsigned() ? lo > 0 && v->get<unsigned long long>() < static_cast<unsigned long long>(lo)
                                             : v->get<long long>() < lo)
                add(ptr + "/" + key, "must be >= " + std::to_string(lo));
        }
    }
    // Numbers >= 0 (or > 0 when `positive`). JSON text cannot carry NaN or infinity.
    void number(const json& obj, const std::string& ptr, const char* key, bool positive = false) {
        if (const json* v = member(obj, ptr, key)) {
            if (!v->is_number()) add(ptr + "/" + key, "must be a number");
            else if (positive ? !(v->get<double>() > 0) : v->get<double>() < 0)
                add(ptr + "/" + key, positive ? "must be > 0" : "must be >= 0");
        }
    }
    void boolean(const json& obj, const std::string& ptr, const char* key) {
        if (const json* v = member(obj, ptr, key); v && !v->is_boolean()) add(ptr + "/" + key, "must be true or false");
    }
    // Present-or-absent; null allowed.
    void nullable(const json& obj, const std::string& ptr, const char* key, bool want_object) {
        if (const json* v = member(obj, ptr, key, true); v && !v->is_null()) {
            if (want_object && !v->is_object()) add(ptr + "/" + key, "must be an object or null");
            if (!want_object && !v->is_string()) add(ptr + "/" + key, "must be a string or null");
        }
    }

private:
    size_t max_;
};

void check_environment(Checker& c, const json& env) {
    const std::string p = "/environment";
    if (!env.is_object()) { c.add(p, "must be an object"); return; }
    for (const char* k : {"hostname", "cpu_model", "compiler", "os", "commit", "timestamp"}) c.string(env, p, k);
    c.integer(env, p, "cores", 1);
    c.integer(env, p, "threads", 1);
    if (const json* isa = c.member(env, p, "isa")) {
        if (!isa->is_array()) c.add(p + "/isa", "must be an array of strings");
        else
            for (size_t i = 0; i < isa->size(); ++i)
                if (!(*isa)[i].is_string()) c.add(p + "/isa/" + std::to_string(i), "must be a string");
    }
    c.nullable(env, p, "hardware_id", false);
    c.nullable(env, p, "gpu", true);
}

void check_measurement(Checker& c, const json& m, const std::string& p) {
    if (!m.is_object()) { c.add(p, "must be an object"); return; }
    if (const json* b = c.member(m, p, "backend"); b && !(b->is_string() && (*b == "cpu" || *b == "cuda")))
        c.add(p + "/backend", "must be \"cpu\" or \"cuda\"");
    c.string(m, p, "kernel", true);
    c.string(m, p, "impl");
    c.integer(m, p, "bits", 1);
    c.integer(m, p, "group_size", 0);
    c.boolean(m, p, "zero_point");
    for (const char* k : {"m", "n", "k"}) c.integer(m, p, k, 1);
    c.string(m, p, "shape");
    c.integer(m, p, "reps", 1);
    for (const char* k : {"median_us", "p10_us", "p90_us", "bytes", "flops", "gbps", "pct_of_probe", "max_rel_err"}) c.number(m, p, k);
    c.boolean(m, p, "correct");
}

}  // namespace

bool valid_run_id(std::string_view id) {
    if (id.empty() || id.size() > 128) return false;
    for (const char ch : id) {
        const bool ok = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' ||
                        ch == ':' || ch == '-';
        if (!ok) return false;
    }
    return true;
}

bool storable_run_id(std::string_view id) { return valid_run_id(id) && id.front() != '.'; }

std::vector<ResultsProblem> check_results(const json& doc, size_t max_problems) {
    Checker c(max_problems == 0 ? 1 : max_problems);
    if (!doc.is_object()) {
        c.add("", "must be a JSON object");
        return c.problems;
    }
    if (const json* s = c.member(doc, "", "schema"); s && *s != "qbench.results") c.add("/schema", "must be \"qbench.results\"");
    if (const json* v = c.member(doc, "", "version"); v && !(v->is_number_integer() && *v == 1))
        c.add("/version", "must be 1 (the only version this server reads)");
    if (const json* id = c.member(doc, "", "run_id")) {
        if (!id->is_string() || !valid_run_id(id->get_ref<const std::string&>()))
            c.add("/run_id", "must be a string of 1-128 characters from A-Z a-z 0-9 . _ : -");
    }
    if (const json* env = c.member(doc, "", "environment")) check_environment(c, *env);
    if (const json* probe = c.member(doc, "", "probe")) {
        if (!probe->is_object()) c.add("/probe", "must be an object");
        else {
            c.string(*probe, "/probe", "kind", true);
            c.number(*probe, "/probe", "gbps", true);
        }
    }
    if (const json* ms = c.member(doc, "", "measurements")) {
        if (!ms->is_array() || ms->empty()) c.add("/measurements", "must be a non-empty array");
        else
            for (size_t i = 0; i < ms->size() && !c.full(); ++i) check_measurement(c, (*ms)[i], "/measurements/" + std::to_string(i));
    }
    return c.problems;
}

}  // namespace qb::server
