#include "memory.h"

namespace qb {

static constexpr double kGB = 1e9;

double bits_per_weight(int bits, int group_size, double in_features, bool zero_point, double zero_bits,
                       double scale_bits) {
    const double g = group_size > 0 ? group_size : in_features;
    const double zb = zero_point ? (zero_bits < 0 ? bits : zero_bits) : 0;
    return bits + (scale_bits + zb) / g;
}

double linear_bits_per_weight(const Selections& s, double in_features) {
    switch (s.method) {
        case Method::fp16: case Method::bf16: return 16;
        // per-output-channel FP16/FP32-equivalent scale on an 8-bit payload
        case Method::int8: case Method::w8a8: case Method::fp8:
            return bits_per_weight(8, s.group_size, in_features, false);
        // QuIP#: codebook indices at `bits`, one FP16 scale per row; the Hadamard transforms are
        // generated from seeds and cost no storage.
        case Method::quip: return bits_per_weight(s.bits, 0, in_features, false);
        default: return bits_per_weight(s.bits, s.group_size, in_features, s.zero_point);
    }
}

void linear_shapes(const ModelArch& m, LinearShape out[kLinears]) {
    const double q = (double)m.heads * m.head_dim, kv = (double)m.kv_heads * m.head_dim;
    out[kQkv] = {"qkv_proj", q + 2 * kv, (double)m.hidden, false};
    out[kO] = {"o_proj", (double)m.hidden, q, true};
    out[kGateUp] = {"gate_up_proj", 2.0 * m.intermediate, (double)m.hidden, false};
    out[kDown] = {"down_proj", (double)m.hidden, (double)m.intermediate, true};
}

MemoryBreakdown memory(const Catalog& c, const ModelArch& m, const Hardware& h, const Selections& s) {
    MemoryBreakdown r;
    const double n = s.gpus;
    LinearShape L[kLinears];
    linear_shapes(m, L);
    double linear_bytes = 0, linear_params = 0;
    for (const LinearShape& l : L) {
        linear_bytes += l.n * l.k * linear_bits_per_weight(s, l.k) / 8;
        linear_params += l.n * l.k;
    }
    linear_bytes *= m.layers;
    linear_params *= m.layers;
    r.weight_bits = linear_params > 0 ? linear_bytes * 8 / linear_params : 0;
    // Embeddings, LM head, norms and biases stay 16-bit in every mainstream format.
    const double other_params = computed_params(m) - linear_params;
    r.weights_gb = (linear_bytes + other_params * 2) / kGB;

    // KV cache: K and V per layer per token, only the KV heads (GQA); with tensor parallelism
    // a KV head is replicated when there are fewer KV heads than devices.
    const double kvh_dev = m.kv_heads >= n ? m.kv_heads / n : 1;
    const double tokens = (double)s.batch * (s.prompt_tokens + s.output_tokens);
    r.kv_cache_gb = 2.0 * m.layers * kvh_dev * n * m.head_dim * kv_bytes(s.kv) * tokens / kGB;

    // Peak activations of the prefill forward: hidden states, the gate/up/act MLP tensors (FP16),
    // plus FP32 logits of each sequence's last position. Attention is a fused (flash) kernel.
    const double M = (double)s.batch * s.prompt_tokens;
    r.activations_gb = (M * (2.0 * m.hidden + 3.0 * m.intermediate / n) * 2 + s.batch * (double)m.vocab * 4) / kGB;

    const EffClass* ec = h.eff_class >= 0 ? &c.eff_classes[h.eff_class] : nullptr;
    const double over_dev = ec ? ec->runtime_overhead_gb : 0;
    const double usable = ec ? ec->memory_usable_fraction : 1;
    r.overhead_gb = over_dev * n;
    r.total_gb = r.weights_gb + r.kv_cache_gb + r.activations_gb + r.overhead_gb;
    r.device_usable_gb = h.memory_gb * usable;
    r.capacity_gb = r.device_usable_gb * n;
    // Weights, KV and activations split evenly by tensor parallelism (up to replicated KV heads).
    r.per_device_gb = r.total_gb / n;
    r.fits = r.per_device_gb <= r.device_usable_gb;
    return r;
}

}  // namespace qb
