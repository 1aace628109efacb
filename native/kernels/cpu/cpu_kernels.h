// cpu_kernels.h: qbench's CPU GEMM kernels, Y[M][N] = X[M][K] . W^T, for the formats of
// shared/qformat.h. Float activations in and float outputs out, row-major everywhere.
//
// [SECTION] Families (one file per family and ISA in this folder)
//   fp32   dense FP32 baseline through Eigen (fp32_eigen.cpp, built once per ISA)
//   w8a16  INT8 weights, per-row scale, float activations (w8a16_*.cpp)
//   w4a16  INT4 / INT3 / INT2 group-wise weights, float activations (w4a16_*.cpp); INT4 is the
//          tuned path, 3 and 2 bits share its structure with a costlier unpack. At the
//          avx512-vnni level INT4 and INT3 (groups 32, 64, multiples of 128, per-channel;
//          INT3 where the CPU has AVX512_VBMI), INT2 (multiples of 128, per-channel) and INT8
//          round the activations to 16-bit fixed point per 128-value block and multiply
//          bytes with VPDPBUSD (w4a16_ / w3a16_avx512vbmi / w8a16_avx512vnni.cpp): a different
//          reference (KernelRun::fixed16_acts) and error bound (error_bound below).
//   w8a8   INT8 weights x dynamically quantized INT8 activations, int32 accumulation
//          (w8a8_*.cpp: VNNI vpdpbusd, or AVX2 vpmaddubsw with the sign trick)
//
// [SECTION] ISA dispatch
//   Every family has a scalar fallback and SIMD paths compiled in their own translation units
//   with per-file flags. The path is chosen at run time with __builtin_cpu_supports: the best
//   level the CPU has, capped by QB_CPU_ISA=scalar|avx2|avx512|avx512-vnni (environment) or
//   set_isa_cap() (API), so tests can force and check every path this CPU supports. A family
//   without a path at the cap uses the next lower one (w8a8 at "avx512" runs the AVX2 code);
//   the result says which implementation ran.
//
// [SECTION] Threads
//   All families split N (the output features, i.e. weight rows) across the persistent pool of
//   thread_pool.h in contiguous chunks: every weight byte is read by exactly one thread, once
//   (at M = 1 the layer is one stream of weights, and that is all that matters). Each thread
//   then walks its rows in blocks of 4 and, within a block, the M rows of X in blocks of up to
//   4, so a weight block is decoded once per 4 activation rows and stays in L1 while it is
//   reused; for larger M the K dimension is blocked so the X slice stays in L2.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "qformat.h"

