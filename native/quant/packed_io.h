// packed_io.h: the on-disk container of one quantized layer (`quantize --out-dir`), a
// safetensors file that any safetensors reader can list:
//
//   tensor        dtype  shape                 what
//   qweight       U8     [rows, row_bytes]     the packed codes (qformat.h: each row a
//                                              little-endian bit stream, padded to a byte)
//   scales        F16    [rows, groups]        FP16 scale per (row, group)
//   qzeros        U8     [zero_bytes]          asymmetric only: the packed zero stream
//   perm          I32    [cols]                optional: packed column j = input channel perm[j]
//   input_scale   F32    [cols]                optional: the layer's input is x / input_scale
//   quip.u_signs  F32    [rows]                QuIP only: the output-side transform U ...
//   quip.u_small  F32    [m_u, m_u]            ... and its small orthogonal factor (m_u > 1)
//   quip.v_signs  F32    [cols]                QuIP only: the input-side transform V ...
//   quip.v_small  F32    [m_v, m_v]            ... and its small orthogonal factor (m_v > 1)
//
//   __metadata__: format "qbench.packed", version "1", method, layer, rows, cols, bits,
//   group (values per group; == cols for per-channel), zero_point ("true"/"false"),
//   scale_type "f16", transform ("none" or "quip"), seed (QuIP), model (source file or
//   "synthetic").
//
// The layer it stands for is quant.h's storage chain: y = U^T dequant(packed) V (x / input_scale)[perm].
#pragma once
#include <map>
#include <string>

#include "quant.h"

namespace qb::quant {

struct PackedLayer {
    std::string method, layer, model;
    Result r;                          // packed, perm, input_scale, u, v, has_transform, seed
    std::map<std::string, std::string> meta;
};

bool write_packed(const std::string& path, const Result& r, const std::string& layer, const std::string& model, std::string* err);
bool read_packed(const std::string& path, PackedLayer* out, std::string* err);

}  // namespace qb::quant
