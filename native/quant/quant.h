// quant.h: qbench's weight quantizers (RTN, GPTQ, AWQ, QuIP-style incoherence + LDLQ), the
// calibration statistics they consume and the layer the result stands for. Every quantizer
// writes its weights in the one packed format of shared/qformat.h (PackedWeights), so the CPU
// and CUDA kernels run them unchanged. docs/quantizers.md explains each method, what follows
// its reference code and where (and why) qbench departs from it.
//
// Plain structs and std::vector only: Eigen stays inside native/quant's .cpp files.
// Errors are values (Result::error), never exceptions.
//
// [SECTION] Index
//   1. Matrix, QuantSpec, PackedWeights (the qformat storage, owned)
//   2. Calibration: H = 2/n X^T X, mean |x|, a token subsample; TokenSource and calibrate()
//   3. Options of each method
//   4. Result: the packed weights, the transforms that go with them, W_hat, diagnostics
//   5. The quantizers
//   6. Evaluation helpers (errors, SQNR, incoherence)
//
// What a Result stands for (the "storage chain"): the quantized layer computes, for an input
// x of length cols,
//     x1 = x / input_scale        (AWQ: the scales a previous op absorbs; QuIP: its diagonal
//                                  rescale; skipped when empty)
//     x2 = x1[perm]               (GPTQ act-order with groups: packed column j is input
//                                  channel perm[j]; skipped when empty)
//     x3 = V x2                   (QuIP: the input-side random Hadamard; identity otherwise)
//     y3 = dequant(packed) x3     (any kernel of native/kernels on the packed weights)
//     y  = U^T y3                 (QuIP: the output-side transform; identity otherwise)
// and W_hat (rows x cols, original basis) is the matrix of that chain: y = W_hat x.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "qformat.h"

