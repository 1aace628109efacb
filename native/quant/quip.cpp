// quip.cpp: QuIP-style incoherence processing around GPTQ's column loop (LDLQ), after
// Cornell-RelaxML/QuIP's QuantMethod.preproc / postproc:
//   0. dead columns as GPTQ does (H_ii == 0 -> 1, W column -> 0)
//   1. rescale (preproc_rescale): H <- H / max|H|; d = (diag H / diag W^T W)^(1/4) (both
//      clamped at 1e-8); W <- W diag(d), H <- diag(1/d) H diag(1/d)
//   2. projection (preproc_proj): H <- H K / tr(H) + 0.01 I; W <- U W V^T, H <- V H V^T
//   3. preproc_gptqH: dampening percdamp x mean(diag H) (after the transform, as the reference)
//   4. LDLQ = GPTQ's column loop in natural order (QuIP's optq_ldlq_equiv.py shows the two
//      are the same rounding); no act-order: after the transform diag H is nearly flat
//   5. postproc: W_hat = U^T Q V diag(1/d)
// The factors: QuIP's code draws random orthogonal butterflies (Kronecker products of small
// random orthogonals); qbench uses the randomized Hadamard transform of QuIP# instead:
// T = (Hadamard / sqrt(2^p)  (Kronecker)  Q_m) diag(random signs) for n = 2^p m, m odd, with
// Q_m a Haar-random orthogonal from the QR of an m x m Gaussian (m = 1 for 4096; 43 for
// 11008 = 256 x 43; 7 for 14336). Applied in O(n (p + m)) per vector, never as a dense matrix.
// All randomness comes from one std::mt19937_64 seeded with QuipOptions::seed, drawn in the
// order: V signs, V's Q_m, U signs, U's Q_m.
#include <algorithm>
#include <cmath>
#include <random>

#include "internal.h"
#include "thread_pool.h"

