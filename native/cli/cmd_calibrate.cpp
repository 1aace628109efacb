// cmd_calibrate.cpp: `qbench-native calibrate [--results data/results] [--hardware-id ID]
// [--write data/efficiency.json [--kernels fp16,w8a8,fp8]] [--data DIR]`: fits the roofline
// efficiencies per kernel class to measured results (shared/calibrate.h), prints the error
// before and after, and optionally writes the fitted factors of the named classes (default all)
// into efficiency.json's overrides (validated, atomic). --kernels exists because qbench's own
// W4A16 / W8A16 kernels are not what a deployment runs until they stream like Marlin-class
// ones (efficiency.json's overrides_note), so their fits are printed but not always written.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <sstream>

#include "calibrate.h"
#include "cli_args.h"
#include "cmd_kernels.h"
#include "data_json.h"
#include "environment.h"
#include "file_io.h"
#include "results_json.h"

using namespace qb;
namespace fs = std::filesystem;

namespace {

struct Group {
    std::string key;                 // hardware_id, or the synthesised id
    bool in_catalog = false;
    std::vector<Results> runs;
};

void print_calibration(const Calibration& cal, const Group& g) {
    const Hardware& h = cal.hw;
    std::printf("%s (%s): %d measurements from %zu run(s)\n", h.id.c_str(), g.in_catalog ? "hardware.json" : "not in hardware.json, synthesised",
                cal.points, g.runs.size());
    std::printf("  BW %.1f GB/s (%s), fp16-class peak %.3f TFLOPS, int8 peak %.3f TOPS\n", h.bandwidth_gbps,
                g.in_catalog ? "datasheet" : "probe", h.peak.fp16, h.peak.int8);
    std::printf("  %-6s %6s  %-22s %9s   %-22s %9s   %s\n", "class", "points", "before {bw, compute}", "MAPE %", "after {bw, compute}",
                "MAPE %", "bound (mem/compute)");
    for (const KernelFit& f : cal.fits) {
        char b[64], a[64];
        std::snprintf(b, sizeof b, "{%.3f, %.3f}", f.before.bw, f.before.compute);
        std::snprintf(a, sizeof a, "{%.3f%s, %.3f%s}", f.after.bw, f.bw_fitted ? "" : "*", f.after.compute, f.compute_fitted ? "" : "*");
        std::printf("  %-6s %6d  %-22s %9.1f   %-22s %9.1f   %d/%d\n", kernel_name(f.kernel), f.points, b, f.mape_before, a,
                    f.mape_after, f.mem_bound, f.compute_bound);
    }
    std::printf("  all    %6d  %-22s %9.1f   %-22s %9.1f\n", cal.points, "", cal.mape_before, "", cal.mape_after);
    std::printf("  (* = not constrained by these measurements: the catalog value is kept)\n");
}

}  // namespace