namespace qb::quant {

// ============================================================================================
// [SECTION] 1. Matrix, QuantSpec, PackedWeights
// ============================================================================================

struct Matrix {                        // row-major floats
    int rows = 0, cols = 0;
    std::vector<float> v;
    Matrix() = default;
    Matrix(int r, int c) : rows(r), cols(c), v((size_t)r * (size_t)c, 0.0f) {}
    float* row(int r) { return v.data() + (size_t)r * (size_t)cols; }
    const float* row(int r) const { return v.data() + (size_t)r * (size_t)cols; }
    float& at(int r, int c) { return v[(size_t)r * (size_t)cols + (size_t)c]; }
    float at(int r, int c) const { return v[(size_t)r * (size_t)cols + (size_t)c]; }
};

enum class Method : uint8_t { rtn, gptq, awq, quip };
const char* method_name(Method m);                     // "rtn", "gptq", "awq", "quip"
bool parse_method(const std::string& s, Method* out);

struct QuantSpec {
    int bits = 4;                      // 2, 3, 4 or 8
    int group = 128;                   // along K; 0 = per-channel (one group per row)
    bool zero_point = false;           // asymmetric (a zero per row and group)
    int group_len(int cols) const { return group == 0 ? cols : group; }
};
// "" when (rows, cols, spec) is a valid qformat format, else the reason.
std::string check_spec(const QuantSpec& s, int rows, int cols);

// One QuantizedMatrix with its own storage (each part exactly sized).
struct PackedWeights {
    int32_t rows = 0, cols = 0, bits = 4, group = 128;   // group == cols: per-channel
    bool has_zero = false;
    std::vector<uint8_t> q;            // rows x row_bytes
    std::vector<uint16_t> scales;      // rows x groups, FP16 bits
    std::vector<uint8_t> zeros;        // packed zero stream (has_zero only)
    bool allocate(int rows, int cols, const QuantSpec& s);   // false: invalid format
    QuantizedMatrix view() const;      // pointers into this object (valid while it lives)
    size_t bytes() const { return q.size() + scales.size() * 2 + zeros.size(); }
};

// ============================================================================================
// [SECTION] 2. Calibration
// ============================================================================================

// Calibration activations, read in chunks (thread-safe: fill may run on several threads).
struct TokenSource {
    virtual ~TokenSource() = default;
    virtual int cols() const = 0;                       // K
    virtual int chunks() const = 0;
    virtual int chunk_tokens(int i) const = 0;
    virtual void fill(int i, float* out) const = 0;    // chunk_tokens(i) x cols, row-major
};

// A matrix as a token source (rows = tokens), chunks of `chunk` tokens.
struct MatrixSource : TokenSource {
    const Matrix* m;
    int chunk;
    explicit MatrixSource(const Matrix& x, int chunk_tokens = 512) : m(&x), chunk(chunk_tokens) {}
    int cols() const override { return m->cols; }
    int chunks() const override { return (m->rows + chunk - 1) / chunk; }
    int chunk_tokens(int i) const override { return (i + 1) * chunk <= m->rows ? chunk : m->rows - i * chunk; }
    void fill(int i, float* out) const override;
};

// What the quantizers need from the calibration activations X (n tokens x K).
struct Calibration {
    int cols = 0;                      // K
    int64_t tokens = 0;                // n
    std::vector<float> H;              // K x K, 2/n X^T X (GPTQ's Hessian of the layer's squared error)
    std::vector<float> abs_mean;       // K: mean |x_k| (AWQ's activation scale s_x)
    Matrix sample;                     // tokens taken at a fixed stride (AWQ's loss), sample_tokens x K
    double seconds = 0;                // wall time of calibrate()
    double source_seconds = 0;         // thread-seconds producing the tokens (reading / generating)
    double accumulate_seconds = 0;     // thread-seconds in the X^T X rank updates
    bool bf16 = false;                 // the rank updates ran on AMX with BF16-rounded activations
};

// H = 2/n X^T X, as the reference accumulates it: float products (GPTQ's add_batch is a float32
// matmul). Each thread owns a float K x K accumulator and adds rank updates of up to 4096
// tokens (Eigen's blocked triangular product: each update sums up to its depth block, a few
// hundred tokens, in registers before adding into the accumulator), so an entry sees about
// n / 256 float additions: a relative error of order sqrt(n / 256) x 2^-24 (~1e-6 for 65k
// tokens). The per-thread accumulators are added in double, scaled by 2/n and rounded to
// float once. sample_tokens (0: none) tokens are kept at stride floor(n / sample_tokens).
// Deterministic for a given source and thread count (chunks are assigned round-robin).
// bf16 = true: the rank updates run on AMX (la_amx.cpp) with the activations rounded to
// bfloat16 (products and sums still FP32): about ten times the FP32 rate on CPUs that have it.
// Real LLM activations are BF16 or FP16 to begin with; the rounding (2^-9 relative per value)
// moves H by far less than the 1% dampening. Requires amx_bf16_available().
Calibration calibrate(const TokenSource& src, int sample_tokens, bool bf16 = false);
bool amx_bf16_available();

// ============================================================================================
// [SECTION] 3. Options
// ============================================================================================

inline constexpr uint64_t kDefaultSeed = 0x5eed2026ULL;

struct GptqOptions {
    // Dampening: percdamp x mean(diag H) is added to diag H. 0.01 is the reference
    // (IST-DASLab/gptq, AutoGPTQ); HF transformers' GPTQConfig defaults to 0.1.
    double damp = 0.01;
    int block = 128;                   // lazy-update block (the result does not depend on it)
    bool act_order = false;            // desc_act: columns by descending diag H
    // With act-order and groups: false (reference g_idx semantics) = groups are consecutive in
    // the permuted order and the packed matrix is stored in that order with Result::perm;
    // true (AutoGPTQ static_groups) = grids fixed up front on the original contiguous groups,
    // packed in the original order with no permutation.
    bool static_groups = false;
};

struct AwqOptions {
    int grid = 20;                     // alphas 0, 1/20, ..., 19/20 (auto_scale n_grid)
    bool clip = true;                  // auto_clip
    int clip_grid = 20;                // shrink steps of 1/clip_grid ...
    double max_shrink = 0.5;           // ... for i < max_shrink x clip_grid (0..9)
};

struct QuipOptions {
    uint64_t seed = kDefaultSeed;      // std::mt19937_64 seed of the random signs / factors
    bool rescale = true;               // QuIP's diagonal rescale (preproc_rescale)
    double damp = 0.01;                // GPTQ-style dampening after the transform (preproc_gptqH)
    int block = 128;
};

// ============================================================================================
// [SECTION] 4. Result
// ============================================================================================

// A random orthogonal transform of dimension n = pow2 x m (m odd):
//   T = (Hadamard_pow2 / sqrt(pow2)  (Kronecker)  Q_m) diag(signs)
// with Q_m a Haar-random orthogonal m x m (QR of a Gaussian, m == 1: [1]). Index i of a
// vector is (a, b) = (i / m, i % m). O(n (log pow2 + m)) per vector.
struct Orthogonal {
    int n = 0, pow2 = 1, m = 1;
    std::vector<float> signs;          // n, +-1
    std::vector<float> small;          // m x m row-major (empty when m == 1)
    void apply(float* x) const;        // x <- T x
    void apply_t(float* x) const;      // x <- T^T x
};

struct Details {                       // diagnostics, written to the JSON as numbers
    std::vector<std::pair<std::string, double>> values;
    void set(const std::string& k, double v);
    double get(const std::string& k, double fallback = 0) const;
};

struct Result {
    std::string error;                 // non-empty: failed, nothing else is meaningful
    bool ok() const { return error.empty(); }
    Method method = Method::rtn;
    QuantSpec spec;
    PackedWeights packed;              // the weights in the storage basis (header comment)
    Matrix w_hat;                      // rows x cols, original basis: y = W_hat x
    std::vector<float> input_scale;    // cols; empty = none (AWQ scales, QuIP rescale)
    std::vector<int32_t> perm;         // cols; empty = identity
    bool has_transform = false;        // QuIP: u (rows) and v (cols) below are used
    uint64_t seed = 0;                 // QuIP: the seed u and v came from
    Orthogonal u, v;
    double seconds = 0;                // wall time of the quantizer (calibration excluded)
    Details details;
};

// ============================================================================================
// [SECTION] 5. Quantizers
// ============================================================================================
// W is rows x cols (output features x input features). H is cols x cols (Calibration::H or
// any symmetric positive semi-definite matrix with the same convention).

// Round to nearest: quantize_ref itself (sym/asym, groups or per-channel, 2/3/4/8 bits).
Result quantize_rtn(const Matrix& W, const QuantSpec& s);

// GPTQ (IST-DASLab/gptq fasterquant): dead columns, dampening, upper Cholesky factor of H^-1,
// blocked lazy updates, per-group grids recomputed at group boundaries, act-order.
Result quantize_gptq(const Matrix& W, const std::vector<float>& H, const QuantSpec& s, const GptqOptions& o);

// AWQ (mit-han-lab/llm-awq auto_scale + auto_clip) on calibration statistics.
Result quantize_awq(const Matrix& W, const Calibration& c, const QuantSpec& s, const AwqOptions& o);

// QuIP-style: diagonal rescale, random Hadamard transforms on both sides, LDLQ (= GPTQ's
// column loop without act-order) on the transformed problem, transforms kept for the runtime.
Result quantize_quip(const Matrix& W, const std::vector<float>& H, const QuantSpec& s, const QuipOptions& o);

// ============================================================================================
// [SECTION] 6. Evaluation
// ============================================================================================

// Y (M x rows) through the storage chain of r (header comment) with matmul_ref on the packed
// weights: what a kernel running r.packed computes, in double-accumulated reference numerics.
Matrix layer_forward(const Result& r, const Matrix& X);

// Y = X W^T (M x rows), threads over rows.
Matrix matmul_xwt(const Matrix& X, const Matrix& W);

struct ErrorStats {
    double weight_rel = 0;             // ||W - W_hat||_F / ||W||_F
    double output_rel = 0;             // ||X W^T - X W_hat^T||_F / ||X W^T||_F
    double sqnr_db = 0;                // 10 log10(||X W^T||^2 / ||X (W - W_hat)^T||^2)
};
// Y_ref = X W^T may be given (computed once per layer) or empty.
ErrorStats evaluate(const Matrix& W, const Matrix& w_hat, const Matrix& X, const Matrix* y_ref);

// max |a_ij| / RMS(a): QuIP's incoherence mu of a matrix, up to the sqrt(rows cols) convention.
double max_to_rms(const float* a, size_t n);

}  // namespace qb::quant
