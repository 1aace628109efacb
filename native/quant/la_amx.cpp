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
//   B[p][k] = (bf16 X[2p][k]) | (bf16 X[2p+1][k]) << 16     (two token rows interleaved)
//   A[k][p] = B[p][k]                                        (a 32-bit transpose)
// so an A tile is 16 features x 32 tokens and a B tile 32 tokens x 16 features; both are
// stored tile by tile (each tile 1 KB contiguous). A block of
// 32 x 32 outputs uses the four C tiles, two A and two B tiles (all eight tile registers);
// the C tiles are loaded from and stored to the accumulator once per slice of 1024 tokens.
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
    const int FB = Kp / 16, PB = P / 16;   // feature and pair blocks of 16
    // Every tile is stored as its own contiguous 1 KB (rows 64 bytes apart): row strides of a
    // power of two kilobytes would put all 16 rows of a tile load in one L1 set.
    uint32_t* Bt = static_cast<uint32_t*>(std::aligned_alloc(64, (size_t)FB * PB * 1024));
    uint32_t* At = static_cast<uint32_t*>(std::aligned_alloc(64, (size_t)FB * PB * 1024));
    auto btile = [&](int fb, int pb) { return Bt + ((size_t)fb * PB + pb) * 256; };
    auto atile = [&](int fb, int pb) { return At + ((size_t)fb * PB + pb) * 256; };
    for (int pb = 0; pb < PB; ++pb)
        for (int r = 0; r < 16; ++r) {
            const int t0 = 2 * (pb * 16 + r);
            const float* x0 = t0 < T ? X + (size_t)t0 * ldx : nullptr;
            const float* x1 = t0 + 1 < T ? X + (size_t)(t0 + 1) * ldx : nullptr;
            for (int fb = 0; fb < FB; ++fb) {
                uint32_t* row = btile(fb, pb) + r * 16;
                for (int c = 0; c < 16; ++c) {
                    const int k = fb * 16 + c;
                    const uint32_t lo = x0 && k < K ? bf16_bits(x0[k]) : 0u, hi = x1 && k < K ? bf16_bits(x1[k]) : 0u;
                    row[c] = lo | (hi << 16);
                }
            }
        }
    // The A tile of (features, pairs) is the transpose of the B tile of the same blocks.
    for (int fb = 0; fb < FB; ++fb)
        for (int pb = 0; pb < PB; ++pb) {
            const uint32_t* b = btile(fb, pb);
            uint32_t* a = atile(fb, pb);
            for (int r = 0; r < 16; ++r)
                for (int c = 0; c < 16; ++c) a[c * 16 + r] = b[r * 16 + c];
        }

    TileConfig cfg;
    for (int t = 0; t < 8; ++t) {
        cfg.colsb[t] = 64;
        cfg.rows[t] = 16;
    }
    _tile_loadconfig(&cfg);
    const size_t sg = (size_t)ldg * 4;
    // Token slices of 1024 (32 pair blocks): the C tiles are loaded and stored once per slice.
    // Within a slice, 256 x 256 macro blocks keep their A and B tiles (512 KB each) in L2.
    constexpr int kSlice = 32, kMacro = 256;
    for (int pc = 0; pc < PB; pc += kSlice) {
        const int pe = pc + kSlice < PB ? pc + kSlice : PB;
        for (int JB = 0; JB < Kp; JB += kMacro)
            for (int IB = JB; IB < Kp; IB += kMacro) {
                const int je = JB + kMacro < Kp ? JB + kMacro : Kp, ie = IB + kMacro < Kp ? IB + kMacro : Kp;
                for (int jb = JB; jb < je; jb += 32)
                    for (int ib = IB > jb ? IB : jb; ib < ie; ib += 32) {
                        float* c = G + (size_t)jb * ldg + ib;
                        _tile_loadd(0, c, sg);
                        _tile_loadd(1, c + 16, sg);
                        _tile_loadd(2, c + (size_t)16 * ldg, sg);
                        _tile_loadd(3, c + (size_t)16 * ldg + 16, sg);
                        for (int pb = pc; pb < pe; ++pb) {
                            _tile_loadd(4, atile(jb / 16, pb), 64);
                            _tile_loadd(5, atile(jb / 16 + 1, pb), 64);
                            _tile_loadd(6, btile(ib / 16, pb), 64);
                            _tile_loadd(7, btile(ib / 16 + 1, pb), 64);
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
    }
    _tile_release();
    std::free(At);
    std::free(Bt);
}

}  // namespace qb::quant::la::amx
