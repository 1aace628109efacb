// results_check.h: validation of uploaded "qbench.results" version 1 documents (one kernel
// benchmark run) for POST /api/results.
//
// TEMPORARY: to be replaced by shared/results_json (the canonical results reader, being
// written on another branch) once that lands; until then these rules follow the shape agreed
// for it. The server adds one rule of its own on top (storable_run_id), because run_id
// becomes a file name.
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace qb::server {

struct ResultsProblem {
    std::string pointer;   // JSON pointer of the offending value ("" = the document)
    std::string reason;
    std::string str() const { return (pointer.empty() ? std::string("document") : pointer) + ": " + reason; }
};

// Every problem in `doc` (empty when it is a valid qbench.results v1 document), in document
// order, at most `max_problems` of them. Unknown keys are allowed (forward compatible).
std::vector<ResultsProblem> check_results(const nlohmann::json& doc, size_t max_problems = 20);

// run_id rule of the schema: 1..128 characters from [A-Za-z0-9._:-].
bool valid_run_id(std::string_view id);

// Server rule: a valid run_id that is also a safe, visible file name (does not start with '.').
bool storable_run_id(std::string_view id);

}  // namespace qb::server
