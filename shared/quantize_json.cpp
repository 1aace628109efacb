#include "quantize_json.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <initializer_list>

#include "json_read.h"
#include "numeric.h"

namespace qb {

using nlohmann::json;
using ojson = nlohmann::ordered_json;

namespace {

using Reader = JsonReader;

// Seeds are full 64-bit values: nlohmann keeps them exact as unsigned integers.
bool u64(Reader& r, const json& o, const char* key, const std::string& ptr, uint64_t* out, bool required = true) {
    const json* v = r.member(o, key, ptr, required);
    if (!v) return !required;
    if (!v->is_number_integer() || (!v->is_number_unsigned() && v->get<long long>() < 0)) {
        r.fail(ptr + "/" + key, "must be a non-negative integer");
        return false;
    }
    *out = v->get<uint64_t>();
    return true;
}

bool one_of(Reader& r, const std::string& ptr, const std::string& v, std::initializer_list<const char*> allowed) {
    std::string list;
    for (const char* a : allowed) {
        if (v == a) return true;
        list += (list.empty() ? "" : ", ") + std::string(a);
    }
    r.fail(ptr, "'" + v + "' is not one of " + list);
    return false;
}

bool quant_method(const std::string& name) {
    Method m;
    return parse_method(name, &m) && is_weight_only_low_bit(m);
}

void read_env(Reader& r, const json& d, QuantizeEnvironment& e) {
    const json* o = r.object(d, "environment", "");
    if (!o) return;
    const std::string p = "/environment";
    r.str(*o, "cpu", p, &e.cpu, true, 256);
    r.integer(*o, "logical_cores", p, &e.logical_cores, 0, 1 << 20);
    r.integer(*o, "threads", p, &e.threads, 1, 1 << 20);
    r.str(*o, "isa", p, &e.isa, true, 32);
    if (const json* a = r.array(*o, "cpu_features", p, false)) {
        if (a->size() > 128) r.fail(p + "/cpu_features", "more than 128 entries");
        else
            for (size_t i = 0; i < a->size(); ++i) {
                const json& v = (*a)[i];
                if (!v.is_string() || v.get_ref<const std::string&>().size() > 32)
                    r.fail(p + "/cpu_features/" + std::to_string(i), "must be a string of at most 32 characters");
                else e.cpu_features.push_back(v.get<std::string>());
            }
    }
    r.str(*o, "os", p, &e.os, true, 256);
    r.str(*o, "compiler", p, &e.compiler, true, 256);
    if (r.str(*o, "build", p, &e.build, true, 16)) one_of(r, p + "/build", e.build, {"release", "debug"});
    r.str(*o, "eigen", p, &e.eigen, false, 64);
}

void read_input(Reader& r, const json& d, QuantizeInput& in) {
    const json* o = r.object(d, "input", "");
    if (!o) return;
    const std::string p = "/input";
    if (r.str(*o, "kind", p, &in.kind, true, 16) && one_of(r, p + "/kind", in.kind, {"synthetic", "safetensors"}) &&
        in.kind == "safetensors") {
        r.str(*o, "path", p, &in.path, true, 1024);
        r.str(*o, "layers_regex", p, &in.layers_regex, true, 1024);
    }
    if (r.str(*o, "model", p, &in.model, false, 64) && !in.model.empty() && !is_kebab_id(in.model))
        r.fail(p + "/model", "'" + in.model + "' is not a lower-case kebab id");
    const json* c = r.object(*o, "calibration", p);
    if (!c) return;
    const std::string cp = p + "/calibration";
    if (r.str(*c, "kind", cp, &in.calib_kind, true, 16) && one_of(r, cp + "/kind", in.calib_kind, {"synthetic", "file"}) &&
        in.calib_kind == "file")
        r.str(*c, "path", cp, &in.calib_path, true, 1024);
    const bool syn_calib = in.calib_kind == "synthetic";
    r.integer(*c, "samples", cp, &in.calib_samples, 1, 1 << 20, syn_calib);
    r.integer(*c, "tokens_per_sample", cp, &in.calib_tokens_per_sample, 1, 1 << 20, syn_calib);
    r.integer(*c, "eval_samples", cp, &in.eval_samples, 1, 1 << 20, syn_calib);
    r.integer(*c, "eval_tokens_per_sample", cp, &in.eval_tokens_per_sample, 1, 1 << 20, syn_calib);
    // Synthetic weights or synthetic activations come from the generator: its parameters are
    // part of what was measured.
    const bool needs_syn = in.kind == "synthetic" || syn_calib;
    if (const json* s = r.object(*c, "synthetic", cp, needs_syn)) {
        const std::string sp = cp + "/synthetic";
        QuantizeSynthetic& y = in.synthetic;
        in.has_synthetic = true;
        u64(r, *s, "seed", sp, &y.seed);
        r.num(*s, "outlier_frac", sp, &y.outlier_frac, 0, 1);
        r.num(*s, "outlier_min", sp, &y.outlier_min, 0, 1e9);
        r.num(*s, "outlier_max", sp, &y.outlier_max, 0, 1e9);
        r.integer(*s, "rank", sp, &y.rank, 0, 1 << 20);
        r.num(*s, "noise", sp, &y.noise, 0, 1e9);
        r.num(*s, "ar", sp, &y.ar, -1, 1);
        r.num(*s, "heavy_row_frac", sp, &y.heavy_row_frac, 0, 1);
    }
}

void read_config(Reader& r, const json& d, QuantizeConfig& c) {
    const json* o = r.object(d, "config", "");
    if (!o) return;
    const std::string p = "/config";
    if (const json* a = r.array(*o, "methods", p)) {
        if (a->empty() || a->size() > 16) r.fail(p + "/methods", "must list 1 to 16 methods");
        else
            for (size_t i = 0; i < a->size(); ++i) {
                const json& v = (*a)[i];
                if (!v.is_string() || !quant_method(v.get<std::string>()))
                    r.fail(p + "/methods/" + std::to_string(i), "must be one of rtn, gptq, awq, quip");
                else c.methods.push_back(v.get<std::string>());
            }
    }
    r.integer(*o, "bits", p, &c.bits, 1, 16);
    r.integer(*o, "group_size", p, &c.group_size, 0, 1 << 20);
    r.boolean(*o, "zero_point", p, &c.zero_point);
    r.boolean(*o, "act_order", p, &c.act_order);
    r.boolean(*o, "static_groups", p, &c.static_groups);
    r.num(*o, "damp", p, &c.damp, 0, 10);
    r.integer(*o, "block_size", p, &c.block_size, 1, 1 << 16);
    if (r.str(*o, "hessian", p, &c.hessian, true, 16)) one_of(r, p + "/hessian", c.hessian, {"f32", "bf16"});
    if (const json* a = r.object(*o, "awq", p)) {
        const std::string ap = p + "/awq";
        r.integer(*a, "grid", ap, &c.awq_grid, 1, 1 << 16);
        r.integer(*a, "clip_grid", ap, &c.awq_clip_grid, 1, 1 << 16);
        r.num(*a, "max_shrink", ap, &c.awq_max_shrink, 0, 1);
        r.integer(*a, "loss_tokens", ap, &c.awq_loss_tokens, 1, 1 << 24);
    }
    if (const json* q = r.object(*o, "quip", p)) {
        const std::string qp = p + "/quip";
        u64(r, *q, "seed", qp, &c.quip_seed);
        r.boolean(*q, "rescale", qp, &c.quip_rescale);
        r.str(*q, "transform", qp, &c.quip_transform, true, 256);
    }
}

void read_row(Reader& r, const json& o, const std::string& p, QuantizeRow& row) {
    if (r.str(o, "method", p, &row.method, true, 16) && !quant_method(row.method))
        r.fail(p + "/method", "'" + row.method + "' is not rtn, gptq, awq or quip");
    if (!r.boolean(o, "ok", p, &row.ok)) return;
    if (!row.ok) {   // a failed method: its reason and nothing else
        if (r.str(o, "error", p, &row.error, true, 1000) && row.error.empty()) r.fail(p + "/error", "must not be empty");
        return;
    }
    r.integer(o, "bits", p, &row.bits, 1, 16);
    r.integer(o, "group_size", p, &row.group_size, 0, 1 << 20);
    r.boolean(o, "zero_point", p, &row.zero_point);
    r.boolean(o, "act_order", p, &row.act_order);
    r.num(o, "weight_rel_err", p, &row.weight_rel_err, 0, 1e6);
    r.num(o, "output_rel_err", p, &row.output_rel_err, 0, 1e6);
    // null: the quantized layer reproduced the outputs exactly (infinite SQNR; JSON has no inf).
    if (auto it = o.find("output_sqnr_db"); it != o.end() && it->is_null())
        row.output_sqnr_db = INFINITY;
    else
        r.num(o, "output_sqnr_db", p, &row.output_sqnr_db, -1000, 1000);
    r.num(o, "time_s", p, &row.time_s, 0, 1e7);
    r.integer64(o, "packed_bytes", p, &row.packed_bytes, 0, 1LL << 50);
    r.num(o, "bits_per_weight", p, &row.bits_per_weight, 0, 64);
    if (const json* s = r.object(o, "sidecars", p)) {
        const std::string sp = p + "/sidecars";
        r.boolean(*s, "perm", sp, &row.sidecar_perm);
        r.boolean(*s, "input_scale", sp, &row.sidecar_input_scale);
        if (r.str(*s, "transform", sp, &row.transform, true, 16)) one_of(r, sp + "/transform", row.transform, {"none", "quip"});
    }
    if (o.contains("seed")) row.has_seed = u64(r, o, "seed", p, &row.seed);
    r.str(o, "file", p, &row.file, false, 1024);
    if (const json* d = r.object(o, "details", p, false)) {
        if (d->size() > kQuantizeMaxDetails) r.fail(p + "/details", "more than " + std::to_string(kQuantizeMaxDetails) + " entries");
        else
            for (auto it = d->begin(); it != d->end(); ++it) {
                double v = 0;
                if (it.key().size() > 64) r.fail(p + "/details", "a key is longer than 64 characters");
                else if (r.num(*d, it.key().c_str(), p + "/details", &v, -1e30, 1e30)) row.details.emplace_back(it.key(), v);
            }
    }
}

void read_layer(Reader& r, const json& o, const std::string& p, QuantizeLayer& l) {
    if (r.str(o, "name", p, &l.name, true, 256) && l.name.empty()) r.fail(p + "/name", "must not be empty");
    r.integer(o, "rows", p, &l.rows, 1, 1 << 20);
    r.integer(o, "cols", p, &l.cols, 1, 1 << 20);
    if (const json* c = r.object(o, "calibration", p)) {
        const std::string cp = p + "/calibration";
        QuantizeLayerCalibration& k = l.calibration;
        r.str(*c, "source", cp, &k.source, true, 256);
        r.integer64(*c, "tokens", cp, &k.tokens, 1, 1LL << 40);
        r.integer(*c, "eval_tokens", cp, &k.eval_tokens, 1, 1 << 30);
        r.integer(*c, "awq_loss_tokens", cp, &k.awq_loss_tokens, 0, 1 << 30);
        if (r.str(*c, "hessian_precision", cp, &k.hessian_precision, true, 16))
            one_of(r, cp + "/hessian_precision", k.hessian_precision, {"f32", "bf16-amx"});
        r.num(*c, "hessian_s", cp, &k.hessian_s, 0, 1e7);
        r.num(*c, "source_thread_s", cp, &k.source_thread_s, 0, 1e9);
        r.num(*c, "accumulate_thread_s", cp, &k.accumulate_thread_s, 0, 1e9);
        r.boolean(*c, "shared", cp, &k.shared);
    }
    const json* a = r.array(o, "results", p);
    if (!a) return;
    if (a->empty() || a->size() > kQuantizeMaxRowsPerLayer) {
        r.fail(p + "/results", "must hold 1 to " + std::to_string(kQuantizeMaxRowsPerLayer) + " results");
        return;
    }
    for (size_t i = 0; i < a->size(); ++i) {
        const std::string rp = p + "/results/" + std::to_string(i);
        if (!(*a)[i].is_object()) { r.fail(rp, "must be an object"); continue; }
        QuantizeRow row;
        read_row(r, (*a)[i], rp, row);
        l.results.push_back(std::move(row));
    }
}

// 16384 -> "16,384"
std::string fmt_count(long long n) {
    std::string d = std::to_string(n), out;
    for (size_t i = 0; i < d.size(); ++i) {
        if (i && (d.size() - i) % 3 == 0 && d[i - 1] != '-') out += ',';
        out += d[i];
    }
    return out;
}

std::string dump(const ojson& j, int indent) { return j.dump(indent, ' ', false, ojson::error_handler_t::replace); }

// JSON has no NaN or infinity: a non-finite figure is written as null.
ojson finite_or_null(double v) { return std::isfinite(v) ? ojson(v) : ojson(nullptr); }

ojson row_obj(const QuantizeRow& x) {
    ojson j;
    j["method"] = x.method;
    j["ok"] = x.ok;
    if (!x.ok) {
        j["error"] = x.error;
        return j;
    }
    j["bits"] = x.bits;
    j["group_size"] = x.group_size;
    j["zero_point"] = x.zero_point;
    j["act_order"] = x.act_order;
    j["weight_rel_err"] = x.weight_rel_err;
    j["output_rel_err"] = x.output_rel_err;
    j["output_sqnr_db"] = finite_or_null(x.output_sqnr_db);
    j["time_s"] = x.time_s;
    j["packed_bytes"] = x.packed_bytes;
    j["bits_per_weight"] = x.bits_per_weight;
    j["sidecars"] = {{"perm", x.sidecar_perm}, {"input_scale", x.sidecar_input_scale}, {"transform", x.transform}};
    if (x.has_seed) j["seed"] = x.seed;
    if (!x.file.empty()) j["file"] = x.file;
    // Keys sorted: the parser's object is a sorted map, so this is the form that round-trips
    // byte for byte.
    std::vector<std::pair<std::string, double>> sorted = x.details;
    std::sort(sorted.begin(), sorted.end(), [](const auto& p, const auto& q) { return p.first < q.first; });
    ojson d = ojson::object();
    for (const auto& [k, v] : sorted)
        if (std::isfinite(v)) d[k] = v;   // a diagnostic without a finite value is left out
    j["details"] = d;
    return j;
}

}  // namespace

bool parse_quantize(const std::string& text, const std::string& file_name, QuantizeReport* out, std::vector<DataError>* errors) {
    Reader r{file_name, errors};
    json d;
    if (!r.doc_limited(text, "qbench.quantize", kQuantizeMaxBytes, kQuantizeMaxDepth, kQuantizeMaxString, &d)) return false;
    QuantizeReport q;
    if (r.str(d, "created_utc", "", &q.created_utc, true, 64) && !is_iso_utc(q.created_utc))
        r.fail("/created_utc", "'" + q.created_utc + "' is not a UTC ISO-8601 time (YYYY-MM-DDThh:mm:ssZ)");
    if (const json* t = r.object(d, "tool", "")) {
        r.str(*t, "name", "/tool", &q.tool_name, true, 128);
        r.str(*t, "version", "/tool", &q.tool_version, true, 64);
    }
    read_env(r, d, q.env);
    read_input(r, d, q.input);
    read_config(r, d, q.config);
    if (const json* a = r.array(d, "layers", "")) {
        if (a->empty() || a->size() > kQuantizeMaxLayers)
            r.fail("/layers", "must hold 1 to " + std::to_string(kQuantizeMaxLayers) + " layers");
        else
            for (size_t i = 0; i < a->size(); ++i) {
                const std::string p = "/layers/" + std::to_string(i);
                if (!(*a)[i].is_object()) { r.fail(p, "must be an object"); continue; }
                QuantizeLayer l;
                read_layer(r, (*a)[i], p, l);
                q.layers.push_back(std::move(l));
                if (r.error_count() > 50) { r.fail("/layers", "too many errors; stopped"); break; }
            }
    }
    r.num(d, "total_s", "", &q.total_s, 0, 1e9);
    if (!r.ok()) return false;
    *out = std::move(q);
    return true;
}

std::string quantize_json(const QuantizeReport& q, int indent) {
    ojson doc;
    doc["schema"] = "qbench.quantize";
    doc["version"] = 1;
    doc["created_utc"] = q.created_utc;
    doc["tool"] = {{"name", q.tool_name}, {"version", q.tool_version}};
    const QuantizeEnvironment& e = q.env;
    ojson env;
    env["cpu"] = e.cpu;
    env["logical_cores"] = e.logical_cores;
    env["threads"] = e.threads;
    env["isa"] = e.isa;
    env["cpu_features"] = e.cpu_features;
    env["os"] = e.os;
    env["compiler"] = e.compiler;
    env["build"] = e.build;
    if (!e.eigen.empty()) env["eigen"] = e.eigen;
    doc["environment"] = env;
    const QuantizeInput& i = q.input;
    ojson in;
    in["kind"] = i.kind;
    if (!i.model.empty()) in["model"] = i.model;
    if (i.kind == "safetensors") {
        in["path"] = i.path;
        in["layers_regex"] = i.layers_regex;
    }
    ojson cj;
    cj["kind"] = i.calib_kind;
    if (i.calib_kind == "file") cj["path"] = i.calib_path;
    if (i.calib_samples > 0) cj["samples"] = i.calib_samples;
    if (i.calib_tokens_per_sample > 0) cj["tokens_per_sample"] = i.calib_tokens_per_sample;
    if (i.eval_samples > 0) cj["eval_samples"] = i.eval_samples;
    if (i.eval_tokens_per_sample > 0) cj["eval_tokens_per_sample"] = i.eval_tokens_per_sample;
    if (i.has_synthetic) {
        const QuantizeSynthetic& y = i.synthetic;
        cj["synthetic"] = {{"seed", y.seed}, {"outlier_frac", y.outlier_frac}, {"outlier_min", y.outlier_min},
                           {"outlier_max", y.outlier_max}, {"rank", y.rank}, {"noise", y.noise}, {"ar", y.ar},
                           {"heavy_row_frac", y.heavy_row_frac}};
    }
    in["calibration"] = cj;
    doc["input"] = in;
    const QuantizeConfig& c = q.config;
    ojson cfg;
    cfg["methods"] = c.methods;
    cfg["bits"] = c.bits;
    cfg["group_size"] = c.group_size;
    cfg["zero_point"] = c.zero_point;
    cfg["act_order"] = c.act_order;
    cfg["static_groups"] = c.static_groups;
    cfg["damp"] = c.damp;
    cfg["block_size"] = c.block_size;
    cfg["hessian"] = c.hessian;
    cfg["awq"] = {{"grid", c.awq_grid}, {"clip_grid", c.awq_clip_grid}, {"max_shrink", c.awq_max_shrink}, {"loss_tokens", c.awq_loss_tokens}};
    cfg["quip"] = {{"seed", c.quip_seed}, {"rescale", c.quip_rescale}, {"transform", c.quip_transform}};
    doc["config"] = cfg;
    ojson layers = ojson::array();
    for (const QuantizeLayer& l : q.layers) {
        ojson lj;
        lj["name"] = l.name;
        lj["rows"] = l.rows;
        lj["cols"] = l.cols;
        const QuantizeLayerCalibration& k = l.calibration;
        lj["calibration"] = {{"source", k.source}, {"tokens", k.tokens}, {"eval_tokens", k.eval_tokens},
                             {"awq_loss_tokens", k.awq_loss_tokens}, {"hessian_precision", k.hessian_precision},
                             {"hessian_s", k.hessian_s}, {"source_thread_s", k.source_thread_s},
                             {"accumulate_thread_s", k.accumulate_thread_s}, {"shared", k.shared}};
        ojson rs = ojson::array();
        for (const QuantizeRow& x : l.results) rs.push_back(row_obj(x));
        lj["results"] = rs;
        layers.push_back(lj);
    }
    doc["layers"] = layers;
    doc["total_s"] = q.total_s;
    return dump(doc, indent) + (indent >= 0 ? "\n" : "");
}

int quantize_row_for(const QuantizeLayer& layer, const Selections& s) {
    const std::string m = method_name(s.method);
    int best = -1, best_score = -1;
    for (size_t i = 0; i < layer.results.size(); ++i) {
        const QuantizeRow& x = layer.results[i];
        if (!x.ok || x.method != m || x.bits != s.bits || x.group_size != s.group_size) continue;
        const int score = (x.zero_point == s.zero_point) * 2 + (s.method != Method::gptq || x.act_order == s.act_order);
        if (score > best_score) { best = (int)i; best_score = score; }
    }
    return best;
}

std::string quantize_source_line(const QuantizeReport& r) {
    const QuantizeInput& in = r.input;
    std::string s = in.kind == "synthetic" ? "synthetic layers" : "layers of " + in.path;
    if (!in.model.empty()) s += in.kind == "synthetic" ? " shaped as " + in.model : " (" + in.model + ")";
    long long calib = 0, eval = 0;
    for (const QuantizeLayer& l : r.layers) {
        calib = std::max(calib, l.calibration.tokens);
        eval = std::max<long long>(eval, l.calibration.eval_tokens);
    }
    s += ", " + std::string(in.calib_kind == "file" ? "recorded" : "synthetic") + " activations: ";
    s += fmt_count(calib) + " calibration / " + fmt_count(eval) + " held-out tokens";
    return s;
}

std::string quantize_summary_json(const QuantizeReport& r, const std::string& origin, const Selections& s) {
    ojson j;
    j["origin"] = origin;
    j["created_utc"] = r.created_utc;
    j["source"] = quantize_source_line(r);
    j["input_kind"] = r.input.kind;
    j["model"] = r.input.model.empty() ? ojson(nullptr) : ojson(r.input.model);
    j["selected_model"] = s.model;
    j["model_matches"] = !r.input.model.empty() && r.input.model == s.model;
    long long calib = 0, eval = 0;
    for (const QuantizeLayer& l : r.layers) {
        calib = std::max(calib, l.calibration.tokens);
        eval = std::max<long long>(eval, l.calibration.eval_tokens);
    }
    j["calibration_tokens"] = calib;
    j["eval_tokens"] = eval;
    j["layers"] = r.layers.size();
    ojson rows = ojson::array(), sel = ojson::array();
    for (const QuantizeLayer& l : r.layers) {
        const int pick = quantize_row_for(l, s);
        for (size_t i = 0; i < l.results.size(); ++i) {
            const QuantizeRow& x = l.results[i];
            ojson o;
            o["layer"] = l.name;
            o["method"] = x.method;
            o["ok"] = x.ok;
            if (x.ok) {
                o["bits"] = x.bits;
                o["group_size"] = x.group_size;
                o["zero_point"] = x.zero_point;
                o["act_order"] = x.act_order;
                o["weight_rel_err"] = x.weight_rel_err;
                o["output_rel_err"] = x.output_rel_err;
                o["output_sqnr_db"] = finite_or_null(x.output_sqnr_db);
                o["time_s"] = x.time_s;
            }
            o["selected"] = (int)i == pick;
            if ((int)i == pick) sel.push_back(o);
            rows.push_back(o);
        }
    }
    j["rows"] = rows;
    j["selected"] = sel;
    return dump(j, -1);
}

}  // namespace qb
