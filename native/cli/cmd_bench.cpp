// cmd_bench.cpp: `qbench-native bench`: runs the CPU kernel benchmark (native/bench/runner.h),
// prints the table, the bandwidth probe, the crossover batches and the targets, and
// writes the results JSON (--out FILE, atomically).
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <sstream>

#include "cli_args.h"
#include "cmd_kernels.h"
#include "cpu_kernels.h"
#include "file_io.h"
#include "numeric.h"
#include "runner.h"
#include "thread_pool.h"

using namespace qb;
using namespace qb::native;

namespace {

void usage() {
    std::puts(
        "usage: qbench-native bench [flags]\n"
        "  --quick                   default suite at M = 1,16,64, every method, 5 reps (~1 minute on 2 cores)\n"
        "  --model ID                the model's qkv / o / gate_up / down shapes (default suite: Llama-2-7B\n"
        "                            11008x4096, 4096x11008 and 4096x4096)\n"
        "  --shapes NxK,NxK          explicit layer shapes (N outputs x K inputs)\n"
        "  --batches 1,4,16,64       activation rows M (1..4096)\n"
        "  --methods fp32,w8a16,w4a16,w8a8\n"
        "  --bits 4[,3,2]            widths of the w4a16 family\n"
        "  --group-sizes 128[,32,64,256,per-channel]\n"
        "  --zero-point off|on|both  w4a16 asymmetric variants (default off)\n"
        "  --warmup N --reps N       untimed / timed calls per point (default 2 / 10)\n"
        "  --flush clflush|write|none  cache eviction before each call (default clflush)\n"
        "  --threads N               kernel threads (default: all cores)\n"
        "  --isa scalar|avx2|avx512|avx512-vnni  cap the SIMD level (default: the best this CPU has)\n"
        "  --rows short|long         row order of the avx512-vnni weight-only kernels (default: this CPU's;\n"
        "                            long on AMD, short elsewhere; also QB_CPU_ROWS)\n"
        "  --compare-isa LEVEL       also run every quantized method capped at LEVEL, alternating call by call\n"
        "                            with the others (an A/B of two SIMD levels in one run; not for publishing)\n"
        "  --no-probe  --probe-mb N  skip the bandwidth probe / size its arrays\n"
        "  --hardware-id ID          this machine's hardware.json id, recorded for calibrate\n"
        "  --out FILE                write the results JSON (schema qbench.results) atomically\n"
        "  --json                    print the results JSON to stdout instead of the table\n"
        "  --data DIR                catalog files (for --model / --hardware-id); default built-in");
}

std::string fmt(const char* f, double v) {
    char b[64];
    std::snprintf(b, sizeof b, f, v);
    return b;
}

// A one-line progress bar on stderr, redrawn in place (only when stderr is a terminal).
struct Bar {
    bool tty = isatty(2);
    void draw(int done, int total, const std::string& what) {
        if (!tty) return;
        const int w = 30, fill = total > 0 ? done * w / total : 0;
        std::string s(fill, '#');
        s.resize(w, '.');
        std::fprintf(stderr, "\r[%s] %3d/%-3d %-60.60s", s.c_str(), done, total, what.c_str());
        std::fflush(stderr);
    }
    void clear() {
        if (tty) std::fprintf(stderr, "\r%-110s\r", "");
    }
};

const Measurement* find(const Results& r, const Measurement& like, const char* kernel, int bits, int group, bool zero) {
    for (const Measurement& m : r.measurements)
        if (m.shape == like.shape && m.m == like.m && m.kernel == kernel && m.bits == bits && m.group_size == group &&
            m.zero_point == zero)
            return &m;
    return nullptr;
}

void print_report(const BenchReport& rep) {
    const Results& r = rep.results;
    const ResultsEnvironment& e = r.env;
    std::printf("machine: %s, %d cores (%d threads used), %s\n", e.cpu_model.c_str(), e.cores, e.threads, e.os.c_str());
    std::printf("SIMD: %s (kernels at %s, row order %s%s)   compiler: %s   commit: %.12s   load avg: %.2f\n",
                cpu::isa_name(cpu::detected_isa()), cpu::isa_name(cpu::active_isa()), cpu::row_order_name(cpu::active_row_order()),
                cpu::active_row_order() == cpu::detected_row_order() ? "" : ", not this CPU's default", e.compiler.c_str(),
                e.commit.c_str(), e.load_avg);
    if (r.probe.gbps > 0)
        std::printf("bandwidth probe (best of each, %.0f MB arrays): copy %.1f GB/s, triad %.1f GB/s, read %.1f GB/s -> limit %.1f GB/s (%s)\n\n",
                    r.probe.array_mb, r.probe.copy_gbps, r.probe.triad_gbps, r.probe.read_gbps, r.probe.gbps, r.probe.kind.c_str());
    std::printf("%-30s %4s %-24s %-11s %10s %10s %10s %7s %6s %8s %8s %s\n", "shape (N x K)", "M", "method", "impl", "median us",
                "p10 us", "p90 us", "GB/s", "%prb", "GFLOP/s", "vs fp32", "check");
    std::string last_shape;
    int last_m = -1;
    for (const Measurement& m : r.measurements) {
        if (m.shape != last_shape || m.m != last_m) {
            if (!last_shape.empty()) std::printf("\n");
            last_shape = m.shape;
            last_m = m.m;
        }
        const BenchConfig c{m.kernel, m.bits, m.group_size, m.zero_point};
        const Measurement* f = find(r, m, "fp32", 32, 0, false);
        std::printf("%-30.30s %4d %-24s %-11s %10.1f %10.1f %10.1f %7.1f %6.1f %8.1f %8s %s (%.1e)\n", m.shape.c_str(), m.m,
                    c.label().c_str(), m.impl.c_str(), m.median_us, m.p10_us, m.p90_us, m.gbps, m.pct_of_probe,
                    m.flops / (m.median_us * 1e3), f ? (fmt("%.2fx", f->median_us / m.median_us)).c_str() : "-",
                    m.correct ? "ok" : "FAIL", m.max_rel_err);
    }
    std::printf("\ncheck: every checked output within the kernel's error bound of the double-precision reference "
                "((K+4) 2^-24 sum|x w|; avx512-vnni INT4/3/2 and INT8, avx2 INT4 in whole-block groups: of X in 16-bit fixed point, see docs/cpu-kernels.md) "
                "(W8A8: bit-identical); (max |y - ref| / max |ref|)\n");

    std::printf("\nWhere weight-only stops paying off vs FP32 on this CPU (speedup = t_fp32 / t):\n");
    for (const Crossover& c : rep.crossovers) {
        std::string s;
        if (c.slower_from == 0) s = "faster at every measured M (through M=" + std::to_string(c.faster_until) + ")";
        else if (c.faster_until == 0) s = "no faster already at M=" + std::to_string(c.slower_from);
        else s = "faster through M=" + std::to_string(c.faster_until) + ", no faster from M=" + std::to_string(c.slower_from) +
                 " (crossover ~" + fmt("%.0f", c.interpolated) + ")";
        std::printf("  %-30.30s %-24s %s\n", c.shape.c_str(), c.config.c_str(), s.c_str());
    }
    // Per method: the crossover batch (smallest over shapes, interpolated).
    std::map<std::string, double> per;
    for (const Crossover& c : rep.crossovers) {
        const double x = c.slower_from == 0 ? INFINITY : c.interpolated;
        auto it = per.find(c.config);
        if (it == per.end() || x < it->second) per[c.config] = x;
    }
    std::printf("crossover batch per method (smallest over shapes): ");
    for (const auto& [k, v] : per) std::printf("%s %s; ", k.c_str(), std::isinf(v) ? "> largest M" : fmt("%.0f", v).c_str());
    std::printf("\n");

    // The targets at M = 1 (only what this run measured).
    std::printf("\ntargets at M=1 (this run, against this run's probe):\n");
    for (const Measurement& m : r.measurements) {
        if (m.m != 1) continue;
        const Measurement* f = find(r, m, "fp32", 32, 0, false);
        if (!f || m.kernel == "fp32") continue;
        const double sp = f->median_us / m.median_us;
        if (m.kernel == "w4a16" && m.bits == 4 && m.group_size == 128 && !m.zero_point)
            std::printf("  INT4 g128 %-30.30s %-11s %5.1f%% of probe (target >= 70%%) %s, %.2fx FP32 (target >= 5x) %s\n",
                        m.shape.c_str(), m.impl.c_str(), m.pct_of_probe, m.pct_of_probe >= 70 ? "met" : "MISSED", sp, sp >= 5 ? "met" : "MISSED");
        if (m.kernel == "w8a16")
            std::printf("  INT8      %-30.30s %.2fx FP32 (target >= 3x) %s\n", m.shape.c_str(), sp, sp >= 3 ? "met" : "MISSED");
    }
    for (const std::string& w : rep.warnings) std::printf("warning: %s\n", w.c_str());
    std::printf("\nrun %s: %zu measurements in %.0f s\n", r.run_id.c_str(), r.measurements.size(), rep.seconds);
}

}  // namespace

