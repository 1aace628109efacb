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
// units of 2 KiB of weights. The W = CTAs x kStepWarps warps of the grid take equal contiguous
// runs of units, warp gw units [gw U / W, (gw + 1) U / W) in strip-major order, so a run covers
// the tail of one strip and the head of the next (every warp streams the same bytes per layer,
// whatever the shape: no tail wave). A warp keeps one strip's FP32 partial in its
// accumulators and flushes it when its run leaves the strip:
//   * if the warp covered the whole strip, it writes Y directly;
//   * else it stores the partial into the strip's slot in the workspace (slot = gw minus the
//     strip's first warp), and the warp that brings the strip's counter to its number of
//     contributors adds the slots in slot order (deterministic: the same bits on every run)
//     and writes Y.
// Each strip's writer then bumps the layer's done counter (release). Before a CTA computes layer
// l + 1 it waits for layer l's counter to reach S (acquire) and stages layer l + 1's activations
// (M rows x K, FP16) in shared memory for ldmatrix: one barrier, one copy, one barrier, per CTA
// and layer. So a layer's input may be the previous layer's output (the GPU tests chain them).
// The CTAs spin on each other, so the grid must be co-resident: one CTA per SM, launched as a
// cooperative kernel (the launch fails rather than deadlocks if it cannot be).
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
    int maxc;                 // most warps sharing one strip: workspace slots per strip
    int pad[2];
};
static_assert(sizeof(StepLayer) == 64, "one 64-byte row per layer");

struct StepArgs {
    const StepLayer* layers;
    int n_layers, m;
    int* done;                // [n_layers] strips written, per layer (zero between launches)
    int* exits;               // [1] CTAs finished (the last one re-zeroes done)
    int* counters;            // [max strips] contributors arrived, per strip (reset by the writer)
    float* partial;           // [max strips][maxc][m][32] FP32
};

// A warp's position in its sequence of units: layer l, unit u, end of its run in layer l.
struct Cursor { int l, u, e; };

__device__ __forceinline__ void run_of(const StepLayer& L, unsigned gw, unsigned W, int* b, int* e) {
    *b = (int)(gw * (unsigned)L.units / W);   // the host checked units x W < 2^32
    *e = (int)((gw + 1) * (unsigned)L.units / W);
}

// The warp whose run holds unit u (runs may be empty when U < W: the last warp starting at
// or before u).
__device__ __forceinline__ int owner_of(const StepLayer& L, unsigned u, unsigned W) {
    return (int)(((u + 1) * W - 1) / (unsigned)L.units);
}

