// bench_device.h: device-side fills for the CUDA benchmark (bench_device.cu), for buffers too
// large to generate on the host in reasonable time (the decode step's 13 GB of FP16 weights).
// Each fill is a pure function of (seed, index): reruns give the same bytes.
#pragma once
#include <cstddef>
#include <cstdint>

#include <cuda_runtime_api.h>

namespace qb::bench {

enum class FillKind : uint8_t {
    bytes,        // any byte (INT4 / INT8 codes: every pattern is a valid code)
    fp16_weight,  // FP16 values of magnitude ~[0.002, 0.03], random sign (dense weights, activations)
    fp16_scale,   // FP16 scales in [0.004, 0.016) (group scales: |level x scale| stays well inside FP16)
    f32_scale,    // FP32 per-channel scales in [0.0005, 0.002)
    e4m3,         // E4M3 bytes of magnitude <= 240, never NaN
};

// Fills `count` elements of the kind's width (1, 2 or 4 bytes) at dst.
bool device_fill(void* dst, size_t count, FillKind kind, uint64_t seed, cudaStream_t stream);

// A kernel that spins for about `us` microseconds (keeps the stream busy while the host queues
// work behind it).
bool device_spin(double us, int clock_mhz, cudaStream_t stream);

}  // namespace qb::bench
