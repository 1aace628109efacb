// predict.h: the one entry point: selections in, every figure qbench shows out.
#pragma once
#include <string>
#include <vector>

#include "accuracy.h"
#include "catalog.h"
#include "cost.h"
#include "latency.h"
#include "memory.h"
#include "selections.h"

namespace qb {

// `comparison_delta.vs_fp16`: the same model, hardware, devices, batch and traffic at FP16.
struct Fp16Delta {
    double tpot_ms = 0, tpot_pct = 0;      // selection - fp16 (negative: faster)
    double ttft_ms = 0, ttft_pct = 0;
    double memory_gb = 0, memory_pct = 0;
    double usd_month = 0, usd_pct = 0;
    double ppl_delta = 0;                  // perplexity points (when both are known)
    double decode_speedup = 0;             // fp16 TPOT / selection TPOT
    bool fp16_fits = false;
};

struct Prediction {
    Selections sel;
    MemoryBreakdown mem;
    Latency lat;
    Accuracy acc;
    Cost cost;                               // `calculated_monthly_cost`
    int crossover_batch = 0;                 // weight-only methods: first batch no faster than FP16 (0: none <= 4096)
    Fp16Delta vs_fp16;                       // `comparison_delta`
    std::vector<ApiComparison> vs_api;
    std::vector<std::string> warnings;       // true but worth knowing (does not fit, no mainstream kernel, ...)
};

struct PredictResult {
    std::vector<FieldError> errors;          // non-empty: nothing computed
    Prediction p;
    bool ok() const { return errors.empty(); }
};

PredictResult predict(const Catalog& c, const Selections& s);

}  // namespace qb
