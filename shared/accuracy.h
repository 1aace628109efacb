// accuracy.h: perplexity of a selection and its change against FP16, each with its provenance.
//
// Published: a row of data/accuracy.json for exactly this model, method, bits and group size;
// the FP16 figure comes from the same table (same paper, dataset and context), so the change is
// taken within one evaluation setup.
// Estimated: otherwise, the nearest published row (same model first, then same family, then any)
// gives a relative change, adjusted by two stated rules:
//   - bits: x4 per bit removed (uniform quantization MSE scales as 2^-2b; Llama-2-7B RTN g128
//     goes from +4.8% at 4 bits to +21.8% at 3 bits in AWQ Table 4, a factor 4.6);
//   - group size: x log2(g)/log2(g_row) (the expected range of g Gaussian weights grows as
//     sqrt(2 ln g), so the step size and MSE grow with ln g; per-channel uses g = in_features).
// The estimate's basis names the row it came from. Measured figures (qbench-native quantize)
// arrive with the quantizer issue.
#pragma once
#include <string>

#include "catalog.h"
#include "selections.h"

namespace qb {

enum class Provenance : uint8_t { published, measured, estimated, none };
const char* provenance_name(Provenance p);

struct Accuracy {
    bool has_ppl = false;           // false when no FP16 perplexity of this model is published
    double ppl = 0, ppl_fp16 = 0;   // WikiText-2 perplexity
    double delta_pct = 0;           // (ppl / ppl_fp16 - 1) x 100
    Provenance provenance = Provenance::none;
    std::string source;             // citation of the row used (title, table)
    std::string basis;              // for estimates: how it was derived
    std::string dataset;
    int context = 0;
};

Accuracy accuracy(const Catalog& c, const ModelArch& m, const Selections& s);

}  // namespace qb
