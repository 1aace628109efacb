// wq_step.cu: every W4A16 layer of a decode step in one persistent kernel (wq_step_prepare,
// wq_step_run in cuda_kernels.h).
//
// Why. At batch 1 each layer of a step is one launch of wna16.cu's kernels, and every launch
// boundary idles HBM: the last warps compute, reduce and exit, the next grid's CTAs get SM
// slots, and only then does most of the next layer's weight stream start (PDL and the hand-off
// prefetch hide part of it). On the H200 the four layer types of Llama-2-7B stream at 49-73% of
// the copy probe one launch at a time, while the one long layer (8192x28672) reaches 82%
// (docs/cuda-kernels.md). Here one CTA of kStepWarps warps per SM stays resident for the whole
// step, and each warp's register ring runs across layer boundaries: the weights of layer l + 1
// (constant data) are in flight while layer l is still being reduced, and only the activations
// wait for layer l to finish.
//
// Work split. Layer l is S = N / 32 strips of 32 columns times KS = K / 128 k-stages: U = S x KS
// units of 2 KiB of weights, in strip-major order. CTA c of the G CTAs takes units
// [c U / G, (c + 1) U / G) and splits them evenly over its kStreamWarps streaming warps, so
// every SM streams the same bytes per layer whatever the shape (no tail wave). A warp keeps one
// strip's FP32 partial in its accumulators and, when its run leaves the strip, stores it in
// shared memory: no fence, no atomic, the ring keeps streaming.
//
// Layer boundary (every warp of the CTA, each layer once, in order):
//   1. barrier: layer l's partials of this CTA are in shared memory;
//   2. the CTA's service warp (the 16th, which streams nothing, so its fences do not wait on
//      in-flight weight loads) adds them per strip in warp order. A strip wholly inside the
//      CTA's range goes to Y; the (at most two) strips shared with neighbouring CTAs go to
//      their slots in the workspace, and the CTA that arrives last at a strip's counter adds
//      the slots in CTA order and writes Y (deterministic: the same bits on every run). One
//      release adds the CTA's written strips to layer l's done count; then the service warp
//      waits (acquire) until all S strips of layer l are written;
//   3. barrier; all threads stage layer l + 1's activations (M rows x K, FP16) in shared
//      memory for ldmatrix; barrier.
// So a layer's input may be the previous layer's output (the GPU tests chain them), while the
// streaming warps' rings already hold the next layer's first weights. The CTAs spin on each
// other, so the grid must be co-resident: one CTA per SM, launched as a cooperative kernel
// (the launch fails rather than deadlocks if it cannot be).
//
// The per-unit math is the streaming kernel's for INT4 group >= 128 without zeros at M <= 8
// (wq_stream_kernel with SWAP and ACCS in wna16.cu): the dequantized weights are the MMA's A
// operand (16 columns x k16), the activations B (k16 x 8 rows, rows >= M read a zero line), and
// each stage's FP32 partial is scaled by its group scale on the accumulators.
#include <cuda_fp16.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "cuda_kernels.h"
#include "wq_device.cuh"

