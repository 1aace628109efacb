// qformat.h: qbench's quantized weight formats, defined once for every backend (scalar
// reference, CPU SIMD kernels, CUDA kernels, wasm) plus the scalar reference that every backend
// is tested against (implemented in qformat.cpp).
//
// Pure C++: no I/O, no exceptions, no intrinsics, no allocation in this header. The inline
// helpers are `static inline QB_HD` so that (a) nvcc compiles them for host and device, and
// (b) a translation unit built with -mavx512f gets its own private copy instead of a weak
// symbol the linker might pick for code that runs on a CPU without AVX-512.
//
// [SECTION] Index
//   1. Portable FP16 <-> FP32 (bit exact, round-to-nearest-even; no F16C needed), BF16 rounding
//   2. Packing: every row is a little-endian bit stream (INT8 / INT4 / INT3 / INT2)
//   3. Value semantics: stored codes, zero points, scales, what a weight dequantizes to
//   4. QuantizedMatrix: the descriptor {N, K, bits, group, zero, scale type, q, scales, zeros}
//      and its byte sizes (they equal shared/memory.h bits_per_weight() x N x K / 8)
//   5. Scalar reference: quantize_ref (RTN), dequantize_ref, matmul_ref, W8A8 reference
//
// ---------------------------------------------------------------------------------------------
// The formats, in one paragraph each
//
// INT8 (per output channel, "W8A16" and "W8A8"): q[n][k] is a two's-complement int8 in
//   [-127, 127] (symmetric: -128 is never produced, so negating a weight never overflows and
//   the AVX2 u8 x s8 sign trick stays below int16 saturation); one scale per row, FP16 by
//   default or FP32 (ScaleType::f32). w = q x s.
// INT4 / INT3 / INT2 (group-wise along K): group size 32, 64, 128, 256 (any multiple of 32 that
//   divides K) or per-channel (group == K, any K). One FP16 scale per (row, group).
//   Symmetric: q in [-2^(b-1), 2^(b-1) - 1], stored offset-binary as the unsigned code
//   u = q + 2^(b-1) (llama.cpp's q4_0 does the same: "subtract 8"), so symmetric is simply
//   "zero = 2^(b-1), not stored". Asymmetric (GPTQ/AWQ style): unsigned u in [0, 2^b - 1] and
//   a zero z per (row, group), stored at the weight width. Either way w = (u - z) x s.
//
// Packing (all widths): row n is a little-endian bit stream, value k occupies bits
//   [k b, k b + b) where bit i of the stream is bit (i mod 8) of byte (i / 8). That gives:
//     INT8: one byte per value, byte k = k.
//     INT4: two nibbles per byte, low nibble = even k, high nibble = odd k (the same bytes as
//           GPTQ's little-endian int32 of eight nibbles).
//     INT3: eight values in three bytes: bytes 3j..3j+2 read as a little-endian 24-bit word
//           hold k = 8j + i at bits 3i..3i+2. Chosen over "ten values per 32-bit word" because
//           it costs exactly 3.000 bits (ten-per-word wastes 2 of 32 bits: 3.2 bits, 6.7% more
//           memory, and would disagree with shared/memory.h), and because every run of 8
//           values starts on a byte boundary, so a SIMD decoder can shuffle 3-byte packs into
//           32-bit lanes and shift each lane by 3i.
//     INT2: four values per byte, k = 4j + i at bits 2i..2i+1 of byte j.
//   Rows are padded to whole bytes: row_bytes = ceil(K b / 8) (only per-channel INT4/INT3
//   with K not a multiple of 8 pads anything). Groups are multiples of 32 values, so every
//   group starts on a byte boundary and on a 32-value SIMD chunk.
// Scales: row-major [N][G] with G = K / group, FP16 (IEEE binary16, little-endian uint16_t).
// Zeros (asymmetric only): one bit stream of N x G values at the weight width, packed like a
//   row, in (row, group) order: zero of (n, g) is value n G + g. A per-channel INT4 zero thus
//   costs 4 bits per row, as memory.h counts it.
// ---------------------------------------------------------------------------------------------
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>