namespace qb::quant {

namespace {

// In-place unnormalised Walsh-Hadamard transform over index a of x[a * m + b] for each b.
void fwht(float* x, int p, int m) {
    for (int h = 1; h < p; h *= 2)
        for (int i = 0; i < p; i += 2 * h)
            for (int j = i; j < i + h; ++j) {
                float* a = x + (size_t)j * m;
                float* b = x + (size_t)(j + h) * m;
                for (int c = 0; c < m; ++c) {
                    const float u = a[c], v = b[c];
                    a[c] = u + v;
                    b[c] = u - v;
                }
            }
}

// Haar-random m x m orthogonal: Gram-Schmidt (twice, for orthogonality to rounding) of the
// columns of a Gaussian matrix, i.e. the Q of its QR with a positive-diagonal R.
std::vector<float> random_orthogonal(int m, std::mt19937_64& rng) {
    std::normal_distribution<double> nd(0.0, 1.0);
    std::vector<double> a((size_t)m * m);   // column-major: column j at a[j*m]
    for (double& v : a) v = nd(rng);
    for (int j = 0; j < m; ++j) {
        double* cj = a.data() + (size_t)j * m;
        for (int pass = 0; pass < 2; ++pass)
            for (int i = 0; i < j; ++i) {
                const double* ci = a.data() + (size_t)i * m;
                double d = 0;
                for (int r = 0; r < m; ++r) d += ci[r] * cj[r];
                for (int r = 0; r < m; ++r) cj[r] -= d * ci[r];
            }
        double nrm = 0;
        for (int r = 0; r < m; ++r) nrm += cj[r] * cj[r];
        nrm = std::sqrt(nrm);
        for (int r = 0; r < m; ++r) cj[r] /= nrm;
    }
    std::vector<float> q((size_t)m * m);   // row-major Q[r][j] = column j, entry r
    for (int r = 0; r < m; ++r)
        for (int j = 0; j < m; ++j) q[(size_t)r * m + j] = (float)a[(size_t)j * m + r];
    return q;
}

Orthogonal make_orthogonal(int n, std::mt19937_64& rng) {
    Orthogonal t;
    t.n = n;
    t.pow2 = 1;
    while (n % (t.pow2 * 2) == 0) t.pow2 *= 2;
    t.m = n / t.pow2;
    t.signs.resize((size_t)n);
    for (float& s : t.signs) s = (rng() >> 63) ? -1.0f : 1.0f;
    if (t.m > 1) t.small = random_orthogonal(t.m, rng);
    return t;
}

// A <- T A (left, transpose = false) or T^T A, for A with t.n rows and `cols` columns
// (row stride ld), on columns [c0, c1). Works on whole row segments: signs scale rows, Q_m
// mixes the m rows of each block, the Hadamard butterflies pairs of blocks.
void left_apply_cols(const Orthogonal& t, float* A, int ld, int c0, int c1, bool transpose) {
    const int w = c1 - c0, p = t.pow2, m = t.m;
    const float norm = 1.0f / std::sqrt((float)p);
    // The column slab, contiguous: row i at S[i*w]. Already so when the slab spans whole rows
    // (ld == w: one vector, Orthogonal::apply), which then runs in place, with no copy.
    const bool in_place = ld == w;
    std::vector<float> seg(in_place ? 0 : (size_t)t.n * w);
    float* const S = in_place ? A + c0 : seg.data();
    if (!in_place)
        for (int i = 0; i < t.n; ++i) std::copy_n(A + (size_t)i * ld + c0, w, S + (size_t)i * w);
    auto signs = [&] {
        for (int i = 0; i < t.n; ++i)
            for (int c = 0; c < w; ++c) S[(size_t)i * w + c] *= t.signs[(size_t)i];
    };
    auto mix = [&](bool tr) {
        if (m == 1) return;
        std::vector<float> tmp((size_t)m * w);
        for (int a = 0; a < p; ++a) {
            float* blk = S + (size_t)a * m * w;
            std::fill(tmp.begin(), tmp.end(), 0.0f);
            for (int b = 0; b < m; ++b)
                for (int b2 = 0; b2 < m; ++b2) {
                    const float q = tr ? t.small[(size_t)b2 * m + b] : t.small[(size_t)b * m + b2];
                    for (int c = 0; c < w; ++c) tmp[(size_t)b * w + c] += q * blk[(size_t)b2 * w + c];
                }
            std::copy(tmp.begin(), tmp.end(), blk);
        }
    };
    auto hadamard = [&] {
        fwht(S, p, m * w);
        for (size_t i = 0; i < (size_t)t.n * w; ++i) S[i] *= norm;
    };
    if (!transpose) { signs(); mix(false); hadamard(); }
    else { hadamard(); mix(true); signs(); }
    if (!in_place)
        for (int i = 0; i < t.n; ++i) std::copy_n(S + (size_t)i * w, w, A + (size_t)i * ld + c0);
}

void left_apply(const Orthogonal& t, Matrix& A, bool transpose) {
    cpu::ThreadPool& pool = cpu::global_pool();
    const int chunk = 64, tasks = (A.cols + chunk - 1) / chunk;
    pool.run(tasks, [&](int i) {
        left_apply_cols(t, A.v.data(), A.cols, i * chunk, std::min(A.cols, (i + 1) * chunk), transpose);
    });
}

// A <- A T^T (transpose = false: each row a <- T a) or A T (each row a <- T^T a).
void right_apply(const Orthogonal& t, Matrix& A, bool transpose) {
    cpu::ThreadPool& pool = cpu::global_pool();
    const int per = 16, tasks = (A.rows + per - 1) / per;
    pool.run(tasks, [&](int i) {
        for (int r = i * per; r < std::min(A.rows, (i + 1) * per); ++r) {
            if (transpose) t.apply_t(A.row(r));
            else t.apply(A.row(r));
        }
    });
}

}  // namespace

// One vector is the one-column case of left_apply_cols (same operations in the same order).
void Orthogonal::apply(float* x) const { left_apply_cols(*this, x, 1, 0, 1, false); }
void Orthogonal::apply_t(float* x) const { left_apply_cols(*this, x, 1, 0, 1, true); }

Result quantize_quip(const Matrix& W0, const std::vector<float>& H0, const QuantSpec& s, const QuipOptions& o) {
    const auto t0 = std::chrono::steady_clock::now();
    Result r;
    r.method = Method::quip;
    r.spec = s;
    const int N = W0.rows, K = W0.cols;
    if (const std::string e = check_spec(s, N, K); !e.empty()) { r.error = e; return r; }
    if (H0.size() != (size_t)K * K) { r.error = "H must be cols x cols"; return r; }
    Matrix W = W0;
    Matrix H(K, K);
    H.v = H0;
    const double mu_w0 = max_to_rms(W.v.data(), W.v.size()), mu_h0 = max_to_rms(H.v.data(), H.v.size());
    // 0. Dead columns.
    for (int k = 0; k < K; ++k)
        if (H.at(k, k) == 0) {
            H.at(k, k) = 1;
            for (int n = 0; n < N; ++n) W.at(n, k) = 0;
        }
    // 1. Rescale.
    std::vector<float> d((size_t)K, 1.0f);
    if (o.rescale) {
        float hmax = 0;
        for (float v : H.v) hmax = std::max(hmax, std::fabs(v));
        for (float& v : H.v) v /= hmax;
        std::vector<double> w2((size_t)K, 0.0);
        for (int n = 0; n < N; ++n)
            for (int k = 0; k < K; ++k) w2[(size_t)k] += (double)W.at(n, k) * W.at(n, k);
        for (int k = 0; k < K; ++k) {
            const double dh = std::max((double)H.at(k, k), 1e-8), dw = std::max(w2[(size_t)k], 1e-8);
            d[(size_t)k] = (float)std::max(std::sqrt(std::sqrt(dh / dw)), 1e-8);
        }
        for (int n = 0; n < N; ++n)
            for (int k = 0; k < K; ++k) W.at(n, k) *= d[(size_t)k];
        for (int i = 0; i < K; ++i) {
            float* h = H.row(i);
            for (int j = 0; j < K; ++j) h[j] = h[j] / d[(size_t)j] / d[(size_t)i];
        }
    }
    const double mu_w_rescaled = max_to_rms(W.v.data(), W.v.size());
    // 2. Projection.
    double tr = 0;
    for (int k = 0; k < K; ++k) tr += H.at(k, k);
    const float hs = (float)((double)K / (tr + 1e-8));
    for (float& v : H.v) v *= hs;
    for (int k = 0; k < K; ++k) H.at(k, k) += 0.01f;
    std::mt19937_64 rng(o.seed);
    r.v = make_orthogonal(K, rng);
    r.u = make_orthogonal(N, rng);
    right_apply(r.v, W, false);   // W V^T
    left_apply(r.u, W, false);    // U W V^T
    right_apply(r.v, H, false);   // H V^T
    left_apply(r.v, H, false);    // V H V^T
    // (The two passes round differently, so H is symmetric only to rounding; the factorization
    // reads one triangle.)
    const double mu_w1 = max_to_rms(W.v.data(), W.v.size()), mu_h1 = max_to_rms(H.v.data(), H.v.size());
    const double transform_s = detail::seconds_since(t0);
    // 3.-4. Dampening and LDLQ.
    GptqOptions g;
    g.damp = o.damp;
    g.block = o.block;
    Result q = detail::gptq_solve(W, std::move(H.v), s, g);
    if (!q.ok()) { r.error = q.error; return r; }
    // 5. Back to the original basis.
    r.packed = std::move(q.packed);
    r.w_hat = std::move(q.w_hat);
    left_apply(r.u, r.w_hat, true);    // U^T Q
    right_apply(r.v, r.w_hat, true);   // U^T Q V
    if (o.rescale) {
        for (int n = 0; n < N; ++n)
            for (int k = 0; k < K; ++k) r.w_hat.at(n, k) /= d[(size_t)k];
        r.input_scale = d;
    }
    r.has_transform = true;
    r.seed = o.seed;
    r.details = q.details;
    r.details.set("mu_w_before", mu_w0);
    r.details.set("mu_w_rescaled", mu_w_rescaled);   // after the diagonal rescale, before the rotations
    r.details.set("mu_w_after", mu_w1);
    r.details.set("mu_h_before", mu_h0);
    r.details.set("mu_h_after", mu_h1);
    r.details.set("t_transform_s", transform_s);   // rescale and the transforms of W and H
    r.details.set("u_pow2", r.u.pow2);
    r.details.set("u_m", r.u.m);
    r.details.set("v_pow2", r.v.pow2);
    r.details.set("v_m", r.v.m);
    r.seconds = detail::seconds_since(t0);
    return r;
}

}  // namespace qb::quant
