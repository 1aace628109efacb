// synthetic.h: seeded synthetic layers with the structure that makes LLM weight quantization
// hard (docs/quantizers.md, "Synthetic layers"), for `quantize --synthetic` and the tests.
//
// Weights W (rows x cols): N(0, 1/cols), with a few heavy-tailed rows (Student-t, 3 degrees of
// freedom, scaled to the same variance) as real projection matrices have.
// Activations x_t (cols): for token t of a sample,
//     x_tk = c_k (sum_j B_kj z_tj + noise e_tk + mu_k)
//   * c_k: per-channel magnitude, log-normal (sigma 0.3) around 1 for ordinary channels and
//     10..100 (log-uniform) for a handful of outlier channels (outlier_frac, 0.5% by default;
//     LLM.int8() and SmoothQuant report such systematic outlier channels in OPT and Llama),
//     whose mean mu_k = +-1 has a fixed sign (ordinary channels: mu_k = 0);
//   * B z_t: a rank-`rank` component shared by all channels (correlated inputs: what gives the
//     Hessian off-diagonal mass, and GPTQ something to exploit), B_kj ~ N(0, 1/rank), with the
//     latent z an AR(1) process along the tokens of a sample (correlated across tokens);
//   * e_tk: independent noise of standard deviation `noise`.
// The channel structure (c, mu, B) depends on (seed, cols) only; sample i's tokens depend on
// (seed, i) only, so calibration (samples 0..S-1) and held-out evaluation (samples S..) come
// from the same "model" and each is reproducible on its own. The activation noise and latent
// are approximately normal (sum of four uniforms, bounded at 3.46 sigma: cheap enough for
// 65k x 4096 values); the weights are properly normal (Box-Muller), since their tails matter.
#pragma once
#include <cstdint>
#include <vector>

#include "quant.h"

namespace qb::quant {

struct SyntheticSpec {
    uint64_t seed = kDefaultSeed;
    double outlier_frac = 0.005;       // share of input channels that are outliers (at least 1)
    double outlier_min = 10, outlier_max = 100;
    int rank = 16;
    double noise = 0.5;
    double ar = 0.9;                   // AR(1) coefficient of the latent along the tokens
    double heavy_row_frac = 0.01;      // weight rows drawn from the heavy-tailed law
};

Matrix synthetic_weights(int rows, int cols, const SyntheticSpec& s);

// Samples [first, first + count) of `tokens` tokens each, one chunk per sample.
class SyntheticActivations : public TokenSource {
public:
    SyntheticActivations(int cols, int first, int count, int tokens, const SyntheticSpec& s);
    int cols() const override { return cols_; }
    int chunks() const override { return count_; }
    int chunk_tokens(int) const override { return tokens_; }
    void fill(int i, float* out) const override;
    const std::vector<int>& outlier_channels() const { return outliers_; }
    Matrix all() const;                // every token as one matrix

private:
    int cols_, first_, count_, tokens_;
    SyntheticSpec spec_;
    std::vector<float> c_, mu_, B_;    // B_: cols x rank row-major
    std::vector<int> outliers_;
};

}  // namespace qb::quant
