// rtn.cpp: round to nearest, which is shared/qformat.cpp's quantize_ref itself.
#include <chrono>

#include "quant.h"

namespace qb::quant {

Result quantize_rtn(const Matrix& W, const QuantSpec& s) {
    const auto t0 = std::chrono::steady_clock::now();
    Result r;
    r.method = Method::rtn;
    r.spec = s;
    if (const std::string e = check_spec(s, W.rows, W.cols); !e.empty()) { r.error = e; return r; }
    r.packed.allocate(W.rows, W.cols, s);
    const QuantizedMatrix m = r.packed.view();
    QuantizedMatrix mw = m;
    quantize_ref(W.v.data(), mw);
    r.w_hat = Matrix(W.rows, W.cols);
    dequantize_ref(m, r.w_hat.v.data());
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return r;
}

}  // namespace qb::quant
