// cuda_bench.h: the CUDA kernel benchmark behind `qbench-native bench --backend cuda`.
// The runner returns structs and never prints (an optional progress callback gets one line per
// step, for long device runs); the CLI formats tables and writes the results JSON
// ("qbench.results" v1, backend "cuda").
//
// [SECTION] Method (docs/cuda-kernels.md has the long form)
//   * Bandwidth limit: cudaMemcpyAsync device-to-device of 1 GiB, bytes read + written, median
//     of 10 after 3 warm-ups ("copy" probe). pct_of_probe = achieved GB/s / probe GB/s.
//   * Kernel time ("graph" timing, the numbers in the results): B back-to-back launches over
//     R rotated copies of the weights (R x weight bytes >= 3 x L2, so every launch streams its
//     weights from HBM, as in a real decode step), captured in one CUDA graph; the graph is
//     replayed T times, each replay timed with CUDA events; per-launch time = replay / B.
//     median / p10 / p90 are over the T replays. Every implementation (cuBLAS, ours) is timed
//     the same way, and tests/gpu/torch_peer.py times torch the same way.
//   * "cold" timing (printed, not stored): one launch between events after writing a buffer of
//     >= 2 x L2 (cudaMemsetAsync), repeated: includes the launch latency of an isolated kernel.
//   * Correctness: before timing, Y is poisoned (NaN), one launch runs, all of Y must be
//     finite, and the outputs of 192 columns (3 windows of 64) x up to 32 rows are compared
//     with qformat.h's matmul_ref (double accumulation) on the same stored weights and the
//     same FP16 activations. max_rel_err = max |y - ref| / max |ref| over those outputs.
#pragma once
#include <functional>
#include <string>
#include <vector>

namespace qb::bench {

struct GpuEnv {
    std::string name, driver, cuda;   // driver: NVML's version string if available, else the CUDA driver API version
    double sm_clock_mhz = 0, mem_clock_mhz = 0, l2_mb = 0, mem_gb = 0;
    int sms = 0, cc_major = 0, cc_minor = 0;
    std::string hardware_id;          // hardware.json id guessed from the name ("h100-sxm", "h200", ...) or ""
};

struct CudaMeasurement {
    std::string kernel;               // fp16 (also the bf16 baseline), w4a16, w8a16, w8a8, fp8
    std::string impl;                 // "cublaslt-fp16", "cublaslt-bf16", "qbench-mma", "cublaslt-fp8", ...
    int bits = 16, group_size = 0;    // group 0 = per-channel
    bool zero_point = false;
    int m = 1, n = 1, k = 1;
    std::string shape;                // "11008x4096" (N x K) or a model layer label
    int reps = 0;                     // launches timed in total
    double median_us = 0, p10_us = 0, p90_us = 0;
    double weight_bytes = 0;          // weights + scales + zeros as the kernel reads them
    double bytes = 0;                 // weight_bytes + activations in + outputs out
    double flops = 0;                 // 2 M N K
    double gbps = 0, pct_of_probe = 0;
    bool correct = false;
    double max_rel_err = 0, tolerance = 0;
    std::string plan;                 // how the kernel split the work (log only)
};

struct ColdTiming {                   // isolated launches after an L2 flush (log only)
    std::string impl, shape;
    int m = 1;
    double median_us = 0, p10_us = 0, p90_us = 0;
};

struct DecodeStep {                   // all linear layers of a model, one graph, M = 1
    std::string impl, model;
    int layers = 0, gemms = 0;
    double weight_bytes = 0;
    double median_ms = 0, p10_ms = 0, p90_ms = 0;
    double gbps = 0, pct_of_probe = 0;
};

struct Shape { int n = 0, k = 0; std::string label; };

struct CudaBenchOptions {
    std::vector<Shape> shapes;        // empty: 11008x4096, 4096x11008, 8192x28672
    std::vector<int> batches;         // empty: 1 2 4 8 16 32 64 128
    std::vector<int> large_m;         // extra M for the dense / FP8 / INT8 comparison (default 4096, first shape only)
    bool group_sweep = true;          // W4A16 g32/g64/g128/per-channel x zeros at M = 1 and 16 (first shape)
    bool decode = true;               // Llama-2-7B decode step
    bool cold = true;                 // isolated-launch timings of FP16 and W4A16 g128 at M = 1
    bool split_sweep = false;         // W4A16 g128 at M = 1 and 16: every split-K factor, PDL on / off (log only)
    int replays = 30;                 // T
    int launches = 20;                // B (rounded up to a multiple of the rotation count)
    double rotate_l2 = 3.0;           // R x weight bytes >= rotate_l2 x L2
    std::function<void(const std::string&)> progress;   // may be empty
};

struct CudaBenchReport {
    GpuEnv gpu;
    double probe_gbps = 0, probe_array_mb = 1024;
    std::vector<CudaMeasurement> measurements;
    std::vector<ColdTiming> cold;
    std::vector<DecodeStep> decode;
    std::vector<std::string> notes;   // things worth knowing about the run (fallbacks taken, ...)
    bool all_correct = true;
};

// False (and *err) if no CUDA device is usable or a step failed outright; wrong results do not
// fail the run (they are recorded with correct = false and all_correct = false).
bool run_cuda_bench(const CudaBenchOptions& opt, CudaBenchReport* out, std::string* err);

// The GPU environment only (also used by the GPU tests' header line).
bool query_gpu(GpuEnv* out, std::string* err);

}  // namespace qb::bench
