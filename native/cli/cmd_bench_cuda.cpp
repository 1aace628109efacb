// cmd_bench_cuda.cpp: `qbench-native bench --backend cuda`: runs native/bench/cuda_bench, prints
// the comparison tables (against cuBLAS FP16, the copy probe and, once merged, torch), and
// writes a "qbench.results" v1 document (backend "cuda"). With --merge-peer it instead appends
// the measurements of tests/gpu/torch_peer.py to an existing results file.
#include "cmd_bench_cuda.h"

#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "cuda_bench.h"
#include "cuda_kernels.h"
#include "environment.h"
#include "results_json.h"

namespace qb::cli {

namespace {

using nlohmann::ordered_json;
using bench::CudaBenchOptions;
using bench::CudaBenchReport;
using bench::CudaMeasurement;

int fail(const std::string& why) {
    std::fprintf(stderr, "qbench-native: %s\n", why.c_str());
    return 2;
}

bool parse_int_list(const std::string& s, std::vector<int>* out) {
    out->clear();
    std::stringstream ss(s);
    std::string t;
    while (std::getline(ss, t, ',')) {
        char* end = nullptr;
        const long v = std::strtol(t.c_str(), &end, 10);
        if (t.empty() || *end || v < 1 || v > 65536) return false;
        out->push_back((int)v);
    }
    return !out->empty();
}

// "11008x4096,4096x11008": N x K.
bool parse_shapes(const std::string& s, std::vector<bench::Shape>* out) {
    out->clear();
    std::stringstream ss(s);
    std::string t;
    while (std::getline(ss, t, ',')) {
        int n = 0, k = 0;
        char x = 0;
        std::stringstream one(t);
        if (!(one >> n >> x >> k) || x != 'x' || n < 1 || k < 1) return false;
        out->push_back({n, k, ""});
    }
    return !out->empty();
}

std::string read_text(const std::string& path, bool* ok) {
    std::ifstream f(path, std::ios::binary);
    std::ostringstream ss;
    ss << f.rdbuf();
    *ok = (bool)f || f.eof();
    return ss.str();
}

bool write_text(const std::string& path, const std::string& text) {
    std::ofstream f(path, std::ios::binary);
    f << text;
    return (bool)f;
}

std::string cpu_model() {
    std::ifstream f("/proc/cpuinfo");
    std::string line;
    while (std::getline(f, line))
        if (line.rfind("model name", 0) == 0) {
            const size_t c = line.find(':');
            if (c != std::string::npos) return line.substr(c + 2);
        }
    return "unknown";
}

std::string slug(const std::string& s) {
    std::string o;
    for (char ch : s) {
        const char c = (char)std::tolower((unsigned char)ch);
        if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) o += c;
        else if (!o.empty() && o.back() != '-') o += '-';
    }
    while (!o.empty() && o.back() == '-') o.pop_back();
    return o.empty() ? "host" : o.substr(0, 40);
}

// The run as a qb::Results: the one writer of "qbench.results" (shared/results_json.cpp) then
// serialises it, as for CPU runs. The environment keeps the CUDA run's fields: no CPU ISA, no
// clock or load (the host CPU does not bound a GPU kernel); commit is the configure-time stamp
// (the GPU machine has no source tree to ask).
Results to_results(const CudaBenchReport& r) {
    Results res;
    ResultsEnvironment& env = res.env;
    char host[256] = {};
    gethostname(host, sizeof(host) - 1);
    utsname u{};
    uname(&u);
    env.hostname = host;
    env.cpu_model = cpu_model();
    env.cores = env.threads = (int)std::thread::hardware_concurrency();
    env.compiler = std::string("g++ ") + __VERSION__ + " + nvcc (CUDA runtime " + r.gpu.cuda + ")";
    env.os = std::string(u.sysname) + " " + u.release;
    env.commit = native::build_commit();
    env.timestamp = native::utc_timestamp();
    env.hardware_id = r.gpu.hardware_id;
    env.has_gpu = true;
    env.gpu = {r.gpu.name, r.gpu.driver, r.gpu.cuda, r.gpu.sm_clock_mhz, r.gpu.mem_clock_mhz, r.gpu.l2_mb};
    res.probe.kind = "copy";
    res.probe.gbps = res.probe.copy_gbps = r.probe_gbps;
    res.probe.array_mb = r.probe_array_mb;
    for (const CudaMeasurement& c : r.measurements) {
        Measurement m;
        m.backend = "cuda";
        m.kernel = c.kernel;
        m.impl = c.impl;
        m.bits = c.bits;
        m.group_size = c.group_size;
        m.zero_point = c.zero_point;
        m.m = c.m;
        m.n = c.n;
        m.k = c.k;
        m.shape = c.shape;
        m.reps = c.reps;
        m.median_us = c.median_us;
        m.p10_us = c.p10_us;
        m.p90_us = c.p90_us;
        m.bytes = c.bytes;
        m.flops = c.flops;
        m.gbps = c.gbps;
        m.pct_of_probe = c.pct_of_probe;
        m.correct = c.correct;
        m.max_rel_err = c.max_rel_err;
        res.measurements.push_back(m);
    }
    // "<UTC yyyymmddthhmmssz>-<GPU name>-<fingerprint>": GPU runs are named by the GPU, not the host.
    std::string ts = env.timestamp;
    ts.erase(std::remove_if(ts.begin(), ts.end(), [](char ch) { return ch == '-' || ch == ':'; }), ts.end());
    res.run_id = ts + "-" + slug(r.gpu.name) + "-" + results_fingerprint(res).substr(0, 8);
    for (char& ch : res.run_id) ch = (char)std::tolower((unsigned char)ch);   // run ids are [a-z0-9._-]
    return res;
}

// ---- tables --------------------------------------------------------------------------------

struct Key {
    std::string impl, shape;
    int bits, group, m;
    bool zero;
    bool operator<(const Key& o) const {
        return std::tie(impl, shape, bits, group, m, zero) < std::tie(o.impl, o.shape, o.bits, o.group, o.m, o.zero);
    }
};

// Prints, per shape and M, each implementation's time, its speedup over cuBLAS FP16 and its
// share of the copy probe; then the targets of issue 5 as measured.
void print_tables(const ordered_json& doc, FILE* f) {
    const double probe = doc["probe"]["gbps"].get<double>();
    std::map<Key, ordered_json> by;
    std::vector<std::string> shapes;
    std::vector<int> ms;
    for (const auto& m : doc["measurements"]) {
        Key k{m["impl"], m["shape"], m["bits"], m["group_size"], m["m"], m["zero_point"]};
        by[k] = m;
        const std::string s = m["shape"];
        if (std::find(shapes.begin(), shapes.end(), s) == shapes.end()) shapes.push_back(s);
        const int mm = m["m"];
        if (std::find(ms.begin(), ms.end(), mm) == ms.end()) ms.push_back(mm);
    }
    std::sort(ms.begin(), ms.end());
    auto get = [&](const std::string& impl, const std::string& shape, int bits, int group, int m, bool zero) -> const ordered_json* {
        auto it = by.find(Key{impl, shape, bits, group, m, zero});
        return it == by.end() ? nullptr : &it->second;
    };
    struct Col { const char* title; const char* impl; int bits, group; bool zero; };
    const Col cols[] = {{"cuBLAS fp16", "cublaslt-fp16", 16, 0, false}, {"torch fp16", "torch-linear-fp16", 16, 0, false},
                        {"W4 g128", "qbench-mma", 4, 128, false},       {"W4 g128 z", "qbench-mma", 4, 128, true},
                        {"torch int4", "torch-int4pack-g128", 4, 128, true}, {"W8A16", "qbench-mma", 8, 0, false},
                        {"torch int8", "torch-int8pack", 8, 0, false}, {"FP8", "cublaslt-fp8", 8, 0, false},
                        {"INT8 W8A8", "cublaslt-int8", 8, 0, false}};
    std::fprintf(f, "\nGPU: %s   copy probe %.0f GB/s   (us = median per launch; x = speedup over cuBLAS FP16)\n",
                 doc["environment"]["gpu"]["name"].get<std::string>().c_str(), probe);
    for (const std::string& s : shapes) {
        std::fprintf(f, "\nshape %s (N x K)\n%6s", s.c_str(), "M");
        for (const Col& c : cols) std::fprintf(f, " | %-18s", c.title);
        std::fprintf(f, "\n");
        for (int m : ms) {
            const ordered_json* base = get("cublaslt-fp16", s, 16, 0, m, false);
            if (!base) continue;
            const double bt = (*base)["median_us"];
            std::fprintf(f, "%6d", m);
            for (const Col& c : cols) {
                const ordered_json* x = get(c.impl, s, c.bits, c.group, m, c.zero);
                if (!x) { std::fprintf(f, " | %-18s", "-"); continue; }
                const double t = (*x)["median_us"];
                char cell[64];
                std::snprintf(cell, sizeof(cell), "%8.1f %5.2fx%s", t, bt / t, (*x)["correct"].get<bool>() ? "" : " !");
                std::fprintf(f, " | %-18s", cell);
            }
            std::fprintf(f, "\n");
        }
    }
    // Targets (issue 5), as measured.
    std::fprintf(f, "\ntargets (same GPU, same run):\n");
    auto line = [&](const char* what, bool met, const std::string& detail) {
        std::fprintf(f, "  [%s] %s: %s\n", met ? "met " : "MISS", what, detail.c_str());
    };
    char buf[256];
    for (const std::string& s : shapes) {
        const ordered_json* fp = get("cublaslt-fp16", s, 16, 0, 1, false);
        const ordered_json* w4 = get("qbench-mma", s, 4, 128, 1, false);
        if (!fp || !w4) continue;
        const double sp = (*fp)["median_us"].get<double>() / (*w4)["median_us"].get<double>();
        const double t = (*w4)["median_us"];
        const int n = (*w4)["n"], k = (*w4)["k"];
        const double wsb = (double)n * k / 2 + (double)n * (k / 128) * 2;   // weight + scale bytes
        const double pct = 100.0 * wsb / (t * 1e-6) / 1e9 / probe;
        std::snprintf(buf, sizeof(buf), "%.2fx (%.1f vs %.1f us)", sp, (*fp)["median_us"].get<double>(), t);
        line(("W4 g128 M=1 " + s + " >= 3.3x over cuBLAS FP16").c_str(), sp >= 3.3, buf);
        std::snprintf(buf, sizeof(buf), "%.1f%% (weight + scale bytes %.1f MB in %.2f us)", pct, wsb / 1e6, t);
        line(("W4 g128 M=1 " + s + " >= 85% of copy probe").c_str(), pct >= 85, buf);
        const ordered_json* ti = get("torch-int4pack-g128", s, 4, 128, 1, true);
        if (ti) {
            const double st = (*ti)["median_us"].get<double>() / t;
            std::snprintf(buf, sizeof(buf), "%.2fx (torch %.1f us)", st, (*ti)["median_us"].get<double>());
            line(("W4 g128 M=1 " + s + " >= 1.6x over torch int4").c_str(), st >= 1.6, buf);
        }
        for (auto [m, want] : {std::pair<int, double>{16, 3.0}, {64, 1.3}}) {
            const ordered_json* a = get("cublaslt-fp16", s, 16, 0, m, false);
            const ordered_json* b = get("qbench-mma", s, 4, 128, m, false);
            if (!a || !b) continue;
            const double x = (*a)["median_us"].get<double>() / (*b)["median_us"].get<double>();
            std::snprintf(buf, sizeof(buf), "%.2fx", x);
            line(("W4 g128 M=" + std::to_string(m) + " " + s + " >= " + (m == 16 ? "3.0" : "1.3") + "x over FP16").c_str(), x >= want, buf);
        }
        const ordered_json* w8 = get("qbench-mma", s, 8, 0, 1, false);
        if (w8) {
            const double x = (*fp)["median_us"].get<double>() / (*w8)["median_us"].get<double>();
            std::snprintf(buf, sizeof(buf), "%.2fx", x);
            line(("W8A16 M=1 " + s + " >= 1.8x over FP16").c_str(), x >= 1.8, buf);
        }
    }
    for (const std::string& s : shapes)
        for (int m : ms) {
            if (m < 1024) continue;
            const ordered_json* a = get("cublaslt-fp16", s, 16, 0, m, false);
            const ordered_json* b = get("cublaslt-fp8", s, 8, 0, m, false);
            if (!a || !b) continue;
            const double x = (*a)["median_us"].get<double>() / (*b)["median_us"].get<double>();
            std::snprintf(buf, sizeof(buf), "%.2fx (%.1f vs %.1f us)", x, (*a)["median_us"].get<double>(), (*b)["median_us"].get<double>());
            line(("FP8 M=" + std::to_string(m) + " " + s + " >= 1.6x over FP16").c_str(), x >= 1.6, buf);
        }
}

void print_report(const CudaBenchReport& r, FILE* f) {
    if (!r.cold.empty()) {
        std::fprintf(f, "\nisolated launches after an L2 flush (launch latency included):\n");
        for (const auto& c : r.cold)
            std::fprintf(f, "  %-24s %-11s M=%d  median %8.2f us  p10 %8.2f  p90 %8.2f\n", c.impl.c_str(), c.shape.c_str(), c.m, c.median_us,
                         c.p10_us, c.p90_us);
    }
    if (!r.decode.empty()) {
        std::fprintf(f, "\ndecode step (Llama-2-7B, 128 GEMMs in one CUDA graph, M = 1, weight stream only):\n");
        double fp16 = 0;
        for (const auto& d : r.decode)
            if (d.impl == "cublaslt-fp16") fp16 = d.median_ms;
        for (const auto& d : r.decode)
            std::fprintf(f, "  %-20s %8.3f ms/token (p10 %.3f, p90 %.3f)  %6.2f GB  %7.0f GB/s  %5.1f%% of copy  %5.2fx vs FP16\n",
                         d.impl.c_str(), d.median_ms, d.p10_ms, d.p90_ms, d.weight_bytes / 1e9, d.gbps, d.pct_of_probe,
                         fp16 > 0 ? fp16 / d.median_ms : 0);
        for (const auto& d : r.decode)
            if (d.impl == "qbench-w4a16-g128" && fp16 > 0)
                std::fprintf(f, "  [%s] decode step W4 g128 >= 3x faster than FP16: %.2fx\n", fp16 / d.median_ms >= 3 ? "met " : "MISS",
                             fp16 / d.median_ms);
    }
    for (const auto& n : r.notes) std::fprintf(f, "note: %s\n", n.c_str());
}

// Appends torch_peer.py's measurements (impl "torch-...") to a results document, replacing
// those of an earlier merge; the document is read and written by shared/results_json.
int merge_peer(const std::string& results_path, const std::string& peer_path, const std::string& out_path) {
    bool ok1 = false, ok2 = false;
    const std::string rt = read_text(results_path, &ok1), pt = read_text(peer_path, &ok2);
    if (!ok1) return fail("cannot read " + results_path);
    if (!ok2) return fail("cannot read " + peer_path);
    Results res;
    std::vector<DataError> errors;
    if (!parse_results(rt, results_path, &res, &errors))
        return fail(errors.empty() ? results_path + ": not a results document" : errors.front().str());
    const ordered_json peer = ordered_json::parse(pt, nullptr, false);
    if (peer.is_discarded() || !peer.contains("measurements")) return fail(peer_path + ": not a torch_peer.py document");
    std::vector<Measurement> kept;
    for (const Measurement& m : res.measurements)
        if (m.impl.rfind("torch-", 0) != 0) kept.push_back(m);
    int added = 0;
    try {   // nlohmann's get<> throws on a field of the wrong type
    for (const auto& p : peer["measurements"]) {
        Measurement m;
        m.backend = "cuda";
        m.kernel = p["kernel"].get<std::string>();
        m.impl = p["impl"].get<std::string>();
        m.bits = p["bits"].get<int>();
        m.group_size = p["group_size"].get<int>();
        m.zero_point = p["zero_point"].get<bool>();
        m.m = p["m"].get<int>();
        m.n = p["n"].get<int>();
        m.k = p["k"].get<int>();
        m.shape = std::to_string(m.n) + "x" + std::to_string(m.k);
        m.reps = p["reps"].get<int>();
        m.median_us = p["median_us"].get<double>();
        m.p10_us = p["p10_us"].get<double>();
        m.p90_us = p["p90_us"].get<double>();
        m.bytes = p["bytes"].get<double>();
        m.flops = 2.0 * m.m * (double)m.n * m.k;
        m.gbps = m.bytes / (m.median_us * 1e-6) / 1e9;
        m.pct_of_probe = res.probe.gbps > 0 ? 100.0 * m.gbps / res.probe.gbps : 0.0;
        m.correct = p["correct"].get<bool>();
        m.max_rel_err = p["max_rel_err"].get<double>();
        kept.push_back(m);
        ++added;
    }
    } catch (const std::exception& e) {
        return fail(peer_path + ": " + e.what());
    }
    res.measurements = kept;
    const std::string text = results_json(res);
    if (!write_text(out_path, text)) return fail("cannot write " + out_path);
    std::fprintf(stderr, "merged %d torch measurements (%s) into %s\n", added,
                 peer.value("torch", ordered_json("?")).dump().c_str(), out_path.c_str());
    print_tables(ordered_json::parse(text), stdout);
    return 0;
}

void usage() {
    std::puts(
        "usage: qbench-native bench --backend cuda [--out FILE] [--shapes 11008x4096,...] [--batches 1,2,...]\n"
        "                           [--large-m 4096] [--replays N] [--launches N] [--quick] [--no-decode]\n"
        "                           [--no-cold] [--no-group-sweep] [--split-sweep]\n"
        "       qbench-native bench --backend cuda --merge-peer torch.json --results FILE --out FILE\n"
        "  Times the CUDA kernels (cuBLASLt FP16/BF16/FP8/INT8, qbench W4A16/W8A16) against the copy probe,\n"
        "  checks each against the CPU reference, and writes a qbench.results v1 document.");
}

}  // namespace

