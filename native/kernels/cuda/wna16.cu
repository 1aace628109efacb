// wna16.cu: weight-only quantized GEMM on tensor cores, Y[M][N] = X[M][K] . dequant(W)^T, for
// INT4 weights (group-wise scales, optional zero points: "W4A16") and INT8 weights (per-channel:
// "W8A16"), FP16 activations and outputs, FP32 accumulation. M = 1..128 per launch (larger M
// runs as chunks of 128). Built for sm_90a (H100 / H200) and also for sm_80 / sm_89: the one
// Hopper-only kernel (wgmma, M >= 17) compiles to an empty body there and is never planned.
//
// The design, in the order the data moves (Marlin's, IST-DASLab, re-derived for qformat.h):
//
//  * At batch 1 the layer is one stream of weight bytes: the kernel is done when every weight
//    byte has crossed from HBM once. Everything else serves that: 16-byte coalesced cp.async
//    loads, 4 stages in flight per CTA, 2 CTAs per SM, a split-K partition so that even a
//    4096-column layer puts every SM to work, and programmatic dependent launch so the next
//    layer's weights start streaming while this one drains; at its tail each launch also warms
//    a few MB of the next layer's weights in L2 (the hand-off, handoff_prefetch), so HBM does not
//    idle while the next grid's CTAs wait for SM slots. (Evict-first L2 hints on the weight
//    loads exist but are off: ptxas 13.0 miscompiles them, see cp_async16_weights.)
//    Measured on an H200 (run 20261126t231808z, docs/cuda-kernels-history.md): W4 g128 at batch 1
//    streams at 47-71% of the copy probe (48-63% before split-K inside the CTA, cuda4). The bench's ablation splits a 23 MB launch into the
//    weight stream alone (82% of the probe: one launch per layer cannot do better), dequant +
//    MMA (+3.0-3.2 us: the main loop is issue-bound) and the split-K reduction (+1.7-2.0 us;
//    reducing inside a thread-block cluster instead was slower, see cluster_reduce).
//  * Dequantization is fused into the MMA: weights go HBM -> shared memory -> registers as
//    packed integers and become FP16 fragments in registers just before mma.sync.m16n8k16.
//    INT4 -> FP16 costs one lop3 per two weights ("magic number": OR-ing a nibble into the
//    mantissa of 1024.0 gives 1024 + u exactly), then one sub (or fma) per two weights removes
//    1024 + zero, then one mul by the group scale. INT8 uses prmt the same way.
//  * Weights are re-laid out offline (wq_shuffle) so that one 16-byte shared-memory load gives
//    a lane all the B fragments it needs for a 32 x 32 block of W ("atom"): no ldmatrix, no
//    bank conflicts, no per-weight index arithmetic.
//  * Activations (the MMA's A operand, 16 rows per m-block, rows >= M are zeros) are staged by
//    cp.async too and read with ldmatrix from an XOR-swizzled tile.
//
// Tiling (one CTA = 8 warps = 256 threads, CTA tile 128 columns x 128 k per pipeline stage):
//
//        k ->  one stage = 4 atoms of 32 k                 W (N x K), viewed per CTA:
//        +--------+--------+--------+--------+
//   n    | warp 0 | warp 2 | warp 4 | warp 6 |  64 cols  ^   +-------------------------------+
//   |    |  (wk0) |  (wk1) |  (wk2) |  (wk3) |           |   | tile t, split 0 | split 1 | ..|  128 cols
//   v    +--------+--------+--------+--------+           |   +-------------------------------+
//        | warp 1 | warp 3 | warp 5 | warp 7 |  64 cols     | tile t+1 ...                   |
//        +--------+--------+--------+--------+              +-------------------------------+
//        (layout for M <= 32: WN=2 warps along N, each 2 strips of 32 columns, WK=4 warps
//         along K, one atom each; for M <= 64 and <= 128: WN=4 x WK=2, one strip and two atoms
//         per warp, so the accumulators of 4 or 8 m-blocks still fit in registers)
//
//   Grid: n_tiles x splits CTAs. CTA (t, s) streams k-stages [s KS/S, (s+1) KS/S) of tile t
//   through a 4-stage cp.async ring. Warps that share columns (the WK warps) add their
//   accumulators in shared memory at the end; then either the CTA writes FP16 Y (S = 1) or
//   it writes its FP32 partial to the workspace and bumps the tile's counter; the CTA that
//   arrives last adds the S partials in split order (deterministic) and writes Y.
//   S is chosen on the host (wq_plan) so that n_tiles x S CTAs fit in one wave.
#include <cuda_fp16.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <string>

#include "cuda_kernels.h"

namespace qb::cuda {

namespace {

// ============================================================================================
// PTX helpers
// ============================================================================================

// L2 policy of the weight loads (template parameter HINT of the kernel). Quantized weights are
// read exactly once, so they should leave L2 to data that is reused (activations, scales, the
// split-K partials): cp.async's .L2::cache_hint with an evict-first policy says so. BUT ptxas
// 13.0 miscompiles some cp.async + cache-policy sequences: on an H200 our k loop died with
// "illegal instruction" once the cp.async ring wrapped (the same failure as Marlin issue #40
// and Triton PR #11660, "ptxas has some bugs triggered by fractional cache policies for
// cp.async", fixed in ptxas 13.4). So the default build uses no hint (kHintNone); the hinted
// variants stay selectable at run time (wq_set_l2_hint) for toolchains that get them right:
//   kHintNone        plain cp.async.cg
//   kHintCreate      createpolicy.fractional.L2::evict_first 1.0 (once per thread), as Marlin
//   kHintConstant    the same policy as the 64-bit constant CUTLASS passes to TMA (EVICT_FIRST)
constexpr int kHintNone = 0, kHintCreate = 1, kHintConstant = 2;
constexpr uint64_t kEvictFirstPolicy = 0x12F0000000000000ull;   // cute::TMA::CacheHintSm90::EVICT_FIRST

template <int HINT>
__device__ __forceinline__ void cp_async16_weights(void* smem, const void* gmem, uint64_t policy) {
    const uint32_t s = static_cast<uint32_t>(__cvta_generic_to_shared(smem));
    if constexpr (HINT == kHintNone)
        asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" ::"r"(s), "l"(gmem));
    else
        asm volatile("cp.async.cg.shared.global.L2::cache_hint [%0], [%1], 16, %2;\n" ::"r"(s), "l"(gmem), "l"(policy));
}

// cp.async of 16 bytes if `pred`, else nothing; branch-free (a predicated instruction), so a
// warp never diverges around the loads (the .aligned ldmatrix / mma / bar.sync that follow
// need the whole warp).
__device__ __forceinline__ void cp_async16_s_if(uint32_t s, const void* gmem, bool pred) {
    asm volatile(
        "{\n"
        "  .reg .pred p;\n"
        "  setp.ne.b32 p, %0, 0;\n"
        "  @p cp.async.cg.shared.global [%1], [%2], 16;\n"
        "}\n" ::"r"((int)pred),
        "r"(s), "l"(gmem));
}
__device__ __forceinline__ void cp_async16_if(void* smem, const void* gmem, bool pred) {
    cp_async16_s_if(static_cast<uint32_t>(__cvta_generic_to_shared(smem)), gmem, pred);
}

// cp.async of 16 bytes that reads `src_bytes` (16 or 0) and zero-fills the rest: rows past M
// become zeros in shared memory without a branch. The _s forms take the address in the shared
// window (the wgmma kernel computes its load addresses once).
__device__ __forceinline__ void cp_async16_s(uint32_t s, const void* gmem, int src_bytes) {
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(s), "l"(gmem), "r"(src_bytes));
}
__device__ __forceinline__ void cp_async16_zfill(void* smem, const void* gmem, int src_bytes) {
    cp_async16_s(static_cast<uint32_t>(__cvta_generic_to_shared(smem)), gmem, src_bytes);
}

// cp.async of 16 bytes into a slot of the streaming kernel's shared-memory ring. The "memory"
// clobber keeps the compiler from sinking the slot's earlier reads below the refill.
__device__ __forceinline__ void cp_async16_ring(void* smem, const void* gmem) {
    const uint32_t s = static_cast<uint32_t>(__cvta_generic_to_shared(smem));
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" ::"r"(s), "l"(gmem) : "memory");
}

__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }

// Waits until at most n groups of this thread are still in flight.
template <int n>
__device__ __forceinline__ void cp_async_wait() { asm volatile("cp.async.wait_group %0;\n" ::"n"(n)); }

// The policy register for cp_async16_weights: every cp.async of weights falls in the
// evict-first class (fraction 1.0).
template <int HINT>
__device__ __forceinline__ uint64_t make_weight_policy() {
    uint64_t p = kEvictFirstPolicy;
    if constexpr (HINT == kHintCreate) asm volatile("createpolicy.fractional.L2::evict_first.b64 %0, 1.0;\n" : "=l"(p));
    return p;
}

// Four 8x8 FP16 matrices from shared memory: exactly the A fragment of one m16n8k16 MMA when
// lanes 0-15 point at rows 0-15 (k 0..7) and lanes 16-31 at the same rows, k 8..15.
__device__ __forceinline__ void ldmatrix_x4(uint32_t (&r)[4], const void* smem) {
    const uint32_t s = static_cast<uint32_t>(__cvta_generic_to_shared(smem));
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(s));
}

// D = A B + D, A 16x16 FP16 (row), B 16x8 FP16 (col), D 16x8 FP32. The only MMA shape used.
__device__ __forceinline__ void mma_16816(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
        "{%0, %1, %2, %3};\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

// (a & b) | c as one LOP3 (the compiler does not always fuse the pair by itself).
__device__ __forceinline__ uint32_t and_or(uint32_t a, uint32_t b, uint32_t c) {
    uint32_t d;
    asm volatile("lop3.b32 %0, %1, %2, %3, %4;\n" : "=r"(d) : "r"(a), "r"(b), "r"(c), "n"((0xf0 & 0xcc) | 0xaa));
    return d;
}

__device__ __forceinline__ uint32_t prmt(uint32_t a, uint32_t b, uint32_t sel) {
    uint32_t d;
    asm volatile("prmt.b32 %0, %1, %2, %3;\n" : "=r"(d) : "r"(a), "r"(b), "r"(sel));
    return d;
}

// Programmatic dependent launch (sm_90; no-ops when the launch did not ask for it). The next
// kernel in the stream may start once every CTA of this one has called launch_dependents; it
// then runs everything that does not depend on us (its weight prefetch) and blocks in
// wait_prior_grid until this grid has finished and its writes are visible. So the next layer's
// weights start streaming while this layer's last CTAs drain.
__device__ __forceinline__ void launch_dependents() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    asm volatile("griddepcontrol.launch_dependents;\n" ::);
#endif
}
__device__ __forceinline__ void wait_prior_grid() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    asm volatile("griddepcontrol.wait;\n" ::: "memory");
#endif
}

// Bulk prefetch of `bytes` (a multiple of 16, 16-byte aligned) from global memory into L2 if
// `pred`, by the TMA unit (sm_90; nothing below): one instruction, no registers held while the
// bytes are in flight. Predicated, not branched, so the warp never diverges around it.
// Why: a launch's register ring holds only 6-8 KiB per warp in flight, so a CTA that is waiting
// for the previous grid (PDL) or has just started cannot keep HBM busy by itself; prefetching
// the rest of its weight range into L2 does (see Args::l2pf and docs/cuda-kernels-history.md).
__device__ __forceinline__ void prefetch_l2_if(const void* gmem, uint32_t bytes, bool pred) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    asm volatile(
        "{\n"
        "  .reg .pred p;\n"
        "  setp.ne.b32 p, %0, 0;\n"
        "  @p cp.async.bulk.prefetch.L2.global [%1], %2;\n"
        "}\n" ::"r"((int)pred),
        "l"(gmem), "r"(bytes)
        : "memory");
#else
    (void)gmem; (void)bytes; (void)pred;
#endif
}

__device__ __forceinline__ uint32_t h2u(__half2 h) { uint32_t u; memcpy(&u, &h, 4); return u; }
__device__ __forceinline__ __half2 u2h(uint32_t u) { __half2 h; memcpy(&h, &u, 4); return h; }

// FP16 bit patterns used by the dequantizers.
constexpr uint32_t kMagic1024 = 0x64006400u;   // half2(1024, 1024): OR a nibble or byte into it
constexpr uint32_t kSym4Lo = 0x64086408u;      // half2(1032) = 1024 + 8: symmetric INT4's zero
constexpr uint32_t kSym4HiNeg = 0xD480D480u;   // half2(-72) = -(64 + 8): zero of the x16 nibble
constexpr uint32_t kOneSixteenth = 0x2C002C00u;// half2(1/16)
constexpr uint32_t kHalf960 = 0x63806380u;     // half2(960) = 1024 - 64
constexpr uint32_t kInt8Bias = 0x64806480u;    // half2(1152) = 1024 + 128 (INT8 stored as q ^ 0x80)

// One 32-bit word of a shuffled INT4 atom -> the B fragment of one n8 tile for one k16 step,
// as levels u - z (exact small integers in FP16). Nibble i of the word sits at bits 4i; the
// shuffle put step 0's (k 2t, 2t+1, 2t+8, 2t+9) at nibbles 0, 4, 1, 5 and step 1's at 2, 6,
// 3, 7, so step 0 reads q and step 1 reads q >> 8:
//   lo = (q & 0x000f000f) | 1024.0 -> half2(1024 + u[k 2t], 1024 + u[k 2t+1])        - (1024 + z)
//   hi = (q & 0x00f000f0) | 1024.0 -> half2(1024 + 16 u[2t+8], 1024 + 16 u[2t+9]) / 16 - (64 + z)
// (one lop3 and one sub / fma per two weights). zl = half2(1024 + z), nzh = half2(-(64 + z)).
__device__ __forceinline__ void dequant4(uint32_t q, uint32_t zl, uint32_t nzh, uint32_t (&b)[2]) {
    const uint32_t lo = and_or(q, 0x000f000fu, kMagic1024), hi = and_or(q, 0x00f000f0u, kMagic1024);
    b[0] = h2u(__hsub2(u2h(lo), u2h(zl)));
    b[1] = h2u(__hfma2(u2h(hi), u2h(kOneSixteenth), u2h(nzh)));
}

// One word of a shuffled INT8 atom (bytes b0, b2, b1, b3 of one n8 tile and k16 step, each
// stored as q ^ 0x80) -> its B fragment: prmt puts byte i under the exponent byte 0x64, giving
// 1024 + (q + 128); subtracting 1152 leaves q exactly.
__device__ __forceinline__ void dequant8(uint32_t w, uint32_t (&b)[2]) {
    const uint32_t lo = prmt(w, kMagic1024, 0x5250u), hi = prmt(w, kMagic1024, 0x5351u);
    b[0] = h2u(__hsub2(u2h(lo), u2h(kInt8Bias)));
    b[1] = h2u(__hsub2(u2h(hi), u2h(kInt8Bias)));
}

// ============================================================================================
// The kernel
// ============================================================================================

constexpr int kThreads = 256;   // 8 warps
constexpr int kNTile = 128;     // columns (weight rows) per CTA tile
constexpr int kKTile = 128;     // k per pipeline stage
constexpr int kAtomK = 32;      // an atom is 32 k x 32 n
constexpr int kAtomN = 32;

// Compile-time shape of one configuration.
//   BITS   4 or 8
//   MB     16-row m-blocks: the CTA computes rows [0, 16 MB) of X (rows >= M are zeros)
//   WS     32-column strips per warp (warp computes 16 MB x 32 WS outputs)
//   WN     warps along N: WN x WS x 32 = kNTile
//   WK     warps along K: WK x AK x 32 = kKTile (their partial sums are added at the end)
//   AK     atoms (32 k) per warp per stage
//   STAGES cp.async ring depth
//   MINB   CTAs per SM promised to the register allocator (__launch_bounds__)
// Bytes of one k-stage of a 128-column tile in the wq_shuffle layout (the MMA kernel, its loader
// load_weight_stage, and the wgmma kernel): 4 strips x 4 atoms of weights, up to 4 scale rows and
// up to 4 zero rows.
template <int BITS>
struct StageBytes {
    static constexpr int ATOM = 32 * 4 * BITS;                                // 512 or 1024
    static constexpr int B = (kNTile / kAtomN) * (kKTile / kAtomK) * ATOM;    // 8 or 16 KiB
    static constexpr int S = (kKTile / kAtomK) * kNTile * 2;
    static constexpr int Z = (kKTile / kAtomK) * kNTile / 2;
};

template <int BITS_, int MB_, int WS_, int WN_, int WK_, int AK_, int STAGES_, int MINB_>
struct Cfg {
    static constexpr int BITS = BITS_, MB = MB_, WS = WS_, WN = WN_, WK = WK_, AK = AK_, STAGES = STAGES_, MINB = MINB_;
    static_assert(WN * WK == kThreads / 32, "8 warps");
    static_assert(WN * WS * kAtomN == kNTile && WK * AK * kAtomK == kKTile, "warps cover the CTA tile");
    static constexpr int SN = kNTile / kAtomN;          // strips per CTA tile (4)
    static constexpr int SK = kKTile / kAtomK;          // atoms per stage along k (4)
    static constexpr int LANE_BYTES = 4 * BITS;         // bytes of one atom per lane: 16 or 32
    static constexpr int ATOM_BYTES = StageBytes<BITS>::ATOM;
    static constexpr int B_STAGE = StageBytes<BITS>::B;
    static constexpr int A_STAGE = 16 * MB * kKTile * 2;                 // FP16 rows
    static constexpr int S_STAGE = StageBytes<BITS>::S;
    static constexpr int Z_STAGE = StageBytes<BITS>::Z;
    static constexpr int STAGE = B_STAGE + A_STAGE + S_STAGE + Z_STAGE;
    static constexpr int ACC = MB * WS * 4 * 4;                          // FP32 accumulators / lane
    static constexpr int RED = (WK - 1) * WN * 32 * ACC * 4;             // cross-warp k reduction
    static constexpr int CLU = 16 * MB * (kNTile + 8) * 4;                // cluster split-K partial
    static constexpr int SMEM_RING = STAGE * STAGES > RED ? STAGE * STAGES : RED;
    static constexpr int SMEM = SMEM_RING > CLU ? SMEM_RING : CLU;
};

// Kernel arguments (one struct: the launcher fills it, the kernel reads it from param space).
struct Args {
    const uint8_t* q;        // shuffled weights
    const __half* scales;    // grouped: [K/group][N] permuted; else null
    const float* cscales;    // per-channel: [N]; else null
    const uint8_t* zeros;    // [G][N/32][16 B] or null
    const __half* X;         // [M][K]
    __half* Y;               // [M][N]
    float* partial;          // [splits][M][N] FP32, when splits > 1 and not cluster (the wgmma
                             // kernel above M = 8: its accumulator layout, wg_part_index)
    int* counters;           // [2][n_tiles] (the second row only for coop)
    int M, N, K, group, splits, k_stages;
    int cluster;             // 1: the splits of a tile are one thread-block cluster and reduce
                             // through distributed shared memory (no workspace, no counter)
    int debug;               // ablation (wq_set_debug): 1 = no split-K reduction, every CTA
                             // stores its own partial as Y (wrong sums when splits > 1)
    unsigned long long* timing;   // optional: [CTAs][4] %globaltimer stamps (wq_set_timing)
    int acqrel;              // nonzero: the split-K counter as one acq_rel atomic instead of fence +
                             // atomic (wq_set_reduce_acqrel). Bit 1, set for the wgmma kernel only:
                             // the S CTAs of a tile share its split-K sum (wg_reduce_coop; set only where
                             // the grid is one wave, so all of them are resident). A bit here rather
                             // than a field of its own: a larger Args changed the code of every kernel
                             // (H200, session 16: the MMA kernel 5% slower at M = 9-16).
    int l2pf;                // k-stages of weights prefetched into L2 ahead of the loads
                             // (wq_set_l2_prefetch): 0 none, < 0 the whole k range at the start,
                             // n > 0 the first n at the start, then one stage per stage, n ahead
    // Hand-off (wq_gemm's next launch, wq_set_handoff): CTA b warms pf_warp bytes per warp at
    // the head of the b-th pf_stride bytes of the next launch's buffer pf. Null pf: off.
    const uint8_t* pf;
    unsigned pf_stride, pf_warp;
};
constexpr int kAcqrelCoop = 2;   // Args::acqrel's bit for wg_reduce_coop

// Timing stamps of one CTA (thread 0): 0 start, 1 after waiting for the previous grid, 2 after
// the main loop, 3 done. Only for the bench's breakdown of where a launch's time goes.
__device__ __forceinline__ void stamp(const Args& a, int i) {
    if (a.timing != nullptr && threadIdx.x == 0) {
        unsigned long long t;
        asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
        a.timing[(size_t)blockIdx.x * 4 + i] = t;
    }
}

// Hand-off to the next launch (Args::pf, wq_set_handoff): once a warp's last weight stage is
// in, HBM would sit idle while this grid computes its last stages, reduces, exits and the next
// grid's CTAs start and issue their first loads (most of them cannot start earlier: this grid
// holds their SM slots). Each warp instead asks L2 for its slice of the next launch's weights,
// so those bytes cross from HBM during that gap and the next launch finds them in L2.
// Warp-uniform branch, issued after the main loop, where the ring's registers are dead. Issued
// instead with the warp's last weight load (two stages earlier at 6 stages per warp) it was
// slower (session 10, H100, same call: 11008x4096 M = 1 9.90 vs 9.62 us, 4096x11008 9.17 vs
// 8.71, the W4 step 1.399 vs 1.344 ms): the prefetch then competes with the launch's own tail.
__device__ __forceinline__ void handoff_prefetch(const Args& a, int warp, int lane) {
    if (a.pf) prefetch_l2_if(a.pf + (size_t)blockIdx.x * a.pf_stride + (size_t)warp * a.pf_warp, a.pf_warp, lane == 0);
}

// ============================================================================================
// Split-K reduction inside a thread-block cluster (sm_90)
// ============================================================================================
// The S CTAs of one 128-column tile run as one cluster (rank = split). Each writes its FP32
// partial [rows][kRedStride] into its own shared memory; after a cluster barrier, CTA r sums
// slice r of the tile's outputs from all S peers' shared memory (independent loads, issued
// together, added in split order: the same additions as the workspace path, so both give the
// same bits) and writes Y; a second barrier keeps every CTA's shared memory alive until its
// peers have read it. Built to replace the workspace round trip (stores, fence, atomic counter,
// S L2 loads by the last CTA), and measured slower on the H200 (run 20261126t224346z: 18.6 vs
// 11.7 us at M = 1 on 11008x4096; 13.8 vs 11.6 us best split against best split): a cluster
// grid's CTAs start together and wait longer for the previous grid (PDL overlaps less),
// clusters pack the GPCs worse (ncu: 79 clusters of 6 resident for 86 tiles) and two cluster
// barriers cost more than one fence and atomic. So it is off by default (wq_set_cluster_reduce).
constexpr int kClusterMax = 16;          // non-portable cluster size (Hopper allows 16)
constexpr int kMaxSplitsMma = 16;        // split-K bound of the MMA kernel (kMaxSplits on the host)
constexpr int kRedStride = 128 + 8;      // floats per partial row: 8-byte stores of one
                                         // half-warp (rows g, columns 2t) hit 32 distinct banks

// Defined for sm_90 only: its one user below is, and an unused function is an error (-Werror)
// in the sm_80 / sm_89 passes of the cuda preset's build.
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
__device__ __forceinline__ void cluster_sync_all() {
    asm volatile("barrier.cluster.arrive.release.aligned;\n"
                 "barrier.cluster.wait.acquire.aligned;\n" ::: "memory");
}
#endif

// One output pair of a split-K sum (the three reductions below): the per-channel scales, if
// any, in FP32, then one rounding to FP16.
template <bool GROUPED>
__device__ __forceinline__ void store_pair(__half* Y, const float* cscales, int N, int row, int col, float2 v) {
    if (!GROUPED) { v.x *= cscales[col]; v.y *= cscales[col + 1]; }
    *reinterpret_cast<__half2*>(Y + (size_t)row * N + col) = __floats2half2_rn(v.x, v.y);
}

template <int NT, bool GROUPED>
__device__ __forceinline__ void cluster_reduce(const Args& a, const float* buf, int rows, int n0) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    cluster_sync_all();   // every peer's partial is in its shared memory (release / acquire)
    uint32_t rank;
    asm volatile("mov.u32 %0, %%cluster_ctarank;" : "=r"(rank));
    const int S = a.splits;
    const int total = rows * (128 / 2), per = (total + S - 1) / S;
    const int beg = (int)rank * per, end = min(total, beg + per);
    for (int i = beg + (int)threadIdx.x; i < end; i += NT) {
        const int row = i / 64, c2 = (i % 64) * 2;
        const uint32_t local = static_cast<uint32_t>(__cvta_generic_to_shared(buf + row * kRedStride + c2));
        float2 v[kClusterMax];
#pragma unroll
        for (int s = 0; s < kClusterMax; ++s)
            if (s < S) {
                uint32_t remote;
                asm volatile("mapa.shared::cluster.u32 %0, %1, %2;" : "=r"(remote) : "r"(local), "r"(s));
                asm volatile("ld.shared::cluster.v2.f32 {%0, %1}, [%2];" : "=f"(v[s].x), "=f"(v[s].y) : "r"(remote));
            }
        float2 sum = make_float2(0.f, 0.f);
#pragma unroll
        for (int s = 0; s < kClusterMax; ++s)
            if (s < S) { sum.x += v[s].x; sum.y += v[s].y; }
        store_pair<GROUPED>(a.Y, a.cscales, a.N, row, n0 + c2, sum);
    }
    cluster_sync_all();   // peers are done reading this CTA's shared memory
