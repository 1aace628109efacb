// rtn.cpp: round to nearest, which is shared/qformat.cpp's quantize_ref itself (on chunks of
// rows in parallel: the same bytes as one call on the whole matrix).
#include "internal.h"

namespace qb::quant {

Result quantize_rtn(const Matrix& W, const QuantSpec& s) {
    const auto t0 = std::chrono::steady_clock::now();
    Result r;
    r.method = Method::rtn;
    r.spec = s;
    if (const std::string e = check_spec(s, W.rows, W.cols); !e.empty()) { r.error = e; return r; }
    r.packed.allocate(W.rows, W.cols, s);
    r.w_hat = Matrix(W.rows, W.cols);
    detail::quantize_rows(W, r.packed);       // quantize_ref, rows split across threads
    detail::dequantize_rows(r.packed, r.w_hat);
    r.seconds = detail::seconds_since(t0);
    return r;
}

}  // namespace qb::quant
