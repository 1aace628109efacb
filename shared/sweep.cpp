#include "sweep.h"

#include <algorithm>

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
    // Sorted by (group, TPOT, loss), a point is dominated iff an earlier point of its group has
    // a strictly lower TPOT and no higher loss, or the same TPOT and a strictly lower loss.
    std::vector<int> idx;
    for (int i = 0; i < (int)pts.size(); ++i)
        if (pts[i].fits && pts[i].provenance != Provenance::none) idx.push_back(i);
    std::sort(idx.begin(), idx.end(), [&](int a, int b) {
        const SweepPoint &x = pts[a], &y = pts[b];
        if (x.sel.batch != y.sel.batch) return x.sel.batch < y.sel.batch;
        if (x.sel.kv != y.sel.kv) return x.sel.kv < y.sel.kv;
        if (x.tpot_ms != y.tpot_ms) return x.tpot_ms < y.tpot_ms;
        if (x.delta_pct != y.delta_pct) return x.delta_pct < y.delta_pct;
        return a < b;
    });
    for (size_t i = 0; i < idx.size();) {
        const SweepPoint& g = pts[idx[i]];
        double best_before = 1e300;   // least loss among strictly faster points of the group
        size_t j = i;
        while (j < idx.size() && pts[idx[j]].sel.batch == g.sel.batch && pts[idx[j]].sel.kv == g.sel.kv) {
            size_t k = j;   // run of equal TPOT: its first point has the run's least loss
            const double run_min = pts[idx[j]].delta_pct;
            while (k < idx.size() && pts[idx[k]].sel.batch == g.sel.batch && pts[idx[k]].sel.kv == g.sel.kv &&
                   pts[idx[k]].tpot_ms == pts[idx[j]].tpot_ms) {
                SweepPoint& p = pts[idx[k]];
                p.pareto = !(best_before <= p.delta_pct || run_min < p.delta_pct);
                ++k;
            }
            if (run_min < best_before) best_before = run_min;
            j = k;
        }
        i = j;
    }
    return pts;
}

}  // namespace qb
