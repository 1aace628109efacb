// catalog.h: the facts qbench computes from (models, API prices, hardware, efficiency, published
// accuracy). Plain structs filled by data_json.cpp from data/*.json; nothing here does I/O.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace qb {

// A transformer decoder as published in its config.json.
struct ModelArch {
    std::string id, name, family, hf_repo, source;
    double params_b = 0;       // published parameter count, billions
    int layers = 0, hidden = 0, intermediate = 0, heads = 0, kv_heads = 0, head_dim = 0;
    int vocab = 0, max_context = 0;
    bool tied_embeddings = false, qkv_bias = false;
};

struct ApiModel {
    std::string id, name, provider, tier, date, source, status, successor;
    int context_window = 0;
    double usd_per_m_input = 0, usd_per_m_output = 0;
};

enum class HwKind : uint8_t { gpu, apple, cpu };

// Dense peaks in TFLOPS (or TOPS); a negative value means "no hardware path".
struct Peaks { double fp16 = -1, bf16 = -1, fp8 = -1, int8 = -1, int4 = -1; };

struct Price { double usd_per_hour = 0; std::string provider, date, source; };

struct Hardware {
    std::string id, name, arch, source, note;
    HwKind kind = HwKind::gpu;
    double memory_gb = 0, bandwidth_gbps = 0, interconnect_gbps = 0;
    int max_devices = 1;
    Peaks peak;
    Price price;
    // Filled by index_catalog(): the efficiency class of `arch` and any fitted per-kernel overrides.
    int eff_class = -1;
    int eff_override[8] = {-1, -1, -1, -1, -1, -1, -1, -1};   // index into Catalog::eff_overrides, per Kernel
};

// Kernel classes of the roofline: which efficiency pair applies to a linear layer.
enum class Kernel : uint8_t { fp16, w8a16, w4a16, w8a8, fp8, attn, count };
const char* kernel_name(Kernel k);
// The class named by kernel_name(); false for any other name.
bool kernel_from_name(const std::string& name, Kernel* k);

struct Eff { double bw = 0, compute = 0; };

// Efficiency factors of one architecture class (see data/efficiency.json for the basis).
struct EffClass {
    std::string arch, basis;
    Eff kernel[(int)Kernel::count];
    double layer_overhead_us = 0, step_overhead_us = 0, allreduce_us = 0;
    double runtime_overhead_gb = 0, memory_usable_fraction = 1;
};

struct EffOverride { std::string hardware, source; Kernel kernel = Kernel::fp16; Eff eff; };

struct AccSource { std::string key, title, url, where; };

struct AccuracyRow {
    std::string model, method, variant, dataset, source;
    int bits = 16, group_size = -1;   // -1: not applicable, 0: per-channel
    bool act_order = false;
    int context = 2048;
    double ppl = 0;
    // Filled by index_catalog(): the FP16 row of the same table, and the row's model.
    int fp16_row = -1, model_index = -1;
};

struct Catalog {
    std::vector<ModelArch> models;
    std::vector<ApiModel> api_models;
    std::vector<Hardware> hardware;
    std::vector<EffClass> eff_classes;
    std::vector<EffOverride> eff_overrides;
    std::vector<AccSource> acc_sources;
    std::vector<AccuracyRow> accuracy;

    const ModelArch* model(const std::string& id) const;
    const ApiModel* api(const std::string& id) const;
    const Hardware* hw(const std::string& id) const;
    const AccSource* acc_source(const std::string& key) const;
    // Efficiency for (hardware, kernel): a per-hardware override (fitted) wins over the class default.
    Eff eff(const Hardware& h, Kernel k) const;
    const EffClass* eff_class(const std::string& arch) const;
};

// Resolves cross references (AccuracyRow::fp16_row, model_index, Hardware::eff_class, eff_override) once, after loading, so the
// per-frame paths compare integers rather than strings.
void index_catalog(Catalog& c);

// Parameter count computed from the architecture (linear layers, embeddings, norms, biases).
double computed_params(const ModelArch& m);

}  // namespace qb
