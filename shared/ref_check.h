// ref_check.h: the one comparison of a GPU kernel's 16-bit outputs with qformat.h's CPU
// reference, shared by the CUDA bench (native/bench/cuda_bench.cpp) and the GPU tests
// (tests/gpu/gpu_tests.cpp), so a figure in a results file and a test verdict mean the same.
// Header-only host code; no CUDA needed.
#pragma once
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "qformat.h"

namespace qb {

struct RefCheck {
    bool finite = false;       // every output finite (a NaN poison left anywhere means unwritten)
    size_t first_bad = 0;      // index of the first non-finite output when !finite
    double max_rel = 0;        // max |y - ref| / max |ref| over the checked outputs
    bool ok = false;           // finite && max_rel <= tol
};

// y: M x N outputs, FP16 bits (BF16 when bf16). ref: rows.size() x cols.size(), row-major, the
// reference at (rows[i], cols[j]). Every output of Y must be finite; the checked ones set max_rel.
inline RefCheck check_against_ref(const std::vector<uint16_t>& y, int M, int N, const std::vector<int>& rows,
                                  const std::vector<int>& cols, const float* ref, double tol, bool bf16 = false) {
    auto dec = [bf16](uint16_t h) { return bf16 ? f32_from_bits((uint32_t)h << 16) : fp16_to_f32(h); };
    RefCheck r;
    for (size_t i = 0; i < (size_t)M * N; ++i)
        if (!std::isfinite(dec(y[i]))) {
            r.first_bad = i;
            return r;
        }
    r.finite = true;
    double max_ref = 0, max_err = 0;
    for (size_t i = 0; i < rows.size(); ++i)
        for (size_t j = 0; j < cols.size(); ++j) {
            const double yv = dec(y[(size_t)rows[i] * N + cols[j]]), rv = ref[i * cols.size() + j];
            max_ref = std::fmax(max_ref, std::fabs(rv));
            max_err = std::fmax(max_err, std::fabs(yv - rv));
        }
    r.max_rel = max_ref > 0 ? max_err / max_ref : max_err;
    r.ok = r.max_rel <= tol;   // false for a NaN max_rel too
    return r;
}

}  // namespace qb
