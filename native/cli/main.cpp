// qbench-native: command-line front end of the shared model (predict, sweep, validate-data).
// Argument parsing and printing only; every number comes from shared/.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "cli_args.h"
#include "cmd_kernels.h"
#include "cpu_kernels.h"
#include "file_io.h"
#include "data_json.h"
#include "numeric.h"
#include "predict.h"
#include "quantize_json.h"
#include "recipe.h"
#include "share_link.h"
#include "sweep.h"
#if defined(QB_HAVE_CUDA)
#include "cmd_bench_cuda.h"
#endif

using namespace qb;

int cmd_quantize(int argc, char** argv);   // cmd_quantize.cpp

namespace {

constexpr int kExitBadInput = 2;

using cli::fail;   // "qbench-native: why", exit status 2 (kExitBadInput)
using native::read_text_file;

struct Args {
    std::vector<std::pair<std::string, std::string>> kv;   // --flag value, in order
    std::vector<std::string> flags;                        // --flag with no value
};

// Flags that take no value.
bool is_switch(const std::string& f) {
    return f == "json" || f == "csv" || f == "fitting-only" || f == "lenient-link" || f == "help";
}

bool parse_args(int argc, char** argv, int first, Args* a, std::string* err) {
    for (int i = first; i < argc; ++i) {
        std::string s = argv[i];
        if (s.rfind("--", 0) != 0) { *err = "unexpected argument '" + s + "' (flags start with --)"; return false; }
        s = s.substr(2);
        std::string val;
        const size_t eq = s.find('=');
        if (eq != std::string::npos) { val = s.substr(eq + 1); s = s.substr(0, eq); a->kv.push_back({s, val}); continue; }
        if (is_switch(s)) { a->flags.push_back(s); continue; }
        if (i + 1 >= argc) { *err = "--" + s + " needs a value"; return false; }
        a->kv.push_back({s, argv[++i]});
    }
    return true;
}

bool has(const Args& a, const char* f) {
    for (const std::string& x : a.flags) if (x == f) return true;
    return false;
}

std::string get(const Args& a, const char* f) {
    for (const auto& p : a.kv) if (p.first == f) return p.second;
    return "";
}

// Builds the selections: defaults or --link, then --method (with its defaults), then each flag.
bool selections_from(const Catalog& c, const Args& a, Selections* s, bool allow_batches) {
    if (std::string link = get(a, "link"); !link.empty()) {
        LinkDecode d = decode_link(c, link);
        for (const FieldError& e : d.problems)
            std::fprintf(stderr, "qbench-native: link field '%s': %s\n", e.field.c_str(), e.reason.c_str());
        if (!d.problems.empty() && !has(a, "lenient-link")) {
            fail("the share link has problems (above); pass --lenient-link to use defaults for those fields");
            return false;
        }
        *s = d.sel;
    }
    if (std::string m = get(a, "method"); !m.empty()) {
        Method mm;
        if (!parse_method(m, &mm)) { fail("unknown method '" + m + "' (fp16, bf16, int8, w8a8, fp8, rtn, gptq, awq, quip)"); return false; }
        apply_method_defaults(*s, mm);
    }
    long long iv;
    double dv;
    for (const auto& [k, v] : a.kv) {
        auto int_arg = [&](int* dst, long long lo, long long hi) {
            if (!parse_int(v, lo, hi, &iv)) { fail("--" + k + " must be an integer in " + std::to_string(lo) + ".." + std::to_string(hi) + ", not '" + v + "'"); return false; }
            *dst = (int)iv;
            return true;
        };
        auto dbl_arg = [&](double* dst) {
            if (!parse_double(v, &dv) || dv < 0) { fail("--" + k + " must be a non-negative number, not '" + v + "'"); return false; }
            *dst = dv;
            return true;
        };
        auto bool_arg = [&](bool* dst) {
            if (v == "1" || v == "true" || v == "on") *dst = true;
            else if (v == "0" || v == "false" || v == "off") *dst = false;
            else { fail("--" + k + " must be on or off, not '" + v + "'"); return false; }
            return true;
        };
        bool ok = true;
        if (k == "model") s->model = v;
        else if (k == "hardware") s->hardware = v;
        else if (k == "method" || k == "link" || k == "data" || k == "batches") {}
        else if (k == "bits") ok = int_arg(&s->bits, 1, 64);
        else if (k == "group-size") {
            if (v == "per-channel" || v == "0") s->group_size = 0;
            else ok = int_arg(&s->group_size, 1, 1 << 20);
        } else if (k == "zero-point") ok = bool_arg(&s->zero_point);
        else if (k == "act-order") ok = bool_arg(&s->act_order);
        else if (k == "kv-cache") {
            if (!parse_kv(v, &s->kv)) ok = (fail("unknown --kv-cache '" + v + "' (fp16, bf16, fp8, int8)"), false);
        } else if (k == "gpus") ok = int_arg(&s->gpus, 1, 64);
        else if (k == "batch") ok = int_arg(&s->batch, 1, 4096);
        else if (k == "prompt-tokens") ok = int_arg(&s->prompt_tokens, 1, 10000000);
        else if (k == "output-tokens") ok = int_arg(&s->output_tokens, 1, 10000000);
        else if (k == "tokens-per-day") { double t = 0; ok = dbl_arg(&t); if (ok) set_tokens_per_day(*s, t); }
        else if (k == "input-tokens-per-day") ok = dbl_arg(&s->input_tokens_per_day);
        else if (k == "output-tokens-per-day") ok = dbl_arg(&s->output_tokens_per_day);
        else if (k == "usd-per-hour") ok = dbl_arg(&s->usd_per_hour);
        else if (k == "calib-samples") ok = int_arg(&s->calib_samples, 1, 100000);
        else if (k == "calib-tokens") ok = int_arg(&s->calib_tokens, 1, 1000000);
        else if (k == "compare") {
            s->compare_api.clear();
            std::stringstream ss(v);
            for (std::string id; std::getline(ss, id, ',');) if (!id.empty()) s->compare_api.push_back(id);
        } else ok = (fail("unknown flag --" + k + " (see qbench-native help)"), false);
        if (!ok) return false;
        if (k == "batches" && !allow_batches) { fail("--batches is a sweep flag"); return false; }
    }
    const std::vector<FieldError> errs = validate(c, *s);
    if (!errs.empty()) {
        std::string msg;
        for (const FieldError& e : errs) msg += (msg.empty() ? "" : "; ") + e.field + ": " + e.reason;
        fail(msg);
        return false;
    }
    return true;
}

std::string f2(double v, const char* fmt = "%.2f") {
    char b[64];
    std::snprintf(b, sizeof b, fmt, v);
    return b;
}

std::string money(double v) {
    char b[64];
    if (v >= 1e6 || v <= -1e6) std::snprintf(b, sizeof b, "$%.2fM", v / 1e6);
    else std::snprintf(b, sizeof b, "$%.0f", v);
    return b;
}

std::string tokens(double v) {
    char b[64];
    if (v >= 1e9) std::snprintf(b, sizeof b, "%.2fB", v / 1e9);
    else if (v >= 1e6) std::snprintf(b, sizeof b, "%.1fM", v / 1e6);
    else std::snprintf(b, sizeof b, "%.0fk", v / 1e3);
    return b;
}

void print_prediction(const Catalog& c, const Prediction& p) {
    const Selections& s = p.sel;
    const ModelArch& m = *c.model(s.model);
    const Hardware& h = *c.hw(s.hardware);
    std::string q = method_name(s.method);
    if (!fixed_bits(s.method)) q += " W" + std::to_string(s.bits) + (s.group_size ? " g" + std::to_string(s.group_size) : " per-channel") + (s.zero_point ? " +zero" : "");
    std::printf("%s  %s  on %d x %s  (batch %d, %d prompt + %d output tokens, KV %s)\n", m.name.c_str(), q.c_str(), s.gpus,
                h.name.c_str(), s.batch, s.prompt_tokens, s.output_tokens, kv_name(s.kv));
    std::printf("\nMemory (computed)           GB\n");
    std::printf("  weights                %8.2f   (%.3f bits/weight in linear layers)\n", p.mem.weights_gb, p.mem.weight_bits);
    std::printf("  KV cache               %8.2f\n", p.mem.kv_cache_gb);
    std::printf("  activations            %8.2f\n", p.mem.activations_gb);
    std::printf("  runtime overhead       %8.2f\n", p.mem.overhead_gb);
    std::printf("  total                  %8.2f   of %.1f usable -> %s\n", p.mem.total_gb, p.mem.capacity_gb, p.mem.fits ? "fits" : "DOES NOT FIT");
    std::printf("\nLatency (roofline with efficiency factors from efficiency.json)\n");
    std::printf("  TTFT (prefill)         %8.2f ms\n", p.lat.ttft_ms);
    std::printf("  TPOT (decode)          %8.3f ms   %.1f tokens/s per sequence\n", p.lat.tpot_ms, p.lat.seq_tokens_per_s);
    std::printf("  request                %8.1f ms   %.0f output tokens/s per replica\n", p.lat.request_ms, p.lat.tokens_per_s);
    if (p.crossover_batch) std::printf("  crossover batch        %8d      (weight-only decode no faster than FP16 from here)\n", p.crossover_batch);
    std::printf("  decode step:");
    for (int i = 0; i < kOpCount; ++i)
        if (p.lat.decode.op[i].total_us > 0) std::printf(" %s %.0fus", op_name(i), p.lat.decode.op[i].total_us);
    std::printf("\n\nAccuracy (%s)\n", provenance_name(p.acc.provenance));
    if (p.acc.has_ppl)
        std::printf("  perplexity             %8.2f   FP16 %.2f, %+.2f%% (%s, context %d)\n", p.acc.ppl, p.acc.ppl_fp16, p.acc.delta_pct,
                    p.acc.dataset.c_str(), p.acc.context);
    else if (p.acc.provenance != Provenance::none)
        std::printf("  change vs FP16         %+7.2f%%\n", p.acc.delta_pct);
    if (!p.acc.source.empty()) std::printf("  source: %s\n", p.acc.source.c_str());
    if (!p.acc.basis.empty()) std::printf("  basis: %s\n", p.acc.basis.c_str());
    const Cost& k = p.cost;
    std::printf("\nMonthly cost (calculated_monthly_cost) for %s input + %s output tokens/day\n", tokens(s.input_tokens_per_day).c_str(),
                tokens(s.output_tokens_per_day).c_str());
    std::printf("  self-hosted            %8s   %d device(s) x $%.2f/h x 730 h, %d replica(s), %.0f%% utilised\n", money(k.usd_month).c_str(),
                k.gpus, k.usd_per_hour, k.replicas, k.utilization * 100);
    if (k.price_overridden) std::printf("  price: your override\n");
    else std::printf("  price: %s, %s (%s)\n", k.price_provider.c_str(), k.price_date.c_str(), k.price_source.c_str());
    std::printf("\nComparison (comparison_delta)\n");
    const Fp16Delta& d = p.vs_fp16;
    std::printf("  vs FP16 same hardware  TPOT %+.1f%% (%.2fx), TTFT %+.1f%%, memory %+.1f GB, cost %s (%+.0f%%)%s\n", d.tpot_pct, d.decode_speedup,
                d.ttft_pct, d.memory_gb, money(d.usd_month).c_str(), d.usd_pct, d.fp16_fits ? "" : "  [FP16 does not fit]");
    for (const ApiComparison& x : p.vs_api) {
        std::printf("  vs %-20s %8s/month via API; self-hosted %s (%+.0f%%)", x.id.c_str(), money(x.usd_month).c_str(),
                    money(x.delta_usd).c_str(), x.delta_pct);
        if (x.breaks_even) std::printf(", break-even at %s tokens/day\n", tokens(x.break_even_tokens_per_day).c_str());
        else std::printf(", API cheaper at any volume\n");
    }
    for (const std::string& w : p.warnings) std::printf("warning: %s\n", w.c_str());
    std::printf("\nshare link: #%s\n", encode_link(s).c_str());
}

int cmd_predict(const Args& a) {
    Catalog c;
    if (!cli::load_catalog_dir(get(a, "data"), &c)) return kExitBadInput;
    Selections s;
    if (!selections_from(c, a, &s, false)) return kExitBadInput;
    const PredictResult r = predict(c, s);
    if (!r.ok()) return fail(r.errors.front().field + ": " + r.errors.front().reason);
    if (has(a, "json")) std::printf("%s\n", prediction_json(c, r.p).c_str());
    else print_prediction(c, r.p);
    return 0;
}

int cmd_sweep(const Args& a) {
    Catalog c;
    if (!cli::load_catalog_dir(get(a, "data"), &c)) return kExitBadInput;
    Selections s;
    if (!selections_from(c, a, &s, true)) return kExitBadInput;
    SweepSpec spec;
    spec.fitting_only = has(a, "fitting-only");
    if (std::string b = get(a, "batches"); !b.empty()) {
        std::stringstream ss(b);
        long long v;
        for (std::string x; std::getline(ss, x, ',');) {
            if (!parse_int(x, 1, 4096, &v)) return fail("--batches takes integers 1..4096 separated by commas, not '" + x + "'");
            spec.batches.push_back((int)v);
        }
    }
    const std::vector<SweepPoint> pts = sweep(c, s, spec);
    if (has(a, "json")) { std::printf("%s\n", sweep_json(c, s, pts).c_str()); return 0; }
    if (has(a, "csv")) {
        std::printf("method,bits,group_size,zero_point,kv_cache,batch,tpot_ms,ttft_ms,tokens_per_s,memory_gb,fits,ppl,delta_pct,provenance,usd_month,pareto\n");
        for (const SweepPoint& p : pts)
            std::printf("%s,%d,%d,%d,%s,%d,%s,%s,%s,%s,%d,%s,%s,%s,%s,%d\n", method_name(p.sel.method), p.sel.bits, p.sel.group_size,
                        p.sel.zero_point, kv_name(p.sel.kv), p.sel.batch, fmt_double(p.tpot_ms).c_str(), fmt_double(p.ttft_ms).c_str(),
                        fmt_double(p.tokens_per_s).c_str(), fmt_double(p.memory_gb).c_str(), p.fits, p.has_ppl ? fmt_double(p.ppl).c_str() : "",
                        p.provenance == Provenance::none ? "" : fmt_double(p.delta_pct).c_str(), provenance_name(p.provenance),
                        fmt_double(p.usd_month).c_str(), p.pareto);
        return 0;
    }
    const ModelArch& m = *c.model(s.model);
    const Hardware& h = *c.hw(s.hardware);
    std::printf("%s on %d x %s: %zu configurations (* = latency/accuracy Pareto front)\n\n", m.name.c_str(), s.gpus, h.name.c_str(), pts.size());
    std::printf("  %-6s %4s %5s %4s %5s %9s %9s %8s %5s %8s %9s %-9s %10s\n", "method", "bits", "group", "zero", "batch", "TPOT ms",
                "TTFT ms", "mem GB", "fits", "ppl", "dppl %", "source", "$/month");
    for (const SweepPoint& p : pts)
        std::printf("%c %-6s %4d %5s %4s %5d %9.3f %9.2f %8.2f %5s %8s %9s %-9s %10s\n", p.pareto ? '*' : ' ', method_name(p.sel.method),
                    p.sel.bits, p.sel.group_size ? std::to_string(p.sel.group_size).c_str() : "chan", p.sel.zero_point ? "yes" : "no",
                    p.sel.batch, p.tpot_ms, p.ttft_ms, p.memory_gb, p.fits ? "yes" : "NO", p.has_ppl ? f2(p.ppl).c_str() : "-",
                    p.provenance == Provenance::none ? "-" : f2(p.delta_pct, "%+.2f").c_str(), provenance_name(p.provenance),
                    money(p.usd_month).c_str());
    return 0;
}

int cmd_recipe(const Args& a) {
    Catalog c;
    if (!cli::load_catalog_dir(get(a, "data"), &c)) return kExitBadInput;
    Selections s;
    if (!selections_from(c, a, &s, false)) return kExitBadInput;
    const Recipe r = recipe(c, s);
    if (!r.quantize.empty()) std::printf("# 1. quantize\n%s\n", r.quantize.c_str());
    std::printf("# %s. serve\n%s\n", r.quantize.empty() ? "1" : "2", r.serve.c_str());
    if (!r.notes.empty()) std::printf("\n# notes: %s\n", r.notes.c_str());
    return 0;
}

int cmd_validate(const Args& a) {
    std::string dir = get(a, "data");
    if (dir.empty()) {
        std::ifstream probe("data/model-catalog.json");
        if (probe) dir = "data";
    }
    Catalog c;
    if (!cli::load_catalog_dir(dir, &c)) return kExitBadInput;
    // Quantize reports: DIR/quantize/*.json (the ones the site serves) and any --quantize FILE.
    std::vector<std::string> reports;
    if (std::string f = get(a, "quantize"); !f.empty()) reports.push_back(f);
    std::error_code ec;
    if (!dir.empty() && std::filesystem::is_directory(dir + "/quantize", ec)) {
        std::vector<std::string> found;
        for (const auto& e : std::filesystem::directory_iterator(dir + "/quantize", ec))
            if (e.path().extension() == ".json") found.push_back(e.path().string());
        std::sort(found.begin(), found.end());
        reports.insert(reports.end(), found.begin(), found.end());
    }
    size_t quantize_rows = 0;
    for (const std::string& f : reports) {
        std::string text, err;
        if (!read_text_file(f, &text, &err)) return fail(err);
        QuantizeReport q;
        std::vector<DataError> errs;
        if (!parse_quantize(text, f, &q, &errs)) {
            for (const DataError& e : errs) std::fprintf(stderr, "qbench-native: %s\n", e.str().c_str());
            return kExitBadInput;
        }
        if (!q.input.model.empty() && !c.model(q.input.model))
            return fail(f + ": /input/model: '" + q.input.model + "' is not in model-catalog.json");
        for (const QuantizeLayer& l : q.layers) quantize_rows += l.results.size();
    }
    std::printf("ok: %s: %zu models, %zu API models, %zu hardware, %zu efficiency classes (%zu overrides), %zu accuracy rows from %zu sources\n",
                dir.empty() ? "built-in data" : dir.c_str(), c.models.size(), c.api_models.size(), c.hardware.size(), c.eff_classes.size(),
                c.eff_overrides.size(), c.accuracy.size(), c.acc_sources.size());
    if (!reports.empty()) std::printf("ok: %zu quantize report(s), %zu rows\n", reports.size(), quantize_rows);
    return 0;
}

void usage() {
    std::puts(
        "qbench-native: what quantization buys an LLM deployment (latency, memory, accuracy, cost)\n\n"
        "usage: qbench-native <command> [flags]\n"
        "  predict        one configuration (human table; --json for machines)\n"
        "  sweep          every method x bits x group size for a model on a hardware (--json, --csv,\n"
        "                 --batches 1,8,64, --fitting-only)\n"
        "  recipe         the GPTQModel / AutoAWQ / llm-compressor / vLLM / llama.cpp commands for a selection\n"
        "  validate-data  check data/*.json and data/quantize/*.json (--data DIR; default ./data if present,\n"
        "                 else built-in; --quantize FILE checks one quantize report too)\n"
        "  bench / publish / calibrate  kernel benchmark (CPU; --backend cuda for the GPU), results merge/upload,\n"
        "                 efficiency fit (--help on each)\n"
        "  quantize       RTN / GPTQ / AWQ / QuIP on real or synthetic layers: errors, SQNR, time (--help)\n"
        "  serve          HTTP server: the site, data/, POST /api/results and /api/events (serve --help)\n\n"
        "selection flags (predict, sweep):\n"
        "  --model ID --method fp16|bf16|int8|w8a8|fp8|rtn|gptq|awq|quip --bits 2|3|4|8\n"
        "  --group-size 32|64|128|256|per-channel --zero-point on|off --act-order on|off\n"
        "  --kv-cache fp16|bf16|fp8|int8 --hardware ID --gpus N --batch N\n"
        "  --prompt-tokens N --output-tokens N --tokens-per-day N (split by prompt:output)\n"
        "  --input-tokens-per-day N --output-tokens-per-day N --usd-per-hour X\n"
        "  --compare id,id,...  --link 'v=1&m=...' (a share link; --lenient-link to accept a broken one)\n"
        "  --data DIR  read the four catalog files from DIR instead of the built-in copy\n"
        "exit status: 0 ok, 2 bad input (one line on stderr says what)");
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) { usage(); return kExitBadInput; }
    const std::string cmd = argv[1];
    if (cmd == "help" || cmd == "--help" || cmd == "-h") { usage(); return 0; }
    // QB_CPU_ISA caps the CPU kernels' SIMD level. The kernels ignore a value that names no
    // level (they are a library and print nothing), so a typo or a level this build no longer
    // has ("avx512-bf16", removed in session 7) would silently run at the best level.
    // The same for the row order (QB_CPU_ROWS, cpu_kernels.h RowOrder).
    if (cmd == "bench" || cmd == "quantize") {
        if (const char* v = std::getenv("QB_CPU_ISA"); v && *v) {
            qb::cpu::Isa isa;
            if (!qb::cpu::parse_isa(v, &isa))
                return fail(std::string("QB_CPU_ISA='") + v + "' names no SIMD level (scalar, avx2, avx512, avx512-vnni)");
        }
        if (const char* v = std::getenv("QB_CPU_ROWS"); v) {
            qb::cpu::RowOrder o;
            if (!qb::cpu::parse_row_order(v, &o)) return fail(std::string("QB_CPU_ROWS='") + v + "' names no row order (short, long)");
        }
    }
    if (cmd == "bench") {   // the CPU benchmark unless --backend cuda (see cmd_bench_cuda.cpp)
        std::string backend;
        for (int i = 2; i + 1 < argc; ++i)
            if (std::strcmp(argv[i], "--backend") == 0) backend = argv[i + 1];
        if (backend == "cuda") {
#if defined(QB_HAVE_CUDA)
            return qb::cli::cmd_bench_cuda(argc - 2, argv + 2);
#else
            return fail("this qbench-native was built without CUDA (configure with the 'cuda' preset, -DQB_CUDA=ON)");
#endif
        }
        if (!backend.empty() && backend != "cpu") return fail("bench: unknown --backend '" + backend + "' (cpu, cuda)");
        std::vector<char*> rest;   // the CPU benchmark's own flags, without "--backend cpu"
        for (int i = 0; i < argc; ++i) {
            if (i >= 2 && std::strcmp(argv[i], "--backend") == 0 && i + 1 < argc) { ++i; continue; }
            rest.push_back(argv[i]);
        }
        rest.push_back(nullptr);
        return cmd_bench((int)rest.size() - 1, rest.data());
    }
    if (cmd == "serve") { int cmd_serve(int, char**); return cmd_serve(argc, argv); }  // native/cli/cmd_serve.cpp
    if (cmd == "publish") return cmd_publish(argc, argv);
    if (cmd == "calibrate") return cmd_calibrate(argc, argv);
    if (cmd == "quantize") return cmd_quantize(argc, argv);
    Args a;
    std::string err;
    if (!parse_args(argc, argv, 2, &a, &err)) return fail(err);
    if (has(a, "help")) { usage(); return 0; }
    if (cmd == "predict") return cmd_predict(a);
    if (cmd == "sweep") return cmd_sweep(a);
    if (cmd == "validate-data") return cmd_validate(a);
    if (cmd == "recipe") return cmd_recipe(a);
    return fail("unknown command '" + cmd + "' (predict, sweep, recipe, validate-data, serve, help)");
}
