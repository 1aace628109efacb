#include "accuracy.h"

#include <cstdio>

#include "numeric.h"

namespace qb {

const char* provenance_name(Provenance p) {
    switch (p) {
        case Provenance::published: return "published";
        case Provenance::measured: return "measured";
        case Provenance::estimated: return "estimated";
        default: return "none";
    }
}

static bool groupless(const std::string& method) {
    return method == "fp16" || method == "bf16" || method == "w8a8" || method == "fp8" || method == "quip";
}
static bool act_quant(const std::string& method) { return method == "w8a8" || method == "fp8"; }

// The FP16 row of the same table (model, source, dataset, context) as row r.
static const AccuracyRow* fp16_row(const Catalog& c, const AccuracyRow& r) {
    return r.fp16_row >= 0 ? &c.accuracy[r.fp16_row] : nullptr;
}

// Reference FP16 perplexity of a model: the WikiText-2 row at the shortest context, preferring a
// table that has the most rows for this model (so most comparisons share it).
static const AccuracyRow* fp16_ref(const Catalog& c, const std::string& model) {
    const AccuracyRow* best = nullptr;
    int best_n = -1;
    for (size_t i = 0; i < c.accuracy.size(); ++i) {
        const AccuracyRow& x = c.accuracy[i];
        if (x.method != "fp16" || x.model != model) continue;
        int n = 0;
        for (const AccuracyRow& y : c.accuracy) n += y.fp16_row == (int)i;
        if (!best || x.context < best->context || (x.context == best->context && n > best_n)) { best = &x; best_n = n; }
    }
    return best;
}

static std::string cite(const Catalog& c, const std::string& key) {
    const AccSource* s = c.acc_source(key);
    if (!s) return key;
    return s->title + (s->where.empty() ? "" : ", " + s->where) + (s->url.empty() ? "" : " (" + s->url + ")");
}

static std::string pct(double v) {
    char b[32];
    std::snprintf(b, sizeof b, "%+.2f%%", v);
    return b;
}

static std::string row_desc(const AccuracyRow& r) {
    std::string d = r.model + " " + r.method;
    if (!r.variant.empty()) d += " (" + r.variant + ")";
    if (r.method != "fp16") d += " W" + std::to_string(r.bits);
    if (r.group_size > 0) d += " g" + std::to_string(r.group_size);
    if (r.group_size == 0) d += " per-channel";
    if (r.act_order) d += " act-order";
    return d;
}

Accuracy accuracy(const Catalog& c, const ModelArch& m, const Selections& s) {
    Accuracy a;
    const std::string method = (s.method == Method::bf16) ? "fp16" : method_name(s.method);
    const int bits = fixed_bits(s.method) ? fixed_bits(s.method) : s.bits;
    const bool no_group = groupless(method) || s.method == Method::int8;

    const AccuracyRow* ref = fp16_ref(c, m.id);
    if (method == "fp16") {
        if (!ref) { a.basis = "no published FP16 perplexity for " + m.name + " in accuracy.json"; return a; }
        a.has_ppl = true;
        a.ppl = a.ppl_fp16 = ref->ppl;
        a.provenance = s.method == Method::bf16 ? Provenance::estimated : Provenance::published;
        a.source = cite(c, ref->source);
        a.dataset = ref->dataset;
        a.context = ref->context;
        if (s.method == Method::bf16) a.basis = "the FP16 row: BF16 serves the same checkpoint; its rounding of activations is not modelled";
        return a;
    }

    // 1. Published: this model, method, bits and group (act-order must match for GPTQ).
    const AccuracyRow* pub = nullptr;
    for (const AccuracyRow& r : c.accuracy) {
        if (r.model != m.id || r.method != method || r.bits != bits) continue;
        if (!no_group && r.group_size != s.group_size) continue;
        if (method == "gptq" && r.act_order != s.act_order) continue;
        const AccuracyRow* f = fp16_row(c, r);
        if (!f) continue;
        // Prefer the reference table's context, so a sweep compares like with like.
        if (!pub || (ref && r.context == ref->context && pub->context != ref->context)) pub = &r;
    }
    if (pub) {
        const AccuracyRow* f = fp16_row(c, *pub);
        a.has_ppl = true;
        a.ppl = pub->ppl;
        a.ppl_fp16 = f->ppl;
        a.delta_pct = (pub->ppl / f->ppl - 1) * 100;
        a.provenance = Provenance::published;
        a.source = cite(c, pub->source);
        a.dataset = pub->dataset;
        a.context = pub->context;
        return a;
    }

    // 2. Estimated from the nearest published row.
    const AccuracyRow* best = nullptr;
    const AccuracyRow* best_f = nullptr;
    int best_cost = 1 << 30;
    for (const AccuracyRow& r : c.accuracy) {
        if (r.method == "fp16") continue;
        const AccuracyRow* f = fp16_row(c, r);
        if (!f) continue;
        const ModelArch* rm = r.model_index >= 0 ? &c.models[r.model_index] : nullptr;
        int cost = r.model == m.id ? 0 : (rm && rm->family == m.family) ? 10 : 30;
        if (r.method != method) cost += act_quant(r.method) == act_quant(method) ? 20 : 60;
        cost += 8 * (r.bits > bits ? r.bits - bits : bits - r.bits);
        if (!no_group && r.group_size != s.group_size) cost += 4;
        if (method == "gptq" && r.act_order != s.act_order) cost += 1;
        if (ref && r.context != ref->context) cost += 2;
        if (cost < best_cost) { best_cost = cost; best = &r; best_f = f; }
    }
    if (!best) { a.basis = "no published quantized perplexity to estimate from"; return a; }

    const double row_delta = best->ppl / best_f->ppl - 1;
    double factor = 1;
    std::string rules;
    if (best->bits != bits) {
        for (int b = bits; b < best->bits; ++b) factor *= 4;
        for (int b = best->bits; b < bits; ++b) factor /= 4;
        rules += "; x4 per bit from W" + std::to_string(best->bits) + " to W" + std::to_string(bits);
        if (bits <= 2 && method != "quip")
            rules += " (a lower bound: published 2-bit RTN/GPTQ results collapse far beyond the MSE rule)";
    }
    if (!no_group && best->group_size >= 0 && !groupless(best->method)) {
        const double gt = s.group_size > 0 ? s.group_size : m.hidden;
        const double gr = best->group_size > 0 ? best->group_size : m.hidden;
        if (gt != gr) {
            factor *= det_log2(gt) / det_log2(gr);
            rules += "; group-size rule log2(" + fmt_double(gt) + ")/log2(" + fmt_double(gr) + ")";
        }
    }
    a.delta_pct = row_delta * factor * 100;
    a.provenance = Provenance::estimated;
    a.source = cite(c, best->source);
    a.basis = "estimated from " + row_desc(*best) + " (" + pct(row_delta * 100) + " vs FP16 in its table)" + rules;
    if (best->method != method) a.basis += "; different method, no method adjustment";
    if (ref) {
        a.has_ppl = true;
        a.ppl_fp16 = ref->ppl;
        a.ppl = ref->ppl * (1 + a.delta_pct / 100);
        a.dataset = ref->dataset;
        a.context = ref->context;
    } else {
        a.basis += "; no published FP16 perplexity for " + m.name + ", so only the change is given";
    }
    return a;
}

}  // namespace qb
