// quantize_json.h: the one definition of the quantize report ("schema": "qbench.quantize",
// version 1; docs/quantizers.md section 4): what `qbench-native quantize` measured per layer and
// method (weight error, output error and SQNR on held-out activations, time), its input and
// configuration. The CLI writes it with quantize_json(); the widget and `validate-data` read it
// with parse_quantize(). Text in, structs out: no file access, never throws; every problem
// names file, JSON pointer and reason, like data_json.h and results_json.h.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "data_json.h"
#include "selections.h"

namespace qb {

// Limits a report must respect (hostile input stops here, before any use). A real report is a
// few KB per layer; 7 projections x 32 layers x 4 methods of a 7B model is well under 2 MB.
inline constexpr size_t kQuantizeMaxBytes = 16u << 20;
inline constexpr int kQuantizeMaxDepth = 8;                   // the schema needs 6
inline constexpr size_t kQuantizeMaxLayers = 4096;
inline constexpr size_t kQuantizeMaxRowsPerLayer = 64;
inline constexpr size_t kQuantizeMaxDetails = 64;             // numbers in one row's "details"
inline constexpr size_t kQuantizeMaxString = 4000;

struct QuantizeEnvironment {
    std::string cpu, os, compiler, build, isa, eigen;   // build: "release" | "debug"; isa: la build
    int logical_cores = 0, threads = 0;
    std::vector<std::string> cpu_features;
};

// The generator of synthetic weights / activations (native/quant/synthetic.h).
struct QuantizeSynthetic {
    uint64_t seed = 0;
    double outlier_frac = 0, outlier_min = 0, outlier_max = 0;
    int rank = 0;
    double noise = 0, ar = 0, heavy_row_frac = 0;
};

struct QuantizeInput {
    std::string kind = "synthetic";      // "synthetic" | "safetensors"
    std::string model;                   // optional model-catalog id the layers come from or are shaped as ("" = none)
    std::string path, layers_regex;      // safetensors only ("" otherwise)
    std::string calib_kind = "synthetic";   // "synthetic" | "file"
    std::string calib_path;              // calib_kind "file"
    // Synthetic calibration: samples x tokens per sample, held out likewise (0 = not given).
    int calib_samples = 0, calib_tokens_per_sample = 0, eval_samples = 0, eval_tokens_per_sample = 0;
    bool has_synthetic = false;          // the generator's parameters (synthetic weights or activations)
    QuantizeSynthetic synthetic;
};

struct QuantizeConfig {
    std::vector<std::string> methods;    // rtn, gptq, awq, quip
    int bits = 4, group_size = 128;      // group_size 0 = per-channel
    bool zero_point = false, act_order = false, static_groups = false;
    double damp = 0.01;
    int block_size = 128;
    std::string hessian = "f32";         // "f32" | "bf16"
    int awq_grid = 20, awq_clip_grid = 20, awq_loss_tokens = 512;
    double awq_max_shrink = 0.5;
    uint64_t quip_seed = 0;
    bool quip_rescale = true;
    std::string quip_transform;
};

// The calibration pass of one layer (shared by GPTQ, AWQ and QuIP).
struct QuantizeLayerCalibration {
    std::string source;                  // "synthetic" or the activation tensor's name
    long long tokens = 0;                // calibration tokens
    int eval_tokens = 0;                 // held-out tokens the errors are measured on
    int awq_loss_tokens = 0;
    std::string hessian_precision = "f32";   // "f32" | "bf16-amx"
    double hessian_s = 0, source_thread_s = 0, accumulate_thread_s = 0;
    bool shared = false;                 // computed for an earlier layer of the same input
};

// One method on one layer. A failed one (ok false) carries only method and error.
struct QuantizeRow {
    std::string method;
    bool ok = true;
    std::string error;
    int bits = 4, group_size = 128;      // group_size 0 = per-channel
    bool zero_point = false, act_order = false;
    double weight_rel_err = 0;           // ||W - W^||_F / ||W||_F
    double output_rel_err = 0;           // ||WX - W^X||_F / ||WX||_F on the held-out tokens
    double output_sqnr_db = 0;           // 10 log10(||WX||^2 / ||(W - W^)X||^2); +inf (null in JSON) when exact
    double time_s = 0;                   // the method alone (the calibration pass excluded)
    long long packed_bytes = 0;
    double bits_per_weight = 0;
    bool sidecar_perm = false, sidecar_input_scale = false;
    std::string transform = "none";      // "none" | "quip"
    bool has_seed = false;
    uint64_t seed = 0;                   // QuIP
    std::string file;                    // with --out-dir
    std::vector<std::pair<std::string, double>> details;   // method diagnostics, in order
};

struct QuantizeLayer {
    std::string name;
    int rows = 0, cols = 0;
    QuantizeLayerCalibration calibration;
    std::vector<QuantizeRow> results;
};

struct QuantizeReport {
    std::string created_utc;             // "2026-11-26T20:00:00Z"
    std::string tool_name = "qbench-native quantize", tool_version;
    QuantizeEnvironment env;
    QuantizeInput input;
    QuantizeConfig config;
    std::vector<QuantizeLayer> layers;
    double total_s = 0;
};

// Parses and validates; on any error returns false (errors appended, *out unchanged).
bool parse_quantize(const std::string& text, const std::string& file_name, QuantizeReport* out,
                    std::vector<DataError>* errors);
std::string quantize_json(const QuantizeReport& r, int indent = 2);

// The row of `layer` a selection corresponds to: same method, bits and group size, preferring
// one whose zero point (and, for GPTQ, act-order) also match. -1 when there is none.
int quantize_row_for(const QuantizeLayer& layer, const Selections& s);

// One line saying where the report's figures come from, e.g. "synthetic layers shaped as
// llama-2-7b, 16,384 calibration / 2,048 held-out tokens".
std::string quantize_source_line(const QuantizeReport& r);

// What the widget shows of a loaded report, as one JSON object (its state for tests and the
// page): origin, source line, token counts, whether the report's model is the selected one,
// and every row with "selected" marking the one that matches the selection in each layer.
// Figures are copied from the report (measured), never recomputed.
std::string quantize_summary_json(const QuantizeReport& r, const std::string& origin, const Selections& s);

}  // namespace qb
