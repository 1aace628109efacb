// cublaslt_gemm.cu: the library paths, all through cuBLASLt, plus the small kernels they need.
//
//   fp16 / bf16  the dense baselines every quantized kernel is compared against
//   fp8          W8A8 with E4M3 weights and activations, per-tensor FP32 scales, FP16 output
//                (sm_89 / sm_90 tensor cores; Hopper's fast-accumulation mode on, as
//                TensorRT-LLM and vLLM run it)
//   int8         W8A8 with INT8 weights and per-row INT8 activations: cuBLASLt's IMMA path
//                accumulates exactly in INT32 (Hopper offers INT8 x INT8 only with INT32 or INT8
//                outputs), then epilogue_int8 applies qformat.h's rule
//                Y = fp16((float(acc) x sx[m]) x sw[n]) in one pass over the M x N INT32 buffer.
//
// Layout: qbench's row-major Y[M][N] = X[M][K] . W^T is, in cuBLAS's column-major terms,
// Y^T (N x M) = W (stored K x N, op T) x X^T (K x M, op N): the "TN" GEMM with m = N, n = M,
// k = K, lda = ldb = K, ldc = N. TN is also the only layout Hopper's FP8 GEMMs accept.
#include <cublasLt.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_fp8.h>

#include <cstdint>
#include <cstdio>
#include <new>

#include "cuda_kernels.h"

namespace qb::cuda {

struct LtGemm {
    LtKind kind = LtKind::fp16;
    int M = 0, N = 0, K = 0;
    cublasLtHandle_t handle = nullptr;
    cublasLtMatmulDesc_t op = nullptr;
    cublasLtMatrixLayout_t la = nullptr, lb = nullptr, lc = nullptr;
    cublasLtMatmulAlgo_t algo{};
    cublasLtMatmulHeuristicResult_t cand[8] = {};   // heuristic results, best first
    int n_cand = 0, cur = 0;                         // lt_run falls back along cand if one fails
    void* workspace = nullptr;
    size_t workspace_bytes = 0;
    const float* x_scale = nullptr;   // fp8: the scale pointers the descriptor holds
    const float* w_scale = nullptr;
    int fp8_variant = 0;              // fp8: which descriptor variant is in use (see fp8_variant_desc)
    int last_status = 0;              // cublasStatus_t of the last failed call (0: none)
    char desc[160] = {};
};

namespace {
thread_local int t_last_status = 0;
}

namespace {

bool lt_ok(cublasStatus_t s) {
    if (s != CUBLAS_STATUS_SUCCESS) t_last_status = (int)s;
    return s == CUBLAS_STATUS_SUCCESS;
}

// Y[m][n] = fp16((float(acc[m][n]) x sx[m]) x sw[n]), two columns per thread. The multiplies
// are separate, in this order, with FP contraction off in spirit (__fmul_rn cannot fuse), so
// the FP32 value before the FP16 rounding is bit-identical to matmul_w8a8_ref's.
__global__ void epilogue_int8(const int32_t* __restrict__ acc, const float* __restrict__ sx, const float* __restrict__ sw,
                              __half* __restrict__ Y, int M, int N) {
    const size_t pairs = (size_t)M * N / 2;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < pairs; i += (size_t)gridDim.x * blockDim.x) {
        const size_t e = 2 * i;
        const int m = (int)(e / N), n = (int)(e % N);
        const int2 a = reinterpret_cast<const int2*>(acc)[i];
        const float y0 = __fmul_rn(__fmul_rn((float)a.x, sx[m]), sw[n]);
        const float y1 = __fmul_rn(__fmul_rn((float)a.y, sx[m]), sw[n + 1]);
        reinterpret_cast<__half2*>(Y)[i] = __floats2half2_rn(y0, y1);
    }
}

// One warp per row: amax by shuffle, then the same float operations as quantize_act_ref.
__global__ void quantize_rows_int8(const __half* __restrict__ X, int M, int K, int8_t* __restrict__ Xq, float* __restrict__ sx) {
    const int warp = (int)((blockIdx.x * blockDim.x + threadIdx.x) >> 5), lane = threadIdx.x & 31;
    if (warp >= M) return;
    const __half* x = X + (size_t)warp * K;
    float amax = 0.f;
    for (int k = lane; k < K; k += 32) amax = fmaxf(amax, fabsf(__half2float(x[k])));
    for (int o = 16; o > 0; o >>= 1) amax = fmaxf(amax, __shfl_xor_sync(0xffffffffu, amax, o));
    int8_t* q = Xq + (size_t)warp * K;
    if (amax == 0.f) {
        for (int k = lane; k < K; k += 32) q[k] = 0;
        if (lane == 0) sx[warp] = 0.f;
        return;
    }
    const float inv = __fdiv_rn(127.0f, amax);
    for (int k = lane; k < K; k += 32) {
        const float v = fminf(fmaxf(__fmul_rn(__half2float(x[k]), inv), -127.f), 127.f);
        q[k] = (int8_t)__float2int_rn(v);
    }
    if (lane == 0) sx[warp] = __fdiv_rn(amax, 127.0f);
}

__global__ void fp16_to_e4m3(const __half* __restrict__ X, size_t count, const float* __restrict__ scale,
                             __nv_fp8_e4m3* __restrict__ out) {
    const float inv = 1.0f / *scale;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < count; i += (size_t)gridDim.x * blockDim.x)
        out[i] = __nv_fp8_e4m3(__half2float(X[i]) * inv);   // saturates to +-448 (satfinite)
}

}  // namespace

