// share_link.h: selections <-> a compact, versioned URL fragment.
//
//   v=1&m=llama-3.1-8b&q=awq&hw=a100-80gb&bs=8
//
// Version 1 writes only the fields that differ from the v1 baseline (the defaults of
// Selections, pinned by a test: changing a default needs a new version); bits, group and zero
// point are compared with the baseline after apply_method_defaults() of the link's method, which
// is what the decoder assumes for them when a link names a method but not them. Values are
// %-escaped ('+' reads as a space). Keys:
//   m model, q method, b bits, g group (0 = per-channel), z zero point, ao act-order, kv KV type,
//   hw hardware, n devices, bs batch, pt prompt tokens, ot output tokens,
//   ti / to input / output tokens per day, usd $/hour override, cs / ct calibration samples /
//   tokens, api comma-separated API models.
// Decoding never fails: a malformed, unknown or impossible field is reported and replaced by
// its default, the rest of the link still applies.
#pragma once
#include <string>
#include <vector>

#include "catalog.h"
#include "selections.h"

namespace qb {

inline constexpr int kLinkVersion = 1;

std::string encode_link(const Selections& s);

struct LinkDecode {
    Selections sel;
    std::vector<FieldError> problems;   // each names the field and what was wrong with it
};

// Accepts a bare fragment, one starting with '#' or '?', or a whole URL (the part after '#').
LinkDecode decode_link(const Catalog& c, const std::string& link);

}  // namespace qb