#if defined(__CUDACC__)
#define QB_HD __host__ __device__
#else
#define QB_HD
#endif

namespace qb {

// ============================================================================================
// [SECTION] 1. FP16 <-> FP32
// ============================================================================================

static inline QB_HD uint32_t f32_bits(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
static inline QB_HD float f32_from_bits(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }

// Exact: every binary16 value (subnormals, infinities, NaN payloads) has an FP32 equivalent.
static inline QB_HD float fp16_to_f32(uint16_t h) {
    const uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu, mant = h & 0x3ffu;
    if (exp == 0x1f) return f32_from_bits(sign | 0x7f800000u | (mant << 13));   // inf / NaN
    if (exp == 0) {
        if (mant == 0) return f32_from_bits(sign);                                // +-0
        // Subnormal m 2^-24: normalise so the leading 1 sits at bit 10.
        int e = -1;
        do { mant <<= 1; ++e; } while ((mant & 0x400u) == 0);
        return f32_from_bits(sign | ((uint32_t)(112 - e) << 23) | ((mant & 0x3ffu) << 13));
    }
    return f32_from_bits(sign | ((exp + 112) << 23) | (mant << 13));
}

// Round to nearest, ties to even, like F16C's vcvtps2ph with imm 0 and C's (_Float16) cast.
// Overflow gives infinity; NaN stays NaN (quiet).
static inline QB_HD uint16_t f32_to_fp16(float f) {
    const uint32_t x = f32_bits(f), sign = (x >> 16) & 0x8000u, a = x & 0x7fffffffu;
    if (a >= 0x7f800000u) return (uint16_t)(sign | 0x7c00u | (a > 0x7f800000u ? 0x200u | ((a >> 13) & 0x3ffu) : 0));
    if (a >= 0x477ff000u) return (uint16_t)(sign | 0x7c00u);   // >= 65520 rounds to infinity
    if (a < 0x38800000u) {                                      // below 2^-14: subnormal or zero
        if (a <= 0x33000000u) return (uint16_t)sign;             // <= 2^-25: ties to the even 0
        const uint32_t e = a >> 23, mant = (a & 0x7fffffu) | 0x800000u, s = 126 - e;   // s in 14..24
        uint32_t m = mant >> s;
        const uint32_t rem = mant & ((1u << s) - 1), half = 1u << (s - 1);
        if (rem > half || (rem == half && (m & 1u))) ++m;        // m may carry into the exponent: fine
        return (uint16_t)(sign | m);
    }
    const uint32_t r = a - 0x38000000u;                          // rebias 127 -> 15
    uint32_t h = r >> 13;
    const uint32_t rem = r & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (h & 1u))) ++h;      // a carry bumps the exponent: fine
    return (uint16_t)(sign | h);
}

// For scales: the smallest FP16 >= f (f finite, >= 0), saturating at 65504. Rounding the scale
// up, never down, is what keeps every quantized weight within half a step of the original
// (a scale rounded down would push the extreme weights past the last code).
static inline QB_HD uint16_t fp16_scale_up(float f) {
    if (!(f > 0)) return 0;
    uint16_t h = f32_to_fp16(f);
    if ((h & 0x7fffu) >= 0x7c00u) return 0x7bffu;
    if (fp16_to_f32(h) < f) ++h;                                 // next binary16 up (positive)
    return (h & 0x7fffu) >= 0x7c00u ? (uint16_t)0x7bffu : h;
}

// Round to nearest integer, ties to even, without libm (the same in native, wasm and CUDA).
// Valid for |v| < 2^22, which every caller guarantees by clamping first.
static inline QB_HD float round_half_even(float v) {
    const float magic = 12582912.0f;   // 1.5 x 2^23: adding it leaves no fraction bits
    return v >= 0 ? (v + magic) - magic : -((-v + magic) - magic);
}

