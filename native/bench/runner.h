// runner.h: the kernel benchmark behind `qbench-native bench`. Returns structs and never
// prints (the CLI draws the table and the progress bar).
//
// For every shape x batch M x method configuration it: quantizes the shape's random FP32
// weights once per format (shared by all M), runs `warmup` untimed and `reps` timed calls,
// evicting the operands from every cache level before each call, records median / p10 / p90,
// the bytes the kernel must move and the GB/s and % of the probe that implies, and checks the
// output against the scalar reference of shared/qformat.h. The configurations of one (shape,
// M) take turns call by call (round-robin), so background load on a shared machine affects
// them alike; the probe runs before the kernels, between shapes and after them, and the best
// figure is the limit.
//
// Cache eviction ("flush"):
//   clflush (default): clflush every line of the weights, scales and zeros (not X and Y: in
//     a real decode step the activations were just written by the previous layer, so they are
//     in cache). This is exact whatever the cache size and policy, and costs about as much as
//     reading the weights once, so runs stay short even where the last-level cache is large
//     (this VM reports 300 MB of L3, which would hold the FP32 4096 x 4096 layer).
//   write: write a buffer of 2 x the last-level cache between reps (the portable approach;
//     slower: 600 MB per rep here).
//   none: weights stay cached; measures cache bandwidth, not a decode step.
// Correctness: every checked output must be within cpu::error_bound() of the double-precision
// reference of what the kernel computed: matmul_ref of X, or of X in 16-bit fixed point when
// the run says so (KernelRun::fixed16_acts, the INT4 avx512-vnni path; cpu::acts_as_run); for
// FP32 activations the bound is
// (K + 4) 2^-24 sum_k |x_k w_k| (the float summation-order bound derived in
// tests/kernels/test_cpu_kernels.cpp). max_rel_err = max |y - ref| / max |ref|. Large layers
// check 64 output columns spread over N (all M rows); small ones check everything.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "probe.h"
#include "results_json.h"

namespace qb::native {

enum class FlushMode { clflush, write, none };

struct BenchShape {
    std::string label;   // "gate_up_proj" or "11008x4096"
    int n = 0, k = 0;
};

// One kernel configuration: method fp32 | w8a16 | w4a16 | w8a8, and for w4a16 the format.
struct BenchConfig {
    std::string method;
    int bits = 4, group = 128;   // group 0 = per-channel
    bool zero = false;
    // The ISA cap for this configuration's calls only (-1: the process's). For A/B runs of two
    // levels in one run (`bench --compare-isa`): their calls alternate like any others.
    int isa = -1;
    std::string label() const;   // "fp32", "w8a16", "w4a16 g128", "w3a16 g64 +zero", "w8a8", "... @avx512-vnni"
};

struct BenchSpec {
    std::vector<BenchShape> shapes;
    std::vector<int> batches = {1, 4, 16, 64};
    std::vector<BenchConfig> configs;
    int warmup = 2, reps = 10;
    FlushMode flush = FlushMode::clflush;
    bool probe = true;
    ProbeSpec probe_spec;
    std::string hardware_id;     // empty = null
    uint64_t seed = 1;
};

// The batch from which a method is no faster than FP32 on a shape.
struct Crossover {
    std::string shape, config;
    int faster_until = 0;        // largest measured M where the method beat FP32 (0: none)
    int slower_from = 0;         // smallest measured M where it did not (0: it won everywhere)
    double interpolated = 0;     // M where the speedup crosses 1, linear between the two (0: none)
};

struct BenchReport {
    Results results;
    std::vector<Crossover> crossovers;
    std::vector<std::string> warnings;
    double seconds = 0;
};

// done / total runs and what runs next; called from the calling thread.
using Progress = std::function<void(int done, int total, const std::string& what)>;

BenchReport run_bench(const BenchSpec& spec, const Progress& progress);

// From a results set: per shape and configuration, where it stops beating the FP32 baseline.
std::vector<Crossover> crossovers(const Results& r);

// Shapes of a catalog model (qkv, o, gate_up, down from shared/memory.h linear_shapes).
std::vector<BenchShape> model_shapes(const ModelArch& m);
// The default suite: Llama-2-7B MLP 11008 x 4096 and 4096 x 11008, and 4096 x 4096.
std::vector<BenchShape> default_shapes();

}  // namespace qb::native