int cmd_bench(int argc, char** argv) {
    cli::Flags f;
    std::string err;
    const std::vector<std::string> sw = {"quick", "json", "no-probe", "help"};
    const std::vector<std::string> known = {"model", "shapes", "batches", "methods", "bits", "group-sizes", "zero-point", "warmup",
                                            "reps", "flush", "threads", "isa", "rows", "compare-isa", "probe-mb", "hardware-id", "out", "data"};
    if (!cli::parse_flags(argc, argv, 2, sw, known, &f, &err)) return cli::fail(err);
    if (f.has("help")) { usage(); return 0; }
    if (!f.positional.empty()) return cli::fail("unexpected argument '" + f.positional[0] + "' (flags start with --)");

    BenchSpec spec;
    const bool quick = f.has("quick");
    spec.batches = quick ? std::vector<int>{1, 16, 64} : std::vector<int>{1, 4, 16, 64};
    spec.warmup = quick ? 1 : 2;
    spec.reps = quick ? 5 : 10;
    spec.probe_spec.reps = quick ? 3 : 5;
    spec.probe = !f.has("no-probe");

    Catalog cat;
    const bool need_catalog = f.given("model") || f.given("hardware-id");
    if (need_catalog && !cli::load_catalog_dir(f.get("data"), &cat)) return 2;
    if (f.given("model")) {
        const ModelArch* m = cat.model(f.get("model"));
        if (!m) return cli::fail("unknown model '" + f.get("model") + "' (see data/model-catalog.json)");
        spec.shapes = model_shapes(*m);
    }
    if (f.given("shapes")) {
        std::stringstream ss(f.get("shapes"));
        for (std::string s; std::getline(ss, s, ',');) {
            const size_t x = s.find('x');
            long long n, k;
            if (x == std::string::npos || !parse_int(s.substr(0, x), 1, 1 << 20, &n) || !parse_int(s.substr(x + 1), 1, 1 << 20, &k))
                return cli::fail("--shapes takes NxK pairs separated by commas (e.g. 4096x4096), not '" + s + "'");
            if ((double)n * k > 4e9) return cli::fail("--shapes " + s + " is too large (N x K > 4e9)");
            spec.shapes.push_back({s, (int)n, (int)k});
        }
    }
    if (spec.shapes.empty()) spec.shapes = default_shapes();
    if (f.given("batches") && !cli::parse_int_list(f.get("batches"), 1, cpu::kMaxM, &spec.batches))
        return cli::fail("--batches takes integers 1.." + std::to_string(cpu::kMaxM) + " separated by commas");
    std::vector<std::string> methods = {"fp32", "w8a16", "w4a16", "w8a8"};
    if (f.given("methods")) {
        methods.clear();
        std::stringstream ss(f.get("methods"));
        for (std::string s; std::getline(ss, s, ',');) {
            if (s != "fp32" && s != "w8a16" && s != "w4a16" && s != "w8a8") return cli::fail("unknown method '" + s + "' (fp32, w8a16, w4a16, w8a8)");
            methods.push_back(s);
        }
        if (methods.empty()) return cli::fail("--methods is empty");
    }
    std::vector<int> bits = {4}, groups = {128};
    if (f.given("bits") && !cli::parse_int_list(f.get("bits"), 2, 4, &bits)) return cli::fail("--bits takes 2, 3 or 4 (w4a16 family), comma-separated");
    if (f.given("group-sizes")) {
        groups.clear();
        std::stringstream ss(f.get("group-sizes"));
        for (std::string s; std::getline(ss, s, ',');) {
            long long g;
            if (s == "per-channel" || s == "0") groups.push_back(0);
            else if (parse_int(s, 32, 1 << 20, &g) && g % 32 == 0) groups.push_back((int)g);
            else return cli::fail("--group-sizes takes multiples of 32 or per-channel, not '" + s + "'");
        }
    }
    std::vector<bool> zeros = {false};
    if (f.given("zero-point")) {
        const std::string z = f.get("zero-point");
        if (z == "on") zeros = {true};
        else if (z == "both") zeros = {false, true};
        else if (z != "off") return cli::fail("--zero-point takes off, on or both");
    }
    for (const std::string& m : methods) {
        if (m != "w4a16") { spec.configs.push_back({m, m == "fp32" ? 32 : 8, 0, false}); continue; }
        for (int b : bits)
            for (int g : groups)
                for (bool z : zeros) spec.configs.push_back({m, b, g, z});
    }
    long long v;
    if (f.given("warmup")) {
        if (!parse_int(f.get("warmup"), 0, 1000, &v)) return cli::fail("--warmup takes 0..1000");
        spec.warmup = (int)v;
    }
    if (f.given("reps")) {
        if (!parse_int(f.get("reps"), 1, 100000, &v)) return cli::fail("--reps takes 1..100000");
        spec.reps = (int)v;
    }
    if (f.given("flush")) {
        const std::string s = f.get("flush");
        if (s == "clflush") spec.flush = FlushMode::clflush;
        else if (s == "write") spec.flush = FlushMode::write;
        else if (s == "none") spec.flush = FlushMode::none;
        else return cli::fail("--flush takes clflush, write or none");
    }
    if (f.given("threads")) {
        if (!parse_int(f.get("threads"), 1, 1024, &v)) return cli::fail("--threads takes 1..1024");
        cpu::set_num_threads((int)v);
    }
    if (f.given("isa")) {
        cpu::Isa isa;
        if (!cpu::parse_isa(f.get("isa"), &isa)) return cli::fail("--isa takes scalar, avx2, avx512 or avx512-vnni");
        if (!cpu::set_isa_cap(isa)) return cli::fail(std::string("this CPU does not support ") + cpu::isa_name(isa));
    }
    if (f.given("rows")) {
        cpu::RowOrder o;
        if (!cpu::parse_row_order(f.get("rows"), &o)) return cli::fail("--rows takes short or long");
        cpu::set_row_order(o);
    }
    if (f.given("compare-isa")) {
        cpu::Isa isa;
        if (!cpu::parse_isa(f.get("compare-isa"), &isa))
            return cli::fail("--compare-isa takes scalar, avx2, avx512 or avx512-vnni");
        if (!cpu::isa_supported(isa)) return cli::fail(std::string("this CPU does not support ") + cpu::isa_name(isa));
        const size_t n = spec.configs.size();
        for (size_t i = 0; i < n; ++i)
            if (spec.configs[i].method != "fp32") {
                BenchConfig c = spec.configs[i];
                c.isa = (int)isa;
                spec.configs.push_back(c);
            }
    }
    if (f.given("probe-mb")) {
        if (!parse_int(f.get("probe-mb"), 1, 1 << 20, &v)) return cli::fail("--probe-mb takes 1..1048576");
        spec.probe_spec.array_bytes = (size_t)v << 20;
    }
    if (f.given("hardware-id")) {
        spec.hardware_id = f.get("hardware-id");
        if (!cat.hw(spec.hardware_id)) return cli::fail("unknown --hardware-id '" + spec.hardware_id + "' (see data/hardware.json)");
    }

    Bar bar;
    const BenchReport rep = run_bench(spec, [&](int d, int t, const std::string& w) { bar.draw(d, t, w); });
    bar.clear();
    const std::string json = results_json(rep.results);
    if (f.given("out")) {
        if (!write_file_atomic(f.get("out"), json, &err)) return cli::fail(err);
    }
    if (f.has("json")) std::fputs(json.c_str(), stdout);
    else {
        print_report(rep);
        if (f.given("out")) std::printf("results written to %s\n", f.get("out").c_str());
    }
    for (const Measurement& m : rep.results.measurements)
        if (!m.correct) {
            std::fprintf(stderr, "qbench-native: %s M=%d %s (%s) failed the reference check (max rel err %.2e)\n", m.shape.c_str(), m.m,
                         m.kernel.c_str(), m.impl.c_str(), m.max_rel_err);
            return 1;
        }
    return 0;
}
