// gpu_tests.cpp: the CUDA kernels against the CPU reference (shared/qformat.h's matmul_ref,
// matmul_w8a8_ref, matmul_f32_ref: double accumulation over the same stored weights and the
// same FP16 activations), over a grid of shapes, batches, group sizes and zero points.
//
//   qbench_gpu_tests           the full grid (11008x4096, 4096x11008, 8192x28672 and small
//                              shapes; M = 1..130; g32/64/128/256/per-channel; zeros on/off)
//   qbench_gpu_tests --small   small shapes only: quick, and what compute-sanitizer runs
//   qbench_gpu_tests --tiny    three small shapes, four batches (a smoke test; 128x1024 at split 1
//                              runs the cp.async ring past its first wrap; M = 1 and 9 run the
//                              streaming kernel's 8- and 16-row variants)
//   --no-lt                    only our kernels (W4A16 / W8A16): what compute-sanitizer checks
//
// Exit status: 0 all passed, 1 a check failed, 77 no usable GPU (ctest reports a skip).
// Checks, per launch: every output written (Y is poisoned with NaN first) and finite;
// max |y - ref| / max |ref| <= tolerance over the checked columns (all columns for N <= 1152,
// else 12 windows of 16); a second launch gives bit-identical Y (split-K is deterministic and
// the workspace counters reset themselves); plus the error codes of unsupported formats.
// M <= 16 also runs the streaming kernel and the MMA kernel forced, on the same data.
#include <cuda_runtime_api.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdint>
#include <cstring>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "cuda_kernels.h"
#include "qformat.h"
#include "ref_check.h"
#include "random_quant.h"
#include "rng.h"

using namespace qb;
using cuda::CudaStatus;

