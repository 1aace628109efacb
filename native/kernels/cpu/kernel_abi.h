// kernel_abi.h: what the dispatcher (cpu_kernels.cpp) hands to the per-ISA translation units.
// Plain structs and declarations only: these headers are compiled with different -m flags,
// so nothing here may define a function with external linkage (qformat.h's helpers are
// static inline for the same reason).
#pragma once
#include <cstddef>
#include <cstdint>

#include "qformat.h"

namespace qb::cpu {

struct GemmArgs {
    int M = 0, N = 0, K = 0;
    const float* X = nullptr;            // M x K
    // Activations laid out for the kernel: for INT4, every full 32-value chunk of each row is
    // de-interleaved (the 16 even k, then the 16 odd k) to match the nibble order, so the
    // kernel needs no shuffle per weight; the K % 32 tail stays in natural order. Others: X.
    const float* Xp = nullptr;
    // W8A8: activations quantized per row (quantize_act_ref's rule), rows padded with zeros
    // to ldq (a multiple of 64), their scales and the sum of each row's int8 values. Written
    // by *_quantize_acts (the dispatcher owns the buffers), read by *_rows.
    int8_t* Xq = nullptr;
    int ldq = 0;
    float* sx = nullptr;
    int32_t* xsum = nullptr;
    // INT4 / INT3 / INT2 / INT8 weight-only on avx512-vnni (fixed16_acts_avx512vnni.cpp), and INT4
    // on avx2 (w4a16_avx2_fixed16.cpp, same layout): each row of X in
    // 16-bit fixed point per 128-value block (qformat.h fixed16_exp), 256 bytes per block in
    // the weight policy's order, rows ldx bytes apart; xstep[m][b] = 2^-e of the block;
    // xcorr[m][b][16] = -offset x each lane's sum of a_k; xgs[m][g] = the sum of row m's
    // a_k 2^-e over group g (INT4 / INT3 / INT2 zero points only, rounded to float once);
    // xbad[m] = 1 if row m holds an infinity or NaN (the call then takes the FP32 path).
    // Written by fixed16_prepare_acts, read by w4a16_rows / w3a16_rows / w8a16_rows.
    int8_t* Xs = nullptr;
    int ldx = 0;
    float* xstep = nullptr;
    int32_t* xcorr = nullptr;
    float* xgs = nullptr;
    uint8_t* xbad = nullptr;
    // The order the fixed16 kernels walk the weight rows in (cpu_kernels.h RowOrder, set by the
    // dispatcher): row_stride rows between the rows of one 4-row register block, and software
    // prefetch prefetch_bytes ahead (0: none, the hardware prefetchers alone).
    int row_stride = 1;
    size_t prefetch_bytes = 0;
    const QuantizedMatrix* W = nullptr;  // quantized families
    const float* Wf = nullptr;           // fp32: N x K
    float* Y = nullptr;                  // M x N
};

// Computes Y[m][n] for all m < M and n in [n0, n1).
using RowsFn = void (*)(const GemmArgs& a, int n0, int n1);
// Quantizes rows [m0, m1) of X into Xq / sx / xsum (W8A8).
using ActQuantFn = void (*)(const GemmArgs& a, int m0, int m1);

#define QB_DECLARE_FAMILY(ns)                                     \
    namespace ns {                                                \
    void w8a16_rows(const GemmArgs& a, int n0, int n1);           \
    void w4a16_rows(const GemmArgs& a, int n0, int n1);           \
    void w8a8_rows(const GemmArgs& a, int n0, int n1);            \
    void w8a8_quantize_acts(const GemmArgs& a, int m0, int m1);   \
    }
QB_DECLARE_FAMILY(scalar)
#undef QB_DECLARE_FAMILY
namespace eigen_generic { void fp32_rows(const GemmArgs& a, int n0, int n1); }
#if defined(QB_CPU_SCALAR_ONLY)
// Not x86: only the scalar units are built; the SIMD names resolve to them (never selected,
// since detected_isa() is scalar there).
namespace avx2 = scalar;
namespace avx512 = scalar;
namespace scalar {   // never selected off x86
static inline void w4a16_fixed16_rows(const GemmArgs&, int, int) {}
static inline void fixed16_prepare_acts_int4(const GemmArgs&, int, int) {}
}  // namespace scalar
namespace avx512vnni {
using scalar::w8a8_rows;
using scalar::w8a8_quantize_acts;
static inline void w4a16_rows(const GemmArgs&, int, int) {}   // never selected off x86
static inline void w3a16_rows(const GemmArgs&, int, int) {}
static inline void w8a16_rows(const GemmArgs&, int, int) {}
static inline void fixed16_prepare_acts(const GemmArgs&, int, int) {}
}  // namespace avx512vnni
namespace eigen_avx512 = eigen_generic;
namespace eigen_avx2 = eigen_generic;
#else
namespace avx2 {
void w8a16_rows(const GemmArgs& a, int n0, int n1);
void w4a16_rows(const GemmArgs& a, int n0, int n1);
void w8a8_rows(const GemmArgs& a, int n0, int n1);
void w8a8_quantize_acts(const GemmArgs& a, int m0, int m1);
// INT4, groups of whole 128-value blocks or per-channel, on the fixed16 activations
// (w4a16_avx2_fixed16.cpp): for AVX2 CPUs without AVX512_VNNI.
void w4a16_fixed16_rows(const GemmArgs& a, int n0, int n1);
void fixed16_prepare_acts_int4(const GemmArgs& a, int m0, int m1);
}  // namespace avx2
namespace avx512 {
void w8a16_rows(const GemmArgs& a, int n0, int n1);
void w4a16_rows(const GemmArgs& a, int n0, int n1);
}  // namespace avx512
namespace avx512vnni {
void w8a8_rows(const GemmArgs& a, int n0, int n1);
void w8a8_quantize_acts(const GemmArgs& a, int m0, int m1);
void w4a16_rows(const GemmArgs& a, int n0, int n1);   // INT4 and INT2
void w3a16_rows(const GemmArgs& a, int n0, int n1);   // INT3, needs AVX512_VBMI too (w3a16_avx512vbmi.cpp)
void w8a16_rows(const GemmArgs& a, int n0, int n1);
void fixed16_prepare_acts(const GemmArgs& a, int m0, int m1);
}  // namespace avx512vnni
// The Eigen baseline, one build per ISA (fp32_eigen.cpp with QB_EIGEN_VARIANT).
namespace eigen_avx512 { void fp32_rows(const GemmArgs& a, int n0, int n1); }
namespace eigen_avx2 { void fp32_rows(const GemmArgs& a, int n0, int n1); }
#endif

// Weight-row blocking shared by the SIMD files: rows per register block.
inline constexpr int kRowBlock = 4;

// Rows between the rows of one register block in the avx512-vnni INT4 kernel: 1 for rows of
// 4 KB or more, else enough that the block's rows lie in different 4 KB pages (at most 4).
// Why: with 2 KB rows (K = 4096) a block of 4 adjacent rows reads two interleaved streams in
// each page, and the kernel ran 10-12% slower per byte than on 5.5 KB rows; blocks of rows
// n, n+2, n+4, n+6 (then n+1, n+3, ...) read each page as one stream per visit and closed
// that gap (docs/cpu-kernels.md, "Short rows"). Static: this header is built with several -m
// flag sets.
static constexpr int int4_row_stride(size_t row_bytes) {
    constexpr size_t kPage = 4096;
    if (row_bytes >= kPage) return 1;
    const size_t s = (kPage + row_bytes - 1) / row_bytes;
    return s > 4 ? 4 : (int)s;
}
// Software prefetch distance of the fixed16 kernels with short runs (RowOrder::short_runs): as
// the BF16 kernel before them (tuned on the Xeon VMs, docs/cpu-kernels.md "Prefetch").
inline constexpr size_t kFixed16PrefetchBytes = 16384;
// Rows of one run with RowOrder::long_runs, at most (fewer where the rows would make too few
// tasks for the threads: fixed16_row_stride).
inline constexpr int kLongRunRows = 32;
// Bytes of one 128-value block of fixed16 activations (GemmArgs::Xs): hi and lo bytes for each
// of the weight policy's two 64-byte vectors.
inline constexpr int kFixed16ActBlockBytes = 4 * 64;
// Target bytes of the X slice that a K block keeps hot in L2 (per thread).
inline constexpr size_t kXSliceBytes = 256 * 1024;

}  // namespace qb::cpu