__device__ __forceinline__ void advance(Cursor& c, const StepLayer* layers, int n_layers, unsigned gw, unsigned W) {
    if (++c.u < c.e) return;
    while (++c.l < n_layers) {
        run_of(layers[c.l], gw, W, &c.u, &c.e);
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
    StepLayer* const lt = reinterpret_cast<StepLayer*>(smem);   // the layer table, then X
    uint8_t* const xs = smem + a.n_layers * sizeof(StepLayer);
    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
    const int g = lane >> 2, t = lane & 3;
    const unsigned W = gridDim.x * kStepWarps, gw = blockIdx.x * kStepWarps + warp;
    const int m_rows = a.m;
    for (int i = tid; i < a.n_layers * (int)(sizeof(StepLayer) / 16); i += kStepWarps * 32)
        reinterpret_cast<uint4*>(lt)[i] = reinterpret_cast<const uint4*>(a.layers)[i];
    __syncthreads();

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
    advance(ld, lt, a.n_layers, gw, W);
    advance(cp, lt, a.n_layers, gw, W);
#pragma unroll
    for (int d = 0; d < D; ++d)
        if (ld.l < a.n_layers) { load(wr[d], sr[d], ld); advance(ld, lt, a.n_layers, gw, W); }

    // Enter layer l (every warp of the CTA, each layer once, in order): wait until layer l - 1
    // is written, then stage X of layer l. The first barrier also means no warp still reads the
    // previous layer's X.
    int cur = -1;
    int row_bytes = 0;
    auto enter = [&](int l) {
        if (l > 0 && tid == 0) {
            const int want = lt[l - 1].n / 32;
            while (ld_acquire(a.done + l - 1) < want) __nanosleep(32);
        }
        cta_barrier();
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

    // The warp leaves strip sp of layer l: its partial to Y or to the strip's slot (see top).
    auto flush = [&](int l, int sp) {
        const StepLayer& L = lt[l];
        // Back to row-major: acc[j][e] = row g, column 8j + 2t + e (as wq_stream_kernel's epilogue).
        float acc[4][2];
        const int src_hi = g >> 1;
#pragma unroll
        for (int j = 0; j < 4; ++j) {
            const int i = j >> 1, e0 = 2 * (j & 1);
#pragma unroll
            for (int e = 0; e < 2; ++e) {
                const int src = 4 * (2 * t + e) + src_hi;
                const float v0 = __shfl_sync(0xffffffffu, xacc[i][e0], src), v1 = __shfl_sync(0xffffffffu, xacc[i][e0 + 1], src);
                acc[j][e] = (g & 1) ? v1 : v0;
            }
        }
#pragma unroll
        for (int i = 0; i < 2; ++i)
#pragma unroll
            for (int e = 0; e < 4; ++e) xacc[i][e] = 0.f;
        const unsigned u0 = (unsigned)sp * L.ks;
        const int first = owner_of(L, u0, W), n = owner_of(L, u0 + L.ks - 1, W) - first + 1;
        __half* const y = L.Y + (size_t)g * L.n + sp * 32 + 2 * t;
        if (n == 1) {
            if (g < m_rows)
#pragma unroll
                for (int j = 0; j < 4; ++j) *reinterpret_cast<__half2*>(y + 8 * j) = __floats2half2_rn(acc[j][0], acc[j][1]);
        } else {
            float* const slots = a.partial + (size_t)sp * L.maxc * m_rows * 32;
            float* const mine = slots + (size_t)((int)gw - first) * m_rows * 32 + g * 32 + 2 * t;
            if (g < m_rows)
#pragma unroll
                for (int j = 0; j < 4; ++j) __stcg(reinterpret_cast<float2*>(mine + 8 * j), make_float2(acc[j][0], acc[j][1]));
            __threadfence();
            int old = 0;
            if (lane == 0) old = atomicAdd(a.counters + sp, 1);
            old = __shfl_sync(0xffffffffu, old, 0);
            if (old != n - 1) return;   // a later contributor writes Y
            __threadfence();
            if (g < m_rows) {
#pragma unroll
                for (int j = 0; j < 4; ++j) {
                    float s0 = 0.f, s1 = 0.f;
                    for (int c = 0; c < n; ++c) {
                        const float2 v = __ldcg(reinterpret_cast<const float2*>(slots + (size_t)c * m_rows * 32 + g * 32 + 2 * t + 8 * j));
                        s0 += v.x;
                        s1 += v.y;
                    }
                    *reinterpret_cast<__half2*>(y + 8 * j) = __floats2half2_rn(s0, s1);
                }
            }
            if (lane == 0) a.counters[sp] = 0;   // for the next layer: it waits for this one's done count
        }
        __threadfence();
        __syncwarp();
        if (lane == 0) atomicAdd(a.done + l, 1);
    };

    bool more = cp.l < a.n_layers;
    while (more) {
#pragma unroll
        for (int d = 0; d < D; ++d) {
            if (more) {   // warp-uniform
                while (cur < cp.l) enter(++cur);
                compute(wr[d], sr[d], cp);
                const StepLayer& L = lt[cp.l];
                const int sp = cp.u / L.ks;
                if (cp.u + 1 == cp.e || (cp.u + 1) % L.ks == 0) flush(cp.l, sp);
                advance(cp, lt, a.n_layers, gw, W);
                more = cp.l < a.n_layers;
                if (ld.l < a.n_layers) { load(wr[d], sr[d], ld); advance(ld, lt, a.n_layers, gw, W); }
            }
        }
    }
    while (cur < a.n_layers - 1) enter(++cur);   // every warp takes part in every layer's barriers

    // The last CTA out re-zeroes the done counts for the next launch (stream order makes its
    // writes visible to it; the strip counters were reset by their writers).
    cta_barrier();
    if (tid == 0) {
        __threadfence();
        if (atomicAdd(a.exits, 1) == (int)gridDim.x - 1) {
            for (int l = 0; l < a.n_layers; ++l) a.done[l] = 0;
            *a.exits = 0;
            __threadfence();
        }
    }
}

size_t align256(size_t b) { return (b + 255) & ~(size_t)255; }

struct StepSizes { size_t table, done, counters, partial, total; int max_k, max_strips; };

bool step_layer_ok(const WqStepLayer& s, int M) {
    const WqLayout& l = s.l;
    auto aligned = [](const void* p) { return (reinterpret_cast<uintptr_t>(p) & 15u) == 0; };
    return l.bits == 4 && l.grouped && !l.has_zero && l.group % 128 == 0 && l.k % l.group == 0 && l.n % 128 == 0 &&
           l.k % 128 == 0 && l.n > 0 && l.k > 0 && s.weights && s.X && s.Y && aligned(s.weights) && aligned(s.X) &&
           aligned(s.Y) && M >= 1;
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

// Most warps sharing one strip under the grid's split (workspace slots per strip).
int max_contributors(int units, int ks, unsigned W) {
    int most = 1;
    const int strips = units / ks;
    for (int sp = 0; sp < strips; ++sp) {
        const unsigned u0 = (unsigned)sp * ks, u1 = u0 + ks - 1;
        const int first = (int)(((u0 + 1) * W - 1) / (unsigned)units), last = (int)(((u1 + 1) * W - 1) / (unsigned)units);
        most = std::max(most, last - first + 1);
    }
    return most;
}

StepSizes step_sizes(const WqStepLayer* layers, int n, int M, unsigned W) {
    StepSizes z{};
    size_t part = 0;
    for (int i = 0; i < n; ++i) {
        const WqLayout& l = layers[i].l;
        const int ks = l.k / 128, strips = l.n / 32;
        z.max_k = std::max(z.max_k, l.k);
        z.max_strips = std::max(z.max_strips, strips);
        part = std::max(part, (size_t)strips * max_contributors(strips * ks, ks, W) * M * 32 * sizeof(float));
    }
    z.table = align256((size_t)n * sizeof(StepLayer));
    z.done = align256((size_t)(n + 1) * sizeof(int));
    z.counters = align256((size_t)z.max_strips * sizeof(int));
    z.partial = part;
    z.total = z.table + z.done + z.counters + z.partial;
    return z;
}

size_t step_smem(int n, int M, int max_k) { return (size_t)n * sizeof(StepLayer) + (size_t)M * (max_k * 2 + 16) + 16; }

// Grid: one CTA per SM (the kernel's registers allow no more), so the same W for sizing here
// and in wq_step_prepare.
unsigned step_warps() { return (unsigned)step_sms() * kStepWarps; }

}  // namespace

size_t wq_step_workspace_bytes(const WqStepLayer* layers, int n, int M) {
    if (!layers || n < 1 || M < 1 || M > kStepMaxM || step_sms() <= 0) return 0;
    return step_sizes(layers, n, M, step_warps()).total;
}

CudaStatus wq_step_prepare(const WqStepLayer* layers, int n, int M, void* workspace, size_t workspace_bytes, WqStep* out) {
    if (!layers || !out || n < 1 || n > kStepMaxLayers || M < 1 || !workspace) return CudaStatus::bad_argument;
    if (M > kStepMaxM) return CudaStatus::unsupported;
    if ((reinterpret_cast<uintptr_t>(workspace) & 255u) != 0) return CudaStatus::bad_argument;
    for (int i = 0; i < n; ++i) {
        const WqLayout& l = layers[i].l;
        if (l.bits != 4 || !l.grouped || l.has_zero || l.group % 128 != 0) return CudaStatus::unsupported;
        if (!step_layer_ok(layers[i], M)) return CudaStatus::bad_argument;
    }
    const int sms = step_sms();
    if (sms <= 0) return CudaStatus::cuda_error;
    const unsigned W = step_warps();
    for (int i = 0; i < n; ++i) {   // the kernel's 32-bit unit arithmetic: units x W < 2^32
        const unsigned long long units = (unsigned long long)(layers[i].l.n / 32) * (layers[i].l.k / 128);
        if (units * W >= (1ull << 32)) return CudaStatus::unsupported;
    }
    const StepSizes z = step_sizes(layers, n, M, W);
    if (workspace_bytes < z.total) return CudaStatus::workspace_too_small;
    const size_t smem = step_smem(n, M, z.max_k);
    int optin = 0, dev = 0;
    if (cudaGetDevice(&dev) != cudaSuccess || cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev) != cudaSuccess)
        return CudaStatus::cuda_error;
    if (smem > (size_t)optin) return CudaStatus::unsupported;   // M x K activations do not fit
    if (cudaFuncSetAttribute(wq_step_kernel<kStepDepth>, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem) != cudaSuccess)
        return CudaStatus::cuda_error;
    int per_sm = 0;
    if (cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, wq_step_kernel<kStepDepth>, kStepWarps * 32, smem) != cudaSuccess)
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
        L.maxc = max_contributors(L.units, L.ks, W);
    }
    if (cudaMemcpy(ws, table.data(), (size_t)n * sizeof(StepLayer), cudaMemcpyHostToDevice) != cudaSuccess ||
        cudaMemset(ws + z.table, 0, z.done + z.counters) != cudaSuccess)
        return CudaStatus::cuda_error;
    WqStep st;
    st.n_layers = n;
    st.m = M;
    st.ctas = sms;
    st.threads = kStepWarps * 32;
    st.smem = smem;
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
