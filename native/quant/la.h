// la.h: the heavy numerical kernels of the quantizers (internal to native/quant).
//
// Built once per ISA level (la_impl.cpp with QB_LA_VARIANT = la_generic | la_avx2 | la_avx512
// and the matching -m flags, like native/kernels/cpu/fp32_eigen.cpp) and chosen at run time.
// Everything here is plain structs and raw row-major pointers: these declarations are seen by
// translation units built with different -m flags, so nothing here may define a function with
// external linkage, and the variant units use no std:: containers (their weak template
// symbols could otherwise be picked by the linker for baseline code). Eigen lives only in
// la_impl.cpp, in a renamed namespace per variant.
//
// [SECTION] Index
//   1. GptqRows: the arguments of the blocked GPTQ / LDLQ column loop over a slab of rows
//   2. Ops: the function table of one ISA build
//   3. ops(): the table for this CPU; parallel helpers (la.cpp) on the qb::cpu thread pool
#pragma once
#include <cstddef>
#include <cstdint>

namespace qb::quant::la {

// ============================================================================================
// [SECTION] 1. GPTQ column loop
// ============================================================================================
// One slab of R weight rows, stored transposed (Wt is K x R row-major, so processing column k
// of every row of the slab is one contiguous row of Wt). Columns are in processing order (the
// act-order permutation, if any, was applied by the caller). For each column k:
//   if recompute[k]: the grid (scale, zero) of group group_of[k] of every row is computed from
//                    the current, fully updated values of columns [k, k + group_len)
//   q = Q(w_k) on that grid;  err = (w_k - q) / U[k][k];  w_j -= err U[k][j] for j > k
// with the updates of columns past the current block deferred and applied as one GEMM
// (Wt[b1:] -= U[b0:b1, b1:]^T Err) at the end of each block: GPTQ's "lazy batch" update.
struct GptqRows {
    int K = 0;                       // columns
    int R = 0;                       // rows in this slab
    float* Wt = nullptr;             // K x R, updated in place (ends as the updated weights)
    const float* U = nullptr;        // K x K row-major, upper factor of H^-1 (H^-1 = U^T U)
    int block = 128;                 // lazy-update block size (GPTQ's blocksize)
    int bits = 4;
    bool has_zero = false;
    int group_len = 128;             // values per group in processing order (K: per-channel)
    int groups = 1;                  // groups per row (params arrays are R x groups)
    const int32_t* group_of = nullptr;       // K: group index of each processing column
    const uint8_t* recompute = nullptr;      // K: 1 where the group's grid is computed (dynamic groups)
    float* scale = nullptr;          // R x groups: the stored scale as float (in/out)
    uint16_t* scale_bits = nullptr;  // R x groups: its FP16 bits (in/out)
    int32_t* zero = nullptr;         // R x groups: the zero (stored or implicit) (in/out)
    uint8_t* codes = nullptr;        // K x R: the stored code of each weight (u; INT8: the int8 byte)
    float* Qt = nullptr;             // K x R: the dequantized value (level x scale, as dequant_at)
    float* err = nullptr;            // scratch: (block + 2) x R
    double loss = 0;                 // out: GPTQ's loss, sum of (w - q)^2 / U[k][k]^2 / 2
};

// ============================================================================================
// [SECTION] 2. Ops
// ============================================================================================
struct Ops {
    const char* isa;   // "generic", "avx2", "avx512"
    const char* eigen; // Eigen's version, "3.4.0"
    // C (M x N, ldc) = beta C + alpha op(A) op(B); op(A) is M x Kd, op(B) is Kd x N. beta == 0
    // overwrites C (NaN in C does not survive).
    void (*gemm)(int M, int N, int Kd, float alpha, const float* A, int lda, bool trans_a, const float* B, int ldb,
                 bool trans_b, float beta, float* C, int ldc);
    // G (K x K, column-major, lower triangle) += X^T X for X (T x K, row stride ldx).
    void (*syrk_lower)(int T, int K, const float* X, int ldx, float* G);
    // H (K x K row-major, symmetric positive definite) -> the upper factor U of H^-1
    // (H^-1 = U^T U, U upper with a positive diagonal), in place; the strict lower triangle
    // is set to 0. False when H is not positive definite (H is then garbage).
    bool (*inverse_upper_factor)(int K, float* H);
    void (*gptq_rows)(GptqRows& a);
    // Round-to-nearest of rows [0, R) of W (R x K, row stride K) on the qformat grid (group_len
    // values per group), writing the dequantized values to out (R x K). Exactly quantize_ref's
    // numbers (grid.h), without packing.
    void (*fake_quant_rows)(const float* W, int R, int K, int bits, bool has_zero, int group_len, float* out);
    // AWQ's clip candidate on one group of R rows: with m_j = maxv[j ldm] x f,
    // D[j][i] = Q(clamp(w_ji, -m_j, m_j)) - w_ji on the group's own grid (W: row stride ldw,
    // group_len values from each row start; D: R x group_len; tmp: group_len floats).
    void (*clip_delta)(const float* W, int ldw, int R, int group_len, const float* maxv, int ldm, float f, int bits, bool has_zero,
                       float* tmp, float* D);
};

// The optional AMX path of the calibration pass (la_amx.cpp; stubs off x86).
namespace amx {
bool available();   // CPUID reports AMX-BF16 and the kernel granted the tile state
// G (row-major, leading dimension ldg >= K rounded up to 32, as many rows) += bf16(X)^T bf16(X)
// with FP32 sums; exact on the blocks i >= j (G[j ldg + i]); the diagonal blocks' lower
// halves are written too and must be ignored. X: T x K, row stride ldx.
void syrk_bf16(int T, int K, const float* X, int ldx, float* G, int ldg);
}  // namespace amx

// ============================================================================================
// [SECTION] 3. Dispatch and parallel helpers (la.cpp, baseline ISA)
// ============================================================================================
const Ops& ops();        // the best build for this CPU, capped by QB_CPU_ISA like the kernels
const char* isa_name();  // ops().isa

// C = beta C + alpha A B^T with A (M x Kd) and B (N x Kd) row-major: N split across the pool.
void gemm_abt(int M, int N, int Kd, float alpha, const float* A, int lda, const float* B, int ldb, float beta, float* C, int ldc);
// Y (R x K) = RTN of W on the grid, rows split across the pool.
void fake_quant(const float* W, int R, int K, int bits, bool has_zero, int group_len, float* out);

}  // namespace qb::quant::la
