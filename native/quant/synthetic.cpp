// synthetic.cpp: see synthetic.h for the model of the data.
#include "synthetic.h"

#include <algorithm>
#include <cmath>
#include <random>

#include "la.h"

namespace qb::quant {

namespace {

uint64_t splitmix64(uint64_t& x) {
    uint64_t z = (x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

// xoshiro256** seeded by splitmix64: fast bulk randomness for the noise.
struct Fast {
    uint64_t s[4];
    explicit Fast(uint64_t seed) {
        for (uint64_t& v : s) v = splitmix64(seed);
    }
    static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
    uint64_t next() {
        const uint64_t r = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = rotl(s[3], 45);
        return r;
    }
    // Sum of four 16-bit uniforms, centred and scaled to unit variance (Irwin-Hall, n = 4).
    float normalish() {
        const uint64_t u = next();
        const float sum = (float)(u & 0xffff) + (float)((u >> 16) & 0xffff) + (float)((u >> 32) & 0xffff) + (float)(u >> 48);
        return (sum * (1.0f / 65536.0f) - 2.0f) * 1.7320508f;   // variance of the sum: 4/12
    }
    // A standard normal (Box-Muller, the cosine half): for the weights, whose tails matter.
    double normal() {
        const double u1 = ((double)(next() >> 11) + 1.0) * (1.0 / 9007199254740993.0);   // (0, 1]
        const double u2 = (double)(next() >> 11) * (1.0 / 9007199254740992.0);
        return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
    }
};

}  // namespace

Matrix synthetic_weights(int rows, int cols, const SyntheticSpec& s) {
    Matrix W(rows, cols);
    std::mt19937_64 rng(s.seed ^ 0x57e1647ull);
    std::student_t_distribution<double> st(3.0);
    const float sd = 1.0f / std::sqrt((float)cols);
    const double t_sd = std::sqrt(3.0);   // the t(3) variance is 3
    Fast f(s.seed ^ 0xA11CE5ull);
    for (int n = 0; n < rows; ++n) {
        const bool heavy = std::uniform_real_distribution<double>(0, 1)(rng) < s.heavy_row_frac;
        float* w = W.row(n);
        if (heavy)
            for (int k = 0; k < cols; ++k) w[k] = (float)(st(rng) / t_sd) * sd;
        else
            for (int k = 0; k < cols; ++k) w[k] = (float)f.normal() * sd;
    }
    return W;
}

SyntheticActivations::SyntheticActivations(int cols, int first, int count, int tokens, const SyntheticSpec& s)
    : cols_(cols), first_(first), count_(count), tokens_(tokens), spec_(s) {
    std::mt19937_64 rng(s.seed ^ 0xC4A77E15ull ^ ((uint64_t)cols << 32));
    std::normal_distribution<double> nd(0.0, 1.0);
    std::uniform_real_distribution<double> ud(0.0, 1.0);
    c_.resize((size_t)cols);
    mu_.assign((size_t)cols, 0.0f);
    for (float& c : c_) c = (float)std::exp(0.3 * nd(rng));
    const int n_out = std::max(1, (int)std::lround(s.outlier_frac * cols));
    std::vector<int> idx((size_t)cols);
    for (int k = 0; k < cols; ++k) idx[(size_t)k] = k;
    for (int i = 0; i < n_out && i < cols; ++i) {   // partial Fisher-Yates: n_out distinct channels
        const int j = i + (int)(ud(rng) * (cols - i));
        std::swap(idx[(size_t)i], idx[(size_t)std::min(j, cols - 1)]);
        const int k = idx[(size_t)i];
        outliers_.push_back(k);
        c_[(size_t)k] = (float)(s.outlier_min * std::pow(s.outlier_max / s.outlier_min, ud(rng)));
        mu_[(size_t)k] = ud(rng) < 0.5 ? -1.0f : 1.0f;
    }
    std::sort(outliers_.begin(), outliers_.end());
    B_.resize((size_t)cols * s.rank);
    const double bsd = 1.0 / std::sqrt((double)s.rank);
    for (float& b : B_) b = (float)(nd(rng) * bsd);
}

void SyntheticActivations::fill(int i, float* out) const {
    const int r = spec_.rank, T = tokens_, K = cols_;
    uint64_t sm = spec_.seed ^ 0x5A3B1E5ull;
    for (int j = 0; j <= first_ + i; ++j) splitmix64(sm);   // a seed per sample index
    Fast f(splitmix64(sm) + (uint64_t)(first_ + i));
    // Latent AR(1) along the tokens.
    std::vector<float> Z((size_t)T * r);
    const float a = (float)spec_.ar, b = std::sqrt(1.0f - a * a);
    for (int j = 0; j < r; ++j) Z[(size_t)j] = f.normalish();
    for (int t = 1; t < T; ++t)
        for (int j = 0; j < r; ++j) Z[(size_t)t * r + j] = a * Z[(size_t)(t - 1) * r + j] + b * f.normalish();
    // out = Z B^T (T x K), then noise, mean and channel magnitude.
    la::ops().gemm(T, K, r, 1.0f, Z.data(), r, false, B_.data(), r, true, 0.0f, out, K);
    const float ns = (float)spec_.noise;
    for (int t = 0; t < T; ++t) {
        float* x = out + (size_t)t * K;
        for (int k = 0; k < K; ++k) x[k] = c_[(size_t)k] * (x[k] + ns * f.normalish() + mu_[(size_t)k]);
    }
}

Matrix SyntheticActivations::all() const {
    Matrix X(count_ * tokens_, cols_);
    for (int i = 0; i < count_; ++i) fill(i, X.row(i * tokens_));
    return X;
}

}  // namespace qb::quant
