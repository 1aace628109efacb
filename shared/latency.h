// latency.h: per-operator roofline for one forward step.
//
// Each linear layer takes   max(t_mem, t_mma + t_dequant)   where
//   t_mem     = (weight bytes incl. scales/zeros + activation bytes) / (bandwidth x eff.bw)
//   t_mma     = 2 M_pad N K / (matrix peak x eff.compute)       M_pad: M rounded up to the MMA tile
//   t_dequant = the extra time a weight-only kernel spends turning packed weights into FP16 before
//               the MMA, i.e. 2 M_pad N K / (fp16 peak x eff_k.compute) - t_mma (zero for fp16,
//               w8a8 and fp8, which run the MMA on the stored type).
// Attention reads the KV cache (decode) or does 2 B P^2 d FLOPs (causal prefill). Small kernels
// (norms, rope, activation, residual) cost a fixed `layer_overhead_us` plus their bytes; a step
// costs `step_overhead_us` (sampling, scheduling). Efficiencies and overheads come from
// data/efficiency.json, per architecture class, optionally overridden per hardware by
// `qbench-native calibrate` from measured kernels.
#pragma once
#include "catalog.h"
#include "memory.h"
#include "selections.h"

namespace qb {

enum Op { kOpQkv, kOpO, kOpGateUp, kOpDown, kOpAttn, kOpLmHead, kOpElementwise, kOpLayerOverhead, kOpAllReduce,
          kOpStep, kOpCount };
const char* op_name(int op);

struct OpTime { double mem_us = 0, mma_us = 0, dequant_us = 0, total_us = 0; };

struct StepTime {
    OpTime op[kOpCount];   // summed over all layers of the step
    double total_us = 0;
};

struct Latency {
    StepTime prefill, decode;   // decode at the mean context of the generation
    double ttft_ms = 0, tpot_ms = 0, request_ms = 0;
    double tokens_per_s = 0;        // output tokens/s of the replica (batch x output / request time)
    double seq_tokens_per_s = 0;    // decode speed one user sees (1000 / TPOT)
};

// One linear layer at M rows on one device (the N x K shard that device holds), stored as the
// selection's format, or as FP16 when `as_fp16` (the LM head).
OpTime linear_time(const Catalog& c, const Hardware& h, const Selections& s, double M, double N, double K,
                   bool as_fp16 = false);

// One forward step: M_tokens = tokens in flight, ctx = context length each sequence attends to.
StepTime step_time(const Catalog& c, const ModelArch& m, const Hardware& h, const Selections& s, bool prefill);

Latency latency(const Catalog& c, const ModelArch& m, const Hardware& h, const Selections& s);

// Smallest batch (1..max_batch) at which the selection's decode step is no faster than FP16 on the
// same hardware; 0 when it stays faster up to max_batch. Bisection on a monotone difference.
int crossover_batch(const Catalog& c, const ModelArch& m, const Hardware& h, const Selections& s, int max_batch = 4096);

}  // namespace qb
