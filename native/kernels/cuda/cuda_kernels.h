// cuda_kernels.h: qbench's CUDA GEMM kernels, Y[M][N] = X[M][K] . W^T with W row-major N x K
// (shared/qformat.h's convention), on raw device pointers. Every entry point returns a
// CudaStatus; none throws, allocates device memory behind the caller's back or synchronises.
//
// [SECTION] Index
//   1. Status codes
//   2. Weight-only INT4 / INT8 (wna16.cu): offline re-layout ("shuffle") of a qformat.h
//      QuantizedMatrix into the kernel layout, work planning, the launcher
//   3. cuBLASLt paths (cublaslt_gemm.cu): FP16 / BF16 baselines, FP8 E4M3 W8A8, INT8 W8A8
//   4. Small helper kernels: per-token INT8 activation quantization, FP16 -> FP8 conversion
//
// Formats on the device: activations and outputs are FP16 (binary16) row-major, X with row
// stride K and Y with row stride N. Weight-only kernels read the shuffled buffer of section 2;
// the cuBLASLt paths read W as stored (N x K row-major = K x N column-major, the "TN" GEMM).
//
// This header needs only the CUDA runtime's types; the kernels themselves know nothing of
// qbench's CLI or benchmark (the bench and the GPU tests are their only callers).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

#include <cuda_runtime_api.h>

#include "qformat.h"