namespace {
void set_algo(LtGemm* g, int i);

// FP8 descriptor variants, tried in this order when cuBLASLt refuses every heuristic candidate
// at run time (seen on an H200 with cuBLAS 13.0: NOT_SUPPORTED from cublasLtMatmul although the
// heuristic offered algorithms): 0 fast accumulation (what TensorRT-LLM and vLLM run), 1 the
// default split accumulation, 2 the same with the scale modes set explicitly to per-tensor
// FP32 (CUBLASLT_MATMUL_MATRIX_SCALE_SCALAR_32F, as torch's _scaled_mm does).
constexpr int kFp8Variants = 3;
const char* fp8_variant_desc(int v) { return v == 0 ? "fast-accum" : v == 1 ? "no fast-accum" : "no fast-accum, scalar scale modes"; }

// Sets the FP8 attributes of variant v and the scale pointers on g->op.
bool set_fp8_attrs(LtGemm* g, int v) {
    const int8_t fast = v == 0 ? 1 : 0;
    bool ok = lt_ok(cublasLtMatmulDescSetAttribute(g->op, CUBLASLT_MATMUL_DESC_FAST_ACCUM, &fast, sizeof(fast)));
    if (v >= 2) {
        const int32_t mode = CUBLASLT_MATMUL_MATRIX_SCALE_SCALAR_32F;
        ok = ok && lt_ok(cublasLtMatmulDescSetAttribute(g->op, CUBLASLT_MATMUL_DESC_A_SCALE_MODE, &mode, sizeof(mode))) &&
             lt_ok(cublasLtMatmulDescSetAttribute(g->op, CUBLASLT_MATMUL_DESC_B_SCALE_MODE, &mode, sizeof(mode)));
    }
    // The per-tensor scales (device pointers) are part of the descriptor the heuristic sees;
    // A is W, B is X.
    return ok && lt_ok(cublasLtMatmulDescSetAttribute(g->op, CUBLASLT_MATMUL_DESC_A_SCALE_POINTER, &g->w_scale, sizeof(g->w_scale))) &&
           lt_ok(cublasLtMatmulDescSetAttribute(g->op, CUBLASLT_MATMUL_DESC_B_SCALE_POINTER, &g->x_scale, sizeof(g->x_scale)));
}

// Heuristic candidates for the current descriptor (up to 8, best first).
bool query_algos(LtGemm* g) {
    cublasLtMatmulPreference_t pref = nullptr;
    int found = 0;
    const bool ok = lt_ok(cublasLtMatmulPreferenceCreate(&pref)) &&
                    lt_ok(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &g->workspace_bytes,
                                                               sizeof(g->workspace_bytes))) &&
                    lt_ok(cublasLtMatmulAlgoGetHeuristic(g->handle, g->op, g->la, g->lb, g->lc, g->lc, pref, 8, g->cand, &found)) &&
                    found > 0;
    if (pref) cublasLtMatmulPreferenceDestroy(pref);
    if (!ok) return false;
    g->n_cand = found;
    set_algo(g, 0);
    return true;
}
}

const char* lt_kind_name(LtKind k) {
    switch (k) {
        case LtKind::fp16: return "fp16";
        case LtKind::bf16: return "bf16";
        case LtKind::fp8: return "fp8";
        case LtKind::int8: return "int8";
    }
    return "?";
}

void lt_destroy(LtGemm* g) {
    if (!g) return;
    if (g->la) cublasLtMatrixLayoutDestroy(g->la);
    if (g->lb) cublasLtMatrixLayoutDestroy(g->lb);
    if (g->lc) cublasLtMatrixLayoutDestroy(g->lc);
    if (g->op) cublasLtMatmulDescDestroy(g->op);
    if (g->handle) cublasLtDestroy(g->handle);
    delete g;
}

