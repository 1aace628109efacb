// Prints the shared model's results over a wide grid, byte for byte the same whether built
// natively or with emcc and run under node; the parity test diffs the two outputs.
// Covers every model x hardware, the full sweep at two batch sizes, full predictions,
// and bad input (broken links, malformed data) so that the wasm build's error paths run too;
// the quantize report (the widget parses it in wasm, the CLI writes it natively) round-trips
// and its bad inputs give the same messages.
#include <cstdio>
#include <string>

#include "data_json.h"
#include "numeric.h"
#include "predict.h"
#include "quantize_json.h"
#include "share_link.h"
#include "sweep.h"

using namespace qb;

int main() {
    Catalog c;
    std::vector<DataError> errs;
    if (!load_catalog(embedded_data(), &c, &errs)) {
        for (const DataError& e : errs) std::printf("data error: %s\n", e.str().c_str());
        return 1;
    }
    SweepSpec spec;
    spec.batches = {1, 32};
    size_t points = 0;
    for (const ModelArch& m : c.models)
        for (const Hardware& h : c.hardware) {
            Selections s;
            s.model = m.id;
            s.hardware = h.id;
            const PredictResult r = predict(c, s);
            if (r.ok()) std::printf("%s\n", prediction_json(c, r.p, -1).c_str());
            else std::printf("%s %s: %s\n", m.id.c_str(), h.id.c_str(), errors_json(r.errors).c_str());
            for (const SweepPoint& p : sweep(c, s, spec)) {
                ++points;
                std::printf("%s %s %s %s %s %s %s %s %s %d\n", encode_link(p.sel).c_str(), fmt_double(p.tpot_ms).c_str(),
                            fmt_double(p.ttft_ms).c_str(), fmt_double(p.tokens_per_s).c_str(), fmt_double(p.memory_gb).c_str(),
                            fmt_double(p.ppl).c_str(), fmt_double(p.delta_pct).c_str(), fmt_double(p.usd_month).c_str(),
                            provenance_name(p.provenance), p.pareto);
            }
        }
    const char* links[] = {"", "#", "%%%", "m=%ZZ", "v=1&zz=1", "v=1&b=four&bs=99999", "v=2&q=fp8&hw=a100-80gb",
                           "v=1&q=fp8&b=3", "v=1&api=nope,gpt-4o", "https://x/y?z#v=1&m=llama-3.1-8b&bs=8"};
    for (const char* l : links) {
        const LinkDecode d = decode_link(c, l);
        std::printf("link '%s' -> %s |", l, encode_link(d.sel).c_str());
        for (const FieldError& e : d.problems) std::printf(" %s: %s;", e.field.c_str(), e.reason.c_str());
        std::printf("\n");
    }
    DataTexts bad = embedded_data();
    bad.hardware = "{\"schema\": \"qbench.hardware\", \"version\": 1, \"hardware\": [ {\"id\": 3} ]";
    bad.accuracy = "[1, 2";
    Catalog tmp;
    errs.clear();
    std::printf("bad data accepted: %d\n", (int)load_catalog(bad, &tmp, &errs));
    for (const DataError& e : errs) std::printf("  %s\n", e.str().c_str());
    QuantizeReport q;
    q.created_utc = "2026-11-26T22:00:00Z";
    q.tool_version = "0.1.0";
    q.env = {"cpu", "os", "g++", "release", "avx512", "3.4.0", 2, 2, {"avx2"}};
    q.input.model = "llama-2-7b";
    q.input.calib_samples = 16;
    q.input.calib_tokens_per_sample = 512;
    q.input.eval_samples = 2;
    q.input.eval_tokens_per_sample = 512;
    q.input.has_synthetic = true;
    q.input.synthetic = {0xfedcba9876543210ULL, 0.005, 10, 100, 16, 0.5, 0.9, 0.01};
    q.config.methods = {"rtn", "gptq"};
    QuantizeLayer l;
    l.name = "model.layers.0.self_attn.q_proj.weight";
    l.rows = l.cols = 4096;
    l.calibration = {"synthetic", 8192, 1024, 512, "f32", 1.0 / 3, 0.1, 2.0 / 7, false};
    QuantizeRow a;
    a.method = "rtn";
    a.output_rel_err = 0.1 / 3;
    a.output_sqnr_db = 29.542425094393248;
    a.details = {{"x", 1e-300}, {"y", 6.02214076e23}};
    l.results = {a, a};
    l.results[1].method = "gptq";
    q.layers = {l};
    const std::string qt = quantize_json(q, -1);
    QuantizeReport qb2;
    errs.clear();
    const bool parsed = parse_quantize(qt, "q.json", &qb2, &errs);   // before the print: argument order is unspecified
    std::printf("quantize report: %s parse %d\n%s\n", qt.c_str(), (int)parsed, quantize_json(qb2, -1).c_str());
    Selections qs;
    qs.method = Method::gptq;
    std::printf("quantize summary: %s\n", quantize_summary_json(qb2, "q.json", qs).c_str());
    for (const std::string& t : {std::string(""), std::string("{\"schema\": \"qbench.quantize\", \"version\": 1}"), qt.substr(0, qt.size() / 2),
                                 std::string(40, '['), std::string("{\"schema\": \"qbench.quantize\", \"version\": 1, \"total_s\": -1}")}) {
        errs.clear();
        std::printf("bad quantize accepted: %d\n", (int)parse_quantize(t, "q.json", &qb2, &errs));
        for (const DataError& e : errs) std::printf("  %s\n", e.str().c_str());
    }
    std::printf("sweep points: %zu\n", points);
    return 0;
}
