// la_impl.cpp: the heavy kernels of the quantizers (la.h), through Eigen. Built once per ISA
// level by CMake with QB_LA_VARIANT = la_generic | la_avx2 | la_avx512 and the matching -m
// flags; la.cpp picks one at run time. The Eigen namespace is renamed per build (see
// native/kernels/cpu/fp32_eigen.cpp for why: the same weak template symbols built with
// different -m flags must not be merged by the linker). Single-threaded: the callers split
// the work across the qb::cpu pool.
#ifndef QB_LA_VARIANT
#error "QB_LA_VARIANT must name the build (la_generic, la_avx2 or la_avx512)"
#endif
#define QB_CAT2(a, b) a##b
#define QB_CAT(a, b) QB_CAT2(a, b)
#define Eigen QB_CAT(QB_LA_VARIANT, _Eigen)
#if defined(__x86_64__) || defined(__i386__)
#include "simd.h"   // first: silences GCC 12.2's AVX-512 header warnings (see simd.h)
#endif
#define EIGEN_DONT_PARALLELIZE
#define EIGEN_NO_DEBUG
#include <Eigen/Cholesky>
#include <Eigen/Core>

#include "grid.h"
#include "la.h"

namespace qb::quant::la::QB_LA_VARIANT {

namespace {

using RowMat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using ColMat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic>;
using CMap = Eigen::Map<const RowMat, 0, Eigen::OuterStride<>>;
using MMap = Eigen::Map<RowMat, 0, Eigen::OuterStride<>>;

template <class A, class B>
void product_into(MMap& C, float alpha, const A& a, const B& b, float beta) {
    if (beta == 0) {
        C.noalias() = alpha * (a * b);
    } else {
        if (beta != 1) C *= beta;
        C.noalias() += alpha * (a * b);
    }
}

void gemm(int M, int N, int Kd, float alpha, const float* A, int lda, bool trans_a, const float* B, int ldb, bool trans_b,
          float beta, float* C, int ldc) {
    if (M <= 0 || N <= 0) return;
    MMap c(C, M, N, Eigen::OuterStride<>(ldc));
    if (Kd <= 0) {
        if (beta == 0) c.setZero();
        else c *= beta;
        return;
    }
    CMap a(A, trans_a ? Kd : M, trans_a ? M : Kd, Eigen::OuterStride<>(lda));
    CMap b(B, trans_b ? N : Kd, trans_b ? Kd : N, Eigen::OuterStride<>(ldb));
    if (!trans_a && !trans_b) product_into(c, alpha, a, b, beta);
    else if (!trans_a && trans_b) product_into(c, alpha, a, b.transpose(), beta);
    else if (trans_a && !trans_b) product_into(c, alpha, a.transpose(), b, beta);
    else product_into(c, alpha, a.transpose(), b.transpose(), beta);
}

void syrk_lower(int T, int K, const float* X, int ldx, float* G) {
    if (T <= 0) return;
    CMap x(X, T, K, Eigen::OuterStride<>(ldx));
    Eigen::Map<ColMat> g(G, K, K);
    g.selfadjointView<Eigen::Lower>().rankUpdate(x.transpose());
}

// In-place inverse of a lower triangular matrix (LAPACK trtri's recursion): for
// L = [A 0; B C], L^-1 = [A^-1 0; -C^-1 B A^-1  C^-1]. About n^3/3 flops, most of them in the
// two triangular matrix products, which Eigen blocks like a GEMM.
void tri_inverse_lower(Eigen::Ref<ColMat> L) {
    const Eigen::Index n = L.rows();
    if (n <= 48) {
        // Column by column, right to left: column j of L^-1 below the diagonal is
        // -L^-1[j+1:, j+1:] L[j+1:, j] / L[j][j], using the already inverted trailing block.
        for (Eigen::Index j = n - 1; j >= 0; --j) {
            const float d = 1.0f / L(j, j);
            L(j, j) = d;
            for (Eigen::Index i = n - 1; i > j; --i) {
                float s = 0;
                for (Eigen::Index k = j + 1; k <= i; ++k) s += L(i, k) * L(k, j);
                L(i, j) = -s * d;
            }
        }
        return;
    }
    const Eigen::Index n1 = (n / 2 + 15) / 16 * 16;
    const Eigen::Index n2 = n - n1;
    tri_inverse_lower(L.topLeftCorner(n1, n1));
    tri_inverse_lower(L.bottomRightCorner(n2, n2));
    ColMat t(n2, n1);
    t.noalias() = L.bottomLeftCorner(n2, n1) * L.topLeftCorner(n1, n1).triangularView<Eigen::Lower>();
    L.bottomLeftCorner(n2, n1).noalias() = -(L.bottomRightCorner(n2, n2).triangularView<Eigen::Lower>() * t);
}

void reverse_flat(float* p, size_t n) {
    for (size_t i = 0, j = n - 1; i < j; ++i, --j) {
        const float t = p[i];
        p[i] = p[j];
        p[j] = t;
    }
}

// H^-1 = U^T U without forming H^-1 (half the flops of GPTQ's cholesky -> cholesky_inverse ->
// cholesky(upper) chain). With J the exchange matrix: J H J = L L^T (lower Cholesky), so
// H = R R^T with R = J L J upper, and H^-1 = R^-T R^-1 = U^T U with U = R^-1 = J L^-1 J,
// upper with a positive diagonal: the unique upper Cholesky factor of H^-1.
bool inverse_upper_factor(int K, float* H) {
    const size_t n = (size_t)K * (size_t)K;
    reverse_flat(H, n);   // (i, j) -> (K-1-i, K-1-j): J H J (H is symmetric: layout does not matter)
    Eigen::Map<ColMat> m(H, K, K);
    {
        Eigen::LLT<Eigen::Ref<ColMat>, Eigen::Lower> llt(m);
        if (llt.info() != Eigen::Success) return false;
    }
    for (int j = 1; j < K; ++j) m.col(j).head(j).setZero();   // strict upper (column-major)
    for (int j = 0; j < K; ++j)
        if (!(m(j, j) > 0)) return false;
    tri_inverse_lower(m);
    reverse_flat(H, n);     // J L^-1 J: upper in this column-major view
    m.transposeInPlace();   // so that the row-major reading of the buffer is that upper matrix
    return true;
}

// One processing column of the slab: codes, values and GPTQ's scaled errors. Restrict
// pointers: without them the byte stores to `codes` may alias everything and the loop does
// not vectorize.
void quant_column(const float* __restrict w, const float* __restrict cs, const float* __restrict cz, float d, const Lanes l, int R,
                  uint8_t* __restrict codes, float* __restrict qt, float* __restrict e) {
    for (int r = 0; r < R; ++r) {
        const float u = lane_u(w[r], cs[r], cz[r], l);
        const float q = lane_value(u, cs[r], cz[r]);
        codes[r] = (uint8_t)lane_code(u, l);
        qt[r] = q;
        e[r] = (w[r] - q) / d;
    }
}

void gptq_rows(GptqRows& a) {
    const int K = a.K, R = a.R;
    const bool z = a.has_zero;
    const Lanes l = lanes_for(a.bits, z);
    // The grid of the current group for every row, contiguous so the column loop vectorizes.
    float* cs = a.err + (size_t)a.block * R;   // R scales
    float* cz = cs + R;                         // R zeros (as they enter the formula)
    int cur = -1;
    double loss = 0;
    for (int b0 = 0; b0 < K; b0 += a.block) {
        const int b1 = b0 + a.block < K ? b0 + a.block : K;
        for (int k = b0; k < b1; ++k) {
            const int g = a.group_of[k];
            float* w = a.Wt + (size_t)k * R;
            if (a.recompute[k]) {
                for (int r = 0; r < R; ++r) {
                    const Grid gr = grid_for(w + r, a.group_len, (size_t)R, a.bits, z);
                    const size_t pi = (size_t)r * a.groups + g;
                    a.scale[pi] = gr.s;
                    a.scale_bits[pi] = gr.s_bits;
                    a.zero[pi] = gr.z;
                }
                cur = -1;
            }
            if (g != cur) {
                for (int r = 0; r < R; ++r) {
                    const size_t pi = (size_t)r * a.groups + g;
                    cs[r] = a.scale[pi];
                    cz[r] = z ? (float)a.zero[pi] : 0.0f;
                }
                cur = g;
            }
            const float d = a.U[(size_t)k * K + k];
            float* e = a.err + (size_t)(k - b0) * R;
            uint8_t* codes = a.codes + (size_t)k * R;
            float* qt = a.Qt + (size_t)k * R;
            quant_column(w, cs, cz, d, l, R, codes, qt, e);
            for (int r = 0; r < R; ++r) loss += (double)e[r] * (double)e[r] * 0.5;
            // Immediate update of the rest of the block.
            const float* u = a.U + (size_t)k * K;
            for (int j = k + 1; j < b1; ++j) {
                const float f = u[j];
                float* wj = a.Wt + (size_t)j * R;
                for (int r = 0; r < R; ++r) wj[r] -= f * e[r];
            }
        }
        // Lazy update of all later columns: Wt[b1:] -= U[b0:b1, b1:]^T Err.
        if (b1 < K)
            gemm(K - b1, R, b1 - b0, -1.0f, a.U + (size_t)b0 * K + b1, K, true, a.err, R, false, 1.0f, a.Wt + (size_t)b1 * R, R);
    }
    a.loss = loss;
}

void fake_quant_rows(const float* W, int R, int K, int bits, bool has_zero, int group_len, float* out) {
    const Lanes l = lanes_for(bits, has_zero);
    for (int r = 0; r < R; ++r) {
        const float* w = W + (size_t)r * K;
        float* o = out + (size_t)r * K;
        for (int k0 = 0; k0 < K; k0 += group_len) {
            const Grid g = grid_for(w + k0, group_len, 1, bits, has_zero);
            const float s = g.s, zz = lane_zero(g, has_zero);
            for (int i = 0; i < group_len; ++i) o[k0 + i] = lane_value(lane_u(w[k0 + i], s, zz, l), s, zz);
        }
    }
}

void clip_delta(const float* W, int ldw, int R, int gl, const float* maxv, int ldm, float f, int bits, bool has_zero, float* tmp, float* D) {
    const Lanes l = lanes_for(bits, has_zero);
    for (int j = 0; j < R; ++j) {
        const float* w = W + (size_t)j * ldw;
        const float m = maxv[(size_t)j * ldm] * f, nm = -m;
        for (int i = 0; i < gl; ++i) {
            float v = w[i] < nm ? nm : w[i];
            tmp[i] = v > m ? m : v;
        }
        const Grid g = grid_for(tmp, gl, 1, bits, has_zero);
        const float s = g.s, zz = lane_zero(g, has_zero);
        float* d = D + (size_t)j * gl;
        for (int i = 0; i < gl; ++i) d[i] = lane_value(lane_u(tmp[i], s, zz, l), s, zz) - w[i];
    }
}

#define QB_STR2(x) #x
#define QB_STR(x) QB_STR2(x)
const Ops kOps = {QB_STR(QB_LA_VARIANT) + 3, QB_STR(EIGEN_WORLD_VERSION) "." QB_STR(EIGEN_MAJOR_VERSION) "." QB_STR(EIGEN_MINOR_VERSION), gemm, syrk_lower, inverse_upper_factor, gptq_rows, fake_quant_rows, clip_delta};

}  // namespace

const Ops* table() { return &kOps; }

}  // namespace qb::quant::la::QB_LA_VARIANT