#else
    (void)a; (void)buf; (void)rows; (void)n0;   // never launched as a cluster below sm_90
#endif
}

// The batched form of workspace_reduce's sum (see there), out of line so that its registers
// do not count against the main loop's.
template <int NT, int IB, int SB, bool GROUPED>
__device__ __noinline__ void reduce_batched(const float* partial, __half* Y, const float* cscales, int N, size_t stride,
                                            int S, int n0, int total, int items) {
    for (int b0 = 0; b0 < items; b0 += IB) {
        float2 sum[IB];
#pragma unroll
        for (int b = 0; b < IB; ++b) sum[b] = make_float2(0.f, 0.f);
        for (int s0 = 0; s0 < S; s0 += SB) {
            float2 v[IB][SB];
#pragma unroll
            for (int b = 0; b < IB; ++b) {
                const int i = (int)threadIdx.x + (b0 + b) * NT;
                const size_t off = (size_t)(i / (kNTile / 2)) * N + n0 + (i % (kNTile / 2)) * 2;
#pragma unroll
                for (int q = 0; q < SB; ++q)
                    v[b][q] = i < total && s0 + q < S ? __ldcg(reinterpret_cast<const float2*>(partial + off + (s0 + q) * stride))
                                                      : make_float2(0.f, 0.f);
            }
#pragma unroll
            for (int b = 0; b < IB; ++b)
#pragma unroll
                for (int q = 0; q < SB; ++q)
                    if (s0 + q < S) { sum[b].x += v[b][q].x; sum[b].y += v[b][q].y; }
        }
#pragma unroll
        for (int b = 0; b < IB; ++b) {
            const int i = (int)threadIdx.x + (b0 + b) * NT;
            if (i >= total) continue;
            store_pair<GROUPED>(Y, cscales, N, i / (kNTile / 2), n0 + (i % (kNTile / 2)) * 2, sum[b]);
        }
    }
}

// Outputs [beg, end) of a tile (output i is row i / 64, column pair i % 64), each the sum of its
// S split partials (stride floats apart) in split order: all S loads issued together, or, for
// the ablation (a.debug & 4), one after another; the same bits either way (workspace_reduce's
// last CTA).
template <int NT, int MAXS, bool GROUPED>
__device__ __forceinline__ void sum_partials(const Args& a, int n0, int beg, int end, int S, size_t stride) {
    for (int i = beg + (int)threadIdx.x; i < end; i += NT) {
        const int row = i / (kNTile / 2), col = n0 + (i % (kNTile / 2)) * 2;
        const float* base = a.partial + (size_t)row * a.N + col;
        float2 sum = make_float2(0.f, 0.f);
        if (a.debug & 4) {
            for (int s = 0; s < S; ++s) {
                const float2 p = __ldcg(reinterpret_cast<const float2*>(base + s * stride));
                sum.x += p.x;
                sum.y += p.y;
            }
        } else {
            float2 v[MAXS];
#pragma unroll
            for (int s = 0; s < MAXS; ++s)
                if (s < S) v[s] = __ldcg(reinterpret_cast<const float2*>(base + s * stride));
#pragma unroll
            for (int s = 0; s < MAXS; ++s)
                if (s < S) { sum.x += v[s].x; sum.y += v[s].y; }
        }
        store_pair<GROUPED>(a.Y, a.cscales, a.N, row, col, sum);
    }
}

// Split-K through the FP32 workspace (the default): after this CTA's partial is stored, one
// thread publishes it (bar.sync orders the CTA's stores before thread 0's fence, which is
// cumulative, then the atomic counts the tile), and the CTA that arrives last sums the S
// partials of each output in split order. Its loads of all S partials are issued together
// (a compile-time bound MAXS with predication; the H200 timings put the serial form at 1.6-3.6
// us per launch), so the sum is the same as before, bit for bit. a.debug & 4 restores the
// serial loop for the bench's ablation. Returns after writing Y (or at once if not last).
// MAXR > 0 (the MMA kernel at M > 16, MAXR = its rows): where a thread owns several outputs,
// the loop below waits one L2 round trip per output (16 at M = 64), so reduce_batched loads
// split by split for up to 8 of the thread's outputs at once (16 loads in flight) wherever
// that takes fewer round trips, each output still summed in split order: the same bits.
// Measured on an H100 (docs/cuda-kernels-history.md, session 4): M = 32..128 10-18% faster. MAXR = 0
// (the streaming kernel, the MMA kernel at M <= 16) keeps only the loop: with the out-of-line
// call compiled in, the decode step was 2% slower and 4096x11008 at M = 16 5% slower, even
// where the loop ran.
// Whether this CTA is the last of its tile's S to publish its partial (workspace_reduce, the
// wgmma kernel's wg_reduce_last); the last one's threads may then read every partial.
__device__ __forceinline__ bool last_cta_of_tile(const Args& a, int tile) {
    __shared__ int is_last;
    __syncthreads();
    if (threadIdx.x == 0) {
        int prev;
        if (a.acqrel) {
            // Release orders this CTA's partial stores (made thread 0's by the bar.sync above)
            // before the count; acquire, in the last CTA, orders every other CTA's partials
            // before its loads below (the bar.sync after passes that on to the other threads).
            // One round trip instead of a fence's and then the atomic's.
            asm volatile("atom.add.acq_rel.gpu.s32 %0, [%1], 1;\n" : "=r"(prev) : "l"(a.counters + tile) : "memory");
        } else {
            __threadfence();
            prev = atomicAdd(a.counters + tile, 1);
        }
        is_last = prev == a.splits - 1;
        if (is_last) a.counters[tile] = 0;   // nobody else touches it in this launch: ready for the next
    }
    __syncthreads();
    if (!is_last) return false;
    if (!a.acqrel) __threadfence();
    return true;
}

template <int NT, int MAXS, bool GROUPED, int MAXR = 0>
__device__ __forceinline__ void workspace_reduce(const Args& a, int tile, int n0, int m_valid) {
    if (!last_cta_of_tile(a, tile)) return;
    const int S = a.splits;
    const size_t stride = (size_t)a.M * a.N;
    // Columns in pairs: m_valid x 64 float2 per tile; output i is row i / 64, column pair i % 64.
    const int total = m_valid * (kNTile / 2);
    if constexpr (MAXR > 0) {
        constexpr int ITEMS = (MAXR * (kNTile / 2) + NT - 1) / NT;   // outputs per thread, at most
        constexpr int IB = ITEMS < 8 ? ITEMS : 8;                     // outputs per batch
        constexpr int SB = 16 / IB;                                   // splits per round: <= 16 loads in flight
        const int items = (total + NT - 1) / NT;                      // this launch's outputs per thread
        if (!(a.debug & 4) && (items + IB - 1) / IB * ((S + SB - 1) / SB) < items) {
            reduce_batched<NT, IB, SB, GROUPED>(a.partial, a.Y, a.cscales, a.N, stride, S, n0, total, items);
            return;
        }
    }
    sum_partials<NT, MAXS, GROUPED>(a, n0, 0, total, S, stride);
}

// Global -> shared for k-stage ks of one 128-column tile into ring slot `slot` of the weight,
// scale and zero rings of the MMA kernel (kThreads threads; the wgmma kernel computes the same
// addresses once per thread instead, in its body): the tile's 4 strips of 4 atoms (each strip's
// atoms are contiguous along k in the wq_shuffle layout), then the scale and zero rows of the
// groups the stage touches. The loads are predicated per thread: callers re-converge the warp
// before any .aligned instruction.
template <int BITS, bool ZP, bool GROUPED, int HINT>
__device__ __forceinline__ void load_weight_stage(const Args& a, uint8_t* sB, uint8_t* sS, uint8_t* sZ, int slot, int ks, int tid,
                                                  int n0, int strip0, int atoms_k, uint64_t policy) {
    constexpr int SK = kKTile / kAtomK, ATOM_BYTES = StageBytes<BITS>::ATOM, B_STAGE = StageBytes<BITS>::B;
    constexpr int S_STAGE = StageBytes<BITS>::S, Z_STAGE = StageBytes<BITS>::Z;
    const int k0 = ks * kKTile;
    // Weights: 4 contiguous runs of SK atoms (one per strip), 16 bytes per thread-step.
    constexpr int B_CHUNKS = B_STAGE / 16, RUN_CHUNKS = SK * ATOM_BYTES / 16;
    const uint8_t* gq = a.q + ((size_t)strip0 * atoms_k + (size_t)(k0 / kAtomK)) * ATOM_BYTES;
    static_assert(B_CHUNKS % kThreads == 0, "whole chunks per thread");
#pragma unroll
    for (int c = 0; c < B_CHUNKS / kThreads; ++c) {
        const int i = tid + c * kThreads;
        const int sl = i / RUN_CHUNKS, off = i % RUN_CHUNKS;
        cp_async16_weights<HINT>(sB + slot * B_STAGE + i * 16, gq + (size_t)sl * atoms_k * ATOM_BYTES + (size_t)off * 16, policy);
    }
    // Scale and zero rows of the groups this stage touches.
    if (GROUPED || ZP) {
        const int g0 = k0 / a.group, ng = a.group >= kKTile ? 1 : kKTile / a.group;
        // At most SK rows: 64 scale chunks and 16 zero chunks, one per thread (predicated).
        static_assert(SK * kNTile * 2 / 16 <= kThreads, "one scale chunk per thread");
        if (GROUPED) {
            constexpr int CPR_S = kNTile * 2 / 16;   // 16 chunks per row
            const int gr = tid / CPR_S, c = tid % CPR_S;
            const bool on = tid < ng * CPR_S;
            cp_async16_if(sS + slot * S_STAGE + (on ? gr : 0) * kNTile * 2 + c * 16,
                          a.scales + (size_t)(g0 + (on ? gr : 0)) * a.N + n0 + c * 8, on);
        }
        if (ZP) {
            constexpr int CPR_Z = kNTile / 2 / 16;   // 4 chunks per row
            const int gr = tid / CPR_Z, c = tid % CPR_Z;
            const bool on = tid < ng * CPR_Z;
            cp_async16_if(sZ + slot * Z_STAGE + (on ? gr : 0) * (kNTile / 2) + c * 16,
                          a.zeros + ((size_t)(g0 + (on ? gr : 0)) * (a.N / kAtomN) + strip0) * 16 + c * 16, on);
        }
    }
}

template <class C, bool ZP, bool GROUPED, int HINT>
__global__ void __launch_bounds__(kThreads, C::MINB) wna16_kernel(const Args a) {
    extern __shared__ __align__(128) uint8_t smem[];
    constexpr int MB = C::MB, WS = C::WS, WN = C::WN, WK = C::WK, AK = C::AK, STAGES = C::STAGES;
    constexpr int SK = C::SK;

    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
    const int wn = warp % WN, wk = warp / WN;
    const int tile = blockIdx.x / a.splits, split = blockIdx.x % a.splits;
    const int s_begin = (int)((long long)split * a.k_stages / a.splits);
    const int s_end = (int)((long long)(split + 1) * a.k_stages / a.splits);
    const int n_iter = s_end - s_begin;
    const int n0 = tile * kNTile, strip0 = n0 / kAtomN;
    const int atoms_k = a.K / kAtomK;
    const int m_valid = a.M < 16 * MB ? a.M : 16 * MB;
    const uint64_t policy = make_weight_policy<HINT>();

    uint8_t* const sB = smem;
    uint8_t* const sA = smem + STAGES * C::B_STAGE;
    uint8_t* const sS = sA + STAGES * C::A_STAGE;
    uint8_t* const sZ = sS + STAGES * C::S_STAGE;

    // Global -> shared for k-stage `ks` into ring slot `slot`: the weight side (packed weights,
    // scales, zeros: constant data, independent of any earlier kernel) ...
    auto load_weights = [&](int slot, int ks) {
        load_weight_stage<C::BITS, ZP, GROUPED, HINT>(a, sB, sS, sZ, slot, ks, tid, n0, strip0, atoms_k, policy);
    };
    // ... and the activations (written by the previous kernel in a real model): all 16 MB rows
    // of the tile, 16 chunks of 8 halves per row, chunk c stored at c ^ (row & 7)
    // (conflict-free ldmatrix); rows >= M are zero-filled, so their discarded MMA rows compute
    // 0 x w instead of reading stale shared memory.
    auto load_acts = [&](int slot, int ks) {
        const int k0 = ks * kKTile;
        constexpr int CPR = kKTile / 8, CHUNKS = 16 * MB * CPR;
        static_assert(CHUNKS % kThreads == 0, "whole chunks per thread");
#pragma unroll
        for (int j = 0; j < CHUNKS / kThreads; ++j) {
            const int i = tid + j * kThreads, r = i / CPR, c = i % CPR;
            const bool on = r < m_valid;
            cp_async16_zfill(sA + slot * C::A_STAGE + (r * kKTile + ((c ^ (r & 7)) * 8)) * 2,
                             a.X + (size_t)(on ? r : 0) * a.K + k0 + c * 8, on ? 16 : 0);
        }
    };

    float acc[MB][WS][4][4];
#pragma unroll
    for (int mb = 0; mb < MB; ++mb)
#pragma unroll
        for (int ws = 0; ws < WS; ++ws)
#pragma unroll
            for (int j = 0; j < 4; ++j)
#pragma unroll
                for (int e = 0; e < 4; ++e) acc[mb][ws][j][e] = 0.f;

    // Prologue: STAGES - 1 stages in flight. The weights of all of them go first, before
    // waiting for the previous kernel (PDL); then the activations, one commit group per stage
    // (group 0 also holds every prologue weight load, which only makes it complete later than
    // strictly needed). Empty groups past the end keep the group count right.
    stamp(a, 0);
    launch_dependents();
#pragma unroll
    for (int s = 0; s < STAGES - 1; ++s)
        if (s < n_iter) load_weights(s, s_begin + s);
    // L2 prefetch of the weights beyond the ring (Args::l2pf): each of the CTA's SN strips is
    // one contiguous run along k; threads 0..SN-1 take one each.
    constexpr int STRIP_STAGE = SK * C::ATOM_BYTES;
    const uint8_t* const qrun = a.q + ((size_t)(strip0 + (tid % C::SN)) * atoms_k + (size_t)s_begin * SK) * C::ATOM_BYTES;
    if (a.l2pf != 0) {
        const int first = STAGES - 1, last = a.l2pf < 0 ? n_iter : min(n_iter, first + a.l2pf);
        prefetch_l2_if(qrun + (size_t)first * STRIP_STAGE, (uint32_t)(last > first ? last - first : 0) * STRIP_STAGE,
                       tid < C::SN && last > first);
    }
    wait_prior_grid();
    stamp(a, 1);
#pragma unroll
    for (int s = 0; s < STAGES - 1; ++s) {
        if (s < n_iter) load_acts(s, s_begin + s);
        cp_async_commit();
    }

    const int g = lane >> 2;   // the n8 column this lane's B fragments belong to
    for (int it = 0; it < n_iter; ++it) {
        cp_async_wait<STAGES - 2>();
        __syncthreads();   // stage `it` visible to all; everyone is done with slot (it - 1)
        if (it + STAGES - 1 < n_iter) {
            load_weights((it + STAGES - 1) % STAGES, s_begin + it + STAGES - 1);
            load_acts((it + STAGES - 1) % STAGES, s_begin + it + STAGES - 1);
            const int pf = it + STAGES - 1 + a.l2pf;
            if (a.l2pf > 0) prefetch_l2_if(qrun + (size_t)pf * STRIP_STAGE, STRIP_STAGE, tid < C::SN && pf < n_iter);
        }
        cp_async_commit();
        // The loads above branch per thread (only rows < M, only the scale rows needed); bring
        // the warp back together before the .aligned ldmatrix / mma below (executing those
        // with a diverged warp is an illegal instruction).
        __syncwarp();

        const int slot = it % STAGES;
        const uint8_t* bB = sB + slot * C::B_STAGE;
        const uint8_t* bA = sA + slot * C::A_STAGE;
        // MB = 1: one atom at a time (AK = 1 anyway). MB >= 2 (AK = 2): both atoms of the stage
        // unrolled, so the second atom's shared-memory loads issue under the first one's MMAs
        // (H100, sessions 4 and 5 A/B: W4 g128 M = 64 1-2% faster, W8A16 M = 64..128 4-7%). Not for
        // per-channel INT4, where unrolling spilled at MB = 4 (ptxas: 8-48 bytes).
        constexpr int kAtomUnroll = MB >= 2 && (GROUPED || C::BITS == 8) ? AK : 1;
#pragma unroll kAtomUnroll
        for (int aa = 0; aa < AK; ++aa) {
            const int ka = wk * AK + aa;   // atom along k within the stage
            int grow = 0;                  // scale / zero row of this atom within the stage
            if (GROUPED || ZP) grow = a.group >= kKTile ? 0 : (ka * kAtomK) / a.group;
            // Per strip: the lane's packed words, its four group scales (broadcast to half2)
            // and zeros; both k16 steps of the atom are then unpacked from the same words.
            constexpr int NW = C::BITS == 4 ? 4 : 8;
            uint32_t wq[WS][NW], sc[WS][4], zl[WS][4];
#pragma unroll
            for (int ws = 0; ws < WS; ++ws) {
                const int sl = wn * WS + ws;
                const uint8_t* atom = bB + (sl * SK + ka) * C::ATOM_BYTES + lane * C::LANE_BYTES;
#pragma unroll
                for (int v = 0; v < NW / 4; ++v) {
                    const uint4 w = *reinterpret_cast<const uint4*>(atom + 16 * v);
                    wq[ws][4 * v + 0] = w.x;
                    wq[ws][4 * v + 1] = w.y;
                    wq[ws][4 * v + 2] = w.z;
                    wq[ws][4 * v + 3] = w.w;
                }
#pragma unroll
                for (int j = 0; j < 4; ++j) zl[ws][j] = kSym4Lo;
                if constexpr (ZP) {
                    const uint32_t zw = *reinterpret_cast<const uint16_t*>(
                        sZ + slot * C::Z_STAGE + grow * (kNTile / 2) + sl * 16 + g * 2);
#pragma unroll
                    for (int j = 0; j < 4; ++j) zl[ws][j] = (0x6400u | ((zw >> (4 * j)) & 0xfu)) * 0x00010001u;   // half2(1024 + z)
                }
                if constexpr (GROUPED) {
                    // The lane's four scales (tiles j = 0..3 of column g) in one 8-byte load.
                    const uint2 sv = *reinterpret_cast<const uint2*>(
                        sS + slot * C::S_STAGE + grow * kNTile * 2 + (sl * 32 + g * 4) * 2);
                    sc[ws][0] = h2u(__low2half2(u2h(sv.x)));
                    sc[ws][1] = h2u(__high2half2(u2h(sv.x)));
                    sc[ws][2] = h2u(__low2half2(u2h(sv.y)));
                    sc[ws][3] = h2u(__high2half2(u2h(sv.y)));
                }
            }
#pragma unroll
            for (int s = 0; s < 2; ++s) {
                // Lane l gives ldmatrix row (l & 15) of an m-block and k octet (l >> 4) of the
                // k16 step. For MB > 1: m-blocks are 16 rows apart, so their XOR swizzle (row & 7
                // = l & 7) is the same and m-block mb is a constant offset from m-block 0, one
                // address per k16 step (ncu at M = 64: the per-m-block IMAD / LOP3 arithmetic was
                // ~2 non-tensor instructions per MMA; M = 64 6% faster). MB = 1 keeps the direct
                // form: the hoisted one cost 2 registers there and measured 1-3% slower.
                uint32_t af[MB][4];
                if constexpr (MB == 1) {
                    const int row = lane & 15, chunk = ka * 4 + s * 2 + (lane >> 4);
                    ldmatrix_x4(af[0], bA + (row * kKTile + ((chunk ^ (row & 7)) * 8)) * 2);
                } else {
                    const uint8_t* const ap = bA + (lane & 15) * kKTile * 2 + (((ka * 4 + s * 2 + (lane >> 4)) ^ (lane & 7)) * 16);
#pragma unroll
                    for (int mb = 0; mb < MB; ++mb) ldmatrix_x4(af[mb], ap + mb * 16 * kKTile * 2);
                }
#pragma unroll
                for (int ws = 0; ws < WS; ++ws)
#pragma unroll
                    for (int j = 0; j < 4; ++j) {
                        uint32_t b[2];
                        if constexpr (C::BITS == 4) {
                            // half2(-(64 + z)) = 960 - (1024 + z), recomputed here: cheaper than a register
                            const uint32_t nzh = ZP ? h2u(__hsub2(u2h(kHalf960), u2h(zl[ws][j]))) : kSym4HiNeg;
                            dequant4(s == 0 ? wq[ws][j] : wq[ws][j] >> 8, zl[ws][j], nzh, b);
                        }
                        else dequant8(wq[ws][2 * j + s], b);
                        if constexpr (GROUPED) {
                            b[0] = h2u(__hmul2(u2h(b[0]), u2h(sc[ws][j])));
                            b[1] = h2u(__hmul2(u2h(b[1]), u2h(sc[ws][j])));
                        }
#pragma unroll
                        for (int mb = 0; mb < MB; ++mb) mma_16816(acc[mb][ws][j], af[mb], b[0], b[1]);
                    }
            }
        }
    }

    // --- Epilogue -----------------------------------------------------------------------------
    handoff_prefetch(a, warp, lane);
    stamp(a, 2);
    cp_async_wait<0>();
    __syncthreads();   // the ring is free: reuse it for the cross-warp reduction

    float* red = reinterpret_cast<float*>(smem);
    if (WK > 1) {
        if (wk > 0) {
            float* dst = red + (size_t)((wk - 1) * WN + wn) * C::ACC * 32;
            int i = 0;
#pragma unroll
            for (int mb = 0; mb < MB; ++mb)
#pragma unroll
                for (int ws = 0; ws < WS; ++ws)
#pragma unroll
                    for (int j = 0; j < 4; ++j)
#pragma unroll
                        for (int e = 0; e < 4; ++e, ++i) dst[i * 32 + lane] = acc[mb][ws][j][e];
        }
        __syncthreads();
        if (wk == 0) {
            for (int w = 1; w < WK; ++w) {   // in warp order: the sum is deterministic
                const float* src = red + (size_t)((w - 1) * WN + wn) * C::ACC * 32;
                int i = 0;
#pragma unroll
                for (int mb = 0; mb < MB; ++mb)
#pragma unroll
                    for (int ws = 0; ws < WS; ++ws)
#pragma unroll
                        for (int j = 0; j < 4; ++j)
#pragma unroll
                            for (int e = 0; e < 4; ++e, ++i) acc[mb][ws][j][e] += src[i * 32 + lane];
            }
        }
    }

    // Accumulator (mb, ws, j, e) is output row mb*16 + g + 8 (e >= 2), column
    // n0 + (wn*WS + ws)*32 + 8j + 2t + (e & 1), t = lane & 3.
    const int t = lane & 3;
    if (a.splits == 1 || (a.debug & 1)) {
        if (wk == 0) {
#pragma unroll
            for (int mb = 0; mb < MB; ++mb)
#pragma unroll
                for (int ws = 0; ws < WS; ++ws)
#pragma unroll
                    for (int j = 0; j < 4; ++j) {
                        const int col = n0 + (wn * WS + ws) * 32 + 8 * j + 2 * t;
                        float s0 = 1.f, s1 = 1.f;
                        if (!GROUPED) { s0 = a.cscales[col]; s1 = a.cscales[col + 1]; }
#pragma unroll
                        for (int h = 0; h < 2; ++h) {
                            const int row = mb * 16 + g + 8 * h;
                            if (row < m_valid)
                                *reinterpret_cast<__half2*>(a.Y + (size_t)row * a.N + col) =
                                    __floats2half2_rn(acc[mb][ws][j][2 * h] * s0, acc[mb][ws][j][2 * h + 1] * s1);
                        }
                    }
        }
        stamp(a, 3);
        return;
    }

    if (a.cluster) {   // split-K through distributed shared memory (see cluster_reduce)
        __syncthreads();   // the cross-warp reduction buffer has been read
        float* buf = reinterpret_cast<float*>(smem);
        if (wk == 0) {
#pragma unroll
            for (int mb = 0; mb < MB; ++mb)
#pragma unroll
                for (int ws = 0; ws < WS; ++ws)
#pragma unroll
                    for (int j = 0; j < 4; ++j)
#pragma unroll
                        for (int h = 0; h < 2; ++h) {
                            const int row = mb * 16 + g + 8 * h;
                            if (row < m_valid)
                                *reinterpret_cast<float2*>(buf + row * kRedStride + (wn * WS + ws) * 32 + 8 * j + 2 * t) =
                                    make_float2(acc[mb][ws][j][2 * h], acc[mb][ws][j][2 * h + 1]);
                        }
        }
        cluster_reduce<kThreads, GROUPED>(a, buf, m_valid, n0);
        stamp(a, 3);
        return;
    }

    // Split-K: FP32 partial of this split, then the last CTA of the tile reduces.
    if (wk == 0) {
#pragma unroll
        for (int mb = 0; mb < MB; ++mb)
#pragma unroll
            for (int ws = 0; ws < WS; ++ws)
#pragma unroll
                for (int j = 0; j < 4; ++j) {
                    const int col = n0 + (wn * WS + ws) * 32 + 8 * j + 2 * t;
#pragma unroll
                    for (int h = 0; h < 2; ++h) {
                        const int row = mb * 16 + g + 8 * h;
                        if (row < m_valid)
                            __stcg(reinterpret_cast<float2*>(a.partial + ((size_t)split * a.M + row) * a.N + col),
                                   make_float2(acc[mb][ws][j][2 * h], acc[mb][ws][j][2 * h + 1]));
                    }
                }
    }
    workspace_reduce<kThreads, kMaxSplitsMma, GROUPED, MB >= 2 ? 16 * MB : 0>(a, tile, n0, m_valid);
    stamp(a, 3);
}