int cmd_bench_cuda(int argc, char** argv) {
    CudaBenchOptions opt;
    opt.large_m = {4096};
    std::string out, peer, results;
    for (int i = 0; i < argc; ++i) {
        const std::string a = argv[i];
        auto val = [&](std::string* dst) {
            if (i + 1 >= argc) return false;
            *dst = argv[++i];
            return true;
        };
        std::string v;
        if (a == "--backend") { if (!val(&v)) return fail("--backend needs a value"); }
        else if (a == "--out") { if (!val(&out)) return fail("--out needs a value"); }
        else if (a == "--merge-peer") { if (!val(&peer)) return fail("--merge-peer needs a value"); }
        else if (a == "--results") { if (!val(&results)) return fail("--results needs a value"); }
        else if (a == "--shapes") { if (!val(&v) || !parse_shapes(v, &opt.shapes)) return fail("--shapes wants NxK,NxK,..."); }
        else if (a == "--batches") { if (!val(&v) || !parse_int_list(v, &opt.batches)) return fail("--batches wants 1,2,4,..."); }
        else if (a == "--large-m") {
            if (!val(&v)) return fail("--large-m needs a value");
            if (v == "none") opt.large_m.clear();
            else if (!parse_int_list(v, &opt.large_m)) return fail("--large-m wants 4096 or none");
        } else if (a == "--replays") { if (!val(&v) || (opt.replays = std::atoi(v.c_str())) < 3) return fail("--replays must be >= 3"); }
        else if (a == "--launches") { if (!val(&v) || (opt.launches = std::atoi(v.c_str())) < 1) return fail("--launches must be >= 1"); }
        else if (a == "--quick") {
            opt.shapes = {{11008, 4096, ""}};
            opt.batches = {1, 16};
            opt.large_m.clear();
            opt.group_sweep = false;
            opt.decode = false;
            opt.replays = 10;
        } else if (a == "--no-decode") opt.decode = false;
        else if (a == "--no-cold") opt.cold = false;
        else if (a == "--no-group-sweep") opt.group_sweep = false;
        else if (a == "--split-sweep") opt.split_sweep = true;
        else if (a == "--help" || a == "-h") { usage(); return 0; }
        else return fail("unknown flag " + a + " for bench --backend cuda");
    }
    if (!peer.empty()) {
        if (results.empty() || out.empty()) return fail("--merge-peer needs --results FILE and --out FILE");
        return merge_peer(results, peer, out);
    }
    // A mistyped experiment switch would silently time the default instead of the variant asked for.
    if (const std::string e = cuda::wq_env_error(); !e.empty()) return fail(e + " (a switch of the CUDA kernels)");
    opt.progress = [](const std::string& l) { std::fprintf(stderr, "%s\n", l.c_str()); std::fflush(stderr); };
    CudaBenchReport rep;
    std::string err;
    if (!bench::run_cuda_bench(opt, &rep, &err)) {
        // Keep what was measured before the failure (marked incomplete by the missing rest).
        if (!out.empty() && !rep.measurements.empty()) {
            write_text(out, results_json(to_results(rep)));
            std::fprintf(stderr, "qbench-native: wrote the %zu measurements taken before the failure to %s\n",
                         rep.measurements.size(), out.c_str());
        }
        return fail("cuda bench: " + err);
    }
    const std::string text = results_json(to_results(rep));
    const ordered_json doc = ordered_json::parse(text);
    if (!out.empty() && !write_text(out, text)) return fail("cannot write " + out);
    print_tables(doc, stdout);
    print_report(rep, stdout);
    std::printf("\nall outputs matched the CPU reference: %s\n", rep.all_correct ? "yes" : "NO");
    return rep.all_correct ? 0 : 1;
}

}  // namespace qb::cli