namespace qb::cuda {

namespace {

using namespace wqdev;

constexpr int kStepWarps = 16;       // one CTA of 16 warps per SM (<= 128 registers a thread)
constexpr int kStreamWarps = kStepWarps - 1;   // the last warp is the service warp
constexpr int kStepDepth = 3;        // register-ring depth: 3 x 2 KiB of weights in flight a warp
constexpr int kAtom = 512;           // bytes of one 32 x 32 INT4 atom (32 lanes x 16 B)
constexpr int kStage = 4 * kAtom;    // one unit: 4 atoms = 128 k of a 32-column strip

// One layer as the kernel sees it (the table lives at the head of the workspace).
struct StepLayer {
    const uint8_t* q;         // shuffled weights (wq_shuffle)
    const __half* scales;     // [K / group][N], permuted within strips
    const __half* X;          // [M][K]
    __half* Y;                // [M][N]
    int n, k, ks, units;      // N, K, K / 128, (N / 32) x ks
    int group_stages;         // group / 128: k-stages per scale row
    int maxc;                 // most CTAs sharing one strip: workspace slots per strip
    int pad[2];
};
static_assert(sizeof(StepLayer) == 64, "one 64-byte row per layer");

struct StepArgs {
    const StepLayer* layers;
    int n_layers, m;
    int* done;                // [n_layers] strips written, per layer (zero between launches)
    int* exits;               // [1] CTAs finished (the last one re-zeroes done)
    int* counters;            // [max strips] CTAs arrived, per strip (reset by the writer)
    float* partial;           // [max strips][maxc][m][32] FP32
    int x_bytes;              // shared memory for the activations (then the warps' partials)
    int seg_max;              // most strips one warp's run touches in any layer
};

// A warp's position in its sequence of units: layer l, unit u, end of its run in layer l.
struct Cursor { int l, u, e; };

// CTA c's units of layer L, and warp w's share of them. The host checked units x G < 2^32.
__device__ __forceinline__ void cta_run(const StepLayer& L, unsigned c, unsigned G, int* b, int* e) {
    *b = (int)(c * (unsigned)L.units / G);
    *e = (int)((c + 1) * (unsigned)L.units / G);
}
__device__ __forceinline__ void warp_run(int cb, int ce, int w, int* b, int* e) {
    const int n = ce - cb;
    *b = cb + w * n / kStreamWarps;
    *e = cb + (w + 1) * n / kStreamWarps;
}

// The CTA whose range holds unit u (ranges may be empty when U < G: the last CTA starting at
// or before u).
__device__ __forceinline__ int cta_of(const StepLayer& L, unsigned u, unsigned G) {
    return (int)(((u + 1) * G - 1) / (unsigned)L.units);
}

__device__ __forceinline__ void advance(Cursor& c, const StepLayer* layers, int n_layers, unsigned cta, unsigned G, int w) {
    if (++c.u < c.e) return;
    while (++c.l < n_layers) {
        int cb, ce;
        cta_run(layers[c.l], cta, G, &cb, &ce);
        warp_run(cb, ce, w, &c.u, &c.e);
        if (c.u < c.e) return;
    }
}

// A CTA barrier that warps may reach from different places in the code (bar.sync / __syncthreads
// is .aligned: every warp must execute the same instruction). Warps here enter a layer from
// whichever unrolled ring slot they are at.
__device__ __forceinline__ void cta_barrier() { asm volatile("barrier.sync 1;\n" ::: "memory"); }

__device__ __forceinline__ int ld_acquire(const int* p) {
    int v;
    asm volatile("ld.acquire.gpu.global.b32 %0, [%1];\n" : "=r"(v) : "l"(p) : "memory");
    return v;
}

template <int D>
__global__ void __launch_bounds__(kStepWarps * 32, 1) wq_step_kernel(const StepArgs a) {
    extern __shared__ __align__(128) uint8_t smem[];
    // Shared memory: the layer table, the activations of the current layer, the warps' partials
    // [kStreamWarps][seg_max][m][32] FP32.
    StepLayer* const lt = reinterpret_cast<StepLayer*>(smem);
    uint8_t* const xs = smem + a.n_layers * sizeof(StepLayer);
    float* const red = reinterpret_cast<float*>(xs + a.x_bytes);
    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
    const int g = lane >> 2, t = lane & 3;
    const unsigned G = gridDim.x, cta = blockIdx.x;
    const int m_rows = a.m, nl = a.n_layers;
    for (int i = tid; i < nl * (int)(sizeof(StepLayer) / 16); i += kStepWarps * 32)
        reinterpret_cast<uint4*>(lt)[i] = reinterpret_cast<const uint4*>(a.layers)[i];
    __syncthreads();

    // The service warp, boundary step 2: layer l's partials of this CTA to Y or the workspace,
    // then (unless it is the last layer) wait until every strip of layer l is written.
    auto publish = [&](int l) {
        const StepLayer& L = lt[l];
        int cb, ce;
        cta_run(L, cta, G, &cb, &ce);
        int written = 0;
        if (cb < ce) {
            const int s0 = cb / L.ks, s1 = (ce - 1) / L.ks;
            for (int sp = s0; sp <= s1; ++sp) {
                const int u0 = sp * L.ks, u1 = u0 + L.ks;
                float v[kStepMaxM];
#pragma unroll
                for (int r = 0; r < kStepMaxM; ++r) v[r] = 0.f;
                for (int w = 0; w < kStreamWarps; ++w) {   // warp order: deterministic
                    int wb, we;
                    warp_run(cb, ce, w, &wb, &we);
                    if (max(wb, u0) >= min(we, u1)) continue;
                    const float* p = red + ((size_t)(w * a.seg_max + (sp - wb / L.ks)) * m_rows) * 32 + lane;
#pragma unroll
                    for (int r = 0; r < kStepMaxM; ++r)
                        if (r < m_rows) v[r] += p[r * 32];
                }
                if (cb <= u0 && u1 <= ce) {   // the whole strip is this CTA's
#pragma unroll
                    for (int r = 0; r < kStepMaxM; ++r)
                        if (r < m_rows) L.Y[(size_t)r * L.n + sp * 32 + lane] = __float2half_rn(v[r]);
                    ++written;
                } else {
                    // Slot of this CTA among the strip's: with U < G every non-empty CTA holds one unit.
                    const int my = L.units >= (int)G ? (int)cta - cta_of(L, u0, G) : cb - u0;
                    float* const slot = a.partial + ((size_t)(sp * L.maxc + my) * m_rows) * 32 + lane;
#pragma unroll
                    for (int r = 0; r < kStepMaxM; ++r)
                        if (r < m_rows) __stcg(slot + r * 32, v[r]);
                }
            }
            __threadfence();   // the slots above before the counters below (release)
            for (int sp = s0; sp <= s1; ++sp) {
                const int u0 = sp * L.ks, u1 = u0 + L.ks;
                if (cb <= u0 && u1 <= ce) continue;
                // CTAs holding the strip: every CTA in between when U >= G (none is empty), else
                // one per unit (the CTAs in between may be empty).
                const int n = L.units >= (int)G ? cta_of(L, u1 - 1, G) - cta_of(L, u0, G) + 1 : L.ks;
                int old = 0;
                if (lane == 0) old = atomicAdd(a.counters + sp, 1);
                old = __shfl_sync(0xffffffffu, old, 0);
                if (old != n - 1) continue;   // a later CTA writes this strip
                __threadfence();   // acquire: the other CTAs' slots
                const float* slots = a.partial + (size_t)sp * L.maxc * m_rows * 32 + lane;
                float v[kStepMaxM];
#pragma unroll
                for (int r = 0; r < kStepMaxM; ++r) v[r] = 0.f;
                for (int c = 0; c < n; ++c)   // CTA order: deterministic
#pragma unroll
                    for (int r = 0; r < kStepMaxM; ++r)
                        if (r < m_rows) v[r] += __ldcg(slots + ((size_t)c * m_rows + r) * 32);
#pragma unroll
                for (int r = 0; r < kStepMaxM; ++r)
                    if (r < m_rows) L.Y[(size_t)r * L.n + sp * 32 + lane] = __float2half_rn(v[r]);
                if (lane == 0) a.counters[sp] = 0;   // reused by a later layer, after this one's done count
                ++written;
            }
        }
        if (written > 0) {
            __threadfence();
            __syncwarp();
            if (lane == 0) atomicAdd(a.done + l, written);
        }
        if (l + 1 < nl) {
            if (lane == 0) {
                const int want = L.n / 32;
                while (ld_acquire(a.done + l) < want) __nanosleep(32);
            }
            __syncwarp();
        }
    };

    // Enter layer l (l == nl: the end): see the boundary steps at the top.
    int row_bytes = 0;
    auto enter = [&](int l) {
        cta_barrier();
        if (warp == kStreamWarps && l > 0) publish(l - 1);
        cta_barrier();
        if (l == nl) return;
        const StepLayer& L = lt[l];
        row_bytes = L.k * 2 + 16;
        const int cpr = L.k / 8;   // 16-byte chunks per row
        for (int i = tid; i < m_rows * cpr; i += kStepWarps * 32) {
            const int r = i / cpr, c = i - r * cpr;
            *reinterpret_cast<uint4*>(xs + r * row_bytes + c * 16) = __ldcg(reinterpret_cast<const uint4*>(L.X + (size_t)r * L.k) + c);
        }
        if (tid < 4) reinterpret_cast<uint32_t*>(xs + m_rows * row_bytes)[tid] = 0u;
        cta_barrier();
    };

    if (warp == kStreamWarps) {
        for (int l = 0; l <= nl; ++l) enter(l);
    } else {
        uint4 wr[D][4];   // the ring: 4 atoms of weights and 16 bytes of scales per stage
        uint4 sr[D];
        auto load = [&](uint4 (&w)[4], uint4& s, const Cursor& c) {
            const StepLayer& L = lt[c.l];
            const int sp = c.u / L.ks, kst = c.u - sp * L.ks;
            const uint8_t* p = L.q + ((size_t)sp * L.ks + kst) * kStage + lane * 16;
#pragma unroll
            for (int at = 0; at < 4; ++at) w[at] = ld_stream(p + at * kAtom);
            // Columns 8j + g of the strip sit at scale positions 4g + j: lanes g and g ^ 1 share 16 bytes.
            s = __ldg(reinterpret_cast<const uint4*>(L.scales + (size_t)(kst / L.group_stages) * L.n + sp * 32 + (g >> 1) * 8));
        };
        Cursor ld{-1, 0, 0}, cp{-1, 0, 0};
        advance(ld, lt, nl, cta, G, warp);
        advance(cp, lt, nl, cta, G, warp);
#pragma unroll
        for (int d = 0; d < D; ++d)
            if (ld.l < nl) { load(wr[d], sr[d], ld); advance(ld, lt, nl, cta, G, warp); }

        float xacc[2][4];   // D of the 16-column tiles i: columns 16i + g + 8 (e >> 1), row 2t + (e & 1)
#pragma unroll
        for (int i = 0; i < 2; ++i)
#pragma unroll
            for (int e = 0; e < 4; ++e) xacc[i][e] = 0.f;

        auto compute = [&](const uint4 (&w)[4], const uint4& s, const Cursor& c) {
            const StepLayer& L = lt[c.l];
            const int kst = c.u % L.ks;
            const bool xvalid = (lane & 7) < m_rows;
            const uint8_t* const xrow = xvalid ? xs + (lane & 7) * row_bytes + (lane >> 3) * 16 : xs + m_rows * row_bytes;
            float xt[2][2][4];
#pragma unroll
            for (int p = 0; p < 2; ++p)
#pragma unroll
                for (int i = 0; i < 2; ++i)
#pragma unroll
                    for (int e = 0; e < 4; ++e) xt[p][i][e] = 0.f;
#pragma unroll
            for (int at = 0; at < 4; ++at) {
                uint32_t lo[4];
                ldmatrix_x4(lo, xrow + (xvalid ? (kst * 4 + at) * 64 : 0));
#pragma unroll
                for (int st = 0; st < 2; ++st) {
                    uint32_t bw[4][2];
#pragma unroll
                    for (int j = 0; j < 4; ++j) {
                        const uint32_t q = word_of(w[at], j);
                        dequant4(st == 0 ? q : q >> 8, kSym4Lo, kSym4HiNeg, bw[j]);
                    }
#pragma unroll
                    for (int i = 0; i < 2; ++i) {
                        const uint32_t wa[4] = {bw[2 * i][0], bw[2 * i + 1][0], bw[2 * i][1], bw[2 * i + 1][1]};
                        mma_16816(xt[st][i], wa, lo[2 * st], lo[2 * st + 1]);
                    }
                }
            }
            const uint2 sg = (g & 1) ? make_uint2(s.z, s.w) : make_uint2(s.x, s.y);
            const __half* hs = reinterpret_cast<const __half*>(&sg);
#pragma unroll
            for (int i = 0; i < 2; ++i)
#pragma unroll
                for (int e = 0; e < 4; ++e) xacc[i][e] = fmaf(xt[0][i][e] + xt[1][i][e], __half2float(hs[2 * i + (e >> 1)]), xacc[i][e]);
        };

        // The warp leaves strip sp of layer l: its partial into its shared-memory slot for that
        // strip, row-major (as wq_stream_kernel's epilogue: acc[j][e] = row g, column 8j + 2t + e).
        auto flush = [&](const Cursor& c, int sp) {
            const StepLayer& L = lt[c.l];
            int cb, ce, wb, we;
            cta_run(L, cta, G, &cb, &ce);
            warp_run(cb, ce, warp, &wb, &we);
            float* const slot = red + ((size_t)(warp * a.seg_max + (sp - wb / L.ks)) * m_rows + g) * 32 + 2 * t;
            const int src_hi = g >> 1;
#pragma unroll
            for (int j = 0; j < 4; ++j) {
                const int i = j >> 1, e0 = 2 * (j & 1);
                float v[2];
#pragma unroll
                for (int e = 0; e < 2; ++e) {
                    const int src = 4 * (2 * t + e) + src_hi;
                    const float v0 = __shfl_sync(0xffffffffu, xacc[i][e0], src), v1 = __shfl_sync(0xffffffffu, xacc[i][e0 + 1], src);
                    v[e] = (g & 1) ? v1 : v0;
                }
                if (g < m_rows) *reinterpret_cast<float2*>(slot + 8 * j) = make_float2(v[0], v[1]);
            }
#pragma unroll
            for (int i = 0; i < 2; ++i)
#pragma unroll
                for (int e = 0; e < 4; ++e) xacc[i][e] = 0.f;
        };

        int cur = -1;
        bool more = cp.l < nl;
        while (more) {
#pragma unroll
            for (int d = 0; d < D; ++d) {
                if (more) {   // warp-uniform
                    while (cur < cp.l) enter(++cur);
                    compute(wr[d], sr[d], cp);
                    const StepLayer& L = lt[cp.l];
                    if (cp.u + 1 == cp.e || (cp.u + 1) % L.ks == 0) flush(cp, cp.u / L.ks);
                    advance(cp, lt, nl, cta, G, warp);
                    more = cp.l < nl;
                    if (ld.l < nl) { load(wr[d], sr[d], ld); advance(ld, lt, nl, cta, G, warp); }
                }
            }
        }
        while (cur < nl) enter(++cur);   // every warp takes part in every boundary, and the end
    }

    // The last CTA out re-zeroes the done counts for the next launch (stream order makes its
    // writes visible to it; the strip counters were reset by their writers).
    if (tid == 0) {
        __threadfence();
        if (atomicAdd(a.exits, 1) == (int)gridDim.x - 1) {
            for (int l = 0; l < nl; ++l) a.done[l] = 0;
            *a.exits = 0;
            __threadfence();
        }
    }
}

size_t align256(size_t b) { return (b + 255) & ~(size_t)255; }

struct StepSizes { size_t table, done, counters, partial, total, x_bytes, smem; int max_k, max_strips, seg_max; };

bool step_layer_ok(const WqStepLayer& s) {
    const WqLayout& l = s.l;
    auto aligned = [](const void* p) { return (reinterpret_cast<uintptr_t>(p) & 15u) == 0; };
    return l.n % 128 == 0 && l.k % 128 == 0 && l.n > 0 && l.k > 0 && l.k % l.group == 0 && s.weights && s.X && s.Y &&
           aligned(s.weights) && aligned(s.X) && aligned(s.Y);
}

int g_step_sms = 0;
int step_sms() {
    if (g_step_sms == 0) {
        int dev = 0;
        if (cudaGetDevice(&dev) != cudaSuccess || cudaDeviceGetAttribute(&g_step_sms, cudaDevAttrMultiProcessorCount, dev) != cudaSuccess)
            g_step_sms = 0;
    }
    return g_step_sms;
}

// The kernel's split (cta_run, warp_run, cta_of) on the host, for the workspace and shared
// memory it needs: the most CTAs sharing one strip (workspace slots per strip) and the most
// strips one warp's run touches (its shared-memory partial slots).
struct SplitStats { int maxc = 1, seg_max = 1; };
SplitStats split_stats(int units, int ks, unsigned G) {
    SplitStats st;
    for (unsigned c = 0; c < G; ++c) {
        const int cb = (int)(c * (unsigned)units / G), ce = (int)((c + 1) * (unsigned)units / G);
        if (cb >= ce) continue;
        // CTAs sharing the strips at both ends of this CTA's range (as publish counts them).
        for (int sp : {cb / ks, (ce - 1) / ks}) {
            const unsigned u0 = (unsigned)sp * ks, u1 = u0 + ks - 1;
            const int first = (int)(((u0 + 1) * G - 1) / (unsigned)units), last = (int)(((u1 + 1) * G - 1) / (unsigned)units);
            st.maxc = std::max(st.maxc, units >= (int)G ? last - first + 1 : ks);
        }
        for (int w = 0; w < kStreamWarps; ++w) {
            const int n = ce - cb, wb = cb + w * n / kStreamWarps, we = cb + (w + 1) * n / kStreamWarps;
            if (wb < we) st.seg_max = std::max(st.seg_max, (we - 1) / ks - wb / ks + 1);
        }
    }
    return st;
}

StepSizes step_sizes(const WqStepLayer* layers, int n, int M, unsigned G) {
    StepSizes z{};
    size_t part = 0;
    for (int i = 0; i < n; ++i) {
        const WqLayout& l = layers[i].l;
        const int ks = l.k / 128, strips = l.n / 32;
        const SplitStats st = split_stats(strips * ks, ks, G);
        z.max_k = std::max(z.max_k, l.k);
        z.max_strips = std::max(z.max_strips, strips);
        z.seg_max = std::max(z.seg_max, st.seg_max);
        part = std::max(part, (size_t)strips * st.maxc * M * 32 * sizeof(float));
    }
    z.table = align256((size_t)n * sizeof(StepLayer));
    z.done = align256((size_t)(n + 1) * sizeof(int));
    z.counters = align256((size_t)z.max_strips * sizeof(int));
    z.partial = part;
    z.total = z.table + z.done + z.counters + z.partial;
    // Shared memory: the layer table, M rows of activations (padded by 16 bytes: conflict-free
    // ldmatrix) and a zero line, the streaming warps' partial slots.
    z.x_bytes = ((size_t)M * (z.max_k * 2 + 16) + 16 + 15) & ~(size_t)15;
    z.smem = (size_t)n * sizeof(StepLayer) + z.x_bytes + (size_t)kStreamWarps * z.seg_max * M * 32 * sizeof(float);
    return z;
}

// Grid: one CTA per SM (the kernel's registers allow no more).
unsigned step_ctas() { return (unsigned)step_sms(); }

}  // namespace

size_t wq_step_workspace_bytes(const WqStepLayer* layers, int n, int M) {
    if (!layers || n < 1 || M < 1 || M > kStepMaxM || step_sms() <= 0) return 0;
    return step_sizes(layers, n, M, step_ctas()).total;
}

CudaStatus wq_step_prepare(const WqStepLayer* layers, int n, int M, void* workspace, size_t workspace_bytes, WqStep* out) {
    if (!layers || !out || n < 1 || n > kStepMaxLayers || M < 1 || !workspace) return CudaStatus::bad_argument;
    if (M > kStepMaxM) return CudaStatus::unsupported;
    if ((reinterpret_cast<uintptr_t>(workspace) & 255u) != 0) return CudaStatus::bad_argument;
    for (int i = 0; i < n; ++i) {
        const WqLayout& l = layers[i].l;
        if (l.bits != 4 || !l.grouped || l.has_zero || l.group % 128 != 0) return CudaStatus::unsupported;
        if (!step_layer_ok(layers[i])) return CudaStatus::bad_argument;
    }
    const int sms = step_sms();
    if (sms <= 0) return CudaStatus::cuda_error;
    const unsigned G = step_ctas();
    for (int i = 0; i < n; ++i) {   // the kernel's 32-bit unit arithmetic: (units + 1) x G < 2^32
        const unsigned long long units = (unsigned long long)(layers[i].l.n / 32) * (layers[i].l.k / 128);
        if ((units + 1) * G >= (1ull << 32)) return CudaStatus::unsupported;
    }
    const StepSizes z = step_sizes(layers, n, M, G);
    if (workspace_bytes < z.total) return CudaStatus::workspace_too_small;
    int optin = 0, dev = 0;
    if (cudaGetDevice(&dev) != cudaSuccess || cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev) != cudaSuccess)
        return CudaStatus::cuda_error;
    if (z.smem > (size_t)optin) return CudaStatus::unsupported;   // M x K activations do not fit
    if (cudaFuncSetAttribute(wq_step_kernel<kStepDepth>, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)z.smem) != cudaSuccess)
        return CudaStatus::cuda_error;
    int per_sm = 0;
    if (cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, wq_step_kernel<kStepDepth>, kStepWarps * 32, z.smem) != cudaSuccess)
        return CudaStatus::cuda_error;
    if (per_sm < 1) return CudaStatus::unsupported;

    uint8_t* const ws = static_cast<uint8_t*>(workspace);
    std::vector<StepLayer> table(n);
    for (int i = 0; i < n; ++i) {
        const WqStepLayer& s = layers[i];
        StepLayer& L = table[i];
        std::memset(&L, 0, sizeof(L));
        L.q = static_cast<const uint8_t*>(s.weights) + s.l.q_offset;
        L.scales = reinterpret_cast<const __half*>(static_cast<const uint8_t*>(s.weights) + s.l.scale_offset);
        L.X = static_cast<const __half*>(s.X);
        L.Y = static_cast<__half*>(s.Y);
        L.n = s.l.n;
        L.k = s.l.k;
        L.ks = s.l.k / 128;
        L.units = (s.l.n / 32) * L.ks;
        L.group_stages = s.l.group / 128;
        L.maxc = split_stats(L.units, L.ks, G).maxc;
    }
    if (cudaMemcpy(ws, table.data(), (size_t)n * sizeof(StepLayer), cudaMemcpyHostToDevice) != cudaSuccess ||
        cudaMemset(ws + z.table, 0, z.done + z.counters) != cudaSuccess)
        return CudaStatus::cuda_error;
    WqStep st;
    st.n_layers = n;
    st.m = M;
    st.ctas = (int)G;
    st.threads = kStepWarps * 32;
    st.smem = z.smem;
    st.x_bytes = z.x_bytes;
    st.seg_max = z.seg_max;
    st.workspace = workspace;
    st.done_offset = z.table;
    st.counters_offset = z.table + z.done;
    st.partial_offset = z.table + z.done + z.counters;
    *out = st;
    return CudaStatus::ok;
}