// The four configurations per bit width (see Cfg for the parameters).
template <int BITS> using CfgM16 = Cfg<BITS, 1, 2, 2, 4, 1, 4, 2>;    // M <= 16
template <int BITS> using CfgM32 = Cfg<BITS, 2, 2, 2, 4, 1, 4, 2>;    // M <= 32
template <int BITS> using CfgM64 = Cfg<BITS, 4, 1, 4, 2, 2, 4, 2>;    // M <= 64
template <int BITS> using CfgM128 = Cfg<BITS, 8, 1, 4, 2, 2, 3, 1>;   // M <= 128
// Measured and dropped for M <= 16 (session 11, H100, docs/cuda-kernels-history.md): rings of 6 and 8
// stages, 3 CTAs per SM (4 or 5 stages), one strip per warp with 2 atoms per stage. All slower
// (11008x4096 M = 16 14.27-16.58 vs 14.10-14.21 us; without the reduction 11.91-13.77 vs 11.43).

// ============================================================================================
// The wgmma kernel (sm_90a): Hopper's warpgroup MMA with the weights in registers
// ============================================================================================
//
// At M = 16..128 the MMA kernel above is bound by mma.sync, not by HBM: it takes the same time
// on the H100 and the H200 (M = 64 on 11008x4096: 26.4 and 27.4 us, runs 84273f2f and 25b02c97)
// while cuBLAS FP16, a pure weight stream there, is 28% faster on the H200. Hopper's
// wgmma.mma_async issues a 64 x n x 16 product per warpgroup (4 warps) in one instruction and
// runs it asynchronously, so the warps dequantize the next weights while the tensor cores work.
// This kernel is that path (the design of CUTLASS's "RS" mainloops and vLLM's Machete,
// re-derived for the wq_shuffle layout, which it reads unchanged):
//
//  * Weights as the A operand (64 weight rows x 16 k per instruction, from registers): warp w of
//    a warpgroup supplies rows 16w..16w+15, and the A fragment of wgmma's register form is the
//    mma.m16n8k16 A fragment (rows g, g + 8; k 2t, 2t + 1, 2t + 8, 2t + 9), which is what the
//    swapped streaming kernel (kSwapAB) already builds from a lane's atom words: the words of
//    n8 tiles 2i and 2i + 1 are rows 16i..16i+15 of the strip. So a lane reads 8 bytes (INT4;
//    16 for INT8) of its 16-byte atom slot, half i = w & 1 of it, from the shared-memory stage.
//  * Activations as the B operand, n = MP (M rounded up to 16, 32, 64 or 128), straight from
//    shared memory through a matrix descriptor: the stage holds MP rows x 128 k in the
//    canonical K-major layout with the 128-byte swizzle (8-row groups of 128-byte rows, 16-byte
//    chunk c of row r at c ^ (r & 7), two 64-k halves one after the other), so no ldmatrix and
//    no register copy of X at all. Rows >= M are zero-filled.
//  * CTA = 2 warpgroups = 256 threads, tile 128 weight rows x 128 k per stage (the MMA kernel's
//    tile: the same weight, scale and zero loads), warpgroup h taking strips 2h and 2h + 1.
//    Two cp.async rings: weights WA stages ahead (the HBM stream: as many bytes in flight as
//    shared memory allows), activations XA stages ahead (from L2, short latency). Weight slots
//    are read by plain loads and free at the next barrier; activation slots need two more
//    (below). One commit group per stage holds both, so one wait covers both rings.
//  * Per atom (2 k16 steps), a warp dequantizes into that atom's own 8 registers, fences,
//    issues 2 wgmmas and commits them as one group; before it overwrites an atom's registers
//    one stage later it waits until at most 3 groups are in flight (wgmma.wait_group 3), i.e.
//    until that atom's previous group is done. At the next stage's barrier every group of the
//    stage before last is done, so that slot can take new loads.
//  * Group scales multiply the FP16 levels before the MMA (one rounding, as in the MMA kernel:
//    the same numerics); per-channel scales go on the FP32 results. Split-K across CTAs is the
//    MMA kernel's; above M = 8 the partials stay in the accumulator layout (wg_reduce_last,
//    wg_reduce_coop), at M <= 8 they go through workspace_reduce. Either way partials are added
//    in split order, so reruns give the same bits (the MMA kernel's bits differ: its MMAs sum in
//    another order).
//  * cp.async writes are generic-proxy writes and wgmma reads shared memory through the async
//    proxy: every thread fences (fence.proxy.async) after its copies land, before the barrier.
constexpr int kWgThreads = 256;   // two warpgroups
constexpr int kWgRowMajorMaxRows = 8;   // the wgmma kernel's row-major partials up to this M (its epilogue)
static_assert(kWgThreads == kThreads, "wq_gemm launches paths 0 and 3 with kThreads");

// Compile-time shape of one configuration:
//   BITS  4 or 8
//   MP    the wgmma's n: activation rows staged (M rounded up to 16, 32, 64 or 128)
//   WA    k-stages of weights (with their scales and zeros) loaded ahead: WA + 1 slots (or the
//         activations' count where WA == XA)
//   XA    k-stages of activations loaded ahead: XA + 2 slots (a slot's wgmmas may still run
//         while the next stage is computed)
//   MINB  CTAs per SM promised to the register allocator
template <int BITS_, int MP_, int WA_, int XA_, int MINB_>
struct WgCfg {
    static constexpr int BITS = BITS_, MP = MP_, WA = WA_, XA = XA_, MINB = MINB_;
    static constexpr int A_STAGE = MP * kKTile * 2;                     // a multiple of 1024
    static constexpr int B_STAGE = StageBytes<BITS>::B;
    static constexpr int S_STAGE = StageBytes<BITS>::S;
    static constexpr int Z_STAGE = StageBytes<BITS>::Z;
    // WA == XA: one slot count for both rings (it % 4 once: with WA + 1 = 3 weight slots the
    // second modulo cost registers, and at MP = 64 ptxas spilled 8-12 bytes, 10% slower on
    // 8192x28672, H200 run of 4817643).
    static constexpr int XSLOTS = XA + 2, WSLOTS = WA == XA ? XSLOTS : WA + 1;
    static constexpr int SMEM = XSLOTS * A_STAGE + WSLOTS * (B_STAGE + S_STAGE + Z_STAGE) + 1024;   // + alignment
    static_assert(XA >= 1 && WA >= XA, "the weights of a stage are never loaded after its activations");
};

// The wgmma wrappers exist only where the instruction does (sm_90a); elsewhere the kernel body
// is empty and wq_plan never picks it (g_wgmma_ok).
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
#define QB_HAS_WGMMA 1
// wgmma.fence, with an atom's A fragments and descriptors passed through it, so that every
// instruction defining a wgmma's input registers stays before the fence (the compiler may sink
// plain arithmetic past an asm statement that does not name its results).
__device__ __forceinline__ void wgmma_fence(uint32_t (&a)[2][4], uint64_t (&d)[2]) {
    asm volatile("wgmma.fence.sync.aligned;\n"
                 : "+r"(a[0][0]), "+r"(a[0][1]), "+r"(a[0][2]), "+r"(a[0][3]), "+r"(a[1][0]), "+r"(a[1][1]), "+r"(a[1][2]),
                   "+r"(a[1][3]), "+l"(d[0]), "+l"(d[1])
                 :
                 : "memory");
}
__device__ __forceinline__ void wgmma_commit() { asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory"); }
template <int N>
__device__ __forceinline__ void wgmma_wait() { asm volatile("wgmma.wait_group.sync.aligned %0;\n" ::"n"(N) : "memory"); }
__device__ __forceinline__ void fence_proxy_async() { asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory"); }
// Keeps the compiler from moving reads of an accumulator across a wgmma wait.
__device__ __forceinline__ void fence_operand(float& r) { asm volatile("" : "+f"(r)::"memory"); }

// D[64 x MP] += A[64 x 16] (registers) . B[16 x MP] (shared memory, descriptor), FP32 D.
template <int MP>
__device__ __forceinline__ void wgmma_rs(float (&d)[MP / 2], const uint32_t (&a)[4], uint64_t desc);
template <>
__device__ __forceinline__ void wgmma_rs<16>(float (&d)[8], const uint32_t (&a)[4], uint64_t desc) {
    asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %13, 0;\n"
                 "wgmma.mma_async.sync.aligned.m64n16k16.f32.f16.f16 {"
                 "%0, %1, %2, %3, %4, %5, %6, %7"
                 "}, {%8, %9, %10, %11}, %12, p, 1, 1, 0;\n}\n"
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(desc), "r"(1));
}
template <>
__device__ __forceinline__ void wgmma_rs<32>(float (&d)[16], const uint32_t (&a)[4], uint64_t desc) {
    asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %21, 0;\n"
                 "wgmma.mma_async.sync.aligned.m64n32k16.f32.f16.f16 {"
                 "%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15"
                 "}, {%16, %17, %18, %19}, %20, p, 1, 1, 0;\n}\n"
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]),
                   "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(desc), "r"(1));
}
template <>
__device__ __forceinline__ void wgmma_rs<64>(float (&d)[32], const uint32_t (&a)[4], uint64_t desc) {
    asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %37, 0;\n"
                 "wgmma.mma_async.sync.aligned.m64n64k16.f32.f16.f16 {"
                 "%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15,"
                 "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31"
                 "}, {%32, %33, %34, %35}, %36, p, 1, 1, 0;\n}\n"
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]),
                   "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]),
                   "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]),
                   "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(desc), "r"(1));
}
template <>
__device__ __forceinline__ void wgmma_rs<128>(float (&d)[64], const uint32_t (&a)[4], uint64_t desc) {
    asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %69, 0;\n"
                 "wgmma.mma_async.sync.aligned.m64n128k16.f32.f16.f16 {"
                 "%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15,"
                 "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31,"
                 "%32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47,"
                 "%48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63"
                 "}, {%64, %65, %66, %67}, %68, p, 1, 1, 0;\n}\n"
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]),
                   "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]),
                   "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]),
                   "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]),
                   "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]),
                   "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]),
                   "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]),
                   "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(desc), "r"(1));
}

// Matrix descriptor of an MP x 16 K-major slice at shared address addr (128-byte swizzle,
// 1024-byte aligned 8-row groups): start >> 4, leading offset 1 (unused by this layout),
// stride offset 1024 >> 4 between 8-row groups, layout type 1 (128B swizzle).
__device__ __forceinline__ uint64_t wgmma_desc(uint32_t addr) {
    return (uint64_t)((addr & 0x3FFFFu) >> 4) | (1ull << 16) | ((uint64_t)(1024 >> 4) << 32) | (1ull << 62);
}
#endif

// Helpers of the wgmma kernel, compiled only where it is (unused elsewhere: warnings are errors).
#if defined(QB_HAS_WGMMA)
// The wgmma kernel's split-K partials stay in its accumulator layout: item (c, tid) is
// acc[4c .. 4c + 3] of thread tid, outputs (8c + 2t, col), (8c + 2t + 1, col), (8c + 2t, col + 8),
// (8c + 2t + 1, col + 8) with col = n0 + 32 sl + 16 half + g (wg_out_col), one float4 at
// [split][tile][c][tid] for c < ceil(M / 8). A thread stores its partial with ceil(M / 8)
// coalesced 16-byte stores, where the row-major [split][M][N] layout of the other kernels took
// M / 2 scattered 4-byte stores and their address arithmetic (584 instructions per warp at
// M = 64, 8% of the kernel's stall samples, ncu, H200, session 17); a reader sums an item with one
// 16-byte load per split. Sums in split order from 0, as workspace_reduce: the same bits.
// At M <= 8 the kernel keeps the row-major partials and workspace_reduce (see its epilogue).
// Measured and dropped (H200, session 17, calls 5-7): only the items with a row < M, indexed by
// row pair or tested per lane (slower at M = 1 and 9-25% slower at M = 64 / 128); the last CTA's
// sum out of line with 16 loads in flight (M = 1 faster, M = 32..128 3-9% slower).
__device__ __forceinline__ int wg_out_col(int n0, int tid) {
    const int warp = tid >> 5, wl = warp & 3;
    return n0 + ((warp >> 2) * 2 + (wl >> 1)) * 32 + (wl & 1) * 16 + ((tid & 31) >> 2);
}
__device__ __forceinline__ size_t wg_part_index(const Args& a, int split, int tile, int cb) {
    return ((size_t)split * (a.N / kNTile) + tile) * cb * kWgThreads;   // in float4
}
template <bool GROUPED>
__device__ __forceinline__ void wg_store_item(const Args& a, int n0, int tid, int c, float4 v, int m_valid) {
    const int col = wg_out_col(n0, tid), row = 8 * c + 2 * (tid & 3);
    if (!GROUPED) {
        const float c0 = a.cscales[col], c1 = a.cscales[col + 8];
        v.x *= c0; v.y *= c0; v.z *= c1; v.w *= c1;
    }
    __half* const y = a.Y + (size_t)row * a.N + col;
    if (row < m_valid) { y[0] = __float2half_rn(v.x); y[8] = __float2half_rn(v.z); }
    if (row + 1 < m_valid) { y[a.N] = __float2half_rn(v.y); y[a.N + 8] = __float2half_rn(v.w); }
}
__device__ __forceinline__ void add4(float4& s, const float4& v) { s.x += v.x; s.y += v.y; s.z += v.z; s.w += v.w; }

// The last CTA of the tile sums it (default): split by split, all of its thread's items of a
// split in flight together. Two splits per round, or its own split from its accumulators
// instead of the workspace, each save a round trip but spilled registers at MP = 64 (ptxas,
// session 17; not run).
template <int MP, bool GROUPED>
__device__ __forceinline__ void wg_reduce_last(const Args& a, int tile, int n0, int m_valid) {
    if (!last_cta_of_tile(a, tile)) return;
    const int cb = (m_valid + 7) / 8, tid = threadIdx.x;
    float4 sum[MP / 8];
#pragma unroll
    for (int c = 0; c < MP / 8; ++c) sum[c] = make_float4(0.f, 0.f, 0.f, 0.f);
    for (int s = 0; s < a.splits; ++s) {
        const float4* const p = reinterpret_cast<const float4*>(a.partial) + wg_part_index(a, s, tile, cb) + tid;
        float4 v[MP / 8];
#pragma unroll
        for (int c = 0; c < MP / 8; ++c)
            if (c < cb) v[c] = __ldcg(p + c * kWgThreads);
#pragma unroll
        for (int c = 0; c < MP / 8; ++c)
            if (c < cb) add4(sum[c], v[c]);
    }
#pragma unroll
    for (int c = 0; c < MP / 8; ++c)
        if (c < cb) wg_store_item<GROUPED>(a, n0, tid, c, sum[c], m_valid);
}

// The sum shared by the tile's S CTAs (kAcqrelCoop): each CTA publishes its partial, waits until
// all S have (every CTA of the grid is resident: the host sets coop only for one-wave grids, and
// the previous grid exits on its own), then sums 1 / S of the tile's items, each in split order:
// the same bits as wg_reduce_last. A second counter per tile counts the CTAs done reading; the
// last one resets both for the next launch (which cannot reach its own reduction before this
// grid has exited: griddepcontrol.wait comes first in every kernel).
template <bool GROUPED>
__device__ __forceinline__ void wg_reduce_coop(const Args& a, int tile, int split, int n0, int m_valid) {
    int* const arrive = a.counters + tile;
    int* const depart = a.counters + gridDim.x / a.splits + tile;
    __syncthreads();   // the CTA's partial stores, then thread 0's release
    if (threadIdx.x == 0) {
        asm volatile("red.release.gpu.global.add.s32 [%0], 1;\n" ::"l"(arrive) : "memory");
        int v = 0;
        do asm volatile("ld.acquire.gpu.global.s32 %0, [%1];\n" : "=r"(v) : "l"(arrive) : "memory");
        while (v < a.splits);
    }
    __syncthreads();   // every partial of the tile is visible to the whole CTA
    const int cb = (m_valid + 7) / 8, S = a.splits, total = cb * kWgThreads, per = (total + S - 1) / S;
    const float4* const p0 = reinterpret_cast<const float4*>(a.partial) + wg_part_index(a, 0, tile, cb);
    const size_t stride = wg_part_index(a, 1, 0, cb);   // split s -> s + 1
    for (int i = split * per + (int)threadIdx.x; i < min(total, (split + 1) * per); i += kWgThreads) {
        float4 sum = make_float4(0.f, 0.f, 0.f, 0.f);
        for (int s0 = 0; s0 < S; s0 += 8) {   // 8 loads in flight
            float4 v[8];
#pragma unroll
            for (int q = 0; q < 8; ++q)
                if (s0 + q < S) v[q] = __ldcg(p0 + (s0 + q) * stride + i);
#pragma unroll
            for (int q = 0; q < 8; ++q)
                if (s0 + q < S) add4(sum, v[q]);
        }
        wg_store_item<GROUPED>(a, n0, i % kWgThreads, i / kWgThreads, sum, m_valid);
    }
    if (threadIdx.x == 0) {
        int prev;   // acq_rel: this CTA's polls above happen before its count, the resets after all counts
        asm volatile("atom.add.acq_rel.gpu.s32 %0, [%1], 1;\n" : "=r"(prev) : "l"(depart) : "memory");
        if (prev == a.splits - 1) {
            *arrive = 0;
            *depart = 0;
        }
    }
}

#endif

