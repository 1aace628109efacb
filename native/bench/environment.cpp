#include "environment.h"

#include <sys/utsname.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <string>

#include "build_commit.h"   // generated at build time (cmake/build_commit.cmake)
#include "cpu_kernels.h"

#ifndef QB_SOURCE_DIR
#define QB_SOURCE_DIR "."
#endif

namespace qb::native {

namespace {

std::string trim(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ' || s.back() == '\t')) s.pop_back();
    size_t i = 0;
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
    return s.substr(i);
}


std::string cpuinfo_field(const std::string& key) {
    std::ifstream f("/proc/cpuinfo");
    for (std::string line; std::getline(f, line);)
        if (line.rfind(key, 0) == 0) {
            const size_t c = line.find(':');
            if (c != std::string::npos) return trim(line.substr(c + 1));
        }
    return "";
}

}  // namespace

const char* build_commit() { return QB_BUILD_COMMIT; }

std::string cpu_model() {
    const std::string m = cpuinfo_field("model name");
    return m.empty() ? "unknown" : m;
}

std::string utc_timestamp() {
    const std::time_t t = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char b[32];
    std::strftime(b, sizeof b, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return b;
}

double load_average() {
    std::ifstream f("/proc/loadavg");
    double v = -1;
    if (f >> v) return v;
    return -1;
}

size_t llc_bytes() {
    long v = -1;
#ifdef _SC_LEVEL3_CACHE_SIZE
    v = sysconf(_SC_LEVEL3_CACHE_SIZE);
    if (v <= 0) v = sysconf(_SC_LEVEL2_CACHE_SIZE);
#endif
    return v > 0 ? (size_t)v : 0;
}

ResultsEnvironment capture_environment(int threads, const std::string& hardware_id) {
    ResultsEnvironment e;
    char host[256] = {};
    if (gethostname(host, sizeof host - 1) == 0) e.hostname = host;
    if (e.hostname.empty()) e.hostname = "unknown";
    e.cpu_model = cpu_model();
    const long n = sysconf(_SC_NPROCESSORS_ONLN);
    e.cores = n > 0 ? (int)n : 1;
    e.threads = threads;
    e.isa = cpu::cpu_feature_list();
#if defined(__clang__)
    e.compiler = std::string("clang ") + __clang_version__;
#elif defined(__GNUC__)
    e.compiler = std::string("g++ ") + __VERSION__;
#else
    e.compiler = "unknown";
#endif
    struct utsname u{};
    if (uname(&u) == 0) e.os = std::string(u.sysname) + " " + u.release + " " + u.machine;
    std::ifstream osr("/etc/os-release");
    for (std::string line; std::getline(osr, line);)
        if (line.rfind("PRETTY_NAME=", 0) == 0) {
            std::string v = line.substr(12);
            if (v.size() >= 2 && v.front() == '"') v = v.substr(1, v.size() - 2);
            e.os = v + " (" + e.os + ")";
        }
    e.commit = build_commit();
    e.timestamp = utc_timestamp();
    e.hardware_id = hardware_id;
    const std::string mhz = cpuinfo_field("cpu MHz");
    if (!mhz.empty()) e.cpu_mhz = std::atof(mhz.c_str());
    e.load_avg = load_average();
    return e;
}

}  // namespace qb::native
