// numeric.h: the few numeric helpers the model needs, written so that native (glibc) and wasm
// (musl) builds give bit-identical results: only IEEE basic operations (+ - * / sqrt), never
// libm's log/pow/exp, whose last bits differ between C libraries.
#pragma once
#include <string>

namespace qb {

// log2(x) for x > 0 to ~1e-15 relative, from frexp and an atanh series.
double det_log2(double x);

// Shortest decimal that parses back to exactly x ("%.{p}g" for the smallest p that round-trips).
std::string fmt_double(double x);

// Strict parse of a whole string as a finite double / an integer in [lo, hi]; false otherwise.
bool parse_double(const std::string& s, double* out);
bool parse_int(const std::string& s, long long lo, long long hi, long long* out);

}  // namespace qb
