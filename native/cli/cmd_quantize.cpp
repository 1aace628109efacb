// cmd_quantize.cpp: `qbench-native quantize`: quantizes linear layers (from a .safetensors
// file, or a synthetic layer with LLM-like outlier structure) with RTN / GPTQ / AWQ / QuIP,
// and reports per layer and method the weight error, the output error and SQNR on held-out
// activations, and the time taken. --json writes the "qbench.quantize" document
// (docs/quantizers.md; defined once in shared/quantize_json.h, which the widget also reads),
// --out-dir the packed weights (native/quant/packed_io.h).
// Argument parsing, orchestration and printing only: the numbers come from native/quant.
#include <sys/utsname.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "cpu_kernels.h"
#include "data_json.h"
#include "environment.h"
#include "la.h"
#include "packed_io.h"
#include "quantize_json.h"
#include "quant.h"
#include "safetensors.h"
#include "synthetic.h"
#include "thread_pool.h"

using namespace qb;
using namespace qb::quant;

namespace {

// shared/selections.h (through quantize_json.h) has its own qb::Method, the catalog's list.
using Method = qb::quant::Method;

constexpr int kExitBadInput = 2;
constexpr int kExitFailed = 1;
const char* kDefaultLayers = R"(.*\.(q|k|v|o|gate|up|down)_proj\.weight$)";

int fail(const std::string& why) {
    std::fprintf(stderr, "qbench-native quantize: %s\n", why.c_str());
    return kExitBadInput;
}

void usage() {
    std::puts(
        "usage: qbench-native quantize (--synthetic | --safetensors FILE) [flags]\n"
        "input:\n"
        "  --synthetic                  a seeded synthetic layer with LLM-like outlier channels\n"
        "    --rows N --cols N          its shape (default 4096 x 4096)\n"
        "  --model ID                   a model-catalog id recorded in the report; with --synthetic, one\n"
        "                               synthetic layer per Llama projection (q k v o gate up down) shaped\n"
        "                               as that model's (filtered by --layers)\n"
        "  --safetensors FILE           the 2-D F16/BF16/F32 tensors of a model file\n"
        "    --layers REGEX             which tensors (default: Llama linear layers, *_proj.weight)\n"
        "  --calib FILE                 activations: a safetensors file with '<layer>.input' per layer or\n"
        "                               'activations' [tokens, K] (or [samples, tokens, K]); the last\n"
        "                               --eval-tokens tokens (at most a quarter) are held out for evaluation.\n"
        "                               Without it: synthetic activations (seeded) for every layer.\n"
        "  --calib-tokens SxT           synthetic calibration, samples x tokens (default 128x512)\n"
        "  --eval-tokens SxT|N          held-out evaluation tokens (default 4x512)\n"
        "  --seed N                     seed of the synthetic data and of QuIP's transforms\n"
        "quantization:\n"
        "  --methods rtn,gptq,awq,quip  (default all four)\n"
        "  --bits 2|3|4|8 --group-size 32|64|128|256|per-channel (default 4, 128; 8 bits: per-channel)\n"
        "  --zero-point                 asymmetric grid (a zero per group)\n"
        "  --act-order [--static-groups] GPTQ desc_act (static groups: AutoGPTQ's, no permutation stored)\n"
        "  --damp X                     GPTQ/QuIP dampening, fraction of mean(diag H) (default 0.01)\n"
        "  --block N                    GPTQ lazy-update block (default 128)\n"
        "  --awq-tokens N               tokens of AWQ's scale-search loss (default 512)\n"
        "  --hessian f32|bf16           H = 2/n X^T X in FP32 (default, as the reference) or on AMX with\n"
        "                               BF16-rounded activations (FP32 sums; CPUs with AMX-BF16)\n"
        "  --threads N                  worker threads (default: all cores)\n"
        "output:\n"
        "  --json FILE                  the qbench.quantize document (written atomically)\n"
        "  --out-dir DIR                packed weights, one safetensors file per layer and method\n"
        "exit status: 0 ok, 1 a quantizer failed, 2 bad input");
}

struct Opts {
    bool synthetic = false;
    std::string safetensors, layers = kDefaultLayers, calib, json, out_dir, model;
    int rows = 4096, cols = 4096;
    int calib_samples = 128, calib_tokens = 512, eval_samples = 4, eval_tokens = 512;
    uint64_t seed = kDefaultSeed;
    std::vector<Method> methods = {Method::rtn, Method::gptq, Method::awq, Method::quip};
    QuantSpec spec;
    bool group_given = false;
    bool shape_given = false;          // --rows / --cols (not with --model)
    GptqOptions gptq;
    AwqOptions awq;
    int awq_tokens = 512;
    int threads = 0;
    bool hessian_bf16 = false;
};

bool parse_ll(const std::string& s, long long lo, long long hi, long long* out) {
    if (s.empty()) return false;
    char* end = nullptr;
    errno = 0;
    const long long v = std::strtoll(s.c_str(), &end, 10);
    if (*end != 0 || errno != 0 || v < lo || v > hi) return false;
    *out = v;
    return true;
}

// "SxT" (samples x tokens) or "N" (tokens: ceil(N / 512) samples of 512, the last one full).
bool parse_tokens(const std::string& s, int* samples, int* tokens) {
    long long a, b;
    const size_t x = s.find('x');
    if (x == std::string::npos) {
        if (!parse_ll(s, 1, 1 << 24, &a)) return false;
        *tokens = (int)std::min<long long>(a, 512);
        *samples = (int)((a + *tokens - 1) / *tokens);
        return true;
    }
    if (!parse_ll(s.substr(0, x), 1, 1 << 20, &a) || !parse_ll(s.substr(x + 1), 1, 1 << 20, &b) || a * b > (1LL << 26)) return false;
    *samples = (int)a;
    *tokens = (int)b;
    return true;
}

int parse(int argc, char** argv, Opts* o) {
    for (int i = 2; i < argc; ++i) {
        std::string f = argv[i];
        if (f.rfind("--", 0) != 0) return fail("unexpected argument '" + f + "' (flags start with --)");
        f = f.substr(2);
        std::string v;
        bool has_v = false;
        if (const size_t eq = f.find('='); eq != std::string::npos) {
            v = f.substr(eq + 1);
            f = f.substr(0, eq);
            has_v = true;
        }
        auto sw = [&](bool* dst) {
            if (!has_v) { *dst = true; return true; }
            if (v == "on" || v == "true" || v == "1") { *dst = true; return true; }
            if (v == "off" || v == "false" || v == "0") { *dst = false; return true; }
            fail("--" + f + " takes no value (or =on / =off), not '" + v + "'");
            return false;
        };
        if (f == "help") { usage(); return -1; }
        if (f == "synthetic") { if (!sw(&o->synthetic)) return kExitBadInput; continue; }
        if (f == "zero-point") { if (!sw(&o->spec.zero_point)) return kExitBadInput; continue; }
        if (f == "act-order") { if (!sw(&o->gptq.act_order)) return kExitBadInput; continue; }
        if (f == "static-groups") { if (!sw(&o->gptq.static_groups)) return kExitBadInput; continue; }
        if (!has_v) {
            if (i + 1 >= argc) return fail("--" + f + " needs a value");
            v = argv[++i];
        }
        long long n;
        auto int_arg = [&](int* dst, long long lo, long long hi) {
            if (!parse_ll(v, lo, hi, &n)) { fail("--" + f + " must be an integer in " + std::to_string(lo) + ".." + std::to_string(hi) + ", not '" + v + "'"); return false; }
            *dst = (int)n;
            return true;
        };
        bool ok = true;
        if (f == "safetensors") o->safetensors = v;
        else if (f == "layers") o->layers = v;
        else if (f == "model") o->model = v;
        else if (f == "calib") o->calib = v;
        else if (f == "json") o->json = v;
        else if (f == "out-dir") o->out_dir = v;
        else if (f == "rows") { ok = int_arg(&o->rows, 1, 1 << 16); o->shape_given = true; }
        else if (f == "cols") { ok = int_arg(&o->cols, 1, 1 << 16); o->shape_given = true; }
        else if (f == "calib-tokens") {
            if (!parse_tokens(v, &o->calib_samples, &o->calib_tokens)) return fail("--calib-tokens takes SAMPLESxTOKENS (e.g. 128x512) or a token count, not '" + v + "'");
        } else if (f == "eval-tokens") {
            if (!parse_tokens(v, &o->eval_samples, &o->eval_tokens)) return fail("--eval-tokens takes SAMPLESxTOKENS (e.g. 4x512) or a token count, not '" + v + "'");
        } else if (f == "seed") {
            char* end = nullptr;
            errno = 0;
            const unsigned long long s = std::strtoull(v.c_str(), &end, 0);
            if (v.empty() || *end != 0 || errno != 0) return fail("--seed must be an unsigned integer, not '" + v + "'");
            o->seed = s;
        } else if (f == "methods") {
            o->methods.clear();
            std::stringstream ss(v);
            for (std::string m; std::getline(ss, m, ',');) {
                Method mm;
                if (!parse_method(m, &mm)) return fail("unknown method '" + m + "' (rtn, gptq, awq, quip)");
                if (std::find(o->methods.begin(), o->methods.end(), mm) == o->methods.end()) o->methods.push_back(mm);
            }
            if (o->methods.empty()) return fail("--methods names no method");
        } else if (f == "bits") {
            ok = int_arg(&o->spec.bits, 2, 8);
            if (ok && !supported_bits(o->spec.bits)) return fail("--bits must be 2, 3, 4 or 8, not '" + v + "'");
        } else if (f == "group-size") {
            o->group_given = true;
            if (v == "per-channel" || v == "0") o->spec.group = 0;
            else ok = int_arg(&o->spec.group, 1, 1 << 20);
        } else if (f == "damp") {
            char* end = nullptr;
            const double d = std::strtod(v.c_str(), &end);
            if (v.empty() || *end != 0 || !(d >= 0 && d <= 10)) return fail("--damp must be a number in [0, 10], not '" + v + "'");
            o->gptq.damp = d;
        } else if (f == "block") ok = int_arg(&o->gptq.block, 1, 1 << 16);
        else if (f == "awq-tokens") ok = int_arg(&o->awq_tokens, 1, 1 << 20);
        else if (f == "hessian") {
            if (v == "f32") o->hessian_bf16 = false;
            else if (v == "bf16") o->hessian_bf16 = true;
            else return fail("--hessian must be f32 or bf16, not '" + v + "'");
        }
        else if (f == "threads") ok = int_arg(&o->threads, 1, 1024);
        else return fail("unknown flag --" + f + " (see qbench-native quantize --help)");
        if (!ok) return kExitBadInput;
    }
    if (o->synthetic == !o->safetensors.empty()) return fail("give exactly one of --synthetic and --safetensors FILE");
    if (o->synthetic && !o->model.empty() && o->shape_given) return fail("--rows / --cols do not go with --model (the model gives the shapes)");
    if (o->spec.bits == 8 && !o->group_given) o->spec.group = 0;   // INT8 is per-channel
    if (o->gptq.static_groups && !o->gptq.act_order) return fail("--static-groups goes with --act-order");
    if (o->hessian_bf16 && !amx_bf16_available()) return fail("--hessian bf16 needs AMX-BF16, which this CPU (or kernel) does not offer");
    return 0;
}

// ---- layers -------------------------------------------------------------------------------

struct LayerRef {
    std::string name;
    const st::TensorInfo* t = nullptr;   // safetensors input
    int rows = 0, cols = 0;
    uint64_t seed_offset = 0;            // synthetic: added to --seed, so same-shaped layers differ
};

// Llama order: layer index, then q k v o gate up down; other names after, by name.
std::pair<long, int> llama_key(const std::string& n) {
    static const std::regex re(R"(^(?:model\.)?layers\.(\d+)\.(?:self_attn|mlp)\.(q|k|v|o|gate|up|down)_proj\.weight$)");
    static const char* order[] = {"q", "k", "v", "o", "gate", "up", "down"};
    std::smatch m;
    if (!std::regex_match(n, m, re)) return {1L << 40, 0};
    int k = 0;
    for (int i = 0; i < 7; ++i)
        if (m[2] == order[i]) k = i;
    return {std::strtol(m[1].str().c_str(), nullptr, 10), k};
}

std::string strip_weight(const std::string& n) {
    const std::string suf = ".weight";
    return n.size() > suf.size() && n.compare(n.size() - suf.size(), suf.size(), suf) == 0 ? n.substr(0, n.size() - suf.size()) : n;
}

std::string file_safe(const std::string& n) {
    std::string r;
    for (char c : n) r += (std::isalnum((unsigned char)c) || c == '.' || c == '_' || c == '-') ? c : '_';
    return r;
}

// ---- calibration from a file ------------------------------------------------------------------

// Rows [first, first + count) of an activations tensor [tokens, K] or [samples, tokens, K].
struct FileTokens : TokenSource {
    const st::File* f;
    const st::TensorInfo* t;
    int K;
    int64_t first, count;
    static constexpr int kChunk = 512;
    int cols() const override { return K; }
    int chunks() const override { return (int)((count + kChunk - 1) / kChunk); }
    int chunk_tokens(int i) const override { return (int)std::min<int64_t>(kChunk, count - (int64_t)i * kChunk); }
    void fill(int i, float* out) const override {
        std::string err;
        f->read_floats(*t, (first + (int64_t)i * kChunk) * K, (int64_t)chunk_tokens(i) * K, out, &err);   // dtype checked up front
    }
};

struct CalibSet {
    std::string source;                // "synthetic" or the tensor name in --calib
    Calibration c;
    Matrix eval;
    bool cached = false;
};

// ---- environment --------------------------------------------------------------------------

QuantizeEnvironment environment(int threads) {
    QuantizeEnvironment e;
    struct utsname u {};
    uname(&u);
    e.cpu = native::cpu_model();
    e.logical_cores = (int)std::thread::hardware_concurrency();
    e.threads = threads;
    e.isa = la::isa_name();
    e.cpu_features = cpu::cpu_feature_list();
    e.os = std::string(u.sysname) + " " + u.release + " " + u.machine;
    e.compiler = std::string("g++ ") + __VERSION__;
#ifdef NDEBUG
    e.build = "release";
#else
    e.build = "debug";
#endif
    e.eigen = la::ops().eigen;
    return e;
}

}  // namespace

