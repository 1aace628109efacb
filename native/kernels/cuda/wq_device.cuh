// wq_device.cuh: device primitives shared by the weight-only kernels (wna16.cu, wq_step.cu):
// the MMA and ldmatrix wrappers, the INT4 "magic number" dequantizer, the streaming weight
// load and the L2 bulk prefetch. Inline PTX only; no state. Included by .cu files only.
#pragma once
#include <cuda_fp16.h>

#include <cstdint>
#include <cstring>

namespace qb::cuda::wqdev {

// Four 8x8 FP16 matrices from shared memory: exactly the A fragment of one m16n8k16 MMA when
// lanes 0-15 point at rows 0-15 (k 0..7) and lanes 16-31 at the same rows, k 8..15.
__device__ __forceinline__ void ldmatrix_x4(uint32_t (&r)[4], const void* smem) {
    const uint32_t s = static_cast<uint32_t>(__cvta_generic_to_shared(smem));
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(s));
}

// D = A B + D, A 16x16 FP16 (row), B 16x8 FP16 (col), D 16x8 FP32. The only MMA shape used.
__device__ __forceinline__ void mma_16816(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
        "{%0, %1, %2, %3};\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

// (a & b) | c as one LOP3 (the compiler does not always fuse the pair by itself).
__device__ __forceinline__ uint32_t and_or(uint32_t a, uint32_t b, uint32_t c) {
    uint32_t d;
    asm volatile("lop3.b32 %0, %1, %2, %3, %4;\n" : "=r"(d) : "r"(a), "r"(b), "r"(c), "n"((0xf0 & 0xcc) | 0xaa));
    return d;
}

__device__ __forceinline__ uint32_t prmt(uint32_t a, uint32_t b, uint32_t sel) {
    uint32_t d;
    asm volatile("prmt.b32 %0, %1, %2, %3;\n" : "=r"(d) : "r"(a), "r"(b), "r"(sel));
    return d;
}

// Bulk prefetch of `bytes` (a multiple of 16, 16-byte aligned) from global memory into L2 if
// `pred`, by the TMA unit (sm_90; nothing below): one instruction, no registers held while the
// bytes are in flight. Predicated, not branched, so the warp never diverges around it.
// Why: a launch's register ring holds only 6-8 KiB per warp in flight, so a CTA that is waiting
// for the previous grid (PDL) or has just started cannot keep HBM busy by itself; prefetching
// the rest of its weight range into L2 does (see Args::l2pf and docs/cuda-kernels.md).
__device__ __forceinline__ void prefetch_l2_if(const void* gmem, uint32_t bytes, bool pred) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    asm volatile(
        "{\n"
        "  .reg .pred p;\n"
        "  setp.ne.b32 p, %0, 0;\n"
        "  @p cp.async.bulk.prefetch.L2.global [%1], %2;\n"
        "}\n" ::"r"((int)pred),
        "l"(gmem), "r"(bytes)
        : "memory");
#else
    (void)gmem; (void)bytes; (void)pred;
#endif
}

__device__ __forceinline__ uint32_t h2u(__half2 h) { uint32_t u; memcpy(&u, &h, 4); return u; }
__device__ __forceinline__ __half2 u2h(uint32_t u) { __half2 h; memcpy(&h, &u, 4); return h; }

// FP16 bit patterns used by the dequantizers.
constexpr uint32_t kMagic1024 = 0x64006400u;   // half2(1024, 1024): OR a nibble or byte into it
constexpr uint32_t kSym4Lo = 0x64086408u;      // half2(1032) = 1024 + 8: symmetric INT4's zero
constexpr uint32_t kSym4HiNeg = 0xD480D480u;   // half2(-72) = -(64 + 8): zero of the x16 nibble
constexpr uint32_t kOneSixteenth = 0x2C002C00u;// half2(1/16)
constexpr uint32_t kHalf960 = 0x63806380u;     // half2(960) = 1024 - 64
constexpr uint32_t kInt8Bias = 0x64806480u;    // half2(1152) = 1024 + 128 (INT8 stored as q ^ 0x80)

// One 32-bit word of a shuffled INT4 atom -> the B fragment of one n8 tile for one k16 step,
// as levels u - z (exact small integers in FP16). Nibble i of the word sits at bits 4i; the
// shuffle put step 0's (k 2t, 2t+1, 2t+8, 2t+9) at nibbles 0, 4, 1, 5 and step 1's at 2, 6,
// 3, 7, so step 0 reads q and step 1 reads q >> 8:
//   lo = (q & 0x000f000f) | 1024.0 -> half2(1024 + u[k 2t], 1024 + u[k 2t+1])        - (1024 + z)
//   hi = (q & 0x00f000f0) | 1024.0 -> half2(1024 + 16 u[2t+8], 1024 + 16 u[2t+9]) / 16 - (64 + z)
// (one lop3 and one sub / fma per two weights). zl = half2(1024 + z), nzh = half2(-(64 + z)).
__device__ __forceinline__ void dequant4(uint32_t q, uint32_t zl, uint32_t nzh, uint32_t (&b)[2]) {
    const uint32_t lo = and_or(q, 0x000f000fu, kMagic1024), hi = and_or(q, 0x00f000f0u, kMagic1024);
    b[0] = h2u(__hsub2(u2h(lo), u2h(zl)));
    b[1] = h2u(__hfma2(u2h(hi), u2h(kOneSixteenth), u2h(nzh)));
}

// 16 bytes of weights that are read exactly once: no L1 allocation (and nothing else to keep).
__device__ __forceinline__ uint4 ld_stream(const void* p) {
    uint4 r;
    asm volatile("ld.global.nc.L1::no_allocate.v4.u32 {%0, %1, %2, %3}, [%4];\n"
                 : "=r"(r.x), "=r"(r.y), "=r"(r.z), "=r"(r.w)
                 : "l"(p));
    return r;
}

// Word i of a 16-byte register load.
__device__ __forceinline__ uint32_t word_of(const uint4& v, int i) {
    return i == 0 ? v.x : i == 1 ? v.y : i == 2 ? v.z : v.w;
}

}  // namespace qb::cuda::wqdev
