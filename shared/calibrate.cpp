#include "calibrate.h"

#include "latency.h"
#include "selections.h"

namespace qb {

namespace {

bool selections_for(const Measurement& m, Selections* s, bool* fp32) {
    Kernel k;
    if (!measurement_kernel(m.kernel, &k)) return false;
    *fp32 = m.kernel == "fp32";
    switch (k) {
        case Kernel::fp16: apply_method_defaults(*s, Method::fp16); break;
        case Kernel::w8a16: apply_method_defaults(*s, Method::int8); break;
        case Kernel::w8a8: apply_method_defaults(*s, Method::w8a8); break;
        case Kernel::fp8: apply_method_defaults(*s, Method::fp8); break;
        case Kernel::w4a16:
            apply_method_defaults(*s, Method::rtn);
            s->bits = m.bits;
            s->group_size = m.group_size;
            s->zero_point = m.zero_point;
            break;
        default: return false;
    }
    return true;
}

double predict(const Catalog& c, const Hardware& h, const Measurement& m, const Selections& s, bool fp32) {
    const OpTime o = linear_time(c, h, s, m.m, m.n, m.k);
    if (!fp32) return o.total_us;
    // FP32 baseline: the fp16 class moving 4-byte weights (the activation terms as the model
    // counts them are unchanged).
    const double M = m.m, N = m.n, K = m.k;
    const double act = M * K * 2 + M * N * 2;
    const double mem = o.mem_us * (N * K * 4 + act) / (N * K * 2 + act);
    const double cmp = o.mma_us + o.dequant_us;
    return mem > cmp ? mem : cmp;
}

// Which term binds for a point: true when memory.
bool memory_bound(const Catalog& c, const Hardware& h, const Measurement& m, const Selections& s, bool fp32) {
    const OpTime o = linear_time(c, h, s, m.m, m.n, m.k);
    double mem = o.mem_us;
    if (fp32) {
        const double act = (double)m.m * m.k * 2 + (double)m.m * m.n * 2;
        mem *= ((double)m.n * m.k * 4 + act) / ((double)m.n * m.k * 2 + act);
    }
    return mem >= o.mma_us + o.dequant_us;
}

struct Point {
    const Measurement* m;
    Selections s;
    bool fp32;
};

double clamp_eff(double v) { return v < 0.01 ? 0.01 : (v > 1 ? 1 : v); }

// Working state: a catalog copy in which h has an override slot for every kernel class.
struct Work {
    Catalog c;
    Hardware h;
    int slot[(int)Kernel::count];

    Work(const Catalog& base, const Hardware& hw) : c(base), h(hw) {
        for (int k = 0; k < (int)Kernel::count; ++k) {
            EffOverride o;
            o.hardware = h.id;
            o.kernel = (Kernel)k;
            o.eff = base.eff(hw, (Kernel)k);
            slot[k] = (int)c.eff_overrides.size();
            c.eff_overrides.push_back(o);
            h.eff_override[k] = slot[k];
        }
    }
    Eff& eff(Kernel k) { return c.eff_overrides[(size_t)slot[(int)k]].eff; }

