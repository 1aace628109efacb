#include "results_json.h"

#include "json_read.h"
#include "numeric.h"

namespace qb {

using nlohmann::json;
using ojson = nlohmann::ordered_json;

namespace {

using Reader = JsonReader;

bool kernel_bits_ok(const std::string& kernel, int bits) {
    if (kernel == "fp32") return bits == 32;
    if (kernel == "fp16") return bits == 16;
    if (kernel == "w8a16" || kernel == "w8a8" || kernel == "fp8") return bits == 8;
    if (kernel == "w4a16") return bits >= 2 && bits <= 4;
    return true;
}

void read_env(Reader& r, const json& d, ResultsEnvironment& e) {
    const json* o = r.object(d, "environment", "");
    if (!o) return;
    const std::string p = "/environment";
    r.str(*o, "hostname", p, &e.hostname, true, 255);
    r.str(*o, "cpu_model", p, &e.cpu_model, true, 256);
    r.str(*o, "compiler", p, &e.compiler, true, 256);
    r.str(*o, "os", p, &e.os, true, 256);
    r.str(*o, "commit", p, &e.commit, true, 64);
    if (r.str(*o, "timestamp", p, &e.timestamp, true, 64) && !is_iso_utc(e.timestamp))
        r.fail(p + "/timestamp", "'" + e.timestamp + "' is not a UTC ISO-8601 time (YYYY-MM-DDThh:mm:ssZ)");
    r.integer(*o, "cores", p, &e.cores, 1, 1 << 20);
    r.integer(*o, "threads", p, &e.threads, 1, 1 << 20);
    if (const json* a = r.member(*o, "isa", p, true)) {
        if (!a->is_array()) r.fail(p + "/isa", "must be an array of strings");
        else if (a->size() > 64) r.fail(p + "/isa", "more than 64 entries");
        else
            for (size_t i = 0; i < a->size(); ++i) {
                const json& v = (*a)[i];
                if (!v.is_string() || v.get_ref<const std::string&>().size() > 32)
                    r.fail(p + "/isa/" + std::to_string(i), "must be a string of at most 32 characters");
                else e.isa.push_back(v.get<std::string>());
            }
    }
    auto hw = o->find("hardware_id");
    if (hw == o->end()) r.fail(p + "/hardware_id", "missing required field (null when the machine is not in hardware.json)");
    else if (!hw->is_null()) {
        if (r.str(*o, "hardware_id", p, &e.hardware_id, true, 64) && !is_kebab_id(e.hardware_id))
            r.fail(p + "/hardware_id", "'" + e.hardware_id + "' is not a lower-case kebab id");
    }
    auto g = o->find("gpu");
    if (g == o->end()) r.fail(p + "/gpu", "missing required field (null for CPU runs)");
    else if (!g->is_null()) {
        if (!g->is_object()) r.fail(p + "/gpu", "must be an object or null");
        else {
            const std::string gp = p + "/gpu";
            e.has_gpu = true;
            r.str(*g, "name", gp, &e.gpu.name, true, 256);
            r.str(*g, "driver", gp, &e.gpu.driver, true, 64);
            r.str(*g, "cuda", gp, &e.gpu.cuda, true, 64);
            r.num(*g, "l2_mb", gp, &e.gpu.l2_mb, 0, 1e6);
            if (const json* c = r.object(*g, "clocks", gp)) {
                r.num(*c, "sm_mhz", gp + "/clocks", &e.gpu.sm_clock_mhz, 0, 1e5);
                r.num(*c, "mem_mhz", gp + "/clocks", &e.gpu.mem_clock_mhz, 0, 1e5);
            }
        }
    }
    r.num(*o, "cpu_mhz", p, &e.cpu_mhz, 0, 1e5, false);
    r.num(*o, "load_avg", p, &e.load_avg, 0, 1e6, false);
}

void read_probe(Reader& r, const json& d, ResultsProbe& pr) {
    auto it = d.find("probe");
    if (it == d.end()) { r.fail("/probe", "missing required field (null when no probe ran)"); return; }
    if (it->is_null()) return;   // bench --no-probe
    const json* o = r.object(d, "probe", "");
    if (!o) return;
    const std::string p = "/probe";
    r.str(*o, "kind", p, &pr.kind, true, 32);
    r.num(*o, "gbps", p, &pr.gbps, 1e-6, 1e6);
    r.num(*o, "copy_gbps", p, &pr.copy_gbps, 0, 1e6, false);
    r.num(*o, "triad_gbps", p, &pr.triad_gbps, 0, 1e6, false);
    r.num(*o, "read_gbps", p, &pr.read_gbps, 0, 1e6, false);
    r.num(*o, "array_mb", p, &pr.array_mb, 0, 1e9, false);
}

void read_measurement(Reader& r, const json& o, const std::string& p, Measurement& m) {
    if (r.str(o, "backend", p, &m.backend, true, 16) && m.backend != "cpu" && m.backend != "cuda")
        r.fail(p + "/backend", "'" + m.backend + "' is not cpu or cuda");
    Kernel k;
    if (r.str(o, "kernel", p, &m.kernel, true, 16) && !measurement_kernel(m.kernel, &k))
        r.fail(p + "/kernel", "'" + m.kernel + "' is not fp32, fp16, w8a16, w4a16, w8a8 or fp8");
    if (r.str(o, "impl", p, &m.impl, true, 64) && m.impl.empty()) r.fail(p + "/impl", "must not be empty");
    r.str(o, "isa", p, &m.isa, false, 32);
    if (r.integer(o, "bits", p, &m.bits, 1, 32) && !kernel_bits_ok(m.kernel, m.bits))
        r.fail(p + "/bits", std::to_string(m.bits) + " bits do not fit kernel '" + m.kernel + "'");
    r.integer(o, "group_size", p, &m.group_size, 0, 1 << 24);
    r.boolean(o, "zero_point", p, &m.zero_point);
    r.integer(o, "m", p, &m.m, 1, 1 << 24);
    r.integer(o, "n", p, &m.n, 1, 1 << 24);
    r.integer(o, "k", p, &m.k, 1, 1 << 24);
    r.str(o, "shape", p, &m.shape, true, 128);
    r.integer(o, "reps", p, &m.reps, 1, 1 << 24);
    // All three are read (and their errors reported) before the order check.
    const bool t_med = r.num(o, "median_us", p, &m.median_us, 1e-6, 1e12);
    const bool t_p10 = r.num(o, "p10_us", p, &m.p10_us, 0, 1e12);
    const bool t_p90 = r.num(o, "p90_us", p, &m.p90_us, 0, 1e12);
    const bool t = t_med && t_p10 && t_p90;
    if (t && !(m.p10_us <= m.median_us && m.median_us <= m.p90_us)) r.fail(p, "needs p10_us <= median_us <= p90_us");
    r.num(o, "bytes", p, &m.bytes, 0, 1e18);
    r.num(o, "flops", p, &m.flops, 0, 1e21);
    r.num(o, "gbps", p, &m.gbps, 0, 1e6);
    r.num(o, "pct_of_probe", p, &m.pct_of_probe, 0, 1e6);
    r.boolean(o, "correct", p, &m.correct);
    r.num(o, "max_rel_err", p, &m.max_rel_err, 0, 1e30);
}

ojson env_obj(const ResultsEnvironment& e) {
    ojson o;
    o["hostname"] = e.hostname;
    o["cpu_model"] = e.cpu_model;
    o["cores"] = e.cores;
    o["threads"] = e.threads;
    o["isa"] = e.isa;
    o["compiler"] = e.compiler;
    o["os"] = e.os;
    o["commit"] = e.commit;
    o["timestamp"] = e.timestamp;
    o["hardware_id"] = e.hardware_id.empty() ? ojson(nullptr) : ojson(e.hardware_id);
    if (e.has_gpu)
        o["gpu"] = {{"name", e.gpu.name}, {"driver", e.gpu.driver}, {"cuda", e.gpu.cuda},
                    {"clocks", {{"sm_mhz", e.gpu.sm_clock_mhz}, {"mem_mhz", e.gpu.mem_clock_mhz}}}, {"l2_mb", e.gpu.l2_mb}};
    else o["gpu"] = nullptr;
    if (e.cpu_mhz > 0) o["cpu_mhz"] = e.cpu_mhz;
    if (e.load_avg >= 0) o["load_avg"] = e.load_avg;
    return o;
}

ojson measurement_obj(const Measurement& m) {
    ojson o;
    o["backend"] = m.backend;
    o["kernel"] = m.kernel;
    o["impl"] = m.impl;
    if (!m.isa.empty()) o["isa"] = m.isa;
    o["bits"] = m.bits;
    o["group_size"] = m.group_size;
    o["zero_point"] = m.zero_point;
    o["m"] = m.m;
    o["n"] = m.n;
    o["k"] = m.k;
    o["shape"] = m.shape;
    o["reps"] = m.reps;
    o["median_us"] = m.median_us;
    o["p10_us"] = m.p10_us;
    o["p90_us"] = m.p90_us;
    o["bytes"] = m.bytes;
    o["flops"] = m.flops;
    o["gbps"] = m.gbps;
    o["pct_of_probe"] = m.pct_of_probe;
    o["correct"] = m.correct;
    o["max_rel_err"] = m.max_rel_err;
    return o;
}

std::string dump(const ojson& j, int indent) { return j.dump(indent, ' ', false, ojson::error_handler_t::replace); }

uint64_t fnv1a(const std::string& s) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (unsigned char c : s) {
        h ^= c;
        h *= 0x100000001b3ull;
    }
    return h;
}

}  // namespace

