// gptq.cpp: GPTQ as IST-DASLab/gptq's GPTQ.fasterquant does it, step for step:
//   1. per-channel grids from the full rows of W (quantizer.find_params(W) before anything else)
//   2. dead columns: H_ii == 0 -> H_ii = 1 and column i of W set to 0
//   3. static groups (AutoGPTQ): grids of the original contiguous groups, from that W
//   4. act-order: columns sorted by descending diag H (stable: ties keep column order)
//   5. dampening: percdamp x mean(diag H) added to the diagonal (percdamp 0.01 as in the
//      reference; 0.1 is HF transformers' GPTQConfig default, not GPTQ's)
//   6. U = upper Cholesky factor of H^-1 (la_impl.cpp computes it without forming H^-1)
//   7. columns in blocks of 128: quantize, err = (w - q) / U_kk, update the rest of the
//      block at once, the later columns lazily with one GEMM per block; the grid of a group
//      is recomputed from the already updated weights when its first column comes up.
// One departure, on purpose: for groups smaller than the block the reference reads the
// group's weights from the global W, which lacks the current block's pending updates, so its
// grids depend on the block size. Here the grid sees the fully updated weights (what
// unblocked OBQ does), so blocked == unblocked (tests/quant checks it). When neither the
// group nor the block divides the other, the block is lowered to the group size so that a
// group never straddles a block boundary.
//
// Rows are independent given U, so they are split in slabs across the thread pool; each slab
// runs the whole column loop (la::Ops::gptq_rows) on its transposed copy.
#include <algorithm>
#include <numeric>

#include "grid.h"
#include "internal.h"
#include "la.h"
#include "thread_pool.h"

