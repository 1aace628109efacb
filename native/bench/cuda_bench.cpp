// cuda_bench.cpp: see cuda_bench.h for the method. Host code only (the fills live in
// bench_device.cu); every CUDA call is checked, and a failed step ends the run with its reason.
#include "cuda_bench.h"

#include <cuda_runtime_api.h>
#include <dlfcn.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <thread>

#include "bench_device.h"
#include "cuda_kernels.h"
#include "qformat.h"
#include "ref_check.h"
#include "random_quant.h"
#include "rng.h"

namespace qb::bench {

namespace {

using cuda::CudaStatus;

// ---- small utilities -----------------------------------------------------------------------

#define QB_CK(call)                                                                           \
    do {                                                                                      \
        const cudaError_t e_ = (call);                                                        \
        if (e_ != cudaSuccess) {                                                              \
            *err = std::string(#call) + ": " + cudaGetErrorString(e_);                        \
            return false;                                                                     \
        }                                                                                     \
    } while (0)

#define QB_CKS(call)                                                                          \
    do {                                                                                      \
        const CudaStatus s_ = (call);                                                         \
        if (s_ != CudaStatus::ok) {                                                           \
            *err = std::string(#call) + ": " + cuda::status_str(s_) + " (" +                  \
                   cudaGetErrorString(cudaGetLastError()) + ")";                              \
            return false;                                                                     \
        }                                                                                     \
    } while (0)

// Device memory owned by a unique_ptr.
struct CudaFree { void operator()(void* p) const { if (p) cudaFree(p); } };
using DevPtr = std::unique_ptr<void, CudaFree>;

bool dev_alloc(size_t bytes, DevPtr* out, std::string* err) {
    void* p = nullptr;
    QB_CK(cudaMalloc(&p, bytes ? bytes : 1));
    out->reset(p);
    return true;
}

// FP16 weights of magnitude 2^-9 .. 2^-5 with random sign, four per random draw (as bench_device.cu).
void random_fp16_weights(uint16_t* w, size_t n, uint64_t seed) {
    Rng r(seed);
    for (size_t i = 0; i < n; i += 4) {
        const uint64_t v = r.next();
        for (size_t j = 0; j < 4 && i + j < n; ++j) {
            const uint32_t b = (uint32_t)(v >> (16 * j));
            w[i + j] = (uint16_t)((b & 0x8000u) | ((6u + ((b >> 10) & 3u)) << 10) | ((b * 2654435761u >> 22) & 0x3ffu));
        }
    }
}

float bf16_to_f32(uint16_t h) { return f32_from_bits((uint32_t)h << 16); }
uint16_t f32_to_bf16(float f) {   // round to nearest even (inputs are finite)
    const uint32_t u = f32_bits(f);
    return (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

float e4m3_to_f32(uint8_t b) {
    const int s = b >> 7, e = (b >> 3) & 0xf, m = b & 7;
    float v = e == 0 ? (float)m * 0.001953125f /* 2^-9 */ : (1.0f + (float)m / 8.0f) * std::ldexp(1.0f, e - 7);
    return s ? -v : v;
}

struct Stats { double med = 0, p10 = 0, p90 = 0; };
Stats stats_of(std::vector<double> v) {
    Stats s;
    if (v.empty()) return s;
    std::sort(v.begin(), v.end());
    const size_t n = v.size();
    s.med = n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
    s.p10 = v[(size_t)std::floor(0.1 * (double)(n - 1))];
    s.p90 = v[(size_t)std::ceil(0.9 * (double)(n - 1))];
    return s;
}

void parallel_for(int n, const std::function<void(int)>& fn) {
    const int t = std::max(1, std::min(n, (int)std::thread::hardware_concurrency()));
    std::vector<std::thread> th;
    for (int w = 0; w < t; ++w)
        th.emplace_back([&, w] { for (int i = w; i < n; i += t) fn(i); });
    for (auto& x : th) x.join();
}

// ---- environment ---------------------------------------------------------------------------

// NVML through dlopen (no header or import library needed at build time); any failure leaves
// the fields to the CUDA runtime's answers.
struct Nvml {
    void* lib = nullptr;
    using InitFn = int (*)();
    using StrFn = int (*)(char*, unsigned);
    using HandleFn = int (*)(unsigned, void**);
    using ClockFn = int (*)(void*, int, unsigned*);
    bool query(std::string* driver, double* sm_max, double* mem_max) {
        lib = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
        if (!lib) return false;
        auto init = reinterpret_cast<InitFn>(dlsym(lib, "nvmlInit_v2"));
        auto ver = reinterpret_cast<StrFn>(dlsym(lib, "nvmlSystemGetDriverVersion"));
        auto handle = reinterpret_cast<HandleFn>(dlsym(lib, "nvmlDeviceGetHandleByIndex_v2"));
        auto maxclk = reinterpret_cast<ClockFn>(dlsym(lib, "nvmlDeviceGetMaxClockInfo"));
        if (!init || !ver || init() != 0) return false;
        char buf[96] = {};
        if (ver(buf, sizeof(buf)) == 0) *driver = buf;
        void* h = nullptr;
        unsigned v = 0;
        int dev = 0;
        cudaGetDevice(&dev);
        if (handle && maxclk && handle((unsigned)dev, &h) == 0) {
            if (maxclk(h, 1 /* NVML_CLOCK_SM */, &v) == 0) *sm_max = v;
            if (maxclk(h, 2 /* NVML_CLOCK_MEM */, &v) == 0) *mem_max = v;
        }
        return true;
    }
};

std::string guess_hardware_id(const std::string& name) {
    auto has = [&](const char* s) { return name.find(s) != std::string::npos; };
    if (has("H200")) return "h200";
    if (has("H100")) return has("PCIe") ? "h100-pcie" : "h100-sxm";
    if (has("A100")) return has("80GB") ? "a100-80gb" : "a100-40gb";
    if (has("L40S")) return "l40s";
    if (has("L4")) return "l4";
    if (has("4090")) return "rtx-4090";
    return "";
}

// ---- timing --------------------------------------------------------------------------------

struct Timer {
    cudaStream_t s = nullptr;
    int copies = 1, launches = 20, replays = 30;
    std::string* err = nullptr;
};

// Graph timing (see cuda_bench.h). launch(copy) enqueues one launch on stream s.
bool time_graph(Timer& t, const std::function<bool(int)>& launch, Stats* st, int* reps) {
    std::string* err = t.err;
    const int B = ((std::max(t.launches, t.copies) + t.copies - 1) / t.copies) * t.copies;
    cudaGraph_t graph = nullptr;
    cudaGraphExec_t exec = nullptr;
    QB_CK(cudaStreamBeginCapture(t.s, cudaStreamCaptureModeThreadLocal));
    for (int i = 0; i < B; ++i)
        if (!launch(i % t.copies)) {
            cudaStreamEndCapture(t.s, &graph);
            if (graph) cudaGraphDestroy(graph);
            if (err->empty()) *err = "launch failed during graph capture";
            return false;
        }
    QB_CK(cudaStreamEndCapture(t.s, &graph));
    const cudaError_t ie = cudaGraphInstantiate(&exec, graph, 0);
    cudaGraphDestroy(graph);
    if (ie != cudaSuccess) { *err = std::string("cudaGraphInstantiate: ") + cudaGetErrorString(ie); return false; }
    std::vector<cudaEvent_t> ev(2 * (size_t)t.replays);
    for (auto& e : ev) QB_CK(cudaEventCreate(&e));
    bool ok = true;
    for (int w = 0; w < 3 && ok; ++w) ok = cudaGraphLaunch(exec, t.s) == cudaSuccess;
    // Then at least ~30 ms of the same work before timing: in the first H100 calls the first
    // decode step timed after another one ran 5-10% slower than the same graph timed later in
    // the same process (clocks settling after the host-side setup gap), so the timed replays
    // start from a busy GPU.
    if (ok) {
        ok = cudaEventRecord(ev[0], t.s) == cudaSuccess && cudaGraphLaunch(exec, t.s) == cudaSuccess &&
             cudaEventRecord(ev[1], t.s) == cudaSuccess && cudaStreamSynchronize(t.s) == cudaSuccess;
        float ms = 0;
        if (ok) ok = cudaEventElapsedTime(&ms, ev[0], ev[1]) == cudaSuccess;
        const int extra = ok ? std::min(500, (int)std::ceil(30.0 / std::max(ms, 0.01f))) : 0;
        for (int w = 0; w < extra && ok; ++w) ok = cudaGraphLaunch(exec, t.s) == cudaSuccess;
    }
    for (int r = 0; r < t.replays && ok; ++r)
        ok = cudaEventRecord(ev[2 * r], t.s) == cudaSuccess && cudaGraphLaunch(exec, t.s) == cudaSuccess &&
             cudaEventRecord(ev[2 * r + 1], t.s) == cudaSuccess;
    const cudaError_t se = cudaStreamSynchronize(t.s);
    std::vector<double> us;
    for (int r = 0; r < t.replays && ok && se == cudaSuccess; ++r) {
        float ms = 0;
        if (cudaEventElapsedTime(&ms, ev[2 * r], ev[2 * r + 1]) != cudaSuccess) { ok = false; break; }
        us.push_back(1000.0 * ms / B);
    }
    for (auto& e : ev) cudaEventDestroy(e);
    cudaGraphExecDestroy(exec);
    if (!ok || se != cudaSuccess) {
        *err = std::string("graph timing failed: ") + cudaGetErrorString(se != cudaSuccess ? se : cudaGetLastError());
        return false;
    }
    *st = stats_of(us);
    *reps = B * t.replays;
    return true;
}

// Isolated launches after writing flush_bytes of `flush` (evicts L2), each between events.
bool time_cold(Timer& t, void* flush, size_t flush_bytes, const std::function<bool(int)>& launch, Stats* st) {
    std::string* err = t.err;
    std::vector<cudaEvent_t> ev(2 * (size_t)t.replays);
    for (auto& e : ev) QB_CK(cudaEventCreate(&e));
    bool ok = true;
    for (int r = -2; r < t.replays && ok; ++r) {
        ok = cudaMemsetAsync(flush, r & 0xff, flush_bytes, t.s) == cudaSuccess;
        if (r >= 0) ok = ok && cudaEventRecord(ev[2 * r], t.s) == cudaSuccess;
        ok = ok && launch(0);
        if (r >= 0) ok = ok && cudaEventRecord(ev[2 * r + 1], t.s) == cudaSuccess;
    }
    const cudaError_t se = cudaStreamSynchronize(t.s);
    std::vector<double> us;
    for (int r = 0; r < t.replays && ok && se == cudaSuccess; ++r) {
        float ms = 0;
        ok = cudaEventElapsedTime(&ms, ev[2 * r], ev[2 * r + 1]) == cudaSuccess;
        us.push_back(1000.0 * ms);
    }
    for (auto& e : ev) cudaEventDestroy(e);
    if (!ok || se != cudaSuccess) { *err = "cold timing failed"; return false; }
    *st = stats_of(us);
    return true;
}

// ---- one benchmark context per shape -------------------------------------------------------

constexpr int kCheckWindow = 64;   // columns per checked window; three windows (start, middle, end)
constexpr int kCheckRowsEdge = 16; // rows checked at each end when M > 32

std::vector<int> check_cols(int N) {
    std::vector<int> c;
    const int mid = (N / 2 / kCheckWindow) * kCheckWindow;
    for (int start : {0, mid, N - kCheckWindow})
        for (int i = 0; i < kCheckWindow; ++i) c.push_back(start + i);
    std::sort(c.begin(), c.end());
    c.erase(std::unique(c.begin(), c.end()), c.end());
    return c;
}
std::vector<int> check_rows(int M) {
    std::vector<int> r;
    if (M <= 2 * kCheckRowsEdge) { for (int i = 0; i < M; ++i) r.push_back(i); return r; }
    for (int i = 0; i < kCheckRowsEdge; ++i) r.push_back(i);
    for (int i = M - kCheckRowsEdge; i < M; ++i) r.push_back(i);
    return r;
}

struct Ctx {
    const CudaBenchOptions* opt = nullptr;
    CudaBenchReport* rep = nullptr;
    std::string* err = nullptr;
    cudaStream_t s = nullptr;
    GpuEnv gpu;
    void* lt_ws = nullptr;
    size_t lt_ws_bytes = 0;
    DevPtr flush;
    size_t flush_bytes = 0;
    void progress(const std::string& line) const { if (opt->progress) opt->progress(line); }
};

// Everything one measurement needs besides the weights.
struct Acts {
    int K = 0, M_max = 0;
    std::vector<uint16_t> x16;   // host FP16 activations, M_max x K
    DevPtr x;                    // device copy
};

int copies_for(const Ctx& c, double weight_bytes) {
    const double want = c.opt->rotate_l2 * c.gpu.l2_mb * 1048576.0;
    return std::max(2, std::min(64, (int)std::ceil(want / std::max(weight_bytes, 1.0)) + 1));
}

// Compares Y (downloaded, M x N FP16 or BF16) with the reference through shared/ref_check.h,
// the same check the GPU tests make.
struct CheckResult { bool ok = false; double max_rel = 0; };
CheckResult compare(const std::vector<uint16_t>& y, int M, int N, const std::vector<int>& rows, const std::vector<int>& cols,
                    const std::vector<float>& ref /* rows.size() x cols.size() */, double tol, bool y_bf16 = false) {
    const RefCheck rc = check_against_ref(y, M, N, rows, cols, ref.data(), tol, y_bf16);
    return {rc.ok, rc.finite ? rc.max_rel : 0.0};
}

bool download_y(Ctx& c, const void* dY, int M, int N, std::vector<uint16_t>* y) {
    std::string* err = c.err;
    y->assign((size_t)M * N, 0);
    QB_CK(cudaStreamSynchronize(c.s));
    QB_CK(cudaMemcpy(y->data(), dY, y->size() * 2, cudaMemcpyDeviceToHost));
    return true;
}

// Fills in the derived fields and appends.
void record(Ctx& c, CudaMeasurement m, const Stats& st, int reps) {
    m.median_us = st.med;
    m.p10_us = st.p10;
    m.p90_us = st.p90;
    m.reps = reps;
    m.flops = 2.0 * m.m * (double)m.n * m.k;
    m.gbps = m.bytes / (m.median_us * 1e-6) / 1e9;
    m.pct_of_probe = c.rep->probe_gbps > 0 ? 100.0 * m.gbps / c.rep->probe_gbps : 0;
    if (!m.correct) c.rep->all_correct = false;
    char line[320];
    snprintf(line, sizeof(line), "  %-14s %-8s g%-4d z%d %-11s M=%-5d %9.2f us  %7.1f GB/s  %5.1f%%  err %.2e %s  %s",
             m.impl.c_str(), m.kernel.c_str(), m.group_size, (int)m.zero_point, m.shape.c_str(), m.m, m.median_us, m.gbps,
             m.pct_of_probe, m.max_rel_err, m.correct ? "ok" : "WRONG", m.plan.c_str());
    c.progress(line);
    c.rep->measurements.push_back(m);
}

std::string shape_label(const Shape& s) {
    return s.label.empty() ? std::to_string(s.n) + "x" + std::to_string(s.k) : s.label;
}

// Host float copy of the checked rows of the activations (the FP16 values, widened exactly).
std::vector<float> act_rows(const Acts& a, const std::vector<int>& rows) {
    std::vector<float> x(rows.size() * (size_t)a.K);
    for (size_t i = 0; i < rows.size(); ++i)
        for (int k = 0; k < a.K; ++k) x[i * a.K + k] = fp16_to_f32(a.x16[(size_t)rows[i] * a.K + k]);
    return x;
}

// ---- FP16 / BF16 through cuBLASLt -----------------------------------------------------------

bool bench_dense(Ctx& c, const Shape& sh, const Acts& a, const std::vector<int>& batches, cuda::LtKind kind) {
    std::string* err = c.err;
    const int N = sh.n, K = sh.k;
    const bool bf = kind == cuda::LtKind::bf16;
    const size_t wcount = (size_t)N * K, wbytes = wcount * 2;
    std::vector<uint16_t> w16(wcount);
    random_fp16_weights(w16.data(), wcount, 1000 + N + 7 * (size_t)K);
    std::vector<uint16_t> x16 = a.x16;
    if (bf) {   // the same values, rounded to BF16
        for (auto& v : w16) v = f32_to_bf16(fp16_to_f32(v));
        for (auto& v : x16) v = f32_to_bf16(fp16_to_f32(v));
    }
    const int copies = copies_for(c, (double)wbytes);
    DevPtr w, x, y;
    if (!dev_alloc(wbytes * copies, &w, err) || !dev_alloc(x16.size() * 2, &x, err) ||
        !dev_alloc((size_t)a.M_max * N * 2, &y, err))
        return false;
    QB_CK(cudaMemcpy(w.get(), w16.data(), wbytes, cudaMemcpyHostToDevice));
    for (int i = 1; i < copies; ++i)
        QB_CK(cudaMemcpy(static_cast<uint8_t*>(w.get()) + wbytes * i, w.get(), wbytes, cudaMemcpyDeviceToDevice));
    QB_CK(cudaMemcpy(x.get(), x16.data(), x16.size() * 2, cudaMemcpyHostToDevice));
    const std::vector<int> cols = check_cols(N);
    std::vector<float> wsub(cols.size() * (size_t)K);
    for (size_t j = 0; j < cols.size(); ++j)
        for (int k = 0; k < K; ++k) {
            const uint16_t v = w16[(size_t)cols[j] * K + k];
            wsub[j * K + k] = bf ? bf16_to_f32(v) : fp16_to_f32(v);
        }
    for (int M : batches) {
        cuda::LtGemm* g = nullptr;
        QB_CKS(cuda::lt_create(kind, M, N, K, c.lt_ws, c.lt_ws_bytes, &g));
        std::unique_ptr<cuda::LtGemm, void (*)(cuda::LtGemm*)> guard(g, cuda::lt_destroy);
        auto launch = [&](int copy) {
            return cuda::lt_run(g, x.get(), static_cast<uint8_t*>(w.get()) + wbytes * copy, y.get(), nullptr, nullptr, nullptr,
                                c.s) == CudaStatus::ok;
        };
        QB_CK(cudaMemsetAsync(y.get(), 0xff, (size_t)M * N * 2, c.s));
        if (!launch(0)) { *err = "cuBLASLt run failed, cublas status " + std::to_string(cuda::lt_last_status(g)); return false; }
        std::vector<uint16_t> yh;
        if (!download_y(c, y.get(), M, N, &yh)) return false;
        const std::vector<int> rows = check_rows(M);
        std::vector<float> xr(rows.size() * (size_t)K);
        for (size_t i = 0; i < rows.size(); ++i)
            for (int k = 0; k < K; ++k) {
                const uint16_t v = x16[(size_t)rows[i] * K + k];
                xr[i * K + k] = bf ? bf16_to_f32(v) : fp16_to_f32(v);
            }
        std::vector<float> ref(rows.size() * cols.size());
        parallel_for((int)cols.size() / 16, [&](int part) {
            std::vector<float> out(rows.size() * 16);
            matmul_f32_ref(xr.data(), (int)rows.size(), wsub.data() + (size_t)part * 16 * K, 16, K, out.data());
            for (size_t i = 0; i < rows.size(); ++i)
                for (int j = 0; j < 16; ++j) ref[i * cols.size() + part * 16 + j] = out[i * 16 + j];
        });
        CudaMeasurement m;
        m.kernel = "fp16";
        m.impl = bf ? "cublaslt-bf16" : "cublaslt-fp16";
        m.bits = 16;
        m.m = M;
        m.n = N;
        m.k = K;
        m.shape = shape_label(sh);
        m.weight_bytes = (double)wbytes;
        m.bytes = m.weight_bytes + 2.0 * M * K + 2.0 * M * N;
        m.tolerance = bf ? 1e-2 : 2e-3;
        const CheckResult cr = compare(yh, M, N, rows, cols, ref, m.tolerance, bf);
        m.correct = cr.ok;
        m.max_rel_err = cr.max_rel;
        m.plan = cuda::lt_algo_desc(g);
        Timer t{c.s, copies, c.opt->launches, c.opt->replays, err};
        Stats st;
        int reps = 0;
        if (!time_graph(t, launch, &st, &reps)) return false;
        record(c, m, st, reps);
        if (!bf && M == 1 && c.opt->cold && c.flush) {
            Stats cs;
            if (!time_cold(t, c.flush.get(), c.flush_bytes, launch, &cs)) return false;
            c.rep->cold.push_back({m.impl, m.shape, M, cs.med, cs.p10, cs.p90});
        }
    }
    return true;
}

// ---- W4A16 / W8A16 (ours) ------------------------------------------------------------------

// Reference rows x cols through matmul_ref (or matmul_w8a8_ref), three column windows in parallel.
std::vector<float> quant_ref(const QuantizedMatrix& w, const std::vector<float>& xr, int R, const std::vector<int>& cols,
                             bool w8a8) {
    const int N = w.rows;
    std::vector<float> full((size_t)R * N, 0.f);
    std::vector<std::pair<int, int>> win;
    for (size_t i = 0; i < cols.size();) {
        size_t j = i;
        while (j + 1 < cols.size() && cols[j + 1] == cols[j] + 1 && j + 1 - i < 16) ++j;
        win.push_back({cols[i], cols[j] + 1});
        i = j + 1;
    }
    parallel_for((int)win.size(), [&](int i) {
        if (w8a8) matmul_w8a8_ref(xr.data(), R, w, full.data(), win[i].first, win[i].second);
        else matmul_ref(xr.data(), R, w, full.data(), win[i].first, win[i].second);
    });
    std::vector<float> ref((size_t)R * cols.size());
    for (int i = 0; i < R; ++i)
        for (size_t j = 0; j < cols.size(); ++j) ref[i * cols.size() + j] = full[(size_t)i * N + cols[j]];
    return ref;
}

// Where a W4A16 launch's time goes (log only; results of the debug variants are wrong by
// design): the same launch with the split-K reduction through the workspace instead of the
// cluster, without any reduction, without dequant / MMA (weights loaded only), both; then the
// per-CTA %globaltimer stamps of the last launch of a graph (wq_set_timing).
// Turns the hand-off to the next launch off for its scope (when `off`) and then restores the
// budget that was in force, an env setting (QB_WQ_HANDOFF_MB) included.
class NoHandoff {
public:
    explicit NoHandoff(bool off = true) : saved_(cuda::wq_handoff()) {
        if (off) cuda::wq_set_handoff(0);
    }
    ~NoHandoff() { cuda::wq_set_handoff((long long)saved_); }
    NoHandoff(const NoHandoff&) = delete;
    NoHandoff& operator=(const NoHandoff&) = delete;

private:
    size_t saved_;
};

bool ablate(Ctx& c, const std::function<bool(int)>& launch, const cuda::WqLayout& l, int M, int copies) {
    std::string* err = c.err;
    Timer ts{c.s, copies, c.opt->launches, 10, err};
    std::string line = "  ablation M=" + std::to_string(M) + " (us):";
    // Workspace reduction unless "cluster"; "depth d": the streaming kernel's ring-depth variant.
    // ctask: split-K inside the CTA (M <= 8) with kw warps (0: planner); off in every variant
    // but "default" and the ctask ones, so "stream" and "mma" stay those kernels.
    // handoff: false runs the variant without the hand-off to the next launch (wq_set_handoff 0).
    struct V { const char* name; int stream_m; bool cluster; int debug; int depth; bool accs = false; int ctask = 0; int kw = 0;
               bool handoff = true; };
    // "fp16-scaled": the streaming kernel before ACCS (depth 4); "serial-reduce": the last CTA's
    // loads one split after another, as before this change.
    const V vs[] = {{"default", -1, false, 0, 0, true},           {"stream", 16, false, 0, 0, true},
                    {"stream fp16-scaled", 16, false, 0, 0, false}, {"stream cluster", 16, true, 0, 0, true},
                    {"stream no-reduce", 16, false, 1, 0, true},  {"stream serial-reduce", 16, false, 4, 0, true},
                    {"stream load-only", 16, false, 2, 0, true},  {"stream load-only no-reduce", 16, false, 3, 0, true},
                    {"mma", 0, false, 0, 0, true},                {"mma cluster", 0, true, 0, 0, true},
                    {"mma no-reduce", 0, false, 1, 0, true},      {"mma serial-reduce", 0, false, 4, 0, true},
                    {"ctask", -1, false, 0, 0, true, 8, 0},       {"ctask kw4", -1, false, 0, 0, true, 8, 4},
                    {"ctask kw8", -1, false, 0, 0, true, 8, 8},   {"ctask kw16", -1, false, 0, 0, true, 8, 16},
                    {"ctask depth 3", -1, false, 0, 3, true, 8, 0}, {"ctask depth 4", -1, false, 0, 4, true, 8, 0},
                    {"ctask kw6", -1, false, 0, 0, true, 8, 6},   {"ctask kw18", -1, false, 0, 0, true, 8, 18},
                    {"default no-hand-off", -1, false, 0, 0, true, 0, 0, false},
                    {"stream load-only no-reduce no-hand-off", 16, false, 3, 0, true, 0, 0, false}};
    for (const V& v : vs) {
        if (((v.debug & 2) || v.depth || v.ctask) && M > 8) continue;
        cuda::wq_set_ctask(std::strncmp(v.name, "default", 7) == 0 ? -1 : v.ctask, v.kw);
        const NoHandoff no_handoff(!v.handoff);
        cuda::wq_set_stream_max_m(v.stream_m, v.stream_m);
        cuda::wq_set_cluster_reduce(v.cluster);
        cuda::wq_set_debug(v.debug);
        cuda::wq_set_stream_depth(v.depth);
        cuda::wq_set_stream_accscale(v.accs);
        Stats x;
        int r2 = 0;
        const bool ok = time_graph(ts, launch, &x, &r2);
        cuda::WqPlan p;
        const bool planned = cuda::wq_plan(l, M, &p) == CudaStatus::ok;
        cuda::wq_set_stream_max_m(-1, -1);
        cuda::wq_set_cluster_reduce(false);
        cuda::wq_set_debug(0);
        cuda::wq_set_stream_depth(0);
        cuda::wq_set_stream_accscale(true);
        cuda::wq_set_ctask(-1, 0);
        if (!ok) return false;
        char cell[96];
        if (planned && p.path == 2)
            snprintf(cell, sizeof(cell), "  %s %.2f (KW=%d, %d/SM)", v.name, x.med, p.warps_k, p.ctas_per_sm);
        else
            snprintf(cell, sizeof(cell), "  %s %.2f (S=%d, %d/SM)", v.name, x.med, planned ? p.splits : 0, planned ? p.ctas_per_sm : 0);
        line += cell;
    }
    c.progress(line);
    c.rep->notes.push_back(line.substr(2));
    // Timestamps: default plan, both reductions.
    const size_t entries = 4 * 2048;
    DevPtr stamps;
    if (!dev_alloc(entries * 8, &stamps, err)) return false;
    for (bool cl : {false, true}) {
        cuda::wq_set_cluster_reduce(cl);
        QB_CK(cudaMemset(stamps.get(), 0, entries * 8));
        cuda::wq_set_timing(static_cast<unsigned long long*>(stamps.get()), entries);
        Timer t1{c.s, copies, c.opt->launches, 2, err};
        Stats x;
        int r2 = 0;
        const bool ok = time_graph(t1, launch, &x, &r2);
        cuda::wq_set_timing(nullptr, 0);
        cuda::wq_set_cluster_reduce(false);
        if (!ok) return false;
        std::vector<unsigned long long> h(entries);
        QB_CK(cudaMemcpy(h.data(), stamps.get(), entries * 8, cudaMemcpyDeviceToHost));
        size_t n = 0;
        while (n < entries / 4 && h[4 * n] != 0) ++n;
        if (n == 0) continue;
        unsigned long long t0 = ~0ull, t3 = 0, t2max = 0;
        std::vector<double> wait, loop, epi;
        for (size_t i = 0; i < n; ++i) {
            const unsigned long long* q = &h[4 * i];
            t0 = std::min(t0, q[0]);
            t3 = std::max(t3, q[3]);
            t2max = std::max(t2max, q[2]);
            wait.push_back((double)(q[1] - q[0]) / 1e3);
            loop.push_back((double)(q[2] - q[1]) / 1e3);
            epi.push_back((double)(q[3] - q[2]) / 1e3);
        }
        std::vector<double> starts;
        for (size_t i = 0; i < n; ++i) starts.push_back((double)(h[4 * i] - t0) / 1e3);
        const Stats sw = stats_of(wait), sl = stats_of(loop), se = stats_of(epi), ss = stats_of(starts);
        char buf[400];
        snprintf(buf, sizeof(buf),
                 "  stamps M=%d %s, %zu CTAs (us, median [p90]): span first start -> last done %.2f; start offset %.2f [%.2f]; "
                 "wait for prior grid %.2f [%.2f]; main loop %.2f [%.2f]; epilogue %.2f [%.2f]; last loop end -> last done %.2f",
                 M, cl ? "cluster" : "workspace", n, (double)(t3 - t0) / 1e3, ss.med, ss.p90, sw.med, sw.p90, sl.med, sl.p90, se.med,
                 se.p90, (double)(t3 - t2max) / 1e3);
        c.progress(buf);
        c.rep->notes.push_back(std::string(buf).substr(2));
    }
    return true;
}

// Tuning data (log only), W4A16 g128 at M <= 8: the streaming kernel's ring in registers
// (d0) and in shared memory (d4 / d6 / d8 / d35, wq_set_stream_smem) at each forced split (split-K
// inside the CTA off), then the default plan with the L2 prefetch (wq_set_l2_prefetch) at
// 0 / 2 stages / the whole range.
bool ring_sweep(Ctx& c, const std::function<bool(int)>& launch, const std::string& shape, int M, int copies) {
    std::string* err = c.err;
    Timer ts{c.s, copies, c.opt->launches, 10, err};
    std::string line = "  ring " + shape + " M=" + std::to_string(M) + " (us; split auto / 2 / 3 / 4 / 6 / 8 / 12 / 16):";
    bool ok = true;
    // One cell: the launch timed with the settings now in force (nothing more after a failure).
    auto cell = [&]() {
        if (!ok) return;
        Stats x;
        int r2 = 0;
        ok = time_graph(ts, launch, &x, &r2);
        if (!ok) return;
        char buf[24];
        snprintf(buf, sizeof(buf), " %.2f", x.med);
        line += buf;
    };
    cuda::wq_set_ctask(0, 0);
    cuda::wq_set_stream_max_m(16, 16);
    for (int d : {0, 4, 6, 8, 35}) {
        cuda::wq_set_stream_smem(d);
        line += "  d" + std::to_string(d) + ":";
        for (int sp : {0, 2, 3, 4, 6, 8, 12, 16}) {
            cuda::wq_set_split_override(sp);
            cell();
        }
        cuda::wq_set_split_override(0);
    }
    cuda::wq_set_stream_smem(-1);
    cuda::wq_set_stream_max_m(-1, -1);
    cuda::wq_set_ctask(-1, 0);
    // Split-K inside the CTA with the ring in registers / in shared memory (wq_set_ctask_smem).
    for (int kw : {8, 16}) {
        line += "  ctask kw" + std::to_string(kw) + " regs / smem:";
        for (bool on : {false, true}) {
            cuda::wq_set_ctask(8, kw);
            cuda::wq_set_ctask_smem(on);
            cell();
            cuda::wq_set_ctask_smem(false);
            cuda::wq_set_ctask(-1, 0);
        }
    }
    line += "  default, fence + atomic / acq_rel atomic:";
    for (bool on : {false, true}) {
        cuda::wq_set_reduce_acqrel(on);
        cell();
        cuda::wq_set_reduce_acqrel(true);
    }
    const int pf0 = cuda::wq_l2_prefetch();
    line += "  default l2pf 0 / 2 / all:";
    for (int pf : {0, 2, -1}) {
        cuda::wq_set_l2_prefetch(pf);
        cell();
    }
    cuda::wq_set_l2_prefetch(pf0);
    if (!ok) return false;
    c.progress(line);
    c.rep->notes.push_back(line.substr(2));
    return true;
}

bool bench_wq(Ctx& c, const Shape& sh, const Acts& a, const std::vector<int>& batches, int bits, int group, bool zero) {
    std::string* err = c.err;
    const int N = sh.n, K = sh.k;
    OwnedQuantized h;
    random_quantized(&h, N, K, bits, group, zero, ScaleType::f16, 2000 + N + 3 * (uint64_t)K + 17 * (uint64_t)group + zero);
    cuda::WqLayout l;
    QB_CKS(cuda::wq_layout(h.w, &l));
    std::vector<uint8_t> shuf(l.total);
    QB_CKS(cuda::wq_shuffle(h.w, l, shuf.data()));
    const double wbytes = (double)(l.q_bytes + l.scale_bytes + l.zero_bytes);
    const int copies = copies_for(c, (double)l.total);
    DevPtr w, y, ws;
    const size_t ws_bytes = cuda::wq_workspace_bytes(l, 128);
    if (!dev_alloc(l.total * copies, &w, err) || !dev_alloc((size_t)a.M_max * N * 2, &y, err) || !dev_alloc(ws_bytes, &ws, err))
        return false;
    QB_CK(cudaMemset(ws.get(), 0, ws_bytes));
    QB_CK(cudaMemcpy(w.get(), shuf.data(), l.total, cudaMemcpyHostToDevice));
    for (int i = 1; i < copies; ++i)
        QB_CK(cudaMemcpy(static_cast<uint8_t*>(w.get()) + l.total * i, w.get(), l.total, cudaMemcpyDeviceToDevice));
    const std::vector<int> cols = check_cols(N);
    for (int M : batches) {
        // The next launch of the timed sequence reads the next copy: the hand-off hint names it,
        // as a decode step names the next layer (wq_set_handoff says how much of it is warmed).
        auto launch = [&](int copy) {
            uint8_t* const wb = static_cast<uint8_t*>(w.get());
            return cuda::wq_gemm(l, wb + l.total * copy, a.x.get(), M, y.get(), ws.get(), ws_bytes, c.s, &l,
                                 wb + l.total * ((copy + 1) % copies)) == CudaStatus::ok;
        };
        QB_CK(cudaMemsetAsync(y.get(), 0xff, (size_t)M * N * 2, c.s));
        if (!launch(0)) { *err = "wq_gemm failed: " + std::string(cudaGetErrorString(cudaGetLastError())); return false; }
        std::vector<uint16_t> yh;
        if (!download_y(c, y.get(), M, N, &yh)) return false;
        const std::vector<int> rows = check_rows(M);
        const std::vector<float> ref = quant_ref(h.w, act_rows(a, rows), (int)rows.size(), cols, false);
        CudaMeasurement m;
        m.kernel = bits == 4 ? "w4a16" : "w8a16";
        m.impl = "qbench-mma";
        m.bits = bits;
        m.group_size = l.grouped ? group : 0;
        m.zero_point = zero;
        m.m = M;
        m.n = N;
        m.k = K;
        m.shape = shape_label(sh);
        m.weight_bytes = wbytes;
        m.bytes = wbytes + 2.0 * M * K + 2.0 * M * N;
        m.tolerance = 4e-3;
        const CheckResult cr = compare(yh, M, N, rows, cols, ref, m.tolerance);
        m.correct = cr.ok;
        m.max_rel_err = cr.max_rel;
        cuda::WqPlan p;
        if (cuda::wq_plan(l, M, &p) == CudaStatus::ok) {
            char buf[128];
            const char* red = p.splits == 1 ? "" : p.cluster ? ", cluster" : ", workspace";
            if (p.path == 2 && p.shared_strips)
                snprintf(buf, sizeof(buf), "ctask r%d shared strips %d over %d CTAs x %d warps, %d/SM", p.rows_staged, N / 32, p.ctas,
                         p.warps_k, p.ctas_per_sm);
            else if (p.path == 2)
                snprintf(buf, sizeof(buf), "ctask r%d strips %d x %d warps = %d CTAs, %d/SM", p.rows_staged, p.ctas, p.warps_k, p.ctas,
                         p.ctas_per_sm);
            else if (p.path == 1 && p.smem_ring > 0)
                snprintf(buf, sizeof(buf), "stream smem ring %d, tiles %d x splits %d = %d CTAs, %d/SM%s", p.smem_ring, p.n_tiles,
                         p.splits, p.ctas, p.ctas_per_sm, red);
            else if (p.path == 1)
                snprintf(buf, sizeof(buf), "stream r%d tiles %d x splits %d = %d CTAs, %d/SM%s", p.rows_staged, p.n_tiles, p.splits,
                         p.ctas, p.ctas_per_sm, red);
            else if (p.path == 3)
                snprintf(buf, sizeof(buf), "wgmma n%d tiles %d x splits %d = %d CTAs, %d/SM%s", 16 * p.m_blocks, p.n_tiles, p.splits,
                         p.ctas, p.ctas_per_sm, red);
            else
                snprintf(buf, sizeof(buf), "mb%d tiles %d x splits %d = %d CTAs, %d/SM%s", p.m_blocks, p.n_tiles, p.splits, p.ctas,
                         p.ctas_per_sm, red);
            m.plan = buf;
            // Each launch of the timed chain names the next copy's weights (as a decode step names
            // the next layer); the plan says how much of them it warms in L2 (wq_set_handoff).
            if (const size_t hb = cuda::wq_handoff(); hb > 0) {
                snprintf(buf, sizeof(buf), ", hand-off %.1f MB", (double)hb / 1048576.0);
                m.plan += buf;
            }
        }
        Timer t{c.s, copies, c.opt->launches, c.opt->replays, err};
        Stats st;
        int reps = 0;
        if (!time_graph(t, launch, &st, &reps)) return false;
        record(c, m, st, reps);
        if (c.opt->split_sweep && bits == 4 && group == 128 && !zero && (M == 1 || M == 16 || M == 64)) {
            // Tuning data: the same launch with the split-K factor forced, with and without PDL.
            std::string line = "  sweep " + m.shape + " M=" + std::to_string(M) + " (us):";
            Timer ts{c.s, copies, c.opt->launches, 10, err};
            // The default (workspace reduction), the cluster reduction (S <= 16; beyond it the
            // workspace path runs), then PDL off. Split-K inside the CTA (no split to sweep) is
            // off here, so these are the split-K-across-CTAs kernels; its own cell comes last.
            cuda::wq_set_ctask(0, 0);
            for (int v = 0; v < 3; ++v) {
                cuda::wq_set_pdl(v != 2);
                cuda::wq_set_cluster_reduce(v == 1);
                line += v == 0 ? "  pdl on:" : v == 1 ? "  cluster:" : "  pdl off:";
                for (int sp : {0, 1, 2, 3, 4, 6, 8, 12, 16, 24, 32}) {
                    cuda::wq_set_split_override(sp);
                    Stats x;
                    int r2 = 0;
                    const bool ok = time_graph(ts, launch, &x, &r2);
                    if (!ok) { cuda::wq_set_split_override(0); cuda::wq_set_pdl(true); cuda::wq_set_cluster_reduce(false); return false; }
                    char cell[48];
                    snprintf(cell, sizeof(cell), " s%s=%.2f", sp ? std::to_string(sp).c_str() : "auto", x.med);
                    line += cell;
                }
            }
            cuda::wq_set_split_override(0);
            cuda::wq_set_pdl(true);
            cuda::wq_set_cluster_reduce(false);
            // Each kernel forced on the same launch (pdl on, auto split): streaming, MMA (wgmma
            // off), and on compute capability 9.0 the wgmma kernel (from M = 1).
            for (int mode : {16, 0, -1}) {
                if (mode < 0 && !cuda::wq_wgmma_available()) continue;
                cuda::wq_set_stream_max_m(mode > 0 ? mode : 0, mode > 0 ? mode : 0);
                cuda::wq_set_wgmma(mode < 0 ? 1 : 0);
                Stats x;
                int r2 = 0;
                const bool ok = time_graph(ts, launch, &x, &r2);
                cuda::wq_set_stream_max_m(-1, -1);
                cuda::wq_set_wgmma(-1);
                if (!ok) { cuda::wq_set_ctask(-1, 0); return false; }
                char cell[64];
                snprintf(cell, sizeof(cell), "  %s path (pdl on, auto split): %.2f", mode > 0 ? "stream" : mode == 0 ? "mma" : "wgmma", x.med);
                line += cell;
            }
            cuda::wq_set_ctask(-1, 0);
            if (M <= 8) {
                cuda::wq_set_ctask(8, 0);
                Stats x;
                int r2 = 0;
                const bool ok = time_graph(ts, launch, &x, &r2);
                cuda::wq_set_ctask(-1, 0);
                if (!ok) return false;
                char cell[64];
                snprintf(cell, sizeof(cell), "  ctask path (pdl on, auto warps): %.2f", x.med);
                line += cell;
            }
            c.progress(line);
            c.rep->notes.push_back(line.substr(2));
            if (M <= 8 && !ring_sweep(c, launch, m.shape, M, copies)) return false;
            if (!ablate(c, launch, l, M, copies)) return false;
        }
        if (bits == 4 && group == 128 && !zero && M == 1 && c.opt->cold && c.flush) {
            // Isolated launches: no next launch follows, so no hand-off.
            Stats cs;
            const NoHandoff no_handoff;
            if (!time_cold(t, c.flush.get(), c.flush_bytes, launch, &cs)) return false;
            c.rep->cold.push_back({"qbench-mma w4a16 g128", m.shape, M, cs.med, cs.p10, cs.p90});
        }
    }
    return true;
}

// ---- FP8 and INT8 W8A8 through cuBLASLt -----------------------------------------------------

bool bench_w8a8(Ctx& c, const Shape& sh, const Acts& a, const std::vector<int>& batches, bool fp8) {
    std::string* err = c.err;
    const int N = sh.n, K = sh.k;
    const size_t wbytes = (size_t)N * K;
    OwnedQuantized h;   // INT8: the qformat matrix (FP32 scales); FP8: q holds E4M3 bytes
    random_quantized(&h, N, K, 8, 0, false, ScaleType::f32, 3000 + N + 5 * (uint64_t)K);
    if (fp8)
        for (auto& b : h.q)
            if (((b >> 3) & 0xf) == 0xf) b &= 0xf7;   // no NaN, |v| <= 240
    const float w_scale = 0.0005f, x_scale = 1.0f / 256.0f;
    const int copies = copies_for(c, (double)wbytes);
    DevPtr w, y, xq, sx, sw, acc, scal;
    if (!dev_alloc(wbytes * copies, &w, err) || !dev_alloc((size_t)a.M_max * N * 2, &y, err) ||
        !dev_alloc((size_t)a.M_max * K, &xq, err) || !dev_alloc((size_t)a.M_max * 4, &sx, err) ||
        !dev_alloc((size_t)N * 4, &sw, err) || !dev_alloc(fp8 ? 4 : (size_t)a.M_max * N * 4, &acc, err) ||
        !dev_alloc(512, &scal, err))
        return false;
    QB_CK(cudaMemcpy(w.get(), h.q.data(), wbytes, cudaMemcpyHostToDevice));
    for (int i = 1; i < copies; ++i)
        QB_CK(cudaMemcpy(static_cast<uint8_t*>(w.get()) + wbytes * i, w.get(), wbytes, cudaMemcpyDeviceToDevice));
    QB_CK(cudaMemcpy(sw.get(), h.scales.data(), (size_t)N * 4, cudaMemcpyHostToDevice));
    // The two per-tensor scales 256 bytes apart: each as aligned as its own allocation would be
    // (cuBLASLt's FP8 kernels read them on the device; 4-byte neighbours were one suspect of
    // the NOT_SUPPORTED seen on the H200).
    const float* d_xs = static_cast<const float*>(scal.get());
    const float* d_ws = d_xs + 64;
    QB_CK(cudaMemcpy(scal.get(), &x_scale, 4, cudaMemcpyHostToDevice));
    QB_CK(cudaMemcpy(static_cast<uint8_t*>(scal.get()) + 256, &w_scale, 4, cudaMemcpyHostToDevice));
    // Activations, converted once for all batches (the largest M); the timed op is the GEMM
    // (+ the INT8 epilogue): activations are assumed quantized by the producing op.
    if (fp8) QB_CKS(cuda::convert_fp16_to_e4m3(a.x.get(), (size_t)a.M_max * K, d_xs, static_cast<uint8_t*>(xq.get()), c.s));
    else QB_CKS(cuda::quantize_act_int8(a.x.get(), a.M_max, K, static_cast<int8_t*>(xq.get()), static_cast<float*>(sx.get()), c.s));
    std::vector<uint8_t> xq_host;
    if (fp8) {
        xq_host.resize((size_t)a.M_max * K);
        QB_CK(cudaStreamSynchronize(c.s));
        QB_CK(cudaMemcpy(xq_host.data(), xq.get(), xq_host.size(), cudaMemcpyDeviceToHost));
    }
    const std::vector<int> cols = check_cols(N);
    std::vector<float> wsub;
    if (fp8) {
        wsub.resize(cols.size() * (size_t)K);
        for (size_t j = 0; j < cols.size(); ++j)
            for (int k = 0; k < K; ++k) wsub[j * K + k] = e4m3_to_f32(h.q[(size_t)cols[j] * K + k]) * w_scale;
    }
    for (int M : batches) {
        cuda::LtGemm* g = nullptr;
        const CudaStatus cs = cuda::lt_create(fp8 ? cuda::LtKind::fp8 : cuda::LtKind::int8, M, N, K, c.lt_ws, c.lt_ws_bytes, &g,
                                              fp8 ? d_xs : nullptr, fp8 ? d_ws : nullptr);
        if (cs != CudaStatus::ok) {
            c.rep->notes.push_back(std::string(fp8 ? "fp8" : "int8") + " cuBLASLt has no algorithm for M=" + std::to_string(M) +
                                   " " + shape_label(sh) + " (cublas status " + std::to_string(cuda::lt_last_status(nullptr)) +
                                   "): skipped");
            continue;
        }
        std::unique_ptr<cuda::LtGemm, void (*)(cuda::LtGemm*)> guard(g, cuda::lt_destroy);
        auto launch = [&](int copy) {
            const void* wp = static_cast<uint8_t*>(w.get()) + wbytes * copy;
            if (fp8) return cuda::lt_run(g, xq.get(), wp, y.get(), d_xs, d_ws, nullptr, c.s) == CudaStatus::ok;
            return cuda::lt_run(g, xq.get(), wp, y.get(), static_cast<const float*>(sx.get()), static_cast<const float*>(sw.get()),
                                static_cast<int32_t*>(acc.get()), c.s) == CudaStatus::ok;
        };
        QB_CK(cudaMemsetAsync(y.get(), 0xff, (size_t)M * N * 2, c.s));
        if (!launch(0)) {
            c.rep->notes.push_back(std::string(fp8 ? "fp8" : "int8") + " cuBLASLt run failed for M=" + std::to_string(M) + " " +
                                   shape_label(sh) + " (cublas status " + std::to_string(cuda::lt_last_status(g)) + "): skipped");
            c.rep->all_correct = false;
            continue;
        }
        std::vector<uint16_t> yh;
        if (!download_y(c, y.get(), M, N, &yh)) return false;
        const std::vector<int> rows = check_rows(M);
        std::vector<float> ref;
        if (fp8) {
            std::vector<float> xr(rows.size() * (size_t)K);
            for (size_t i = 0; i < rows.size(); ++i)
                for (int k = 0; k < K; ++k) xr[i * K + k] = e4m3_to_f32(xq_host[(size_t)rows[i] * K + k]) * x_scale;
            ref.resize(rows.size() * cols.size());
            parallel_for((int)cols.size() / 16, [&](int part) {
                std::vector<float> out(rows.size() * 16);
                matmul_f32_ref(xr.data(), (int)rows.size(), wsub.data() + (size_t)part * 16 * K, 16, K, out.data());
                for (size_t i = 0; i < rows.size(); ++i)
                    for (int j = 0; j < 16; ++j) ref[i * cols.size() + part * 16 + j] = out[i * 16 + j];
            });
        } else {
            ref = quant_ref(h.w, act_rows(a, rows), (int)rows.size(), cols, true);
        }
        CudaMeasurement m;
        m.kernel = fp8 ? "fp8" : "w8a8";
        m.impl = fp8 ? "cublaslt-fp8" : "cublaslt-int8";
        m.bits = 8;
        m.m = M;
        m.n = N;
        m.k = K;
        m.shape = shape_label(sh);
        m.weight_bytes = (double)wbytes + (fp8 ? 0.0 : 4.0 * N);
        m.bytes = m.weight_bytes + (double)M * K + 2.0 * M * N + (fp8 ? 0.0 : 4.0 * M + 8.0 * M * N /* INT32 out + in */);
        m.tolerance = fp8 ? 1e-2 : 2e-3;
        const CheckResult cr = compare(yh, M, N, rows, cols, ref, m.tolerance);
        m.correct = cr.ok;
        m.max_rel_err = cr.max_rel;
        m.plan = cuda::lt_algo_desc(g);
        Timer t{c.s, copies, c.opt->launches, c.opt->replays, err};
        Stats st;
        int reps = 0;
        if (!time_graph(t, launch, &st, &reps)) return false;
        record(c, m, st, reps);
    }
    return true;
}

// ---- decode step ---------------------------------------------------------------------------

struct Layer { const char* name; int n, k; };
constexpr Layer kLlama2_7B[] = {{"qkv_proj", 12288, 4096}, {"o_proj", 4096, 4096}, {"gate_up_proj", 22016, 4096}, {"down_proj", 4096, 11008}};
constexpr int kLlama2_7B_Layers = 32;

// variant: non-empty for a tuning variant of the same impl (log and notes only, not published).
// only: a bit per kLlama2_7B entry (0: all); time just the GEMMs of those layer types, in step
// order (same buffers and plans), so the step can be compared with the sum of its layer types
// run alone, and a pair of types shows what their boundaries cost.
bool bench_decode(Ctx& c, const std::string& impl, const std::string& variant = "", int only = 0) {
    std::string* err = c.err;
    auto in_mask = [&](const Layer& L) { return only == 0 || ((only >> (&L - kLlama2_7B)) & 1); };
    struct Mat { size_t off = 0; cuda::WqLayout l; cuda::LtGemm* g = nullptr; };
    std::vector<Mat> mats;
    size_t total = 0;
    double wbytes = 0;
    const bool dense = impl == "cublaslt-fp16", f8 = impl == "cublaslt-fp8";
    const int bits = impl == "qbench-w4a16-g128" ? 4 : 8;
    for (int li = 0; li < kLlama2_7B_Layers; ++li)
        for (const Layer& L : kLlama2_7B) {
            Mat m;
            m.off = total;
            size_t b = 0;
            const bool counted = in_mask(L);
            if (dense) b = (size_t)L.n * L.k * 2, wbytes += counted ? (double)b : 0.0;
            else if (f8) b = (size_t)L.n * L.k, wbytes += counted ? (double)b : 0.0;
            else {
                QuantizedMatrix q;
                q.rows = L.n;
                q.cols = L.k;
                q.bits = bits;
                q.group = bits == 4 ? 128 : L.k;
                QB_CKS(cuda::wq_layout(q, &m.l));
                b = m.l.total;
                wbytes += counted ? (double)(m.l.q_bytes + m.l.scale_bytes + m.l.zero_bytes) : 0.0;
            }
            total += (b + 255) & ~(size_t)255;
            mats.push_back(m);
        }
    DevPtr w, x, y, ws, scal;
    size_t ws_bytes = 0;
    if (!dense && !f8)
        for (const Mat& m : mats) ws_bytes = std::max(ws_bytes, cuda::wq_workspace_bytes(m.l, 1));
    if (!dev_alloc(total, &w, err) || !dev_alloc(11008 * 2, &x, err) || !dev_alloc(22016 * 2, &y, err) ||
        !dev_alloc(ws_bytes + 256, &ws, err) || !dev_alloc(512, &scal, err))
        return false;
    QB_CK(cudaMemset(ws.get(), 0, ws_bytes + 256));
    uint8_t* base = static_cast<uint8_t*>(w.get());
    // Fill: dense FP16 / E4M3 values, or (quantized) random codes + realistic scales.
    bool ok = true;
    if (dense) ok = device_fill(base, total / 2, FillKind::fp16_weight, 77, c.s);
    else if (f8) ok = device_fill(base, total, FillKind::e4m3, 78, c.s);
    else
        for (const Mat& m : mats) {
            ok = ok && device_fill(base + m.off, m.l.q_bytes, FillKind::bytes, 79 + m.off, c.s);
            ok = ok && (m.l.grouped ? device_fill(base + m.off + m.l.scale_offset, m.l.scale_bytes / 2, FillKind::fp16_scale, 80, c.s)
                                    : device_fill(base + m.off + m.l.scale_offset, m.l.scale_bytes / 4, FillKind::f32_scale, 81, c.s));
        }
    ok = ok && device_fill(x.get(), 11008, f8 ? FillKind::e4m3 : FillKind::fp16_weight, 82, c.s);
    const float sc[2] = {1.0f / 256, 0.0005f};   // x scale at byte 0, w scale at byte 256
    QB_CK(cudaMemcpy(scal.get(), sc, 4, cudaMemcpyHostToDevice));
    QB_CK(cudaMemcpy(static_cast<uint8_t*>(scal.get()) + 256, sc + 1, 4, cudaMemcpyHostToDevice));
    if (!ok) { *err = "device fill failed"; return false; }
    const float* d_xs = static_cast<const float*>(scal.get());
    size_t i = 0;
    for (int li = 0; li < kLlama2_7B_Layers; ++li)
        for (const Layer& L : kLlama2_7B) {
            Mat& m = mats[i++];
            if (dense || f8) {
                if (cuda::lt_create(dense ? cuda::LtKind::fp16 : cuda::LtKind::fp8, 1, L.n, L.k, c.lt_ws, c.lt_ws_bytes, &m.g,
                                    f8 ? d_xs : nullptr, f8 ? d_xs + 64 : nullptr) != CudaStatus::ok) {
                    for (Mat& mm : mats) cuda::lt_destroy(mm.g);
                    c.rep->notes.push_back("decode " + impl + ": cuBLASLt has no algorithm at M=1; skipped");
                    return true;
                }
            }
        }
    // The GEMMs of one step in order; each W4 / W8 launch names the next one's weights (the
    // first of the next step after the last) for the hand-off hint (wq_set_handoff).
    std::vector<size_t> order;
    {
        size_t j = 0;
        for (int li = 0; li < kLlama2_7B_Layers; ++li)
            for (const Layer& L : kLlama2_7B) {
                if (in_mask(L)) order.push_back(j);
                ++j;
            }
    }
    auto step = [&](int) {
        for (size_t oi = 0; oi < order.size(); ++oi) {
            const Mat& m = mats[order[oi]];
            const Mat& nx = mats[order[(oi + 1) % order.size()]];
            CudaStatus s;
            if (dense || f8) s = cuda::lt_run(m.g, x.get(), base + m.off, y.get(), d_xs, d_xs + 64, nullptr, c.s);
            else s = cuda::wq_gemm(m.l, base + m.off, x.get(), 1, y.get(), ws.get(), ws_bytes, c.s, &nx.l, base + nx.off);
            if (s != CudaStatus::ok) return false;
        }
        return true;
    };
    // One eager step first (module loading, algorithm setup), then the graph.
    const bool eager = step(0) && cudaStreamSynchronize(c.s) == cudaSuccess;
    if (!eager && (dense || f8) && cudaGetLastError() == cudaSuccess) {
        // A cuBLASLt refusal (FP8 on cuBLAS 13.0 / H200: NOT_SUPPORTED) costs this row only.
        const int st = mats.empty() ? 0 : cuda::lt_last_status(mats[0].g);
        for (Mat& m : mats) cuda::lt_destroy(m.g);
        c.rep->notes.push_back("decode " + impl + ": cuBLASLt refused to run (status " + std::to_string(st) + "); skipped");
        return true;
    }
    Stats st;
    int reps = 0;
    Timer t{c.s, 1, 1, std::max(10, c.opt->replays / 2), err};
    const bool timed = eager && time_graph(t, step, &st, &reps);
    for (Mat& m : mats) cuda::lt_destroy(m.g);
    if (!timed) { if (err->empty()) *err = "decode step failed for " + impl; return false; }
    DecodeStep d;
    d.impl = impl;
    d.model = "llama-2-7b";
    d.layers = kLlama2_7B_Layers;
    d.gemms = (int)mats.size();
    d.weight_bytes = wbytes;
    d.median_ms = st.med / 1000;
    d.p10_ms = st.p10 / 1000;
    d.p90_ms = st.p90 / 1000;
    d.gbps = wbytes / (st.med * 1e-6) / 1e9;
    d.pct_of_probe = c.rep->probe_gbps > 0 ? 100 * d.gbps / c.rep->probe_gbps : 0;
    char line[240];
    snprintf(line, sizeof(line), "  decode %-20s%s %8.3f ms/token  %.2f GB  %7.1f GB/s  %5.1f%% of copy", impl.c_str(),
             variant.empty() ? "" : (" [" + variant + "]").c_str(), d.median_ms, wbytes / 1e9, d.gbps, d.pct_of_probe);
    c.progress(line);
    if (variant.empty()) c.rep->decode.push_back(d);
    else c.rep->notes.push_back(std::string(line).substr(2));
    return true;
}

bool copy_probe(Ctx& c) {
    std::string* err = c.err;
    const size_t bytes = (size_t)1 << 30;
    DevPtr a, b;
    if (!dev_alloc(bytes, &a, err) || !dev_alloc(bytes, &b, err)) return false;
    QB_CK(cudaMemset(a.get(), 1, bytes));
    std::vector<double> us;
    cudaEvent_t e0, e1;
    QB_CK(cudaEventCreate(&e0));
    QB_CK(cudaEventCreate(&e1));
    for (int r = -3; r < 10; ++r) {
        QB_CK(cudaEventRecord(e0, c.s));
        QB_CK(cudaMemcpyAsync(b.get(), a.get(), bytes, cudaMemcpyDeviceToDevice, c.s));
        QB_CK(cudaEventRecord(e1, c.s));
        QB_CK(cudaEventSynchronize(e1));
        float ms = 0;
        QB_CK(cudaEventElapsedTime(&ms, e0, e1));
        if (r >= 0) us.push_back(ms * 1000);
    }
    cudaEventDestroy(e0);
    cudaEventDestroy(e1);
    const Stats st = stats_of(us);
    c.rep->probe_gbps = 2.0 * (double)bytes / (st.med * 1e-6) / 1e9;
    c.rep->probe_array_mb = 1024;
    char line[160];
    snprintf(line, sizeof(line), "copy probe: 1 GiB D2D in %.1f us (p10 %.1f, p90 %.1f): %.1f GB/s read+write", st.med, st.p10, st.p90,
             c.rep->probe_gbps);
    c.progress(line);
    return true;
}

}  // namespace

bool query_gpu(GpuEnv* g, std::string* err) {
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess || n < 1) {
        *err = "no CUDA device";
        cudaGetLastError();
        return false;
    }
    int dev = 0;
    QB_CK(cudaGetDevice(&dev));
    cudaDeviceProp p{};
    QB_CK(cudaGetDeviceProperties(&p, dev));
    g->name = p.name;
    g->sms = p.multiProcessorCount;
    g->cc_major = p.major;
    g->cc_minor = p.minor;
    g->l2_mb = p.l2CacheSize / 1048576.0;
    g->mem_gb = (double)p.totalGlobalMem / 1e9;
    int v = 0;
    if (cudaDeviceGetAttribute(&v, cudaDevAttrClockRate, dev) == cudaSuccess) g->sm_clock_mhz = v / 1000.0;
    if (cudaDeviceGetAttribute(&v, cudaDevAttrMemoryClockRate, dev) == cudaSuccess) g->mem_clock_mhz = v / 1000.0;
    int drv = 0, rt = 0;
    cudaDriverGetVersion(&drv);
    cudaRuntimeGetVersion(&rt);
    g->cuda = std::to_string(rt / 1000) + "." + std::to_string(rt % 1000 / 10);
    g->driver = "cuda-driver-api " + std::to_string(drv / 1000) + "." + std::to_string(drv % 1000 / 10);
    Nvml nv;
    double sm = 0, mem = 0;
    std::string d;
    if (nv.query(&d, &sm, &mem)) {
        if (!d.empty()) g->driver = d;
        if (sm > 0) g->sm_clock_mhz = sm;
        if (mem > 0) g->mem_clock_mhz = mem;
    }
    g->hardware_id = guess_hardware_id(g->name);
    return true;
}

bool run_cuda_bench(const CudaBenchOptions& opt_in, CudaBenchReport* out, std::string* err) {
    CudaBenchOptions opt = opt_in;
    if (opt.shapes.empty()) opt.shapes = {{11008, 4096, ""}, {4096, 11008, ""}, {8192, 28672, ""}};
    if (opt.batches.empty()) opt.batches = {1, 2, 4, 8, 16, 32, 64, 128};
    *out = CudaBenchReport{};
    Ctx c;
    c.opt = &opt;
    c.rep = out;
    c.err = err;
    if (!query_gpu(&c.gpu, err)) return false;
    out->gpu = c.gpu;
    {
        char line[256];
        snprintf(line, sizeof(line), "GPU: %s (sm_%d%d, %d SMs, L2 %.0f MB, %.0f GB), driver %s, CUDA runtime %s", c.gpu.name.c_str(),
                 c.gpu.cc_major, c.gpu.cc_minor, c.gpu.sms, c.gpu.l2_mb, c.gpu.mem_gb, c.gpu.driver.c_str(), c.gpu.cuda.c_str());
        c.progress(line);
    }
    QB_CK(cudaStreamCreateWithFlags(&c.s, cudaStreamNonBlocking));
    std::unique_ptr<CUstream_st, void (*)(CUstream_st*)> sguard(c.s, [](CUstream_st* s) { cudaStreamDestroy(s); });
    DevPtr ltws;
    c.lt_ws_bytes = 32u << 20;
    if (!dev_alloc(c.lt_ws_bytes, &ltws, err)) return false;
    c.lt_ws = ltws.get();
    c.flush_bytes = std::max((size_t)256 << 20, (size_t)(2.0 * c.gpu.l2_mb * 1048576.0));
    if (opt.cold && !dev_alloc(c.flush_bytes, &c.flush, err)) return false;
    if (!copy_probe(c)) return false;

    const bool fp8_ok = c.gpu.cc_major > 8 || (c.gpu.cc_major == 8 && c.gpu.cc_minor >= 9);
    if (!fp8_ok) out->notes.push_back("no FP8 tensor cores on this GPU: fp8 skipped");
    for (size_t si = 0; si < opt.shapes.size(); ++si) {
        const Shape& sh = opt.shapes[si];
        std::vector<int> big = si == 0 ? opt.large_m : std::vector<int>{};
        Acts a;
        a.K = sh.k;
        a.M_max = 128;
        for (int m : opt.batches) a.M_max = std::max(a.M_max, m);
        for (int m : big) a.M_max = std::max(a.M_max, m);
        a.x16.resize((size_t)a.M_max * a.K);
        Rng r(42 + sh.k);
        for (auto& v : a.x16) v = f32_to_fp16(r.uniform());
        if (!dev_alloc(a.x16.size() * 2, &a.x, err)) return false;
        QB_CK(cudaMemcpy(a.x.get(), a.x16.data(), a.x16.size() * 2, cudaMemcpyHostToDevice));
        c.progress("shape " + shape_label(sh) + " (N x K)");
        std::vector<int> dense_b = opt.batches;
        dense_b.insert(dense_b.end(), big.begin(), big.end());
        if (!bench_dense(c, sh, a, dense_b, cuda::LtKind::fp16)) return false;
        if (!bench_dense(c, sh, a, dense_b, cuda::LtKind::bf16)) return false;
        std::vector<int> w4b = opt.batches;
        w4b.insert(w4b.end(), big.begin(), big.end());
        if (!bench_wq(c, sh, a, w4b, 4, 128, false)) return false;
        if (!bench_wq(c, sh, a, opt.batches, 4, 128, true)) return false;
        if (!bench_wq(c, sh, a, opt.batches, 8, 0, false)) return false;
        if (opt.group_sweep && si == 0) {   // group sizes on the first shape (the GPU tests cover all shapes)
            std::vector<int> gb;
            for (int m : {1, 16})
                if (std::find(opt.batches.begin(), opt.batches.end(), m) != opt.batches.end()) gb.push_back(m);
            for (int g : {32, 64, 0})
                for (bool z : {false, true})
                    if (!gb.empty() && !bench_wq(c, sh, a, gb, 4, g, z)) return false;
        }
        if (fp8_ok && !bench_w8a8(c, sh, a, dense_b, true)) return false;
        if (!bench_w8a8(c, sh, a, dense_b, false)) return false;
    }
    if (opt.decode) {
        c.progress("decode step: Llama-2-7B, 32 layers x {qkv 12288x4096, o 4096x4096, gate_up 22016x4096, down 4096x11008}, M = 1");
        std::vector<std::string> impls = {"cublaslt-fp16", "qbench-w4a16-g128", "qbench-w8a16"};
        if (fp8_ok) impls.push_back("cublaslt-fp8");
        for (const std::string& i : impls)
            if (!bench_decode(c, i)) return false;
        if (opt.split_sweep) {   // tuning: the W4 step with each L2 prefetch setting and with ctask off
            const int pf0 = cuda::wq_l2_prefetch();
            cuda::wq_set_l2_prefetch(pf0 == 0 ? -1 : 0);
            bool ok = bench_decode(c, "qbench-w4a16-g128", "l2pf " + std::to_string(pf0 == 0 ? -1 : 0));
            cuda::wq_set_l2_prefetch(pf0);
            if (!ok) return false;
            for (int ct : {-1, 0})
                for (int d : {0, 4, 6, 35}) {
                    cuda::wq_set_stream_smem(d);
                    cuda::wq_set_ctask(ct, 0);
                    ok = bench_decode(c, "qbench-w4a16-g128", (d ? "smem ring " + std::to_string(d) : std::string("register ring")) +
                                                                  (ct ? "" : ", ctask off"));
                    cuda::wq_set_stream_smem(-1);
                    cuda::wq_set_ctask(-1, 0);
                    if (!ok) return false;
                }
            {   // Without the hand-off to the next layer.
                const NoHandoff no_handoff;
                ok = bench_decode(c, "qbench-w4a16-g128", "no hand-off") && bench_decode(c, "qbench-w8a16", "no hand-off");
            }
            if (!ok) return false;
            // Without the 6-warp CTAs at M = 1 (qkv_proj takes the streaming kernel again).
            cuda::wq_set_ctask_wide(false);
            ok = bench_decode(c, "qbench-w4a16-g128", "no wide ctask CTAs");
            for (int t : {0, 3})
                ok = ok && bench_decode(c, "qbench-w4a16-g128", std::string("no wide ctask CTAs, only ") + kLlama2_7B[t].name, 1 << t);
            cuda::wq_set_ctask_wide(true);
            if (!ok) return false;
            // Which boundaries the 6-warp CTAs (on qkv) change: qkv with o (qkv -> o -> qkv), qkv
            // with down (down -> qkv -> down), with and without them.
            for (bool wide : {true, false})
                for (int t : {1, 3}) {
                    cuda::wq_set_ctask_wide(wide);
                    ok = bench_decode(c, "qbench-w4a16-g128", std::string(wide ? "" : "no wide ctask CTAs, ") + "only " +
                                                                  kLlama2_7B[0].name + " + " + kLlama2_7B[t].name, 1 | (1 << t));
                    cuda::wq_set_ctask_wide(true);
                    if (!ok) return false;
                }
            cuda::wq_set_ctask(0, 0);
            ok = bench_decode(c, "qbench-w4a16-g128", "ctask off");
            cuda::wq_set_ctask(-1, 0);
            if (!ok) return false;
            for (int st : {3, 5}) {   // split-K inside the CTA only where each warp gets >= st k-stages
                cuda::wq_set_ctask_min_stages(st);
                ok = bench_decode(c, "qbench-w4a16-g128", "ctask only with >= " + std::to_string(st) + " k-stages per warp");
                cuda::wq_set_ctask_min_stages(0);
                if (!ok) return false;
            }
            for (int kw : {16, 8})
                for (bool sm : {false, true}) {
                    if (kw == 16 && !sm) continue;   // the default
                    cuda::wq_set_ctask_max_warps(kw);
                    cuda::wq_set_ctask_smem(sm);
                    ok = bench_decode(c, "qbench-w4a16-g128", "ctask <= " + std::to_string(kw) + " warps" + (sm ? ", smem ring" : ""));
                    cuda::wq_set_ctask_smem(false);
                    cuda::wq_set_ctask_max_warps(16);
                    if (!ok) return false;
                }
            // Each layer type alone (32 GEMMs back to back), FP16 and W4: does the step cost
            // more than the sum of its parts?
            for (const char* im : {"cublaslt-fp16", "qbench-w4a16-g128"})
                for (int t = 0; t < 4; ++t)
                    if (!bench_decode(c, im, std::string("only ") + kLlama2_7B[t].name, 1 << t)) return false;
            // The driver's own shared-memory carveout per kernel instead of the largest for all.
            const int co0 = cuda::wq_carveout();
            if (cuda::wq_set_carveout(-1) != cuda::CudaStatus::ok) { *err = "wq_set_carveout failed"; return false; }
            bool cok = bench_decode(c, "qbench-w4a16-g128", "carveout by the driver");
            if (cuda::wq_set_carveout(co0) != cuda::CudaStatus::ok) { *err = "wq_set_carveout failed"; return false; }
            if (!cok) return false;
            for (int d : {-1, 4}) {
                cuda::wq_set_reduce_acqrel(false);
                cuda::wq_set_stream_smem(d);
                ok = bench_decode(c, "qbench-w4a16-g128", std::string("fence + atomic reduce") + (d < 0 ? "" : ", smem ring 4"));
                cuda::wq_set_reduce_acqrel(true);
                cuda::wq_set_stream_smem(-1);
                if (!ok) return false;
            }
        }
    }
    return true;
}

}  // namespace qb::bench