template <class C, bool ZP, bool GROUPED>
__global__ void __launch_bounds__(kWgThreads, C::MINB) wq_wgmma_kernel(const Args a) {
#if defined(QB_HAS_WGMMA)
    extern __shared__ __align__(128) uint8_t smem_raw[];
    constexpr int MP = C::MP, WA = C::WA, XA = C::XA, NACC = MP / 2;   // NACC: FP32 accumulators per thread
    constexpr int SK = kKTile / kAtomK, ATOM = StageBytes<C::BITS>::ATOM;   // atoms per stage along k, bytes per atom
    // The swizzle works on address bits: the stages must start at a 1024-byte boundary, which
    // the dynamic shared memory (after the static flag of last_cta_of_tile) need not.
    const uint32_t raw = static_cast<uint32_t>(__cvta_generic_to_shared(smem_raw));
    uint8_t* const sA = smem_raw + ((1024u - (raw & 1023u)) & 1023u);
    uint8_t* const sB = sA + C::XSLOTS * C::A_STAGE;
    uint8_t* const sS = sB + C::WSLOTS * C::B_STAGE;
    uint8_t* const sZ = sS + C::WSLOTS * C::S_STAGE;
    const uint32_t sA_addr = static_cast<uint32_t>(__cvta_generic_to_shared(sA));

    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
    const int wl = warp & 3;                            // warp within its warpgroup
    const int sl = (warp >> 2) * 2 + (wl >> 1);         // its strip of the tile
    const int half = wl & 1;                            // its 16 rows of the strip
    const int g = lane >> 2, t = lane & 3;
    const int tile = blockIdx.x / a.splits, split = blockIdx.x % a.splits;
    const int s_begin = (int)((long long)split * a.k_stages / a.splits);
    const int s_end = (int)((long long)(split + 1) * a.k_stages / a.splits);
    const int n_iter = s_end - s_begin;
    const int n0 = tile * kNTile, strip0 = n0 / kAtomN;
    const int atoms_k = a.K / kAtomK;
    const int m_valid = a.M < MP ? a.M : MP;

    // Load addresses, computed once per thread: a stage only adds its k offset. Recomputing them
    // every stage (load_weight_stage, and the row / chunk / swizzle of each activation chunk) was
    // 37% of this kernel's main-loop instructions and a quarter of its stall samples, right after
    // the stage's barrier (ncu, H200, 11008x4096 M = 64, session 17).
    // Weights: the tile's 4 strips are 4 contiguous runs of SK atoms per stage; thread tid copies
    // chunk tid % RUN of strip tid / RUN + c kWgThreads / RUN, chunk c = 0 .. WCH - 1.
    constexpr int RUN = SK * ATOM / 16, WCH = C::B_STAGE / 16 / kWgThreads;
    static_assert(kWgThreads % RUN == 0 && C::B_STAGE / 16 % kWgThreads == 0, "whole runs and chunks per thread");
    const uint8_t* const wsrc = a.q + ((size_t)(strip0 + tid / RUN) * atoms_k) * ATOM + (tid % RUN) * 16;
    const size_t wstep = (size_t)(kWgThreads / RUN) * atoms_k * ATOM;   // chunk c -> c + 1
    const uint32_t sB_addr = static_cast<uint32_t>(__cvta_generic_to_shared(sB)) + tid * 16;
    // Scale and zero rows of the stage's groups: thread tid copies chunk tid % 16 (scales) or
    // tid % 4 (zeros) of row tid / 16 (tid / 4), if the stage has that many rows.
    const int ng = a.group >= kKTile ? 1 : kKTile / a.group;
    const bool s_on = GROUPED && tid < ng * 16, z_on = ZP && tid < ng * 4;
    const uint8_t* const ssrc = GROUPED ? reinterpret_cast<const uint8_t*>(a.scales + (size_t)(s_on ? tid / 16 : 0) * a.N + n0 + (tid % 16) * 8) : nullptr;
    const uint8_t* const zsrc = ZP ? a.zeros + ((size_t)(z_on ? tid / 4 : 0) * (a.N / kAtomN) + strip0) * 16 + (tid % 4) * 16 : nullptr;
    const uint32_t sS_addr = static_cast<uint32_t>(__cvta_generic_to_shared(sS)) + (s_on ? tid / 16 : 0) * kNTile * 2 + (tid % 16) * 16;
    const uint32_t sZ_addr = static_cast<uint32_t>(__cvta_generic_to_shared(sZ)) + (z_on ? tid / 4 : 0) * (kNTile / 2) + (tid % 4) * 16;
    auto load_weights = [&](int slot, int ks) {
#pragma unroll
        for (int c = 0; c < WCH; ++c)
            cp_async16_s(sB_addr + slot * C::B_STAGE + c * kWgThreads * 16, wsrc + (size_t)ks * (SK * ATOM) + c * wstep, 16);
        if (GROUPED || ZP) {
            const int g0 = a.group == kKTile ? ks : ks * kKTile / a.group;   // first group row of the stage
            if (GROUPED) cp_async16_s_if(sS_addr + slot * C::S_STAGE, ssrc + (size_t)g0 * a.N * 2, s_on);
            if (ZP) cp_async16_s_if(sZ_addr + slot * C::Z_STAGE, zsrc + (size_t)g0 * (a.N / 2), z_on);
        }
    };
    // Activations of k-stage ks: MP rows x 16 chunks of 8 halves, chunk c of row r at
    // (c / 8) x MP x 128 + r x 128 + ((c % 8) ^ (r % 8)) x 16 (the 128-byte swizzle). Thread tid
    // copies chunk tid % 16 of rows tid / 16 + 16 j: the same swizzle for every j (16 j % 8 = 0).
    constexpr int XCH = MP * (kKTile / 8) / kWgThreads;
    static_assert(MP * (kKTile / 8) % kWgThreads == 0 && kWgThreads / 16 == 16, "whole chunks per thread, 16 rows per step");
    const int xr = tid / 16, xc = tid % 16;
    const __half* const xsrc = a.X + (size_t)xr * a.K + xc * 8;
    const uint32_t xdst = sA_addr + (xc >> 3) * (MP * 128) + xr * 128 + (((xc & 7) ^ (xr & 7)) << 4);
    const int xn = m_valid > xr ? (m_valid - xr + 15) / 16 : 0;   // row blocks j < xn have a row < M
    const uint32_t xstep = 16u * (uint32_t)a.K;                  // halves from block j to j + 1
    auto load_acts = [&](int slot, int ks) {
        const __half* x = xsrc + ks * kKTile;
#pragma unroll
        for (int j = 0; j < XCH; ++j, x += xstep) {
            const bool on = j < xn;   // rows >= M: zero-filled, nothing read
            cp_async16_s(xdst + slot * C::A_STAGE + j * 16 * 128, on ? x : a.X, on ? 16 : 0);
        }
    };

    float acc[NACC];
#pragma unroll
    for (int i = 0; i < NACC; ++i) acc[i] = 0.f;

    stamp(a, 0);
    launch_dependents();
    // Prologue: WA stages of weights before waiting for the previous grid (PDL), then XA of
    // activations, one commit group each (group 0 also holds every prologue weight load).
    // Group i then holds stage i's activations and, at the latest, its weights.
#pragma unroll
    for (int s = 0; s < WA; ++s)
        if (s < n_iter) load_weights(s, s_begin + s);
    wait_prior_grid();
    stamp(a, 1);
#pragma unroll
    for (int s = 0; s < XA; ++s) {
        if (s < n_iter) load_acts(s, s_begin + s);
        cp_async_commit();
    }

    uint32_t af[SK][2][4];   // per atom of the stage: the A fragments of its two k16 steps
    // Atom ka's scale / zero row in the stage is ka >> gshift (groups are multiples of 32 that
    // divide 128 or are multiples of it: wq_layout). A shift, not (32 ka) / group: ptxas
    // serialized every wgmma of the kernels with the division (C7513).
    const int gshift = a.group >= kKTile ? 2 : a.group == 64 ? 1 : 0;
    const uint64_t desc0 = wgmma_desc(sA_addr);   // slot 0, k16 step 0
    for (int it = 0; it < n_iter; ++it) {
        cp_async_wait<XA - 1>();   // group `it` (stage it's activations and weights) has landed
        fence_proxy_async();       // this thread's copies -> visible to wgmma's reads
        __syncthreads();           // ... everyone's; every plain read of stage it - 1 and every
                                   // wgmma of stage it - 2 is done (below): their slots are free
        // (Issued after the stage's first atom instead, the loads were 3-17% slower at M = 32..128,
        // H200, session 17.)
        if (it + WA < n_iter) load_weights((it + WA) % C::WSLOTS, s_begin + it + WA);
        if (it + XA < n_iter) load_acts((it + XA) % C::XSLOTS, s_begin + it + XA);
        cp_async_commit();
        __syncwarp();   // the loads branch per thread; the .aligned instructions below need the warp whole

        const int slot = it % C::WSLOTS;   // weights, scales, zeros
        const uint8_t* const bB = sB + slot * C::B_STAGE + sl * SK * ATOM + lane * (ATOM / 32);
        // The stage's descriptor: the address field is (address >> 4) & 0x3FFF and shared memory
        // is below 2^18 bytes, so adding offset / 16 to the low word never carries out of it
        // (the uniform-datapath arithmetic of wgmma_desc per wgmma was 4 instructions of each).
        const uint32_t dstage = (uint32_t)desc0 + (uint32_t)((it % C::XSLOTS) * C::A_STAGE) / 16;
#pragma unroll
        for (int ka = 0; ka < SK; ++ka) {
            const int grow = ka >> gshift;   // scale / zero row of this atom within the stage
            uint32_t s0 = 0, s1 = 0, zl0 = kSym4Lo, zl1 = kSym4Lo;
            if constexpr (GROUPED) {   // scales of n8 tiles 2 half and 2 half + 1, column g
                const uint32_t sv = *reinterpret_cast<const uint32_t*>(sS + slot * C::S_STAGE + grow * kNTile * 2 + (sl * 32 + g * 4 + 2 * half) * 2);
                s0 = h2u(__low2half2(u2h(sv)));
                s1 = h2u(__high2half2(u2h(sv)));
            }
            if constexpr (ZP) {
                const uint32_t zw = *reinterpret_cast<const uint16_t*>(sZ + slot * C::Z_STAGE + grow * (kNTile / 2) + sl * 16 + g * 2);
                zl0 = (0x6400u | ((zw >> (8 * half)) & 0xfu)) * 0x00010001u;   // half2(1024 + z)
                zl1 = (0x6400u | ((zw >> (8 * half + 4)) & 0xfu)) * 0x00010001u;
            }
            uint32_t wv[C::BITS == 4 ? 2 : 4];
            if constexpr (C::BITS == 4) {
                const uint2 v = *reinterpret_cast<const uint2*>(bB + ka * ATOM + 8 * half);
                wv[0] = v.x;   // n8 tile 2 half: both k16 steps
                wv[1] = v.y;   // n8 tile 2 half + 1
            } else {
                const uint4 v = *reinterpret_cast<const uint4*>(bB + ka * ATOM + 16 * half);
                wv[0] = v.x; wv[1] = v.y;   // tile 2 half: step 0, step 1
                wv[2] = v.z; wv[3] = v.w;   // tile 2 half + 1
            }
            wgmma_wait<SK - 1>();   // this atom's registers are free: its group of the last stage is done
#pragma unroll
            for (int st = 0; st < 2; ++st) {
                uint32_t b0[2], b1[2];
                if constexpr (C::BITS == 4) {
                    const uint32_t nzh0 = ZP ? h2u(__hsub2(u2h(kHalf960), u2h(zl0))) : kSym4HiNeg;
                    const uint32_t nzh1 = ZP ? h2u(__hsub2(u2h(kHalf960), u2h(zl1))) : kSym4HiNeg;
                    dequant4(st == 0 ? wv[0] : wv[0] >> 8, zl0, nzh0, b0);
                    dequant4(st == 0 ? wv[1] : wv[1] >> 8, zl1, nzh1, b1);
                } else {
                    dequant8(wv[st], b0);
                    dequant8(wv[2 + st], b1);
                }
                if constexpr (GROUPED) {
                    b0[0] = h2u(__hmul2(u2h(b0[0]), u2h(s0)));
                    b0[1] = h2u(__hmul2(u2h(b0[1]), u2h(s0)));
                    b1[0] = h2u(__hmul2(u2h(b1[0]), u2h(s1)));
                    b1[1] = h2u(__hmul2(u2h(b1[1]), u2h(s1)));
                }
                af[ka][st][0] = b0[0];   // row g,     k 2t, 2t + 1
                af[ka][st][1] = b1[0];   // row g + 8, k 2t, 2t + 1
                af[ka][st][2] = b0[1];   // row g,     k 2t + 8, 2t + 9
                af[ka][st][3] = b1[1];   // row g + 8, k 2t + 8, 2t + 9
            }
            uint64_t desc[2];   // k16 step kk of the stage: 64-k half kk / 4, 32 bytes per step in it
#pragma unroll
            for (int st = 0; st < 2; ++st) {
                const int kk = ka * 2 + st;
                desc[st] = (desc0 & ~0xFFFFFFFFull) | (dstage + ((kk >> 2) * (MP * 128) + (kk & 3) * 32) / 16);
            }
            wgmma_fence(af[ka], desc);
            wgmma_rs<MP>(acc, af[ka][0], desc[0]);
            wgmma_rs<MP>(acc, af[ka][1], desc[1]);
            wgmma_commit();
        }
    }
    wgmma_wait<0>();
#pragma unroll
    for (int i = 0; i < NACC; ++i) fence_operand(acc[i]);

    // --- Epilogue: accumulator 4c + e is weight row (output column) n0 + 32 sl + 16 half + g +
    // 8 (e >> 1) and activation row (output row) 8c + 2t + (e & 1).
    handoff_prefetch(a, warp, lane);
    stamp(a, 2);
    cp_async_wait<0>();
    const int ncol = n0 + sl * 32 + half * 16 + g;
    if (a.splits == 1 || (a.debug & 1)) {
        float cs[2] = {1.f, 1.f};
        if (!GROUPED) { cs[0] = a.cscales[ncol]; cs[1] = a.cscales[ncol + 8]; }
#pragma unroll
        for (int c = 0; c < MP / 8; ++c)
#pragma unroll
            for (int e = 0; e < 4; ++e) {
                const int row = 8 * c + 2 * t + (e & 1);
                if (row < m_valid) a.Y[(size_t)row * a.N + ncol + 8 * (e >> 1)] = __float2half_rn(acc[4 * c + e] * cs[e >> 1]);
            }
        stamp(a, 3);
        return;
    }
    if (MP == 16 && m_valid <= kWgRowMajorMaxRows) {
        // Row-major partials and workspace_reduce, whose loads of every split are in flight at
        // once: an 8-row block per thread stores and reads up to 8 times the rows, and
        // wg_reduce_last's round trip per split cost 0.5-1.4 us at M = 1 (W8A16 11008x4096 /
        // 4096x11008: 13.0 / 13.0 us -> 13.6 / 14.4, its decode step 1.94 -> 2.09 ms, H200, session
        // 17). The host sets no shared sum here (kWgRowMajorMaxRows).
#pragma unroll
        for (int c = 0; c < MP / 8; ++c)
#pragma unroll
            for (int e = 0; e < 4; ++e) {
                const int row = 8 * c + 2 * t + (e & 1);
                if (row < m_valid) __stcg(a.partial + ((size_t)split * a.M + row) * a.N + ncol + 8 * (e >> 1), acc[4 * c + e]);
            }
        workspace_reduce<kWgThreads, kMaxSplitsMma, GROUPED>(a, tile, n0, m_valid);
        stamp(a, 3);
        return;
    }
    {
        const int cb = (m_valid + 7) / 8;
        float4* const p = reinterpret_cast<float4*>(a.partial) + wg_part_index(a, split, tile, cb) + tid;
#pragma unroll
        for (int c = 0; c < MP / 8; ++c)
            if (c < cb) __stcg(p + c * kWgThreads, make_float4(acc[4 * c], acc[4 * c + 1], acc[4 * c + 2], acc[4 * c + 3]));
    }
    if (a.acqrel & kAcqrelCoop) wg_reduce_coop<GROUPED>(a, tile, split, n0, m_valid);
    else wg_reduce_last<MP, GROUPED>(a, tile, n0, m_valid);
    stamp(a, 3);
#else
    (void)a;   // never launched without sm_90a (wq_plan)
#endif
}

// Configurations (H200, session 16, two calls of two rounds each; docs/cuda-kernels-history.md):
// activations 2 stages ahead; weights 2 ahead (WA = 2: one ring of 4 slots in effect) or as far
// as two CTAs per SM allow. The deep weight ring won at MP = 32 and 128 for INT4 (11008x4096
// M = 32 / 128: 16.93-16.97 / 43.4-43.7 us against 17.06 / 44.1-44.6) and lost at MP = 64
// (22.6-22.7 against 22.1-22.3) and for INT8 at every MP (11008x4096 M = 16: 16.3 against 15.3).
template <int MP> using WgCfg4 = WgCfg<4, MP, MP == 16 ? 8 : MP == 32 ? 6 : MP == 64 ? 2 : 8, 2, MP <= 64 ? 2 : 1>;
template <int MP> using WgCfg8 = WgCfg<8, MP, 2, 2, MP <= 32 ? 2 : 1>;

// ============================================================================================
// The small-M streaming kernel (M <= 16): weights straight from HBM into registers
// ============================================================================================
//
// At M <= 16 a weight byte is used by at most 16 rows, so the layer is a weight stream and the
// only thing that matters is how many bytes each SM keeps in flight. The cp.async ring of the
// kernel above holds 3 stages of 8 KiB per CTA (INT4), too few to cover HBM latency (measured:
// 42-56% of the copy probe at M = 1). This kernel drops the shared-memory staging of weights:
//
//  * One warp streams one 32-column strip of the shuffled layout, whose atoms along k are
//    contiguous: one 16-byte ld.global.nc.L1::no_allocate per lane and atom is a fully
//    coalesced 512-byte warp load of exactly the B fragments that lane needs (the same
//    wq_shuffle layout as the MMA kernel: one weight buffer serves both paths).
//  * A register ring of D k-stages (4 atoms = 128 k each) per warp: D x 2 KiB (INT4) in flight
//    per warp, 16 warps per SM (4 CTAs of 4 warps at <= 128 registers): up to 128 KiB per SM.
//    The ring is filled before griddepcontrol.wait (PDL), so a layer's weights start streaming
//    while the previous layer drains.
//  * The activations of the CTA's k range (R = 8 or 16 rows, rows >= M zero) are staged once in
//    shared memory (rows padded by 16 bytes: conflict-free ldmatrix) and read as the A operand,
//    or at R = 8 (M <= 8) as the B operand with the weights as A (kSwapAB: half the MMAs).
//  * The product is still mma.sync.m16n8k16 with FP32 accumulation, fed by the same lop3
//    dequantizers: identical numerics to the MMA kernel, and at M <= 16 the tensor core costs
//    what a CUDA-core GEMV's conversions would (an FP32-accumulating FMA GEMV needs ~4
//    instructions per weight, over the ~4 per weight an SM can issue at HBM speed).
//
//   CTA (tile t, split s) = 4 warps x 32 columns, k-stages [s KS/S, (s+1) KS/S):
//
//        k ->  stage i     stage i+1   ...                 registers of warp w:
//   n  +-----------+-----------+-----                   [D stages][4 atoms] x 16 B
//   |  | warp 0: strip 4t    ...                         ld.nc ... ld.nc  (D - 1..D stages in flight)
//   v  | warp 1: strip 4t+1  ...                         dequant -> mma.m16n8k16 (A: ldmatrix of X in smem)
//      | warp 2, warp 3 ...
//      +-----------------------------
//
//   S (split-K) is chosen on the host so n_tiles x S CTAs fill whole waves and each CTA's
//   activation slice fits 48 KiB; partial sums are reduced in split order as in the MMA kernel.
//
//   Measured (H200, docs/cuda-kernels-history.md): INT4 at M = 1 faster than the MMA kernel (run
//   20261126t224346z: 11.70 vs 13.23 us on 11008x4096), slower at M = 16 (21.13 vs 14.84 us) and
//   for INT8 (run 20261126t204118z). Hence the planner's default: this kernel for INT4 at M <= 2
//   (g >= 128: M <= 8 since the operand swap, see stream_max_m),
//   in its split-K-inside-the-CTA form (KW > 0) at M <= 8 where that fills one wave (run
//   20261126t231808z: 4096x11008 M = 1 10.57 vs 11.72 us, 8192x28672 40.24 vs 46.10).

// Swap A and B at M <= 8 (QB_WQ_SWAP_AB, default on): the dequantized weights are the A operand
// (16 output columns x k16, 256 weights per mma) and the activations the B operand (k16 x 8
// rows). The wq_shuffle fragments of n8 tiles 2i and 2i + 1 are exactly the A fragment of
// columns 16i..16i+15, so the layout and the dequant do not change; the MMA count per weight
// halves and the per-stage dependency chains are half as long. The accumulators are moved back
// to the row-major layout (shuffles) once, after the main loop, so the epilogues are shared.
#ifndef QB_WQ_SWAP_AB
#define QB_WQ_SWAP_AB 1
#endif
constexpr bool kSwapAB = QB_WQ_SWAP_AB != 0;

constexpr int kStreamThreads = 128;            // 4 warps: one 128-column tile per CTA
constexpr int kStreamSmem = 48 * 1024;         // activation slice budget per CTA (4 CTAs per SM)
constexpr int kStreamMaxSplits = 32;
constexpr int kStreamMaxM = 16;

// 16 bytes of weights that are read exactly once: no L1 allocation (and nothing else to keep).
__device__ __forceinline__ uint4 ld_stream(const void* p) {
    uint4 r;
    asm volatile("ld.global.nc.L1::no_allocate.v4.u32 {%0, %1, %2, %3}, [%4];\n"
                 : "=r"(r.x), "=r"(r.y), "=r"(r.z), "=r"(r.w)
                 : "l"(p));
    return r;
}

// Shared strips (SHARE): the first of a CTA's kw warps in strip group gi when they are split
// over ns strips, warp w going to group w ns / kw (the smallest such w).
__device__ __forceinline__ int group_first_warp(int gi, int ns, int kw) { return (gi * kw + ns - 1) / ns; }

__device__ __forceinline__ uint32_t word_of(const uint4& v, int i) {
    return i == 0 ? v.x : i == 1 ? v.y : i == 2 ? v.z : v.w;
}

// Template parameters:
//   BITS     4 or 8
//   R        activation rows staged in shared memory: 8 (M <= 8) or 16 (M <= 16)
//   D        k-stages in the per-warp register ring
//   GA       atoms (32 k) per scale / zero row: 1 (group 32), 2 (group 64), 4 (group >= 128
//            or per-channel); a stage of 4 atoms needs 4 / GA rows
//   ZP       zero points; GROUPED: group scales applied before the MMA (else per-channel FP32
//            scales on the accumulators)
//   LOADONLY ablation (wq_set_debug 2, one instantiation): the same loads, no dequant / MMA, so
//            the bench can tell the stream's own rate from the main loop's
//   MINB     CTAs per SM promised to the register allocator
//   ACCS     group >= 128 only: the MMA takes the bare levels u - z and each stage's FP32
//            partial is scaled on the accumulators (16 FFMA per stage and lane instead of 64
//            HMUL2 + 16 PRMT: the kernel is issue-bound at M = 1). One FP32 multiply replaces
//            the FP16 rounding of level x scale, so its bits differ from the other paths'.
//   KW       0: the split-K-across-CTAs form above. > 0: split-K inside the CTA (path 2 of
//            WqPlan, "ctask"): one CTA of KW warps owns one 32-column strip and all of K, warp w
//            streams k-stages [w KS/KW, (w+1) KS/KW) (KW = 8, 16: stages w, w + KW, ...; see SST)
//            through its own ring, and the KW partials are added in shared memory in warp order
//            (deterministic). No FP32 workspace, no
//            atomic counter, no last-CTA tail: the ablation put that global reduction at 1.7-2.0
//            us of an 11.7 us launch (11008x4096, M = 1). Activations: only the M real rows of
//            all of K are staged (each warp its own k range, so no CTA barrier before the main
//            loop); ldmatrix rows >= M read a 16-byte zero line instead.
//   SMR      the ring lives in shared memory instead of registers (INT4 group >= 128 without
//            zeros, ACCS, KW = 0, M <= 8): each lane cp.asyncs its own 16 bytes of each atom and
//            its 16 bytes of scales into its own slots and later reads back exactly those, so no
//            barrier is needed; D stages of 2.5 KiB per warp cost shared memory, not registers, so
//            the ring can hold a warp's whole k range and the loads are all in flight before
//            griddepcontrol.wait. Only the M real activation rows are staged (as with KW > 0).
//   SHARE    KW = 16 only ("shared strips", g_ctask_shared): the grid has fewer CTAs than strips;
//            CTA c takes strips [c S / C, (c + 1) S / C) and gives each a group of its warps,
//            which walks that strip as a KW-warp CTA walks its one. Activations of all of K are
//            staged once per CTA (groups share k ranges), then a barrier.
template <int BITS, int R, int D, int GA, bool ZP, bool GROUPED, bool LOADONLY = false, int MINB = 4, bool ACCS = false,
          int KW = 0, bool SMR = false, bool SHARE = false>