bool measurement_kernel(const std::string& name, Kernel* out) {
    if (name == "fp32") { *out = Kernel::fp16; return true; }
    Kernel k;
    if (!kernel_from_name(name, &k) || k == Kernel::attn) return false;
    *out = k;
    return true;
}

bool valid_run_id(const std::string& id) {
    auto alnum = [](char ch) { return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9'); };
    bool ok = !id.empty() && id.size() <= 128 && alnum(id[0]);
    for (char ch : id) ok &= alnum(ch) || ch == '-' || ch == '.' || ch == '_';
    return ok && id.find("..") == std::string::npos;
}

bool parse_results(const std::string& text, const std::string& file_name, Results* out, std::vector<DataError>* errors) {
    Reader r{file_name, errors};
    json d;
    if (!r.doc_limited(text, "qbench.results", kResultsMaxBytes, kResultsMaxDepth, kResultsMaxString, &d)) return false;
    Results res;
    if (r.str(d, "run_id", "", &res.run_id, true, 128) && !valid_run_id(res.run_id))
        r.fail("/run_id", "'" + res.run_id + "' must be [a-z0-9][a-z0-9._-]* (it names a file)");
    read_env(r, d, res.env);
    read_probe(r, d, res.probe);
    if (const json* a = r.member(d, "measurements", "", true)) {
        // A run without a measurement has nothing to publish, calibrate or plot.
        if (!a->is_array() || a->empty()) r.fail("/measurements", "must be a non-empty array");
        else if (a->size() > kResultsMaxMeasurements) r.fail("/measurements", "more than " + std::to_string(kResultsMaxMeasurements) + " entries");
        else {
            res.measurements.reserve(a->size());
            for (size_t i = 0; i < a->size(); ++i) {
                const std::string p = "/measurements/" + std::to_string(i);
                if (!(*a)[i].is_object()) { r.fail(p, "must be an object"); continue; }
                Measurement m;
                read_measurement(r, (*a)[i], p, m);
                res.measurements.push_back(std::move(m));
                if (errors->size() - r.before > 50) { r.fail("/measurements", "too many errors; stopped"); break; }
            }
        }
    }
    if (!r.ok()) return false;
    *out = std::move(res);
    return true;
}

std::string results_json(const Results& r, int indent) {
    ojson j;
    j["schema"] = "qbench.results";
    j["version"] = 1;
    j["run_id"] = r.run_id;
    j["environment"] = env_obj(r.env);
    if (r.probe.kind.empty()) {
        j["probe"] = nullptr;
    } else {
        ojson p;
        p["kind"] = r.probe.kind;
        p["gbps"] = r.probe.gbps;
        if (r.probe.copy_gbps > 0) p["copy_gbps"] = r.probe.copy_gbps;
        if (r.probe.triad_gbps > 0) p["triad_gbps"] = r.probe.triad_gbps;
        if (r.probe.read_gbps > 0) p["read_gbps"] = r.probe.read_gbps;
        if (r.probe.array_mb > 0) p["array_mb"] = r.probe.array_mb;
        j["probe"] = p;
    }
    ojson ms = ojson::array();
    for (const Measurement& m : r.measurements) ms.push_back(measurement_obj(m));
    j["measurements"] = ms;
    return dump(j, indent) + (indent >= 0 ? "\n" : "");
}

std::string results_fingerprint(const Results& r) {
    ojson j;
    j["environment"] = env_obj(r.env);
    ojson ms = ojson::array();
    for (const Measurement& m : r.measurements) ms.push_back(measurement_obj(m));
    j["measurements"] = ms;
    char b[17];
    const uint64_t h = fnv1a(dump(j, -1));
    for (int i = 0; i < 16; ++i) b[i] = "0123456789abcdef"[(h >> (60 - 4 * i)) & 15];
    b[16] = 0;
    return b;
}

std::string make_run_id(const Results& r) {
    std::string ts;
    for (char c : r.env.timestamp.substr(0, 19))
        if ((c >= '0' && c <= '9') || c == 'T') ts += c;
    if (ts.size() != 15) ts = "00000000T000000";
    std::string host;
    for (char c : r.env.hostname) {
        const char l = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
        if ((l >= 'a' && l <= 'z') || (l >= '0' && l <= '9')) host += l;
        else if (!host.empty() && host.back() != '-') host += '-';
        if (host.size() >= 32) break;
    }
    while (!host.empty() && host.back() == '-') host.pop_back();
    if (host.empty()) host = "host";
    std::string id = ts + "z-" + host + "-" + results_fingerprint(r).substr(0, 8);
    for (char& c : id) c = (c == 'T') ? 't' : c;
    return id;
}

ResultsIndexEntry index_entry(const Results& r, const std::string& file) {
    ResultsIndexEntry e;
    e.run_id = r.run_id;
    e.file = file;
    e.timestamp = r.env.timestamp;
    e.hostname = r.env.hostname;
    e.cpu_model = r.env.has_gpu ? r.env.gpu.name : r.env.cpu_model;
    e.hardware_id = r.env.hardware_id;
    e.fingerprint = results_fingerprint(r);
    e.measurements = (int)r.measurements.size();
    return e;
}

std::string results_index_json(const std::vector<ResultsIndexEntry>& runs) {
    ojson j;
    j["schema"] = "qbench.results-index";
    j["version"] = 1;
    ojson a = ojson::array();
    for (const ResultsIndexEntry& e : runs)
        a.push_back({{"run_id", e.run_id}, {"file", e.file}, {"timestamp", e.timestamp}, {"hostname", e.hostname},
                     {"device", e.cpu_model}, {"hardware_id", e.hardware_id.empty() ? ojson(nullptr) : ojson(e.hardware_id)},
                     {"measurements", e.measurements}, {"fingerprint", e.fingerprint}});
    j["runs"] = a;
    return dump(j, 2) + "\n";
}

namespace {

// Finds the value of top-level key `key` in a JSON object text: [begin, end) of its value, by a
// scan that skips strings. The text has been parsed already, so it is well-formed.
bool find_top_level_value(const std::string& t, const std::string& key, size_t* begin, size_t* end) {
    int depth = 0;
    for (size_t i = 0; i < t.size(); ++i) {
        const char c = t[i];
        if (c == '"') {
            const size_t s = i;
            for (++i; i < t.size() && t[i] != '"'; ++i)
                if (t[i] == '\\') ++i;
            if (depth == 1 && t.compare(s + 1, i - s - 1, key) == 0) {
                size_t j = i + 1;
                while (j < t.size() && (t[j] == ' ' || t[j] == '\n' || t[j] == '\r' || t[j] == '\t')) ++j;
                if (j >= t.size() || t[j] != ':') continue;   // a string value, not a key
                for (++j; j < t.size() && (t[j] == ' ' || t[j] == '\n' || t[j] == '\r' || t[j] == '\t'); ++j) {}
                *begin = j;
                int d = 0;
                bool in_str = false;
                for (size_t k = j; k < t.size(); ++k) {
                    if (in_str) {
                        if (t[k] == '\\') ++k;
                        else if (t[k] == '"') in_str = false;
                        continue;
                    }
                    if (t[k] == '"') in_str = true;
                    else if (t[k] == '[' || t[k] == '{') ++d;
                    else if (t[k] == ']' || t[k] == '}') {
                        if (--d == 0) { *end = k + 1; return true; }
                    } else if (d == 0 && (t[k] == ',' || t[k] == '\n')) { *end = k; return true; }
                }
                return false;
            }
            continue;
        }
        if (c == '{' || c == '[') ++depth;
        else if (c == '}' || c == ']') --depth;
    }
    return false;
}

std::string str_field(const ojson& x, const char* k) {
    auto i = x.find(k);
    return (i != x.end() && i->is_string()) ? i->get<std::string>() : std::string();
}

}  // namespace

bool efficiency_with_overrides(const std::string& eff_text, const std::vector<EffOverride>& add, std::string* out,
                               std::string* err) {
    const ojson d = ojson::parse(eff_text, nullptr, false);
    if (d.is_discarded() || !d.is_object()) { *err = "efficiency.json is not a JSON object"; return false; }
    ojson list = ojson::array();
    auto it = d.find("overrides");
    if (it != d.end() && it->is_array()) list = *it;
    for (const EffOverride& o : add) {
        ojson e;
        e["hardware"] = o.hardware;
        e["kernel"] = kernel_name(o.kernel);
        e["bw"] = o.eff.bw;
        e["compute"] = o.eff.compute;
        e["source"] = o.source;
        bool replaced = false;
        for (ojson& x : list)
            if (x.is_object() && str_field(x, "hardware") == o.hardware && str_field(x, "kernel") == kernel_name(o.kernel)) {
                x = e;
                replaced = true;
            }
        if (!replaced) list.push_back(e);
    }
    // Splice only the overrides array into the original text, one entry per line, so the rest
    // of the hand-formatted file (and its git history) is untouched.
    std::string arr = "[";
    for (size_t i = 0; i < list.size(); ++i) arr += (i ? ",\n    " : "\n    ") + dump(list[i], -1);
    arr += list.empty() ? "]" : "\n  ]";
    size_t b = 0, e = 0;
    if (find_top_level_value(eff_text, "overrides", &b, &e)) {
        *out = eff_text.substr(0, b) + arr + eff_text.substr(e);
    } else {
        const size_t close = eff_text.rfind('}');
        size_t last = close;
        while (last > 0 && (eff_text[last - 1] == ' ' || eff_text[last - 1] == '\n' || eff_text[last - 1] == '\r' || eff_text[last - 1] == '\t')) --last;
        const bool empty_obj = last > 0 && eff_text[last - 1] == '{';
        *out = eff_text.substr(0, last) + (empty_obj ? "\n  " : ",\n  ") + "\"overrides\": " + arr + "\n" + eff_text.substr(close);
    }
    return true;
}

}  // namespace qb