// 16-bit fixed point for the activations of the avx512-vnni weight-only paths (INT4 / INT2
// w4a16_avx512vnni.cpp, INT3 w3a16_avx512vbmi.cpp, INT8 w8a16_avx512vnni.cpp):
// each block of 128 values of a row becomes integers a_k = round(x_k 2^e), nearest even, with
// one exponent e per block chosen so that max |a_k| <= kFixed16Max (so a = 256 hi + lo splits
// into two signed bytes) and >= 2^13 (at least 14 significant bits for the block's largest
// value, 15 when its mantissa allows). The value the kernel multiplies is a_k 2^-e exactly;
// fixed16_round writes those values, which is the path's reference input. Powers of two keep
// a_k 2^-e, the scale products and the integer sums exact. Finite inputs only (the dispatcher
// sends rows with infinities or NaNs elsewhere).
inline constexpr int kFixed16Block = 128;
inline constexpr int kFixed16Max = 32639;   // 127 * 256 + 127
// 2^e for e in [-126, 127], by its bits.
static inline QB_HD float pow2f(int e) { return f32_from_bits((uint32_t)(127 + e) << 23); }
// The block exponent for largest magnitude amax (finite, >= 0); 0 for an all-zero block.
// Clamped to 126 so 2^e and 2^-e stay normal: blocks under 2^-112 keep fewer bits (absolute
// error <= 2^-127).
static inline QB_HD int fixed16_exp(float amax) {
    if (!(amax > 0)) return 0;
    const int p = (int)((f32_bits(amax) >> 23) & 0xffu) - 127;   // floor(log2 amax); subnormal: -127
    int e = 14 - p;
    if (e > 126) return 126;
    if (round_half_even(amax * pow2f(e)) > (float)kFixed16Max) --e;
    return e;
}


// ============================================================================================
// [SECTION] 2. Packing
// ============================================================================================

// The smallest byte-aligned unit of each width ("pack"): kPackValues values in kPackBytes.
inline constexpr int kPackValues[9] = {0, 0, 4, 8, 2, 0, 0, 0, 1};
inline constexpr int kPackBytes[9] = {0, 0, 1, 3, 1, 0, 0, 0, 1};
struct Int8Pack { int8_t v[1]; };    // 1 value
struct Int4Pack { uint8_t b[1]; };   // 2 values: low nibble even k
struct Int3Pack { uint8_t b[3]; };   // 8 values: little-endian 24-bit word, value i at bits 3i
struct Int2Pack { uint8_t b[1]; };   // 4 values: value i at bits 2i
static_assert(sizeof(Int8Pack) == kPackBytes[8] && kPackValues[8] * 8 == kPackBytes[8] * 8, "INT8 pack");
static_assert(sizeof(Int4Pack) == kPackBytes[4] && kPackValues[4] * 4 == kPackBytes[4] * 8, "INT4 pack");
static_assert(sizeof(Int3Pack) == kPackBytes[3] && kPackValues[3] * 3 == kPackBytes[3] * 8, "INT3 pack");
static_assert(sizeof(Int2Pack) == kPackBytes[2] && kPackValues[2] * 2 == kPackBytes[2] * 8, "INT2 pack");

// SIMD kernels walk K in chunks of 32 values (one AVX-512 register of 16 floats, twice), which
// is a whole number of packs at every width; groups are multiples of it.
inline constexpr int kChunk = 32;
inline constexpr int kChunkBytes[9] = {0, 0, 8, 12, 16, 0, 0, 0, 32};
static_assert(kChunk % kPackValues[3] == 0 && kChunkBytes[3] == kChunk / kPackValues[3] * kPackBytes[3], "INT3 chunk");
static_assert(kChunkBytes[4] == kChunk * 4 / 8 && kChunkBytes[2] == kChunk * 2 / 8 && kChunkBytes[8] == kChunk, "chunks");

static inline QB_HD bool supported_bits(int bits) { return bits == 2 || bits == 3 || bits == 4 || bits == 8; }

// Bytes holding n values of `bits` as one little-endian bit stream.
static inline QB_HD size_t packed_bytes(int bits, size_t n) { return (n * (size_t)bits + 7) / 8; }