__global__ void __launch_bounds__(KW > 0 ? KW * 32 : kStreamThreads, MINB) wq_stream_kernel(const Args a) {
    extern __shared__ __align__(128) uint8_t smem[];
    constexpr int NV = BITS / 4;                        // 16-byte loads per lane and atom
    constexpr int LANE_BYTES = 16 * NV, ATOM_BYTES = 32 * LANE_BYTES;
    constexpr int SR = (GROUPED || ZP) ? 4 / GA : 0;    // scale / zero rows per stage
    constexpr int SRA = SR > 0 ? SR : 1;
    constexpr int SRS = ACCS ? 2 : SRA;                 // ACCS: the scales of the lane's 8 output columns
    static_assert(R == 8 || R == 16, "8 or 16 activation rows");
    static_assert(!ACCS || (GROUPED && GA == 4 && BITS == 4), "accumulator scaling: one scale row per stage");

    static_assert(KW == 0 || (!LOADONLY && R == 8), "ctask: M <= 8, no ablation variant");
    static_assert(!SMR || (ACCS && !LOADONLY && R == 8 && !ZP), "smem ring: the ACCS configuration at M <= 8");
    constexpr bool RROWS = KW > 0 || SMR;                  // only the M real activation rows are staged
    constexpr bool SWAP = kSwapAB && R == 8 && !LOADONLY;   // weights as the A operand (kSwapAB)
    constexpr int RING_W = 4 * ATOM_BYTES, RING_STAGE = RING_W + 32 * 16;   // SMR slot: weights, lanes' scales

    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
    const int g = lane >> 2, t = lane & 3;
    // KW = 0: CTA (tile, split), warp w on strip 4 tile + w. KW > 0: CTA = strip, warp = k slice.
    const int tile = KW > 0 ? blockIdx.x / (kNTile / kAtomN) : blockIdx.x / a.splits;
    const int split = KW > 0 ? 0 : blockIdx.x % a.splits;
    const int part = KW > 0 ? warp : split, parts = KW > 0 ? KW : a.splits;
    // Interleaved k ranges (session 12) in the 8- and 16-warp ctask CTAs: warp w takes stages w,
    // w + KW, w + 2 KW, ..., so at any moment the warps of a CTA load adjacent 2 KiB stages of
    // their strip instead of runs KS / KW stages apart. H100, M = 1, three rounds against the
    // contiguous ranges in one call: 8192x28672 (8 warps) 41.90-42.00 vs 43.78-43.83 us,
    // 4096x11008 (16 warps) 8.79-8.80 vs 8.89-8.90; in the 6-warp CTAs it was slower
    // (11008x4096 9.83-9.88 vs 9.73-9.75), so they keep contiguous ranges.
    constexpr int SST_ = (KW == 8 || KW == 16) ? KW : 1;   // stage stride of a warp's k range
    // SHARE (shared strips, session 14): CTA c of C owns strips [c S / C, (c + 1) S / C) of the
    // S = N / 32 and splits its KW warps over them in groups (warp w in group w ns / KW), each
    // group interleaving its strip's k-stages as above with its own size as the stride.
    int m_s0 = 0, m_ns = 1, m_gi = 0, m_first = 0, m_cnt = KW;
    if constexpr (SHARE) {
        const int S = a.N / kAtomN, C = (int)gridDim.x;
        m_s0 = (int)((long long)blockIdx.x * S / C);
        m_ns = (int)((long long)(blockIdx.x + 1) * S / C) - m_s0;
        m_gi = warp * m_ns / KW;
        m_first = group_first_warp(m_gi, m_ns, KW);
        m_cnt = group_first_warp(m_gi + 1, m_ns, KW) - m_first;
    }
    const int part_ = SHARE ? warp - m_first : part, parts_ = SHARE ? m_cnt : parts;
    const int SST = SHARE ? parts_ : SST_;
    const int s_begin = SST_ > 1 ? part_ : (int)((long long)part_ * a.k_stages / parts_);
    const int s_end = SST_ > 1 ? a.k_stages : (int)((long long)(part_ + 1) * a.k_stages / parts_);
    const int n_iter = SST_ > 1 ? (s_end > s_begin ? (s_end - s_begin + SST - 1) / SST : 0) : s_end - s_begin;
    const int sp = SHARE ? m_s0 + m_gi : KW > 0 ? (int)blockIdx.x : tile * (kNTile / kAtomN) + warp;   // this warp's strip
    const int atoms_k = a.K / kAtomK;
    const uint8_t* const wbase = a.q + ((size_t)sp * atoms_k + (size_t)s_begin * 4) * ATOM_BYTES + lane * LANE_BYTES;
    // Padded activation row in shared memory: this CTA's k range (KW = 0) or all of K (KW > 0).
    const int row_bytes = (KW > 0 ? a.K : n_iter * kKTile) * 2 + 16;
    const int m_rows = a.M < R ? a.M : R;   // real activation rows
    // SMR: this warp's D slots, behind the activations and the zero line (smr_smem on the host).
    uint8_t* const ring = smem + ((m_rows * row_bytes + 16 + 127) & ~127) + warp * D * RING_STAGE;

    uint4 wr[D][4][NV];
    uint2 sr[D][SRS];
    uint32_t zr[D][SRA];

    // Stage i of this CTA's k range into ring slot d (d is a constant after unrolling).
    auto load_stage = [&](uint4 (&w)[4][NV], uint2 (&s)[SRS], uint32_t (&z)[SRA], int i) {
        const uint8_t* p = wbase + (size_t)i * SST * 4 * ATOM_BYTES;
#pragma unroll
        for (int at = 0; at < 4; ++at)
#pragma unroll
            for (int v = 0; v < NV; ++v) w[at][v] = ld_stream(p + at * ATOM_BYTES + 16 * v);
#pragma unroll
        for (int r = 0; r < SR; ++r) {
            const int grow = ((s_begin + i * SST) * kKTile + r * GA * kAtomK) / a.group;
            if constexpr (ACCS) {
                // Output columns 8j + 2t and 8j + 2t + 1 (j = 0..3) sit at permuted positions
                // 8t + j and 8t + 4 + j of the strip (wq_shuffle): one 16-byte load.
                // SWAP: columns 8j + g sit at positions 4g + j: the 16 bytes of lanes g and g ^ 1.
                const uint4 v = __ldg(reinterpret_cast<const uint4*>(a.scales + (size_t)grow * a.N + sp * 32 + (SWAP ? (g >> 1) : t) * 8));
                s[0] = make_uint2(v.x, v.y);
                s[1] = make_uint2(v.z, v.w);
            } else if constexpr (GROUPED)
                s[r] = __ldg(reinterpret_cast<const uint2*>(a.scales + (size_t)grow * a.N + sp * 32 + g * 4));
            if constexpr (ZP)
                z[r] = __ldg(reinterpret_cast<const unsigned short*>(a.zeros + ((size_t)grow * (a.N / kAtomN) + sp) * 16 + g * 2));
        }
    };

    // SMR: stage i into slot d (the lane's 4 x 16 weight bytes and its 16 bytes of scales), one
    // commit group per call (empty past the end, so the group count stays uniform).
    auto load_slot = [&](int d, int i) {
        if (i < n_iter) {
            const uint8_t* p = wbase + (size_t)i * SST * 4 * ATOM_BYTES;
            uint8_t* const slot = ring + d * RING_STAGE;
#pragma unroll
            for (int at = 0; at < 4; ++at) cp_async16_ring(slot + at * ATOM_BYTES + lane * 16, p + at * ATOM_BYTES);
            const int grow = ((s_begin + i * SST) * kKTile) / a.group;
            cp_async16_ring(slot + RING_W + lane * 16, a.scales + (size_t)grow * a.N + sp * 32 + (SWAP ? (g >> 1) : t) * 8);
        }
        cp_async_commit();
    };

    float acc[4][4];
#pragma unroll
    for (int j = 0; j < 4; ++j)
#pragma unroll
        for (int e = 0; e < 4; ++e) acc[j][e] = 0.f;
    // SWAP: xacc[p][i][e] = D of the 16-column tile i (columns 16i + g + 8 (e >> 1), activation
    // row 2t + (e & 1)), k16 steps of parity p in separate chains (ACCS: only p = 0 is used).
    float xacc[2][2][4];
#pragma unroll
    for (int p = 0; p < 2; ++p)
#pragma unroll
        for (int i = 0; i < 2; ++i)
#pragma unroll
            for (int e = 0; e < 4; ++e) xacc[p][i][e] = 0.f;

    // Prologue: the weight ring first (constant data), then wait for the previous kernel and
    // stage the activations of the whole k range.
    stamp(a, 0);
    launch_dependents();
    if constexpr (SMR) {
#pragma unroll
        for (int d = 0; d < D; ++d) load_slot(d, d);
    } else {
#pragma unroll
        for (int d = 0; d < D; ++d)
            if (d < n_iter) load_stage(wr[d], sr[d], zr[d], d);
    }
    // The warp's k range of its strip is one contiguous run: lane 0 prefetches what the ring
    // does not hold yet into L2 (Args::l2pf), so HBM streams it while this CTA waits.
    constexpr int STAGE_BYTES = 4 * ATOM_BYTES;
    const uint8_t* const wrun = wbase - lane * LANE_BYTES;
    // Not in split-K inside the CTA (KW > 0), which never used it: the runtime branch alone
    // doubled that kernel's spills (8192x28672 M = 1 4% slower, docs/cuda-kernels-history.md session 5).
    if (KW == 0 && a.l2pf != 0) {
        const int last = a.l2pf < 0 ? n_iter : min(n_iter, D + a.l2pf);
        prefetch_l2_if(wrun + (size_t)D * STAGE_BYTES, (uint32_t)(last > D ? last - D : 0) * STAGE_BYTES, lane == 0 && last > D);
    }
    wait_prior_grid();
    stamp(a, 1);
    if constexpr (SMR && KW > 0) {
        // As below, by plain loads (see the next case): the warp's own k range, no CTA barrier.
        const int cpr = n_iter * kKTile / 8;
        for (int idx = lane; idx < m_rows * cpr; idx += 32) {
            const int r = idx / cpr, c = idx % cpr;
            const int k = (s_begin + (c >> 4) * SST) * kKTile + (c & 15) * 8;   // 16 chunks of 8 per stage
            *reinterpret_cast<uint4*>(smem + r * row_bytes + k * 2) = __ldcg(reinterpret_cast<const uint4*>(a.X + (size_t)r * a.K + k));
        }
        if (lane < 4) reinterpret_cast<uint32_t*>(smem + m_rows * row_bytes)[lane] = 0u;
        __syncwarp();
    } else if constexpr (SMR) {
        // The M real rows of the CTA's k range and the zero line, by plain loads: a cp.async
        // group here would complete only after every weight group before it.
        const int cpr = n_iter * kKTile / 8;
        const __half* xs = a.X + (size_t)s_begin * kKTile;
        for (int idx = tid; idx < m_rows * cpr; idx += kStreamThreads) {
            const int r = idx / cpr, c = idx % cpr;
            *reinterpret_cast<uint4*>(smem + r * row_bytes + c * 16) = __ldcg(reinterpret_cast<const uint4*>(xs + (size_t)r * a.K + c * 8));
        }
        if (tid < 4) reinterpret_cast<uint32_t*>(smem + m_rows * row_bytes)[tid] = 0u;
        __syncthreads();
    } else if constexpr (SHARE) {
        // Warps of different strips share k ranges: the CTA stages all of K once, then a barrier.
        const int cpr = a.K / 8;
        for (int idx = tid; idx < m_rows * cpr; idx += KW * 32) {
            const int r = idx / cpr, c = idx % cpr;
            cp_async16_zfill(smem + r * row_bytes + c * 16, a.X + (size_t)r * a.K + c * 8, 16);
        }
        if (tid < 4) reinterpret_cast<uint32_t*>(smem + m_rows * row_bytes)[tid] = 0u;
        cp_async_commit();
        cp_async_wait<0>();
        __syncthreads();
    } else if constexpr (KW > 0) {
        // The M real rows of this warp's k range, then the zero line (rows >= M), which every
        // warp writes with the same zeros: the warp's own copy needs no CTA barrier.
        const int cpr = n_iter * kKTile / 8;
        for (int idx = lane; idx < m_rows * cpr; idx += 32) {
            const int r = idx / cpr, c = idx % cpr;
            const int k = (s_begin + (c >> 4) * SST) * kKTile + (c & 15) * 8;   // 16 chunks of 8 per stage
            cp_async16_zfill(smem + r * row_bytes + k * 2, a.X + (size_t)r * a.K + k, 16);
        }
        if (lane < 4) reinterpret_cast<uint32_t*>(smem + m_rows * row_bytes)[lane] = 0u;
        cp_async_commit();
        cp_async_wait<0>();
        __syncwarp();
    } else {
        const int cpr = n_iter * kKTile / 8;   // 16-byte chunks per row
        const __half* xs = a.X + (size_t)s_begin * kKTile;
        for (int idx = tid; idx < R * cpr; idx += kStreamThreads) {
            const int r = idx / cpr, c = idx % cpr;
            const bool on = r < a.M;
            cp_async16_zfill(smem + r * row_bytes + c * 16, xs + (size_t)(on ? r : 0) * a.K + c * 8, on ? 16 : 0);
        }
        cp_async_commit();
        cp_async_wait<0>();
        __syncthreads();
    }

    // Lane l gives ldmatrix the address of row (l & 7) of 8x8 matrix l >> 3, i.e. of k octet
    // l >> 3 of an atom: the four matrices are a0 / a2 of k16 step 0 and a0 / a2 of step 1.
    // KW > 0: rows >= M point at the zero line and do not advance with k (kstep 0).
    const bool xvalid = !RROWS || (lane & 7) < m_rows;
    const int kstep = xvalid ? 1 : 0;
    const int kbase = KW > 0 ? s_begin * kKTile * 2 : 0;   // KW > 0: rows hold all of K
    const uint8_t* const xrow0 = !RROWS ? smem + (lane & 7) * row_bytes + (lane >> 3) * 16
                                        : xvalid ? smem + (lane & 7) * row_bytes + kbase + (lane >> 3) * 16
                                                 : smem + m_rows * row_bytes;
    const uint8_t* const xrow8 = xrow0 + 8 * row_bytes;

    uint32_t sink = 0;   // LOADONLY: every loaded word feeds this, so no load is dead
    auto compute_stage = [&](const uint4 (&w)[4][NV], const uint2 (&s)[SRS], const uint32_t (&z)[SRA], int i) {
        if constexpr (LOADONLY) {
#pragma unroll
            for (int at = 0; at < 4; ++at)
#pragma unroll
                for (int v = 0; v < NV; ++v) sink ^= w[at][v].x ^ w[at][v].y ^ w[at][v].z ^ w[at][v].w;
            (void)s; (void)z; (void)i;
        } else {
        float tmp[4][4];   // ACCS: this stage's unscaled partial
        float xt[2][2][4];   // ACCS with SWAP: the same, per k16 parity (xacc's layout)
#pragma unroll
        for (int j = 0; j < 4; ++j)
#pragma unroll
            for (int e = 0; e < 4; ++e) tmp[j][e] = xt[j >> 1][j & 1][e] = 0.f;
#pragma unroll
        for (int at = 0; at < 4; ++at) {
            const int koff = (i * SST * 4 + at) * kAtomK * 2;   // bytes into the activation rows
            uint32_t lo[4], hi[4] = {0u, 0u, 0u, 0u};
            if constexpr (RROWS) ldmatrix_x4(lo, xrow0 + koff * kstep);
            else ldmatrix_x4(lo, xrow0 + koff);
            if constexpr (R == 16) ldmatrix_x4(hi, xrow8 + koff);
            uint32_t sc[4], zl[4];
#pragma unroll
            for (int j = 0; j < 4; ++j) zl[j] = kSym4Lo;
            if constexpr (SR > 0) {
                const int r = at / GA;
                if constexpr (ZP) {
#pragma unroll
                    for (int j = 0; j < 4; ++j) zl[j] = (0x6400u | ((z[r] >> (4 * j)) & 0xfu)) * 0x00010001u;   // half2(1024 + z)
                }
                if constexpr (GROUPED && !ACCS) {
                    sc[0] = h2u(__low2half2(u2h(s[r].x)));
                    sc[1] = h2u(__high2half2(u2h(s[r].x)));
                    sc[2] = h2u(__low2half2(u2h(s[r].y)));
                    sc[3] = h2u(__high2half2(u2h(s[r].y)));
                }
            }
#pragma unroll
            for (int st = 0; st < 2; ++st) {
                const uint32_t af[4] = {lo[2 * st], hi[2 * st], lo[2 * st + 1], hi[2 * st + 1]};
                uint32_t bw[4][2];   // SWAP: the n8 fragments, paired into A fragments below
#pragma unroll
                for (int j = 0; j < 4; ++j) {
                    uint32_t (&b)[2] = bw[j];
                    if constexpr (BITS == 4) {
                        const uint32_t q = word_of(w[at][0], j);
                        const uint32_t nzh = ZP ? h2u(__hsub2(u2h(kHalf960), u2h(zl[j]))) : kSym4HiNeg;
                        dequant4(st == 0 ? q : q >> 8, zl[j], nzh, b);
                    } else {
                        const int wi = 2 * j + st;   // word of the 8 a lane holds per atom
                        dequant8(word_of(w[at][wi >> 2], wi & 3), b);
                    }
                    if constexpr (GROUPED && !ACCS) {
                        b[0] = h2u(__hmul2(u2h(b[0]), u2h(sc[j])));
                        b[1] = h2u(__hmul2(u2h(b[1]), u2h(sc[j])));
                    }
                    if constexpr (!SWAP) mma_16816(ACCS ? tmp[j] : acc[j], af, b[0], b[1]);
                }
                if constexpr (SWAP) {
#pragma unroll
                    for (int i = 0; i < 2; ++i) {
                        const uint32_t wa[4] = {bw[2 * i][0], bw[2 * i + 1][0], bw[2 * i][1], bw[2 * i + 1][1]};
                        mma_16816(ACCS ? xt[st][i] : xacc[st][i], wa, lo[2 * st], lo[2 * st + 1]);
                    }
                }
            }
        }
        if constexpr (ACCS && SWAP) {
            // Lane (g, t) holds columns 16i + g + 8 (e >> 1): scale positions 4g + 2i + (e >> 1),
            // in the half of the 16 bytes that belongs to g (load_stage read lanes g and g ^ 1's).
            const uint2 sg = (g & 1) ? s[1] : s[0];
            const __half* hs = reinterpret_cast<const __half*>(&sg);
#pragma unroll
            for (int i = 0; i < 2; ++i)
#pragma unroll
                for (int e = 0; e < 4; ++e)
                    xacc[0][i][e] = fmaf(xt[0][i][e] + xt[1][i][e], __half2float(hs[2 * i + (e >> 1)]), xacc[0][i][e]);
        } else if constexpr (ACCS) {
            const __half* h0 = reinterpret_cast<const __half*>(&s[0]);   // column 8j + 2t
            const __half* h1 = reinterpret_cast<const __half*>(&s[1]);   // column 8j + 2t + 1
#pragma unroll
            for (int j = 0; j < 4; ++j) {
                const float s0 = __half2float(h0[j]), s1 = __half2float(h1[j]);
                acc[j][0] = fmaf(tmp[j][0], s0, acc[j][0]);
                acc[j][1] = fmaf(tmp[j][1], s1, acc[j][1]);
                if constexpr (R == 16) {   // rows 8..15 exist only in the 16-row variant
                    acc[j][2] = fmaf(tmp[j][2], s0, acc[j][2]);
                    acc[j][3] = fmaf(tmp[j][3], s1, acc[j][3]);
                }
            }
        }
        }
    };

    if constexpr (SMR) {
        for (int i0 = 0; i0 < n_iter; i0 += D) {
#pragma unroll
            for (int d = 0; d < D; ++d) {
                const int i = i0 + d;
                if (i < n_iter) {
                    cp_async_wait<D - 1>();   // groups 0..i done: stage i is in slot d
                    const uint8_t* const slot = ring + d * RING_STAGE;
                    uint4 w[4][NV];
                    uint2 sc[SRS];
                    uint32_t zn[SRA] = {};
#pragma unroll
                    for (int at = 0; at < 4; ++at) w[at][0] = *reinterpret_cast<const uint4*>(slot + at * ATOM_BYTES + lane * 16);
                    const uint4 sv = *reinterpret_cast<const uint4*>(slot + RING_W + lane * 16);
                    sc[0] = make_uint2(sv.x, sv.y);
                    sc[SRS - 1] = make_uint2(sv.z, sv.w);
                    compute_stage(w, sc, zn, i);
                    load_slot(d, i + D);   // the slot's reads are consumed above ("memory" clobber)
                }
            }
        }
    } else
    for (int i0 = 0; i0 < n_iter; i0 += D) {
#pragma unroll
        for (int d = 0; d < D; ++d) {
            const int i = i0 + d;   // warp-uniform conditions: no divergence around the mma
            if (i < n_iter) {
                compute_stage(wr[d], sr[d], zr[d], i);
                if (i + D < n_iter) {
                    load_stage(wr[d], sr[d], zr[d], i + D);
                    if (KW == 0 && a.l2pf > 0)   // keep l2pf stages of the run in L2 ahead of the ring
                        prefetch_l2_if(wrun + (size_t)(i + D + a.l2pf) * STAGE_BYTES, STAGE_BYTES, lane == 0 && i + D + a.l2pf < n_iter);
                }
            }
        }
    }

    handoff_prefetch(a, warp, lane);
    if constexpr (SWAP) {
        // Back to the row-major layout of the epilogues: acc[j][e] (row g, column 8j + 2t + e)
        // is xacc[.][j >> 1][(g & 1) + 2 (j & 1)] of lane 4 (2t + e) + (g >> 1). Rows 8..15 of
        // acc stay zero (R = 8).
        const int src_hi = g >> 1;
#pragma unroll
        for (int j = 0; j < 4; ++j) {
            const int i = j >> 1, e0 = 2 * (j & 1);
            const float ev = ACCS ? xacc[0][i][e0] : xacc[0][i][e0] + xacc[1][i][e0];
            const float od = ACCS ? xacc[0][i][e0 + 1] : xacc[0][i][e0 + 1] + xacc[1][i][e0 + 1];
#pragma unroll
            for (int e = 0; e < 2; ++e) {
                const int src = 4 * (2 * t + e) + src_hi;
                const float v0 = __shfl_sync(0xffffffffu, ev, src), v1 = __shfl_sync(0xffffffffu, od, src);
                acc[j][e] = (g & 1) ? v1 : v0;
            }
        }
    }
    stamp(a, 2);
    if constexpr (LOADONLY) acc[0][0] += __uint_as_float(sink & 0x007fffffu);   // a denormal at most

    // Accumulator (j, e): row g + 8 (e >= 2), column 32 sp + 8 j + 2 t + (e & 1).
    const int n0 = tile * kNTile;
    const int m_valid = m_rows;
    if constexpr (KW > 0) {
        // The KW partials of the strip, through shared memory behind the activations: warp w
        // handles output pairs p = j + 4h with p = w mod KW and adds the partials in warp order.
        // SMR: behind the rings, which slower warps may still be reading.
        float* const red = SMR ? reinterpret_cast<float*>(ring + (KW - warp) * D * RING_STAGE)
                               : reinterpret_cast<float*>(smem + ((m_rows * row_bytes + 16 + 15) & ~15));
#pragma unroll
        for (int j = 0; j < 4; ++j)
#pragma unroll
            for (int e = 0; e < 4; ++e) red[(warp * 16 + j * 4 + e) * 32 + lane] = acc[j][e];
        __syncthreads();
        if constexpr (SHARE) {
            // Output pair j of group gi's strip: warp 4 gi + j adds its group's partials in warp order.
            if (warp < 4 * m_ns) {
                const int gi = warp >> 2, j = warp & 3;
                const int first = group_first_warp(gi, m_ns, KW), end = group_first_warp(gi + 1, m_ns, KW);
                float s0 = 0.f, s1 = 0.f;
                for (int w = first; w < end; ++w) {
                    s0 += red[(w * 16 + j * 4) * 32 + lane];
                    s1 += red[(w * 16 + j * 4 + 1) * 32 + lane];
                }
                const int col = (m_s0 + gi) * 32 + 8 * j + 2 * t;
                if (g < m_valid) *reinterpret_cast<__half2*>(a.Y + (size_t)g * a.N + col) = __floats2half2_rn(s0, s1);
            }
        } else {
        for (int p = warp; p < 4 * (R / 8); p += KW) {   // warp-uniform
            const int j = p & 3, h = p >> 2, row = g + 8 * h;
            float s0 = 0.f, s1 = 0.f;
#pragma unroll 4
            for (int w = 0; w < KW; ++w) {
                s0 += red[(w * 16 + j * 4 + 2 * h) * 32 + lane];
                s1 += red[(w * 16 + j * 4 + 2 * h + 1) * 32 + lane];
            }
            const int col = sp * 32 + 8 * j + 2 * t;
            if (!GROUPED) { s0 *= a.cscales[col]; s1 *= a.cscales[col + 1]; }
            if (row < m_valid) *reinterpret_cast<__half2*>(a.Y + (size_t)row * a.N + col) = __floats2half2_rn(s0, s1);
        }
        }
        stamp(a, 3);
        return;
    }
    if (a.splits == 1 || (a.debug & 1)) {
#pragma unroll
        for (int j = 0; j < 4; ++j) {
            const int col = sp * 32 + 8 * j + 2 * t;
            float s0 = 1.f, s1 = 1.f;
            if (!GROUPED) { s0 = a.cscales[col]; s1 = a.cscales[col + 1]; }
#pragma unroll
            for (int h = 0; h < 2; ++h) {
                const int row = g + 8 * h;
                if (row < m_valid)
                    *reinterpret_cast<__half2*>(a.Y + (size_t)row * a.N + col) =
                        __floats2half2_rn(acc[j][2 * h] * s0, acc[j][2 * h + 1] * s1);
            }
        }
        stamp(a, 3);
        return;
    }
    if (a.cluster) {   // split-K through distributed shared memory (see cluster_reduce)
        __syncthreads();   // every warp is done with the activation slice: reuse it
        float* buf = reinterpret_cast<float*>(smem);
#pragma unroll
        for (int j = 0; j < 4; ++j)
#pragma unroll
            for (int h = 0; h < 2; ++h) {
                const int row = g + 8 * h;
                if (row < m_valid)
                    *reinterpret_cast<float2*>(buf + row * kRedStride + warp * 32 + 8 * j + 2 * t) =
                        make_float2(acc[j][2 * h], acc[j][2 * h + 1]);
            }
        cluster_reduce<kStreamThreads, GROUPED>(a, buf, m_valid, n0);
        stamp(a, 3);
        return;
    }
#pragma unroll
    for (int j = 0; j < 4; ++j) {
        const int col = sp * 32 + 8 * j + 2 * t;
#pragma unroll
        for (int h = 0; h < 2; ++h) {
            const int row = g + 8 * h;
            if (row < m_valid)
                __stcg(reinterpret_cast<float2*>(a.partial + ((size_t)split * a.M + row) * a.N + col),
                       make_float2(acc[j][2 * h], acc[j][2 * h + 1]));
        }
    }
    workspace_reduce<kStreamThreads, kStreamMaxSplits, GROUPED>(a, tile, n0, m_valid);
    stamp(a, 3);
}

using KernelFn = void (*)(const Args);

struct KernelInfo {
    KernelFn fn = nullptr;
    int smem = 0;
    int ctas_per_sm = 0;   // from the occupancy calculator, after the shared-memory opt-in
};

template <class C, bool ZP, bool GROUPED, int HINT>
KernelInfo info_of() {
    KernelInfo k;
    k.fn = wna16_kernel<C, ZP, GROUPED, HINT>;
    k.smem = C::SMEM;
    return k;
}

// Index: bits (0: 4, 1: 8) x m-config (0..3) x zp x grouped.
// Index: hint x bits (0: 4, 1: 8) x m-config (0..3) x zp x grouped. The hinted variants exist
// for M <= 32 only (m-configs 0 and 1); larger M falls back to hint none.
KernelInfo g_kernels[3][2][4][2][2];
int g_hint = kHintNone;     // wq_set_l2_hint
bool g_has_clusters = false;   // sm_90+: split-K may reduce inside a thread-block cluster
std::once_flag g_init_once;
CudaStatus g_init_status = CudaStatus::ok;
int g_sms = 0;
double g_peak_gbps = 0;   // HBM peak from the device attributes (init_kernels)

template <int BITS, bool ZP, bool GROUPED>
void fill_row(int b) {
    g_kernels[kHintNone][b][0][ZP][GROUPED] = info_of<CfgM16<BITS>, ZP, GROUPED, kHintNone>();
    g_kernels[kHintNone][b][1][ZP][GROUPED] = info_of<CfgM32<BITS>, ZP, GROUPED, kHintNone>();
    g_kernels[kHintNone][b][2][ZP][GROUPED] = info_of<CfgM64<BITS>, ZP, GROUPED, kHintNone>();
    g_kernels[kHintNone][b][3][ZP][GROUPED] = info_of<CfgM128<BITS>, ZP, GROUPED, kHintNone>();
    g_kernels[kHintCreate][b][0][ZP][GROUPED] = info_of<CfgM16<BITS>, ZP, GROUPED, kHintCreate>();
    g_kernels[kHintCreate][b][1][ZP][GROUPED] = info_of<CfgM32<BITS>, ZP, GROUPED, kHintCreate>();
    g_kernels[kHintConstant][b][0][ZP][GROUPED] = info_of<CfgM16<BITS>, ZP, GROUPED, kHintConstant>();
    g_kernels[kHintConstant][b][1][ZP][GROUPED] = info_of<CfgM32<BITS>, ZP, GROUPED, kHintConstant>();
}

