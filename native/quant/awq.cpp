// awq.cpp: AWQ as mit-han-lab/llm-awq does it for one linear layer (auto_scale.py's
// _search_module_scale, then auto_clip.py's auto_clip_layer on the scaled layer):
//
//   s_x = mean |x| per input channel (get_act_scale)
//   for alpha in {0, 1/20, ..., 19/20}:
//       s = max(s_x^alpha, 1e-4);  s = s / sqrt(max(s) min(s))
//       W_hat = Q(W diag(s)) diag(1/s);  loss = mean((X W^T - X W_hat^T)^2)
//   keep the alpha with the least loss (alpha = 0 is plain RTN, so AWQ never loses to RTN on
//   the tokens it measures);
//   then on W' = W diag(s) with inputs X' = X diag(1/s), per (row, group):
//       for i in 0..9: m = max|w'_g| (1 - i/20); loss_i = mean_t (x'_g . (Q(clamp(w'_g, -m, m)) - w'_g))^2
//       keep the m with the least loss (strictly less: ties keep the larger m)
//   packed = Q(clamp(W')) (quantize_ref), input_scale = s: the previous op (RMSNorm weight,
//   or the previous linear layer's rows) divides its output by s; W_hat = dequant(packed) diag(1/s).
//
// Departures (docs/quantizers.md): Q is qformat's grid (the packed format's), not AWQ's
// pseudo_quantize_tensor (whose asymmetric range is [min, max] rather than [min(0, min),
// max(0, max)]); the scale search measures the loss on Calibration::sample (a strided subset
// of the calibration tokens, 512 by default) instead of every token, because on two CPU cores
// 20 full passes over 65k tokens of a 4096 x 4096 layer would take minutes; the clip search
// uses every calibration token, exactly, through the Gram blocks G_g = X'_g^T X'_g / n = the
// diagonal blocks of diag(1/s) (H / 2) diag(1/s), where the reference subsamples 512 tokens;
// the reference keeps q_proj/k_proj unclipped (the qk product makes the layer loss a poor
// proxy); per layer, qbench clips every layer it is given. The scales are searched per layer,
// where the reference shares one s between the layers reading the same input (q, k, v).
#include <algorithm>
#include <cmath>
#include <limits>

#include "grid.h"
#include "internal.h"
#include "la.h"
#include "thread_pool.h"