namespace {

int g_checks = 0, g_failures = 0;

void fail(const std::string& what) {
    ++g_failures;
    std::printf("FAIL %s\n", what.c_str());
    std::fflush(stdout);
}

#define CK(call)                                                                                       \
    do {                                                                                               \
        const cudaError_t e_ = (call);                                                                 \
        if (e_ != cudaSuccess) {                                                                       \
            std::printf("FATAL %s:%d %s: %s\n", __FILE__, __LINE__, #call, cudaGetErrorString(e_));   \
            std::exit(1);                                                                              \
        }                                                                                              \
    } while (0)

struct Dev {   // a cudaMalloc'd buffer
    void* p = nullptr;
    explicit Dev(size_t n) { CK(cudaMalloc(&p, n ? n : 1)); }
    ~Dev() { cudaFree(p); }
    Dev(const Dev&) = delete;
    Dev& operator=(const Dev&) = delete;
};

void parallel_for(int n, const std::function<void(int)>& fn) {
    const int t = std::max(1, std::min(n, (int)std::thread::hardware_concurrency()));
    std::vector<std::thread> th;
    for (int w = 0; w < t; ++w) th.emplace_back([&, w] { for (int i = w; i < n; i += t) fn(i); });
    for (auto& x : th) x.join();
}


std::vector<int> checked_cols(int N) {
    std::vector<int> c;
    if (N <= 1152) { for (int i = 0; i < N; ++i) c.push_back(i); return c; }
    // 12 windows of 16: both ends, tile (128) and strip (32) boundaries, and spread in between.
    for (int w = 0; w < 12; ++w) {
        int start = (int)((long long)(N - 16) * w / 11);
        start = w == 0 ? 0 : w == 11 ? N - 16 : (start / 16) * 16 + (w % 2 ? 8 : 0);   // some windows straddle an n8 tile
        for (int i = 0; i < 16; ++i) c.push_back(start + i);
    }
    std::sort(c.begin(), c.end());
    c.erase(std::unique(c.begin(), c.end()), c.end());
    return c;
}

// ref[r][j] for rows 0..R-1 and the checked columns, by the reference function, in parallel.
std::vector<float> reference(int R, int N, const std::vector<int>& cols,
                             const std::function<void(float* full, int n0, int n1)>& ref_fn) {
    std::vector<float> full((size_t)R * N, 0.f);
    std::vector<std::pair<int, int>> runs;
    for (size_t i = 0; i < cols.size();) {
        size_t j = i;
        while (j + 1 < cols.size() && cols[j + 1] == cols[j] + 1 && j + 1 - i < 16) ++j;
        runs.push_back({cols[i], cols[j] + 1});
        i = j + 1;
    }
    parallel_for((int)runs.size(), [&](int i) { ref_fn(full.data(), runs[i].first, runs[i].second); });
    std::vector<float> out((size_t)R * cols.size());
    for (int r = 0; r < R; ++r)
        for (size_t j = 0; j < cols.size(); ++j) out[(size_t)r * cols.size() + j] = full[(size_t)r * N + cols[j]];
    return out;
}

// Compares the first M rows of Y (FP16 or BF16 bits) with ref (R >= M rows): shared/ref_check.h,
// the same check the bench makes before timing.
bool check(const std::string& name, const std::vector<uint16_t>& y, int M, int N, const std::vector<int>& cols,
           const std::vector<float>& ref, double tol, bool bf16 = false) {
    ++g_checks;
    std::vector<int> rows(M);
    for (int r = 0; r < M; ++r) rows[r] = r;
    const RefCheck rc = check_against_ref(y, M, N, rows, cols, ref.data(), tol, bf16);
    if (!rc.finite) {
        fail(name + ": output " + std::to_string(rc.first_bad) + " not written or not finite");
        return false;
    }
    if (!rc.ok) {
        char buf[64];
        std::snprintf(buf, sizeof(buf), ": max rel err %.3e > %.1e", rc.max_rel, tol);
        fail(name + buf);
        return false;
    }
    return true;
}

float dec_bf16(uint16_t h) { return f32_from_bits((uint32_t)h << 16); }

struct Acts {
    int K = 0, M = 0;
    std::vector<uint16_t> h;   // FP16
    std::vector<float> f;      // the same values as float
    Dev* d = nullptr;
};

void make_acts(Acts* a, int M, int K, uint64_t seed) {
    a->M = M;
    a->K = K;
    a->h.resize((size_t)M * K);
    a->f.resize(a->h.size());
    Rng r(seed);
    for (size_t i = 0; i < a->h.size(); ++i) {
        a->h[i] = f32_to_fp16(r.uniform());
        a->f[i] = fp16_to_f32(a->h[i]);
    }
    a->d = new Dev(a->h.size() * 2);
    CK(cudaMemcpy(a->d->p, a->h.data(), a->h.size() * 2, cudaMemcpyHostToDevice));
}

// ---- weight-only ---------------------------------------------------------------------------

void test_wq(int N, int K, int bits, int group, bool zero, ScaleType st, const std::vector<int>& batches, const Acts& a) {
    char nm[128];
    std::snprintf(nm, sizeof(nm), "w%da16 %dx%d g%d%s%s", bits, N, K, group, zero ? " zero" : "", st == ScaleType::f32 ? " f32-scale" : "");
    OwnedQuantized h;
    random_quantized(&h, N, K, bits, group, zero, st, (uint64_t)N * 131 + K * 7 + group * 3 + zero + bits);
    cuda::WqLayout l;
    if (cuda::wq_layout(h.w, &l) != CudaStatus::ok) { fail(std::string(nm) + ": wq_layout refused a supported format"); return; }
    std::vector<uint8_t> buf(l.total);
    if (cuda::wq_shuffle(h.w, l, buf.data()) != CudaStatus::ok) { fail(std::string(nm) + ": wq_shuffle failed"); return; }
    const int maxM = *std::max_element(batches.begin(), batches.end());
    Dev w(l.total), y((size_t)maxM * N * 2), y2((size_t)maxM * N * 2);
    const size_t wsb = cuda::wq_workspace_bytes(l, maxM);
    Dev ws(wsb);
    CK(cudaMemset(ws.p, 0, wsb));
    CK(cudaMemcpy(w.p, buf.data(), l.total, cudaMemcpyHostToDevice));
    const std::vector<int> cols = checked_cols(N);
    const std::vector<float> ref = reference(maxM, N, cols, [&](float* full, int n0, int n1) {
        matmul_ref(a.f.data(), maxM, h.w, full, n0, n1);
    });
    for (int M : batches) {
        std::string name = std::string(nm) + " M=" + std::to_string(M);
        CK(cudaMemset(y.p, 0xff, (size_t)M * N * 2));
        CK(cudaMemset(y2.p, 0xff, (size_t)M * N * 2));
        if (cuda::wq_gemm(l, w.p, a.d->p, M, y.p, ws.p, wsb, nullptr) != CudaStatus::ok ||
            cuda::wq_gemm(l, w.p, a.d->p, M, y2.p, ws.p, wsb, nullptr) != CudaStatus::ok) {
            fail(name + ": launch failed: " + cudaGetErrorString(cudaGetLastError()));
            continue;
        }
        CK(cudaDeviceSynchronize());
        std::vector<uint16_t> yh((size_t)M * N), yh2((size_t)M * N);
        CK(cudaMemcpy(yh.data(), y.p, yh.size() * 2, cudaMemcpyDeviceToHost));
        CK(cudaMemcpy(yh2.data(), y2.p, yh2.size() * 2, cudaMemcpyDeviceToHost));
        if (check(name, yh, M, N, cols, ref, 4e-3)) {
            ++g_checks;
            if (yh != yh2) fail(name + ": two launches gave different bits (nondeterministic or stale workspace)");
        }
        cuda::WqPlan plan, cplan;
        bool clustered = false;
        if (M <= 128 && cuda::wq_plan(l, M, &plan) == CudaStatus::ok && plan.splits > 1) {
            // The default launch's split reduced in a cluster instead of the workspace: same bits.
            cuda::wq_set_cluster_reduce(true);
            cuda::wq_set_split_override(plan.splits);
            clustered = cuda::wq_plan(l, M, &cplan) == CudaStatus::ok && cplan.cluster > 0 && cplan.splits == plan.splits;
        }
        // Launches again with the settings now in force into y2: the same bits as the default
        // launch above (yh), for variants that change where sums are made, not their order.
        auto same_bits = [&](const std::string& what) {
            CK(cudaMemset(y2.p, 0xff, (size_t)M * N * 2));
            const CudaStatus st = cuda::wq_gemm(l, w.p, a.d->p, M, y2.p, ws.p, wsb, nullptr);
            ++g_checks;
            if (st != CudaStatus::ok) { fail(name + " " + what + ": launch failed"); return; }
            CK(cudaDeviceSynchronize());
            CK(cudaMemcpy(yh2.data(), y2.p, yh2.size() * 2, cudaMemcpyDeviceToHost));
            if (yh != yh2) fail(name + " " + what + ": bits differ from the default launch");
        };
        if (clustered) same_bits("cluster reduction of the same split");
        cuda::wq_set_cluster_reduce(false);
        cuda::wq_set_split_override(0);
        // The split-K counter with a fence and a relaxed atomic (the acq_rel atomic is the default).
        cuda::wq_set_reduce_acqrel(false);
        same_bits("fence + atomic reduce");
        cuda::wq_set_reduce_acqrel(true);
        // The split-K sum one output after another (the ablation's serial loop) against the
        // default, which loads many outputs' partials at once where a thread owns several
        // (reduce_batched, M > 16): same order of additions, same bits.
        cuda::wq_set_debug(4);
        same_bits("serial split-K sum");
        cuda::wq_set_debug(0);
        // L2 prefetch of the weights (each warp's whole range, then a 2-stage window).
        for (int pf : {-1, 2}) {
            cuda::wq_set_l2_prefetch(pf);
            same_bits("l2 prefetch " + std::to_string(pf));
            cuda::wq_set_l2_prefetch(0);
        }
        // The hand-off hint (each warp warms a slice of the next launch's weights in L2 after its
        // main loop): a prefetch only, so the same bits; the next buffer here is this one. A
        // misaligned next buffer is refused.
        {
            cuda::wq_set_handoff((long long)(l.total / 2));
            CK(cudaMemset(y2.p, 0xff, (size_t)M * N * 2));
            const CudaStatus sh = cuda::wq_gemm(l, w.p, a.d->p, M, y2.p, ws.p, wsb, nullptr, &l, w.p);
            cuda::wq_set_handoff(-1);
            ++g_checks;
            if (sh != CudaStatus::ok) fail(name + " hand-off: launch failed");
            else {
                CK(cudaDeviceSynchronize());
                CK(cudaMemcpy(yh2.data(), y2.p, yh2.size() * 2, cudaMemcpyDeviceToHost));
                if (yh != yh2) fail(name + " hand-off: bits differ from the default launch");
            }
            const CudaStatus sb = cuda::wq_gemm(l, w.p, a.d->p, M, y2.p, ws.p, wsb, nullptr, &l, static_cast<uint8_t*>(w.p) + 8);
            ++g_checks;
            if (sb != CudaStatus::bad_argument) fail(name + " hand-off: a next buffer 8 bytes off alignment was not refused");
        }
        // No split-K and no PDL: every CTA walks all of K (the steady state of the cp.async ring
        // runs even on small shapes), outputs written straight from the accumulators.
        cuda::wq_set_split_override(1);
        cuda::wq_set_pdl(false);
        CK(cudaMemset(y.p, 0xff, (size_t)M * N * 2));
        const CudaStatus s1 = cuda::wq_gemm(l, w.p, a.d->p, M, y.p, ws.p, wsb, nullptr);
        cuda::wq_set_split_override(0);
        cuda::wq_set_pdl(true);
        if (s1 != CudaStatus::ok) { fail(name + " split 1: launch failed"); continue; }
        CK(cudaDeviceSynchronize());
        CK(cudaMemcpy(yh.data(), y.p, yh.size() * 2, cudaMemcpyDeviceToHost));
        check(name + " split 1", yh, M, N, cols, ref, 4e-3);
        // Two launches with the settings in force (into y and y2), then: y against the reference,
        // and the same bits from both (the reductions below add in a fixed order).
        auto launch_twice = [&]() {
            CK(cudaMemset(y.p, 0xff, (size_t)M * N * 2));
            CK(cudaMemset(y2.p, 0xff, (size_t)M * N * 2));
            const CudaStatus sa = cuda::wq_gemm(l, w.p, a.d->p, M, y.p, ws.p, wsb, nullptr);
            const CudaStatus sb = cuda::wq_gemm(l, w.p, a.d->p, M, y2.p, ws.p, wsb, nullptr);
            return sa == CudaStatus::ok && sb == CudaStatus::ok;
        };
        auto check_twice = [&](const std::string& nm, bool launched) {
            if (!launched) { fail(nm + ": launch failed"); return; }
            CK(cudaDeviceSynchronize());
            CK(cudaMemcpy(yh.data(), y.p, yh.size() * 2, cudaMemcpyDeviceToHost));
            CK(cudaMemcpy(yh2.data(), y2.p, yh2.size() * 2, cudaMemcpyDeviceToHost));
            if (check(nm, yh, M, N, cols, ref, 4e-3)) {
                ++g_checks;
                if (yh != yh2) fail(nm + ": two launches gave different bits");
            }
        };
        if (cuda::wq_wgmma_available()) {
            // The two split-K-across-CTAs kernels past the small-M paths, at every M: the wgmma
            // kernel (forced from M = 1; the wgmma's n is M rounded up to 16, 32, 64 or 128, so
            // M = 1..8 and the last chunk of M = 130 check its zero-filled rows) and the MMA
            // kernel (wgmma off), each launched twice (same bits); then the wgmma kernel at split
            // 1 (one CTA walks all of K: its ring wraps on every shape with K > 512).
            cuda::wq_set_ctask(0, 0);
            cuda::wq_set_stream_max_m(0, 0);
            for (int v : {1, 0, -1}) {
                cuda::wq_set_wgmma(v == 0 ? 0 : 1);
                cuda::wq_set_split_override(v < 0 ? 1 : 0);
                cuda::WqPlan wp;
                const bool planned = cuda::wq_plan(l, std::min(M, 128), &wp) == CudaStatus::ok;
                const bool launched = launch_twice();
                cuda::wq_set_split_override(0);
                const std::string nmw = name + (v == 0 ? " mma kernel" : v > 0 ? " wgmma kernel" : " wgmma kernel split 1");
                ++g_checks;
                if (!planned || (wp.path == 3) != (v != 0)) fail(nmw + ": planned path " + std::to_string(wp.path));
                check_twice(nmw, launched);
            }
            // The wgmma kernel's split-K sum shared by the tile's CTAs (forced wherever the grid is
            // one wave and M > 8, where the kernel keeps its partials in its accumulator layout; by
            // default only at S >= 8 and M >= 16) against the last CTA summing alone: the same
            // additions, the same bits.
            cuda::wq_set_wgmma(1);
            cuda::wq_set_wgmma_coop(1);
            if (launch_twice()) {
                CK(cudaDeviceSynchronize());
                std::vector<uint16_t> coop((size_t)M * N);
                CK(cudaMemcpy(coop.data(), y.p, coop.size() * 2, cudaMemcpyDeviceToHost));
                cuda::wq_set_wgmma_coop(0);
                const bool launched = launch_twice();
                check_twice(name + " wgmma kernel, last-CTA sum", launched);
                ++g_checks;
                if (launched && yh != coop) fail(name + " wgmma kernel: the shared split-K sum gave other bits than the last CTA's");
            } else {
                fail(name + " wgmma kernel (shared sum): launch failed");
            }
            cuda::wq_set_wgmma_coop(-1);
            cuda::wq_set_wgmma(-1);
            cuda::wq_set_stream_max_m(-1, -1);
            cuda::wq_set_ctask(-1, 0);
        }
        if (bits == 4 && M <= 8) {
            // Split-K inside the CTA at every warp count (where its M x K activations fit in
            // shared memory; else the plan is another path and is checked all the same), twice:
            // the shared-memory reduction in warp order gives the same bits.
            // 6, 18: the wide CTAs (INT4 group >= 128 without zeros; other formats plan another path).
            for (int kv : {4, 8, 16, 6, 18, -4, -8, -16}) {   // negative: the other ring depth (INT4 g128 without zeros)
                const int kw = kv < 0 ? -kv : kv;
                if (kv < 0 && !(group == 128 && !zero)) continue;
                cuda::wq_set_ctask(8, kw);
                const int depth = kv < 0 ? (kw == 8 ? 3 : 4) : 0;   // default: 4 at 8 warps, else 3
                cuda::wq_set_stream_depth(depth);
                cuda::WqPlan cp;
                const bool planned = cuda::wq_plan(l, M, &cp) == CudaStatus::ok;
                const bool launched = launch_twice();
                cuda::wq_set_ctask(-1, 0);
                cuda::wq_set_stream_depth(0);
                check_twice(name + " ctask kw" + std::to_string(kw) + (depth ? " depth " + std::to_string(depth) : std::string()) +
                                (planned && cp.path == 2 ? "" : " (other path)"),
                            launched);
            }
        }
        if (bits == 4 && group == 128 && !zero && M <= 8 && l.grouped) {
            // Shared strips forced (wq_set_ctask_shared(1): CTAs of 16 warps over 2-4 strips
            // each, wherever the strip count allows), twice: same bits.
            cuda::wq_set_ctask_shared(1);
            cuda::WqPlan sp;
            const bool is_shared = cuda::wq_plan(l, M, &sp) == CudaStatus::ok && sp.path == 2 && sp.shared_strips == 1;
            const bool launched = launch_twice();
            cuda::wq_set_ctask_shared(-1);
            check_twice(name + " ctask shared strips" + (is_shared ? " (" + std::to_string(sp.ctas) + " CTAs)" : " (other path)"), launched);
            // Split-K inside the CTA with the rings in shared memory: the same per-warp k ranges
            // and per-stage additions as the register rings, so the same bits at each warp count.
            for (int kw : {4, 8, 16}) {
                std::vector<uint16_t> regs;
                for (bool on : {false, true}) {
                    cuda::wq_set_ctask(8, kw);
                    cuda::wq_set_ctask_smem(on);
                    cuda::WqPlan cp;
                    const bool is_ctask = cuda::wq_plan(l, M, &cp) == CudaStatus::ok && cp.path == 2;
                    CK(cudaMemset(y.p, 0xff, (size_t)M * N * 2));
                    const CudaStatus s7 = cuda::wq_gemm(l, w.p, a.d->p, M, y.p, ws.p, wsb, nullptr);
                    cuda::wq_set_ctask_smem(false);
                    cuda::wq_set_ctask(-1, 0);
                    const std::string nm7 = name + " ctask kw" + std::to_string(kw) + (on ? " smem ring" : " register ring") +
                                            (is_ctask ? "" : " (other path)");
                    if (s7 != CudaStatus::ok) { fail(nm7 + ": launch failed"); continue; }
                    CK(cudaDeviceSynchronize());
                    CK(cudaMemcpy(yh.data(), y.p, yh.size() * 2, cudaMemcpyDeviceToHost));
                    if (check(nm7, yh, M, N, cols, ref, 4e-3) && is_ctask) {
                        if (!on) regs = yh;
                        else if (!regs.empty() && yh != regs) fail(nm7 + ": bits differ from the register ring");
                    }
                }
            }
        }
        if (M <= 16) {
            // Both kernels at every M <= 16, whichever the planner picked above: the streaming
            // kernel forced on, then off (split-K inside the CTA off, so these are the two
            // split-K-across-CTAs kernels).
            cuda::wq_set_ctask(0, 0);
            for (int mode : {16, 0, -16}) {   // -16: the streaming kernel with FP16-scaled levels (accscale off)
                cuda::wq_set_stream_max_m(mode < 0 ? -mode : mode, mode < 0 ? -mode : mode);
                cuda::wq_set_stream_accscale(mode >= 0);
                CK(cudaMemset(y.p, 0xff, (size_t)M * N * 2));
                const CudaStatus s2 = cuda::wq_gemm(l, w.p, a.d->p, M, y.p, ws.p, wsb, nullptr);
                cuda::wq_set_stream_max_m(-1, -1);
                cuda::wq_set_stream_accscale(true);
                const std::string nm2 = name + (mode > 0 ? " stream path" : mode < 0 ? " stream path accscale off" : " mma path");
                if (s2 != CudaStatus::ok) { fail(nm2 + ": launch failed"); continue; }
                CK(cudaDeviceSynchronize());
                CK(cudaMemcpy(yh.data(), y.p, yh.size() * 2, cudaMemcpyDeviceToHost));
                check(nm2, yh, M, N, cols, ref, 4e-3);
            }
            // The ring-depth variants of the streaming kernel (INT4 g128 without zeros, M <= 8).
            if (bits == 4 && group == 128 && !zero && M <= 8)
                for (int d : {2, 3, 6, -2, -3, -4}) {   // negative: with group scales on the accumulators
                    cuda::wq_set_stream_max_m(16, 16);
                    cuda::wq_set_stream_depth(d < 0 ? -d : d);
                    cuda::wq_set_stream_accscale(d < 0);
                    CK(cudaMemset(y.p, 0xff, (size_t)M * N * 2));
                    const CudaStatus s3 = cuda::wq_gemm(l, w.p, a.d->p, M, y.p, ws.p, wsb, nullptr);
                    cuda::wq_set_stream_depth(0);
                    cuda::wq_set_stream_accscale(true);   // the default again
                    cuda::wq_set_stream_max_m(-1, -1);
                    const std::string nm3 = name + (d < 0 ? " stream accscale depth " : " stream depth ") + std::to_string(d < 0 ? -d : d);
                    if (s3 != CudaStatus::ok) { fail(nm3 + ": launch failed"); continue; }
                    CK(cudaDeviceSynchronize());
                    CK(cudaMemcpy(yh.data(), y.p, yh.size() * 2, cudaMemcpyDeviceToHost));
                    check(nm3, yh, M, N, cols, ref, 4e-3);
                }
            // The ring in registers (0) and in shared memory (every variant, forced) at the
            // register ring's split: the same additions in the same order, so the same bits.
            // The shared-memory ring stages only the M real rows, so it fits splits the register
            // ring cannot (which then runs another split: no bit comparison).
            if (bits == 4 && group == 128 && !zero && M <= 8) {
                std::vector<uint16_t> first;
                int split = 2;
                for (int v : {0, 4, 6, 8, 35}) {
                    cuda::wq_set_stream_max_m(16, 16);
                    cuda::wq_set_stream_smem(v);
                    cuda::wq_set_split_override(split);
                    cuda::WqPlan rp;
                    const bool planned = cuda::wq_plan(l, M, &rp) == CudaStatus::ok;
                    const bool smem_ring = planned && rp.path == 1 && rp.smem_ring > 0;
                    if (v == 0 && planned) split = rp.splits;   // the register ring's split (>= 2 where K allows)
                    const bool same_split = planned && rp.splits == split;
                    CK(cudaMemset(y.p, 0xff, (size_t)M * N * 2));
                    const CudaStatus s6 = cuda::wq_gemm(l, w.p, a.d->p, M, y.p, ws.p, wsb, nullptr);
                    cuda::wq_set_split_override(0);
                    cuda::wq_set_stream_smem(-1);
                    cuda::wq_set_stream_max_m(-1, -1);
                    const std::string nm6 = name + " stream ring " + (v ? "smem " + std::to_string(v) : std::string("registers")) +
                                            " split " + std::to_string(rp.splits);
                    if (s6 != CudaStatus::ok) { fail(nm6 + ": launch failed"); continue; }
                    // (group 128 on K = 128 is one group per row: the per-channel format, no ring in shared memory)
                    if ((v > 0 && l.grouped) != smem_ring) fail(nm6 + ": planned with the other ring");
                    CK(cudaDeviceSynchronize());
                    CK(cudaMemcpy(yh.data(), y.p, yh.size() * 2, cudaMemcpyDeviceToHost));
                    if (check(nm6, yh, M, N, cols, ref, 4e-3) && same_split) {
                        if (first.empty()) first = yh;
                        else if (yh != first) fail(nm6 + ": bits differ from the register ring at the same split");
                    }
                }
            }
            cuda::wq_set_ctask(-1, 0);
        }
    }
}

void test_formats_refused() {
    auto refused = [](int N, int K, int bits, int group, bool zero, CudaStatus want, const char* what) {
        ++g_checks;
        QuantizedMatrix w;
        w.rows = N;
        w.cols = K;
        w.bits = bits;
        w.group = group;
        w.has_zero = zero;
        cuda::WqLayout l;
        const CudaStatus s = cuda::wq_layout(w, &l);
        if (s != want) fail(std::string("wq_layout ") + what + ": got '" + cuda::status_str(s) + "'");
    };
    refused(100, 128, 4, 32, false, CudaStatus::unsupported, "N not a multiple of 128");
    refused(128, 96, 4, 32, false, CudaStatus::unsupported, "K not a multiple of 128");
    refused(128, 384, 4, 96, false, CudaStatus::unsupported, "group 96");
    refused(128, 128, 3, 32, false, CudaStatus::unsupported, "3-bit");
    refused(128, 128, 4, 48, false, CudaStatus::bad_format, "group 48 (not a qformat group)");
    refused(128, 128, 8, 32, false, CudaStatus::bad_format, "grouped INT8");
    // The carveout setter takes -1 (driver) or 0..100 percent and nothing else; the grid below
    // then runs at the default (100).
    for (int pct : {-2, 101, -1, 0, 100}) {
        ++g_checks;
        const CudaStatus want = pct < -1 || pct > 100 ? CudaStatus::bad_argument : CudaStatus::ok;
        const CudaStatus s = cuda::wq_set_carveout(pct);
        if (s != want) fail("wq_set_carveout(" + std::to_string(pct) + "): got '" + cuda::status_str(s) + "'");
    }
}

// ---- cuBLASLt paths ------------------------------------------------------------------------

uint16_t bf16_of(float f) {
    const uint32_t u = f32_bits(f);
    return (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

float e4m3_to_f32(uint8_t b) {
    const int s = b >> 7, e = (b >> 3) & 0xf, m = b & 7;
    const float v = e == 0 ? (float)m * 0.001953125f : (1.0f + (float)m / 8.0f) * std::ldexp(1.0f, e - 7);
    return s ? -v : v;
}

void test_lt(int N, int K, const std::vector<int>& batches, const Acts& a) {
    Dev ltws(32 << 20);
    const std::vector<int> cols = checked_cols(N);
    const int maxM = *std::max_element(batches.begin(), batches.end());
    Dev y((size_t)maxM * N * 2);
    // FP16 and BF16.
    for (bool bf : {false, true}) {
        std::vector<uint16_t> w((size_t)N * K), x((size_t)maxM * K);
        std::vector<float> wf(w.size()), xf(x.size());
        Rng r((uint64_t)N * 3 + K + bf);
        for (size_t i = 0; i < w.size(); ++i) {
            const float v = r.uniform() * 0.03f;
            w[i] = bf ? bf16_of(v) : f32_to_fp16(v);
            wf[i] = bf ? dec_bf16(w[i]) : fp16_to_f32(w[i]);
        }
        for (size_t i = 0; i < x.size(); ++i) {
            x[i] = bf ? bf16_of(a.f[i]) : a.h[i];
            xf[i] = bf ? dec_bf16(x[i]) : a.f[i];
        }
        Dev dw(w.size() * 2), dx(x.size() * 2);
        CK(cudaMemcpy(dw.p, w.data(), w.size() * 2, cudaMemcpyHostToDevice));
        CK(cudaMemcpy(dx.p, x.data(), x.size() * 2, cudaMemcpyHostToDevice));
        const std::vector<float> ref = reference(maxM, N, cols, [&](float* full, int n0, int n1) {
            matmul_f32_ref(xf.data(), maxM, wf.data(), N, K, full, n0, n1);
        });
        for (int M : batches) {
            const std::string name = std::string(bf ? "cublaslt-bf16 " : "cublaslt-fp16 ") + std::to_string(N) + "x" + std::to_string(K) +
                                     " M=" + std::to_string(M);
            cuda::LtGemm* g = nullptr;
            if (cuda::lt_create(bf ? cuda::LtKind::bf16 : cuda::LtKind::fp16, M, N, K, ltws.p, 32 << 20, &g) != CudaStatus::ok) {
                fail(name + ": lt_create, cublas status " + std::to_string(cuda::lt_last_status(nullptr)));
                continue;
            }
            CK(cudaMemset(y.p, 0xff, (size_t)M * N * 2));
            const CudaStatus s = cuda::lt_run(g, dx.p, dw.p, y.p, nullptr, nullptr, nullptr, nullptr);
            CK(cudaDeviceSynchronize());
            cuda::lt_destroy(g);
            if (s != CudaStatus::ok) { fail(name + ": lt_run"); continue; }
            std::vector<uint16_t> yh((size_t)M * N);
            CK(cudaMemcpy(yh.data(), y.p, yh.size() * 2, cudaMemcpyDeviceToHost));
            check(name, yh, M, N, cols, ref, bf ? 1e-2 : 2e-3, bf);
        }
    }
    // INT8 W8A8: activation quantization on the GPU (bit-exact with quantize_act_ref), cuBLASLt
    // INT32 GEMM, our epilogue; compared with matmul_w8a8_ref.
    {
        OwnedQuantized h;
        random_quantized(&h, N, K, 8, 0, false, ScaleType::f32, (uint64_t)N + K * 5);
        Dev dw(h.q.size()), dsw((size_t)N * 4), dxq((size_t)maxM * K), dsx((size_t)maxM * 4), acc((size_t)maxM * N * 4);
        CK(cudaMemcpy(dw.p, h.q.data(), h.q.size(), cudaMemcpyHostToDevice));
        CK(cudaMemcpy(dsw.p, h.scales.data(), (size_t)N * 4, cudaMemcpyHostToDevice));
        const std::vector<float> ref = reference(maxM, N, cols, [&](float* full, int n0, int n1) {
            matmul_w8a8_ref(a.f.data(), maxM, h.w, full, n0, n1);
        });
        for (int M : batches) {
            const std::string name = "cublaslt-int8 " + std::to_string(N) + "x" + std::to_string(K) + " M=" + std::to_string(M);
            cuda::LtGemm* g = nullptr;
            if (cuda::lt_create(cuda::LtKind::int8, M, N, K, ltws.p, 32 << 20, &g) != CudaStatus::ok) { fail(name + ": lt_create"); continue; }
            CK(cudaMemset(y.p, 0xff, (size_t)M * N * 2));
            CudaStatus s = cuda::quantize_act_int8(a.d->p, M, K, static_cast<int8_t*>(dxq.p), static_cast<float*>(dsx.p), nullptr);
            if (s == CudaStatus::ok)
                s = cuda::lt_run(g, dxq.p, dw.p, y.p, static_cast<float*>(dsx.p), static_cast<float*>(dsw.p), static_cast<int32_t*>(acc.p), nullptr);
            CK(cudaDeviceSynchronize());
            cuda::lt_destroy(g);
            if (s != CudaStatus::ok) { fail(name + ": run"); continue; }
            // The activation quantization must be bit-exact with quantize_act_ref.
            std::vector<int8_t> q((size_t)M * K), qr(K);
            std::vector<float> sx(M);
            CK(cudaMemcpy(q.data(), dxq.p, q.size(), cudaMemcpyDeviceToHost));
            CK(cudaMemcpy(sx.data(), dsx.p, (size_t)M * 4, cudaMemcpyDeviceToHost));
            ++g_checks;
            for (int m = 0; m < M; ++m) {
                float s_ref = 0;
                quantize_act_ref(a.f.data() + (size_t)m * K, K, qr.data(), &s_ref);
                if (s_ref != sx[m] || std::memcmp(qr.data(), q.data() + (size_t)m * K, K) != 0) {
                    fail(name + ": quantize_act_int8 differs from quantize_act_ref in row " + std::to_string(m));
                    break;
                }
            }
            std::vector<uint16_t> yh((size_t)M * N);
            CK(cudaMemcpy(yh.data(), y.p, yh.size() * 2, cudaMemcpyDeviceToHost));
            check(name, yh, M, N, cols, ref, 2e-3);
        }
    }
    // FP8 E4M3 (sm_89+): weights as random valid E4M3 bytes, activations converted on the GPU.
    int dev = 0, major = 0, minor = 0;
    cudaGetDevice(&dev);
    cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev);
    cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, dev);
    if (major * 10 + minor >= 89) {
        std::vector<uint8_t> w((size_t)N * K);
        Rng r((uint64_t)N * 11 + K);
        for (auto& b : w) {
            b = (uint8_t)r.next();
            if (((b >> 3) & 0xf) == 0xf) b &= 0xf7;
        }
        const float sc[2] = {1.0f / 256, 0.0005f};
        Dev dw(w.size()), dx8((size_t)maxM * K), dsc(512);
        CK(cudaMemcpy(dw.p, w.data(), w.size(), cudaMemcpyHostToDevice));
        // x scale at byte 0, w scale at byte 256 (each as aligned as its own allocation).
        CK(cudaMemcpy(dsc.p, sc, 4, cudaMemcpyHostToDevice));
        CK(cudaMemcpy(static_cast<uint8_t*>(dsc.p) + 256, sc + 1, 4, cudaMemcpyHostToDevice));
        const float* xs = static_cast<const float*>(dsc.p);
        const float* ws = xs + 64;
        if (cuda::convert_fp16_to_e4m3(a.d->p, (size_t)maxM * K, xs, static_cast<uint8_t*>(dx8.p), nullptr) != CudaStatus::ok) {
            fail("convert_fp16_to_e4m3");
            return;
        }
        std::vector<uint8_t> x8((size_t)maxM * K);
        CK(cudaDeviceSynchronize());
        CK(cudaMemcpy(x8.data(), dx8.p, x8.size(), cudaMemcpyDeviceToHost));
        std::vector<float> xf(x8.size()), wf(w.size());
        for (size_t i = 0; i < x8.size(); ++i) xf[i] = e4m3_to_f32(x8[i]) * sc[0];
        for (size_t i = 0; i < w.size(); ++i) wf[i] = e4m3_to_f32(w[i]) * sc[1];
        const std::vector<float> ref = reference(maxM, N, cols, [&](float* full, int n0, int n1) {
            matmul_f32_ref(xf.data(), maxM, wf.data(), N, K, full, n0, n1);
        });
        for (int M : batches) {
            const std::string name = "cublaslt-fp8 " + std::to_string(N) + "x" + std::to_string(K) + " M=" + std::to_string(M);
            cuda::LtGemm* g = nullptr;
            if (cuda::lt_create(cuda::LtKind::fp8, M, N, K, ltws.p, 32 << 20, &g, xs, ws) != CudaStatus::ok) {
                std::printf("note %s: cuBLASLt has no FP8 algorithm for this shape, cublas status %d (skipped)\n", name.c_str(),
                            cuda::lt_last_status(nullptr));
                continue;
            }
            CK(cudaMemset(y.p, 0xff, (size_t)M * N * 2));
            const CudaStatus s = cuda::lt_run(g, dx8.p, dw.p, y.p, xs, ws, nullptr, nullptr);
            CK(cudaDeviceSynchronize());
            const int lst = cuda::lt_last_status(g);
            const std::string algo = cuda::lt_algo_desc(g);
            cuda::lt_destroy(g);
            if (s != CudaStatus::ok) { fail(name + ": lt_run, cublas status " + std::to_string(lst) + " " + algo); continue; }
            std::vector<uint16_t> yh((size_t)M * N);
            CK(cudaMemcpy(yh.data(), y.p, yh.size() * 2, cudaMemcpyDeviceToHost));
            if (check(name, yh, M, N, cols, ref, 1e-2)) std::printf("ok %s: %s\n", name.c_str(), algo.c_str());
        }
    }
}

// An INT4 g128 layout for the plan tests (wq_plan reads only the format and the shape).
cuda::WqLayout g128_layout(int n, int k, bool zero) {
    cuda::WqLayout l;
    l.n = n;
    l.k = k;
    l.bits = 4;
    l.group = 128;
    l.has_zero = zero;
    l.grouped = true;
    return l;
}

// The planner's use of the 6-warp ctask CTAs (kCtaskWide in wna16.cu): INT4 g128 without zeros
// at M = 1 where 16-warp CTAs would not fit one wave but three 6-warp CTAs per SM do; never at
// M = 2, never for K = 8192 (more than 6 k-stages per warp), never with wq_set_ctask_wide(false),
// never for a format they do not serve.
void test_ctask_wide_plans(int sms) {
    const auto layout = g128_layout;
    const int strips = sms * 3 - sms / 2;   // between one wave of 8-warp CTAs (2 per SM) and 3 x sms
    const cuda::WqLayout l = layout(strips * 32 / 128 * 128, 4096, false);
    const int n_strips = l.n / 32;
    cuda::WqPlan p;
    auto plan = [&](const cuda::WqLayout& x, int M) { return cuda::wq_plan(x, M, &p) == CudaStatus::ok; };
    ++g_checks;
    if (n_strips <= 2 * sms || n_strips > 3 * sms) { fail("ctask wide plan: test shape does not fall between the waves"); return; }
    if (!plan(l, 1) || p.path != 2 || p.warps_k != 6 || p.ctas_per_sm != 3)
        fail("ctask wide plan: " + std::to_string(l.n) + "x4096 M = 1 should take 6-warp CTAs, 3 per SM (got path " +
             std::to_string(p.path) + ", " + std::to_string(p.warps_k) + " warps)");
    ++g_checks;
    if (!plan(l, 2) || (p.path == 2 && p.warps_k == 6)) fail("ctask wide plan: M = 2 took the 6-warp CTAs");
    ++g_checks;
    if (!plan(layout(l.n, 4096, true), 1) || (p.path == 2 && p.warps_k == 6)) fail("ctask wide plan: a zero-point format took the 6-warp CTAs");
    ++g_checks;   // K = 8192: 64 k-stages, more than 6 per warp
    if (!plan(layout(l.n, 8192, false), 1) || (p.path == 2 && p.warps_k == 6)) fail("ctask wide plan: K = 8192 took the 6-warp CTAs");
    cuda::wq_set_ctask_wide(false);
    ++g_checks;
    const bool off_ok = plan(l, 1) && !(p.path == 2 && p.warps_k == 6);
    cuda::wq_set_ctask_wide(true);
    if (!off_ok) fail("ctask wide plan: wq_set_ctask_wide(false) still took the 6-warp CTAs");
    // 4096x11008 (128 strips, one 16-warp CTA each): 16 warps stay the planner's choice, 18 only forced.
    ++g_checks;
    if (sms >= 128 && (!plan(layout(4096, 11008, false), 1) || p.path != 2 || p.warps_k != 16))
        fail("ctask wide plan: 4096x11008 M = 1 should keep 16-warp CTAs");
    cuda::wq_set_ctask(8, 18);
    ++g_checks;
    const bool forced = plan(layout(4096, 11008, false), 1) && p.path == 2 && p.warps_k == 18;
    cuda::wq_set_ctask(-1, 0);
    if (!forced) fail("ctask wide plan: wq_set_ctask(8, 18) did not give 18-warp CTAs");
    // Shared strips (wq_set_ctask_shared): the same layer at M = 2..8, one 16-warp CTA per SM;
    // not at M = 1, not with zero points, not past 3 strips per SM, not at K = 8192, not when
    // off; layers of 1.4-2 strips per SM only from M = 4.
    auto shared = [&](const cuda::WqLayout& x, int M) { return plan(x, M) && p.path == 2 && p.shared_strips == 1; };
    for (int M : {2, 4, 8}) {
        ++g_checks;
        if (!shared(l, M) || p.warps_k != 16 || p.ctas != sms)
            fail("ctask shared plan: " + std::to_string(l.n) + "x4096 M = " + std::to_string(M) + " should share its strips over " +
                 std::to_string(sms) + " CTAs of 16 warps (got path " + std::to_string(p.path) + ", " + std::to_string(p.ctas) + " CTAs)");
    }
    ++g_checks;
    if (shared(l, 1)) fail("ctask shared plan: M = 1 took shared strips");
    ++g_checks;
    if (shared(layout(l.n, 4096, true), 4)) fail("ctask shared plan: a zero-point format took shared strips");
    ++g_checks;
    if (shared(layout((3 * sms + 8) * 32 / 128 * 128 + 128, 4096, false), 4)) fail("ctask shared plan: more than 3 strips per SM took shared strips");
    // 1.4-2 strips per SM (session 15): shared from M = 4 (C = S / 2 CTAs), not at M = 1-3, not below 1.4.
    const cuda::WqLayout l2 = layout(2 * sms * 32 / 128 * 128, 4096, false);
    for (int M : {4, 8}) {
        ++g_checks;
        if (!shared(l2, M) || p.ctas != std::min(sms, (l2.n / 32 + 1) / 2))
            fail("ctask shared plan: " + std::to_string(l2.n) + "x4096 (2 strips per SM) M = " + std::to_string(M) +
                 " should share its strips over S / 2 CTAs (got path " + std::to_string(p.path) + ", " + std::to_string(p.ctas) + " CTAs)");
    }
    for (int M : {1, 2, 3}) {
        ++g_checks;
        if (shared(l2, M)) fail("ctask shared plan: 2 strips per SM took shared strips at M = " + std::to_string(M));
    }
    ++g_checks;
    if (shared(layout(sms * 5 / 4 * 32 / 128 * 128, 4096, false), 4)) fail("ctask shared plan: 1.25 strips per SM took shared strips");
    ++g_checks;
    if (shared(layout(l.n, 8192, false), 4)) fail("ctask shared plan: K = 8192 took shared strips");
    cuda::wq_set_ctask_shared(0);
    ++g_checks;
    const bool never = !shared(l, 4);
    cuda::wq_set_ctask_shared(1);
    ++g_checks;
    const bool small_forced = shared(layout(1152, 640, false), 1) && p.ctas == std::min(sms, 18);
    cuda::wq_set_ctask_shared(-1);
    if (!never) fail("ctask shared plan: wq_set_ctask_shared(0) still shared the strips");
    if (!small_forced) fail("ctask shared plan: wq_set_ctask_shared(1) on 1152x640 M = 1 should give min(SMs, 18) CTAs");
}

// The planner's ring for the streaming kernel (wna16.cu, kRegRingMinStages): INT4 g128 without
// zeros at M = 1, on layers too wide for ctask: on GPUs under 4 TB/s the register ring where its
// plan gives each warp >= 10 k-stages (22016x4096 on 132 SMs: 3 splits, 10.7), the shared-memory
// ring of depth 4 at fewer (14336x4096: 4 splits, 8) and on faster GPUs (the H200). The split
// depends on the SM count, so the shapes are checked on 132-SM GPUs (H100 SXM, H200) only; any
// GPU checks that forcing either ring still works.
void test_ring_plans(int sms) {
    auto layout = [](int n, int k) { return g128_layout(n, k, false); };
    cuda::WqPlan p;
    auto plan = [&](int n, int k, int M) { return cuda::wq_plan(layout(n, k), M, &p) == CudaStatus::ok; };
    auto what = [&]() { return "path " + std::to_string(p.path) + ", smem ring " + std::to_string(p.smem_ring) + ", splits " + std::to_string(p.splits); };
    const double gbps = cuda::wq_peak_gbps();
    std::printf("ring plan: peak HBM %.0f GB/s from the device attributes\n", gbps);
    if (sms == 132 && gbps > 0) {
        ++g_checks;
        if (gbps < 4000 && (!plan(22016, 4096, 1) || p.path != 1 || p.smem_ring != 0 || p.k_stages / p.splits < 10))
            fail("ring plan: 22016x4096 M = 1 should take the register ring (got " + what() + ")");
        if (gbps >= 4000 && (!plan(22016, 4096, 1) || p.path != 1 || p.smem_ring != 4))
            fail("ring plan: 22016x4096 M = 1 on a >= 4 TB/s GPU should take the shared-memory ring of depth 4 (got " + what() + ")");
        ++g_checks;
        if (!plan(14336, 4096, 1) || p.path != 1 || p.smem_ring != 4)
            fail("ring plan: 14336x4096 M = 1 should take the shared-memory ring of depth 4 (got " + what() + ")");
    }
    // Which kernel takes M = 2..8 (stream_max_m in wna16.cu): the streaming kernel for INT4 g128
    // up to M = 8 with or without zero points, the MMA kernel past that and for g32 at M > 2.
    auto path_at = [&](int group, bool zero, int M) {
        cuda::WqLayout l = layout(22016, 4096);
        l.group = group;
        l.has_zero = zero;
        return cuda::wq_plan(l, M, &p) == CudaStatus::ok ? p.path : -1;
    };
    // Past them, with the wgmma kernel from M = 9: that kernel where the device runs it (compute
    // capability 9.0), else the MMA kernel.
    const int past = cuda::wq_wgmma_available() ? 3 : 0;
    cuda::wq_set_wgmma(9);
    struct Want { int group; bool zero; int M, path; };
    auto expect = [&](const char* what, const Want& w) {
        ++g_checks;
        const int got = path_at(w.group, w.zero, w.M);
        if (got != w.path)
            fail(std::string(what) + ": 22016x4096 g" + std::to_string(w.group) + (w.zero ? " with zeros" : "") + " M = " +
                 std::to_string(w.M) + " took path " + std::to_string(got) + ", want " + std::to_string(w.path));
    };
    for (const Want& w : {Want{128, true, 8, 1}, Want{128, false, 8, 1}, Want{128, false, 9, past}, Want{128, false, 2, 1},
                          Want{32, false, 3, 0}, Want{32, false, 2, 1}, Want{128, true, 9, past}, Want{32, false, 8, 0},
                          Want{32, false, 16, past}, Want{128, false, 64, past}, Want{128, false, 128, past}})
        expect("stream plan", w);
    cuda::wq_set_wgmma(0);   // off: the MMA kernel
    ++g_checks;
    if (path_at(128, false, 64) != 0) fail("wgmma plan: wq_set_wgmma(0) did not send M = 64 to the MMA kernel");
    cuda::wq_set_wgmma(-1);
    // The default thresholds: INT4 from M = 17, INT8 at every M.
    for (const Want& w : {Want{128, false, 16, 0}, Want{128, false, 17, past}, Want{128, true, 32, past}, Want{64, false, 16, 0}})
        expect("wgmma plan", w);
    {
        cuda::WqLayout l8 = layout(22016, 4096);
        l8.bits = 8;
        l8.group = 4096;
        l8.grouped = false;
        const int want8 = cuda::wq_wgmma_available() ? 3 : 0;
        for (int m : {1, 9, 128}) {
            ++g_checks;
            if (cuda::wq_plan(l8, m, &p) != CudaStatus::ok || p.path != want8)
                fail("wgmma plan: INT8 22016x4096 M = " + std::to_string(m) + " took path " + std::to_string(p.path) + ", want " +
                     std::to_string(want8));
        }
    }
    cuda::wq_set_stream_max_m(2, 0);   // explicit limits override the per-format defaults
    ++g_checks;
    if (path_at(128, true, 4) != 0) fail("stream plan: wq_set_stream_max_m(2, 0) did not send M = 4 to the MMA kernel");
    cuda::wq_set_stream_max_m(-1, -1);
    cuda::wq_set_stream_smem(4);
    ++g_checks;
    const bool forced_smem = plan(22016, 4096, 1) && p.path == 1 && p.smem_ring == 4;
    cuda::wq_set_stream_smem(0);
    ++g_checks;
    const bool forced_reg = plan(14336, 4096, 1) && p.path == 1 && p.smem_ring == 0;
    cuda::wq_set_stream_smem(-1);
    if (!forced_smem) fail("ring plan: wq_set_stream_smem(4) did not give the shared-memory ring");
    if (!forced_reg) fail("ring plan: wq_set_stream_smem(0) did not give the register ring");
}

}  // namespace

int main(int argc, char** argv) {
    bool small = false, tiny = false, lt = true;
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--small") == 0) small = true;
        else if (std::strcmp(argv[i], "--tiny") == 0) small = tiny = true;
        else if (std::strcmp(argv[i], "--no-lt") == 0) lt = false;
        else { std::printf("usage: qbench_gpu_tests [--small | --tiny] [--no-lt]\n"); return 2; }
    }
    int n = 0;
    const cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess || n < 1) {
        std::printf("SKIP: no usable CUDA GPU (%s); the CUDA kernel tests run on a GPU machine (tests/gpu/README.md)\n",
                    e != cudaSuccess ? cudaGetErrorString(e) : "0 devices");
        return 77;
    }
    cudaDeviceProp p{};
    CK(cudaGetDeviceProperties(&p, 0));
    std::printf("GPU: %s, sm_%d%d, %d SMs\n", p.name, p.major, p.minor, p.multiProcessorCount);
    test_formats_refused();
    test_ctask_wide_plans(p.multiProcessorCount);
    test_ring_plans(p.multiProcessorCount);

    struct S { int n, k; };
    const std::vector<S> small_shapes = tiny ? std::vector<S>{{128, 128}, {256, 384}, {128, 1024}}
                                             : std::vector<S>{{128, 128}, {256, 384}, {384, 256}, {640, 1152}, {1152, 640}};
    const std::vector<S> big_shapes = {{11008, 4096}, {4096, 11008}, {8192, 28672}};
    const std::vector<int> small_batches = tiny    ? std::vector<int>{1, 9, 17, 130}
                                           : small ? std::vector<int>{1, 5, 16, 17, 40, 64, 100, 130}
                                                 : std::vector<int>{1, 2, 3, 4, 8, 16, 17, 32, 33, 64, 65, 100, 128, 130};
    const std::vector<int> big_batches = {1, 2, 4, 8, 16, 32, 64, 128};

    for (const S& s : small_shapes) {
        Acts a;
        make_acts(&a, 130, s.k, 7 + s.k);
        for (int g : {32, 64, 128, 256, 0}) {
            if (g && s.k % g) continue;
            for (bool z : {false, true}) test_wq(s.n, s.k, 4, g, z, ScaleType::f16, small_batches, a);
        }
        test_wq(s.n, s.k, 8, 0, false, ScaleType::f16, small_batches, a);
        test_wq(s.n, s.k, 8, 0, false, ScaleType::f32, small_batches, a);
        if (lt) test_lt(s.n, s.k, small ? std::vector<int>{1, 17, 64} : std::vector<int>{1, 2, 16, 17, 64, 128}, a);
        delete a.d;
        std::printf("shape %dx%d done (%d checks, %d failures so far)\n", s.n, s.k, g_checks, g_failures);
        std::fflush(stdout);
    }
    if (!small)
        for (const S& s : big_shapes) {
            Acts a;
            make_acts(&a, 128, s.k, 9 + s.k);
            for (int g : {32, 64, 128, 0})
                for (bool z : {false, true}) test_wq(s.n, s.k, 4, g, z, ScaleType::f16, big_batches, a);
            test_wq(s.n, s.k, 8, 0, false, ScaleType::f16, big_batches, a);
            if (lt) test_lt(s.n, s.k, {1, 16, 64}, a);
            delete a.d;
            std::printf("shape %dx%d done (%d checks, %d failures so far)\n", s.n, s.k, g_checks, g_failures);
            std::fflush(stdout);
        }
    std::printf("%s: %d checks, %d failures\n", g_failures ? "FAILED" : "PASSED", g_checks, g_failures);
    return g_failures ? 1 : 0;
}
