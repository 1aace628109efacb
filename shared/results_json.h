// results_json.h: the one reader / writer of measured kernel results ("schema":
// "qbench.results", version 1; docs/results-format.md) and of the results index, plus the
// edit of efficiency.json's overrides that `qbench-native calibrate --write` performs.
// Text in, structs out: no file access here (the CLI and the server do the I/O), never throws;
// every problem names file, JSON pointer and reason, like data_json.h.
#pragma once
#include <string>
#include <vector>

#include "catalog.h"
#include "data_json.h"

namespace qb {

// Limits a results document must respect (hostile input stops here, before any use).
inline constexpr size_t kResultsMaxBytes = 32u << 20;       // whole document
inline constexpr int kResultsMaxDepth = 16;                   // nesting ([ and {); the schema needs 4
inline constexpr size_t kResultsMaxMeasurements = 100000;
inline constexpr size_t kResultsMaxString = 4000;             // any string (fields have tighter limits)

struct GpuInfo {
    std::string name, driver, cuda;
    double sm_clock_mhz = 0, mem_clock_mhz = 0;   // "clocks": {"sm_mhz", "mem_mhz"}
    double l2_mb = 0;
};

struct ResultsEnvironment {
    std::string hostname, cpu_model, compiler, os;
    std::string commit = "unknown";   // git rev-parse HEAD (+ "-dirty"), or "unknown"
    std::string timestamp;            // UTC ISO-8601, "2026-11-26T14:03:07Z"
    int cores = 0;                    // logical CPUs the OS reports
    int threads = 0;                  // threads the kernels ran on
    std::vector<std::string> isa;     // CPU features (avx2, avx512f, avx512vnni, ...)
    std::string hardware_id;          // a hardware.json id the user named; empty = null
    bool has_gpu = false;             // gpu is null for CPU runs
    GpuInfo gpu;
    double cpu_mhz = 0;               // optional: nominal clock from the OS (0 = unknown)
    double load_avg = -1;             // optional: 1-minute load average when the run started (-1 = unknown)
};

// "probe": null in the file (kind empty here) when the run measured no bandwidth.
struct ResultsProbe {
    std::string kind;                 // which probe gave `gbps`: "triad", "copy" or "read" (CPU)
    double gbps = 0;                  // the machine's bandwidth limit used for pct_of_probe
    double copy_gbps = 0, triad_gbps = 0, read_gbps = 0;   // optional details (0 = not measured)
    double array_mb = 0;              // optional: size of each probe array
};

struct Measurement {
    std::string backend = "cpu";      // "cpu" | "cuda"
    std::string kernel;               // Kernel class name (fp16, w8a16, w4a16, w8a8, fp8) or "fp32"
    std::string impl;                 // "avx512-vnni", "avx512", "avx2", "scalar", "eigen", ... (older runs: "avx512-bf16")
    std::string isa;                  // optional: ISA level of the code that ran ("" = absent)
    int bits = 16;
    int group_size = 0;               // 0 = per-channel
    bool zero_point = false;
    int m = 1, n = 1, k = 1;
    std::string shape;                // label, e.g. "llama-2-7b gate_up_proj" or "11008x4096"
    int reps = 0;
    double median_us = 0, p10_us = 0, p90_us = 0;
    double bytes = 0;                 // weights + scales + zeros + activations in and out
    double flops = 0;                 // 2 M N K
    double gbps = 0, pct_of_probe = 0;
    bool correct = false;
    double max_rel_err = 0;           // max |y - ref| / max |ref| over the checked outputs
};

struct Results {
    std::string run_id;               // [a-z0-9][a-z0-9._-]*, at most 128: also the file name
    ResultsEnvironment env;
    ResultsProbe probe;
    std::vector<Measurement> measurements;
};

// Parses and validates; on any error returns false (errors appended, *out unchanged).
bool parse_results(const std::string& text, const std::string& file_name, Results* out, std::vector<DataError>* errors);
std::string results_json(const Results& r, int indent = 2);

// 16 hex digits identifying environment + measurements (run_id excluded): two files with the
// same fingerprint hold the same run, however they are named or formatted.
std::string results_fingerprint(const Results& r);
// "<UTC timestamp as yyyymmddThhmmssZ>-<host slug>-<first 8 hex of the fingerprint>".
std::string make_run_id(const Results& r);
bool valid_run_id(const std::string& id);

// The Kernel class a measurement's kernel name calibrates: "fp32" (the CPU baseline) counts as
// the fp16 class, i.e. the dense kernel of the device (see docs/results-format.md).
bool measurement_kernel(const std::string& name, Kernel* out);

// data/results/index.json ("schema": "qbench.results-index").
struct ResultsIndexEntry {
    std::string run_id, file, timestamp, hostname, cpu_model, hardware_id, fingerprint;
    int measurements = 0;
};
std::string results_index_json(const std::vector<ResultsIndexEntry>& runs);
ResultsIndexEntry index_entry(const Results& r, const std::string& file);

// Returns efficiency.json's text with `add` merged into "overrides" (an entry with the same
// hardware and kernel is replaced, others are kept in order). The caller validates the result
// with load_catalog before writing it. False (and *err) if eff_text is not a JSON object.
bool efficiency_with_overrides(const std::string& eff_text, const std::vector<EffOverride>& add, std::string* out,
                               std::string* err);

}  // namespace qb
