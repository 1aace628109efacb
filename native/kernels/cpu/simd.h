// simd.h: <immintrin.h> for the per-ISA kernel units.
//
// GCC 12.2's AVX-512 headers build the pass-through operand of unmasked intrinsics as
// `__m512 __Y = __Y;` (_mm512_undefined_ps), which -Wuninitialized then reports wherever such
// an intrinsic is inlined (GCC PR 105593, fixed in GCC 12.3). The pragmas silence exactly
// those header lines; our own code keeps the warning.
#pragma once
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop

// For the small decode helpers called inside the kernels' chunk loops.
#define QB_ALWAYS_INLINE inline __attribute__((always_inline))