CudaStatus wq_step_run(const WqStep& s, cudaStream_t stream) {
    if (!s.workspace || s.n_layers < 1 || s.ctas < 1) return CudaStatus::bad_argument;
    uint8_t* const ws = static_cast<uint8_t*>(s.workspace);
    StepArgs a;
    a.layers = reinterpret_cast<const StepLayer*>(ws);
    a.n_layers = s.n_layers;
    a.m = s.m;
    a.done = reinterpret_cast<int*>(ws + s.done_offset);
    a.exits = a.done + s.n_layers;
    a.counters = reinterpret_cast<int*>(ws + s.counters_offset);
    a.partial = reinterpret_cast<float*>(ws + s.partial_offset);
    a.x_bytes = (int)s.x_bytes;
    a.seg_max = s.seg_max;
    cudaLaunchConfig_t cfg{};
    cfg.gridDim = dim3(s.ctas);
    cfg.blockDim = dim3(s.threads);
    cfg.dynamicSmemBytes = s.smem;
    cfg.stream = stream;
    // Cooperative: the CTAs wait on each other, so all must be resident at once; the launch
    // fails instead of hanging when they cannot be.
    cudaLaunchAttribute attr[1];
    attr[0].id = cudaLaunchAttributeCooperative;
    attr[0].val.cooperative = 1;
    cfg.attrs = attr;
    cfg.numAttrs = 1;
    return cudaLaunchKernelEx(&cfg, wq_step_kernel<kStepDepth>, a) == cudaSuccess ? CudaStatus::ok : CudaStatus::cuda_error;
}

}  // namespace qb::cuda
