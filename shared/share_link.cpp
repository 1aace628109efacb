#include "share_link.h"

#include "numeric.h"

namespace qb {

static constexpr size_t kMaxLink = 4096;

// Values are ids, numbers and comma lists; anything else (notably '+', which decodes as a space,
// as in fmt_double's "1e+07") is %-escaped.
static std::string pct_encode(const std::string& v) {
    static const char hex[] = "0123456789ABCDEF";
    std::string o;
    for (char ch : v) {
        const unsigned char u = (unsigned char)ch;
        if ((u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') || (u >= '0' && u <= '9') || u == '-' || u == '.' || u == '_' ||
            u == '~' || u == ',')
            o.push_back(ch);
        else {
            o.push_back('%');
            o.push_back(hex[u >> 4]);
            o.push_back(hex[u & 15]);
        }
    }
    return o;
}

std::string encode_link(const Selections& s) {
    const Selections d;
    std::string o = "v=" + std::to_string(kLinkVersion);
    auto put = [&](const char* k, const std::string& v) { o += std::string("&") + k + "=" + pct_encode(v); };
    // Bits, group and zero point that decode_link would take from the method's defaults (when the
    // link names a method) are left out; the others are written.
    Selections t = d;
    if (s.method != d.method) apply_method_defaults(t, s.method);
    if (s.model != d.model) put("m", s.model);
    if (s.method != d.method) put("q", method_name(s.method));
    if (s.bits != t.bits) put("b", std::to_string(s.bits));
    if (s.group_size != t.group_size) put("g", std::to_string(s.group_size));
    if (s.zero_point != t.zero_point) put("z", s.zero_point ? "1" : "0");
    if (s.act_order != d.act_order) put("ao", s.act_order ? "1" : "0");
    if (s.kv != d.kv) put("kv", kv_name(s.kv));
    if (s.hardware != d.hardware) put("hw", s.hardware);
    if (s.gpus != d.gpus) put("n", std::to_string(s.gpus));
    if (s.batch != d.batch) put("bs", std::to_string(s.batch));
    if (s.prompt_tokens != d.prompt_tokens) put("pt", std::to_string(s.prompt_tokens));
    if (s.output_tokens != d.output_tokens) put("ot", std::to_string(s.output_tokens));
    if (s.input_tokens_per_day != d.input_tokens_per_day) put("ti", fmt_double(s.input_tokens_per_day));
    if (s.output_tokens_per_day != d.output_tokens_per_day) put("to", fmt_double(s.output_tokens_per_day));
    if (s.usd_per_hour != d.usd_per_hour) put("usd", fmt_double(s.usd_per_hour));
    if (s.calib_samples != d.calib_samples) put("cs", std::to_string(s.calib_samples));
    if (s.calib_tokens != d.calib_tokens) put("ct", std::to_string(s.calib_tokens));
    if (s.compare_api != d.compare_api) {
        std::string a;
        for (const std::string& x : s.compare_api) a += (a.empty() ? "" : ",") + x;
        put("api", a);
    }
    return o;
}

static bool pct_decode(const std::string& in, std::string* out) {
    out->clear();
    for (size_t i = 0; i < in.size(); ++i) {
        char ch = in[i];
        if (ch == '%') {
            auto hex = [](char h) { return h >= '0' && h <= '9' ? h - '0' : h >= 'a' && h <= 'f' ? h - 'a' + 10
                                                                         : h >= 'A' && h <= 'F' ? h - 'A' + 10 : -1; };
            if (i + 2 >= in.size()) return false;
            const int a = hex(in[i + 1]), b = hex(in[i + 2]);
            if (a < 0 || b < 0) return false;
            ch = (char)(a * 16 + b);
            i += 2;
        } else if (ch == '+') {
            ch = ' ';
        }
        if ((unsigned char)ch < 0x20 || (unsigned char)ch >= 0x7f) return false;   // ids and numbers are ASCII
        out->push_back(ch);
    }
    return true;
}

static std::string clip(const std::string& v) { return v.size() > 40 ? v.substr(0, 40) + "..." : v; }

LinkDecode decode_link(const Catalog& c, const std::string& link) {
    LinkDecode r;
    Selections& s = r.sel;
    const Selections d;
    auto bad = [&](const std::string& f, const std::string& why) { r.problems.push_back({f, why}); };
    if (link.size() > kMaxLink) {
        bad("link", "longer than " + std::to_string(kMaxLink) + " characters; defaults used");
        return r;
    }
    std::string body = link;
    if (size_t h = body.find('#'); h != std::string::npos) body = body.substr(h + 1);
    else if (size_t q = body.find('?'); q != std::string::npos) body = body.substr(q + 1);
    if (body.empty()) return r;

    bool have_version = false, have_method = false;
    bool given_b = false, given_g = false, given_z = false;
    std::vector<std::string> seen;
    size_t pos = 0;
    while (pos <= body.size()) {
        size_t amp = body.find('&', pos);
        if (amp == std::string::npos) amp = body.size();
        const std::string part = body.substr(pos, amp - pos);
        pos = amp + 1;
        if (part.empty()) continue;
        const size_t eq = part.find('=');
        std::string key, val;
        if (eq == std::string::npos || !pct_decode(part.substr(0, eq), &key) || !pct_decode(part.substr(eq + 1), &val)) {
            bad(clip(part), "not a key=value pair with valid %-escapes; ignored");
            continue;
        }
        bool dup = false;
        for (const std::string& k : seen) dup |= k == key;
        if (dup) { bad(clip(key), "given twice; the first value kept"); continue; }
        seen.push_back(key);

        long long iv = 0;
        double dv = 0;
        auto int_field = [&](const char* name, int* dst, int def, long long lo, long long hi) {
            if (parse_int(val, lo, hi, &iv)) *dst = (int)iv;
            else { *dst = def; bad(name, "'" + clip(val) + "' is not an integer in " + std::to_string(lo) + ".." + std::to_string(hi) + "; default used"); }
        };
        auto bool_field = [&](const char* name, bool* dst, bool def) {
            if (val == "0" || val == "1") *dst = val == "1";
            else { *dst = def; bad(name, "'" + clip(val) + "' is not 0 or 1; default used"); }
        };
        auto dbl_field = [&](const char* name, double* dst, double def, double lo, double hi) {
            if (parse_double(val, &dv) && dv >= lo && dv <= hi) *dst = dv;
            else { *dst = def; bad(name, "'" + clip(val) + "' is not a number in range; default used"); }
        };
        if (key == "v") {
            have_version = true;
            if (!parse_int(val, 1, 1000000, &iv)) bad("v", "version '" + clip(val) + "' is not a number; read as version 1");
            else if (iv != kLinkVersion)
                bad("v", "link version " + val + " is not supported by this qbench (version " + std::to_string(kLinkVersion) +
                             "); fields read as version 1");
        } else if (key == "m") {
            if (c.model(val)) s.model = val; else bad("model", "unknown model '" + clip(val) + "'; default used");
        } else if (key == "q") {
            Method mm;
            if (parse_method(val, &mm)) { s.method = mm; have_method = true; } else bad("method", "unknown method '" + clip(val) + "'; default used");
        } else if (key == "b") { given_b = true; int_field("bits", &s.bits, d.bits, 1, 16); }
        else if (key == "g") { given_g = true; int_field("group_size", &s.group_size, d.group_size, 0, 1 << 20); }
        else if (key == "z") { given_z = true; bool_field("zero_point", &s.zero_point, d.zero_point); }
        else if (key == "ao") bool_field("act_order", &s.act_order, d.act_order);
        else if (key == "kv") {
            KvType k;
            if (parse_kv(val, &k)) s.kv = k; else bad("kv", "unknown KV-cache type '" + clip(val) + "'; default used");
        } else if (key == "hw") {
            if (c.hw(val)) s.hardware = val; else bad("hardware", "unknown hardware '" + clip(val) + "'; default used");
        } else if (key == "n") int_field("gpus", &s.gpus, d.gpus, 1, 64);
        else if (key == "bs") int_field("batch", &s.batch, d.batch, 1, 4096);
        else if (key == "pt") int_field("prompt_tokens", &s.prompt_tokens, d.prompt_tokens, 1, 10000000);
        else if (key == "ot") int_field("output_tokens", &s.output_tokens, d.output_tokens, 1, 10000000);
        else if (key == "ti") dbl_field("input_tokens_per_day", &s.input_tokens_per_day, d.input_tokens_per_day, 0, 1e13);
        else if (key == "to") dbl_field("output_tokens_per_day", &s.output_tokens_per_day, d.output_tokens_per_day, 0, 1e13);
        else if (key == "usd") dbl_field("usd_per_hour", &s.usd_per_hour, d.usd_per_hour, 0, 1000);
        else if (key == "cs") int_field("calib_samples", &s.calib_samples, d.calib_samples, 1, 100000);
        else if (key == "ct") int_field("calib_tokens", &s.calib_tokens, d.calib_tokens, 1, 1000000);
        else if (key == "api") {
            s.compare_api.clear();
            size_t p = 0;
            while (p <= val.size()) {
                size_t comma = val.find(',', p);
                if (comma == std::string::npos) comma = val.size();
                const std::string id = val.substr(p, comma - p);
                p = comma + 1;
                if (id.empty()) continue;
                if (!c.api(id)) bad("compare_api", "unknown API model '" + clip(id) + "'; left out");
                else if (s.compare_api.size() < 16) s.compare_api.push_back(id);
            }
        } else {
            bad(clip(key), "unknown field; ignored");
        }
    }
    if (!have_version) bad("v", "no version; read as version 1");

    // Bits, group and zero point the link leaves out follow the method (a hand-written
    // "q=fp8" means fp8's 8 bits, not the baseline's 4).
    const Selections given = s;
    auto method_defaults = [&](Method m) {
        s.method = m;
        Selections t = d;   // the method's defaults from the baseline, not from whatever s holds
        apply_method_defaults(t, m);
        s.bits = given_b ? given.bits : t.bits;
        s.group_size = given_g ? given.group_size : t.group_size;
        s.zero_point = given_z ? given.zero_point : t.zero_point;
    };
    if (have_method) method_defaults(s.method);

    // Fields that are fine alone but impossible together (fp8 on an A100, 3-bit fp8, ...):
    // reset each field named by validate() to its default, then to the method's defaults.
    for (int pass = 0; pass < 3; ++pass) {
        const std::vector<FieldError> errs = validate(c, s);
        if (errs.empty()) break;
        for (const FieldError& e : errs) {
            bad(e.field, e.reason + "; default used");
            if (e.field == "model") s.model = d.model;
            else if (e.field == "hardware") s.hardware = d.hardware;
            else if (e.field == "method") { given_b = given_g = given_z = false; method_defaults(d.method); }
            else if (e.field == "bits" || e.field == "group_size" || e.field == "zero_point") {
                // Only the field named goes back to the method's default: the link's other choices stay.
                Selections t = d;
                apply_method_defaults(t, s.method);
                if (e.field == "bits") s.bits = t.bits;
                else if (e.field == "group_size") s.group_size = t.group_size;
                else s.zero_point = t.zero_point;
            }
            else if (e.field == "gpus") s.gpus = d.gpus;
            else if (e.field == "batch") s.batch = d.batch;
            else if (e.field == "prompt_tokens" || e.field == "output_tokens") {
                s.prompt_tokens = d.prompt_tokens;
                s.output_tokens = d.output_tokens;
            } else if (e.field == "compare_api") s.compare_api = d.compare_api;
            else s = d;   // anything else: start over from the defaults rather than loop
        }
        if (pass == 1) apply_method_defaults(s, s.method);
    }
    if (!validate(c, s).empty()) {
        bad("link", "no consistent selection could be kept; all defaults used");
        s = d;
    }
    return r;
}

}  // namespace qb
