#include "runner.h"

#include <sys/mman.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <memory>

#if defined(__x86_64__) || defined(__i386__)
#include <emmintrin.h>
#endif

#include "cpu_kernels.h"
#include "environment.h"
#include "memory.h"
#include "qformat.h"
#include "thread_pool.h"

namespace qb::native {

namespace {

struct Freer { void operator()(void* p) const { std::free(p); } };

// 2 MB-aligned, transparent-huge-page backed where the kernel allows: streaming 180 MB of
// weights through 4 KB pages would add a TLB miss every 4 KB, which a real inference
// runtime (which maps its weights with huge pages) does not pay.
struct Buffer {
    std::unique_ptr<uint8_t[], Freer> p;
    size_t size = 0;
    void alloc(size_t n) {
        const size_t align = 2u << 20, bytes = (n + align - 1) / align * align;
        p.reset(static_cast<uint8_t*>(std::aligned_alloc(align, bytes ? bytes : align)));
        size = n;
#ifdef MADV_HUGEPAGE
        if (p) madvise(p.get(), bytes, MADV_HUGEPAGE);
#endif
    }
    template <class T> T* as() { return reinterpret_cast<T*>(p.get()); }
};

double now_us() { return std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

// Deterministic weight-like data: uniform with a few 8x outliers per row (what makes group
// size matter), filled in parallel.
void fill_random(float* v, size_t n, uint64_t seed, float scale) {
    cpu::ThreadPool& pool = cpu::global_pool();
    const int T = pool.size() * 4;
    pool.run(T, [&](int t) {
        uint64_t s = (seed + (uint64_t)t * 0x9E3779B97F4A7C15ull) | 1;
        const size_t b = n * (size_t)t / (size_t)T, e = n * (size_t)(t + 1) / (size_t)T;
        for (size_t i = b; i < e; ++i) {
            s ^= s >> 12; s ^= s << 25; s ^= s >> 27;
            const uint64_t u = s * 2685821657736338717ull;
            float x = ((float)(u >> 40) * (1.0f / 16777216.0f) * 2 - 1) * scale;
            if ((u & 63) == 0) x *= 8;
            v[i] = x;
        }
    });
}

// Quantizes rows in parallel (quantize_ref is per row independent; each task gets a row range
// as its own QuantizedMatrix view).
void quantize_parallel(const float* W, QuantizedMatrix& w) {
    cpu::ThreadPool& pool = cpu::global_pool();
    const int T = pool.size() * 4;
    const size_t rb = row_bytes(w), G = (size_t)groups(w);
    const size_t sb = w.scale_type == ScaleType::f32 ? 4 : 2;
    // Zeros are a bit stream over (row, group): a row range starts on a byte boundary only if
    // rows x G x bits is a multiple of 8; split on multiples of 8 rows, which always is.
    const int rows_per = ((w.rows + T - 1) / T + 7) / 8 * 8;
    pool.run((w.rows + rows_per - 1) / rows_per, [&](int t) {
        const int r0 = t * rows_per, r1 = std::min(w.rows, r0 + rows_per);
        QuantizedMatrix v = w;
        v.rows = r1 - r0;
        v.q = w.q + (size_t)r0 * rb;
        v.scales = static_cast<uint8_t*>(w.scales) + (size_t)r0 * G * sb;
        v.zeros = w.has_zero ? w.zeros + (size_t)r0 * G * (size_t)w.bits / 8 : nullptr;
        quantize_ref(W + (size_t)r0 * w.cols, v);
    });
}

struct Span { const void* p; size_t n; };

// Evicts the spans from all cache levels (clflush), split across the pool so the workers are
// awake when the timed call starts.
void flush_spans(const std::vector<Span>& spans) {
#if defined(__x86_64__) || defined(__i386__)
    cpu::ThreadPool& pool = cpu::global_pool();
    const int T = pool.size();
    pool.run(T, [&](int t) {
        for (const Span& s : spans) {
            const char* c = static_cast<const char*>(s.p);
            const size_t lines = (s.n + 63) / 64;
            for (size_t i = lines * (size_t)t / T; i < lines * (size_t)(t + 1) / T; ++i) _mm_clflush(c + i * 64);
        }
        _mm_mfence();
    });
#else
    (void)spans;
#endif
}

struct Scrubber {
    Buffer buf;
    void ensure() {
        if (buf.size) return;
        size_t n = llc_bytes() * 2;
        if (n < (64u << 20)) n = 64u << 20;
        buf.alloc(n);
    }
    void run() {
        ensure();
        cpu::ThreadPool& pool = cpu::global_pool();
        const int T = pool.size();
        uint8_t* p = buf.as<uint8_t>();
        pool.run(T, [&](int t) {
            const size_t b = buf.size * (size_t)t / T, e = buf.size * (size_t)(t + 1) / T;
            std::memset(p + b, t + 1, e - b);
        });
    }
};

struct Stats { double median, p10, p90; };

Stats stats(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    auto q = [&](double f) {
        const double pos = f * (double)(v.size() - 1);
        const size_t i = (size_t)pos;
        const double fr = pos - (double)i;
        return i + 1 < v.size() ? v[i] * (1 - fr) + v[i + 1] * fr : v[i];
    };
    return {q(0.5), q(0.1), q(0.9)};
}

// Output columns to check: all for small problems, else 64 spread over N incl. both ends.
std::vector<int> check_columns(int M, int N, int K) {
    std::vector<int> c;
    if ((double)M * N * K <= 4e7) {
        for (int n = 0; n < N; ++n) c.push_back(n);
        return c;
    }
    for (int i = 0; i < 64; ++i) c.push_back((int)((int64_t)(N - 1) * i / 63));
    c.erase(std::unique(c.begin(), c.end()), c.end());
    return c;
}

struct Check { bool ok = true; double max_rel = 0; };

// Compares Y with the reference of the run on the checked columns (matmul_ref of X as the
// kernel rounded it, within cpu::error_bound); w == nullptr means FP32 weights Wf.
Check check_output(const float* X, int M, int N, int K, const float* Wf, const QuantizedMatrix* w, bool w8a8,
                   const cpu::KernelRun& kr, const float* Y) {
    Check r;
    const std::vector<int> cols = check_columns(M, N, K);
    std::vector<float> ref((size_t)M * N, 0.0f);
    const std::vector<float> xr = cpu::acts_as_run(kr, X, M, K);
    if (!xr.empty()) X = xr.data();
    double max_ref = 0, max_err = 0;
    for (int n : cols) {
        if (w8a8) matmul_w8a8_ref(X, M, *w, ref.data(), n, n + 1);
        else if (w) matmul_ref(X, M, *w, ref.data(), n, n + 1);
        else matmul_f32_ref(X, M, Wf, N, K, ref.data(), n, n + 1);
        for (int m = 0; m < M; ++m) {
            const size_t i = (size_t)m * N + n;
            const double err = std::fabs((double)Y[i] - ref[i]);
            // W8A8 is bit-identical by construction (see w8a8_avx512vnni.cpp): bound 0.
            const double tol = cpu::error_bound(kr, w8a8, X + (size_t)m * K, K, w, w ? nullptr : Wf + (size_t)n * K, n);
            if (!(err <= tol)) r.ok = false;
            max_ref = std::max(max_ref, std::fabs((double)ref[i]));
            max_err = std::max(max_err, err);
        }
    }
    r.max_rel = max_ref > 0 ? max_err / max_ref : max_err;
    return r;
}

}  // namespace

std::string BenchConfig::label() const {
    const std::string cap = isa >= 0 ? std::string(" @") + cpu::isa_name((cpu::Isa)isa) : std::string();
    if (method != "w4a16") return method + cap;
    return "w" + std::to_string(bits) + "a16 " + (group ? "g" + std::to_string(group) : std::string("per-channel")) +
           (zero ? " +zero" : "") + cap;
}

std::vector<BenchShape> default_shapes() {
    return {{"llama-2-7b gate/up 11008x4096", 11008, 4096}, {"llama-2-7b down 4096x11008", 4096, 11008}, {"4096x4096", 4096, 4096}};
}

std::vector<BenchShape> model_shapes(const ModelArch& m) {
    LinearShape ls[kLinears];
    linear_shapes(m, ls);
    std::vector<BenchShape> v;
    for (const LinearShape& l : ls) {
        const int n = (int)l.n, k = (int)l.k;
        v.push_back({m.id + " " + l.name + " " + std::to_string(n) + "x" + std::to_string(k), n, k});
    }
    return v;
}

BenchReport run_bench(const BenchSpec& spec, const Progress& progress) {
    BenchReport rep;
    const double t_start = now_us();
    Results& res = rep.results;
    const double load_before = load_average();
    res.env = capture_environment(cpu::num_threads(), spec.hardware_id);
    // The probe runs before the kernels, before each further shape and after them; the best
    // figure of each kind counts. On a host whose other tenants come and go, the bandwidth a
    // kernel sees changes minute to minute: sampling the limit across the run keeps it a limit.
    std::unique_ptr<BandwidthProbe> probe;
    if (spec.probe) {
        if (progress) progress(0, 1, "bandwidth probe");
        probe = std::make_unique<BandwidthProbe>(spec.probe_spec);
        probe->run(spec.probe_spec.reps);
    }
    Scrubber scrub;
    const int total = (int)(spec.shapes.size() * spec.batches.size() * spec.configs.size());
    int done = 0;
    const int Mmax = spec.batches.empty() ? 1 : *std::max_element(spec.batches.begin(), spec.batches.end());
    for (size_t si = 0; si < spec.shapes.size(); ++si) {
        const BenchShape& sh = spec.shapes[si];
        const int N = sh.n, K = sh.k;
        if (probe && si > 0) {
            if (progress) progress(done, total, "bandwidth probe");
            probe->run(1);
        }
        Buffer W, X, Y;
        W.alloc((size_t)N * K * sizeof(float));
        X.alloc((size_t)Mmax * K * sizeof(float));
        Y.alloc((size_t)Mmax * N * sizeof(float));
        fill_random(W.as<float>(), (size_t)N * K, spec.seed + si * 7919, 0.02f);
        fill_random(X.as<float>(), (size_t)Mmax * K, spec.seed + si * 7919 + 1, 1.0f);
        // One quantized copy per configuration that needs one.
        std::vector<QuantizedMatrix> qm(spec.configs.size());
        std::vector<Buffer> qbuf(spec.configs.size());
        std::vector<bool> qok(spec.configs.size(), true);
        for (size_t ci = 0; ci < spec.configs.size(); ++ci) {
            const BenchConfig& c = spec.configs[ci];
            if (c.method == "fp32") continue;
            QuantizedMatrix& w = qm[ci];
            w.rows = N;
            w.cols = K;
            w.bits = c.method == "w4a16" ? c.bits : 8;
            w.group = c.method == "w4a16" && c.group ? c.group : K;
            w.has_zero = c.method == "w4a16" && c.zero;
            if (check_format(w) != FormatError::ok) {
                qok[ci] = false;
                rep.warnings.push_back(c.label() + " skipped on " + sh.label + ": " + format_error_str(check_format(w)));
                continue;
            }
            qbuf[ci].alloc(plan_storage(w).total);
            bind_storage(w, qbuf[ci].as<uint8_t>());
            if (progress) progress(done, total, "quantizing " + sh.label + " " + c.label());
            quantize_parallel(W.as<float>(), w);
        }
        // Per configuration: its own output buffer (checked after the last call) and the
        // bytes it must move.
        struct Slot {
            const BenchConfig* c = nullptr;
            const QuantizedMatrix* w = nullptr;
            std::vector<Span> spans;
            double wbytes = 0;
            Buffer y;
            cpu::KernelRun kr;
            std::vector<double> times;
        };
        std::vector<Slot> slots;
        for (size_t ci = 0; ci < spec.configs.size(); ++ci) {
            if (!qok[ci]) continue;
            Slot sl;
            sl.c = &spec.configs[ci];
            sl.w = &qm[ci];
            if (sl.c->method == "fp32") {
                sl.spans = {{W.p.get(), (size_t)N * K * sizeof(float)}};
                sl.wbytes = (double)N * K * 4;
            } else {
                const QuantizedMatrix& w = qm[ci];
                sl.spans = {{w.q, q_bytes(w)}, {w.scales, scale_bytes(w)}};
                if (w.has_zero) sl.spans.push_back({w.zeros, zero_bytes(w)});
                sl.wbytes = (double)weight_bytes(w);
            }
            sl.y.alloc((size_t)Mmax * N * sizeof(float));
            slots.push_back(std::move(sl));
        }
        const int skipped = (int)(spec.configs.size() - slots.size());
        for (int M : spec.batches) {
            const float* x = X.as<float>();
            auto call = [&](Slot& sl) {
                const cpu::Isa run_cap = cpu::active_isa();
                if (sl.c->isa >= 0) cpu::set_isa_cap((cpu::Isa)sl.c->isa);
                float* y = sl.y.as<float>();
                if (sl.c->method == "fp32") sl.kr = cpu::gemm_fp32(x, M, W.as<float>(), N, K, y);
                else if (sl.c->method == "w8a8") sl.kr = cpu::gemm_w8a8(x, M, *sl.w, y);
                else sl.kr = cpu::gemm_weight_only(x, M, *sl.w, y);
                if (sl.c->isa >= 0) cpu::set_isa_cap(run_cap);
            };
            // Round-robin over the configurations, one call each per round: whatever else runs
            // on the machine (other processes, frequency changes) then hits every method alike,
            // so the ratios between methods stay meaningful even when absolute times wander.
            const int rounds = spec.warmup + std::max(1, spec.reps);
            for (Slot& sl : slots) sl.times.clear();
            for (int round = 0; round < rounds; ++round) {
                if (progress)
                    progress(done, total, sh.label + " M=" + std::to_string(M) + (round < spec.warmup ? " warm-up" : " rep ") +
                                              (round < spec.warmup ? "" : std::to_string(round - spec.warmup + 1)));
                for (Slot& sl : slots) {
                    if (spec.flush == FlushMode::clflush) flush_spans(sl.spans);
                    else if (spec.flush == FlushMode::write) scrub.run();
                    const double t0 = now_us();
                    call(sl);
                    const double t1 = now_us();
                    if (round >= spec.warmup) sl.times.push_back(t1 - t0);
                }
            }
            done += skipped;
            for (Slot& sl : slots) {
                ++done;
                const BenchConfig& c = *sl.c;
                if (!sl.kr.ok()) {
                    rep.warnings.push_back(c.label() + " failed on " + sh.label + ": " + cpu::status_str(sl.kr.status));
                    continue;
                }
                const Stats st = stats(sl.times);
                const bool fp32 = c.method == "fp32";
                const Check chk = check_output(x, M, N, K, fp32 ? W.as<float>() : nullptr, fp32 ? nullptr : sl.w, c.method == "w8a8",
                                               sl.kr, sl.y.as<float>());
                Measurement m;
                m.backend = "cpu";
                m.kernel = c.method;
                m.impl = sl.kr.impl;
                m.isa = cpu::isa_name(sl.kr.isa);
                m.bits = fp32 ? 32 : sl.w->bits;
                m.group_size = c.method == "w4a16" ? c.group : 0;
                m.zero_point = c.method == "w4a16" && c.zero;
                m.m = M;
                m.n = N;
                m.k = K;
                m.shape = sh.label;
                m.reps = (int)sl.times.size();
                m.median_us = st.median;
                m.p10_us = st.p10;
                m.p90_us = st.p90;
                // Weights (+ scales, zeros) once, float activations in, float outputs out.
                m.bytes = sl.wbytes + (double)M * K * 4 + (double)M * N * 4;
                m.flops = 2.0 * M * N * K;
                m.gbps = m.bytes / (m.median_us * 1e3);
                m.correct = chk.ok;
                m.max_rel_err = chk.max_rel;
                res.measurements.push_back(m);
            }
        }
    }
    if (probe) {
        if (progress) progress(total, total, "bandwidth probe");
        const ProbeResult& pr = probe->run(spec.probe_spec.reps);
        res.probe.kind = pr.best_kind;
        res.probe.gbps = pr.best_gbps;
        res.probe.copy_gbps = pr.copy_gbps;
        res.probe.triad_gbps = pr.triad_gbps;
        res.probe.read_gbps = pr.read_gbps;
        res.probe.array_mb = pr.array_mb;
        probe.reset();
    }
    for (Measurement& m : res.measurements) m.pct_of_probe = res.probe.gbps > 0 ? 100 * m.gbps / res.probe.gbps : 0;
    if (progress) progress(total, total, "done");
    const double load_after = load_average();
    res.env.load_avg = std::max(load_before, load_after);
    if (res.env.load_avg > 0.5)
        rep.warnings.push_back("load average " + std::to_string(res.env.load_avg).substr(0, 4) +
                               " during the run: other work shared the CPU, so times are pessimistic");
    res.run_id = make_run_id(res);
    rep.crossovers = crossovers(res);
    rep.seconds = (now_us() - t_start) / 1e6;
    return rep;
}

std::vector<Crossover> crossovers(const Results& r) {
    std::vector<Crossover> out;
    auto base = [](const Measurement& m) {
        BenchConfig c{m.kernel, m.bits, m.group_size, m.zero_point};
        return c.label();
    };
    // A configuration measured twice per (shape, M) (bench --compare-isa: once at the run's
    // ISA level, once capped) is two series, told apart by their order within each (shape, M)
    // and labelled with the implementation of their smallest M. The implementation alone can
    // not tell them apart: one series may change kernels with M (published runs from before
    // session 7 ran INT4 on avx512-bf16 at M = 1 only).
    std::vector<int> series(r.measurements.size(), 0);
    for (size_t i = 0; i < r.measurements.size(); ++i)
        for (size_t j = 0; j < i; ++j) {
            const Measurement &a = r.measurements[i], &b = r.measurements[j];
            if (a.shape == b.shape && a.m == b.m && base(a) == base(b)) ++series[i];
        }
    std::vector<std::pair<std::string, std::pair<std::string, int>>> seen;   // shape, (base, series)
    for (size_t mi = 0; mi < r.measurements.size(); ++mi) {
        const Measurement& m = r.measurements[mi];
        if (m.kernel == "fp32") continue;
        const auto key = std::make_pair(m.shape, std::make_pair(base(m), series[mi]));
        if (std::find(seen.begin(), seen.end(), key) != seen.end()) continue;
        seen.push_back(key);
        // speedup(M) = t_fp32(M) / t(M) over the batches both have.
        std::vector<std::pair<int, double>> sp;
        bool several = false;
        int first_m = 1 << 30;
        std::string first_impl;
        for (size_t ai = 0; ai < r.measurements.size(); ++ai) {
            const Measurement& a = r.measurements[ai];
            if (a.shape != m.shape || base(a) != key.second.first) continue;
            if (series[ai] != key.second.second) { several = true; continue; }
            if (a.m < first_m) { first_m = a.m; first_impl = a.impl; }
            for (const Measurement& b : r.measurements)
                if (b.kernel == "fp32" && b.shape == m.shape && b.m == a.m) sp.push_back({a.m, b.median_us / a.median_us});
        }
        if (sp.empty()) continue;
        std::sort(sp.begin(), sp.end());
        Crossover c;
        c.shape = m.shape;
        c.config = several ? key.second.first + " (" + first_impl + ")" : key.second.first;
        for (size_t i = 0; i < sp.size(); ++i) {
            if (sp[i].second > 1) { c.faster_until = sp[i].first; continue; }
            c.slower_from = sp[i].first;
            if (i > 0) {   // linear interpolation of the speedup between the two batches
                const double m0 = sp[i - 1].first, m1 = sp[i].first, s0 = sp[i - 1].second, s1 = sp[i].second;
                c.interpolated = m0 + (s0 - 1) / (s0 - s1) * (m1 - m0);
            } else c.interpolated = sp[i].first;
            break;
        }
        out.push_back(c);
    }
    return out;
}

}  // namespace qb::native