CudaStatus lt_create(LtKind kind, int M, int N, int K, void* workspace, size_t workspace_bytes, LtGemm** out,
                     const float* x_scale, const float* w_scale) {
    if (!out || M < 1 || N < 1 || K < 1) return CudaStatus::bad_argument;
    if (kind == LtKind::fp8 && (!x_scale || !w_scale)) return CudaStatus::bad_argument;
    // cuBLASLt's FP8 kernels refuse (NOT_SUPPORTED, at cublasLtMatmul only) scale pointers that
    // are merely 4-byte aligned: seen on an H200 with cuBLAS 13, where scales 4 bytes apart
    // failed every algorithm and the same scales 256 bytes apart ran. Ask for 16.
    if (kind == LtKind::fp8 && (((uintptr_t)x_scale | (uintptr_t)w_scale) & 15u) != 0) return CudaStatus::bad_argument;
    t_last_status = 0;
    *out = nullptr;
    LtGemm* g = new (std::nothrow) LtGemm;
    if (!g) return CudaStatus::bad_argument;
    g->kind = kind;
    g->M = M;
    g->N = N;
    g->K = K;
    g->workspace = workspace;
    g->workspace_bytes = workspace ? workspace_bytes : 0;
    g->x_scale = x_scale;
    g->w_scale = w_scale;
    cudaDataType_t ab = CUDA_R_16F, cd = CUDA_R_16F, scale = CUDA_R_32F;
    cublasComputeType_t compute = CUBLAS_COMPUTE_32F;
    switch (kind) {
        case LtKind::fp16: break;
        case LtKind::bf16: ab = cd = CUDA_R_16BF; break;
        case LtKind::fp8: ab = CUDA_R_8F_E4M3; cd = CUDA_R_16F; break;
        case LtKind::int8: ab = CUDA_R_8I; cd = CUDA_R_32I; scale = CUDA_R_32I; compute = CUBLAS_COMPUTE_32I; break;
    }
    const cublasOperation_t opT = CUBLAS_OP_T, opN = CUBLAS_OP_N;
    bool ok = lt_ok(cublasLtCreate(&g->handle)) && lt_ok(cublasLtMatmulDescCreate(&g->op, compute, scale)) &&
              lt_ok(cublasLtMatmulDescSetAttribute(g->op, CUBLASLT_MATMUL_DESC_TRANSA, &opT, sizeof(opT))) &&
              lt_ok(cublasLtMatmulDescSetAttribute(g->op, CUBLASLT_MATMUL_DESC_TRANSB, &opN, sizeof(opN))) &&
              lt_ok(cublasLtMatrixLayoutCreate(&g->la, ab, K, N, K)) && lt_ok(cublasLtMatrixLayoutCreate(&g->lb, ab, K, M, K)) &&
              lt_ok(cublasLtMatrixLayoutCreate(&g->lc, cd, N, M, N));
    if (ok && kind == LtKind::fp8) {
        // The first variant the heuristic has algorithms for.
        ok = false;
        for (int v = 0; v < kFp8Variants && !ok; ++v) {
            g->fp8_variant = v;
            ok = set_fp8_attrs(g, v) && query_algos(g);
        }
    } else {
        ok = ok && query_algos(g);
    }
    if (!ok) { lt_destroy(g); return CudaStatus::cublas_error; }
    *out = g;
    return CudaStatus::ok;
}

namespace {
// Makes candidate i the algorithm used and describes it for the log.
void set_algo(LtGemm* g, int i) {
    g->cur = i;
    g->algo = g->cand[i].algo;
    int tile = 0, stages = 0, splitk = 0, id = 0;
    size_t w = 0;
    cublasLtMatmulAlgoConfigGetAttribute(&g->algo, CUBLASLT_ALGO_CONFIG_ID, &id, sizeof(id), &w);
    cublasLtMatmulAlgoConfigGetAttribute(&g->algo, CUBLASLT_ALGO_CONFIG_TILE_ID, &tile, sizeof(tile), &w);
    cublasLtMatmulAlgoConfigGetAttribute(&g->algo, CUBLASLT_ALGO_CONFIG_STAGES_ID, &stages, sizeof(stages), &w);
    cublasLtMatmulAlgoConfigGetAttribute(&g->algo, CUBLASLT_ALGO_CONFIG_SPLITK_NUM, &splitk, sizeof(splitk), &w);
    snprintf(g->desc, sizeof(g->desc), "cublasLt algo %d tile-id %d stages-id %d splitK %d ws %zu%s%s%s", id, tile, stages, splitk,
             g->cand[i].workspaceSize, i ? " (fallback)" : "", g->kind == LtKind::fp8 ? ", " : "",
             g->kind == LtKind::fp8 ? fp8_variant_desc(g->fp8_variant) : "");
}
}  // namespace