namespace qb::quant {

namespace {

// Loss of W_hat on the sample: mean over (token, row) of (X W^T - X W_hat^T)^2.
double sample_loss(const Matrix& X, const Matrix& Yref, const Matrix& w_hat, Matrix& scratch) {
    scratch.v = Yref.v;
    la::gemm_abt(X.rows, w_hat.rows, X.cols, 1.0f, X.v.data(), X.cols, w_hat.v.data(), w_hat.cols, -1.0f, scratch.v.data(), w_hat.rows);
    double s = 0;
    for (float e : scratch.v) s += (double)e * (double)e;
    return s / (double)scratch.v.size();
}

template <class F>
void parallel_rows(int n, const F& f) {
    cpu::ThreadPool& pool = cpu::global_pool();
    const int tasks = std::max(1, std::min(pool.size() * 4, n / 16));
    const int per = (n + tasks - 1) / tasks;
    pool.run((n + per - 1) / per, [&](int t) { f(t * per, std::min(n, (t + 1) * per)); });
}

}  // namespace

Result quantize_awq(const Matrix& W, const Calibration& c, const QuantSpec& s, const AwqOptions& o) {
    const auto t0 = std::chrono::steady_clock::now();
    Result r;
    r.method = Method::awq;
    r.spec = s;
    const int N = W.rows, K = W.cols;
    if (const std::string e = check_spec(s, N, K); !e.empty()) { r.error = e; return r; }
    if (c.cols != K || c.abs_mean.size() != (size_t)K || c.H.size() != (size_t)K * K) { r.error = "calibration has another width than the layer"; return r; }
    if (c.sample.rows < 1) { r.error = "AWQ needs calibration sample tokens"; return r; }
    if (o.grid < 1 || o.clip_grid < 1 || !(o.max_shrink >= 0 && o.max_shrink < 1)) { r.error = "bad AWQ grid options"; return r; }
    const int gl = s.group_len(K), G = K / gl;
    const Matrix& X = c.sample;
    const Matrix Yref = matmul_xwt(X, W);

    // ---- auto_scale ----
    Matrix Ws(N, K), Wq(N, K), scratch;
    std::vector<float> sc((size_t)K), best_s((size_t)K, 1.0f);
    double best = std::numeric_limits<double>::infinity(), loss0 = 0;
    int best_i = -1;
    for (int i = 0; i < o.grid; ++i) {
        const double alpha = (double)i / o.grid;
        float mx = 0, mn = std::numeric_limits<float>::infinity();
        for (int k = 0; k < K; ++k) {
            float v = (float)std::pow((double)c.abs_mean[(size_t)k], alpha);
            v = std::max(v, 1e-4f);
            sc[(size_t)k] = v;
            mx = std::max(mx, v);
            mn = std::min(mn, v);
        }
        const float norm = std::sqrt(mx * mn);
        for (float& v : sc) v /= norm;
        parallel_rows(N, [&](int n0, int n1) {
            for (int n = n0; n < n1; ++n)
                for (int k = 0; k < K; ++k) Ws.at(n, k) = W.at(n, k) * sc[(size_t)k];
            la::ops().fake_quant_rows(Ws.row(n0), n1 - n0, K, s.bits, s.zero_point, gl, Wq.row(n0));
            for (int n = n0; n < n1; ++n)
                for (int k = 0; k < K; ++k) Wq.at(n, k) /= sc[(size_t)k];
        });
        const double loss = sample_loss(X, Yref, Wq, scratch);
        if (i == 0) loss0 = loss;
        if (loss < best) {
            best = loss;
            best_i = i;
            best_s = sc;
        }
    }
    if (best_i < 0) { r.error = "AWQ scale search found no finite loss (non-finite weights or activations?)"; return r; }
    for (int n = 0; n < N; ++n)
        for (int k = 0; k < K; ++k) Ws.at(n, k) = W.at(n, k) * best_s[(size_t)k];

    const double scale_s = detail::seconds_since(t0);
    const auto t_clip = std::chrono::steady_clock::now();
    // ---- auto_clip on W' = W diag(s), X' = X diag(1/s) ----
    std::vector<float> maxv((size_t)N * G);
    for (int n = 0; n < N; ++n)
        for (int g = 0; g < G; ++g) {
            float m = 0;
            for (int i = 0; i < gl; ++i) m = std::max(m, std::fabs(Ws.at(n, g * gl + i)));
            maxv[(size_t)n * G + g] = m;
        }
    double shrink_sum = 0;
    const int steps = (int)(o.max_shrink * o.clip_grid);
    // The loss of a candidate is d^T G_g d with d = Q(clamp(w')) - w' on the group. With the
    // Gram blocks (every calibration token) that costs group_len multiply-adds per weight; for
    // wide groups (per-channel) it is cheaper to run the sample tokens directly, as the
    // reference does (its n_sample_token = 512).
    const bool use_gram = gl <= X.rows;
    if (o.clip && steps > 1) {
        std::vector<float> gram, xs;
        if (use_gram) {
            // G_g[i][j] = (H/2)[k0+i][k0+j] / (s_i s_j): X'^T X' / n on the group.
            gram.resize((size_t)G * gl * gl);
            for (int g = 0; g < G; ++g)
                for (int i = 0; i < gl; ++i)
                    for (int j = 0; j < gl; ++j) {
                        const int a = g * gl + i, b = g * gl + j;
                        gram[((size_t)g * gl + i) * gl + j] =
                            (float)(0.5 * (double)c.H[(size_t)a * K + b] / ((double)best_s[(size_t)a] * (double)best_s[(size_t)b]));
                    }
        } else {
            xs.resize((size_t)X.rows * K);   // X' = X diag(1/s)
            for (int t = 0; t < X.rows; ++t)
                for (int k = 0; k < K; ++k) xs[(size_t)t * K + k] = X.at(t, k) / best_s[(size_t)k];
        }
        const int ecols = use_gram ? gl : X.rows;
        std::vector<float> best_m = maxv;
        std::vector<double> best_err((size_t)N * G, std::numeric_limits<double>::infinity());
        parallel_rows(N, [&](int n0, int n1) {
            const int R = n1 - n0;
            std::vector<float> D((size_t)R * gl), E((size_t)R * ecols), tmp((size_t)gl);
            for (int g = 0; g < G; ++g) {
                for (int step = 0; step < steps; ++step) {
                    const float f = 1.0f - (float)step / (float)o.clip_grid;
                    la::ops().clip_delta(Ws.row(n0) + (size_t)g * gl, K, R, gl, maxv.data() + (size_t)n0 * G + g, G, f, s.bits,
                                         s.zero_point, tmp.data(), D.data());
                    if (use_gram)
                        la::ops().gemm(R, gl, gl, 1.0f, D.data(), gl, false, gram.data() + (size_t)g * gl * gl, gl, false, 0.0f, E.data(), gl);
                    else   // E = D X'_g^T: R x tokens
                        la::ops().gemm(R, X.rows, gl, 1.0f, D.data(), gl, false, xs.data() + (size_t)g * gl, K, true, 0.0f, E.data(), X.rows);
                    for (int j = 0; j < R; ++j) {
                        double e = 0;
                        if (use_gram)
                            for (int i = 0; i < gl; ++i) e += (double)E[(size_t)j * gl + i] * (double)D[(size_t)j * gl + i];
                        else
                            for (int t = 0; t < X.rows; ++t) e += (double)E[(size_t)j * X.rows + t] * (double)E[(size_t)j * X.rows + t];
                        const size_t pi = (size_t)(n0 + j) * G + g;
                        if (e < best_err[pi]) {
                            best_err[pi] = e;
                            best_m[pi] = maxv[pi] * f;
                        }
                    }
                }
            }
        });
        for (int n = 0; n < N; ++n)
            for (int g = 0; g < G; ++g) {
                const size_t pi = (size_t)n * G + g;
                const float m = best_m[pi];
                if (maxv[pi] > 0) shrink_sum += 1.0 - (double)m / (double)maxv[pi];
                for (int i = 0; i < gl; ++i) {
                    float& w = Ws.at(n, g * gl + i);
                    w = std::min(std::max(w, -m), m);
                }
            }
    }

    const double clip_s = detail::seconds_since(t_clip);
    // ---- pack (quantize_ref) and W_hat ----
    r.packed.allocate(N, K, s);
    r.w_hat = Matrix(N, K);
    detail::quantize_rows(Ws, r.packed);
    detail::dequantize_rows(r.packed, r.w_hat);
    for (int n = 0; n < N; ++n)
        for (int k = 0; k < K; ++k) r.w_hat.at(n, k) /= best_s[(size_t)k];
    r.input_scale = best_s;
    float smin = best_s[0], smax = best_s[0];
    for (float v : best_s) { smin = std::min(smin, v); smax = std::max(smax, v); }
    r.details.set("alpha", (double)best_i / o.grid);
    r.details.set("scale_loss", best);
    r.details.set("scale_loss_alpha0", loss0);
    r.details.set("loss_tokens", X.rows);
    r.details.set("scale_min", smin);
    r.details.set("scale_max", smax);
    r.details.set("clip_mean_shrink", shrink_sum / ((double)N * G));
    r.details.set("t_scale_search_s", scale_s);
    r.details.set("t_clip_s", clip_s);
    r.seconds = detail::seconds_since(t0);
    return r;
}

}  // namespace qb::quant