int cmd_calibrate(int argc, char** argv) {
    cli::Flags f;
    std::string err;
    if (!cli::parse_flags(argc, argv, 2, {"help"}, {"results", "hardware-id", "write", "data", "kernels"}, &f, &err)) return cli::fail(err);
    if (f.has("help")) {
        std::puts("usage: qbench-native calibrate [--results data/results] [--hardware-id ID] [--write data/efficiency.json]\n"
                  "                               [--kernels fp16,w8a16,w4a16,w8a8,fp8] [--data DIR]\n"
                  "  fits the roofline efficiencies {bw, compute} per kernel class to measured kernels and prints the\n"
                  "  mean absolute % error of the predicted times before (catalog values) and after the fit;\n"
                  "  --write puts the fits of the --kernels classes (default: all) into the file's overrides");
        return 0;
    }
    if (!f.positional.empty()) return cli::fail("unexpected argument '" + f.positional[0] + "'");
    std::vector<Kernel> keep;   // classes whose fits --write writes (empty: all)
    if (f.given("kernels")) {
        const std::string list = f.get("kernels");
        std::stringstream ss(list + ",");   // so an empty list or a trailing comma still yields an empty (refused) name
        for (std::string name; std::getline(ss, name, ',');) {
            Kernel k;
            if (!kernel_from_name(name, &k) || k == Kernel::attn)
                return cli::fail("--kernels: unknown kernel class '" + name + "' (fp16, w8a16, w4a16, w8a8, fp8)");
            keep.push_back(k);
        }
        if (!f.given("write")) return cli::fail("--kernels names the classes --write writes; give --write FILE too");
    }
    Catalog cat;
    if (!cli::load_catalog_dir(f.get("data"), &cat)) return 2;
    const std::string dir = f.get("results", "data/results");
    const std::string want = f.get("hardware-id");
    if (!want.empty() && !cat.hw(want)) return cli::fail("unknown --hardware-id '" + want + "' (see data/hardware.json)");
    std::vector<std::string> names;
    if (!native::list_json_files(dir, &names, &err)) return cli::fail(err);
    std::map<std::string, Group> groups;
    int skipped = 0;
    for (const std::string& n : names) {
        if (n == "index.json") continue;
        const std::string path = (fs::path(dir) / n).string();
        std::string text;
        Results r;
        std::vector<DataError> errs;
        if (!native::read_text_file(path, &text, &err) || !parse_results(text, path, &r, &errs)) {
            std::fprintf(stderr, "qbench-native: skipping %s\n", errs.empty() ? err.c_str() : errs.front().str().c_str());
            ++skipped;
            continue;
        }
        if (!want.empty() && r.env.hardware_id != want) continue;
        Group& g = groups[r.env.hardware_id.empty() ? synthesized_id(r.env) : r.env.hardware_id];
        g.key = r.env.hardware_id.empty() ? synthesized_id(r.env) : r.env.hardware_id;
        g.in_catalog = !r.env.hardware_id.empty();
        g.runs.push_back(std::move(r));
    }
    if (groups.empty())
        return cli::fail("no results" + (want.empty() ? std::string() : " with hardware_id '" + want + "'") + " in " + dir +
                         (want.empty() ? "" : " (record it with qbench-native bench --hardware-id " + want + ")"));
    std::vector<EffOverride> overrides;
    for (auto& [key, g] : groups) {
        Hardware h;
        double probe = 0;
        for (const Results& r : g.runs) probe = std::max(probe, r.probe.gbps);
        if (g.in_catalog) {
            const Hardware* c = cat.hw(key);
            if (!c) {
                std::fprintf(stderr, "qbench-native: skipping runs of '%s': not in hardware.json\n", key.c_str());
                continue;
            }
            h = *c;
        } else if (probe <= 0) {
            std::printf("%s: skipped: not in hardware.json and no run has a bandwidth probe to stand in for its datasheet\n", key.c_str());
            continue;
        } else if (!synthesize_hardware(cat, g.runs.front().env, probe, &h)) {
            return cli::fail("the catalog has no x86-server efficiency class to start from");
        }
        std::vector<Measurement> pts;
        int wrong = 0;
        for (const Results& r : g.runs)
            for (const Measurement& m : r.measurements) {
                if (!m.correct) { ++wrong; continue; }   // a wrong answer's time says nothing
                if ((m.backend == "cpu") != (h.kind == HwKind::cpu)) continue;
                pts.push_back(m);
            }
        const Calibration cal = calibrate(cat, h, pts);
        print_calibration(cal, g);
        if (wrong) std::printf("  (%d measurements that failed their correctness check were left out)\n", wrong);
        if (!g.in_catalog) continue;
        std::string runs;
        for (const Results& r : g.runs) runs += (runs.empty() ? "" : ", ") + r.run_id;
        // Four decimals: the fit is not better than that, and the file stays readable.
        auto r4 = [](double v) { return std::round(v * 1e4) / 1e4; };
        for (const KernelFit& k : cal.fits) {
            if (!keep.empty() && std::find(keep.begin(), keep.end(), k.kernel) == keep.end()) continue;
            overrides.push_back({h.id, "fitted by qbench-native calibrate on " + native::utc_timestamp().substr(0, 10) + " from " +
                                           std::to_string(k.points) + " measurements (runs " + runs + "); MAPE " +
                                           std::to_string((int)(k.mape_before + 0.5)) + "% -> " + std::to_string((int)(k.mape_after + 0.5)) + "%",
                                 k.kernel, Eff{r4(k.after.bw), r4(k.after.compute)}});
        }
    }
    if (!f.given("write")) return 0;
    const std::string out = f.get("write");
    if (overrides.empty())
        return cli::fail("nothing to write: overrides name a hardware.json device, and these results have no hardware_id "
                         "(run bench with --hardware-id ID, adding the machine to hardware.json first)");
    std::string text, merged;
    if (!native::read_text_file(out, &text, &err)) return cli::fail(err);
    if (!efficiency_with_overrides(text, overrides, &merged, &err)) return cli::fail(out + ": " + err);
    // Validate the new file together with its siblings (or the built-in files) before replacing.
    DataTexts t = embedded_data();
    const fs::path d = fs::path(out).parent_path().empty() ? fs::path(".") : fs::path(out).parent_path();
    const std::pair<std::string*, const char*> sib[] = {{&t.model_catalog, "model-catalog.json"}, {&t.hardware, "hardware.json"},
                                                        {&t.accuracy, "accuracy.json"}};
    for (const auto& [dst, n] : sib) {
        std::string s;
        if (native::read_text_file((d / n).string(), &s, &err)) *dst = s;
    }
    t.efficiency = merged;
    t.efficiency_name = out;
    Catalog check;
    std::vector<DataError> errs;
    if (!load_catalog(t, &check, &errs)) {
        for (const DataError& e : errs) std::fprintf(stderr, "qbench-native: %s\n", e.str().c_str());
        return cli::fail(out + " would not validate with the fitted overrides; not written");
    }
    if (!native::write_file_atomic(out, merged, &err)) return cli::fail(err);
    std::printf("wrote %zu override(s) to %s\n", overrides.size(), out.c_str());
    return 0;
}
