// fixed16_rows.h: the walk over weight rows and K blocks shared by the fixed16 drivers
// (fixed16_tile_avx512vnni.h, w4a16_avx2_fixed16.cpp). Internal linkage: each unit, built with
// its own -m flags, gets its own copy (kernel_abi.h).
#pragma once
#include "kernel_abi.h"

namespace qb::cpu {
namespace {

// Rows [n0, n1) in groups of kRowBlock x rs (the dispatcher's task granule): rs strided tiles per
// group (rs = GemmArgs::row_stride, cpu_kernels.h RowOrder), then plain kRowBlock-row and 1-row
// tiles for the rest; K in chunks of kc blocks, activation rows mstep at a time. The software
// prefetch distance is a whole number of row groups ahead (>= prefetch_bytes), so each row's
// prefetch lands on the same row of a later group (docs/cpu-kernels.md, "Prefetch"); 0: none.
// tile(n, rs, nb, pf, m, mb, b0, b1, first, last) runs rows n, n + rs, ... (nb = kRowBlock or 1)
// against activation rows m .. m + min(mb, mstep) - 1 over blocks [b0, b1).
template <class Tile>
void walk_fixed16_rows(const GemmArgs& a, int n0, int n1, int nblocks, int kc, int mstep, Tile&& tile) {
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

}  // namespace
}  // namespace qb::cpu
