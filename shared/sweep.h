// sweep.h: every valid method x bits x group size x zero point for one model on one hardware
// (optionally over several batch sizes and KV types), with the latency-vs-accuracy Pareto front
// flagged. Cheap enough to recompute every frame in the widget (see bench/).
#pragma once
#include <vector>

#include "accuracy.h"
#include "catalog.h"
#include "selections.h"

namespace qb {

struct SweepPoint {
    Selections sel;
    double tpot_ms = 0, ttft_ms = 0, tokens_per_s = 0;
    double memory_gb = 0, weight_bits = 0;
    bool fits = false;
    bool has_ppl = false;
    double ppl = 0, delta_pct = 0;
    Provenance provenance = Provenance::none;
    double usd_month = 0;
    bool pareto = false;   // no other point of the same batch and KV type is both faster and more accurate
};

struct SweepSpec {
    std::vector<int> batches;     // empty: the base selection's batch
    std::vector<KvType> kvs;      // empty: the base selection's KV type
    bool fitting_only = false;    // drop configurations that do not fit
};

// The base selection supplies model, hardware, devices, shapes and traffic. Invalid base: empty.
std::vector<SweepPoint> sweep(const Catalog& c, const Selections& base, const SweepSpec& spec = {});

// Quantization configurations (method, bits, group, zero) valid for this base selection.
std::vector<Selections> sweep_configs(const Catalog& c, const Selections& base);

}  // namespace qb
