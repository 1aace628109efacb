#include "numeric.h"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace qb {

double det_log2(double x) {
    if (!(x > 0)) return 0;
    int e = 0;
    double m = std::frexp(x, &e);   // x = m 2^e, m in [0.5, 1): exact on every platform
    if (m < 0.70710678118654752) { m *= 2; e -= 1; }
    // ln(m) = 2 atanh(z), z = (m-1)/(m+1), |z| <= 0.172: the series converges fast.
    const double z = (m - 1) / (m + 1), z2 = z * z;
    double term = z, sum = 0;
    for (int k = 1; k < 60; k += 2) {
        sum += term / k;
        term *= z2;
    }
    return e + 2 * sum / 0.69314718055994531;
}

std::string fmt_double(double x) {
    char b[40];
    for (int p = 1; p <= 17; ++p) {
        std::snprintf(b, sizeof b, "%.*g", p, x);
        if (std::strtod(b, nullptr) == x) break;
    }
    return b;
}

bool parse_double(const std::string& s, double* out) {
    if (s.empty() || s.size() > 64) return false;
    const char* p = s.c_str();
    char* end = nullptr;
    errno = 0;
    const double v = std::strtod(p, &end);
    if (end != p + s.size() || errno == ERANGE || !std::isfinite(v)) return false;
    for (char ch : s)   // no hex floats, inf or nan spellings, no spaces
        if (!((ch >= '0' && ch <= '9') || ch == '.' || ch == '-' || ch == '+' || ch == 'e' || ch == 'E')) return false;
    *out = v;
    return true;
}

bool parse_int(const std::string& s, long long lo, long long hi, long long* out) {
    if (s.empty() || s.size() > 18) return false;   // 18 digits cannot overflow
    size_t i = s[0] == '-' ? 1 : 0;
    if (i == s.size()) return false;
    long long v = 0;
    for (; i < s.size(); ++i) {
        if (s[i] < '0' || s[i] > '9') return false;
        v = v * 10 + (s[i] - '0');
    }
    if (s[0] == '-') v = -v;
    if (v < lo || v > hi) return false;
    *out = v;
    return true;
}

}  // namespace qb