// The wgmma kernels (sm_90a): bits (0: 4, 1: 8) x MP (m_config: 16, 32, 64, 128) x zp x grouped.
KernelInfo g_wgmma[2][4][2][2];
bool g_wgmma_ok = false;   // compute capability 9.0: the sm_90a code runs here
// wq_set_wgmma: the fewest rows that take the wgmma kernel instead of the MMA kernel (0: never;
// -1: per bit width, below). Measured on an H200 (session 16, two calls, two rounds each, us,
// MMA kernel -> wgmma kernel): INT4 g128 11008x4096 M = 16 / 32 / 64 / 128 14.3-14.5 -> 15.4-15.6,
// 18.9-19.2 -> 16.9-17.1, 27.3-27.9 -> 22.1-22.3, 55.5-56.1 -> 43.4-44.6; 8192x28672 53.3-53.7 ->
// 57.7-59.8, 69.9-71.3 -> 64.7-67.1, 109.9-112.4 -> 80.9-81.0, 184-186 -> 135.7-146.3. INT8
// 11008x4096 M = 9 / 16 / 64: 15.1 -> 14.3, 16.0 -> 15.3, 34.3 -> 29.8; and at M = 1 (a third
// call, two rounds): 11008x4096 / 4096x11008 / 8192x28672 13.83-13.87 -> 12.98-12.99, 13.98-14.02
// -> 12.83-12.87, 56.33 -> 55.34 us, the W8A16 decode step 2.075-2.076 -> 1.931-1.933 ms. So INT4
// from M = 17 (at M <= 16 the MMA kernel's smaller MMAs finish sooner, and at M <= 8 split-K
// inside the CTA and the streaming kernel come first), INT8 at every M.
constexpr int kWgmmaDefaultMinM4 = 17, kWgmmaDefaultMinM8 = 1;
int g_wgmma_min_m = -1;
int wgmma_min_m(const WqLayout& l) {
    return g_wgmma_min_m >= 0 ? g_wgmma_min_m : l.bits == 8 ? kWgmmaDefaultMinM8 : kWgmmaDefaultMinM4;
}
// wq_set_wgmma_coop: -1 the rule below, 0 never, 1 wherever the grid is one wave. The rule: S >= 8
// and M >= 16.
// H200, session 16 (two rounds, QB_WQ_COOP=1 vs 0, us): at S = 8 (4096x11008) W4 g128 M = 32 / 64
// 18.27-18.30 -> 17.85-18.03, 23.95-24.04 -> 21.01-21.15, W8A16 M = 16 / 32 15.82-15.85 ->
// 15.07-15.10, 17.33-17.37 -> 16.57-16.59; at S = 3 (11008x4096) W4 M = 32 / 64 17.47 -> 19.19-19.22,
// 21.85-21.92 -> 23.92-23.96; at S = 2 and 4 (8192x28672) -3% to +6%, within that layer's spread
// between calls. Sharing divides the last CTA's S-fold read by S, but holds all S CTAs until the
// slowest has published (no early exit for the next grid). At M = 1-8 it lost: W8A16 on 4096x11008
// (S = 8) 12.89-13.86 -> 14.20-14.56 us, the W8A16 decode step 1.941 -> 2.031 ms (runs 7441c269 and
// ddaa67b4); M = 9 was even (14.65-14.71 -> 14.67-14.70).
constexpr int kCoopMinRows = 16;
// Rows of workspace per split of a wgmma launch of `rows` rows: whole 8-row blocks above
// kWgRowMajorMaxRows (wg_part_index), the rows themselves below.
int wg_part_rows(int rows) { return rows <= kWgRowMajorMaxRows ? rows : (rows + 7) / 8 * 8; }
constexpr int kCoopMinSplits = 8;
int g_wgmma_coop = -1;
template <class C, bool ZP, bool GROUPED>
KernelInfo wg_info() {
    KernelInfo k;
    k.fn = wq_wgmma_kernel<C, ZP, GROUPED>;
    k.smem = C::SMEM;
    return k;
}
template <bool ZP, bool GROUPED>
void fill_wgmma4() {
    g_wgmma[0][0][ZP][GROUPED] = wg_info<WgCfg4<16>, ZP, GROUPED>();
    g_wgmma[0][1][ZP][GROUPED] = wg_info<WgCfg4<32>, ZP, GROUPED>();
    g_wgmma[0][2][ZP][GROUPED] = wg_info<WgCfg4<64>, ZP, GROUPED>();
    g_wgmma[0][3][ZP][GROUPED] = wg_info<WgCfg4<128>, ZP, GROUPED>();
}
void fill_wgmma8() {
    g_wgmma[1][0][0][0] = wg_info<WgCfg8<16>, false, false>();
    g_wgmma[1][1][0][0] = wg_info<WgCfg8<32>, false, false>();
    g_wgmma[1][2][0][0] = wg_info<WgCfg8<64>, false, false>();
    g_wgmma[1][3][0][0] = wg_info<WgCfg8<128>, false, false>();
}

// The streaming kernels (M <= 16): bits (0: 4, 1: 8) x rows (0: 8, 1: 16) x scale rows per
// group (0: group 32, 1: group 64, 2: group >= 128 or per-channel) x zp x grouped.
KernelInfo g_stream[2][2][3][2][2];
// wq_set_stream_max_m: the largest M that takes the streaming kernel, per bit width. Defaults
// from the H200 run 20261126t204118z (docs/cuda-kernels-history.md), where the threshold was 16 for
// both: INT4 at M = 1 was 0.97-1.06x of the MMA kernel's time (better on 2 of 3 shapes, the
// decode step 1.82 vs 1.96 ms), but M = 4..16 and every INT8 launch were slower than with
// the MMA kernel (M = 16: 20.8 vs 15.0 us on 11008x4096). So: INT4 up to M = 2, INT8 never.
// Since the weights are the A operand at M <= 8 (kSwapAB) the streaming kernel beats the MMA
// kernel at M = 3, 4, 5 on every layer measured and at M = 8 with zero points (H100, session 9,
// eight layers, two rounds each, us, INT4 g128: 12288x4096 M = 4 13.19-13.23 vs 16.39-16.50,
// 22016x4096 19.61-19.68 vs 25.09-25.19, 8192x28672 47.14-47.16 vs 51.17; with zero points at
// M = 8: 11008x4096 13.61-13.67 vs 14.31, 22016x4096 22.62-22.75 vs 28.74-28.83), while M = 16
// (16 real rows: no swap) stays slower (11008x4096 19.8 vs 13.9). So for INT4 g >= 128 up to
// M = 8 (stream_max_m below; the shared-memory ring only up to kSmrMaxRows, see smr_applies).
constexpr int kStreamDefaultM4 = 2, kStreamDefaultM8 = 0;
int g_stream_max_m[2] = {kStreamDefaultM4, kStreamDefaultM8};
bool g_stream_max_m_set = false;   // wq_set_stream_max_m gave explicit limits
// INT4 group >= 128 (the formats measured): up to M = 8, with or without zero points. Session 9
// kept M <= 5 without zero points (the ACCS configuration lost at M = 8 on three of eight layers:
// 11008x4096 13.37-13.42 vs 12.76-12.81 us, 28672x4096 30.03-30.04 vs 28.52-28.69, 4096x14336
// 16.37-16.42 vs 15.79); session 13 (H100, three rounds, `s13-stream-m8-h100-device-log.txt`)
// measured M = 6 / 7 / 8 against the MMA kernel and found it far slower where its plan leaves
// SMs idle or runs two waves: 12288x4096 13.8 / 14.6 / 14.8 vs 17.1 / 17.2 / 17.1 us, 22016x4096
// 20.7 / 21.4 / 21.8 vs 26.1 / 26.3 / 26.0, 28672x8192 50.8 / 51.9 / 52.8 vs 55.9, 8192x28672
// 48.2 / 49.4 / 50.1 vs 52.1 / 52.2 / 51.5; 11008x4096 12.5 / 13.1 / 13.3 vs 13.0 / 13.1 / 13.0
// (the one loss, 2.5% at M = 8). Groups 32 / 64 and per-channel keep M <= 2.
constexpr int kStreamG128M = 8;
int stream_max_m(const WqLayout& l) {
    int m = g_stream_max_m[l.bits == 8];
    if (!g_stream_max_m_set && l.bits == 4 && l.grouped && l.group >= 128) m = kStreamG128M;
    return std::min(m, kStreamMaxM);
}

template <int BITS, int R, int D, int GA, bool ZP, bool GROUPED, bool LOADONLY = false, int MINB = 4, bool ACCS = false,
          int KW = 0, bool SMR = false, bool SHARE = false>
KernelInfo stream_info() {
    KernelInfo k;
    k.fn = wq_stream_kernel<BITS, R, D, GA, ZP, GROUPED, LOADONLY, MINB, ACCS, KW, SMR, SHARE>;
    k.smem = kStreamSmem;
    return k;
}
// The load-only ablation of INT4 g128 without zeros at M <= 8 (wq_set_debug 2).
KernelInfo g_stream_loadonly;
// Ring-depth variants of the same configuration (wq_set_stream_depth): fewer stages in flight
// per warp buy registers, hence more warps per SM (D 2: 5 CTAs, D 3: 5, D 6: 3). At M = 1 the
// H200 showed the kernel issue-bound (ncu: 3.4 warps and 0.37 instructions issued per
// scheduler and cycle); measured, only ACCS paid (see g_stream_acc).
KernelInfo g_stream_depth[7], g_stream_accs[7];   // [D]; g_stream_accs: with ACCS
int g_stream_d = 0;   // 0: the default configuration
// wq_set_stream_accscale. On by default for INT4 with group >= 128: on the H200 (run of e3e129d)
// ACCS at depth 3 beat the FP16-scaled depth-4 ring by 3-5% at M = 1 on all three shapes
// (11008x4096 11.98 vs 12.61 us) and the decode step by 5% (1.734 vs 1.824 ms); other depths
// were slower (2: 13.2, 4: 12.7; without ACCS 2: 15.5, 3: 15.1, 6: 13.1 us).
bool g_stream_acc = true;
KernelInfo g_stream_plain[2][2];   // [R == 16][zp]: INT4 group >= 128 without ACCS (depth 4)

// The shared-memory ring (wq_stream_kernel with SMR) for INT4 group >= 128 without zeros at
// M <= 8, in variants named by a code: the ring depth at 4 CTAs per SM (4, 6, 8), or
// 10 x depth + CTAs per SM (35: depth 3 at 5 CTAs per SM). By default (wq_set_stream_smem(-1))
// the planner picks 4 where each warp streams at least two rings of k-stages and 35 otherwise:
// on the H100 (session 3 sweeps, docs/cuda-kernels-history.md) 4 won with long per-warp runs
// (22016x4096, 10.7 stages per warp: 18.7 vs 20.5 us with the register ring; 8192x28672 at
// 14: 45.6 vs 50.1) and 35 with short ones (12288x4096, 6.4 stages: 12.8 vs 13.4 us;
// 11008x4096, 5.3: 12.3 vs 12.5), where 4 lost (13.0 vs 12.5). Depths 6 and 8 fit fewer CTAs
// per SM and were slower everywhere but once.
struct SmrVariant { int code, depth; };
constexpr SmrVariant kSmr[] = {{4, 4}, {6, 6}, {8, 8}, {35, 3}};
constexpr int kSmrN = sizeof(kSmr) / sizeof(kSmr[0]);
constexpr int kSmrLong = 4, kSmrShort = 35;   // the automatic choice (see above)
KernelInfo g_stream_smr[kSmrN];
int g_smr_d = -1;   // wq_set_stream_smem: -1 automatic, 0 the register ring, > 0 that variant
constexpr int kSmrSlot = 4 * 512 + 32 * 16;   // RING_STAGE of INT4: 2 KiB of weights + 512 B of scales
int smr_index(int code) {
    for (int i = 0; i < kSmrN; ++i)
        if (kSmr[i].code == code) return i;
    return -1;
}
int smr_depth(int code) { return code > 0 ? kSmr[smr_index(code)].depth : 0; }
// Shared memory of an SMR launch: M real rows of `stages` k-stages (+16 B each), the zero line,
// aligned to 128, then 4 warps x D slots.
size_t smr_smem(int M, int stages, int d) {
    return (((size_t)M * ((size_t)stages * kKTile * 2 + 16) + 16 + 127) & ~(size_t)127) + (size_t)kStreamThreads / 32 * d * kSmrSlot;
}

// Split-K inside the CTA (wq_stream_kernel with KW > 0, path 2 of WqPlan), INT4 at M <= 8:
// [KW 4, 8, 16] x scale rows per group (as g_stream) x zp x grouped. Same ring depths and
// group-scale placement as the streaming kernel's 8-row configurations; KW x 32 threads at
// <= 128 registers (16 warps per SM).
constexpr int kCtaskMaxM = 8;
KernelInfo g_ctask[3][3][2][2];
// INT4 group >= 128 without zeros at ring depth 4 instead of 3: 8 instead of 6 KiB in flight
// per warp (see ctask_kernel_for for where it is the default).
KernelInfo g_ctask_d4[3];
// ctask with the shared-memory ring (depth 4) for INT4 group >= 128 without zeros
// (wq_set_ctask_smem; off by default unless measured faster, see docs/cuda-kernels-history.md).
KernelInfo g_ctask_smr[3];
bool g_ctask_smr_on = false;
// Shared strips (session 14, wq_set_ctask_shared): at M = 2..8, where a layer has 2-3 strips per
// SM, C = min(SMs, S / 2) CTAs of 16 warps, one per SM, take 2-3 strips each (ranges of S / C)
// and give each strip a group of 5-8 warps, each with a 3-stage register ring (121 registers,
// no spills). H100, final build against ea41aae in one call, three rounds (logs
// s14-final-78406cd-vs-ea41aae-h100): 11008x4096 M = 2 / 8 10.35-10.36 / 11.86-11.96 vs
// 10.72-10.75 / 13.24-13.38 us (the streaming kernel); M = 1, M = 16 and the decode step
// unchanged. 12288x4096 at M = 8: 12.02-12.06 against 14.78-14.82 for the streaming kernel in
// session 13's call. At M = 1 it lost to the 6-warp CTAs (11008x4096 10.48 vs 9.67; with 4-stage
// rings, 128 registers and a spill, 10.83), so M = 1 keeps them. Layers of 1.4-2 strips per SM,
// which one wave of 8-warp CTAs (two per SM) already covers: session 15's clean A/B on the H200
// (three rounds, one call, logs s15-shared-strips-lowS-h200-ab) against those CTAs, us:
//   8192x4096 (256 strips)  M = 1 / 2 / 4 / 8: 7.68-7.73 / 7.78-7.82 / 8.06-8.08 / 9.01-9.04
//                                         vs 7.16-7.19 / 7.54-7.57 / 8.43-8.50 / 9.92-9.94
//   7168x4096 (224 strips)                   7.33 / 7.38-7.39 / 7.74-7.76 / 8.67-8.68
//                                         vs 6.63-6.68 / 7.28-7.33 / 8.18-8.21 / 9.46-9.50
//   6144x4096 (192 strips)                   6.84-6.88 / 6.93-6.95 / 7.36-7.38 / 8.24-8.27
//                                         vs 5.86-5.88 / 6.98-7.01 / 7.57-7.59 / 8.61-8.66
// so that band takes it from M = 4 (3-9% faster), not at M = 1-2; M = 3 was not measured and
// follows M = 4. On the H100 (session 14) the same layers were 4-14% faster at M = 2-8, but only
// against a baseline slowed by that build's extra Args field. Measured at K = 4096 only: the
// rule stops at 32 k-stages.
KernelInfo g_ctask_shared;
int g_ctask_shared_mode = -1;   // wq_set_ctask_shared: -1 the rule above, 0 never, 1 wherever it fits
constexpr int kCtaskDefaultM = 8;   // with the one-wave rule of wq_plan (measured, cuda4)
int g_ctask_max_m = kCtaskDefaultM;   // wq_set_ctask: largest M that takes it (0: never)
int g_ctask_kw = 0;      // wq_set_ctask: forced warps per CTA (0: the planner's choice)
int g_ctask_kw_max = 16; // wq_set_ctask_max_warps: the planner's largest CTA
int g_ctask_min_stages = 0;   // wq_set_ctask_min_stages: k-stages each warp must get (planner)
bool g_ctask_wide_on = true;   // wq_set_ctask_wide: the planner may pick kCtaskWide CTAs (within their auto_ limits)
int g_smem_optin = 0, g_smem_sm = 0;   // shared memory per CTA (opt-in) and per SM

// Wide ctask CTAs for INT4 group >= 128 without zeros (ACCS), 18 warps per SM: with 5 warps on
// two of the four schedulers ptxas gets 96 registers, which a 2-stage ring fits without spills
// (91; the 3-stage ring spills 136 bytes, 7- and 22-warp CTAs at 80 registers spill 72).
//  * 6 warps, three CTAs per SM (automatic at M = 1): 396 slots put 11008x4096's 344 strips
//    and 12288x4096's 384 in one wave, where 16-warp CTAs need three. On the H100 (session 6,
//    docs/cuda-kernels-history.md) 11008x4096 M = 1 11.57-11.62 vs 12.11-12.24 us (the streaming
//    kernel's split-K across CTAs), 12288x4096 12.13-12.19 vs 12.48-12.60, and the Llama-2-7B
//    W4 step, where it serves qkv, 1.540 vs 1.642 ms. At M = 2..8 it lost (11008x4096 M = 2:
//    13.34 vs 12.36 us), so only M = 1; and only with <= 6 k-stages per warp (K = 4096: 5.3):
//    the 70B qkv projection, 10240x8192 (10.7 per warp), ran 20.55 vs 17.81 us.
//  * 18 warps, one CTA per SM (forced only): 86 k-stages over 18 warps leave the slowest 5
//    instead of 6 of 16, so 4096x11008 alone ran 10.67-10.68 vs 10.92-10.96 us at M = 1, but the
//    W4 step with it on down_proj was slower (1.548-1.549 vs 1.542-1.543 ms, three rounds).
//    Kept for measurement (wq_set_ctask(8, 18)).
// Measured and dropped (session 10, H100, hand-off on): the 6-warp CTAs with each warp's ring
// in shared memory, 3 stages (66 KiB a CTA): 11008x4096 M = 1 10.47 vs 9.73 us, 12288x4096
// 11.32 vs 10.20, the W4 step 1.389 vs 1.372 ms; with a 3-stage register ring (96 registers,
// 48 bytes of stack): 11.32 vs 9.79 us, 12.32 vs 10.22, the step 1.435 vs 1.366 ms.
// Measured and dropped (session 11, H100): ring stages of 2 atoms instead of 4 in every ctask
// CTA (twice the stages in the same registers, k split 10-11 half-stages a warp on 11008x4096):
// M = 1 10.89 vs 9.73 us, 4096x11008 10.26 vs 8.83, 8192x28672 50.1 vs 43.7, step 1.46 vs 1.37 ms.
// Measured and dropped (session 11, H100): offset folding in the ACCS ctask kernels (KW 6 / 8 / 16):
// the raw magic-number weights 1024 + u / 1024 + 16 u into the MMA (no HSUB2 / HFMA2 per two
// weights), the k % 16 >= 8 activations divided by 16 when staged and one FP32 correction per
// stage and row. Correct (same max error), but the staging pass it needs after
// griddepcontrol.wait cost more than the main loop saved: M = 1 11008x4096 10.54 vs 9.71 us,
// 4096x11008 9.74 vs 8.86, 8192x28672 46.8 vs 43.8, step 1.441 vs 1.366 ms.
// Measured and dropped (session 10): 9 warps (8192x28672 47.07 vs 47.05 us), 5 (3-stage ring,
// 15 warps per SM), 7 and 22 (spills): slower than the above wherever they applied.
// auto_max_m: the largest M the planner gives it unforced; auto_max_stages: the most k-stages
// per warp it may then get (a 2-stage ring stops hiding the stream on long k ranges).
struct CtaskWide { int kw, depth, minb, auto_max_m, auto_max_stages; };
constexpr CtaskWide kCtaskWide[] = {{6, 2, 3, 1, 6}, {18, 2, 1, 0, 0}};
constexpr int kCtaskWideN = sizeof(kCtaskWide) / sizeof(kCtaskWide[0]);
KernelInfo g_ctask_wide[kCtaskWideN];
int ctask_wide_index(int kw) {
    for (int i = 0; i < kCtaskWideN; ++i)
        if (kCtaskWide[i].kw == kw) return i;
    return -1;
}
template <int I>
void fill_ctask_wide() {
    constexpr CtaskWide c = kCtaskWide[I];
    g_ctask_wide[I] = stream_info<4, 8, c.depth, 4, false, true, false, c.minb, true, c.kw>();
    if constexpr (I + 1 < kCtaskWideN) fill_ctask_wide<I + 1>();
}

template <int KW>
void fill_ctask() {
    constexpr int ki = KW == 4 ? 0 : KW == 8 ? 1 : 2, MB = 16 / KW;
    g_ctask[ki][0][0][1] = stream_info<4, 8, 3, 1, false, true, false, MB, false, KW>();
    g_ctask[ki][0][1][1] = stream_info<4, 8, 3, 1, true, true, false, MB, false, KW>();
    g_ctask[ki][1][0][1] = stream_info<4, 8, 3, 2, false, true, false, MB, false, KW>();
    g_ctask[ki][1][1][1] = stream_info<4, 8, 3, 2, true, true, false, MB, false, KW>();
    g_ctask[ki][2][0][1] = stream_info<4, 8, 3, 4, false, true, false, MB, true, KW>();
    g_ctask[ki][2][1][1] = stream_info<4, 8, 3, 4, true, true, false, MB, true, KW>();
    g_ctask[ki][2][0][0] = stream_info<4, 8, 4, 4, false, false, false, MB, false, KW>();
    g_ctask[ki][2][1][0] = stream_info<4, 8, 4, 4, true, false, false, MB, false, KW>();
    g_ctask_d4[ki] = stream_info<4, 8, 4, 4, false, true, false, MB, true, KW>();
    g_ctask_smr[ki] = stream_info<4, 8, 4, 4, false, true, false, MB, true, KW, true>();
    if constexpr (KW == 16) g_ctask_shared = stream_info<4, 8, 3, 4, false, true, false, MB, true, KW, false, true>();
}

// Ring depth D per configuration: 4 stages (8 KiB per warp) where the registers allow it; 3
// when a stage also carries 2 or 4 scale / zero rows; INT8 stages are twice the bytes, so 2.
template <int R>
void fill_stream() {
    constexpr int ri = R == 16;
    g_stream[0][ri][0][0][1] = stream_info<4, R, 3, 1, false, true>();
    g_stream[0][ri][0][1][1] = stream_info<4, R, 3, 1, true, true>();
    g_stream[0][ri][1][0][1] = stream_info<4, R, 3, 2, false, true>();
    g_stream[0][ri][1][1][1] = stream_info<4, R, 3, 2, true, true>();
    g_stream[0][ri][2][0][1] = stream_info<4, R, 3, 4, false, true, false, 4, true>();
    g_stream[0][ri][2][1][1] = stream_info<4, R, 3, 4, true, true, false, 4, true>();
    g_stream_plain[ri][0] = stream_info<4, R, 4, 4, false, true>();
    g_stream_plain[ri][1] = stream_info<4, R, 4, 4, true, true>();
    g_stream[0][ri][2][0][0] = stream_info<4, R, 4, 4, false, false>();
    g_stream[0][ri][2][1][0] = stream_info<4, R, 4, 4, true, false>();
    g_stream[1][ri][2][0][0] = stream_info<8, R, 2, 4, false, false>();
}

// Shared-memory carveout of every kernel of this file (wq_set_carveout): -1 leaves it to the
// driver, which sizes the L1 / shared split per kernel from its needs, so a decode step that
// alternates the shared-memory ring (4-5 CTAs x 35-45 KiB per SM) with split-K inside the CTA
// (one CTA of ~40 KiB) gets a different split at every layer; an SM changes its split only
// when it is empty, so the next layer's CTAs cannot move in beside the last ones of the layer
// before (PDL's overlap). 100 (the default) asks every kernel for the largest shared-memory
// split: the weights bypass L1 (ld.global.nc.L1::no_allocate, cp.async.cg) and activations are
// read through L2, so the smaller L1 costs nothing here.
int g_carveout = 100;
bool carveout_valid(int percent) { return percent >= -1 && percent <= 100; }

// Every kernel table above, for attributes that all kernels share.
template <class F>
void for_each_kernel(F&& f) {
    for (auto& ki : g_ctask)
        for (auto& ga : ki)
            for (auto& z : ga)
                for (KernelInfo& k : z) f(k);
    for (KernelInfo* k : {&g_ctask_d4[0], &g_ctask_d4[1], &g_ctask_d4[2], &g_ctask_smr[0], &g_ctask_smr[1], &g_ctask_smr[2],
                          &g_stream_loadonly, &g_stream_plain[0][0], &g_stream_plain[0][1], &g_stream_plain[1][0],
                          &g_stream_plain[1][1], &g_ctask_shared})
        f(*k);
    for (KernelInfo& k : g_stream_smr) f(k);
    for (KernelInfo& k : g_ctask_wide) f(k);
    for (KernelInfo& k : g_stream_depth) f(k);
    for (KernelInfo& k : g_stream_accs) f(k);
    for (auto& h : g_kernels)
        for (auto& b : h)
            for (auto& m : b)
                for (auto& z : m)
                    for (KernelInfo& k : z) f(k);
    for (auto& b : g_stream)
        for (auto& r : b)
            for (auto& ga : r)
                for (auto& z : ga)
                    for (KernelInfo& k : z) f(k);
    for (auto& b : g_wgmma)
        for (auto& m : b)
            for (auto& z : m)
                for (KernelInfo& k : z) f(k);
}

bool apply_carveout() {
    bool ok = true;
    for_each_kernel([&](KernelInfo& k) {
        if (k.fn) ok = ok && cudaFuncSetAttribute(k.fn, cudaFuncAttributePreferredSharedMemoryCarveout, g_carveout) == cudaSuccess;
    });
    return ok;
}

