#include "probe.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <emmintrin.h>
#endif

#include "environment.h"
#include "thread_pool.h"

namespace qb::native {

namespace {

struct Freer { void operator()(float* p) const { std::free(p); } };
using Buf = std::unique_ptr<float[], Freer>;

Buf alloc(size_t n) { return Buf(static_cast<float*>(std::aligned_alloc(64, (n * sizeof(float) + 63) / 64 * 64))); }

double now_s() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

// Runs body(begin, end) over [0, n) split into one contiguous range per pool thread.
template <class F>
double timed(size_t n, F body) {
    cpu::ThreadPool& pool = cpu::global_pool();
    const int T = pool.size();
    const double t0 = now_s();
    pool.run(T, [&](int t) {
        // 16-float (64-byte) aligned ranges so non-temporal stores fill whole lines.
        const size_t per = (n / T + 15) / 16 * 16;
        const size_t b = per * (size_t)t, e = t == T - 1 ? n : per * (size_t)(t + 1);
        if (b < e) body(b, e);
    });
#if defined(__x86_64__) || defined(__i386__)
    _mm_sfence();
#endif
    return now_s() - t0;
}

std::atomic<float> g_sink{0};

}  // namespace

size_t default_probe_array_bytes() {
    size_t a = llc_bytes() * 4;
    if (a < (64u << 20)) a = 64u << 20;
    const long pages = sysconf(_SC_PHYS_PAGES), psz = sysconf(_SC_PAGESIZE);
    if (pages > 0 && psz > 0) {
        const size_t cap = (size_t)pages * (size_t)psz / 8;
        if (a > cap) a = cap;
    }
    return a;
}

ProbeResult run_probe(const ProbeSpec& spec) {
    ProbeResult r;
    const size_t bytes = spec.array_bytes ? spec.array_bytes : default_probe_array_bytes();
    const size_t n = bytes / sizeof(float) / 64 * 64;
    r.array_mb = (double)(n * sizeof(float)) / 1e6;
    Buf a = alloc(n), b = alloc(n), c = alloc(n);
    if (!a || !b || !c) return r;
    // First touch on the pool, like the kernels' own buffers would be used.
    timed(n, [&](size_t s, size_t e) {
        for (size_t i = s; i < e; ++i) { a[i] = 1.0f; b[i] = 2.0f; c[i] = 0.5f; }
    });
    const double gb = (double)(n * sizeof(float)) / 1e9;
    for (int rep = 0; rep < spec.reps; ++rep) {
        const double tc = timed(n, [&](size_t s, size_t e) {
#if defined(__x86_64__) || defined(__i386__)
            for (size_t i = s; i < e; i += 4) _mm_stream_ps(&c[i], _mm_load_ps(&a[i]));
#else
            std::memcpy(&c[s], &a[s], (e - s) * sizeof(float));
#endif
        });
        const double tt = timed(n, [&](size_t s, size_t e) {
#if defined(__x86_64__) || defined(__i386__)
            const __m128 k = _mm_set1_ps(3.0f);
            for (size_t i = s; i < e; i += 4) _mm_stream_ps(&a[i], _mm_add_ps(_mm_load_ps(&b[i]), _mm_mul_ps(k, _mm_load_ps(&c[i]))));
#else
            for (size_t i = s; i < e; ++i) a[i] = b[i] + 3.0f * c[i];
#endif
        });
        const double tr = timed(n, [&](size_t s, size_t e) {
#if defined(__x86_64__) || defined(__i386__)
            // Four independent accumulators so the add latency does not limit the stream.
            __m128 a0 = _mm_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
            for (size_t i = s; i < e; i += 16) {
                a0 = _mm_add_ps(a0, _mm_load_ps(&b[i]));
                a1 = _mm_add_ps(a1, _mm_load_ps(&b[i + 4]));
                a2 = _mm_add_ps(a2, _mm_load_ps(&b[i + 8]));
                a3 = _mm_add_ps(a3, _mm_load_ps(&b[i + 12]));
            }
            float t[4];
            _mm_storeu_ps(t, _mm_add_ps(_mm_add_ps(a0, a1), _mm_add_ps(a2, a3)));
            g_sink.store(g_sink.load() + t[0] + t[1] + t[2] + t[3]);
#else
            float t = 0;
            for (size_t i = s; i < e; ++i) t += b[i];
            g_sink.store(g_sink.load() + t);
#endif
        });
        if (2 * gb / tc > r.copy_gbps) r.copy_gbps = 2 * gb / tc;
        if (3 * gb / tt > r.triad_gbps) r.triad_gbps = 3 * gb / tt;
        if (gb / tr > r.read_gbps) r.read_gbps = gb / tr;
    }
    r.best_gbps = r.copy_gbps;
    r.best_kind = "copy";
    if (r.triad_gbps > r.best_gbps) { r.best_gbps = r.triad_gbps; r.best_kind = "triad"; }
    if (r.read_gbps > r.best_gbps) { r.best_gbps = r.read_gbps; r.best_kind = "read"; }
    return r;
}

}  // namespace qb::native
