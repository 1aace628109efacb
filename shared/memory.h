// memory.h: how many bytes a configuration needs (weights with their scales and zeros, KV cache,
// activations, runtime) and whether that fits the chosen devices.
#pragma once
#include "catalog.h"
#include "selections.h"

namespace qb {

// Stored bits per weight of a group-wise format: b + (scale_bits + zero_bits) / g.
// group_size 0 = per-channel (one scale per output row, i.e. g = in_features).
// W4 g128 with an FP16 scale: 4 + 16/128 = 4.125. The zero, when present, is stored at the
// weight width as GPTQ/AWQ checkpoints pack it (4 + 20/128 = 4.156); with an FP16 zero
// (zero_bits = 16) it would be 4.25.
double bits_per_weight(int bits, int group_size, double in_features, bool zero_point, double zero_bits = -1,
                       double scale_bits = 16);

// The stored width of a selection's linear layers (fixed-width formats carry a per-channel scale).
double linear_bits_per_weight(const Selections& s, double in_features);

// One linear layer of a decoder block (per layer, whole model, before tensor-parallel split).
struct LinearShape { const char* name; double n, k; bool row_parallel; };
enum { kQkv, kO, kGateUp, kDown, kLinears };
void linear_shapes(const ModelArch& m, LinearShape out[kLinears]);

struct MemoryBreakdown {
    double weights_gb = 0;        // all devices together
    double kv_cache_gb = 0;
    double activations_gb = 0;
    double overhead_gb = 0;       // runtime: context, workspaces, graphs (per device x devices)
    double total_gb = 0;
    double capacity_gb = 0;       // usable memory of all devices of one replica
    double per_device_gb = 0;     // the largest share one device holds
    double device_usable_gb = 0;
    double weight_bits = 0;       // linear layers' stored bits per weight
    bool fits = false;
};

// Selection must be valid (validate() empty).
MemoryBreakdown memory(const Catalog& c, const ModelArch& m, const Hardware& h, const Selections& s);

}  // namespace qb
