#include "probe.h"

#include <unistd.h>

#include <algorithm>
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

BandwidthProbe::BandwidthProbe(const ProbeSpec& spec) {
    const size_t bytes = spec.array_bytes ? spec.array_bytes : default_probe_array_bytes();
    const size_t n = bytes / sizeof(float) / 1024 * 1024;
    auto alloc = [](size_t count) { return static_cast<float*>(std::aligned_alloc(64, count * sizeof(float))); };
    a_ = alloc(n);
    b_ = alloc(n);
    c_ = alloc(n);
    if (!a_ || !b_ || !c_) return;
    n_ = n;
    best_.array_mb = (double)(n * sizeof(float)) / 1e6;
    // First touch on the pool, like the kernels' own buffers.
    timed(n, [&](size_t s, size_t e) {
        for (size_t i = s; i < e; ++i) { a_[i] = 1.0f; b_[i] = 2.0f; c_[i] = 0.5f; }
    });
}

BandwidthProbe::~BandwidthProbe() {
    std::free(a_);
    std::free(b_);
    std::free(c_);
}

const ProbeResult& BandwidthProbe::run(int reps) {
    if (!n_) return best_;
    float *a = a_, *b = b_, *c = c_;
    const size_t n = n_;
    const double gb = (double)(n * sizeof(float)) / 1e9;
    for (int rep = 0; rep < reps; ++rep) {
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
            // 8 interleaved streams over the thread's share, 64 bytes from each in turn.
            constexpr int S = 8;
            const size_t len = (e - s) / S / 16 * 16;
#if defined(__x86_64__) || defined(__i386__)
            __m128 a0 = _mm_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
            for (size_t i = 0; i < len; i += 16)
                for (int j = 0; j < S; ++j) {
                    const float* p = &b[s + j * len + i];
                    a0 = _mm_add_ps(a0, _mm_load_ps(p));
                    a1 = _mm_add_ps(a1, _mm_load_ps(p + 4));
                    a2 = _mm_add_ps(a2, _mm_load_ps(p + 8));
                    a3 = _mm_add_ps(a3, _mm_load_ps(p + 12));
                }
            float t[4];
            _mm_storeu_ps(t, _mm_add_ps(_mm_add_ps(a0, a1), _mm_add_ps(a2, a3)));
            g_sink.store(g_sink.load() + t[0] + t[1] + t[2] + t[3]);
#else
            float t = 0;
            for (size_t i = 0; i < len; ++i)
                for (int j = 0; j < S; ++j) t += b[s + j * len + i];
            g_sink.store(g_sink.load() + t);
#endif
        });
        best_.copy_gbps = std::max(best_.copy_gbps, 2 * gb / tc);
        best_.triad_gbps = std::max(best_.triad_gbps, 3 * gb / tt);
        // The read pass covers S x len of each thread's share (at most 8 x 16 floats short).
        best_.read_gbps = std::max(best_.read_gbps, gb / tr);
    }
    best_.best_gbps = best_.copy_gbps;
    best_.best_kind = "copy";
    if (best_.triad_gbps > best_.best_gbps) { best_.best_gbps = best_.triad_gbps; best_.best_kind = "triad"; }
    if (best_.read_gbps > best_.best_gbps) { best_.best_gbps = best_.read_gbps; best_.best_kind = "read"; }
    return best_;
}

ProbeResult run_probe(const ProbeSpec& spec) {
    BandwidthProbe p(spec);
    return p.run(spec.reps);
}

}  // namespace qb::native
