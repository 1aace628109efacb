// Prints the shared model's results over a wide grid, byte for byte the same whether built
// natively or with emcc and run under node; the parity test diffs the two outputs.
// Covers every model x hardware, the full sweep at two batch sizes, full predictions,
// and bad input (broken links, malformed data) so that the wasm build's error paths run too.
#include <cstdio>
#include <string>

#include "data_json.h"
#include "numeric.h"
#include "predict.h"
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
    std::printf("sweep points: %zu\n", points);
    return 0;
}