const char* lt_algo_desc(const LtGemm* g) { return g ? g->desc : ""; }
int lt_last_status(const LtGemm* g) { return g ? g->last_status : t_last_status; }

CudaStatus lt_run(LtGemm* g, const void* X, const void* W, void* Y, const float* x_scale, const float* w_scale,
                  int32_t* acc32, cudaStream_t stream) {
    if (!g || !X || !W || !Y) return CudaStatus::bad_argument;
    if (g->kind == LtKind::fp8 && (x_scale != g->x_scale || w_scale != g->w_scale)) {
        if (!x_scale || !w_scale) return CudaStatus::bad_argument;
        g->x_scale = x_scale;
        g->w_scale = w_scale;
        if (!set_fp8_attrs(g, g->fp8_variant)) return g->last_status = t_last_status, CudaStatus::cublas_error;
    }
    // One matmul; if cuBLASLt rejects the chosen algorithm at run time, the next heuristic
    // candidate is tried (and kept).
    const int32_t ione = 1, izero = 0;
    const float fone = 1.f, fzero = 0.f;
    const bool i8 = g->kind == LtKind::int8;
    void* D = i8 ? static_cast<void*>(acc32) : Y;
    auto matmul = [&]() {
        for (;;) {
            if (lt_ok(cublasLtMatmul(g->handle, g->op, i8 ? (const void*)&ione : (const void*)&fone, W, g->la, X, g->lb,
                                     i8 ? (const void*)&izero : (const void*)&fzero, D, g->lc, D, g->lc, &g->algo, g->workspace,
                                     g->workspace_bytes, stream)))
                return true;
            g->last_status = t_last_status;
            if (g->cur + 1 < g->n_cand) {
                set_algo(g, g->cur + 1);
                continue;
            }
            // FP8: every candidate refused; the next descriptor variant with candidates, if any.
            if (g->kind != LtKind::fp8) return false;
            bool next = false;
            while (!next && g->fp8_variant + 1 < kFp8Variants) {
                ++g->fp8_variant;
                next = set_fp8_attrs(g, g->fp8_variant) && query_algos(g);
            }
            if (!next) return false;
        }
    };
    if (g->kind == LtKind::int8) {
        if (!x_scale || !w_scale || !acc32) return CudaStatus::bad_argument;
        if (!matmul()) return CudaStatus::cublas_error;
        if ((g->N & 1) != 0) return CudaStatus::unsupported;
        const size_t pairs = (size_t)g->M * g->N / 2;
        const int blocks = (int)((pairs + 255) / 256 < 4096 ? (pairs + 255) / 256 : 4096);
        epilogue_int8<<<blocks, 256, 0, stream>>>(acc32, x_scale, w_scale, static_cast<__half*>(Y), g->M, g->N);
        return cudaGetLastError() == cudaSuccess ? CudaStatus::ok : CudaStatus::cuda_error;
    }
    return matmul() ? CudaStatus::ok : CudaStatus::cublas_error;
}

CudaStatus quantize_act_int8(const void* X, int M, int K, int8_t* Xq, float* sx, cudaStream_t stream) {
    if (!X || !Xq || !sx || M < 1 || K < 1) return CudaStatus::bad_argument;
    const int blocks = (M * 32 + 255) / 256;
    quantize_rows_int8<<<blocks, 256, 0, stream>>>(static_cast<const __half*>(X), M, K, Xq, sx);
    return cudaGetLastError() == cudaSuccess ? CudaStatus::ok : CudaStatus::cuda_error;
}

CudaStatus convert_fp16_to_e4m3(const void* X, size_t count, const float* scale, uint8_t* out, cudaStream_t stream) {
    if (!X || !scale || !out) return CudaStatus::bad_argument;
    const size_t b = (count + 255) / 256;
    fp16_to_e4m3<<<(int)(b < 8192 ? (b ? b : 1) : 8192), 256, 0, stream>>>(static_cast<const __half*>(X), count, scale,
                                                                       reinterpret_cast<__nv_fp8_e4m3*>(out));
    return cudaGetLastError() == cudaSuccess ? CudaStatus::ok : CudaStatus::cuda_error;
}

}  // namespace qb::cuda
