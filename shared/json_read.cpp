#include "json_read.h"

#include "numeric.h"

namespace qb {

using json = nlohmann::json;

void JsonReader::fail(const std::string& ptr, const std::string& why) { errs->push_back({file, ptr, why}); }

const json* JsonReader::member(const json& o, const char* key, const std::string& ptr, bool required) {
    auto it = o.find(key);
    if (it == o.end() || it->is_null()) {
        if (required) fail(ptr + "/" + key, "missing required field");
        return nullptr;
    }
    return &*it;
}

bool JsonReader::str(const json& o, const char* key, const std::string& ptr, std::string* out, bool required, size_t max_len) {
    const json* v = member(o, key, ptr, required);
    if (!v) return !required;
    if (!v->is_string()) { fail(ptr + "/" + key, "must be a string"); return false; }
    const std::string& s = v->get_ref<const std::string&>();
    if (s.size() > max_len) { fail(ptr + "/" + key, "longer than " + std::to_string(max_len) + " characters"); return false; }
    *out = s;
    return true;
}

bool JsonReader::num(const json& o, const char* key, const std::string& ptr, double* out, double lo, double hi, bool required) {
    const json* v = member(o, key, ptr, required);
    if (!v) return !required;
    if (!v->is_number()) { fail(ptr + "/" + key, "must be a number"); return false; }
    const double d = v->get<double>();
    // !(in range) also refuses NaN; the parser itself refuses NaN/Infinity literals, but a
    // number like 1e999 parses to infinity and must be refused here.
    if (!(d >= lo && d <= hi)) {
        fail(ptr + "/" + key, fmt_double(d) + " is out of range " + fmt_double(lo) + ".." + fmt_double(hi));
        return false;
    }
    *out = d;
    return true;
}

bool JsonReader::integer64(const json& o, const char* key, const std::string& ptr, long long* out, long long lo, long long hi,
                           bool required) {
    const json* v = member(o, key, ptr, required);
    if (!v) return !required;
    if (!v->is_number_integer()) { fail(ptr + "/" + key, "must be an integer"); return false; }
    // An unsigned value above INT64_MAX would wrap negative through get<long long>().
    const bool huge = v->is_number_unsigned() && v->get<unsigned long long>() > 0x7fffffffffffffffull;
    const long long d = huge ? 0 : v->get<long long>();
    if (huge || d < lo || d > hi) {
        fail(ptr + "/" + key, (huge ? v->dump() : std::to_string(d)) + " is out of range " + std::to_string(lo) + ".." + std::to_string(hi));
        return false;
    }
    *out = d;
    return true;
}

bool JsonReader::integer(const json& o, const char* key, const std::string& ptr, int* out, long long lo, long long hi, bool required) {
    long long d = *out;   // unchanged when an optional field is absent
    if (!integer64(o, key, ptr, &d, lo, hi, required)) return false;
    *out = (int)d;
    return true;
}

bool JsonReader::boolean(const json& o, const char* key, const std::string& ptr, bool* out, bool required) {
    const json* v = member(o, key, ptr, required);
    if (!v) return !required;
    if (!v->is_boolean()) { fail(ptr + "/" + key, "must be true or false"); return false; }
    *out = v->get<bool>();
    return true;
}

const json* JsonReader::object(const json& o, const char* key, const std::string& ptr, bool required) {
    const json* v = member(o, key, ptr, required);
    if (!v) return nullptr;
    if (!v->is_object()) { fail(ptr + "/" + key, "must be an object"); return nullptr; }
    return v;
}

const json* JsonReader::array(const json& o, const char* key, const std::string& ptr, bool required) {
    const json* v = member(o, key, ptr, required);
    if (!v) return nullptr;
    if (!v->is_array()) { fail(ptr + "/" + key, "must be an array"); return nullptr; }
    return v;
}

bool JsonReader::id(const json& o, const std::string& ptr, std::string* out, const char* key) {
    if (!str(o, key, ptr, out)) return false;
    if (!is_kebab_id(*out)) { fail(ptr + "/" + key, "'" + *out + "' is not a lower-case kebab id"); return false; }
    return true;
}

bool JsonReader::doc(const std::string& text, const char* schema, json* out) {
    *out = json::parse(text, nullptr, false);
    if (out->is_discarded()) { fail("", "malformed JSON (does not parse)"); return false; }
    if (!out->is_object()) { fail("", "top level must be an object"); return false; }
    std::string s;
    int v = 0;
    if (!str(*out, "schema", "", &s, true, 64)) return false;
    if (s != schema) { fail("/schema", "is '" + s + "', expected '" + schema + "'"); return false; }
    if (!integer(*out, "version", "", &v, 1, 1000)) return false;
    if (v != 1) { fail("/version", "version " + std::to_string(v) + " is not supported (this qbench reads 1)"); return false; }
    return true;
}

bool JsonReader::doc_limited(const std::string& text, const char* schema, size_t max_bytes, int max_depth, size_t max_string,
                             json* out) {
    if (text.size() > max_bytes) {
        fail("", "larger than " + (max_bytes >= (1u << 20) ? std::to_string(max_bytes >> 20) + " MB" : std::to_string(max_bytes) + " bytes"));
        return false;
    }
    const JsonShape sh = scan_json(text);
    if (sh.depth > max_depth) { fail("", "nested deeper than " + std::to_string(max_depth) + " levels"); return false; }
    if (sh.longest_string > max_string) {
        fail("", "has a string longer than " + std::to_string(max_string) + " bytes");
        return false;
    }
    return doc(text, schema, out);
}

JsonShape scan_json(const std::string& t) {
    JsonShape s;
    int d = 0;
    bool in_str = false, esc = false;
    size_t start = 0;
    for (size_t i = 0; i < t.size(); ++i) {
        const char c = t[i];
        if (in_str) {
            if (esc) esc = false;
            else if (c == '\\') esc = true;
            else if (c == '"') {
                in_str = false;
                if (i - start > s.longest_string) s.longest_string = i - start;
            }
            continue;
        }
        if (c == '"') { in_str = true; start = i + 1; }
        else if (c == '[' || c == '{') s.depth = ++d > s.depth ? d : s.depth;
        else if (c == ']' || c == '}') --d;
    }
    if (in_str && t.size() - start > s.longest_string) s.longest_string = t.size() - start;
    return s;
}

bool is_iso_utc(const std::string& s) {
    if (s.size() < 20 || s.size() > 32 || s.back() != 'Z') return false;
    const char* pat = "dddd-dd-ddTdd:dd:dd";
    for (size_t i = 0; i < 19; ++i) {
        const char c = s[i];
        if (pat[i] == 'd' ? !(c >= '0' && c <= '9') : c != pat[i]) return false;
    }
    if (s.size() > 20) {
        if (s[19] != '.') return false;
        for (size_t i = 20; i + 1 < s.size(); ++i)
            if (!(s[i] >= '0' && s[i] <= '9')) return false;
    }
    const int mon = (s[5] - '0') * 10 + (s[6] - '0'), day = (s[8] - '0') * 10 + (s[9] - '0');
    const int hh = (s[11] - '0') * 10 + (s[12] - '0'), mm = (s[14] - '0') * 10 + (s[15] - '0'), ss = (s[17] - '0') * 10 + (s[18] - '0');
    return mon >= 1 && mon <= 12 && day >= 1 && day <= 31 && hh <= 23 && mm <= 59 && ss <= 60;
}

bool is_kebab_id(const std::string& s) {
    auto alnum = [](char ch) { return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9'); };
    bool ok = !s.empty() && s.size() <= 64 && alnum(s[0]);
    for (char ch : s) ok &= alnum(ch) || ch == '-' || ch == '.';
    return ok;
}

}  // namespace qb
