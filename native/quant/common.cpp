// common.cpp: the plain parts of quant.h: names, PackedWeights, calibration statistics, the
// storage chain (layer_forward) and the error measures.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <mutex>

#include "internal.h"
#include "la.h"
#include "quant.h"
#include "thread_pool.h"

namespace qb::quant {

const char* method_name(Method m) {
    switch (m) {
        case Method::rtn: return "rtn";
        case Method::gptq: return "gptq";
        case Method::awq: return "awq";
        case Method::quip: return "quip";
    }
    return "?";
}

bool parse_method(const std::string& s, Method* out) {
    for (Method m : {Method::rtn, Method::gptq, Method::awq, Method::quip})
        if (s == method_name(m)) { *out = m; return true; }
    return false;
}

namespace {
QuantizedMatrix header(int rows, int cols, const QuantSpec& s) {
    QuantizedMatrix m;
    m.rows = rows;
    m.cols = cols;
    m.bits = s.bits;
    m.group = s.group_len(cols);
    m.has_zero = s.zero_point;
    return m;
}
}  // namespace

std::string check_spec(const QuantSpec& s, int rows, int cols) {
    if (s.group < 0) return "group must be 0 (per-channel) or a positive multiple of 32";
    const FormatError e = check_format(header(rows, cols, s));
    if (e == FormatError::ok) return "";
    std::string why = format_error_str(e);
    if (e == FormatError::bad_group)
        why += " (cols " + std::to_string(cols) + ", group " + std::to_string(s.group) + ")";
    return why;
}

bool PackedWeights::allocate(int r, int c, const QuantSpec& s) {
    const QuantizedMatrix m = header(r, c, s);
    if (check_format(m) != FormatError::ok) return false;
    rows = r;
    cols = c;
    bits = s.bits;
    group = m.group;
    has_zero = s.zero_point;
    q.assign(q_bytes(m), 0);
    scales.assign((size_t)r * (size_t)groups(m), 0);
    zeros.assign(zero_bytes(m), 0);
    return true;
}

QuantizedMatrix PackedWeights::view() const {
    QuantizedMatrix m;
    m.rows = rows;
    m.cols = cols;
    m.bits = bits;
    m.group = group;
    m.has_zero = has_zero;
    m.q = const_cast<uint8_t*>(q.data());
    m.scales = const_cast<uint16_t*>(scales.data());
    m.zeros = has_zero ? const_cast<uint8_t*>(zeros.data()) : nullptr;
    return m;
}

namespace detail {

namespace {
QuantizedMatrix row_view(const PackedWeights& p, int r0, int r1) {
    QuantizedMatrix m = p.view();
    const size_t G = (size_t)groups(m), rb = row_bytes(m);
    m.rows = r1 - r0;
    m.q += (size_t)r0 * rb;
    m.scales = static_cast<uint16_t*>(m.scales) + (size_t)r0 * G;
    if (m.zeros) m.zeros += (size_t)r0 * G * (size_t)m.bits / 8;   // r0 is a multiple of 8
    return m;
}

template <class F>
void row_chunks(int rows, const F& f) {
    cpu::ThreadPool& pool = cpu::global_pool();
    const int units = (rows + 7) / 8;
    int tasks = std::min(units, pool.size() * 4);
    if (tasks < 1) tasks = 1;
    const int per = (units + tasks - 1) / tasks * 8;
    pool.run((rows + per - 1) / per, [&](int t) { f(t * per, std::min(rows, (t + 1) * per)); });
}
}  // namespace

void quantize_rows(const Matrix& W, PackedWeights& p) {
    row_chunks(W.rows, [&](int r0, int r1) {
        QuantizedMatrix m = row_view(p, r0, r1);
        quantize_ref(W.row(r0), m);
    });
}

void dequantize_rows(const PackedWeights& p, Matrix& out) {
    row_chunks(p.rows, [&](int r0, int r1) { dequantize_ref(row_view(p, r0, r1), out.row(r0)); });
}

}  // namespace detail

void MatrixSource::fill(int i, float* out) const {
    const size_t n = (size_t)chunk_tokens(i) * (size_t)m->cols;
    std::copy_n(m->v.data() + (size_t)i * (size_t)chunk * (size_t)m->cols, n, out);
}

bool amx_bf16_available() { return la::amx::available(); }

Calibration calibrate(const TokenSource& src, int sample_tokens, bool bf16) {
    const auto t0 = std::chrono::steady_clock::now();
    Calibration c;
    const int K = src.cols(), nchunks = src.chunks();
    c.cols = K;
    std::vector<int64_t> start((size_t)nchunks + 1, 0);
    int max_chunk = 0;
    for (int i = 0; i < nchunks; ++i) {
        start[(size_t)i + 1] = start[(size_t)i] + src.chunk_tokens(i);
        max_chunk = std::max(max_chunk, src.chunk_tokens(i));
    }
    const int64_t n = start[(size_t)nchunks];
    c.tokens = n;
    if (n <= 0 || K <= 0) return c;
    if (sample_tokens > n) sample_tokens = (int)n;
    const int64_t stride = sample_tokens > 0 ? n / sample_tokens : 1;
    c.sample = Matrix(sample_tokens, K);

    cpu::ThreadPool& pool = cpu::global_pool();
    const int P = std::min(pool.size(), nchunks);
    bf16 = bf16 && la::amx::available();
    // Accumulator layout: element (i, j), i >= j, at G[j ld + i] (Eigen: column-major lower;
    // AMX: row-major upper with ld rounded up to 32).
    const int ld = bf16 ? (K + 31) / 32 * 32 : K;
    std::vector<std::vector<float>> G((size_t)P);
    std::vector<std::vector<double>> absum((size_t)P);
    std::vector<double> t_src((size_t)P, 0.0), t_acc((size_t)P, 0.0);
    const la::Ops& ops = la::ops();
    // Task t takes chunks t, t + P, ...: a fixed assignment, so the float sums do not depend
    // on which core was faster.
    // Chunks are batched into rank updates of up to kBatch tokens: Eigen's triangular product
    // then reads and writes the K x K accumulator once per batch rather than once per chunk.
    constexpr int kBatch = 4096;
    pool.run(P, [&](int t) {
        std::vector<float>& g = G[(size_t)t];
        std::vector<double>& a = absum[(size_t)t];
        g.assign((size_t)ld * (size_t)ld, 0.0f);
        a.assign((size_t)K, 0.0);
        std::vector<float> buf((size_t)std::max(kBatch, max_chunk) * (size_t)K);
        int have = 0;
        auto flush = [&] {
            const auto t2 = std::chrono::steady_clock::now();
            if (bf16) la::amx::syrk_bf16(have, K, buf.data(), K, g.data(), ld);
            else ops.syrk_lower(have, K, buf.data(), K, g.data());
            t_acc[(size_t)t] += detail::seconds_since(t2);
            have = 0;
        };
        for (int i = t; i < nchunks; i += P) {
            const int T = src.chunk_tokens(i);
            if (have + T > kBatch && have > 0) flush();
            float* x0 = buf.data() + (size_t)have * K;
            const auto t1 = std::chrono::steady_clock::now();
            src.fill(i, x0);
            t_src[(size_t)t] += detail::seconds_since(t1);
            for (int r = 0; r < T; ++r) {
                const float* x = x0 + (size_t)r * K;
                for (int k = 0; k < K; ++k) a[(size_t)k] += std::fabs((double)x[k]);
                const int64_t tok = start[(size_t)i] + r;
                if (sample_tokens > 0 && tok % stride == 0 && tok / stride < sample_tokens)
                    std::copy_n(x, K, c.sample.row((int)(tok / stride)));
            }
            have += T;
        }
        if (have > 0) flush();
    });
    // Sum the per-task partials in double, scale by 2/n, round once. A partial's column-major
    // lower triangle is, read row-major, the upper triangle: rows of H are filled contiguously,
    // then mirrored in 64 x 64 tiles.
    c.H.assign((size_t)K * (size_t)K, 0.0f);
    const double scale = 2.0 / (double)n;
    for (int j = 0; j < K; ++j) {
        float* h = c.H.data() + (size_t)j * K;
        for (int i = j; i < K; ++i) {
            double s = 0;
            for (int t = 0; t < P; ++t) s += (double)G[(size_t)t][(size_t)j * ld + i];
            h[i] = (float)(s * scale);
        }
    }
    for (int bi = 0; bi < K; bi += 64)
        for (int bj = 0; bj <= bi; bj += 64)
            for (int i = bi; i < std::min(K, bi + 64); ++i)
                for (int j = bj; j < std::min(i, bj + 64); ++j) c.H[(size_t)i * K + j] = c.H[(size_t)j * K + i];
    c.abs_mean.assign((size_t)K, 0.0f);
    for (int k = 0; k < K; ++k) {
        double s = 0;
        for (int t = 0; t < P; ++t) s += absum[(size_t)t][(size_t)k];
        c.abs_mean[(size_t)k] = (float)(s / (double)n);
    }
    for (int t = 0; t < P; ++t) {
        c.source_seconds += t_src[(size_t)t];
        c.accumulate_seconds += t_acc[(size_t)t];
    }
    c.bf16 = bf16;
    c.seconds = detail::seconds_since(t0);
    return c;
}

void Details::set(const std::string& k, double v) {
    for (auto& p : values)
        if (p.first == k) { p.second = v; return; }
    values.emplace_back(k, v);
}

double Details::get(const std::string& k, double fallback) const {
    for (const auto& p : values)
        if (p.first == k) return p.second;
    return fallback;
}

Matrix matmul_xwt(const Matrix& X, const Matrix& W) {
    Matrix Y(X.rows, W.rows);
    if (X.rows == 0 || W.rows == 0) return Y;
    la::gemm_abt(X.rows, W.rows, X.cols, 1.0f, X.v.data(), X.cols, W.v.data(), W.cols, 0.0f, Y.v.data(), W.rows);
    return Y;
}

namespace {
double sumsq(const std::vector<float>& v) {
    double s = 0;
    for (float x : v) s += (double)x * (double)x;
    return s;
}
}  // namespace

ErrorStats evaluate(const Matrix& W, const Matrix& w_hat, const Matrix& X, const Matrix* y_ref) {
    ErrorStats e;
    Matrix D(W.rows, W.cols);
    for (size_t i = 0; i < D.v.size(); ++i) D.v[i] = W.v[i] - w_hat.v[i];
    const double w2 = sumsq(W.v), d2 = sumsq(D.v);
    e.weight_rel = w2 > 0 ? std::sqrt(d2 / w2) : 0;
    if (X.rows == 0) return e;
    Matrix Yref;
    if (!y_ref) Yref = matmul_xwt(X, W);
    const double y2 = sumsq(y_ref ? y_ref->v : Yref.v);
    const double e2 = sumsq(matmul_xwt(X, D).v);   // X (W - W_hat)^T: no cancellation of two large outputs
    e.output_rel = y2 > 0 ? std::sqrt(e2 / y2) : 0;
    e.sqnr_db = e2 > 0 ? 10.0 * std::log10(y2 / e2) : 999.0;
    return e;
}

double max_to_rms(const float* a, size_t n) {
    double mx = 0, s = 0;
    for (size_t i = 0; i < n; ++i) {
        const double v = std::fabs((double)a[i]);
        mx = std::max(mx, v);
        s += v * v;
    }
    return s > 0 ? mx / std::sqrt(s / (double)n) : 0;
}

Matrix layer_forward(const Result& r, const Matrix& X) {
    const int K = r.packed.cols, N = r.packed.rows;
    Matrix x(X.rows, K);
    std::vector<float> tmp((size_t)K);
    for (int m = 0; m < X.rows; ++m) {
        const float* src = X.row(m);
        for (int k = 0; k < K; ++k) tmp[(size_t)k] = r.input_scale.empty() ? src[k] : src[k] / r.input_scale[(size_t)k];
        float* dst = x.row(m);
        for (int k = 0; k < K; ++k) dst[k] = r.perm.empty() ? tmp[(size_t)k] : tmp[(size_t)r.perm[(size_t)k]];
        if (r.has_transform) r.v.apply(dst);
    }
    Matrix y(X.rows, N);
    const QuantizedMatrix w = r.packed.view();
    matmul_ref(x.v.data(), X.rows, w, y.v.data());
    if (r.has_transform)
        for (int m = 0; m < X.rows; ++m) r.u.apply_t(y.row(m));
    return y;
}

}  // namespace qb::quant
