// bench_device.cu: see bench_device.h.
#include <cuda_fp16.h>

#include "bench_device.h"

namespace qb::bench {

namespace {

__device__ __forceinline__ uint64_t mix(uint64_t x) {   // splitmix64 finaliser
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

__global__ void fill_kernel(uint8_t* dst, size_t count, int kind, uint64_t seed) {
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < count; i += (size_t)gridDim.x * blockDim.x) {
        const uint64_t r = mix(seed * 0x632BE59BD9B4E019ull + i);
        switch (kind) {
            case 0: dst[i] = (uint8_t)r; break;
            case 1: {   // sign | exponent 6..9 | mantissa: 2^-9 .. 2^-5
                const uint16_t h = (uint16_t)((r & 0x8000u) | ((6u + ((r >> 16) & 3u)) << 10) | ((r >> 20) & 0x3ffu));
                reinterpret_cast<uint16_t*>(dst)[i] = h;
                break;
            }
            case 2: {
                const float v = 0.004f + 0.012f * (float)((r >> 40) & 0xffffffu) / 16777216.0f;
                reinterpret_cast<__half*>(dst)[i] = __float2half_rn(v);
                break;
            }
            case 3: {
                const float v = 0.0005f + 0.0015f * (float)((r >> 40) & 0xffffffu) / 16777216.0f;
                reinterpret_cast<float*>(dst)[i] = v;
                break;
            }
            default: {   // E4M3: exponent field <= 14 (no NaN), any mantissa, any sign
                uint8_t b = (uint8_t)r;
                if (((b >> 3) & 0xf) == 0xf) b &= 0xf7;
                dst[i] = b;
                break;
            }
        }
    }
}

__global__ void spin_kernel(long long cycles) {
    const long long start = clock64();
    while (clock64() - start < cycles) {
    }
}

}  // namespace

bool device_fill(void* dst, size_t count, FillKind kind, uint64_t seed, cudaStream_t stream) {
    if (!dst) return false;
    if (count == 0) return true;
    const size_t blocks = (count + 255) / 256;
    fill_kernel<<<(unsigned)(blocks < 65536 ? blocks : 65536), 256, 0, stream>>>(static_cast<uint8_t*>(dst), count, (int)kind, seed);
    return cudaGetLastError() == cudaSuccess;
}

bool device_spin(double us, int clock_mhz, cudaStream_t stream) {
    spin_kernel<<<1, 1, 0, stream>>>((long long)(us * (clock_mhz > 0 ? clock_mhz : 2000)));
    return cudaGetLastError() == cudaSuccess;
}

}  // namespace qb::bench