// The experiment switches (env QB_WQ_*, read once, at first use): integers, QB_WQ_HANDOFF_MB a
// number of MB. A value that does not parse in full is ignored here (a library prints nothing)
// and named by wq_env_error(), which the CLI refuses to run with: atoi read "1x" as 1 and "on"
// as 0 without a word. One table for both, in the order init_kernels applies them.
bool env_int(const char* name, int* v) {
    const char* s = std::getenv(name);
    if (!s || !*s) return false;
    char* end = nullptr;
    errno = 0;
    const long x = std::strtol(s, &end, 10);
    if (*end != '\0' || errno == ERANGE || x < INT_MIN || x > INT_MAX) return false;
    *v = (int)x;
    return true;
}
bool env_mb(const char* name, double* v) {
    const char* s = std::getenv(name);
    if (!s || !*s) return false;
    char* end = nullptr;
    const double x = std::strtod(s, &end);
    if (*end != '\0' || !std::isfinite(x) || x < 0 || x > 1e6) return false;
    *v = x;
    return true;
}
struct EnvInt {
    const char* name;
    void (*set)(int);   // null: read by another switch's setter (QB_WQ_CTASK_WARPS)
};
const EnvInt kEnvInts[] = {
    {"QB_WQ_L2_HINT", [](int v) { wq_set_l2_hint(v); }},
    {"QB_WQ_L2PF", [](int v) { wq_set_l2_prefetch(v); }},
    {"QB_WQ_SMR", [](int v) { wq_set_stream_smem(v); }},   // -1, 0, 4, 6, 8, 35
    {"QB_WQ_CTASK_SMR", [](int v) { wq_set_ctask_smem(v != 0); }},
    {"QB_WQ_CTASK_SHARED", [](int v) { wq_set_ctask_shared(v); }},
    {"QB_WQ_ACQREL", [](int v) { wq_set_reduce_acqrel(v != 0); }},
    {"QB_WQ_CARVEOUT", [](int v) { if (carveout_valid(v)) g_carveout = v; }},   // -1 or 0..100, as wq_set_carveout
    {"QB_WQ_STREAM_DEPTH", [](int v) { wq_set_stream_depth(v); }},
    {"QB_WQ_ACCSCALE", [](int v) { wq_set_stream_accscale(v != 0); }},
    {"QB_WQ_STREAM_MAX_M", [](int v) { wq_set_stream_max_m(v, -1); }},
    {"QB_WQ_WGMMA", [](int v) { wq_set_wgmma(v); }},
    {"QB_WQ_COOP", [](int v) { wq_set_wgmma_coop(v); }},
    {"QB_WQ_CTASK", [](int v) {
         int warps = 0;
         env_int("QB_WQ_CTASK_WARPS", &warps);
         wq_set_ctask(v, warps);
     }},
    {"QB_WQ_CTASK_WARPS", nullptr},
};
constexpr const char* kEnvHandoff = "QB_WQ_HANDOFF_MB";

// Explicit list of instantiated configurations: INT4 x {zero, no zero} x {grouped, per-channel}
// and INT8 per-channel without zeros, for both kernels.
void init_kernels() {
    double mb = 0;
    if (env_mb(kEnvHandoff, &mb)) wq_set_handoff((long long)(mb * 1048576.0));
    for (const EnvInt& e : kEnvInts) {
        int v = 0;
        if (e.set && env_int(e.name, &v)) e.set(v);
    }
    fill_ctask<4>();
    fill_ctask<8>();
    fill_ctask<16>();
    fill_ctask_wide<0>();
    fill_row<4, false, true>(0);
    fill_row<4, true, true>(0);
    fill_row<4, false, false>(0);
    fill_row<4, true, false>(0);
    fill_row<8, false, false>(1);
    fill_stream<8>();
    fill_stream<16>();
    fill_wgmma4<false, true>();
    fill_wgmma4<true, true>();
    fill_wgmma4<false, false>();
    fill_wgmma4<true, false>();
    fill_wgmma8();
    g_stream_loadonly = stream_info<4, 8, 4, 4, false, true, true>();
    g_stream_depth[2] = stream_info<4, 8, 2, 4, false, true, false, 5>();
    g_stream_depth[3] = stream_info<4, 8, 3, 4, false, true, false, 5>();
    g_stream_depth[6] = stream_info<4, 8, 6, 4, false, true, false, 3>();
    g_stream_accs[2] = stream_info<4, 8, 2, 4, false, true, false, 5, true>();
    g_stream_accs[4] = stream_info<4, 8, 4, 4, false, true, false, 4, true>();
    g_stream_smr[0] = stream_info<4, 8, 4, 4, false, true, false, 4, true, 0, true>();
    g_stream_smr[1] = stream_info<4, 8, 6, 4, false, true, false, 4, true, 0, true>();
    g_stream_smr[2] = stream_info<4, 8, 8, 4, false, true, false, 4, true, 0, true>();
    g_stream_smr[3] = stream_info<4, 8, 3, 4, false, true, false, 5, true, 0, true>();
    int dev = 0, cc = 0;
    if (cudaGetDevice(&dev) != cudaSuccess || cudaDeviceGetAttribute(&g_sms, cudaDevAttrMultiProcessorCount, dev) != cudaSuccess ||
        cudaDeviceGetAttribute(&cc, cudaDevAttrComputeCapabilityMajor, dev) != cudaSuccess) {
        g_init_status = CudaStatus::cuda_error;
        return;
    }
    g_has_clusters = cc >= 9;
    int cc_minor = 0;
    g_wgmma_ok = cc == 9 && cudaDeviceGetAttribute(&cc_minor, cudaDevAttrComputeCapabilityMinor, dev) == cudaSuccess && cc_minor == 0;
    // Peak HBM bandwidth from the memory clock (kHz) and bus width (bits), double data rate:
    // one input of the ring choice (reg_ring_first). 0 if the driver does not say.
    int mem_khz = 0, bus_bits = 0;
    if (cudaDeviceGetAttribute(&mem_khz, cudaDevAttrMemoryClockRate, dev) == cudaSuccess &&
        cudaDeviceGetAttribute(&bus_bits, cudaDevAttrGlobalMemoryBusWidth, dev) == cudaSuccess)
        g_peak_gbps = 2.0 * mem_khz * 1e3 * (bus_bits / 8.0) / 1e9;
    if (cudaDeviceGetAttribute(&g_smem_optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev) != cudaSuccess ||
        cudaDeviceGetAttribute(&g_smem_sm, cudaDevAttrMaxSharedMemoryPerMultiprocessor, dev) != cudaSuccess) {
        g_init_status = CudaStatus::cuda_error;
        return;
    }
    // ctask: shared memory grows with M x K (planned per launch), so the occupancy kept here is
    // the register limit alone; wq_plan adds the shared-memory limit.
    auto setup_ctask = [](KernelInfo& k, int threads) {
        cudaFuncAttributes fa{};   // the SMR variant keeps the workspace path's static flag
        if (cudaFuncGetAttributes(&fa, k.fn) != cudaSuccess) return false;
        k.smem = g_smem_optin - (int)fa.sharedSizeBytes;
        return cudaFuncSetAttribute(k.fn, cudaFuncAttributeMaxDynamicSharedMemorySize, k.smem) == cudaSuccess &&
               cudaOccupancyMaxActiveBlocksPerMultiprocessor(&k.ctas_per_sm, k.fn, threads, 0) == cudaSuccess;
    };
    for (int ki = 0; ki < 3; ++ki)
        for (auto& ga : g_ctask[ki])
            for (auto& z : ga)
                for (KernelInfo* kp : {&z[0], &z[1], &g_ctask_d4[ki], &g_ctask_smr[ki]})
                    if (kp->fn && !setup_ctask(*kp, 32 * (4 << ki))) {
                        g_init_status = CudaStatus::cuda_error;
                        return;
                    }
    if (g_ctask_shared.fn && !setup_ctask(g_ctask_shared, 32 * 16)) {
        g_init_status = CudaStatus::cuda_error;
        return;
    }
    for (int i = 0; i < kCtaskWideN; ++i)
        if (!setup_ctask(g_ctask_wide[i], 32 * kCtaskWide[i].kw)) {
            g_init_status = CudaStatus::cuda_error;
            return;
        }
    for (KernelInfo& k : g_stream_smr) {   // shared memory per launch (smr_smem): register limit here
        // k.smem: the most dynamic shared memory a launch may ask for, next to the kernel's own
        // static flag of the workspace reduction.
        cudaFuncAttributes fa{};
        if (cudaFuncGetAttributes(&fa, k.fn) != cudaSuccess) {
            g_init_status = CudaStatus::cuda_error;
            return;
        }
        k.smem = g_smem_optin - (int)fa.sharedSizeBytes;
        if (cudaFuncSetAttribute(k.fn, cudaFuncAttributeMaxDynamicSharedMemorySize, k.smem) != cudaSuccess ||
            cudaOccupancyMaxActiveBlocksPerMultiprocessor(&k.ctas_per_sm, k.fn, kStreamThreads, 0) != cudaSuccess) {
            g_init_status = CudaStatus::cuda_error;
            return;
        }
    }
    auto setup = [](KernelInfo& k, int threads) {
        if (!k.fn) return true;
        if (cudaFuncSetAttribute(k.fn, cudaFuncAttributeMaxDynamicSharedMemorySize, k.smem) != cudaSuccess ||
            cudaOccupancyMaxActiveBlocksPerMultiprocessor(&k.ctas_per_sm, k.fn, threads, k.smem) != cudaSuccess)
            return false;
        // Clusters of up to 16 CTAs (one per split) are "non-portable": ask for them.
        if (g_has_clusters && cudaFuncSetAttribute(k.fn, cudaFuncAttributeNonPortableClusterSizeAllowed, 1) != cudaSuccess)
            g_has_clusters = false;
        return true;
    };
    for (KernelInfo* k : {&g_stream_loadonly, &g_stream_depth[2], &g_stream_depth[3], &g_stream_depth[6], &g_stream_accs[2],
                          &g_stream_accs[4], &g_stream_plain[0][0], &g_stream_plain[0][1], &g_stream_plain[1][0],
                          &g_stream_plain[1][1]})
        if (!setup(*k, kStreamThreads)) {
            g_init_status = CudaStatus::cuda_error;
            return;
        }
    for (auto& h : g_kernels)
      for (auto& b : h)
        for (auto& m : b)
            for (auto& z : m)
                for (KernelInfo& k : z)
                    if (!setup(k, kThreads)) {
                        g_init_status = CudaStatus::cuda_error;
                        return;
                    }
    for (auto& b : g_stream)
        for (auto& r : b)
            for (auto& ga : r)
                for (auto& z : ga)
                    for (KernelInfo& k : z)
                        if (!setup(k, kStreamThreads)) {
                            g_init_status = CudaStatus::cuda_error;
                            return;
                        }
    if (g_wgmma_ok)   // elsewhere their code is empty: never set up, never planned
        for (auto& b : g_wgmma)
            for (auto& m : b)
                for (auto& z : m)
                    for (KernelInfo& k : z)
                        if (!setup(k, kWgThreads)) {
                            g_init_status = CudaStatus::cuda_error;
                            return;
                        }
    if (!apply_carveout()) g_init_status = CudaStatus::cuda_error;
}

CudaStatus ensure_init() {
    std::call_once(g_init_once, init_kernels);
    return g_init_status;
}

int m_config(int M) { return M <= 16 ? 0 : M <= 32 ? 1 : M <= 64 ? 2 : 3; }

int stream_rows(int M) { return M <= 8 ? 8 : 16; }
int ga_index(const WqLayout& l) { return !l.grouped ? 2 : l.group == 32 ? 0 : l.group == 64 ? 1 : 2; }
int g_debug = 0;   // wq_set_debug
// smr: the code of the shared-memory ring variant (0: the register ring); it applies only to
// the INT4 group >= 128 configuration without zeros (smr_applies).
const KernelInfo& stream_kernel_for(const WqLayout& l, int M, int smr = 0) {
    const bool g128 = l.bits == 4 && stream_rows(M) == 8 && ga_index(l) == 2 && !l.has_zero && l.grouped;
    if ((g_debug & 2) && g128) return g_stream_loadonly;
    if (smr > 0 && g128 && g_stream_acc && g_stream_d == 0) return g_stream_smr[smr_index(smr)];
    if (g128 && g_stream_d > 0) {   // tuning variants
        const KernelInfo& v = g_stream_acc ? g_stream_accs[g_stream_d] : g_stream_depth[g_stream_d];
        if (v.fn) return v;
    }
    if (!g_stream_acc && l.bits == 4 && ga_index(l) == 2 && l.grouped) return g_stream_plain[stream_rows(M) == 16][l.has_zero];
    return g_stream[l.bits == 8][stream_rows(M) == 16][ga_index(l)][l.has_zero][l.grouped];
}
// Whether the streaming launch of these rows runs the shared-memory ring (wq_set_stream_smem).
// The shared-memory ring stages M rows per slot read; at M = 8 it lost to the MMA kernel where
// the register ring won (H100, session 9: 11008x4096 14.53-14.56 vs 12.89-12.96 us, 14336x4096
// 18.73-18.83 vs 16.84-16.90), so the automatic choice keeps it to M <= 4 (forcing still works).
constexpr int kSmrMaxRows = 4;
bool smr_applies(const WqLayout& l, int rows) {
    if (g_smr_d < 0 && rows > kSmrMaxRows) return false;
    return g_smr_d != 0 && &stream_kernel_for(l, rows, kSmrLong) == &g_stream_smr[smr_index(kSmrLong)];
}
// ctask: the M real activation rows of all of K (padded by 16 bytes), the zero line, then the
// KW warps' FP32 partials (16 per lane).
// With the shared-memory ring (smr): the rows and the zero line aligned to 128, the KW rings of 4
// slots, then the partials.
size_t ctask_smem(int M, int K, int kw, bool smr = false) {
    if (smr)
        return (((size_t)M * ((size_t)K * 2 + 16) + 16 + 127) & ~(size_t)127) + (size_t)kw * (4 * kSmrSlot + 32 * 16 * sizeof(float));
    return (((size_t)M * ((size_t)K * 2 + 16) + 16 + 15) & ~(size_t)15) + (size_t)kw * 32 * 16 * sizeof(float);
}
// INT4 group >= 128 without zeros, group scales on the accumulators (ACCS): the one
// configuration the ctask variants beyond the base table exist for (depth 4, the shared-memory
// ring, the wide CTAs).
bool ctask_accs(const WqLayout& l) { return g_stream_acc && l.bits == 4 && ga_index(l) == 2 && l.grouped && !l.has_zero; }
bool ctask_smr(const WqLayout& l, int kw) {
    return ctask_wide_index(kw) < 0 && g_ctask_smr_on && g_stream_d == 0 && ctask_accs(l);
}
const KernelInfo& ctask_kernel_for(const WqLayout& l, int kw) {
    static const KernelInfo none;
    if (const int wi = ctask_wide_index(kw); wi >= 0) return g_stream_d == 0 && ctask_accs(l) ? g_ctask_wide[wi] : none;
    const int ki = kw == 4 ? 0 : kw == 8 ? 1 : 2;
    // Depth 4 by default at KW = 8 (full run 20261126t231139z: 8192x28672 M = 1 40.48 vs 42.64 us at
    // depth 3), depth 3 at KW = 16 (4096x11008: 10.61 vs 10.90 us at depth 4): the long k
    // ranges of 8-warp CTAs (28 stages per warp there) gain from the deeper ring, the 5-6
    // stages per warp of 16-warp CTAs do not. wq_set_stream_depth(3 or 4) forces either.
    if (ctask_smr(l, kw)) return g_ctask_smr[ki];
    const bool d4 = g_stream_d == 4 || (g_stream_d == 0 && kw == 8);
    if (d4 && ctask_accs(l)) return g_ctask_d4[ki];
    return g_ctask[ki][ga_index(l)][l.has_zero][l.grouped];
}

// k-stages of activations one CTA can stage within kStreamSmem (rows padded by 16 bytes).
int stream_max_stages(int R) { return (kStreamSmem / R - 16) / (kKTile * 2); }
size_t stream_smem(int R, int stages) { return (size_t)R * ((size_t)stages * kKTile * 2 + 16); }

const KernelInfo& kernel_for(const WqLayout& l, int M) {
    const int mc = m_config(M);
    const KernelInfo& hinted = g_kernels[g_hint][l.bits == 8][mc][l.has_zero][l.grouped];
    return hinted.fn ? hinted : g_kernels[kHintNone][l.bits == 8][mc][l.has_zero][l.grouped];
}

constexpr int kMaxSplits = kMaxSplitsMma;
int g_split_override = 0;   // wq_set_split_override: 0 = automatic
bool g_pdl = true;          // wq_set_pdl
int g_l2pf = 0;             // wq_set_l2_prefetch (Args::l2pf)
// Hand-off (Args::pf): bytes of the next launch's weights each launch warms in L2 at its tail;
// negative: the default, kHandoffNs of the device's peak HBM bandwidth. On the H100 (session 10,
// docs/cuda-kernels-history.md) 4-5 MB was best of 0-10 MB: M = 1 11008x4096 10.16 -> 9.69 us,
// 4096x11008 9.59 -> 8.85, 8192x28672 44.61 -> 43.71, the Llama-2-7B W4 step 1.417 -> 1.365 ms;
// 10 MB lost again (the prefetch then competes with this launch's own stream).
constexpr double kHandoffNs = 1500;
long long g_handoff = -1;   // wq_set_handoff
size_t handoff_bytes() { return g_handoff >= 0 ? (size_t)g_handoff : (size_t)(kHandoffNs * g_peak_gbps); }
// wq_set_reduce_acqrel (Args::acqrel). On by default: on the H100 (session 3, docs/cuda-kernels-history.md)
// 11008x4096 M = 1 12.48 -> 12.13 us, 12288x4096 12.73 -> 12.46, 22016x4096 unchanged, the
// decode step 1.694 -> 1.688 ms; the whole GPU test grid passed with it (10,412 checks).
bool g_acqrel = true;
// wq_set_cluster_reduce. Off by default: on the H200 (run of e6b1f23, docs/cuda-kernels-history.md)
// the cluster launch was slower than the workspace path at every shape's best split (11008x4096
// M = 1: 14.3 vs 12.6 us; 8192x28672: 62.1 vs 47.7 us, where only 79 clusters of 6 fit at once).
bool g_cluster = false;
unsigned long long* g_timing = nullptr;   // wq_set_timing
size_t g_timing_entries = 0;

// Whether a cluster of S CTAs of kernel k can be resident at all (the occupancy calculator
// knows the GPC layout); cached per kernel and S.
bool cluster_fits(const KernelInfo& k, int threads, int S) {
    static std::mutex mu;
    static std::map<std::pair<const void*, int>, bool> cache;
    std::lock_guard<std::mutex> lock(mu);
    const auto key = std::make_pair(reinterpret_cast<const void*>(k.fn), S);
    if (auto it = cache.find(key); it != cache.end()) return it->second;
    cudaLaunchConfig_t cfg{};
    cfg.gridDim = dim3(S);
    cfg.blockDim = dim3(threads);
    cfg.dynamicSmemBytes = (size_t)k.smem;
    cudaLaunchAttribute at[1];
    at[0].id = cudaLaunchAttributeClusterDimension;
    at[0].val.clusterDim.x = (unsigned)S;
    at[0].val.clusterDim.y = 1;
    at[0].val.clusterDim.z = 1;
    cfg.attrs = at;
    cfg.numAttrs = 1;
    int n = 0;
    const bool ok = cudaOccupancyMaxActiveClusters(&n, k.fn, &cfg) == cudaSuccess && n > 0;
    if (!ok) cudaGetLastError();   // a refusal is an answer, not a sticky error
    cache[key] = ok;
    return ok;
}
int cluster_for(const KernelInfo& k, int threads, int S) {
    return g_cluster && g_has_clusters && S > 1 && S <= kClusterMax && cluster_fits(k, threads, S) ? S : 0;
}
constexpr int kMaxRows = 128;   // rows per launch
size_t align256(size_t v) { return (v + 255) & ~(size_t)255; }

// Split-K factor: the fewest "time units" for n_tiles x S CTAs of ceil(KS / S) stages each,
// where CTAs beyond one wave (SMs x CTAs per SM) run in a second wave and each CTA also pays
// a fixed start-up and epilogue cost of about two stages.
int choose_splits(int n_tiles, int k_stages, int slots) {
    int best = 1;
    double best_cost = 1e30;
    for (int s = 1; s <= std::min(kMaxSplits, k_stages); ++s) {
        const int ctas = n_tiles * s;
        const int waves = (ctas + slots - 1) / slots;
        const double cost = (double)waves * ((k_stages + s - 1) / s + 2.0);
        if (cost < best_cost - 1e-9) { best_cost = cost; best = s; }
    }
    return best;
}

// Time units of a streaming-kernel launch (all three of its forms): waves x the k-stages of
// the longest run (k_stages split `parts` ways) plus 1.5 stages per CTA for activation staging
// and the epilogue.
double stream_cost(int waves, int k_stages, int parts) { return (double)waves * ((k_stages + parts - 1) / parts + 1.5); }

// The streaming kernel's split-K factor: at least s_min (the activation slice must fit), the
// fewest time units (stream_cost); several waves are fine for this kernel (CTAs are short and
// 4 share an SM).
int choose_stream_splits(int n_tiles, int k_stages, int slots, int s_min, int s_max) {
    int best = s_min;
    double best_cost = 1e30;
    for (int s = s_min; s <= std::min(s_max, k_stages); ++s) {
        const int waves = (n_tiles * s + slots - 1) / slots;
        const double cost = stream_cost(waves, k_stages, s);
        // Ties go to more splits (a fuller wave): 4096x11008 at M = 1 ran 12.5 us at S = 16
        // against 13.1 at S = 15, the same cost here (H200 sweep, workspace reduction).
        if (cost <= best_cost + 1e-9) { best_cost = cost; best = s; }
    }
    return best;
}

// The streaming kernel's plan with the ring in registers (path 1 without smem_ring) from the
// shape fields of p, or false where it cannot run (no kernel, activation slice too large).
bool reg_ring_plan(const WqLayout& l, int rows, WqPlan* p) {
    const KernelInfo& k = stream_kernel_for(l, rows);
    const int R = stream_rows(rows);
    const int s_min = (p->k_stages + stream_max_stages(R) - 1) / stream_max_stages(R);
    const int s_max = std::min(kStreamMaxSplits, p->k_stages);
    if (!k.fn || s_min > s_max) return false;
    p->path = 1;
    p->rows_staged = R;
    p->m_blocks = 1;
    p->ctas_per_sm = std::max(1, k.ctas_per_sm);
    // With cluster reduction available, the automatic split stays within one cluster.
    const int s_auto = g_cluster && g_has_clusters && s_min <= kClusterMax ? std::min(s_max, kClusterMax) : s_max;
    p->splits = g_split_override > 0 ? std::min(std::max(g_split_override, s_min), s_max)
                                     : choose_stream_splits(p->n_tiles, p->k_stages, p->sms * p->ctas_per_sm, s_min, s_auto);
    p->cluster = cluster_for(k, kStreamThreads, p->splits);
    p->ctas = p->n_tiles * p->splits;
    return true;
}

// Since the weights became the A operand (kSwapAB) the register ring (fewer spills, shorter chains),
// on the H100 (3.35 TB/s), beats the shared-memory ring where its own plan gives each warp >= 10
// k-stages (session 9, M = 1, two rounds: 22016x4096 18.63-18.66 vs 19.00-19.01 us, 28672x4096
// 24.59-24.63 vs 25.43-25.57, 10240x8192 17.95-18.02 vs 18.23-18.25; the Llama-2-7B W4 step
// 1.417-1.418 vs 1.449-1.450 ms), while the ring of depth 4 still wins at 8 (14336x4096 13.33
// vs 13.76-13.78, 57344x8192 86.2-86.3 vs 91.0). On the H200 (4.8 TB/s: more bytes must be in
// flight per SM) the deeper shared-memory ring kept winning: W4 step 1.231 vs 1.281 ms. So the
// register ring only below kRegRingMaxGbps, a bound between the two GPUs measured.
// docs/cuda-kernels-history.md, "Session 9".
constexpr int kRegRingMinStages = 10;
constexpr double kRegRingMaxGbps = 4000;
bool reg_ring_first(const WqLayout& l, const WqPlan& p, int rows) {
    if (!kSwapAB || stream_rows(rows) != 8 || g_split_override > 0 || g_peak_gbps <= 0 || g_peak_gbps >= kRegRingMaxGbps) return false;
    WqPlan q = p;
    return reg_ring_plan(l, rows, &q) && q.k_stages / q.splits >= kRegRingMinStages;
}

