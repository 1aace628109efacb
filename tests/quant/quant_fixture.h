// quant_fixture.h: small seeded layers and activations for the quantizer tests.
#pragma once
#include <cmath>
#include <random>
#include <vector>

#include "quant.h"
#include "synthetic.h"

namespace qbt {

using qb::quant::Matrix;

// A quantization spec: bits, group (0 = per-channel) and zero points.
inline qb::quant::QuantSpec spec(int bits, int group, bool zero) {
    qb::quant::QuantSpec s;
    s.bits = bits;
    s.group = group;
    s.zero_point = zero;
    return s;
}

inline Matrix gaussian(int rows, int cols, uint64_t seed, double sd = 1.0) {
    Matrix m(rows, cols);
    std::mt19937_64 rng(seed);
    std::normal_distribution<double> nd(0.0, sd);
    for (float& v : m.v) v = (float)nd(rng);
    return m;
}

// Correlated activations with outlier channels (synthetic.h), tokens x cols.
inline Matrix activations(int cols, int samples, int tokens, uint64_t seed, int first_sample = 0, double outlier_frac = 0.02) {
    qb::quant::SyntheticSpec s;
    s.seed = seed;
    s.outlier_frac = outlier_frac;
    s.rank = 8;
    return qb::quant::SyntheticActivations(cols, first_sample, samples, tokens, s).all();
}

inline qb::quant::Calibration calib_of(const Matrix& X, int sample_tokens = 256) {
    qb::quant::MatrixSource src(X, 64);
    return qb::quant::calibrate(src, sample_tokens);
}

// ||X (W - W_hat)^T||_F^2 (float products through quant.h's matmul, summed in double).
inline double output_err2(const Matrix& X, const Matrix& W, const Matrix& Wh) {
    Matrix D(W.rows, W.cols);
    for (size_t i = 0; i < D.v.size(); ++i) D.v[i] = W.v[i] - Wh.v[i];
    const Matrix E = qb::quant::matmul_xwt(X, D);
    double s = 0;
    for (float e : E.v) s += (double)e * (double)e;
    return s;
}

}  // namespace qbt
