// fp32_eigen.cpp: the dense FP32 baseline, Y = X W^T through Eigen (the only file that
// includes Eigen). Built three times by CMake with QB_EIGEN_VARIANT = eigen_avx512 |
// eigen_avx2 | eigen_generic and the matching -m flags, so the baseline uses the same ISA
// level as the kernels it is compared with.
//
// Why the namespace rename: Eigen is header-only templates. Three builds with different -m
// flags would otherwise emit the same weak symbols (Eigen::internal::gebp_kernel<...>), and
// the linker would keep one of them - possibly the AVX-512 one - for all three, which crashes
// on a CPU without AVX-512. `#define Eigen <variant>_Eigen` before the first include gives
// each build its own namespace and symbols.
//
// Threads: Eigen is built without OpenMP, so it is single-threaded; the dispatcher splits N
// across the pool like every other family, and each task runs one Eigen product on its rows
// (a GEMV at M = 1, a blocked GEMM otherwise).
#ifndef QB_EIGEN_VARIANT
#error "QB_EIGEN_VARIANT must name the build (eigen_avx512, eigen_avx2 or eigen_generic)"
#endif
#define QB_CAT2(a, b) a##b
#define QB_CAT(a, b) QB_CAT2(a, b)
#define Eigen QB_CAT(QB_EIGEN_VARIANT, _Eigen)
#if defined(__x86_64__) || defined(__i386__)
#include "simd.h"   // first, so Eigen's own <immintrin.h> include is the silenced one
#endif
#define EIGEN_DONT_PARALLELIZE
#define EIGEN_NO_DEBUG
#include <Eigen/Core>

#include <algorithm>

#include "kernel_abi.h"

namespace qb::cpu::QB_EIGEN_VARIANT {

// Up to this M the baseline runs GEMVs over L2-sized weight blocks (see fp32_rows).
constexpr int kGemvMaxM = 8;
constexpr size_t kGemvBlockBytes = 512 * 1024;

void fp32_rows(const GemmArgs& a, int n0, int n1) {
    using RowMat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
    const int rows = n1 - n0;
    Eigen::Map<const RowMat> W(a.Wf + (size_t)n0 * a.K, rows, a.K);
    Eigen::Map<RowMat, 0, Eigen::OuterStride<>> Y(a.Y + n0, a.M, rows, Eigen::OuterStride<>(a.N));
    if (a.M <= kGemvMaxM) {
        // Skinny M: Eigen's GEMM would pack the whole weight panel for a handful of rows
        // (measured 3-5x slower per byte than its GEMV at M = 2..4). Instead, a block of weight
        // rows small enough to stay in L2 gets one GEMV per activation row, so the weights come
        // from DRAM once and every GEMV after the first reads them from L2.
        const int block = std::max(4, std::min(rows, (int)(kGemvBlockBytes / (sizeof(float) * (size_t)a.K))));
        for (int b = 0; b < rows; b += block) {
            const int nb = std::min(block, rows - b);
            const auto Wb = W.middleRows(b, nb);
            for (int m = 0; m < a.M; ++m) {
                Eigen::Map<const Eigen::VectorXf> x(a.X + (size_t)m * a.K, a.K);
                Eigen::Map<Eigen::VectorXf> y(a.Y + (size_t)m * a.N + n0 + b, nb);
                y.noalias() = Wb * x;   // row-major GEMV: one dot product per weight row
            }
        }
    } else {
        Eigen::Map<const RowMat> X(a.X, a.M, a.K);
        Y.noalias() = X * W.transpose();
    }
}

}  // namespace qb::cpu::QB_EIGEN_VARIANT
