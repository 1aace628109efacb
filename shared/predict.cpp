#include "predict.h"

namespace qb {

static double pct(double a, double b) { return b != 0 ? (a - b) / b * 100 : 0; }

static void warnings(const ModelArch& m, const Hardware& h, const Prediction& p, std::vector<std::string>& w) {
    const Selections& s = p.sel;
    if (!p.mem.fits)
        w.push_back("does not fit: needs " + std::to_string((int)(p.mem.per_device_gb + 0.5)) + " GB per device, " +
                    h.name + " offers " + std::to_string((int)(p.mem.device_usable_gb + 0.5)) + " GB usable");
    if (s.method == Method::awq && s.bits == 3)
        w.push_back("3-bit AWQ has no serving kernel in vLLM; latency assumes a generic W3A16 kernel");
    if (s.method == Method::quip)
        w.push_back("QuIP# needs its own kernels (not in mainline vLLM); latency assumes a W" + std::to_string(s.bits) +
                    "A16 kernel at the same efficiency");
    if ((s.method == Method::rtn || s.method == Method::gptq) && (s.bits == 2 || s.bits == 3))
        w.push_back(std::to_string(s.bits) + "-bit GPTQ/RTN runs on the exllama/triton paths, not Marlin; expect lower efficiency");
    if (h.kind != HwKind::gpu && (s.method == Method::gptq || s.method == Method::awq || s.method == Method::rtn))
        w.push_back("on " + h.name + " the mainstream path is llama.cpp (GGUF k-quants) rather than GPTQ/AWQ checkpoints");
    if (m.kv_heads < s.gpus) w.push_back("fewer KV heads than devices: KV heads are replicated");
    if (p.cost.utilization > 1 + 1e-9)   // only past the device cap (cost.h)
        w.push_back("the traffic needs more than 1e9 devices; the monthly cost shown is capped there and understates it");
    if (p.crossover_batch > 0 && s.batch >= p.crossover_batch)
        w.push_back("batch " + std::to_string(s.batch) + " is past the crossover (" + std::to_string(p.crossover_batch) +
                    "): weight-only " + std::to_string(s.bits) + "-bit decodes no faster than FP16 here");
}

PredictResult predict(const Catalog& c, const Selections& s) {
    PredictResult r;
    r.errors = validate(c, s);
    if (!r.ok()) return r;
    const ModelArch& m = *c.model(s.model);
    const Hardware& h = *c.hw(s.hardware);
    Prediction& p = r.p;
    p.sel = s;
    p.mem = memory(c, m, h, s);
    p.lat = latency(c, m, h, s);
    p.acc = accuracy(c, m, s);
    p.cost = self_hosted_cost(h, s, p.lat);
    if (is_weight_only_low_bit(s.method) || s.method == Method::int8) p.crossover_batch = crossover_batch(c, m, h, s);

    Selections f = s;
    apply_method_defaults(f, Method::fp16);
    const MemoryBreakdown fm = memory(c, m, h, f);
    const Latency fl = latency(c, m, h, f);
    const Cost fc = self_hosted_cost(h, f, fl);
    Fp16Delta& d = p.vs_fp16;
    d.tpot_ms = p.lat.tpot_ms - fl.tpot_ms;
    d.tpot_pct = pct(p.lat.tpot_ms, fl.tpot_ms);
    d.ttft_ms = p.lat.ttft_ms - fl.ttft_ms;
    d.ttft_pct = pct(p.lat.ttft_ms, fl.ttft_ms);
    d.memory_gb = p.mem.total_gb - fm.total_gb;
    d.memory_pct = pct(p.mem.total_gb, fm.total_gb);
    d.usd_month = p.cost.usd_month - fc.usd_month;
    d.usd_pct = pct(p.cost.usd_month, fc.usd_month);
    d.ppl_delta = p.acc.has_ppl ? p.acc.ppl - p.acc.ppl_fp16 : 0;
    d.decode_speedup = fl.tpot_ms / p.lat.tpot_ms;
    d.fp16_fits = fm.fits;

    for (const std::string& id : s.compare_api) p.vs_api.push_back(compare_api(*c.api(id), s, p.cost));
    warnings(m, h, p, p.warnings);
    return r;
}

}  // namespace qb
