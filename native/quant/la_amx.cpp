// la_amx.cpp: the optional BF16 rank update of the calibration pass on Intel AMX
// (`quantize --hessian bf16`), G += X^T X with X rounded to bfloat16 and products summed in
// FP32 by TDPBF16PS. Built only on x86 with -mamx-tile -mamx-bf16; used only when CPUID
// reports AMX-BF16 and the kernel grants this process the tile state (arch_prctl
// ARCH_REQ_XCOMP_PERM). Raw pointers and malloc only: this unit is compiled with flags the
// baseline CPU may lack, so it must not emit weak template symbols the linker could share
// with baseline code (see la.h).
//
// Layout. TDPBF16PS computes C[m][n] += sum_p A[m][2p] B[p][2n] + A[m][2p+1] B[p][2n+1] on
// 16 x 16 FP32 tiles, A rows of 32 bf16, B rows of 16 bf16 pairs ("VNNI" order). For
// H = X^T X with X tokens x K:
//   Bp[p][k] = (bf16 X[2p][k]) | (bf16 X[2p+1][k]) << 16     (two token rows interleaved)
//   Ap[k][p] = Bp[p][k]                                        (a 32-bit transpose)
// so an A tile is 16 features x 32 tokens and a B tile 32 tokens x 16 features. A block of
// 32 x 32 outputs uses the four C tiles, two A and two B tiles (all eight tile registers);
// the tokens go in slices of 256 (A slice 16 KB stays in L1, the B panel 2 MB in L2), the C
// tiles are loaded from and stored to the accumulator once per slice.
// The accumulator is row-major with leading dimension ldg >= K rounded up to 32; the blocks
// with i >= j (the upper triangle in that reading, G[j ldg + i]) are exact, the rest of the
// diagonal blocks is written too and must be ignored.
#include <cpuid.h>
#include <immintrin.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "la.h"

namespace qb::quant::la::amx {

namespace {

struct alignas(64) TileConfig {
    uint8_t palette = 1, start_row = 0;
    uint8_t reserved[14] = {};
    uint16_t colsb[16] = {};
    uint8_t rows[16] = {};
};

inline uint32_t bf16_bits(float f) {   // round to nearest even (finite inputs)
    uint32_t u;
    std::memcpy(&u, &f, 4);
    u += 0x7fffu + ((u >> 16) & 1u);
    return u >> 16;
}

int probe() {
    unsigned a, b, c, d;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
    const bool amx_bf16 = (d >> 22) & 1u, amx_tile = (d >> 24) & 1u;
    if (!amx_bf16 || !amx_tile) return 0;
    // Linux: ask for the AMX tile data state (XFEATURE_XTILEDATA = 18); refused -> unusable.
    return syscall(SYS_arch_prctl, 0x1023 /* ARCH_REQ_XCOMP_PERM */, 18) == 0 ? 1 : 0;
}

}  // namespace

bool available() {
    static const int ok = probe();
    return ok == 1;
}

void syrk_bf16(int T, int K, const float* X, int ldx, float* G, int ldg) {
    if (T <= 0 || K <= 0) return;
    const int Kp = (K + 31) / 32 * 32, Tp = (T + 31) / 32 * 32, P = Tp / 2;
    uint32_t* Bp = static_cast<uint32_t*>(std::aligned_alloc(64, (size_t)P * Kp * 4));
    uint32_t* Ap = static_cast<uint32_t*>(std::aligned_alloc(64, (size_t)Kp * P * 4));
    for (int p = 0; p < P; ++p) {
        uint32_t* b = Bp + (size_t)p * Kp;
        const float* x0 = 2 * p < T ? X + (size_t)(2 * p) * ldx : nullptr;
        const float* x1 = 2 * p + 1 < T ? X + (size_t)(2 * p + 1) * ldx : nullptr;
        for (int k = 0; k < K; ++k) b[k] = (x0 ? bf16_bits(x0[k]) : 0u) | ((x1 ? bf16_bits(x1[k]) : 0u) << 16);
        for (int k = K; k < Kp; ++k) b[k] = 0;
    }
    for (int p0 = 0; p0 < P; p0 += 16)
        for (int k0 = 0; k0 < Kp; k0 += 16)
            for (int p = p0; p < p0 + 16; ++p)
                for (int k = k0; k < k0 + 16; ++k) Ap[(size_t)k * P + p] = Bp[(size_t)p * Kp + k];

    TileConfig cfg;
    for (int t = 0; t < 8; ++t) {
        cfg.colsb[t] = 64;
        cfg.rows[t] = 16;
    }
    _tile_loadconfig(&cfg);
    const size_t sg = (size_t)ldg * 4, sa = (size_t)P * 4, sb = (size_t)Kp * 4;
    constexpr int kSlice = 128;   // token pairs per slice (256 tokens)
    for (int pc = 0; pc < P; pc += kSlice) {
        const int pe = pc + kSlice < P ? pc + kSlice : P;
        for (int jb = 0; jb < Kp; jb += 32)
            for (int ib = jb; ib < Kp; ib += 32) {
                float* c = G + (size_t)jb * ldg + ib;
                _tile_loadd(0, c, sg);
                _tile_loadd(1, c + 16, sg);
                _tile_loadd(2, c + (size_t)16 * ldg, sg);
                _tile_loadd(3, c + (size_t)16 * ldg + 16, sg);
                for (int p = pc; p < pe; p += 16) {
                    _tile_loadd(4, Ap + (size_t)jb * P + p, sa);
                    _tile_loadd(5, Ap + (size_t)(jb + 16) * P + p, sa);
                    _tile_loadd(6, Bp + (size_t)p * Kp + ib, sb);
                    _tile_loadd(7, Bp + (size_t)p * Kp + ib + 16, sb);
                    _tile_dpbf16ps(0, 4, 6);
                    _tile_dpbf16ps(1, 4, 7);
                    _tile_dpbf16ps(2, 5, 6);
                    _tile_dpbf16ps(3, 5, 7);
                }
                _tile_stored(0, c, sg);
                _tile_stored(1, c + 16, sg);
                _tile_stored(2, c + (size_t)16 * ldg, sg);
                _tile_stored(3, c + (size_t)16 * ldg + 16, sg);
            }
    }
    _tile_release();
    std::free(Ap);
    std::free(Bp);
}

}  // namespace qb::quant::la::amx
