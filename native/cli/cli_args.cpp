#include "cli_args.h"

#include <algorithm>
#include <sstream>

#include "data_json.h"
#include "file_io.h"
#include "numeric.h"

namespace qb::cli {

bool Flags::has(const char* s) const { return std::find(switches.begin(), switches.end(), s) != switches.end(); }

std::string Flags::get(const char* k, const std::string& def) const {
    for (const auto& p : kv)
        if (p.first == k) return p.second;
    return def;
}

bool Flags::given(const char* k) const {
    for (const auto& p : kv)
        if (p.first == k) return true;
    return false;
}

bool parse_flags(int argc, char** argv, int first, const std::vector<std::string>& switches,
                 const std::vector<std::string>& known, Flags* out, std::string* err) {
    auto in = [](const std::vector<std::string>& v, const std::string& s) { return std::find(v.begin(), v.end(), s) != v.end(); };
    for (int i = first; i < argc; ++i) {
        std::string s = argv[i];
        if (s.rfind("--", 0) != 0) {
            out->positional.push_back(s);
            continue;
        }
        s = s.substr(2);
        std::string val;
        const size_t eq = s.find('=');
        const bool has_eq = eq != std::string::npos;
        if (has_eq) { val = s.substr(eq + 1); s = s.substr(0, eq); }
        if (in(switches, s)) {
            if (has_eq) { *err = "--" + s + " takes no value"; return false; }
            out->switches.push_back(s);
            continue;
        }
        if (!in(known, s)) { *err = "unknown flag --" + s + " (see qbench-native help)"; return false; }
        if (!has_eq) {
            if (i + 1 >= argc) { *err = "--" + s + " needs a value"; return false; }
            val = argv[++i];
        }
        out->kv.push_back({s, val});
    }
    return true;
}

int fail(const std::string& why) {
    std::fprintf(stderr, "qbench-native: %s\n", why.c_str());
    return 2;
}

bool load_catalog_dir(const std::string& dir, Catalog* c) {
    DataTexts t = embedded_data();
    if (!dir.empty()) {
        std::string err;
        const std::pair<std::string*, std::string*> files[] = {
            {&t.model_catalog, &t.model_catalog_name}, {&t.hardware, &t.hardware_name},
            {&t.efficiency, &t.efficiency_name}, {&t.accuracy, &t.accuracy_name}};
        const char* names[] = {"model-catalog.json", "hardware.json", "efficiency.json", "accuracy.json"};
        for (int i = 0; i < 4; ++i) {
            *files[i].second = dir + "/" + names[i];
            if (!native::read_text_file(*files[i].second, files[i].first, &err)) { fail(err); return false; }
        }
    }
    std::vector<DataError> errs;
    if (load_catalog(t, c, &errs)) return true;
    for (const DataError& e : errs) std::fprintf(stderr, "qbench-native: %s\n", e.str().c_str());
    return false;
}

bool parse_int_list(const std::string& s, int lo, int hi, std::vector<int>* out) {
    out->clear();
    std::stringstream ss(s);
    long long v;
    for (std::string x; std::getline(ss, x, ',');) {
        if (!parse_int(x, lo, hi, &v)) return false;
        out->push_back((int)v);
    }
    return !out->empty();
}

}  // namespace qb::cli