// Value i of a bit stream (bits <= 8: it spans at most two bytes).
static inline QB_HD uint32_t get_packed(const uint8_t* p, int bits, size_t i) {
    const size_t bit = i * (size_t)bits, byte = bit >> 3;
    const unsigned sh = (unsigned)(bit & 7);
    uint32_t v = p[byte];
    if (sh + (unsigned)bits > 8) v |= (uint32_t)p[byte + 1] << 8;
    return (v >> sh) & ((1u << bits) - 1u);
}

// Writes value i (only its low `bits` bits); the other values of the stream are kept.
static inline QB_HD void set_packed(uint8_t* p, int bits, size_t i, uint32_t v) {
    const size_t bit = i * (size_t)bits, byte = bit >> 3;
    const unsigned sh = (unsigned)(bit & 7);
    const uint32_t mask = ((1u << bits) - 1u) << sh, val = (v << sh) & mask;
    p[byte] = (uint8_t)((p[byte] & ~mask) | val);
    if (sh + (unsigned)bits > 8) p[byte + 1] = (uint8_t)((p[byte + 1] & ~(mask >> 8)) | (val >> 8));
}

// ============================================================================================
// [SECTION] 3. Value semantics
// ============================================================================================

enum class ScaleType : uint8_t { f16 = 0, f32 = 1 };   // f32 only for INT8 per-channel

// Largest unsigned code of a sub-byte width (15 for INT4).
static inline QB_HD int code_max(int bits) { return (1 << bits) - 1; }
// The implicit zero of symmetric sub-byte formats (8 for INT4): q = u - 2^(b-1).
static inline QB_HD int sym_zero(int bits) { return bits >= 8 ? 0 : 1 << (bits - 1); }

// ============================================================================================
// [SECTION] 4. QuantizedMatrix
// ============================================================================================

// A weight matrix W[N][K] (N output features = rows, K input features = cols), as the kernels
// compute Y[M][N] = X[M][K] . W^T. The pointers are not owned; see plan_storage() for one
// buffer holding all three parts.
struct QuantizedMatrix {
    int32_t rows = 0;                 // N
    int32_t cols = 0;                 // K
    int32_t bits = 4;                 // 2, 3, 4 or 8
    int32_t group = 128;              // along K; == cols means per-channel (one group per row)
    bool has_zero = false;            // asymmetric: a zero per (row, group), at the weight width
    ScaleType scale_type = ScaleType::f16;
    uint8_t* q = nullptr;             // rows x row_bytes(): each row a little-endian bit stream
    void* scales = nullptr;           // rows x groups(): uint16_t FP16 (or float for ScaleType::f32)
    uint8_t* zeros = nullptr;         // ceil(rows x groups x bits / 8) bytes when has_zero, else null
};

enum class FormatError : uint8_t { ok, bad_bits, bad_shape, bad_group, int8_is_per_channel, int8_has_no_zero, f32_scale_needs_int8 };

static inline QB_HD const char* format_error_str(FormatError e) {
    switch (e) {
        case FormatError::ok: return "ok";
        case FormatError::bad_bits: return "bits must be 2, 3, 4 or 8";
        case FormatError::bad_shape: return "rows and cols must be >= 1";
        case FormatError::bad_group: return "group must be a multiple of 32 that divides cols, or equal cols (per-channel)";
        case FormatError::int8_is_per_channel: return "INT8 is per-channel (group == cols)";
        case FormatError::int8_has_no_zero: return "INT8 is symmetric (no zero point)";
        case FormatError::f32_scale_needs_int8: return "FP32 scales are only defined for INT8";
    }
    return "?";
}

// Checks the shape and format fields (not the pointers).
static inline QB_HD FormatError check_format(const QuantizedMatrix& w) {
    if (!supported_bits(w.bits)) return FormatError::bad_bits;
    if (w.rows < 1 || w.cols < 1) return FormatError::bad_shape;
    if (w.group < 1 || w.group > w.cols || w.cols % w.group != 0 || (w.group != w.cols && w.group % kChunk != 0))
        return FormatError::bad_group;
    if (w.bits == 8 && w.group != w.cols) return FormatError::int8_is_per_channel;
    if (w.bits == 8 && w.has_zero) return FormatError::int8_has_no_zero;
    if (w.bits != 8 && w.scale_type != ScaleType::f16) return FormatError::f32_scale_needs_int8;
    return FormatError::ok;
}