// The hand-off of a launch (Args::pf) to the next one, which reads the buffer nw of layout nl:
// handoff_bytes() of it in even slices, the head of each CTA's 1 / ctas share, split over its
// warps (nothing where a warp's slice would be under 16 bytes). Measured and dropped (session
// 10, H100): warming instead the first k-stage(s) of every warp's k range in the next launch's
// own plan (its first loads) with the same budget: 11008x4096 M = 1 10.87 vs 9.73 us,
// 4096x11008 12.20 vs 8.74, the decode step 1.78 vs 1.37 ms, and worse with more bytes. Measured
// again (session 12, H100) with one bulk prefetch per warp instead of one per thread (each warp of
// this grid warming the first k-stage and its scale row of one (strip, warp) unit of the next
// split-K-inside-the-CTA launch): 11008x4096 10.81 vs 9.73 us, 4096x11008 9.91 vs 8.78, the step
// 1.455 vs 1.380 ms; the last stage of each unit instead ("tails") 10.83 us; either without the
// scale rows (one 2 KiB prefetch per warp, as many as the even slices) 10.60-10.65 us. One
// prefetch per CTA of its whole even slice instead of one per warp: 9.68-9.72 vs 9.71-9.72 us.
// So what loses is warming 2 KiB pieces ~10 KiB apart instead of ~14 KiB runs, not the number
// of prefetches or which stage of a warp's range they hold (docs/cuda-kernels-history.md, session 12).
void handoff_args(const WqLayout& nl, const uint8_t* nw, const WqPlan& p, const cudaLaunchConfig_t& cfg, Args* a) {
    const size_t hb = handoff_bytes();
    const size_t stride = (nl.total / (size_t)p.ctas) & ~(size_t)15;
    const size_t per_warp = (std::min(stride, hb / (size_t)p.ctas) / (cfg.blockDim.x / 32)) & ~(size_t)15;
    if (per_warp < 16 || stride > 0xffffffffu) return;
    a->pf = nw;
    a->pf_stride = (unsigned)stride;
    a->pf_warp = (unsigned)per_warp;
}

}  // namespace

const char* status_str(CudaStatus s) {
    switch (s) {
        case CudaStatus::ok: return "ok";
        case CudaStatus::bad_argument: return "bad argument";
        case CudaStatus::bad_format: return "bad weight format";
        case CudaStatus::unsupported: return "format or shape not supported by the CUDA kernel";
        case CudaStatus::workspace_too_small: return "workspace too small";
        case CudaStatus::cuda_error: return "CUDA error";
        case CudaStatus::cublas_error: return "cuBLAS error";
    }
    return "?";
}

CudaStatus wq_layout(const QuantizedMatrix& w, WqLayout* out) {
    if (!out) return CudaStatus::bad_argument;
    if (check_format(w) != FormatError::ok) return CudaStatus::bad_format;
    if (w.bits != 4 && w.bits != 8) return CudaStatus::unsupported;
    if (w.rows % kNTile != 0 || w.cols % kKTile != 0) return CudaStatus::unsupported;
    WqLayout l;
    l.n = w.rows;
    l.k = w.cols;
    l.bits = w.bits;
    l.group = w.group;
    l.has_zero = w.has_zero;
    l.grouped = w.group != w.cols;
    if (l.grouped && !(kKTile % w.group == 0 || w.group % kKTile == 0)) return CudaStatus::unsupported;
    const size_t G = (size_t)(w.cols / w.group);
    l.q_offset = 0;
    l.q_bytes = (size_t)w.rows * (size_t)w.cols * (size_t)w.bits / 8;
    l.scale_offset = align256(l.q_bytes);
    l.scale_bytes = l.grouped ? G * (size_t)w.rows * 2 : (size_t)w.rows * 4;
    l.zero_offset = align256(l.scale_offset + l.scale_bytes);
    l.zero_bytes = w.has_zero ? G * (size_t)w.rows / 2 : 0;
    l.total = align256(l.zero_offset + l.zero_bytes);
    *out = l;
    return CudaStatus::ok;
}

CudaStatus wq_shuffle(const QuantizedMatrix& w, const WqLayout& l, uint8_t* dst) {
    if (!dst || !w.q || !w.scales || (w.has_zero && !w.zeros)) return CudaStatus::bad_argument;
    WqLayout chk;
    if (CudaStatus st = wq_layout(w, &chk); st != CudaStatus::ok) return st;
    if (chk.total != l.total || chk.n != l.n || chk.k != l.k) return CudaStatus::bad_argument;
    memset(dst, 0, l.total);
    const int N = l.n, K = l.k, strips = N / kAtomN, atoms = K / kAtomK;
    const size_t rb = row_bytes(w);
    uint8_t* q = dst + l.q_offset;
    // Atom (strip sp, k-atom ka), lane (g = lane / 4, t = lane % 4): n8 tile j is column
    // n = 32 sp + 8 j + g; k16 step s covers k = 32 ka + 16 s + {2t, 2t+1, 2t+8, 2t+9} (the
    // mma B fragment: reg 0 = the first pair, reg 1 = the second).
    for (int sp = 0; sp < strips; ++sp)
        for (int ka = 0; ka < atoms; ++ka)
            for (int lane = 0; lane < 32; ++lane) {
                const int g = lane >> 2, t = lane & 3;
                uint8_t* out = q + (((size_t)sp * atoms + ka) * 32 + lane) * (size_t)(4 * l.bits);
                for (int j = 0; j < 4; ++j) {
                    const uint8_t* row = w.q + (size_t)(32 * sp + 8 * j + g) * rb;
                    const int kb = 32 * ka + 2 * t;
                    if (l.bits == 4) {
                        // Nibbles 0..7: step 0 {2t, 2t+8}, step 1 {2t, 2t+8}, then the "+1"s.
                        const int ks[8] = {kb, kb + 8, kb + 16, kb + 24, kb + 1, kb + 9, kb + 17, kb + 25};
                        uint32_t word = 0;
                        for (int i = 0; i < 8; ++i) word |= (uint32_t)((row[ks[i] >> 1] >> ((ks[i] & 1) * 4)) & 0xf) << (4 * i);
                        memcpy(out + 4 * j, &word, 4);
                    } else {
                        for (int s = 0; s < 2; ++s) {
                            const int k = kb + 16 * s;
                            const uint8_t bytes[4] = {row[k], row[k + 8], row[k + 1], row[k + 9]};   // b0, b2, b1, b3
                            for (int i = 0; i < 4; ++i) out[8 * j + 4 * s + i] = (uint8_t)(bytes[i] ^ 0x80u);
                        }
                    }
                }
            }
    const int G = K / l.group;
    if (l.grouped) {
        uint16_t* s = reinterpret_cast<uint16_t*>(dst + l.scale_offset);
        const uint16_t* src = static_cast<const uint16_t*>(w.scales);
        for (int gi = 0; gi < G; ++gi)
            for (int n = 0; n < N; ++n) {
                const int sp = n / 32, j = (n % 32) / 8, g = n % 8;
                s[(size_t)gi * N + sp * 32 + g * 4 + j] = src[(size_t)n * G + gi];
            }
    } else {
        float* s = reinterpret_cast<float*>(dst + l.scale_offset);
        for (int n = 0; n < N; ++n) s[n] = scale_at(w, n, 0);
    }
    if (l.has_zero) {
        uint8_t* z = dst + l.zero_offset;
        for (int gi = 0; gi < G; ++gi)
            for (int n = 0; n < N; ++n) {
                const int sp = n / 32, j = (n % 32) / 8, g = n % 8;
                const uint32_t zv = get_packed(w.zeros, 4, (size_t)n * G + gi);
                const size_t nib = ((size_t)gi * strips + sp) * 32 + g * 4 + j;
                z[nib / 2] |= (uint8_t)(zv << ((nib & 1) * 4));
            }
    }
    return CudaStatus::ok;
}

CudaStatus wq_plan(const WqLayout& l, int M, WqPlan* out) {
    if (!out || M < 1 || l.n < kNTile || l.k < kKTile) return CudaStatus::bad_argument;
    if (CudaStatus st = ensure_init(); st != CudaStatus::ok) return st;
    const int rows = std::min(M, kMaxRows);
    WqPlan p;
    p.n_tiles = l.n / kNTile;
    p.k_stages = l.k / kKTile;
    p.sms = g_sms;
    if (l.bits == 4 && rows <= std::min(g_ctask_max_m, kCtaskMaxM)) {
        // Warps per CTA: the fewest time units, where a CTA's time is its warps' stages plus
        // 1.5 for staging and the reduction, and strips beyond the resident CTAs (registers:
        // 16 warps per SM; shared memory: M x K activations per CTA) run in further waves.
        // Unless forced, only plans of one wave of CTAs of >= 8 warps (or of a wide CTA within
        // its auto_max_m and auto_max_stages, see kCtaskWide): on the H200 (cuda4
        // experiment call) those won (4096x11008 M = 1: 10.58 vs 11.73 us, KW 16; 8192x28672:
        // 42.46 vs 46.18, KW 8), while 11008x4096 (344 strips: 2-3 CTAs of 4 warps per SM, or
        // more than one wave) lost at every KW (12.51-13.22 vs 11.62 us).
        const int strips = l.n / kAtomN;
        // Shared strips (g_ctask_shared): C = min(SMs, S / 2 rounded up) CTAs, so 1-4 strips each
        // (at most 4 groups of 4 warps); by the rule only where measured, K = 4096 or less: at
        // M = 2..8 with S in (2 SMs, 3 SMs] (where 8-warp CTAs of one strip need two waves), and
        // at M = 4..8 with S in [1.4 SMs, 2 SMs] (one wave of 8-warp CTAs, two per SM on most
        // SMs; at M = 1-2 those stay faster there, see g_ctask_shared).
        const bool share_band3 = rows >= 2 && strips > 2 * p.sms && strips <= 3 * p.sms;
        const bool share_band2 = rows >= 4 && 10 * strips >= 14 * p.sms && strips <= 2 * p.sms;
        const bool share_rule = g_ctask_shared_mode < 0 && g_ctask_kw == 0 && (share_band3 || share_band2) && p.k_stages <= 32;
        const bool share_forced = g_ctask_shared_mode > 0 && strips >= 2 && strips <= 4 * p.sms;
        if ((share_rule || share_forced) && ctask_accs(l) && g_ctask_shared.fn && g_ctask_shared.ctas_per_sm >= 1 &&
            ctask_smem(rows, l.k, 16) <= (size_t)g_ctask_shared.smem) {
            p.path = 2;
            p.warps_k = 16;
            p.ctas_per_sm = 1;
            p.shared_strips = 1;
        } else {
            double best_cost = 1e30;
            for (int kw : {4, 8, 16, 6, 18}) {
                if (g_ctask_kw > 0 && kw != g_ctask_kw) continue;
                const int wi = ctask_wide_index(kw);
                if (g_ctask_kw == 0 && wi >= 0 &&
                    (!g_ctask_wide_on || rows > kCtaskWide[wi].auto_max_m || p.k_stages > kCtaskWide[wi].auto_max_stages * kw))
                    continue;
                if (g_ctask_kw == 0 && wi < 0 && kw > g_ctask_kw_max) continue;
                const KernelInfo& k = ctask_kernel_for(l, kw);
                const size_t sm = ctask_smem(rows, l.k, kw, ctask_smr(l, kw));
                if (!k.fn || sm > (size_t)k.smem) continue;
                const int cps = std::min(k.ctas_per_sm, (int)((size_t)g_smem_sm / (sm + (size_t)(g_smem_optin - k.smem) + 1024)));
                if (cps < 1) continue;
                const int waves = (strips + p.sms * cps - 1) / (p.sms * cps);
                if (g_ctask_kw == 0 && ((kw < 8 && wi < 0) || waves > 1)) continue;
                if (g_ctask_kw == 0 && p.k_stages < g_ctask_min_stages * kw) continue;
                const double cost = stream_cost(waves, p.k_stages, kw);
                if (cost < best_cost - 1e-9) {
                    best_cost = cost;
                    p.path = 2;
                    p.warps_k = kw;
                    p.ctas_per_sm = cps;
                }
            }
        }
        if (p.path == 2) {
            p.rows_staged = 8;
            p.m_blocks = 1;
            p.splits = 1;
            p.ctas = p.shared_strips ? std::min(p.sms, (strips + 1) / 2) : strips;
            *out = p;
            return CudaStatus::ok;
        }
    }
    if (rows <= stream_max_m(l) && smr_applies(l, rows)) {
        // Shared-memory ring variant `code`: the split whose CTAs (shared memory per CTA grows
        // with the k range staged) cost the fewest time units, as choose_stream_splits.
        auto smr_plan = [&](int code, WqPlan* q) {
            const KernelInfo& k = stream_kernel_for(l, rows, code);
            int best = 0, best_cps = 0;
            double best_cost = 1e30;
            for (int s = 1; s <= std::min(kStreamMaxSplits, p.k_stages); ++s) {
                if (g_split_override > 0 && s != std::min(g_split_override, p.k_stages)) continue;
                const size_t sm = smr_smem(rows, (p.k_stages + s - 1) / s, smr_depth(code));
                if (sm > (size_t)k.smem) continue;
                const int cps = std::min(k.ctas_per_sm, (int)((size_t)g_smem_sm / (sm + (size_t)(g_smem_optin - k.smem) + 1024)));
                if (cps < 1) continue;
                const int waves = (p.n_tiles * s + p.sms * cps - 1) / (p.sms * cps);
                const double cost = stream_cost(waves, p.k_stages, s);
                if (cost <= best_cost + 1e-9) { best_cost = cost; best = s; best_cps = cps; }
            }
            if (best == 0) return false;
            *q = p;
            q->path = 1;
            q->rows_staged = rows;
            q->m_blocks = 1;
            q->smem_ring = code;
            q->splits = best;
            q->ctas_per_sm = best_cps;
            q->ctas = p.n_tiles * best;
            return true;
        };
        WqPlan q;
        if (g_smr_d > 0 && smr_plan(g_smr_d, &q)) { *out = q; return CudaStatus::ok; }
        if (g_smr_d < 0 && !reg_ring_first(l, p, rows)) {   // automatic (see kSmr)
            if (smr_plan(kSmrLong, &q) && (p.k_stages + q.splits - 1) / q.splits >= 2 * smr_depth(kSmrLong)) { *out = q; return CudaStatus::ok; }
            if (smr_plan(kSmrShort, &q)) { *out = q; return CudaStatus::ok; }
        }
    }
    if (rows <= stream_max_m(l) && reg_ring_plan(l, rows, &p)) {
        *out = p;
        return CudaStatus::ok;
    }
    if (g_wgmma_ok && wgmma_min_m(l) > 0 && rows >= wgmma_min_m(l)) {
        const KernelInfo& k = g_wgmma[l.bits == 8][m_config(rows)][l.has_zero][l.grouped];
        if (k.fn && k.ctas_per_sm > 0) {
            p.path = 3;
            p.m_blocks = 1 << m_config(rows);
            p.ctas_per_sm = k.ctas_per_sm;
            p.splits = g_split_override > 0 ? std::min({g_split_override, p.k_stages, kMaxSplits})
                                            : choose_splits(p.n_tiles, p.k_stages, p.sms * p.ctas_per_sm);
            p.ctas = p.n_tiles * p.splits;
            *out = p;
            return CudaStatus::ok;
        }
    }
    const KernelInfo& k = kernel_for(l, rows);
    p.m_blocks = 1 << m_config(rows);
    p.ctas_per_sm = std::max(1, k.ctas_per_sm);
    p.splits = g_split_override > 0 ? std::min({g_split_override, p.k_stages, kMaxSplits})
                                    : choose_splits(p.n_tiles, p.k_stages, p.sms * p.ctas_per_sm);
    p.cluster = cluster_for(k, kThreads, p.splits);
    p.ctas = p.n_tiles * p.splits;
    *out = p;
    return CudaStatus::ok;
}

void wq_set_split_override(int splits) { g_split_override = splits > 0 ? splits : 0; }
void wq_set_stream_max_m(int m4, int m8) {
    g_stream_max_m_set = m4 >= 0 || m8 >= 0;
    g_stream_max_m[0] = m4 < 0 ? kStreamDefaultM4 : std::min(m4, kStreamMaxM);
    g_stream_max_m[1] = m8 < 0 ? kStreamDefaultM8 : std::min(m8, kStreamMaxM);
}
void wq_set_pdl(bool on) { g_pdl = on; }
void wq_set_ctask_smem(bool on) { g_ctask_smr_on = on; }
void wq_set_ctask_max_warps(int kw) { g_ctask_kw_max = kw == 4 || kw == 8 ? kw : 16; }
void wq_set_ctask_wide(bool on) { g_ctask_wide_on = on; }
void wq_set_ctask_min_stages(int s) { g_ctask_min_stages = s > 0 ? s : 0; }
void wq_set_reduce_acqrel(bool on) { g_acqrel = on; }
CudaStatus wq_set_carveout(int percent) {
    if (!carveout_valid(percent)) return CudaStatus::bad_argument;
    const CudaStatus st = ensure_init();
    if (st != CudaStatus::ok) return st;
    g_carveout = percent;
    return apply_carveout() ? CudaStatus::ok : CudaStatus::cuda_error;
}
int wq_carveout() { return g_carveout; }
double wq_peak_gbps() { return ensure_init() == CudaStatus::ok ? g_peak_gbps : 0; }
void wq_set_stream_smem(int code) { g_smr_d = code < 0 ? -1 : smr_index(code) >= 0 ? code : 0; }
void wq_set_l2_prefetch(int stages) { g_l2pf = stages < 0 ? -1 : stages; }
void wq_set_handoff(long long bytes) { g_handoff = bytes < 0 ? -1 : bytes; }
size_t wq_handoff() { return ensure_init() == CudaStatus::ok ? handoff_bytes() : 0; }
int wq_l2_prefetch() { return g_l2pf; }
void wq_set_ctask(int max_m, int warps) {
    g_ctask_max_m = max_m < 0 ? kCtaskDefaultM : std::min(max_m, kCtaskMaxM);
    g_ctask_kw = warps == 4 || warps == 8 || warps == 16 || ctask_wide_index(warps) >= 0 ? warps : 0;
}
void wq_set_cluster_reduce(bool on) { g_cluster = on; }
void wq_set_wgmma(int min_m) { g_wgmma_min_m = min_m < 0 ? -1 : min_m; }
void wq_set_wgmma_coop(int mode) { g_wgmma_coop = mode < 0 ? -1 : mode > 0 ? 1 : 0; }
bool wq_wgmma_available() { return ensure_init() == CudaStatus::ok && g_wgmma_ok; }
void wq_set_ctask_shared(int mode) { g_ctask_shared_mode = mode < 0 ? -1 : mode > 0 ? 1 : 0; }
void wq_set_stream_depth(int d) { g_stream_d = d >= 2 && d <= 6 ? d : 0; }
void wq_set_stream_accscale(bool on) { g_stream_acc = on; }
void wq_set_debug(int mode) { g_debug = mode & 7; }
void wq_set_timing(unsigned long long* stamps, size_t entries) {
    g_timing = stamps;
    g_timing_entries = stamps ? entries : 0;
}
void wq_set_l2_hint(int mode) { g_hint = mode >= kHintNone && mode <= kHintConstant ? mode : kHintNone; }

std::string wq_env_error() {
    for (const EnvInt& e : kEnvInts) {
        int v;
        const char* s = std::getenv(e.name);
        if (s && *s && !env_int(e.name, &v)) return std::string(e.name) + "='" + s + "' is not an integer";
    }
    double mb;
    if (const char* s = std::getenv(kEnvHandoff); s && *s && !env_mb(kEnvHandoff, &mb))
        return std::string(kEnvHandoff) + "='" + s + "' is not a number of MB (0 .. 1e6)";
    return {};
}

size_t wq_workspace_bytes(const WqLayout& l, int max_m) {
    const int rows = std::min(std::max(max_m, 1), kMaxRows);
    // The wgmma kernel's partials hold whole 8-row blocks (wg_part_index).
    const size_t parts = std::max({(size_t)kMaxSplits * rows, (size_t)kStreamMaxSplits * std::min(rows, kStreamMaxM),
                                   (size_t)kMaxSplitsMma * wg_part_rows(rows)});
    return align256(2 * (size_t)(l.n / kNTile) * sizeof(int)) + parts * (size_t)l.n * sizeof(float);
}

CudaStatus wq_gemm(const WqLayout& l, const void* weights, const void* X, int M, void* Y, void* workspace,
                   size_t workspace_bytes, cudaStream_t stream, const WqLayout* next, const void* next_weights) {
    if (!weights || !X || !Y || M < 1 || l.n < kNTile || l.k < kKTile) return CudaStatus::bad_argument;
    // The bulk prefetch wants 16-byte aligned addresses and sizes (the buffer is 256-aligned).
    if (next && next_weights && (reinterpret_cast<uintptr_t>(next_weights) % 16 != 0 || next->n < kNTile || next->k < kKTile))
        return CudaStatus::bad_argument;
    if (CudaStatus st = ensure_init(); st != CudaStatus::ok) return st;
    const uint8_t* base = static_cast<const uint8_t*>(weights);
    for (int m0 = 0; m0 < M; m0 += kMaxRows) {
        const int rows = std::min(M - m0, kMaxRows);
        WqPlan p;
        if (CudaStatus st = wq_plan(l, rows, &p); st != CudaStatus::ok) return st;
        Args a{};
        a.q = base + l.q_offset;
        a.scales = l.grouped ? reinterpret_cast<const __half*>(base + l.scale_offset) : nullptr;
        a.cscales = l.grouped ? nullptr : reinterpret_cast<const float*>(base + l.scale_offset);
        a.zeros = l.has_zero ? base + l.zero_offset : nullptr;
        a.X = static_cast<const __half*>(X) + (size_t)m0 * l.k;
        a.Y = static_cast<__half*>(Y) + (size_t)m0 * l.n;
        a.M = rows;
        a.N = l.n;
        a.K = l.k;
        a.group = l.group;
        a.splits = p.splits;
        a.k_stages = p.k_stages;
        a.cluster = p.cluster > 0;
        a.debug = g_debug & 5;
        a.l2pf = g_l2pf;
        a.acqrel = g_acqrel ? 1 : 0;
        a.timing = g_timing && g_timing_entries >= (size_t)p.ctas * 4 ? g_timing : nullptr;
        if (p.splits > 1 && !a.cluster) {
            const size_t cb = align256(2 * (size_t)p.n_tiles * sizeof(int));   // arrive and depart counters
            const size_t need = cb + (size_t)p.splits * (p.path == 3 ? wg_part_rows(rows) : rows) * (size_t)l.n * sizeof(float);
            if (!workspace || workspace_bytes < need) return CudaStatus::workspace_too_small;
            a.counters = static_cast<int*>(workspace);
            a.partial = reinterpret_cast<float*>(static_cast<uint8_t*>(workspace) + cb);
            // One wave only (wg_reduce_coop: every CTA of a tile waits for all of them); not where
            // the kernel keeps row-major partials (M <= kWgRowMajorMaxRows).
            if (p.path == 3 && p.ctas <= p.sms * p.ctas_per_sm && rows > kWgRowMajorMaxRows &&
                (g_wgmma_coop > 0 || (g_wgmma_coop < 0 && p.splits >= kCoopMinSplits && rows >= kCoopMinRows)))
                a.acqrel |= kAcqrelCoop;
        }
        const KernelInfo& k = p.path == 3   ? g_wgmma[l.bits == 8][m_config(rows)][l.has_zero][l.grouped]
                              : p.path == 2 ? (p.shared_strips ? g_ctask_shared : ctask_kernel_for(l, p.warps_k))
                              : p.path == 1 ? stream_kernel_for(l, rows, p.smem_ring)
                                            : kernel_for(l, rows);
        cudaLaunchConfig_t cfg{};
        cfg.gridDim = dim3(p.ctas);
        cfg.blockDim = dim3(p.path == 2 ? 32 * p.warps_k : p.path == 1 ? kStreamThreads : kThreads);   // path 3: kWgThreads = kThreads
        cfg.dynamicSmemBytes = p.smem_ring > 0 ? smr_smem(rows, (p.k_stages + p.splits - 1) / p.splits, smr_depth(p.smem_ring))
                               : p.path == 2   ? ctask_smem(rows, l.k, p.warps_k, ctask_smr(l, p.warps_k))
                               : p.path == 1 ? stream_smem(p.rows_staged, (p.k_stages + p.splits - 1) / p.splits)
                                             : (size_t)k.smem;
        if (next && next_weights && m0 + rows >= M) handoff_args(*next, static_cast<const uint8_t*>(next_weights), p, cfg, &a);
        if (p.path == 1 && a.cluster)   // the partial tile reuses the activation slice
            cfg.dynamicSmemBytes = std::max(cfg.dynamicSmemBytes, (size_t)p.rows_staged * kRedStride * sizeof(float));
        cfg.stream = stream;
        cudaLaunchAttribute attr[2];
        int na = 0;
        if (g_pdl) {
            attr[na].id = cudaLaunchAttributeProgrammaticStreamSerialization;
            attr[na].val.programmaticStreamSerializationAllowed = 1;
            ++na;
        }
        if (a.cluster) {
            attr[na].id = cudaLaunchAttributeClusterDimension;
            attr[na].val.clusterDim.x = (unsigned)p.cluster;
            attr[na].val.clusterDim.y = 1;
            attr[na].val.clusterDim.z = 1;
            ++na;
        }
        cfg.attrs = attr;
        cfg.numAttrs = na;
        if (cudaLaunchKernelEx(&cfg, k.fn, a) != cudaSuccess) return CudaStatus::cuda_error;
    }
    return CudaStatus::ok;
}

}  // namespace qb::cuda
