#include "latency.h"

namespace qb {

const char* op_name(int op) {
    static const char* const n[] = {"qkv_proj", "o_proj", "gate_up_proj", "down_proj", "attention", "lm_head",
                                    "elementwise", "layer_overhead", "allreduce", "step_overhead"};
    return op >= 0 && op < kOpCount ? n[op] : "?";
}

static double max2(double a, double b) { return a > b ? a : b; }

// Rows of the MMA tile the kernel pads M up to: tensor-core kernels (Marlin, cuBLAS) take m16
// tiles. Apple (llama.cpp Metal / MLX) and CPU kernels switch to matrix-vector code at small
// batch, so there is no padding worth modelling.
static long tile_m(const Hardware& h) { return h.kind == HwKind::gpu ? 16 : 1; }

static double fp16_peak(const Hardware& h, Method m) {
    return (m == Method::bf16 && h.peak.bf16 > 0) ? h.peak.bf16 : h.peak.fp16;
}

OpTime linear_time(const Catalog& c, const Hardware& h, const Selections& s, double M, double N, double K,
                   bool as_fp16) {
    const Kernel k = as_fp16 ? Kernel::fp16 : kernel_for(s.method, s.bits);
    const Eff ek = c.eff(h, k), e16 = c.eff(h, Kernel::fp16);
    const long t = tile_m(h);
    const double Mpad = (double)(((long)M + t - 1) / t * t);
    const double bw = h.bandwidth_gbps * 1e9;
    const double act_bytes = (k == Kernel::w8a8 || k == Kernel::fp8) ? 1 : 2;
    const double bpw = as_fp16 ? 16 : linear_bits_per_weight(s, K);
    const double bytes = N * K * bpw / 8 + M * K * act_bytes + M * N * 2;
    const double flops = 2 * Mpad * N * K;
    OpTime o;
    o.mem_us = bytes / (bw * ek.bw) * 1e6;
    const double p16 = fp16_peak(h, s.method) * 1e12;
    switch (k) {
        case Kernel::w8a8: o.mma_us = flops / (h.peak.int8 * 1e12 * ek.compute) * 1e6; break;
        case Kernel::fp8: o.mma_us = flops / (h.peak.fp8 * 1e12 * ek.compute) * 1e6; break;
        case Kernel::w8a16: case Kernel::w4a16:
            o.mma_us = flops / (p16 * e16.compute) * 1e6;
            o.dequant_us = max2(0, flops / (p16 * ek.compute) * 1e6 - o.mma_us);
            break;
        default: o.mma_us = flops / (p16 * ek.compute) * 1e6; break;
    }
    o.total_us = max2(o.mem_us, o.mma_us + o.dequant_us);
    return o;
}

static void add(OpTime& a, const OpTime& b, double times) {
    a.mem_us += b.mem_us * times;
    a.mma_us += b.mma_us * times;
    a.dequant_us += b.dequant_us * times;
    a.total_us += b.total_us * times;
}

StepTime step_time(const Catalog& c, const ModelArch& m, const Hardware& h, const Selections& s, bool prefill) {
    StepTime st;
    const double n = s.gpus, B = s.batch, L = m.layers, hd = m.head_dim;
    const double P = s.prompt_tokens;
    // Decode: one new token per sequence, attending to the mean context over the generation.
    const double M = prefill ? B * P : B;
    const double ctx = prefill ? P : P + s.output_tokens / 2.0;
    const double bw = h.bandwidth_gbps * 1e9;
    const EffClass* ec = h.eff_class >= 0 ? &c.eff_classes[h.eff_class] : nullptr;
    const Eff e16 = c.eff(h, Kernel::fp16), ea = c.eff(h, Kernel::attn);
    const double p16 = fp16_peak(h, s.method) * 1e12;

    LinearShape ls[kLinears];
    linear_shapes(m, ls);
    static const int op_of[kLinears] = {kOpQkv, kOpO, kOpGateUp, kOpDown};
    for (int i = 0; i < kLinears; ++i) {
        // Column-parallel layers split N across devices, row-parallel ones split K.
        const double N = ls[i].row_parallel ? ls[i].n : ls[i].n / n;
        const double K = ls[i].row_parallel ? ls[i].k / n : ls[i].k;
        add(st.op[op_of[i]], linear_time(c, h, s, M, N, K), L);
    }

    const double heads_dev = m.heads / n, kvh_dev = m.kv_heads >= n ? m.kv_heads / n : 1;
    OpTime at;
    if (prefill) {
        at.mma_us = 2 * B * heads_dev * hd * P * P / (p16 * ea.compute) * 1e6;   // causal: half of 4 P^2 d
        at.mem_us = B * P * (heads_dev + 2 * kvh_dev) * hd * 2 * 2 / (bw * ea.bw) * 1e6;
    } else {
        at.mem_us = 2 * B * ctx * kvh_dev * hd * kv_bytes(s.kv) / (bw * ea.bw) * 1e6;
        at.mma_us = 4 * B * heads_dev * hd * ctx / (p16 * ea.compute) * 1e6;
    }
    at.total_us = max2(at.mem_us, at.mma_us);
    add(st.op[kOpAttn], at, L);

    // LM head: FP16 in every format here, logits only for each sequence's last position.
    add(st.op[kOpLmHead], linear_time(c, h, s, B, m.vocab / n, m.hidden, true), 1);

    // Norms, rope, SiLU x up, residual adds: about ten hidden-size and three intermediate-size
    // FP16 reads/writes per token per layer; quantized-activation formats also quantize inputs.
    double ew_bytes = M * (10.0 * m.hidden + 3.0 * m.intermediate / n) * 2;
    if (s.method == Method::w8a8 || s.method == Method::fp8) ew_bytes += M * (2.0 * m.hidden + m.intermediate / n) * 3;
    OpTime ew;
    ew.mem_us = ew.total_us = ew_bytes / (bw * e16.bw) * 1e6;
    add(st.op[kOpElementwise], ew, L);

    if (ec) {
        st.op[kOpLayerOverhead].total_us = ec->layer_overhead_us * L;
        st.op[kOpStep].total_us = ec->step_overhead_us;
        if (n > 1 && h.interconnect_gbps > 0) {
            // Two all-reduces per layer (after o_proj and down_proj), ring: 2 (n-1)/n of the bytes.
            const double bytes = M * m.hidden * 2 * 2 * (n - 1) / n;
            st.op[kOpAllReduce].total_us = 2 * L * (ec->allreduce_us + bytes / (h.interconnect_gbps * 1e9) * 1e6);
        }
    }
    for (const OpTime& o : st.op) st.total_us += o.total_us;
    return st;
}

Latency latency(const Catalog& c, const ModelArch& m, const Hardware& h, const Selections& s) {
    Latency r;
    r.prefill = step_time(c, m, h, s, true);
    r.decode = step_time(c, m, h, s, false);
    r.ttft_ms = r.prefill.total_us / 1000;
    r.tpot_ms = r.decode.total_us / 1000;
    r.request_ms = r.ttft_ms + (s.output_tokens - 1) * r.tpot_ms;
    r.tokens_per_s = (double)s.batch * s.output_tokens / (r.request_ms / 1000);
    r.seq_tokens_per_s = 1000 / r.tpot_ms;
    return r;
}

int crossover_batch(const Catalog& c, const ModelArch& m, const Hardware& h, const Selections& s, int max_batch) {
    Selections q = s, f = s;
    apply_method_defaults(f, Method::fp16);
    auto slower = [&](int b) {
        q.batch = f.batch = b;
        return step_time(c, m, h, q, false).total_us >= step_time(c, m, h, f, false).total_us;
    };
    if (!slower(max_batch)) return 0;
    if (slower(1)) return 1;
    int lo = 1, hi = max_batch;   // invariant: faster at lo, no faster at hi
    while (hi - lo > 1) {
        const int mid = lo + (hi - lo) / 2;
        (slower(mid) ? hi : lo) = mid;
    }
    return hi;
}

}  // namespace qb