static inline QB_HD bool per_channel(const QuantizedMatrix& w) { return w.group == w.cols; }
static inline QB_HD int32_t groups(const QuantizedMatrix& w) { return w.cols / w.group; }
static inline QB_HD size_t row_bytes(const QuantizedMatrix& w) { return packed_bytes(w.bits, (size_t)w.cols); }

// Exact payload sizes. For K a multiple of 8 (and N even for per-channel zeros) their sum is
// bits_per_weight(bits, group, K, has_zero, -1, scale_bits) x N x K / 8 of shared/memory.h
// (tests/kernels/test_qformat.cpp checks this, so the model and the format agree).
static inline QB_HD size_t q_bytes(const QuantizedMatrix& w) { return (size_t)w.rows * row_bytes(w); }
static inline QB_HD size_t scale_bytes(const QuantizedMatrix& w) {
    return (size_t)w.rows * (size_t)groups(w) * (w.scale_type == ScaleType::f32 ? 4 : 2);
}
static inline QB_HD size_t zero_bytes(const QuantizedMatrix& w) {
    return w.has_zero ? packed_bytes(w.bits, (size_t)w.rows * (size_t)groups(w)) : 0;
}
static inline QB_HD size_t weight_bytes(const QuantizedMatrix& w) { return q_bytes(w) + scale_bytes(w) + zero_bytes(w); }

// One buffer for q, scales and zeros, each part starting on a 64-byte boundary (a cache line).
// Kernels may read up to 64 bytes past the end of a part inside their chunk loops' tails only
// through masked loads, so no slack is needed; `total` includes the alignment padding.
struct StoragePlan { size_t q_offset = 0, scale_offset = 0, zero_offset = 0, total = 0; };

static inline QB_HD StoragePlan plan_storage(const QuantizedMatrix& w) {
    auto up = [](size_t v) { return (v + 63) & ~(size_t)63; };
    StoragePlan p;
    p.scale_offset = up(q_bytes(w));
    p.zero_offset = up(p.scale_offset + scale_bytes(w));
    p.total = up(p.zero_offset + zero_bytes(w));
    return p;
}

// Points w's q / scales / zeros into `base` (which must hold plan_storage(w).total bytes).
static inline QB_HD void bind_storage(QuantizedMatrix& w, uint8_t* base) {
    const StoragePlan p = plan_storage(w);
    w.q = base + p.q_offset;
    w.scales = base + p.scale_offset;
    w.zeros = w.has_zero ? base + p.zero_offset : nullptr;
}

// Scale of (row n, group g) as float.
static inline QB_HD float scale_at(const QuantizedMatrix& w, int64_t n, int64_t g) {
    const size_t i = (size_t)n * (size_t)groups(w) + (size_t)g;
    if (w.scale_type == ScaleType::f32) return static_cast<const float*>(w.scales)[i];
    return fp16_to_f32(static_cast<const uint16_t*>(w.scales)[i]);
}

// Zero of (row n, group g): stored, or the implicit 2^(b-1) (0 for INT8).
static inline QB_HD int zero_at(const QuantizedMatrix& w, int64_t n, int64_t g) {
    if (!w.has_zero) return sym_zero(w.bits);
    return (int)get_packed(w.zeros, w.bits, (size_t)n * (size_t)groups(w) + (size_t)g);
}

// The signed integer level of weight (n, k): u - z for sub-byte widths, q for INT8.
static inline QB_HD int level_at(const QuantizedMatrix& w, int64_t n, int64_t k) {
    const uint8_t* row = w.q + (size_t)n * row_bytes(w);
    if (w.bits == 8) return (int)(int8_t)row[k];
    return (int)get_packed(row, w.bits, (size_t)k) - zero_at(w, n, k / w.group);
}

