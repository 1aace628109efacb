#include "sweep.h"

#include "cost.h"
#include "latency.h"
#include "memory.h"

namespace qb {

std::vector<Selections> sweep_configs(const Catalog& c, const Selections& base) {
    std::vector<Selections> out;
    for (int mi = 0; mi < (int)Method::count; ++mi) {
        const Method m = (Method)mi;
        Selections s = base;
        apply_method_defaults(s, m);
        std::vector<int> bits = {s.bits};
        if (!fixed_bits(m)) bits.assign(std::begin(kBitsChoices), std::end(kBitsChoices));
        for (int b : bits)
            for (int g : kGroupChoices)
                for (int z = 0; z < 2; ++z) {
                    s.bits = b;
                    s.group_size = g;
                    s.zero_point = z;
                    if (validate(c, s).empty()) out.push_back(s);
                }
    }
    return out;
}

std::vector<SweepPoint> sweep(const Catalog& c, const Selections& base, const SweepSpec& spec) {
    std::vector<SweepPoint> pts;
    if (!validate(c, base).empty()) return pts;
    const ModelArch& m = *c.model(base.model);
    const Hardware& h = *c.hw(base.hardware);
    const std::vector<int> batches = spec.batches.empty() ? std::vector<int>{base.batch} : spec.batches;
    const std::vector<KvType> kvs = spec.kvs.empty() ? std::vector<KvType>{base.kv} : spec.kvs;
    for (const Selections& q : sweep_configs(c, base)) {
        // Accuracy depends only on the quantization config: once per config.
        const Accuracy acc = accuracy(c, m, q);
        for (KvType kv : kvs)
            for (int b : batches) {
                Selections s = q;
                s.kv = kv;
                s.batch = b;
                if (b < 1 || b > 4096) continue;
                SweepPoint p;
                const MemoryBreakdown mem = memory(c, m, h, s);
                if (spec.fitting_only && !mem.fits) continue;
                const Latency lat = latency(c, m, h, s);
                p.sel = s;
                p.tpot_ms = lat.tpot_ms;
                p.ttft_ms = lat.ttft_ms;
                p.tokens_per_s = lat.tokens_per_s;
                p.memory_gb = mem.total_gb;
                p.weight_bits = mem.weight_bits;
                p.fits = mem.fits;
                p.has_ppl = acc.has_ppl;
                p.ppl = acc.ppl;
                p.delta_pct = acc.delta_pct;
                p.provenance = acc.provenance;
                p.usd_month = self_hosted_cost(h, s, lat).usd_month;
                pts.push_back(std::move(p));
            }
    }
    // Pareto front per (batch, KV type) over fitting points: minimise TPOT and accuracy loss.
    for (SweepPoint& a : pts) {
        if (!a.fits || a.provenance == Provenance::none) continue;
        a.pareto = true;
        for (const SweepPoint& b : pts) {
            if (&a == &b || !b.fits || b.provenance == Provenance::none || b.sel.batch != a.sel.batch || b.sel.kv != a.sel.kv) continue;
            const bool no_worse = b.tpot_ms <= a.tpot_ms && b.delta_pct <= a.delta_pct;
            const bool better = b.tpot_ms < a.tpot_ms || b.delta_pct < a.delta_pct;
            if (no_worse && better) { a.pareto = false; break; }
        }
    }
    return pts;
}

}  // namespace qb
