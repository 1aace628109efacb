// cli_args.h: a tiny flag parser shared by the kernel commands (--flag value, --flag=value,
// switches, positional arguments), and the catalog loader they need.
#pragma once
#include <cstdio>
#include <string>
#include <vector>

#include "catalog.h"

namespace qb::cli {

struct Flags {
    std::vector<std::pair<std::string, std::string>> kv;
    std::vector<std::string> switches, positional;
    bool has(const char* s) const;
    std::string get(const char* k, const std::string& def = "") const;
    bool given(const char* k) const;
};

// switches: names that take no value. known: every accepted flag (others are an error).
bool parse_flags(int argc, char** argv, int first, const std::vector<std::string>& switches,
                 const std::vector<std::string>& known, Flags* out, std::string* err);

int fail(const std::string& why);   // prints "qbench-native: why", returns 2

// The four catalog files from dir, or the built-in copy when dir is empty.
bool load_catalog_dir(const std::string& dir, Catalog* c);

// "1,4,16" -> ints in [lo, hi].
bool parse_int_list(const std::string& s, int lo, int hi, std::vector<int>* out);

}  // namespace qb::cli