namespace qb::quant {

namespace detail {

Result gptq_solve(const Matrix& W0, std::vector<float> H, const QuantSpec& s, const GptqOptions& o) {
    const auto t0 = std::chrono::steady_clock::now();
    Result r;
    r.method = Method::gptq;
    r.spec = s;
    const int N = W0.rows, K = W0.cols;
    if (const std::string e = check_spec(s, N, K); !e.empty()) { r.error = e; return r; }
    if (H.size() != (size_t)K * (size_t)K) { r.error = "H must be cols x cols"; return r; }
    if (!(o.damp >= 0) || o.block < 1) { r.error = "damp must be >= 0 and block >= 1"; return r; }
    const int gl = s.group_len(K), G = K / gl;
    const bool per_channel = gl == K;
    const bool fixed_grids = per_channel || o.static_groups;
    const bool permuted_storage = o.act_order && !fixed_grids;

    Matrix W = W0;
    // 1. Per-channel grids from the original rows.
    std::vector<Grid> grids;
    if (per_channel) {
        grids.resize((size_t)N);
        for (int n = 0; n < N; ++n) grids[(size_t)n] = grid_for(W.row(n), K, 1, s.bits, s.zero_point);
    }
    // 2. Dead columns.
    int dead = 0;
    for (int k = 0; k < K; ++k)
        if (H[(size_t)k * K + k] == 0) {
            H[(size_t)k * K + k] = 1;
            for (int n = 0; n < N; ++n) W.at(n, k) = 0;
            ++dead;
        }
    // 3. Static groups.
    if (!per_channel && o.static_groups) {
        grids.resize((size_t)N * G);
        for (int n = 0; n < N; ++n)
            for (int g = 0; g < G; ++g) grids[(size_t)n * G + g] = grid_for(W.row(n) + (size_t)g * gl, gl, 1, s.bits, s.zero_point);
    }
    // 4. Act-order.
    std::vector<int32_t> perm((size_t)K);
    std::iota(perm.begin(), perm.end(), 0);
    if (o.act_order) {
        std::stable_sort(perm.begin(), perm.end(), [&](int32_t a, int32_t b) {
            return H[(size_t)a * K + a] > H[(size_t)b * K + b];
        });
        std::vector<float> Hp((size_t)K * K);
        for (int i = 0; i < K; ++i)
            for (int j = 0; j < K; ++j) Hp[(size_t)i * K + j] = H[(size_t)perm[i] * K + perm[j]];
        H.swap(Hp);
    }
    // 5. Dampening.
    double mean_diag = 0;
    for (int k = 0; k < K; ++k) mean_diag += H[(size_t)k * K + k];
    mean_diag /= K;
    const float damp = (float)(o.damp * mean_diag);
    for (int k = 0; k < K; ++k) H[(size_t)k * K + k] += damp;
    // 6. Upper factor of H^-1 (in place).
    const auto t_fact = std::chrono::steady_clock::now();
    const double prep_s = seconds_since(t0);
    const la::Ops& ops = la::ops();
    if (!ops.inverse_upper_factor(K, H.data())) {
        r.error = "H + damp I is not positive definite (raise --damp)";
        return r;
    }
    const std::vector<float>& U = H;
    const double factor_s = seconds_since(t_fact);
    const auto t_cols = std::chrono::steady_clock::now();

    // Column bookkeeping in processing order.
    std::vector<int32_t> group_of((size_t)K);
    std::vector<uint8_t> recompute((size_t)K, 0);
    for (int k = 0; k < K; ++k) {
        if (per_channel) group_of[(size_t)k] = 0;
        else if (o.static_groups) group_of[(size_t)k] = perm[(size_t)k] / gl;
        else {
            group_of[(size_t)k] = k / gl;
            recompute[(size_t)k] = k % gl == 0;
        }
    }
    int block = o.block;
    if (!per_channel && !o.static_groups && gl % block != 0 && block % gl != 0) block = gl;

    // 7. Slabs of rows across the pool.
    r.packed.allocate(N, K, s);
    r.w_hat = Matrix(N, K);
    cpu::ThreadPool& pool = cpu::global_pool();
    int slabs = std::max(1, std::min(pool.size() * 2, (N + 127) / 128));
    const int per = (N + slabs - 1) / slabs;
    slabs = (N + per - 1) / per;
    std::vector<double> loss((size_t)slabs, 0.0);
    std::vector<int32_t> zeros_all(s.zero_point ? (size_t)N * G : 0);
    const QuantizedMatrix pm = r.packed.view();
    const size_t rb = row_bytes(pm);
    pool.run(slabs, [&](int t) {
        const int n0 = t * per, R = std::min(N, n0 + per) - n0;
        std::vector<float> Wt((size_t)K * R), Qt((size_t)K * R), err((size_t)(block + 2) * R);
        std::vector<uint8_t> codes((size_t)K * R);
        std::vector<float> scale((size_t)R * G);
        std::vector<uint16_t> sbits((size_t)R * G);
        std::vector<int32_t> zero((size_t)R * G);
        // Transposed, permuted copy, in tiles of 64 columns so the strided writes stay in cache.
        for (int kb = 0; kb < K; kb += 64)
            for (int j = 0; j < R; ++j) {
                const float* wr = W.row(n0 + j);
                for (int k = kb; k < std::min(K, kb + 64); ++k) Wt[(size_t)k * R + j] = wr[perm[(size_t)k]];
            }
        if (fixed_grids)
            for (int j = 0; j < R; ++j)
                for (int g = 0; g < G; ++g) {
                    const Grid& gr = grids[(size_t)(n0 + j) * G + g];
                    scale[(size_t)j * G + g] = gr.s;
                    sbits[(size_t)j * G + g] = gr.s_bits;
                    zero[(size_t)j * G + g] = gr.z;
                }
        la::GptqRows a;
        a.K = K;
        a.R = R;
        a.Wt = Wt.data();
        a.U = U.data();
        a.block = block;
        a.bits = s.bits;
        a.has_zero = s.zero_point;
        a.group_len = gl;
        a.groups = G;
        a.group_of = group_of.data();
        a.recompute = recompute.data();
        a.scale = scale.data();
        a.scale_bits = sbits.data();
        a.zero = zero.data();
        a.codes = codes.data();
        a.Qt = Qt.data();
        a.err = err.data();
        ops.gptq_rows(a);
        loss[(size_t)t] = a.loss;
        // Pack: permuted storage keeps processing order, otherwise back to the original columns.
        for (int kb = 0; kb < K; kb += 64)
            for (int j = 0; j < R; ++j) {
                const int n = n0 + j;
                uint8_t* qrow = r.packed.q.data() + (size_t)n * rb;
                float* wh = r.w_hat.row(n);
                for (int k = kb; k < std::min(K, kb + 64); ++k) {
                    const int c = perm[(size_t)k];
                    const int col = permuted_storage ? k : c;
                    const uint32_t code = codes[(size_t)k * R + j];
                    if (s.bits == 8) qrow[col] = (uint8_t)code;
                    else set_packed(qrow, s.bits, (size_t)col, code);
                    wh[c] = Qt[(size_t)k * R + j];
                }
            }
        for (int j = 0; j < R; ++j) {
            const int n = n0 + j;
            for (int g = 0; g < G; ++g) {
                r.packed.scales[(size_t)n * G + g] = sbits[(size_t)j * G + g];
                if (s.zero_point) zeros_all[(size_t)n * G + g] = zero[(size_t)j * G + g];
            }
        }
    });
    // The zero stream is one bit stream over (row, group): several rows can share a byte, so
    // it is written after the slabs, by one thread.
    for (size_t i = 0; i < zeros_all.size(); ++i) set_packed(r.packed.zeros.data(), s.bits, i, (uint32_t)zeros_all[i]);
    if (permuted_storage) r.perm = perm;
    double total = 0;
    for (double l : loss) total += l;
    r.details.set("gptq_loss", total);
    r.details.set("damp", damp);
    r.details.set("dead_columns", dead);
    r.details.set("block", block);
    r.details.set("t_prepare_s", prep_s);      // copies, dead columns, act-order permutation, dampening
    r.details.set("t_factor_s", factor_s);     // Cholesky of H and the triangular inverse (one thread)
    r.details.set("t_columns_s", seconds_since(t_cols));   // the column loop with lazy GEMM updates, and packing
    r.seconds = seconds_since(t0);
    return r;
}

}  // namespace detail

Result quantize_gptq(const Matrix& W, const std::vector<float>& H, const QuantSpec& s, const GptqOptions& o) {
    return detail::gptq_solve(W, H, s, o);
}

}  // namespace qb::quant