    double sse(const std::vector<Point>& pts) {
        double e = 0;
        for (const Point& p : pts) {
            const double r = (predict(c, h, *p.m, p.s, p.fp32) - p.m->median_us) / p.m->median_us;
            e += r * r;
        }
        return e;
    }
    double mape(const std::vector<Point>& pts) {
        double e = 0;
        for (const Point& p : pts) {
            const double r = (predict(c, h, *p.m, p.s, p.fp32) - p.m->median_us) / p.m->median_us;
            e += r < 0 ? -r : r;
        }
        return pts.empty() ? 0 : 100 * e / (double)pts.size();
    }
};

// Minimises w.sse over (bw, compute) of kernel k in [0.01, 1]^2.
Eff fit(Work& w, Kernel k, const std::vector<Point>& pts) {
    Eff& e = w.eff(k);
    // Grid in log space: 0.01 .. 1 in 49 steps (ratio ~1.1); the multiplier is computed by
    // repeated multiplication, not pow(), to stay libm-free.
    const int n = 49;
    double ratio = 1, best = 1e300;
    {
        // ratio^(n-1) = 100: bisection on r in (1, 2).
        double lo = 1, hi = 2;
        for (int it = 0; it < 100; ++it) {
            const double mid = (lo + hi) / 2;
            double p = 1;
            for (int i = 0; i < n - 1; ++i) p *= mid;
            (p > 100 ? hi : lo) = mid;
        }
        ratio = lo;
    }
    Eff bestE = e;
    double bw = 0.01;
    for (int i = 0; i < n; ++i, bw *= ratio) {
        double cp = 0.01;
        for (int j = 0; j < n; ++j, cp *= ratio) {
            e = {clamp_eff(bw), clamp_eff(cp)};
            const double v = w.sse(pts);
            if (v < best) { best = v; bestE = e; }
        }
    }
    // Pattern search: multiplicative steps on each coordinate, halving the step on failure.
    e = bestE;
    double step = ratio;
    while (step - 1 > 1e-7) {
        bool improved = false;
        for (int coord = 0; coord < 2; ++coord)
            for (int dir = 0; dir < 2; ++dir) {
                Eff t = e;
                double& v = coord == 0 ? t.bw : t.compute;
                v = clamp_eff(dir ? v * step : v / step);
                const Eff keep = e;
                e = t;
                const double s = w.sse(pts);
                if (s < best) { best = s; improved = true; }
                else e = keep;
            }
        if (!improved) {
            // sqrt(step) by Newton's method (libm-free): halves the step in log space.
            double r = step;
            for (int it = 0; it < 30; ++it) r = 0.5 * (r + step / r);
            step = r;
        }
    }
    return e;
}

}  // namespace

std::string synthesized_id(const ResultsEnvironment& env) {
    std::string s = "cpu-";
    for (char ch : env.cpu_model) {
        const char l = (ch >= 'A' && ch <= 'Z') ? (char)(ch - 'A' + 'a') : ch;
        if ((l >= 'a' && l <= 'z') || (l >= '0' && l <= '9')) s += l;
        else if (s.back() != '-') s += '-';
        if (s.size() > 40) break;
    }
    while (s.back() == '-') s.pop_back();
    return s + "-" + std::to_string(env.threads > 0 ? env.threads : 1) + "t";
}

bool synthesize_hardware(const Catalog& c, const ResultsEnvironment& env, double probe_gbps, Hardware* out) {
    const EffClass* ec = c.eff_class("x86-server");
    if (!ec) return false;
    Hardware h;
    h.id = synthesized_id(env);
    h.name = env.cpu_model + " (" + std::to_string(env.threads) + " threads, from the results environment)";
    h.arch = "x86-server";
    h.kind = HwKind::cpu;
    h.memory_gb = 1;
    h.bandwidth_gbps = probe_gbps > 0 ? probe_gbps : 1;
    auto has = [&](const char* f) {
        for (const std::string& x : env.isa)
            if (x == f) return true;
        return false;
    };
    const double flop_per_cycle = has("avx512f") ? 64 : has("avx2") ? 32 : 8;
    const double ghz = (env.cpu_mhz > 0 ? env.cpu_mhz : 2000) / 1000;
    const double threads = env.threads > 0 ? env.threads : 1;
    h.peak.fp16 = h.peak.bf16 = threads * ghz * flop_per_cycle / 1000;
    h.peak.int8 = h.peak.fp16 * (has("avx512vnni") ? 4 : 2);
    h.source = "synthesised by qbench calibrate from a results environment";
    h.note = "bandwidth = probe; fp16 peak = FP32 FMA peak (threads x clock x FLOP/cycle, derived); int8 = " +
             std::string(has("avx512vnni") ? "4x (VNNI)" : "2x") + " that";
    h.eff_class = (int)(ec - c.eff_classes.data());
    for (int& o : h.eff_override) o = -1;
    *out = h;
    return true;
}

bool predict_measurement_us(const Catalog& c, const Hardware& h, const Measurement& m, double* us) {
    Selections s;
    bool fp32 = false;
    if (!selections_for(m, &s, &fp32)) return false;
    *us = predict(c, h, m, s, fp32);
    return true;
}

Calibration calibrate(const Catalog& c, const Hardware& h, const std::vector<Measurement>& points) {
    Calibration out;
    out.hw = h;
    Work w(c, h);
    const Kernel order[] = {Kernel::fp16, Kernel::w8a16, Kernel::w4a16, Kernel::w8a8, Kernel::fp8};
    std::vector<Point> by[(int)Kernel::count];
    for (const Measurement& m : points) {
        Point p{&m, Selections{}, false};
        Kernel k;
        if (!measurement_kernel(m.kernel, &k) || !selections_for(m, &p.s, &p.fp32) || !(m.median_us > 0)) continue;
        by[(int)k].push_back(p);
    }
    // Errors before: every class at the catalog's values.
    double before_sum = 0;
    int total = 0;
    for (Kernel k : order) {
        const std::vector<Point>& pts = by[(int)k];
        if (pts.empty()) continue;
        KernelFit f;
        f.kernel = k;
        f.points = (int)pts.size();
        f.before = w.eff(k);
        f.mape_before = w.mape(pts);
        before_sum += f.mape_before * (double)pts.size();
        total += (int)pts.size();
        out.fits.push_back(f);
    }
    double after_sum = 0;
    for (KernelFit& f : out.fits) {
        const std::vector<Point>& pts = by[(int)f.kernel];
        const Eff fitted = fit(w, f.kernel, pts);
        // Which term binds where, under the fit.
        f.mem_bound = f.compute_bound = 0;
        for (const Point& p : pts) (memory_bound(w.c, w.h, *p.m, p.s, p.fp32) ? f.mem_bound : f.compute_bound)++;
        f.bw_fitted = f.mem_bound > 0;
        f.compute_fitted = f.compute_bound > 0;
        Eff e = fitted;
        if (!f.bw_fitted) e.bw = f.before.bw;
        if (!f.compute_fitted) e.compute = f.before.compute;
        // Keep the catalog value of an unconstrained parameter only if that costs nothing.
        w.eff(f.kernel) = e;
        const double with_kept = w.sse(pts);
        w.eff(f.kernel) = fitted;
        if (with_kept <= w.sse(pts) * (1 + 1e-12) + 1e-300) w.eff(f.kernel) = e;
        else f.bw_fitted = f.compute_fitted = true;
        // In linear_time a weight-only class's MMA runs at the fp16 class's rate at best (its
        // dequantization can only add time), so any compute above the fp16 value fits equally
        // well: report the fp16 value rather than an arbitrary point of that flat region.
        if (f.kernel == Kernel::w8a16 || f.kernel == Kernel::w4a16) {
            Eff& e2 = w.eff(f.kernel);
            const double c16 = w.eff(Kernel::fp16).compute;
            if (e2.compute > c16) {
                const double before_cap = w.sse(pts);
                const double keep = e2.compute;
                e2.compute = c16;
                if (w.sse(pts) > before_cap * (1 + 1e-9) + 1e-300) e2.compute = keep;
            }
        }
        f.after = w.eff(f.kernel);
        f.mape_after = w.mape(pts);
        after_sum += f.mape_after * (double)pts.size();
    }
    out.points = total;
    out.mape_before = total ? before_sum / total : 0;
    out.mape_after = total ? after_sum / total : 0;
    return out;
}

}  // namespace qb
