// cpu_kernels.cpp: ISA detection and capping, argument checks, activation preparation and the
// split of N across the thread pool. The arithmetic lives in the per-family, per-ISA files.
#include "cpu_kernels.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <vector>

#include "kernel_abi.h"
#include "thread_pool.h"

namespace qb::cpu {

const char* isa_name(Isa i) {
    switch (i) {
        case Isa::scalar: return "scalar";
        case Isa::avx2: return "avx2";
        case Isa::avx512: return "avx512";
        case Isa::avx512_vnni: return "avx512-vnni";
    }
    return "?";
}

bool parse_isa(const std::string& s, Isa* out) {
    for (Isa i : {Isa::scalar, Isa::avx2, Isa::avx512, Isa::avx512_vnni})
        if (s == isa_name(i)) { *out = i; return true; }
    return false;
}

const char* row_order_name(RowOrder o) { return o == RowOrder::long_runs ? "long" : "short"; }

bool parse_row_order(const std::string& s, RowOrder* out) {
    if (s == "short") { *out = RowOrder::short_runs; return true; }
    if (s == "long") { *out = RowOrder::long_runs; return true; }
    return false;
}

RowOrder detected_row_order() {
#if (defined(__x86_64__) || defined(__i386__)) && !defined(QB_CPU_SCALAR_ONLY)
    static const RowOrder o = [] {
        __builtin_cpu_init();
        return __builtin_cpu_is("amd") ? RowOrder::long_runs : RowOrder::short_runs;
    }();
    return o;
#else
    return RowOrder::short_runs;
#endif
}

bool long_runs_apply(int M, int bits) { return M == 1 || (bits == 8 && M == 2); }

int fixed16_row_stride(size_t rb, int N, int threads, RowOrder o) {
    const int base = int4_row_stride(rb);
    if (o == RowOrder::short_runs) return base;
    const int want = 4 * (threads > 0 ? threads : 1);   // tasks, as parallel_rows hands them out
    int s = kLongRunRows;
    while (s > base && (N + kRowBlock * s - 1) / (kRowBlock * s) < want) s /= 2;
    return s > base ? s : base;
}

const char* status_str(Status s) {
    switch (s) {
        case Status::ok: return "ok";
        case Status::bad_shape: return "bad shape (M, N, K out of range or null pointer)";
        case Status::bad_format: return "bad weight format";
        case Status::unsupported: return "format not supported by this kernel family";
    }
    return "?";
}

Isa detected_isa() {
#if (defined(__x86_64__) || defined(__i386__)) && !defined(QB_CPU_SCALAR_ONLY)
    static const Isa best = [] {
        __builtin_cpu_init();
        // libgcc's checks include the OS's XSAVE state (XGETBV), not just CPUID.
        const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
        const bool avx512 = avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                            __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
        const bool vnni = avx512 && __builtin_cpu_supports("avx512vnni");
        return vnni ? Isa::avx512_vnni : avx512 ? Isa::avx512 : avx2 ? Isa::avx2 : Isa::scalar;
    }();
    return best;
#else
    return Isa::scalar;
#endif
}

bool isa_supported(Isa i) { return (int)i <= (int)detected_isa(); }

std::vector<Isa> supported_isas() {
    std::vector<Isa> v;
    for (Isa i : {Isa::scalar, Isa::avx2, Isa::avx512, Isa::avx512_vnni})
        if (isa_supported(i)) v.push_back(i);
    return v;
}

std::vector<std::string> cpu_feature_list() {
    std::vector<std::string> v;
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
#define QB_FEATURE(name) if (__builtin_cpu_supports(name)) v.push_back(name);
    QB_FEATURE("sse4.2") QB_FEATURE("avx") QB_FEATURE("avx2") QB_FEATURE("fma") QB_FEATURE("f16c")
    QB_FEATURE("avx512f") QB_FEATURE("avx512bw") QB_FEATURE("avx512vl") QB_FEATURE("avx512dq")
    QB_FEATURE("avx512vnni") QB_FEATURE("avx512bf16") QB_FEATURE("avx512vbmi")
#undef QB_FEATURE
#endif
    return v;
}

namespace {

std::atomic<int> g_cap{-1};
std::atomic<int> g_rows{-1};

Isa cap() {
    int c = g_cap.load();
    if (c < 0) {
        c = (int)Isa::avx512_vnni;
        Isa e;
        if (const char* s = std::getenv("QB_CPU_ISA"); s && parse_isa(s, &e)) c = (int)e;
        g_cap.store(c);
    }
    return (Isa)c;
}

bool shape_ok(const float* X, int M, int N, int K, const float* Y) {
    return X && Y && M >= 1 && M <= kMaxM && N >= 1 && K >= 1;
}

// N split into contiguous chunks, a multiple of `granule` rows (the kernel's row block, or its
// group of strided blocks), about four per thread so the dynamic hand-out can even out a slow
// core.
void parallel_rows(RowsFn fn, const GemmArgs& a, int granule = kRowBlock) {
    ThreadPool& pool = global_pool();
    const int blocks = (a.N + granule - 1) / granule;
    int tasks = pool.size() * 4;
    if (tasks > blocks) tasks = blocks;
    const int per = (blocks + tasks - 1) / tasks * granule;
    tasks = (a.N + per - 1) / per;
    pool.run(tasks, [&](int t) {
        const int n0 = t * per, n1 = n0 + per < a.N ? n0 + per : a.N;
        fn(a, n0, n1);
    });
}

void parallel_m(ActQuantFn fn, const GemmArgs& a) {
    ThreadPool& pool = global_pool();
    const int per = (a.M + pool.size() - 1) / pool.size();
    pool.run((a.M + per - 1) / per, [&](int t) {
        const int m0 = t * per, m1 = m0 + per < a.M ? m0 + per : a.M;
        fn(a, m0, m1);
    });
}

// INT4 activations: each full 32-value chunk becomes [16 even k | 16 odd k] (kernel_abi.h).
void deinterleave_int4(const float* X, int M, int K, float* out) {
    const int full = K / kChunk * kChunk;
    for (int m = 0; m < M; ++m) {
        const float* x = X + (size_t)m * K;
        float* o = out + (size_t)m * K;
        for (int c = 0; c < full; c += kChunk)
            for (int i = 0; i < kChunk / 2; ++i) {
                o[c + i] = x[c + 2 * i];
                o[c + kChunk / 2 + i] = x[c + 2 * i + 1];
            }
        for (int k = full; k < K; ++k) o[k] = x[k];
    }
}

}  // namespace

bool set_isa_cap(Isa i) {
    if (!isa_supported(i)) return false;
    g_cap.store((int)i);
    return true;
}

Isa active_isa() {
    const Isa c = cap(), d = detected_isa();
    return (int)c < (int)d ? c : d;
}

void set_row_order(RowOrder o) { g_rows.store((int)o); }

RowOrder active_row_order() {
    int v = g_rows.load();
    if (v < 0) {
        RowOrder o = detected_row_order();
        if (const char* s = std::getenv("QB_CPU_ROWS"); s) parse_row_order(s, &o);   // bad values: refused by the CLI
        v = (int)o;
        g_rows.store(v);
    }
    return (RowOrder)v;
}

KernelRun gemm_fp32(const float* X, int M, const float* W, int N, int K, float* Y) {
    KernelRun r;
    r.impl = "eigen";
    if (!shape_ok(X, M, N, K, Y) || !W) { r.status = Status::bad_shape; return r; }
    GemmArgs a;
    a.M = M; a.N = N; a.K = K; a.X = a.Xp = X; a.Wf = W; a.Y = Y;
    const Isa isa = active_isa();
    RowsFn fn = eigen_generic::fp32_rows;
    r.isa = Isa::scalar;
    if ((int)isa >= (int)Isa::avx512) { fn = eigen_avx512::fp32_rows; r.isa = Isa::avx512; }
    else if (isa == Isa::avx2) { fn = eigen_avx2::fp32_rows; r.isa = Isa::avx2; }
    parallel_rows(fn, a);
    return r;
}

bool int3_fixed16_supported() {
#if (defined(__x86_64__) || defined(__i386__)) && !defined(QB_CPU_SCALAR_ONLY)
    static const bool vbmi = [] {
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx512vbmi") != 0;
    }();
    return vbmi && isa_supported(Isa::avx512_vnni);
#else
    return false;
#endif
}

// Groups of whole 128-value blocks (one scale per fixed16 block), or per-channel.
static bool whole_block_groups(const QuantizedMatrix& W) { return W.group % kFixed16Block == 0 || W.group == W.cols; }

// Formats the avx512-vnni kernels take: INT8 (per-channel); INT4, and INT3 where the CPU has
// AVX512_VBMI (w3a16_avx512vbmi.cpp, decoded to INT4's order), whose scales come per 128-value
// block (one group, or 4 / 2 groups of 32 / 64 spread over the lanes); INT2 with groups of whole
// blocks or per-channel (its lanes hold k spread over a block). Other groups (96, 160, ...; INT2
// 32, 64) keep the FP32 path.
static bool fixed16_format(const QuantizedMatrix& W) {
    const bool whole_blocks = whole_block_groups(W);
    const bool per_block = whole_blocks || W.group == 32 || W.group == 64;
    return W.bits == 8 || (W.bits == 4 && per_block) || (W.bits == 2 && whole_blocks) ||
           (W.bits == 3 && per_block && int3_fixed16_supported());
}

KernelRun gemm_weight_only(const float* X, int M, const QuantizedMatrix& W, float* Y) {
    KernelRun r;
    if (!shape_ok(X, M, W.rows, W.cols, Y) || !W.q || !W.scales) { r.status = Status::bad_shape; return r; }
    if (check_format(W) != FormatError::ok || (W.has_zero && !W.zeros)) { r.status = Status::bad_format; return r; }
    GemmArgs a;
    a.M = M; a.N = W.rows; a.K = W.cols; a.X = a.Xp = X; a.W = &W; a.Y = Y;
    const Isa isa = active_isa();
    // The fixed16 formats with VNNI: every M (INT4 and INT8 as fast or faster than the
    // FP32-activation paths from M = 1 to 128 on the development VM; INT3 / INT2 faster but for
    // INT2 per-channel at large M, docs/cpu-kernels.md). Activations that are not all
    // finite have no fixed-point form; such a call runs the FP32 path below, which carries
    // the infinities and NaNs through as the reference does.
    const bool vnni = (int)isa >= (int)Isa::avx512_vnni && fixed16_format(W);
    // AVX2 without VNNI: INT4 in whole-block groups on the same activations (w4a16_avx2_fixed16.cpp).
    const bool avx2_int4 = !vnni && isa == Isa::avx2 && W.bits == 4 && whole_block_groups(W);
    if (vnni || avx2_int4) {
        const int nb = (W.cols + kFixed16Block - 1) / kFixed16Block;
        a.ldx = nb * kFixed16ActBlockBytes;
        std::vector<int8_t> xs((size_t)M * a.ldx);
        std::vector<float> xstep((size_t)M * nb), xgs(W.has_zero ? (size_t)M * groups(W) : 0);
        std::vector<int32_t> xcorr((size_t)M * nb * 16);
        std::vector<uint8_t> xbad((size_t)M);
        a.Xs = xs.data(); a.xstep = xstep.data(); a.xcorr = xcorr.data(); a.xgs = xgs.data(); a.xbad = xbad.data();
        parallel_m(vnni ? avx512vnni::fixed16_prepare_acts : avx2::fixed16_prepare_acts_int4, a);
        if (std::none_of(xbad.begin(), xbad.end(), [](uint8_t v) { return v != 0; })) {
            r.isa = vnni ? Isa::avx512_vnni : Isa::avx2;
            r.impl = isa_name(r.isa);
            r.fixed16_acts = true;
            const RowsFn fn = !vnni ? avx2::w4a16_fixed16_rows
                              : W.bits == 8 ? avx512vnni::w8a16_rows : W.bits == 3 ? avx512vnni::w3a16_rows : avx512vnni::w4a16_rows;
            const RowOrder order = long_runs_apply(M, W.bits) ? active_row_order() : RowOrder::short_runs;
            a.row_stride = fixed16_row_stride(row_bytes(W), W.rows, global_pool().size(), order);
            a.prefetch_bytes = order == RowOrder::short_runs ? kFixed16PrefetchBytes : 0;
            parallel_rows(fn, a, kRowBlock * a.row_stride);
            return r;
        }
    }
    r.isa = (int)isa >= (int)Isa::avx512 ? Isa::avx512 : isa;
    r.impl = isa_name(r.isa);
    std::vector<float> xp;
    if (W.bits == 4 && r.isa != Isa::scalar) {
        xp.resize((size_t)M * W.cols);
        deinterleave_int4(X, M, W.cols, xp.data());
        a.Xp = xp.data();
    }
    RowsFn fn;
    if (W.bits == 8) fn = r.isa == Isa::avx512 ? avx512::w8a16_rows : r.isa == Isa::avx2 ? avx2::w8a16_rows : scalar::w8a16_rows;
    else fn = r.isa == Isa::avx512 ? avx512::w4a16_rows : r.isa == Isa::avx2 ? avx2::w4a16_rows : scalar::w4a16_rows;
    parallel_rows(fn, a);
    return r;
}

KernelRun gemm_w8a8(const float* X, int M, const QuantizedMatrix& W, float* Y) {
    KernelRun r;
    if (!shape_ok(X, M, W.rows, W.cols, Y) || !W.q || !W.scales) { r.status = Status::bad_shape; return r; }
    if (check_format(W) != FormatError::ok) { r.status = Status::bad_format; return r; }
    if (W.bits != 8 || W.cols > kW8A8MaxK) { r.status = Status::unsupported; return r; }
    const Isa isa = active_isa();
    // No AVX-512 path without VNNI: vpmaddubsw at 512 bits would need the sign trick without
    // vpsignb (absent from AVX-512), so that level uses the AVX2 code.
    r.isa = (int)isa >= (int)Isa::avx512_vnni ? Isa::avx512_vnni : (int)isa >= (int)Isa::avx2 ? Isa::avx2 : Isa::scalar;
    r.impl = isa_name(r.isa);
    GemmArgs a;
    a.M = M; a.N = W.rows; a.K = W.cols; a.X = a.Xp = X; a.W = &W; a.Y = Y;
    a.ldq = (W.cols + 63) / 64 * 64;
    std::vector<int8_t> xq((size_t)M * a.ldq);
    std::vector<float> sx((size_t)M);
    std::vector<int32_t> xsum((size_t)M);
    a.Xq = xq.data(); a.sx = sx.data(); a.xsum = xsum.data();
    ActQuantFn qf = r.isa == Isa::avx512_vnni ? avx512vnni::w8a8_quantize_acts : r.isa == Isa::avx2 ? avx2::w8a8_quantize_acts : scalar::w8a8_quantize_acts;
    RowsFn fn = r.isa == Isa::avx512_vnni ? avx512vnni::w8a8_rows : r.isa == Isa::avx2 ? avx2::w8a8_rows : scalar::w8a8_rows;
    parallel_m(qf, a);
    parallel_rows(fn, a);
    return r;
}

std::vector<float> acts_as_run(const KernelRun& r, const float* X, int M, int K) {
    std::vector<float> out;
    if (r.fixed16_acts) {
        out.resize((size_t)M * K);
        for (int m = 0; m < M; ++m) fixed16_round(X + (size_t)m * K, K, out.data() + (size_t)m * K);
    }
    return out;
}

double error_bound(const KernelRun& r, bool w8a8, const float* x_ref, int K, const QuantizedMatrix* w, const float* wf_row, int n) {
    const double u = 1.0 / 16777216.0;
    if (w8a8) return 0;
    const int nblocks = (K + kFixed16Block - 1) / kFixed16Block;
    if (!r.fixed16_acts || w->bits == 8) {   // bounds in sum |x w|
        double mag = 0;
        for (int k = 0; k < K; ++k) mag += std::fabs((double)x_ref[k] * (w ? dequant_at(*w, n, k) : wf_row[k]));
        if (!r.fixed16_acts) return (K + 4) * u * mag;
        // fixed16 INT8: one more rounding per block, its int32 sum converting inexactly above 2^24
        return (3.0 * nblocks + 12) * u * mag + nblocks * std::ldexp(1.0, -123);
    }
    const int G = groups(*w);
    const double L = 2.0 * nblocks + (G + 15) / 16 + 12;
    double mag = 0;
    const uint8_t* row = w->q + (size_t)n * row_bytes(*w);
    const int off = sym_zero(w->bits);   // the codes' offset in the kernel's unsigned bytes (C_b)
    for (int k = 0; k < K; ++k) {
        const int g = k / w->group;
        mag += std::fabs((double)x_ref[k]) * scale_at(*w, n, g) * (std::abs((int)get_packed(row, w->bits, (size_t)k) - off) + std::abs(zero_at(*w, n, g) - off));
    }
    return L * u * mag * (1 + 1.0 / 1024) + nblocks * std::ldexp(1.0, -123);
}

}  // namespace qb::cpu
