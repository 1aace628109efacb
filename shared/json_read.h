// json_read.h: the one set of type-checked JSON accessors behind every reader of qbench's
// documents (data_json.cpp, results_json.cpp, quantize_json.cpp). Each accessor records a
// DataError (file, JSON pointer, reason) instead of throwing, so a bad document yields a list of
// messages naming the field and never aborts the wasm module (built without exceptions).
// Internal to the qbench_data library: it exposes nlohmann::json, which the public headers do not.
#pragma once
#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "data_json.h"

namespace qb {

struct JsonReader {
    using json = nlohmann::json;
    std::string file;                  // names the document in every error
    std::vector<DataError>* errs;
    size_t before = 0;                 // errs->size() when this document started

    JsonReader(std::string f, std::vector<DataError>* e) : file(std::move(f)), errs(e), before(e->size()) {}

    void fail(const std::string& ptr, const std::string& why);
    bool ok() const { return errs->size() == before; }
    size_t error_count() const { return errs->size() - before; }

    // A member that is present and not null; a missing required one is an error.
    const json* member(const json& o, const char* key, const std::string& ptr, bool required);
    // Each returns false on an error; an absent optional field returns true and leaves *out alone.
    bool str(const json& o, const char* key, const std::string& ptr, std::string* out, bool required = true,
             size_t max_len = 4000);
    bool num(const json& o, const char* key, const std::string& ptr, double* out, double lo, double hi,
             bool required = true);
    bool integer(const json& o, const char* key, const std::string& ptr, int* out, long long lo, long long hi,
                 bool required = true);
    bool integer64(const json& o, const char* key, const std::string& ptr, long long* out, long long lo, long long hi,
                   bool required = true);
    bool boolean(const json& o, const char* key, const std::string& ptr, bool* out, bool required = true);
    const json* object(const json& o, const char* key, const std::string& ptr, bool required = true);
    const json* array(const json& o, const char* key, const std::string& ptr, bool required = true);
    // A lower-case kebab id ([a-z0-9][a-z0-9.-]*, at most 64).
    bool id(const json& o, const std::string& ptr, std::string* out, const char* key = "id");

    // Parses `text` and checks "schema" == schema and "version" == 1.
    bool doc(const std::string& text, const char* schema, json* out);
    // The same, after rejecting a document over the given limits in one O(n) pass that builds
    // nothing (a million '[' or a 10 MB string stop here, before the parser sees them).
    bool doc_limited(const std::string& text, const char* schema, size_t max_bytes, int max_depth, size_t max_string,
                     json* out);
};

// Nesting depth of [ and { outside strings, and the longest string literal.
struct JsonShape { int depth = 0; size_t longest_string = 0; };
JsonShape scan_json(const std::string& text);

// "2026-11-26T14:03:07Z" (optionally with fractional seconds before the Z).
bool is_iso_utc(const std::string& s);
// [a-z0-9][a-z0-9.-]*, at most 64 characters.
bool is_kebab_id(const std::string& s);

}  // namespace qb