namespace qb::cpu {

// Each level includes the ones below it (avx512 = F/BW/VL/DQ; avx512-vnni adds AVX512_VNNI).
// Results before session 7 also name "avx512-bf16", a level whose INT4 kernel (BF16
// activations, VDPBF16PS) the avx512-vnni one replaced (docs/cpu-kernels.md).
enum class Isa : uint8_t { scalar = 0, avx2 = 1, avx512 = 2, avx512_vnni = 3 };
const char* isa_name(Isa i);              // "scalar", "avx2", "avx512", "avx512-vnni"
bool parse_isa(const std::string& s, Isa* out);
Isa detected_isa();                       // the best level this CPU supports
bool isa_supported(Isa i);
// Whether INT3 runs on the avx512-vnni level's fixed16 kernel here: it also needs AVX512_VBMI
// (w3a16_avx512vbmi.cpp); without it INT3 takes the avx512 level's FP32-activation path.
bool int3_fixed16_supported();
std::vector<Isa> supported_isas();        // scalar first
// Caps the level the kernels use (false, and no change, if the CPU lacks it). Overrides QB_CPU_ISA.
bool set_isa_cap(Isa i);
Isa active_isa();                         // min(detected, cap)
// The order the avx512-vnni weight-only (fixed16) kernels walk the weight rows in. Each thread
// streams 4 rows at a time (one register block), and how those streams are laid out decides
// how well the CPU's prefetchers keep up (docs/cpu-kernels.md, session 11):
//   short_runs  the block's 4 rows 1-4 rows apart (in different 4 KB pages: int4_row_stride),
//               software prefetch 16 KB ahead. Tuned on Intel Xeons (Sapphire / Emerald Rapids).
//   long_runs   where the launch is a weight stream (long_runs_apply: M = 1, INT8 also M = 2)
//               the block's 4 rows up to kLongRunRows apart, so each stream runs on through
//               that many consecutive rows, and no software prefetch: the hardware prefetchers
//               alone; short runs at larger M. AMD Zen 4: INT8 1.2-2x, INT4 1.1-1.2x faster than
//               short runs at M = 1, INT8 1.2x at M = 2, but 3-15% slower from M = 2 (INT4) or
//               4 (INT8), where the kernels are bound by their arithmetic; the Xeon of the H100
//               host: 1.1-1.6x slower at M = 1 (session 11).
// The default follows the CPU's vendor (AMD: long_runs); QB_CPU_ROWS=short|long or
// set_row_order overrides it.
enum class RowOrder : uint8_t { short_runs = 0, long_runs = 1 };
const char* row_order_name(RowOrder o);   // "short", "long"
bool parse_row_order(const std::string& s, RowOrder* out);
RowOrder detected_row_order();            // this CPU's default
void set_row_order(RowOrder o);           // overrides QB_CPU_ROWS
RowOrder active_row_order();
// Rows between the rows of one register block for a matrix of N rows of rb bytes run on
// `threads` threads: short_runs int4_row_stride(rb); long_runs kLongRunRows, halved (down to
// int4_row_stride) while the groups of 4 x stride rows would give fewer than 4 per thread.
int fixed16_row_stride(size_t rb, int N, int threads, RowOrder o);
// Whether a launch of M activation rows and `bits`-bit weights runs long_runs when that is the
// active order (else short runs): M = 1, and M = 2 for INT8.
bool long_runs_apply(int M, int bits);
// The CPU features the environment block of a results file lists (avx2, fma, f16c, avx512f, ...).
std::vector<std::string> cpu_feature_list();

enum class Status : uint8_t { ok, bad_shape, bad_format, unsupported };
const char* status_str(Status s);

// What ran: the status and the implementation label stored with each measurement
// ("avx512-vnni", "avx512", "avx2", "scalar", or "eigen" for the FP32 baseline).
struct KernelRun {
    Status status = Status::ok;
    const char* impl = "";
    Isa isa = Isa::scalar;                // the ISA level of the code that ran (Eigen: its build)
    // The kernel rounded X to 16-bit fixed point per 128-value block (qformat.h fixed16_round)
    // before multiplying (the weight-only avx512-vnni paths: INT8, INT4, INT2, and INT3 where
    // int3_fixed16_supported().
    bool fixed16_acts = false;
    bool ok() const { return status == Status::ok; }
};

// X as run r multiplied it, its reference input: fixed16_round per row (r.fixed16_acts), or
// an empty vector when r used X as given.
std::vector<float> acts_as_run(const KernelRun& r, const float* X, int M, int K);

// How far output (m, n) of a run may be from its reference (matmul_ref / matmul_f32_ref of
// x_ref, the row m of X as the run saw it: acts_as_run), derived in tests/kernels/
// test_cpu_kernels.cpp. w = the quantized weights, or nullptr with wf_row = row n of the FP32
// weights. W8A8 runs are bit-identical: 0.
//   FP32 activations:     (K + 4) 2^-24 sum_k |x_k w_k|
//   fixed16 activations:  L 2^-24 sum_k |x_k| s_g (|u_k - o| + |z_g - o|) (1 + 2^-10)
//                         + ceil(K / 128) 2^-123,   L = 2 ceil(K / 128) + ceil(G / 16) + 12
//                         (INT8: (3 ceil(K / 128) + 12) 2^-24 sum_k |x_k w_k| + ceil(K / 128) 2^-123)
// (o = the codes' symmetric zero: 8, 4, 2 for INT4, INT3, INT2. Symmetric: L 2^-24 sum |x w|,
// the FP32 bound with a shorter chain since each block's sum is exact; stored zeros add the
// (z - o) s sum(x) correction's terms; the last term covers
// products that underflow below 2^-126 for blocks of activations under 2^-112).
double error_bound(const KernelRun& r, bool w8a8, const float* x_ref, int K, const QuantizedMatrix* w, const float* wf_row, int n);

// FP32 baseline: W is N x K row-major floats.
KernelRun gemm_fp32(const float* X, int M, const float* W, int N, int K, float* Y);
// Weight-only: bits 8 -> w8a16 family, bits 2..4 -> w4a16 family.
KernelRun gemm_weight_only(const float* X, int M, const QuantizedMatrix& W, float* Y);
// W8A8: W must be INT8 (bits 8, per-channel, no zero) with K <= kW8A8MaxK.
KernelRun gemm_w8a8(const float* X, int M, const QuantizedMatrix& W, float* Y);

inline constexpr int kMaxM = 4096;        // larger M is accepted by none of the entry points

}  // namespace qb::cpu
