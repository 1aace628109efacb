// Speed of the shared model: one predict, and a full sweep (the widget recomputes one every
// frame while a slider moves). Target: >= 2,000 configurations in under 5 ms natively.
#include <benchmark/benchmark.h>

#include "data_json.h"
#include "predict.h"
#include "sweep.h"

using namespace qb;

static const Catalog& catalog() {
    static Catalog c = [] {
        Catalog x;
        std::vector<DataError> e;
        if (!load_catalog(embedded_data(), &x, &e)) std::abort();
        return x;
    }();
    return c;
}

static void BM_Predict(benchmark::State& st) {
    Selections s;
    for (auto _ : st) benchmark::DoNotOptimize(predict(catalog(), s));
}
BENCHMARK(BM_Predict)->Unit(benchmark::kMicrosecond);

// Every valid method x bits x group x zero point, at 9 batch sizes and 2 KV types.
static void BM_FullSweep(benchmark::State& st) {
    Selections s;
    SweepSpec spec;
    spec.batches = {1, 2, 4, 8, 16, 32, 64, 128, 256};
    spec.kvs = {KvType::fp16, KvType::fp8};
    size_t n = 0;
    for (auto _ : st) {
        auto pts = sweep(catalog(), s, spec);
        n = pts.size();
        benchmark::DoNotOptimize(pts);
    }
    st.counters["configurations"] = (double)n;
    st.counters["us_per_config"] = benchmark::Counter((double)n, benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_FullSweep)->Unit(benchmark::kMillisecond);

// The widget's per-frame sweep: one batch, one KV type.
static void BM_WidgetSweep(benchmark::State& st) {
    Selections s;
    for (auto _ : st) benchmark::DoNotOptimize(sweep(catalog(), s));
}
BENCHMARK(BM_WidgetSweep)->Unit(benchmark::kMicrosecond);

BENCHMARK_MAIN();
