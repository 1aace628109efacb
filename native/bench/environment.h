// environment.h: what a results file records about the machine a run used (hostname, CPU,
// cores, ISA, compiler, OS, commit, UTC time, load).
#pragma once
#include <string>

#include "results_json.h"

namespace qb::native {

// threads: the kernels' thread count; hardware_id: empty = null.
ResultsEnvironment capture_environment(int threads, const std::string& hardware_id);
// git HEAD of the tree this binary was built from ("-dirty" with local changes, "unknown"
// without git), stamped at build time so a copied binary reports its own sources.
const char* build_commit();
// /proc/cpuinfo's "model name", "unknown" when absent.
std::string cpu_model();
// UTC now, "2026-11-26T14:03:07Z".
std::string utc_timestamp();
// The 1-minute load average (/proc/loadavg), -1 if unknown. Anything well above 0 means other
// work shared the CPU during the run.
double load_average();
// Last-level cache size in bytes (0 if unknown).
size_t llc_bytes();

}  // namespace qb::native
