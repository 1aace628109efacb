#include "selections.h"

#include <cstdio>

namespace qb {

static const char* const kMethodNames[] = {"fp16", "bf16", "int8", "w8a8", "fp8", "rtn", "gptq", "awq", "quip"};
static const char* const kKvNames[] = {"fp16", "bf16", "fp8", "int8"};

const char* method_name(Method m) { return m < Method::count ? kMethodNames[(int)m] : "?"; }
const char* kv_name(KvType k) { return k < KvType::count ? kKvNames[(int)k] : "?"; }

bool parse_method(const std::string& s, Method* out) {
    for (int i = 0; i < (int)Method::count; ++i)
        if (s == kMethodNames[i]) { *out = (Method)i; return true; }
    return false;
}

bool parse_kv(const std::string& s, KvType* out) {
    for (int i = 0; i < (int)KvType::count; ++i)
        if (s == kKvNames[i]) { *out = (KvType)i; return true; }
    return false;
}

int fixed_bits(Method m) {
    switch (m) {
        case Method::fp16: case Method::bf16: return 16;
        case Method::int8: case Method::w8a8: case Method::fp8: return 8;
        default: return 0;
    }
}

bool is_weight_only_low_bit(Method m) {
    return m == Method::rtn || m == Method::gptq || m == Method::awq || m == Method::quip;
}

Kernel kernel_for(Method m, int bits) {
    switch (m) {
        case Method::fp16: case Method::bf16: return Kernel::fp16;
        case Method::int8: return Kernel::w8a16;
        case Method::w8a8: return Kernel::w8a8;
        case Method::fp8: return Kernel::fp8;
        default: return bits >= 8 ? Kernel::w8a16 : Kernel::w4a16;
    }
}

double kv_bytes(KvType k) { return (k == KvType::fp8 || k == KvType::int8) ? 1.0 : 2.0; }

void apply_method_defaults(Selections& s, Method m) {
    s.method = m;
    if (int fb = fixed_bits(m)) s.bits = fb;
    else if (s.bits == 16 || (m == Method::awq && s.bits != 3 && s.bits != 4)) s.bits = 4;
    switch (m) {
        case Method::fp16: case Method::bf16: case Method::w8a8: case Method::fp8: case Method::quip:
            s.group_size = 0; s.zero_point = false; break;
        case Method::int8: s.group_size = 0; s.zero_point = false; break;
        case Method::awq: if (s.group_size == 0) s.group_size = 128; s.zero_point = true; break;
        case Method::rtn: case Method::gptq: if (s.group_size == 0) s.group_size = 128; break;
        case Method::count: break;
    }
}

void set_tokens_per_day(Selections& s, double total) {
    const double shape = (double)s.prompt_tokens + s.output_tokens;
    const double f_in = shape > 0 ? s.prompt_tokens / shape : 0.5;
    s.input_tokens_per_day = total * f_in;
    s.output_tokens_per_day = total - s.input_tokens_per_day;
}

static std::string num(double v) {
    char b[32];
    std::snprintf(b, sizeof b, "%g", v);
    return b;
}

std::vector<FieldError> validate(const Catalog& c, const Selections& s) {
    std::vector<FieldError> e;
    auto err = [&](const char* f, std::string r) { e.push_back({f, std::move(r)}); };
    const ModelArch* m = c.model(s.model);
    const Hardware* h = c.hw(s.hardware);
    if (!m) err("model", "unknown model '" + s.model + "'");
    if (!h) err("hardware", "unknown hardware '" + s.hardware + "'");
    if (s.method >= Method::count) { err("method", "unknown method"); return e; }
    const char* mn = method_name(s.method);

    // Bits: fixed-width formats take only their width; the others 2/3/4/8.
    if (int fb = fixed_bits(s.method)) {
        if (s.bits != fb)
            err("bits", std::string(mn) + (fb == 8 ? " is an " : " is a ") + std::to_string(fb) + "-bit format; " +
                            std::to_string(s.bits) + " bits is impossible");
    } else {
        bool ok = false;
        for (int b : kBitsChoices) ok |= b == s.bits;
        if (!ok) err("bits", std::string(mn) + " takes 2, 3, 4 or 8 bits, not " + std::to_string(s.bits));
        if (s.method == Method::quip && s.bits == 8)
            err("bits", "quip (QuIP#) is defined for 2, 3 and 4 bits; use int8 or rtn for 8 bits");
        if (s.method == Method::awq && (s.bits == 2 || s.bits == 8))
            err("bits", "awq is published and served at 3 and 4 bits only");
    }

    bool group_ok = false;
    for (int g : kGroupChoices) group_ok |= g == s.group_size;
    if (!group_ok)
        err("group_size", "group size must be 32, 64, 128, 256 or per-channel, not " + std::to_string(s.group_size));
    else if (s.group_size != 0 && (s.method == Method::fp16 || s.method == Method::bf16 || s.method == Method::w8a8 ||
                                   s.method == Method::fp8 || s.method == Method::quip))
        err("group_size", std::string(mn) + " has no group-wise scales; use per-channel");
    if (s.zero_point && !(s.method == Method::rtn || s.method == Method::gptq || s.method == Method::awq))
        err("zero_point", std::string(mn) + " has no zero point (symmetric format)");

    if (s.kv >= KvType::count) err("kv", "unknown KV-cache type");

    if (h) {
        if (s.gpus < 1 || s.gpus > h->max_devices)
            err("gpus", h->name + " takes 1 to " + std::to_string(h->max_devices) + " devices per replica, not " +
                            std::to_string(s.gpus));
        if (s.method == Method::fp8 && h->peak.fp8 <= 0)
            err("method", "fp8 needs FP8 tensor cores; " + h->name + " has none");
        if (s.method == Method::w8a8 && h->peak.int8 <= 0)
            err("method", "w8a8 needs an INT8 matrix engine; " + h->name + " has none");
        if (s.method == Method::bf16 && h->peak.bf16 <= 0)
            err("method", "bf16 needs BF16 matrix support; " + h->name + " has none");
    }
    if (m && s.gpus >= 1 && m->heads % s.gpus != 0)
        err("gpus", m->name + " has " + std::to_string(m->heads) + " attention heads; tensor parallelism over " +
                        std::to_string(s.gpus) + " devices needs a divisor of it");

    if (s.batch < 1 || s.batch > 4096) err("batch", "batch must be 1..4096, not " + std::to_string(s.batch));
    if (s.prompt_tokens < 1) err("prompt_tokens", "prompt must be at least 1 token");
    if (s.output_tokens < 1) err("output_tokens", "output must be at least 1 token");
    if (m && s.prompt_tokens >= 1 && s.output_tokens >= 1 &&
        (long long)s.prompt_tokens + s.output_tokens > m->max_context)
        err("prompt_tokens", "prompt + output = " + std::to_string((long long)s.prompt_tokens + s.output_tokens) +
                                 " tokens exceeds " + m->name + "'s context of " + std::to_string(m->max_context));
    auto day = [&](const char* f, double v) {
        if (!(v >= 0 && v <= 1e13)) err(f, "tokens per day must be 0..1e13, not " + num(v));
    };
    day("input_tokens_per_day", s.input_tokens_per_day);
    day("output_tokens_per_day", s.output_tokens_per_day);
    if (!(s.usd_per_hour >= 0 && s.usd_per_hour <= 1000))
        err("usd_per_hour", "$/hour must be 0 (catalog price) to 1000, not " + num(s.usd_per_hour));
    if (s.calib_samples < 1 || s.calib_samples > 100000) err("calib_samples", "calibration samples must be 1..100000");
    if (s.calib_tokens < 1 || s.calib_tokens > 1000000) err("calib_tokens", "calibration tokens must be 1..1000000");
    for (const std::string& a : s.compare_api)
        if (!c.api(a)) err("compare_api", "unknown API model '" + a + "'");
    return e;
}

}  // namespace qb
