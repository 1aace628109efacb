// selections.h: what the user picks (`user_selections`), its defaults and the rules that reject
// impossible combinations. Defaults follow the seed article's table (4 bits, group 128,
// calibration 128 samples x 512 tokens); its wrong claims are not used (see README).
#pragma once
#include <string>
#include <vector>

#include "catalog.h"

namespace qb {

enum class Method : uint8_t { fp16, bf16, int8, w8a8, fp8, rtn, gptq, awq, quip, count };
enum class KvType : uint8_t { fp16, bf16, fp8, int8, count };

const char* method_name(Method m);
const char* kv_name(KvType k);
bool parse_method(const std::string& s, Method* out);
bool parse_kv(const std::string& s, KvType* out);

// Methods whose width is fixed by the format (fp16/bf16: 16; int8, w8a8, fp8: 8).
int fixed_bits(Method m);                    // 0 when the user chooses the bits
bool is_weight_only_low_bit(Method m);       // rtn, gptq, awq, quip
Kernel kernel_for(Method m, int bits);       // which efficiency class runs the linear layers
double kv_bytes(KvType k);

// The choices the UI exposes; validate() accepts exactly these.
inline constexpr int kBitsChoices[] = {2, 3, 4, 8};
inline constexpr int kGroupChoices[] = {32, 64, 128, 256, 0};   // 0 = per-channel

struct Selections {
    std::string model = "llama-2-7b";
    Method method = Method::gptq;
    int bits = 4;
    int group_size = 128;        // 0 = per-channel (one scale per output row)
    bool zero_point = false;     // asymmetric: a zero per group, stored at the weight width
    bool act_order = true;       // GPTQ desc_act (seed default; affects accuracy only)
    KvType kv = KvType::fp16;
    std::string hardware = "h100-sxm";
    int gpus = 1;                // tensor-parallel degree of one replica
    int batch = 1;               // concurrent sequences per replica
    int prompt_tokens = 512;
    int output_tokens = 256;
    double input_tokens_per_day = 10e6;
    double output_tokens_per_day = 5e6;
    double usd_per_hour = 0;     // 0 = the catalog's dated price for the hardware
    int calib_samples = 128, calib_tokens = 512;
    std::vector<std::string> compare_api = {"claude-3-5-sonnet", "gpt-4o-mini", "haiku-3.5"};

    bool operator==(const Selections&) const = default;
};

// The defaults a method brings with it (bits, group, zero) so that switching method in the UI
// or on the command line gives a valid selection.
void apply_method_defaults(Selections& s, Method m);

struct FieldError {
    std::string field, reason;
};

// Every reason the selection cannot be computed; empty means valid.
std::vector<FieldError> validate(const Catalog& c, const Selections& s);

// Sets input/output tokens per day from one total, split by the request's prompt:output shape.
void set_tokens_per_day(Selections& s, double total);

}  // namespace qb
