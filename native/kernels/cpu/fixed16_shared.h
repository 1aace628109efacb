// fixed16_shared.h: what the fixed16 kernels of every ISA share (fixed16_tile_avx512vnni.h,
// fixed16_acts_avx512vnni.cpp, w4a16_avx2_fixed16.cpp): the walk over weight rows and K blocks,
// and the group sums of the activations. Internal linkage: each unit, built with its own -m
// flags, gets its own copy (kernel_abi.h).
#pragma once
#include "kernel_abi.h"

namespace qb::cpu {
namespace {

// K blocks per chunk: all of K where the activation rows fit one tile (M <= mstep); otherwise
// the X slice (M rows x kc blocks x kFixed16ActBlockBytes) stays within kXSliceBytes.
inline int fixed16_k_blocks(int M, int nblocks, int mstep) {
    if (M <= mstep) return nblocks;
    const long kb = (long)(kXSliceBytes / (kFixed16ActBlockBytes * (size_t)M));
    return kb < 2 ? 2 : (kb > nblocks ? nblocks : (int)kb);
}

// Rows [n0, n1) in groups of kRowBlock x rs (the dispatcher's task granule): rs strided tiles per
// group (rs = GemmArgs::row_stride, cpu_kernels.h RowOrder), then plain kRowBlock-row and 1-row
// tiles for the rest; K in chunks of fixed16_k_blocks, activation rows mstep at a time. The software
// prefetch distance is a whole number of row groups ahead (>= prefetch_bytes), so each row's
// prefetch lands on the same row of a later group (docs/cpu-kernels.md, "Prefetch"); 0: none.
// tile(n, rs, nb, pf, m, mb, b0, b1, first, last) runs rows n, n + rs, ... (nb = kRowBlock or 1)
// against activation rows m .. m + min(mb, mstep) - 1 over blocks [b0, b1).
template <class Tile>
void walk_fixed16_rows(const GemmArgs& a, int n0, int n1, int mstep, Tile&& tile) {
    const int nblocks = (a.K + kFixed16Block - 1) / kFixed16Block, kc = fixed16_k_blocks(a.M, nblocks, mstep);
    const int rs = a.row_stride > 0 ? a.row_stride : 1, span = kRowBlock * rs;
    const size_t group_bytes = (size_t)span * row_bytes(*a.W);
    const size_t pf = (a.prefetch_bytes + group_bytes - 1) / group_bytes * group_bytes;
    for (int b0 = 0; b0 < nblocks;) {
        const int b1 = b0 + kc < nblocks ? b0 + kc : nblocks;
        const bool first = b0 == 0, last = b1 == nblocks;
        int n = n0;
        for (; n + span <= n1; n += span)
            for (int i = 0; i < rs; ++i)
                for (int m = 0; m < a.M; m += mstep) tile(n + i, rs, kRowBlock, pf, m, a.M - m, b0, b1, first, last);
        for (; n + kRowBlock <= n1; n += kRowBlock)
            for (int m = 0; m < a.M; m += mstep) tile(n, 1, kRowBlock, pf, m, a.M - m, b0, b1, first, last);
        for (; n < n1; ++n)
            for (int m = 0; m < a.M; m += mstep) tile(n, 1, 1, pf, m, a.M - m, b0, b1, first, last);
        b0 = b1;
    }
}

// Sums of a_k 2^-e over each group of one activation row (GemmArgs::xgs, for stored zero points),
// exact in double and rounded to float once: add() takes a partial sum ending before k = kend;
// at the end of a group, or of the row, the group's sum is written and the next one opens.
struct GroupSums {
    float* row;   // xgs of this activation row
    int K, group;
    double open = 0;
    void add(double v, int kend) {
        open += v;
        if (kend == K || kend % group == 0) {
            row[(kend - 1) / group] = (float)open;
            open = 0;
        }
    }
};

}  // namespace
}  // namespace qb::cpu
