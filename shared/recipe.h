// recipe.h: the commands that reproduce a selection with the mainstream tools, written for those
// tools' real APIs (GPTQModel, AutoAWQ, llm-compressor, vLLM, llama.cpp), not the seed
// article's invented ones. Pure text generation; the widget shows it, the CLI prints it.
#pragma once
#include <string>

#include "catalog.h"
#include "selections.h"

namespace qb {

struct Recipe {
    std::string quantize;   // Python (or shell) that produces the quantized checkpoint; empty if none needed
    std::string serve;      // shell command that serves it
    std::string notes;      // caveats (unsupported combinations, what the tool does differently)
};

Recipe recipe(const Catalog& c, const Selections& s);

}  // namespace qb