// What weight (n, k) dequantizes to. Every backend must produce exactly this float per weight
// (one rounding: the integer level is exact in float, times the scale).
static inline QB_HD float dequant_at(const QuantizedMatrix& w, int64_t n, int64_t k) {
    return (float)level_at(w, n, k) * scale_at(w, n, k / w.group);
}

// ============================================================================================
// [SECTION] 5. Scalar reference (qformat.cpp)
// ============================================================================================
// Preconditions: check_format(w) == ok, storage bound, inputs finite. Functions return false
// (and write nothing) when the format is invalid.

// Round-to-nearest quantization of W[N][K] (row-major floats) into w:
//  * symmetric sub-byte: s = absmax / (2^(b-1) - 1/2) per group, q = clamp(rne(w/s), -2^(b-1), 2^(b-1)-1)
//    (GPTQ's symmetric quantizer: absmax lands half a step past the last positive code, so
//    both ends of the signed range are used and the clamp costs at most s/2; with the FP16
//    scale rounded up, -2^(b-1) is reached only by a value within rounding of -absmax);
//  * INT8: s = absmax / 127 per row, q = rne(w/s) in [-127, 127];
//  * asymmetric: lo = min(0, min w), hi = max(0, max w), s = (hi - lo) / (2^b - 1),
//    z = rne(-lo / s), u = clamp(rne(w/s) + z, 0, 2^b - 1) (GPTQ/AWQ; 0 is exactly representable);
//  * an all-zero group gets s = 1 (asymmetric: lo = -1, hi = 1, as GPTQ does).
// The FP16 scale is rounded up (fp16_scale_up) and the codes are computed with the stored
// scale, so |w - dequant| <= s/2 for every element (tests check it).
bool quantize_ref(const float* W, QuantizedMatrix& w);

// out[N][K] = dequant_at(w, n, k).
bool dequantize_ref(const QuantizedMatrix& w, float* out);

// Y[m][n] = sum_k X[m][k] x dequant(w, n, k) for n in [n_begin, n_end) (n_end < 0: rows), all
// m < M. X is M x K, Y is M x N, both row-major. Products and sums in double, rounded to float
// once at the end: the most accurate answer the stored weights allow, so kernel error bounds
// are about the kernel's own float accumulation only.
bool matmul_ref(const float* X, int M, const QuantizedMatrix& w, float* Y, int n_begin = 0, int n_end = -1);

// The FP32 baseline's reference: W is N x K row-major floats, same accumulation as matmul_ref.
void matmul_f32_ref(const float* X, int M, const float* W, int N, int K, float* Y, int n_begin = 0, int n_end = -1);

// W8A8 dynamic per-token activation quantization of one row x[K]:
//   amax = max |x|; inv = 127 / amax; q = clamp(rne(x x inv), -127, 127); scale = amax / 127
// (amax == 0: q = 0, scale = 0). All float operations, in this order, so SIMD code that does
// the same multiplies and rounds to nearest-even reproduces it bit for bit.
void quantize_act_ref(const float* x, int K, int8_t* q, float* scale);

// The avx512-vnni weight-only paths' activations (fixed16_exp above): x[K] -> out[K] = a_k 2^-e per
// block of kFixed16Block values, the exact values that path multiplies. False (out
// untouched) if x holds an infinity or a NaN.
bool fixed16_round(const float* x, int K, float* out);

// W8A8 reference: each row of X quantized by quantize_act_ref, int32 dot products with the
// INT8 weights (exact: |sum| <= K x 127 x 127 < 2^31 for K <= 65536), then
//   Y[m][n] = ((float)acc x sx[m]) x sw[n]
// in float, in this order. An integer kernel that quantizes activations the same way gives
// bit-identical Y. Requires bits == 8 and K <= kW8A8MaxK.
inline constexpr int kW8A8MaxK = 65536;
bool matmul_w8a8_ref(const float* X, int M, const QuantizedMatrix& w, float* Y, int n_begin = 0, int n_end = -1);

}  // namespace qb