namespace qb::cuda {

// ============================================================================================
// [SECTION] 1. Status codes
// ============================================================================================
enum class CudaStatus : int {
    ok = 0,
    bad_argument = 1,        // null pointer, M < 1, shape mismatch
    bad_format = 2,          // qformat.h's check_format failed
    unsupported = 3,         // valid format this kernel does not implement (see wq_layout)
    workspace_too_small = 4, // the caller's workspace is smaller than wq_workspace_bytes()
    cuda_error = 5,          // a CUDA runtime call or launch failed (cudaGetLastError tells which)
    cublas_error = 6,        // a cuBLAS / cuBLASLt call failed or found no algorithm
};
const char* status_str(CudaStatus s);

// ============================================================================================
// [SECTION] 2. Weight-only INT4 / INT8 ("W4A16", "W8A16"): wna16.cu
// ============================================================================================
// Supported: bits 4 (group 32, 64, 128 or any multiple of 128 dividing K, or per-channel;
// with or without zero points) and bits 8 (per-channel, FP16 or FP32 scales), N a multiple
// of 128, K a multiple of 128. Anything else: CudaStatus::unsupported (the CPU kernels and the
// reference still handle it).
//
// The shuffled buffer (one allocation, parts 256-byte aligned):
//   q       [N/32 strips][K/32 atoms][32 lanes][16 B (INT4) or 32 B (INT8)]: each 32 x 32
//           "atom" of W holds, per lane, exactly the mma.m16n8k16 B fragments that lane needs,
//           in the order the lop3 / prmt dequantizers unpack them (wna16.cu explains).
//   scales  grouped INT4: FP16 [K/group][N], permuted inside each 32-column strip so a lane's
//           four scales are one 8-byte load; per-channel: FP32 [N] in natural order (applied
//           to the FP32 accumulators after the MMA, so FP32 INT8 scales stay exact).
//   zeros   INT4 with zero points: 4-bit [K/group][N/32][8][4], 16 bytes per strip and group,
//           a lane's four zeros in one 16-bit load. Per-channel zeros use one "group".
struct WqLayout {
    int32_t n = 0, k = 0, bits = 4, group = 128;   // group == k: per-channel
    bool has_zero = false;
    bool grouped = false;                            // scales applied per group before the MMA
    size_t q_offset = 0, q_bytes = 0;
    size_t scale_offset = 0, scale_bytes = 0;
    size_t zero_offset = 0, zero_bytes = 0;
    size_t total = 0;                                // bytes of the whole shuffled buffer
};

// Fills *out for w's shape and format (pointers in w are not read). unsupported / bad_format
// when the kernel cannot take it.
CudaStatus wq_layout(const QuantizedMatrix& w, WqLayout* out);

// Host-side re-layout: writes l.total bytes to dst (host memory) from w (host pointers).
// Deterministic and exact: every stored code, scale and zero appears once, unchanged
// (FP16 per-channel scales are widened to FP32 exactly).
CudaStatus wq_shuffle(const QuantizedMatrix& w, const WqLayout& l, uint8_t* dst);

// How a launch splits the work (computed by wq_plan; the bench prints it).
struct WqPlan {
    int path = 0;            // 0: the MMA kernel (cp.async ring, 8 warps per CTA); 1: the streaming
                             // kernel for M <= 16 (weights straight into registers, 4 warps per CTA);
                             // 2: the same with split-K inside the CTA ("ctask", INT4, M <= 8): one
                             // CTA of warps_k warps per 32-column strip, reduced in shared memory;
                             // 3: the wgmma kernel (sm_90a; by default INT4 from M = 17, INT8 at
                             // every M: warpgroup MMAs with the weights as the register operand)
    int warps_k = 0;         // path 2: warps per CTA, each streaming its own k range of the strip
    int rows_staged = 0;     // path 1: activation rows staged per CTA (8 or 16)
    int m_blocks = 1;        // 16-row MMA blocks per CTA: 1, 2, 4 or 8 (M <= 16, 32, 64, 128); path 3:
                             // the wgmma's n is 16 x m_blocks
    int n_tiles = 0;         // N / 128
    int k_stages = 0;        // K / 128
    int splits = 1;          // split-K factor: CTAs per 128-column tile
    int cluster = 0;         // > 0: the splits of a tile run as one thread-block cluster of this
                             // size and reduce through distributed shared memory (sm_90); 0: the
                             // FP32 workspace and the last CTA of the tile (atomic counter)
    int smem_ring = 0;       // path 1: the code of the shared-memory ring variant (4, 6, 8: that
                             // many k-stages; 35: 3 stages at 5 CTAs per SM; wq_set_stream_smem),
                             // 0 when the ring is in registers
    int shared_strips = 0;   // path 2: 1 when ctas (< N / 32) CTAs of 16 warps share the strips,
                             // 2-4 each, a group of warps per strip (wq_set_ctask_shared)
    int ctas = 0;            // n_tiles x splits
    int ctas_per_sm = 0;     // occupancy of the chosen kernel
    int sms = 0;
};
// M is the rows of one launch (the launcher runs M > 128 as chunks of 128). INT4 at M <= 8
// takes split-K inside the CTA where its plan is one wave of CTAs of >= 8 warps, or at M = 1 of
// three 6-warp CTAs per SM with <= 6 k-stages per warp (wq_set_ctask, wq_set_ctask_wide);
// otherwise small M takes the streaming kernel (see wq_set_stream_max_m) unless its K is too
// long for it (more than 32 splits of 11 k-stages).
CudaStatus wq_plan(const WqLayout& l, int M, WqPlan* out);

// Device workspace for launches of up to max_m rows: split-K partial sums and the per-tile
// counters. It must be zeroed once after allocation (cudaMemset); every launch leaves the
// counters at zero again, so it can be reused and captured in CUDA graphs. One workspace per
// stream (concurrent launches must not share one).
size_t wq_workspace_bytes(const WqLayout& l, int max_m);
// The first experiment switch (env QB_WQ_*: integers, QB_WQ_HANDOFF_MB a number) whose value does
// not parse, as "QB_WQ_COOP='on' is not an integer"; empty if none. The kernels ignore such a
// value; `qbench-native bench --backend cuda` refuses to run with it.
std::string wq_env_error();

// Tuning and test knobs (process-wide, not thread-safe; set before launching):
//  * split override: force the split-K factor (capped at K / 128 and 16; the streaming kernel
//    clamps it to [the fewest splits whose activation slice fits, 32]); 0 = automatic. The
//    GPU tests use 1 to run long k loops on small shapes; the bench sweeps it.
//  * PDL (programmatic dependent launch, sm_90): on by default. The kernel prefetches its
//    first stages of weights before waiting for the previous kernel in the stream to finish,
//    so back-to-back layers overlap one's tail with the next one's weight stream.
//  * L2 hint of the weight loads: 0 none (default), 1 createpolicy evict-first (Marlin's),
//    2 the evict-first policy as a constant. ptxas 13.0 miscompiles the hinted cp.async in our
//    k loop ("illegal instruction" on H200, see wna16.cu), so 1 and 2 are for newer
//    toolchains and for the experiment in tests/gpu/device_run.sh; only M <= 32 has them.
//  * streaming thresholds: launches of M <= m4 (INT4) or m8 (INT8), at most 16, take the
//    streaming kernel (path 1 of WqPlan); 0 sends every M to the MMA kernel; negative restores
//    the default (INT4 M <= 2, g >= 128 M <= 8 since session 13, INT8 never: see
//    stream_max_m in wna16.cu).
//    The tests run both kernels at every M <= 16.
//  * cluster reduction (sm_90, off by default: slower on the H200, docs/cuda-kernels-history.md): split-K
//    partials of a tile are summed through distributed shared memory by the tile's S CTAs,
//    launched as one cluster (S <= 16); off, or where clusters are unavailable or S > 16, the
//    FP32 workspace path runs. Both add the partials in split order: the same bits (tested).
//  * stream depth: register-ring depth of the streaming kernel for INT4 g128 (no zeros, M <= 8),
//    a tuning experiment: with accscale on 2 or 4 (3 is the default), off 2, 3 or 6 (0: 4).
//  * debug (ablation for the bench only, results wrong), bits: 1 = no split-K reduction, each
//    CTA stores its own partial as Y; 2 = the streaming kernel for INT4 g128 without zeros at
//    M <= 8 only loads its weights (no dequant / MMA); 4 = the last CTA of a tile loads the split
//    partials one after another (the form before the batched loads). 0 = off.
//  * timing: device buffer of >= 4 x CTAs stamps (%globaltimer, ns): per CTA start, after
//    waiting for the previous grid, after the main loop, done. null = off.
void wq_set_split_override(int splits);
void wq_set_stream_max_m(int m4, int m8);
void wq_set_pdl(bool on);
// L2 prefetch of the weights (sm_90 bulk prefetch): 0 none, -1 each warp's whole k range at the
// start of the launch (before waiting for the previous grid), n > 0 a window of n k-stages kept
// ahead of the register ring. See docs/cuda-kernels-history.md for what each measured.
void wq_set_l2_prefetch(int stages);
// Hand-off to the next launch (wq_gemm's next_weights): bytes of the next buffer the launch
// warms in L2 at its tail (at most all of it), spread evenly over it; 0 is off; negative (the
// default) is 1.5 us of the device's peak HBM bandwidth (5 MB on an H100). Env QB_WQ_HANDOFF_MB
// sets it at first use. wq_handoff() is the byte count in force. See docs/cuda-kernels-history.md.
void wq_set_handoff(long long bytes);
size_t wq_handoff();
// The streaming kernel's ring in shared memory (INT4 group >= 128 without zeros, M <= 8): code 4,
// 6 or 8 = that many k-stages per warp at 4 CTAs per SM, 35 = 3 stages at 5 CTAs per SM, used
// wherever it fits; 0: the ring in registers; -1 (the default): 4 where each warp streams at
// least 8 k-stages, else 35 (a measured rule, docs/cuda-kernels-history.md). Other codes mean 0.
void wq_set_stream_smem(int code);
// Split-K inside the CTA with each warp's ring in shared memory (4 k-stages; INT4 group >= 128
// without zeros). Off by default; see docs/cuda-kernels-history.md for what it measured.
void wq_set_ctask_smem(bool on);
// The largest CTA (4, 8 or 16 warps) the planner may give split-K inside the CTA (default 16;
// the wide CTAs of wq_set_ctask_wide are not bound by it).
void wq_set_ctask_max_warps(int kw);
// The fewest k-stages per warp the planner accepts for split-K inside the CTA (default 0: any).
void wq_set_ctask_min_stages(int stages);
// Split-K inside the CTA in 6-warp CTAs, three per SM, at M = 1 with <= 6 k-stages per warp
// where 16-warp CTAs would need more than one wave (INT4 group >= 128 without zeros; on by
// default). 18-warp CTAs run only when forced (wq_set_ctask(8, 18)). See kCtaskWide in wna16.cu.
void wq_set_ctask_wide(bool on);
// Split-K inside the CTA with the strips shared: one 16-warp CTA per SM takes 2-3 strips, a group
// of warps per strip. -1 (the default): for INT4 group >= 128 without zeros at K <= 4096, at
// M = 2..8 where a layer has more than 2 and at most 3 strips per SM, and at M = 4..8 where it
// has 1.4 to 2 (measured there: docs/cuda-kernels-history.md, sessions 14 and 15); 0: never;
// 1: wherever the format and 2..4 x SMs strips allow
// (tests). Same per-warp k ranges within a strip group, sums in warp order: deterministic.
void wq_set_ctask_shared(int mode);
// Split-K through the workspace: count the tile's finished splits with one acq_rel atomic instead
// of a fence and a relaxed atomic (and no fence in the last CTA; the default). Same sums, same bits.
void wq_set_reduce_acqrel(bool on);
// Preferred shared-memory carveout of every W4A16 / W8A16 kernel, in percent of the largest
// (cudaFuncAttributePreferredSharedMemoryCarveout): 100 (the default) gives all of them the same
// L1 / shared split, so consecutive layers of different kernels can share an SM; -1 leaves it to
// the driver. See docs/cuda-kernels-history.md for what each measured.
CudaStatus wq_set_carveout(int percent);
int wq_carveout();   // the current setting
// The device's peak HBM bandwidth in GB/s from its memory clock and bus width (0 if unknown):
// the planner's ring choice depends on it (reg_ring_first in wna16.cu).
double wq_peak_gbps();
int wq_l2_prefetch();
// Split-K inside the CTA (path 2, INT4): launches of M <= max_m (at most 8; 0: never; negative:
// the default, 8) take it where its activations fit in shared memory and, unless warps is
// forced, where the plan is one wave of CTAs of >= 8 warps (what won on the H200); warps 4, 8
// or 16 forces the warps per CTA (0: the planner's choice). The tests run it at every M <= 8
// and warp count.
void wq_set_ctask(int max_m, int warps);
void wq_set_l2_hint(int mode);
void wq_set_cluster_reduce(bool on);
// The wgmma kernel (path 3; sm_90a code, so only on compute capability 9.0 devices): launches of
// M >= min_m that neither split-K inside the CTA nor the streaming kernel takes run it instead of
// the MMA kernel. 0: never; negative: the default (INT4 17, INT8 1: measured on an H200, see
// wna16.cu). wq_wgmma_available() says whether this device runs it at all. Env QB_WQ_WGMMA sets
// it at first use. The tests run both kernels.
void wq_set_wgmma(int min_m);
bool wq_wgmma_available();
// The wgmma kernel's split-K sum shared by the S CTAs of a tile instead of summed by the last CTA
// alone (as in the other kernels), only where the grid is one wave: -1 (the default) where
// S >= 8 and M >= 16 (measured on an H200, see wna16.cu), 0 never, 1 always. Same bits either
// way (tested). Env QB_WQ_COOP.
void wq_set_wgmma_coop(int mode);
void wq_set_stream_depth(int d);
// Group scales of INT4 (group >= 128) in the streaming kernel: on (default), applied to each
// stage's FP32 partial sums (one FP32 multiply: bits differ from the MMA kernel's); off, to the
// FP16 levels before the MMA as in the MMA kernel (ring depth 4). The tests run both.
void wq_set_stream_accscale(bool on);
void wq_set_debug(int mode);
void wq_set_timing(unsigned long long* stamps, size_t entries);

// Y[M][N] = X[M][K] . dequant(W)^T. weights: device copy of the shuffled buffer (l.total
// bytes, 256-byte aligned). X, Y: FP16 device pointers, 16-byte aligned.
// next / next_weights (optional): the layout and the whole shuffled buffer (next->total bytes,
// 16-byte aligned, else bad_argument) of the next launch on this stream, e.g. the next layer of
// a decode step. Each warp then asks L2 for a slice of it once its own weights are in
// (wq_set_handoff), so HBM does not idle between the layers. A hint only: results do not
// depend on it, but the bytes must exist (the prefetch reads up to next->total).
CudaStatus wq_gemm(const WqLayout& l, const void* weights, const void* X, int M, void* Y, void* workspace,
                   size_t workspace_bytes, cudaStream_t stream, const WqLayout* next = nullptr,
                   const void* next_weights = nullptr);

// ============================================================================================
// [SECTION] 3. cuBLASLt: FP16 / BF16 baselines, FP8 E4M3 and INT8 W8A8 (cublaslt_gemm.cu)
// ============================================================================================
enum class LtKind : uint8_t {
    fp16,    // X, W, Y FP16; FP32 accumulation
    bf16,    // X, W, Y BF16; FP32 accumulation
    fp8,     // X, W E4M3 with per-tensor FP32 scales (device pointers); Y FP16; FP32 accumulation
             // with Hopper's fast-accumulation mode (CUBLASLT_MATMUL_DESC_FAST_ACCUM)
    int8,    // X, W INT8; exact INT32 accumulation by cuBLASLt into an INT32 M x N buffer, then
             // our epilogue Y = fp16((float(acc) x sx[m]) x sw[n]): qformat.h's W8A8 rule
};
const char* lt_kind_name(LtKind k);

struct LtGemm;   // opaque: cuBLASLt handle, descriptors and the chosen algorithm for one shape
// Plans Y[M][N] = X[M][K] . W^T for one kind and shape (cuBLASLt heuristic, first result).
// workspace: device buffer cuBLASLt may use (32 MiB is plenty); kept by pointer. fp8 needs its
// per-tensor scales (device float*) here already: they are part of what the heuristic matches.
CudaStatus lt_create(LtKind kind, int M, int N, int K, void* workspace, size_t workspace_bytes, LtGemm** out,
                     const float* x_scale = nullptr, const float* w_scale = nullptr);
void lt_destroy(LtGemm* g);
// fp16 / bf16: a_scale.. unused. fp8: x_scale, w_scale = device float* per-tensor scales
// (value = e4m3 x scale), each 16-byte aligned (bad_argument otherwise: cuBLASLt refuses
// 4-byte-aligned scale pointers at run time). int8: x_scale = device float[M] per-row, w_scale = device float[N]
// per-channel, and acc32 = device int32 M x N scratch.
CudaStatus lt_run(LtGemm* g, const void* X, const void* W, void* Y, const float* x_scale, const float* w_scale,
                  int32_t* acc32, cudaStream_t stream);
// The algorithm cuBLASLt picked, for the log ("tile 128x64, stages 4, splitK 1" ...).
const char* lt_algo_desc(const LtGemm* g);
// The cublasStatus_t of the last failure (of g's calls, or of this thread's last lt_create
// when g is null); 0 if none.
int lt_last_status(const LtGemm* g);

// ============================================================================================
// [SECTION] 4. Helper kernels
// ============================================================================================
// Per-row INT8 quantization of FP16 activations, exactly qformat.h's quantize_act_ref applied
// to the FP16 values: amax, inv = 127 / amax, q = clamp(rne(x inv)), scale = amax / 127.
CudaStatus quantize_act_int8(const void* X, int M, int K, int8_t* Xq, float* sx, cudaStream_t stream);
// FP16 -> E4M3 with a per-tensor scale: q = e4m3(x / scale), saturating to +-448.
CudaStatus convert_fp16_to_e4m3(const void* X, size_t count, const float* scale, uint8_t* out, cudaStream_t stream);

}  // namespace qb::cuda
