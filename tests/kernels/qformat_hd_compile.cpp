// qformat_hd_compile.cpp: compiles shared/qformat.h the way nvcc's device pass would see it
// (__CUDACC__ defined, QB_HD = __host__ __device__), with the CUDA keywords mocked as no-op
// attributes, so a g++-only machine still catches a helper that is not QB_HD-clean. The real
// nvcc build arrives with the CUDA issue. Only qformat.h is included in this unit.
#define __CUDACC__ 1
#define __host__ __attribute__((unused))
#define __device__
#include "qformat.h"

static_assert(sizeof(qb::Int3Pack) == 3, "INT3 pack is three bytes under the CUDA configuration too");

float qformat_hd_roundtrip(float v) { return qb::fp16_to_f32(qb::f32_to_fp16(v)); }