int cmd_quantize(int argc, char** argv) {
    using Method = qb::quant::Method;
    Opts o;
    if (const int rc = parse(argc, argv, &o); rc != 0) return rc < 0 ? 0 : rc;
    const auto t_start = std::chrono::steady_clock::now();
    if (o.threads > 0) cpu::set_num_threads(o.threads);
    const int threads = cpu::num_threads();

    // ---- inputs ----
    st::File model, calib;
    std::string err;
    std::vector<LayerRef> layers;
    SyntheticSpec syn;
    syn.seed = o.seed;
    std::regex re;
    try {
        re = std::regex(o.layers, std::regex::ECMAScript);
    } catch (const std::regex_error& e) {
        return fail("--layers is not a valid regular expression: " + std::string(e.what()));
    }
    const ModelArch* arch = nullptr;
    Catalog catalog;
    if (!o.model.empty()) {
        std::vector<DataError> derrs;
        if (!load_catalog(embedded_data(), &catalog, &derrs)) return fail("built-in catalog: " + derrs.front().str());
        if (!(arch = catalog.model(o.model))) return fail("--model: unknown model '" + o.model + "' (ids are in data/model-catalog.json)");
    }
    if (o.synthetic && arch) {
        // The linear layers of one decoder block, named as in a Hugging Face Llama checkpoint.
        const int h = arch->hidden, q = arch->heads * arch->head_dim, kv = arch->kv_heads * arch->head_dim, f = arch->intermediate;
        const struct { const char* name; int rows, cols; } proj[] = {
            {"self_attn.q_proj", q, h}, {"self_attn.k_proj", kv, h}, {"self_attn.v_proj", kv, h}, {"self_attn.o_proj", h, q},
            {"mlp.gate_proj", f, h},    {"mlp.up_proj", f, h},       {"mlp.down_proj", h, f}};
        for (uint64_t i = 0; i < 7; ++i) {
            const std::string name = std::string("model.layers.0.") + proj[i].name + ".weight";
            if (std::regex_match(name, re)) layers.push_back({name, nullptr, proj[i].rows, proj[i].cols, i});
        }
        if (layers.empty()) return fail("--layers '" + o.layers + "' matches none of " + o.model + "'s projections (model.layers.0.self_attn.q_proj.weight ...)");
    } else if (o.synthetic) {
        layers.push_back({"synthetic." + std::to_string(o.rows) + "x" + std::to_string(o.cols), nullptr, o.rows, o.cols});
    } else {
        if (!model.open(o.safetensors, &err)) return fail(err);
        for (const st::TensorInfo& t : model.tensors()) {
            if (!std::regex_match(t.name, re)) continue;
            if (t.shape.size() != 2) continue;
            if (t.dtype != st::DType::F16 && t.dtype != st::DType::BF16 && t.dtype != st::DType::F32)
                return fail(o.safetensors + ": tensor '" + t.name + "' has dtype " + st::dtype_name(t.dtype) + "; weights must be F16, BF16 or F32");
            if (t.shape[0] < 1 || t.shape[1] < 1 || t.shape[0] > (1 << 20) || t.shape[1] > (1 << 16))
                return fail(o.safetensors + ": tensor '" + t.name + "' has an unsupported shape");
            layers.push_back({t.name, &t, (int)t.shape[0], (int)t.shape[1]});
        }
        if (layers.empty()) return fail(o.safetensors + ": no 2-D tensor matches --layers '" + o.layers + "'");
        std::stable_sort(layers.begin(), layers.end(), [](const LayerRef& a, const LayerRef& b) {
            const auto ka = llama_key(a.name), kb = llama_key(b.name);
            return ka != kb ? ka < kb : a.name < b.name;
        });
    }
    for (const LayerRef& l : layers)
        if (const std::string e = check_spec(o.spec, l.rows, l.cols); !e.empty()) return fail("layer '" + l.name + "': " + e);
    if (!o.calib.empty() && !calib.open(o.calib, &err)) return fail(err);
    if (!o.out_dir.empty()) {
        std::string probe = o.out_dir + "/.qbench-probe";
        if (!st::write_atomic(probe, "", 0, &err)) return fail("--out-dir " + o.out_dir + ": not a writable folder");
        std::remove(probe.c_str());
    }

    // Calibration for a layer: from --calib ('<layer>.input', '<name>.input' or 'activations'),
    // or synthetic for its width. Synthetic sets are cached per width (q, k, v, o and gate, up
    // share one), file sets only while consecutive layers use the same tensor.
    std::map<std::string, std::shared_ptr<CalibSet>> cache;
    auto calibration_for = [&](const LayerRef& l, std::string* why) -> std::shared_ptr<CalibSet> {
        if (o.calib.empty()) {
            const std::string key = "synthetic:" + std::to_string(l.cols);
            if (auto it = cache.find(key); it != cache.end()) { it->second->cached = true; return it->second; }
            auto cs = std::make_shared<CalibSet>();
            cs->source = "synthetic";
            SyntheticActivations cal(l.cols, 0, o.calib_samples, o.calib_tokens, syn);
            cs->c = calibrate(cal, o.awq_tokens, o.hessian_bf16);
            SyntheticActivations ev(l.cols, o.calib_samples, o.eval_samples, o.eval_tokens, syn);
            cs->eval = ev.all();
            cache[key] = cs;
            return cs;
        }
        const st::TensorInfo* t = nullptr;
        for (const std::string& n : {strip_weight(l.name) + ".input", l.name + ".input", std::string("activations")})
            if ((t = calib.find(n))) break;
        if (!t) { *why = o.calib + ": no '" + strip_weight(l.name) + ".input' or 'activations' tensor for layer '" + l.name + "'"; return nullptr; }
        if (auto it = cache.find(t->name); it != cache.end()) { it->second->cached = true; return it->second; }
        cache.clear();
        if (t->dtype != st::DType::F16 && t->dtype != st::DType::BF16 && t->dtype != st::DType::F32) {
            *why = o.calib + ": tensor '" + t->name + "' has dtype " + st::dtype_name(t->dtype) + "; activations must be F16, BF16 or F32";
            return nullptr;
        }
        if ((t->shape.size() != 2 && t->shape.size() != 3) || t->shape.back() != l.cols) {
            *why = o.calib + ": tensor '" + t->name + "' must be [tokens, " + std::to_string(l.cols) + "] or [samples, tokens, " + std::to_string(l.cols) + "] for layer '" + l.name + "'";
            return nullptr;
        }
        const int64_t n = t->numel() / l.cols;
        if (n < 2) { *why = o.calib + ": tensor '" + t->name + "' has fewer than 2 tokens"; return nullptr; }
        const int64_t held = std::max<int64_t>(1, std::min<int64_t>((int64_t)o.eval_samples * o.eval_tokens, n / 4));
        auto cs = std::make_shared<CalibSet>();
        cs->source = t->name;
        FileTokens cal;
        cal.f = &calib;
        cal.t = t;
        cal.K = l.cols;
        cal.first = 0;
        cal.count = n - held;
        cs->c = calibrate(cal, o.awq_tokens, o.hessian_bf16);
        cs->eval = Matrix((int)held, l.cols);
        calib.read_floats(*t, (n - held) * l.cols, held * l.cols, cs->eval.v.data(), why);
        cache[t->name] = cs;
        return cs;
    };

    // ---- run ----
    QuantizeReport report;
    const std::string gname = o.spec.group == 0 ? "per-channel" : "g" + std::to_string(o.spec.group);
    std::printf("qbench-native quantize: %zu layer(s), W%d %s%s%s, methods:", layers.size(), o.spec.bits, gname.c_str(),
                o.spec.zero_point ? " +zero" : "", o.gptq.act_order ? " act-order" : "");
    for (Method m : o.methods) std::printf(" %s", method_name(m));
    std::printf("; %d thread(s), %s kernels, seed %llu\n", threads, la::isa_name(), (unsigned long long)o.seed);
    int failures = 0;
    for (const LayerRef& l : layers) {
        Matrix W(l.rows, l.cols);
        if (o.synthetic) {
            SyntheticSpec ls = syn;
            ls.seed += l.seed_offset;
            W = synthetic_weights(l.rows, l.cols, ls);
        }
        else if (!model.read_floats(*l.t, 0, (int64_t)l.rows * l.cols, W.v.data(), &err)) return fail(err);
        std::string why;
        const auto cs = calibration_for(l, &why);
        if (!cs) return fail(why);
        const Matrix Yref = matmul_xwt(cs->eval, W);
        std::printf("\n%s  [%d x %d]  calibration: %s, %lld tokens, H = 2/n X^T X%s in %.2f s (thread-seconds: %.2f %s, %.2f rank updates)%s;"
                    " evaluation: %d held-out tokens\n",
                    l.name.c_str(), l.rows, l.cols, cs->source.c_str(), (long long)cs->c.tokens, cs->c.bf16 ? " (BF16 on AMX)" : "", cs->c.seconds, cs->c.source_seconds,
                    o.calib.empty() ? "generating" : "reading", cs->c.accumulate_seconds, cs->cached ? " (shared, computed earlier)" : "",
                    cs->eval.rows);
        std::printf("  %-6s %11s %11s %9s %9s %9s\n", "method", "weight err", "output err", "SQNR dB", "time s", "bits/w");
        QuantizeLayer ql;
        for (Method m : o.methods) {
            Result r;
            if (m == Method::rtn) r = quantize_rtn(W, o.spec);
            else if (m == Method::gptq) r = quantize_gptq(W, cs->c.H, o.spec, o.gptq);
            else if (m == Method::awq) r = quantize_awq(W, cs->c, o.spec, o.awq);
            else {
                QuipOptions q;
                q.seed = o.seed;
                q.damp = o.gptq.damp;
                q.block = o.gptq.block;
                r = quantize_quip(W, cs->c.H, o.spec, q);
            }
            QuantizeRow row;
            row.method = method_name(m);
            row.ok = r.ok();
            if (!r.ok()) {
                ++failures;
                row.error = r.error;
                std::printf("  %-6s failed: %s\n", method_name(m), r.error.c_str());
                ql.results.push_back(row);
                continue;
            }
            const ErrorStats e = evaluate(W, r.w_hat, cs->eval, &Yref);
            const double bpw = (double)r.packed.bytes() * 8.0 / ((double)l.rows * l.cols);
            std::printf("  %-6s %11.5f %11.5f %9.2f %9.3f %9.3f\n", method_name(m), e.weight_rel, e.output_rel, e.sqnr_db, r.seconds, bpw);
            row.bits = o.spec.bits;
            row.group_size = o.spec.group;
            row.zero_point = o.spec.zero_point;
            row.act_order = m == Method::gptq && o.gptq.act_order;
            row.weight_rel_err = e.weight_rel;
            row.output_rel_err = e.output_rel;
            row.output_sqnr_db = e.sqnr_db;
            row.time_s = r.seconds;
            row.packed_bytes = (long long)r.packed.bytes();
            row.bits_per_weight = bpw;
            row.sidecar_perm = !r.perm.empty();
            row.sidecar_input_scale = !r.input_scale.empty();
            row.transform = r.has_transform ? "quip" : "none";
            if (m == Method::quip) {
                row.has_seed = true;
                row.seed = r.seed;
            }
            row.details = r.details.values;
            if (!o.out_dir.empty()) {
                const std::string path = o.out_dir + "/" + file_safe(strip_weight(l.name)) + "." + method_name(m) + ".safetensors";
                if (!write_packed(path, r, l.name, o.synthetic ? "synthetic" : o.safetensors, &err)) return fail(err);
                row.file = path;
            }
            ql.results.push_back(std::move(row));
        }
        ql.name = l.name;
        ql.rows = l.rows;
        ql.cols = l.cols;
        QuantizeLayerCalibration& qc = ql.calibration;
        qc.source = cs->source;
        qc.tokens = (long long)cs->c.tokens;
        qc.eval_tokens = cs->eval.rows;
        qc.awq_loss_tokens = cs->c.sample.rows;
        qc.hessian_precision = cs->c.bf16 ? "bf16-amx" : "f32";
        qc.hessian_s = cs->c.seconds;
        qc.source_thread_s = cs->c.source_seconds;
        qc.accumulate_thread_s = cs->c.accumulate_seconds;
        qc.shared = cs->cached;
        report.layers.push_back(std::move(ql));
    }
    const double total = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count();
    std::printf("\ntotal %.2f s. Errors are relative Frobenius norms; output error and SQNR on held-out tokens;\n"
                "method times exclude the shared calibration pass (H accumulation), listed per layer.\n",
                total);

    if (!o.json.empty()) {
        report.created_utc = native::utc_timestamp();
        report.tool_version = "0.1.0";
        report.env = environment(threads);
        QuantizeInput& in = report.input;
        in.kind = o.synthetic ? "synthetic" : "safetensors";
        in.model = o.model;
        if (!o.synthetic) {
            in.path = o.safetensors;
            in.layers_regex = o.layers;
        }
        in.calib_kind = o.calib.empty() ? "synthetic" : "file";
        if (!o.calib.empty()) in.calib_path = o.calib;
        else {
            in.calib_samples = o.calib_samples;
            in.calib_tokens_per_sample = o.calib_tokens;
            in.eval_samples = o.eval_samples;
            in.eval_tokens_per_sample = o.eval_tokens;
        }
        in.has_synthetic = o.synthetic || o.calib.empty();
        in.synthetic = {o.seed, syn.outlier_frac, syn.outlier_min, syn.outlier_max, syn.rank, syn.noise, syn.ar, syn.heavy_row_frac};
        QuantizeConfig& cfg = report.config;
        for (Method m : o.methods) cfg.methods.push_back(method_name(m));
        cfg.bits = o.spec.bits;
        cfg.group_size = o.spec.group;
        cfg.zero_point = o.spec.zero_point;
        cfg.act_order = o.gptq.act_order;
        cfg.static_groups = o.gptq.static_groups;
        cfg.damp = o.gptq.damp;
        cfg.block_size = o.gptq.block;
        cfg.hessian = o.hessian_bf16 ? "bf16" : "f32";
        cfg.awq_grid = o.awq.grid;
        cfg.awq_clip_grid = o.awq.clip_grid;
        cfg.awq_max_shrink = o.awq.max_shrink;
        cfg.awq_loss_tokens = o.awq_tokens;
        cfg.quip_seed = o.seed;
        cfg.quip_rescale = true;
        cfg.quip_transform = "randomized Hadamard (x small Haar orthogonal when not a power of two)";
        report.total_s = total;
        const std::string text = quantize_json(report);
        // What is written must read back: the widget and validate-data use the same parser.
        std::vector<DataError> perrs;
        QuantizeReport check;
        if (!parse_quantize(text, o.json, &check, &perrs)) return fail("internal error: the report does not validate: " + perrs.front().str());
        if (!st::write_atomic(o.json, text.data(), text.size(), &err)) return fail(err);
    }
    return failures ? kExitFailed : 0;
}
