// Google Benchmark of the quantizers' heavy parts on one thread each, so that two
// implementations can be compared on a shared machine in the same process: the calibration
// rank update (FP32 Eigen vs BF16 AMX) on 4096 tokens of width 4096, and the GPTQ solve of a
// 4096 x 4096 layer (threads as configured: QB_THREADS / all cores). The whole pipeline with
// 128 x 512 calibration tokens is timed by scripts/bench_quant.sh (the CLI).
#include <benchmark/benchmark.h>

#include <vector>

#include "la.h"
#include "quant.h"
#include "synthetic.h"

namespace {

using qb::quant::Matrix;

const Matrix& tokens() {
    static const Matrix X = qb::quant::SyntheticActivations(4096, 0, 8, 512, {}).all();   // 4096 x 4096
    return X;
}

void BM_RankUpdateF32(benchmark::State& st) {
    const Matrix& X = tokens();
    std::vector<float> G((size_t)4096 * 4096, 0.0f);
    for (auto _ : st) qb::quant::la::ops().syrk_lower(X.rows, 4096, X.v.data(), 4096, G.data());
    st.counters["GFLOP/s"] = benchmark::Counter(4096.0 * 4096 * X.rows, benchmark::Counter::kIsIterationInvariantRate, benchmark::Counter::kIs1000);
    st.SetLabel(qb::quant::la::isa_name());
}
BENCHMARK(BM_RankUpdateF32)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_RankUpdateBf16Amx(benchmark::State& st) {
    if (!qb::quant::la::amx::available()) {
        st.SkipWithError("no AMX-BF16");
        return;
    }
    const Matrix& X = tokens();
    std::vector<float> G((size_t)4096 * 4096, 0.0f);
    for (auto _ : st) qb::quant::la::amx::syrk_bf16(X.rows, 4096, X.v.data(), 4096, G.data(), 4096);
    st.counters["GFLOP/s"] = benchmark::Counter(4096.0 * 4096 * X.rows, benchmark::Counter::kIsIterationInvariantRate, benchmark::Counter::kIs1000);
}
BENCHMARK(BM_RankUpdateBf16Amx)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_GptqSolve(benchmark::State& st) {
    static const qb::quant::Calibration c = [] {
        qb::quant::SyntheticActivations src(4096, 0, 16, 512, {});
        return qb::quant::calibrate(src, 0);
    }();
    static const Matrix W = qb::quant::synthetic_weights(4096, 4096, {});
    qb::quant::QuantSpec s;
    for (auto _ : st) {
        qb::quant::Result r = qb::quant::quantize_gptq(W, c.H, s, {});
        benchmark::DoNotOptimize(r.packed.q.data());
        st.counters["factor_s"] = r.details.get("t_factor_s");
        st.counters["columns_s"] = r.details.get("t_columns_s");
    }
}
BENCHMARK(BM_GptqSolve)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(1);

}  // namespace

BENCHMARK_MAIN();
