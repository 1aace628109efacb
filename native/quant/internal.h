// internal.h: what the quantizer files share (not part of the public API).
#pragma once
#include <chrono>
#include <vector>

#include "quant.h"

namespace qb::quant::detail {

// GPTQ's fasterquant on (W, H): dead columns, act-order, dampening, the column loop; the
// result's packed weights, W_hat and perm are in W's basis. H is taken by value (modified).
Result gptq_solve(const Matrix& W, std::vector<float> H, const QuantSpec& s, const GptqOptions& o);

// quantize_ref / dequantize_ref over chunks of rows on the thread pool. Each chunk is a
// QuantizedMatrix view of whole rows starting at a multiple of 8 rows, so its zero stream
// starts on a byte boundary and chunks never share a byte: the bytes are exactly those of one
// quantize_ref call on the whole matrix.
void quantize_rows(const Matrix& W, PackedWeights& p);
void dequantize_rows(const PackedWeights& p, Matrix& out);

inline double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace qb::quant::detail
