#include "data_json.h"

#include "json_read.h"
#include "numeric.h"
#include "share_link.h"

namespace qb {

using nlohmann::json;
using ojson = nlohmann::ordered_json;

namespace {

using Reader = JsonReader;

// Optional peak: null means "no hardware path" (stored as -1).
bool peak(Reader& r, const json& o, const char* key, const std::string& ptr, double* out) {
    auto it = o.find(key);
    if (it == o.end() || it->is_null()) { *out = -1; return true; }
    return r.num(o, key, ptr, out, 0.001, 1e6);
}

// The index in its file's array of each entry kept in the catalog: an entry that fails to parse
// is dropped, so an error about catalog entry i points at element at[i] of the file.
struct JsonIndex {
    std::vector<size_t> models, api_models, hardware, overrides;
};

template <class T>
void check_unique(Reader& r, const std::vector<T>& v, const std::vector<size_t>& at, const char* list) {
    for (size_t i = 0; i < v.size(); ++i)
        for (size_t j = 0; j < i; ++j)
            if (v[i].id == v[j].id) r.fail(std::string("/") + list + "/" + std::to_string(at[i]), "duplicate id '" + v[i].id + "'");
}

void read_models(Reader& r, const json& d, Catalog& c, JsonIndex& at) {
    if (const json* a = r.array(d, "models", "")) {
        for (size_t i = 0; i < a->size(); ++i) {
            const json& o = (*a)[i];
            const std::string p = "/models/" + std::to_string(i);
            if (!o.is_object()) { r.fail(p, "must be an object"); continue; }
            ModelArch m;
            bool ok = r.id(o, p, &m.id);
            ok &= r.str(o, "name", p, &m.name) && r.str(o, "family", p, &m.family) && r.str(o, "hf_repo", p, &m.hf_repo);
            ok &= r.str(o, "source", p, &m.source);
            ok &= r.num(o, "params_b", p, &m.params_b, 0.001, 100000);
            ok &= r.integer(o, "layers", p, &m.layers, 1, 1000) && r.integer(o, "hidden", p, &m.hidden, 1, 1 << 20);
            ok &= r.integer(o, "intermediate", p, &m.intermediate, 1, 1 << 22);
            ok &= r.integer(o, "heads", p, &m.heads, 1, 4096) && r.integer(o, "kv_heads", p, &m.kv_heads, 1, 4096);
            ok &= r.integer(o, "vocab", p, &m.vocab, 1, 1 << 24) && r.integer(o, "max_context", p, &m.max_context, 1, 1 << 26);
            ok &= r.boolean(o, "tied_embeddings", p, &m.tied_embeddings);
            ok &= r.boolean(o, "qkv_bias", p, &m.qkv_bias, false);
            if (ok) {
                m.head_dim = m.hidden / m.heads;
                ok &= r.integer(o, "head_dim", p, &m.head_dim, 1, 4096, false);
            }
            if (ok && m.heads % m.kv_heads != 0) {
                r.fail(p + "/kv_heads", "heads (" + std::to_string(m.heads) + ") must be a multiple of kv_heads");
                ok = false;
            }
            if (ok) { c.models.push_back(m); at.models.push_back(i); }
        }
    }
    if (const json* a = r.array(d, "api_models", "")) {
        for (size_t i = 0; i < a->size(); ++i) {
            const json& o = (*a)[i];
            const std::string p = "/api_models/" + std::to_string(i);
            if (!o.is_object()) { r.fail(p, "must be an object"); continue; }
            ApiModel m;
            bool ok = r.id(o, p, &m.id);
            ok &= r.str(o, "name", p, &m.name) && r.str(o, "provider", p, &m.provider) && r.str(o, "tier", p, &m.tier);
            ok &= r.str(o, "date", p, &m.date) && r.str(o, "source", p, &m.source) && r.str(o, "status", p, &m.status);
            ok &= r.str(o, "successor", p, &m.successor, false);
            ok &= r.integer(o, "context_window", p, &m.context_window, 1, 1 << 30);
            ok &= r.num(o, "usd_per_m_input", p, &m.usd_per_m_input, 0, 10000);
            ok &= r.num(o, "usd_per_m_output", p, &m.usd_per_m_output, 0, 10000);
            if (ok && m.tier != "general" && m.tier != "balanced" && m.tier != "throughput" && m.tier != "frontier") {
                r.fail(p + "/tier", "'" + m.tier + "' is not general, balanced, throughput or frontier");
                ok = false;
            }
            if (ok) { c.api_models.push_back(m); at.api_models.push_back(i); }
        }
    }
    check_unique(r, c.models, at.models, "models");
    check_unique(r, c.api_models, at.api_models, "api_models");
}

void read_hardware(Reader& r, const json& d, Catalog& c, JsonIndex& at) {
    const json* a = r.array(d, "hardware", "");
    if (!a) return;
    for (size_t i = 0; i < a->size(); ++i) {
        const json& o = (*a)[i];
        const std::string p = "/hardware/" + std::to_string(i);
        if (!o.is_object()) { r.fail(p, "must be an object"); continue; }
        Hardware h;
        std::string kind;
        bool ok = r.id(o, p, &h.id);
        ok &= r.str(o, "name", p, &h.name) && r.str(o, "arch", p, &h.arch) && r.str(o, "source", p, &h.source);
        ok &= r.str(o, "note", p, &h.note, false);
        ok &= r.str(o, "kind", p, &kind);
        if (ok) {
            if (kind == "gpu") h.kind = HwKind::gpu;
            else if (kind == "apple") h.kind = HwKind::apple;
            else if (kind == "cpu") h.kind = HwKind::cpu;
            else { r.fail(p + "/kind", "'" + kind + "' is not gpu, apple or cpu"); ok = false; }
        }
        ok &= r.num(o, "memory_gb", p, &h.memory_gb, 0.1, 1e6) && r.num(o, "bandwidth_gbps", p, &h.bandwidth_gbps, 1, 1e6);
        ok &= r.num(o, "interconnect_gbps", p, &h.interconnect_gbps, 0, 1e5);
        ok &= r.integer(o, "max_devices", p, &h.max_devices, 1, 64);
        if (const json* pk = r.member(o, "peak_tflops", p, true)) {
            if (!pk->is_object()) { r.fail(p + "/peak_tflops", "must be an object"); ok = false; }
            else {
                const std::string pp = p + "/peak_tflops";
                ok &= peak(r, *pk, "fp16", pp, &h.peak.fp16) && peak(r, *pk, "bf16", pp, &h.peak.bf16);
                ok &= peak(r, *pk, "fp8", pp, &h.peak.fp8) && peak(r, *pk, "int8", pp, &h.peak.int8);
                ok &= peak(r, *pk, "int4", pp, &h.peak.int4);
                if (ok && h.peak.fp16 <= 0) { r.fail(pp + "/fp16", "every device needs an FP16 (or its 16-bit) peak"); ok = false; }
            }
        } else ok = false;
        if (const json* pr = r.member(o, "price", p, true)) {
            const std::string pp = p + "/price";
            if (!pr->is_object()) { r.fail(pp, "must be an object"); ok = false; }
            else {
                ok &= r.num(*pr, "usd_per_hour", pp, &h.price.usd_per_hour, 0, 1000);
                ok &= r.str(*pr, "provider", pp, &h.price.provider) && r.str(*pr, "date", pp, &h.price.date);
                ok &= r.str(*pr, "source", pp, &h.price.source);
            }
        } else ok = false;
        if (ok) { c.hardware.push_back(h); at.hardware.push_back(i); }
    }
    check_unique(r, c.hardware, at.hardware, "hardware");
}

bool read_eff(Reader& r, const json& o, const std::string& p, Eff* e) {
    return r.num(o, "bw", p, &e->bw, 0.01, 1.0) && r.num(o, "compute", p, &e->compute, 0.01, 1.0);
}

void read_efficiency(Reader& r, const json& d, Catalog& c, JsonIndex& at) {
    if (const json* a = r.array(d, "classes", "")) {
        for (size_t i = 0; i < a->size(); ++i) {
            const json& o = (*a)[i];
            const std::string p = "/classes/" + std::to_string(i);
            if (!o.is_object()) { r.fail(p, "must be an object"); continue; }
            EffClass ec;
            bool ok = r.str(o, "arch", p, &ec.arch) && r.str(o, "basis", p, &ec.basis);
            ok &= r.num(o, "layer_overhead_us", p, &ec.layer_overhead_us, 0, 1e5);
            ok &= r.num(o, "step_overhead_us", p, &ec.step_overhead_us, 0, 1e6);
            ok &= r.num(o, "allreduce_us", p, &ec.allreduce_us, 0, 1e5);
            ok &= r.num(o, "runtime_overhead_gb", p, &ec.runtime_overhead_gb, 0, 100);
            ok &= r.num(o, "memory_usable_fraction", p, &ec.memory_usable_fraction, 0.05, 1);
            const json* k = r.member(o, "kernels", p, true);
            if (k && !k->is_object()) { r.fail(p + "/kernels", "must be an object"); ok = false; }
            if (k && k->is_object())
                for (int ki = 0; ki < (int)Kernel::count; ++ki) {
                    const char* kn = kernel_name((Kernel)ki);
                    const json* e = r.member(*k, kn, p + "/kernels", true);
                    if (!e || !e->is_object()) { if (e) r.fail(p + "/kernels/" + kn, "must be an object"); ok = false; continue; }
                    ok &= read_eff(r, *e, p + "/kernels/" + kn, &ec.kernel[ki]);
                }
            else ok = false;
            if (ok) {
                for (const EffClass& x : c.eff_classes)
                    if (x.arch == ec.arch) { r.fail(p + "/arch", "duplicate class '" + ec.arch + "'"); ok = false; }
            }
            if (ok) c.eff_classes.push_back(ec);
        }
    }
    if (const json* a = r.array(d, "overrides", "", false)) {
        for (size_t i = 0; i < a->size(); ++i) {
            const json& o = (*a)[i];
            const std::string p = "/overrides/" + std::to_string(i);
            if (!o.is_object()) { r.fail(p, "must be an object"); continue; }
            EffOverride ov;
            std::string kn;
            bool ok = r.str(o, "hardware", p, &ov.hardware) && r.str(o, "kernel", p, &kn) && r.str(o, "source", p, &ov.source);
            if (ok && !kernel_from_name(kn, &ov.kernel)) { r.fail(p + "/kernel", "unknown kernel class '" + kn + "'"); ok = false; }
            ok = ok && read_eff(r, o, p, &ov.eff);
            if (ok) { c.eff_overrides.push_back(ov); at.overrides.push_back(i); }
        }
    }
}

void read_accuracy(Reader& r, const json& d, Catalog& c) {
    if (const json* s = r.member(d, "sources", "", true)) {
        if (!s->is_object()) r.fail("/sources", "must be an object");
        else
            for (auto it = s->begin(); it != s->end(); ++it) {
                const std::string p = "/sources/" + it.key();
                if (!it->is_object()) { r.fail(p, "must be an object"); continue; }
                AccSource src;
                src.key = it.key();
                bool ok = r.str(*it, "title", p, &src.title) && r.str(*it, "url", p, &src.url, false);
                ok &= r.str(*it, "where", p, &src.where, false);
                if (ok) c.acc_sources.push_back(src);
            }
    }
    const json* a = r.array(d, "results", "");
    if (!a) return;
    for (size_t i = 0; i < a->size(); ++i) {
        const json& o = (*a)[i];
        const std::string p = "/results/" + std::to_string(i);
        if (!o.is_object()) { r.fail(p, "must be an object"); continue; }
        AccuracyRow row;
        bool ok = r.str(o, "model", p, &row.model) && r.str(o, "method", p, &row.method);
        ok &= r.str(o, "dataset", p, &row.dataset) && r.str(o, "source", p, &row.source);
        ok &= r.str(o, "variant", p, &row.variant, false);
        ok &= r.integer(o, "bits", p, &row.bits, 1, 32) && r.integer(o, "context", p, &row.context, 1, 1 << 24);
        row.group_size = -1;
        ok &= r.integer(o, "group_size", p, &row.group_size, 0, 1 << 20, false);
        ok &= r.boolean(o, "act_order", p, &row.act_order, false);
        ok &= r.num(o, "ppl", p, &row.ppl, 1.0, 1e7);
        Method m;
        if (ok && !parse_method(row.method, &m)) { r.fail(p + "/method", "unknown method '" + row.method + "'"); ok = false; }
        if (ok && !c.model(row.model)) { r.fail(p + "/model", "'" + row.model + "' is not in model-catalog.json"); ok = false; }
        if (ok && !c.acc_source(row.source)) { r.fail(p + "/source", "'" + row.source + "' is not a key of /sources"); ok = false; }
        if (ok) c.accuracy.push_back(row);
    }
}

}  // namespace

bool load_catalog(const DataTexts& t, Catalog* out, std::vector<DataError>* errors) {
    Catalog c;
    const size_t before = errors->size();
    json d;
    Reader rm{t.model_catalog_name, errors};
    JsonIndex at;
    if (rm.doc(t.model_catalog, "qbench.model-catalog", &d)) read_models(rm, d, c, at);
    Reader rh{t.hardware_name, errors};
    if (rh.doc(t.hardware, "qbench.hardware", &d)) read_hardware(rh, d, c, at);
    Reader re{t.efficiency_name, errors};
    if (re.doc(t.efficiency, "qbench.efficiency", &d)) read_efficiency(re, d, c, at);
    Reader ra{t.accuracy_name, errors};
    if (ra.doc(t.accuracy, "qbench.accuracy", &d)) read_accuracy(ra, d, c);

    // Cross-file references.
    for (size_t i = 0; i < c.hardware.size(); ++i)
        if (!c.eff_class(c.hardware[i].arch))
            rh.fail("/hardware/" + std::to_string(at.hardware[i]) + "/arch", "'" + c.hardware[i].arch + "' has no class in efficiency.json");
    for (size_t i = 0; i < c.eff_overrides.size(); ++i)
        if (!c.hw(c.eff_overrides[i].hardware))
            re.fail("/overrides/" + std::to_string(at.overrides[i]) + "/hardware", "'" + c.eff_overrides[i].hardware + "' is not in hardware.json");
    for (size_t i = 0; i < c.api_models.size(); ++i)
        if (!c.api_models[i].successor.empty() && !c.api(c.api_models[i].successor))
            rm.fail("/api_models/" + std::to_string(at.api_models[i]) + "/successor", "'" + c.api_models[i].successor + "' is not an API model id");
    if (c.models.empty()) rm.fail("/models", "no models");
    if (c.hardware.empty()) rh.fail("/hardware", "no hardware");
    // The built-in defaults must resolve against any catalog that replaces the embedded one.
    const Selections def;
    if (!c.models.empty() && !c.model(def.model)) rm.fail("/models", "must contain the default model '" + def.model + "'");
    if (!c.hardware.empty() && !c.hw(def.hardware)) rh.fail("/hardware", "must contain the default hardware '" + def.hardware + "'");
    for (const std::string& a : def.compare_api)
        if (!c.api(a)) rm.fail("/api_models", "must contain the default comparison '" + a + "'");

    if (errors->size() != before) return false;
    index_catalog(c);
    *out = std::move(c);
    return true;
}

// ---- output ----

static std::string dump(const ojson& j, int indent) {
    return j.dump(indent, ' ', false, ojson::error_handler_t::replace);
}

static ojson sel_obj(const Selections& s) {
    ojson j;
    j["model"] = s.model;
    j["method"] = method_name(s.method);
    j["bits"] = s.bits;
    if (s.group_size > 0) j["group_size"] = s.group_size; else j["group_size"] = "per-channel";
    j["zero_point"] = s.zero_point;
    j["act_order"] = s.act_order;
    j["kv_cache"] = kv_name(s.kv);
    j["hardware"] = s.hardware;
    j["gpus"] = s.gpus;
    j["batch"] = s.batch;
    j["prompt_tokens"] = s.prompt_tokens;
    j["output_tokens"] = s.output_tokens;
    j["input_tokens_per_day"] = s.input_tokens_per_day;
    j["output_tokens_per_day"] = s.output_tokens_per_day;
    j["usd_per_hour_override"] = s.usd_per_hour;
    j["calibration"] = {{"samples", s.calib_samples}, {"tokens", s.calib_tokens}};
    j["compare_api"] = s.compare_api;
    return j;
}

std::string selections_json(const Selections& s, int indent) { return dump(sel_obj(s), indent); }

static ojson op_obj(const OpTime& o) {
    return ojson{{"total_us", o.total_us}, {"mem_us", o.mem_us}, {"mma_us", o.mma_us}, {"dequant_us", o.dequant_us}};
}

static ojson step_obj(const StepTime& st) {
    ojson ops = ojson::object();
    for (int i = 0; i < kOpCount; ++i) ops[op_name(i)] = op_obj(st.op[i]);
    return ojson{{"total_us", st.total_us}, {"ops", ops}};
}

static ojson cost_obj(const Hardware& h, const Cost& k) {
    return {{"usd", k.usd_month}, {"gpus", k.gpus}, {"replicas", k.replicas}, {"utilization", k.utilization},
            {"usd_per_hour", k.usd_per_hour}, {"price_overridden", k.price_overridden},
            {"price_provider", k.price_provider}, {"price_date", k.price_date}, {"price_source", k.price_source},
            {"usd_per_m_tokens", k.usd_per_m_tokens}, {"requests_per_day", k.requests_per_day},
            {"replica_tokens_per_day", k.replica_tokens_per_day}, {"hardware", h.name}};
}

static ojson delta_obj(const Prediction& p) {
    const Fp16Delta& d = p.vs_fp16;
    ojson api = ojson::object();
    for (const ApiComparison& x : p.vs_api)
        api[x.id] = {{"name", x.name}, {"tier", x.tier}, {"api_usd_month", x.usd_month}, {"delta_usd", x.delta_usd},
                     {"delta_pct", x.delta_pct}, {"usd_per_m_blended", x.usd_per_m_blended},
                     {"break_even_tokens_per_day", x.breaks_even ? ojson(x.break_even_tokens_per_day) : ojson(nullptr)}};
    return {{"vs_fp16", {{"tpot_ms", d.tpot_ms}, {"tpot_pct", d.tpot_pct}, {"ttft_ms", d.ttft_ms}, {"ttft_pct", d.ttft_pct},
                         {"memory_gb", d.memory_gb}, {"memory_pct", d.memory_pct}, {"usd_month", d.usd_month},
                         {"usd_pct", d.usd_pct}, {"ppl_delta", d.ppl_delta}, {"decode_speedup", d.decode_speedup},
                         {"fp16_fits", d.fp16_fits}}},
            {"vs_api", api}};
}

std::string prediction_json(const Catalog& c, const Prediction& p, int indent) {
    const Hardware& h = *c.hw(p.sel.hardware);
    ojson j;
    j["schema"] = "qbench.prediction";
    j["version"] = 1;
    j["selections"] = sel_obj(p.sel);
    j["share_link"] = "#" + encode_link(p.sel);
    const MemoryBreakdown& m = p.mem;
    j["memory_gb"] = {{"weights", m.weights_gb}, {"kv_cache", m.kv_cache_gb}, {"activations", m.activations_gb},
                      {"overhead", m.overhead_gb}, {"total", m.total_gb}, {"capacity", m.capacity_gb},
                      {"per_device", m.per_device_gb}, {"device_usable", m.device_usable_gb},
                      {"weight_bits_per_param", m.weight_bits}, {"fits", m.fits}};
    j["latency_ms"] = {{"ttft", p.lat.ttft_ms}, {"tpot", p.lat.tpot_ms}, {"request", p.lat.request_ms}};
    j["tokens_per_s"] = p.lat.tokens_per_s;
    j["tokens_per_s_per_sequence"] = p.lat.seq_tokens_per_s;
    j["crossover_batch"] = p.crossover_batch > 0 ? ojson(p.crossover_batch) : ojson(nullptr);
    j["breakdown_us"] = {{"prefill", step_obj(p.lat.prefill)}, {"decode", step_obj(p.lat.decode)}};
    const Accuracy& a = p.acc;
    ojson acc;
    acc["ppl"] = a.has_ppl ? ojson(a.ppl) : ojson(nullptr);
    acc["ppl_fp16"] = a.has_ppl ? ojson(a.ppl_fp16) : ojson(nullptr);
    acc["delta_pct"] = a.provenance == Provenance::none ? ojson(nullptr) : ojson(a.delta_pct);
    acc["provenance"] = provenance_name(a.provenance);
    acc["source"] = a.source;
    acc["basis"] = a.basis;
    acc["dataset"] = a.dataset;
    acc["context"] = a.context;
    j["accuracy"] = acc;
    j["calculated_monthly_cost"] = cost_obj(h, p.cost);
    j["comparison_delta"] = delta_obj(p);
    j["warnings"] = p.warnings;
    return dump(j, indent);
}

std::string metrics_json(const Catalog& c, const Prediction& p) {
    ojson j;
    j["type"] = "qbench.metrics";
    j["version"] = 1;
    j["user_selections"] = sel_obj(p.sel);
    j["calculated_monthly_cost"] = cost_obj(*c.hw(p.sel.hardware), p.cost);
    j["comparison_delta"] = delta_obj(p);
    j["share_link"] = "#" + encode_link(p.sel);
    return dump(j, -1);
}

std::string sweep_json(const Catalog& c, const Selections& base, const std::vector<SweepPoint>& pts, int indent) {
    (void)c;
    ojson j;
    j["schema"] = "qbench.sweep";
    j["version"] = 1;
    j["base"] = sel_obj(base);
    ojson arr = ojson::array();
    for (const SweepPoint& p : pts) {
        ojson o;
        o["method"] = method_name(p.sel.method);
        o["bits"] = p.sel.bits;
        if (p.sel.group_size > 0) o["group_size"] = p.sel.group_size; else o["group_size"] = "per-channel";
        o["zero_point"] = p.sel.zero_point;
        o["kv_cache"] = kv_name(p.sel.kv);
        o["batch"] = p.sel.batch;
        o["tpot_ms"] = p.tpot_ms;
        o["ttft_ms"] = p.ttft_ms;
        o["tokens_per_s"] = p.tokens_per_s;
        o["memory_gb"] = p.memory_gb;
        o["weight_bits_per_param"] = p.weight_bits;
        o["fits"] = p.fits;
        o["ppl"] = p.has_ppl ? ojson(p.ppl) : ojson(nullptr);
        o["delta_pct"] = p.provenance == Provenance::none ? ojson(nullptr) : ojson(p.delta_pct);
        o["provenance"] = provenance_name(p.provenance);
        o["usd_month"] = p.usd_month;
        o["pareto"] = p.pareto;
        o["share_link"] = "#" + encode_link(p.sel);
        arr.push_back(o);
    }
    j["points"] = arr;
    return dump(j, indent);
}

bool apply_selections_json(const Catalog& c, const std::string& text, Selections* out, std::vector<FieldError>* errors) {
    const size_t before = errors->size();
    auto bad = [&](const std::string& f, const std::string& why) { errors->push_back({f, why}); };
    if (text.size() > 65536) { bad("selections", "longer than 64 KiB"); return false; }
    const json j = json::parse(text, nullptr, false);
    if (j.is_discarded() || !j.is_object()) { bad("selections", "not a JSON object"); return false; }
    Selections s = *out;
    auto str = [&](const char* k, std::string* dst) {
        auto it = j.find(k);
        if (it == j.end()) return false;
        if (!it->is_string()) { bad(k, "must be a string"); return false; }
        *dst = it->get<std::string>();
        return true;
    };
    auto integer = [&](const char* k, int* dst, long long lo, long long hi) {
        auto it = j.find(k);
        if (it == j.end()) return false;
        if (!it->is_number_integer() || it->get<long long>() < lo || it->get<long long>() > hi) {
            bad(k, "must be an integer in " + std::to_string(lo) + ".." + std::to_string(hi));
            return false;
        }
        *dst = (int)it->get<long long>();
        return true;
    };
    auto number = [&](const char* k, double* dst) {
        auto it = j.find(k);
        if (it == j.end()) return false;
        if (!it->is_number() || !(it->get<double>() >= 0)) { bad(k, "must be a non-negative number"); return false; }
        *dst = it->get<double>();
        return true;
    };
    auto boolean = [&](const char* k, bool* dst) {
        auto it = j.find(k);
        if (it == j.end()) return false;
        if (!it->is_boolean()) { bad(k, "must be true or false"); return false; }
        *dst = it->get<bool>();
        return true;
    };
    std::string v;
    if (str("model", &v)) s.model = v;
    if (str("hardware", &v)) s.hardware = v;
    if (str("method", &v)) {
        Method m;
        if (parse_method(v, &m)) apply_method_defaults(s, m);
        else bad("method", "unknown method '" + v + "'");
    }
    integer("bits", &s.bits, 1, 64);
    if (auto it = j.find("group_size"); it != j.end()) {
        if (it->is_string() && it->get<std::string>() == "per-channel") s.group_size = 0;
        else integer("group_size", &s.group_size, 0, 1 << 20);
    }
    boolean("zero_point", &s.zero_point);
    boolean("act_order", &s.act_order);
    if (str("kv_cache", &v) && !parse_kv(v, &s.kv)) bad("kv_cache", "unknown KV-cache type '" + v + "'");
    integer("gpus", &s.gpus, 1, 64);
    integer("batch", &s.batch, 1, 4096);
    integer("prompt_tokens", &s.prompt_tokens, 1, 10000000);
    integer("output_tokens", &s.output_tokens, 1, 10000000);
    number("input_tokens_per_day", &s.input_tokens_per_day);
    number("output_tokens_per_day", &s.output_tokens_per_day);
    double total = 0;
    if (number("tokens_per_day", &total)) set_tokens_per_day(s, total);
    number("usd_per_hour_override", &s.usd_per_hour);
    if (auto it = j.find("compare_api"); it != j.end()) {
        if (!it->is_array()) bad("compare_api", "must be an array of API model ids");
        else {
            s.compare_api.clear();
            for (const json& x : *it) {
                if (!x.is_string()) { bad("compare_api", "must be an array of API model ids"); break; }
                s.compare_api.push_back(x.get<std::string>());
            }
        }
    }
    if (auto it = j.find("calibration"); it != j.end() && it->is_object()) {
        // Out-of-range values become -1 so that validate() names them.
        auto small = [](const json& x) { const long long v = x.get<long long>(); return v >= 0 && v <= 1000000000 ? (int)v : -1; };
        if (auto a = it->find("samples"); a != it->end() && a->is_number_integer()) s.calib_samples = small(*a);
        if (auto a = it->find("tokens"); a != it->end() && a->is_number_integer()) s.calib_tokens = small(*a);
    }
    if (errors->size() != before) return false;
    std::vector<FieldError> v_errs = validate(c, s);
    if (!v_errs.empty()) {
        errors->insert(errors->end(), v_errs.begin(), v_errs.end());
        return false;
    }
    *out = s;
    return true;
}

std::string errors_json(const std::vector<FieldError>& e) {
    ojson arr = ojson::array();
    for (const FieldError& x : e) arr.push_back({{"field", x.field}, {"reason", x.reason}});
    return dump(ojson{{"errors", arr}}, -1);
}

}  // namespace qb
