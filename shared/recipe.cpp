#include "recipe.h"

namespace qb {

static std::string b(bool v) { return v ? "True" : "False"; }

// llama.cpp's nearest GGUF type for Apple / CPU targets.
static const char* gguf_type(const Selections& s) {
    if (s.method == Method::fp16 || s.method == Method::bf16) return s.method == Method::bf16 ? "BF16" : "F16";
    const int bits = fixed_bits(s.method) ? fixed_bits(s.method) : s.bits;
    switch (bits) {
        case 8: return "Q8_0";
        case 4: return "Q4_K_M";
        case 3: return "Q3_K_M";
        default: return "Q2_K";
    }
}

Recipe recipe(const Catalog& c, const Selections& s) {
    Recipe r;
    const ModelArch* m = c.model(s.model);
    const Hardware* h = c.hw(s.hardware);
    if (!m || !h) return r;
    const std::string hf = m->hf_repo;
    const std::string out = "./" + m->id + "-" + method_name(s.method) +
                            (fixed_bits(s.method) ? "" : "-w" + std::to_string(s.bits) + (s.group_size ? "-g" + std::to_string(s.group_size) : "-pc"));
    const int group = s.group_size > 0 ? s.group_size : -1;   // -1 = per-channel in GPTQModel / AutoGPTQ
    const std::string calib = std::to_string(s.calib_samples), seqlen = std::to_string(s.calib_tokens);
    const std::string ctx = std::to_string(s.prompt_tokens + s.output_tokens);

    if (h->kind != HwKind::gpu) {
        const std::string t = gguf_type(s);
        r.quantize = "# llama.cpp (convert once, then quantize)\npython convert_hf_to_gguf.py <path-to-" + hf + "> --outtype f16 --outfile " + m->id + "-f16.gguf\n";
        if (t != std::string("F16") && t != std::string("BF16"))
            r.quantize += "llama-quantize " + m->id + "-f16.gguf " + m->id + "-" + t + ".gguf " + t + "\n";
        r.serve = "llama-server -m " + m->id + "-" + t + ".gguf -c " + std::to_string((s.prompt_tokens + s.output_tokens) * s.batch) +
                  " -np " + std::to_string(s.batch) + (h->kind == HwKind::apple ? " -ngl 99" : " -t $(nproc)");
        r.notes = "On " + h->name + " the mainstream path is llama.cpp's GGUF formats; " + t +
                  " is the nearest to the selection (k-quants use their own block layout, not GPTQ/AWQ groups).";
        return r;
    }

    std::string vq;   // --quantization for vllm serve ("" = detected from the checkpoint)
    switch (s.method) {
        case Method::fp16: case Method::bf16: break;
        case Method::gptq:
            r.quantize =
                "# GPTQ with GPTQModel (pip install gptqmodel); second-order, no gradients\n"
                "from datasets import load_dataset\n"
                "from gptqmodel import GPTQModel, QuantizeConfig\n\n"
                "calib = load_dataset(\"allenai/c4\", data_files=\"en/c4-train.00001-of-01024.json.gz\", split=\"train\")"
                ".select(range(" + calib + "))[\"text\"]  # use your own domain text here\n"
                "cfg = QuantizeConfig(bits=" + std::to_string(s.bits) + ", group_size=" + std::to_string(group) +
                ", desc_act=" + b(s.act_order) + ", sym=" + b(!s.zero_point) + ", damp_percent=0.01)\n"
                "model = GPTQModel.load(\"" + hf + "\", cfg)\n"
                "model.quantize(calib, batch_size=1)  # texts are truncated by the tokenizer; aim for " + seqlen + " tokens each\n"
                "model.save(\"" + out + "\")\n";
            vq = (s.bits == 4 || s.bits == 8) ? "gptq_marlin" : "gptq";
            if (s.bits == 2 || s.bits == 3) r.notes += "vLLM runs 2/3-bit GPTQ on its slower exllama/triton path, not Marlin. ";
            break;
        case Method::awq:
            r.quantize =
                "# AWQ with AutoAWQ (pip install autoawq); forward passes only\n"
                "from awq import AutoAWQForCausalLM\n"
                "from transformers import AutoTokenizer\n\n"
                "model = AutoAWQForCausalLM.from_pretrained(\"" + hf + "\")\n"
                "tokenizer = AutoTokenizer.from_pretrained(\"" + hf + "\")\n"
                "quant_config = {\"zero_point\": " + b(s.zero_point) + ", \"q_group_size\": " + std::to_string(group) +
                ", \"w_bit\": " + std::to_string(s.bits) + ", \"version\": \"GEMM\"}\n"
                "model.quantize(tokenizer, quant_config=quant_config, calib_data=\"pileval\",\n"
                "               max_calib_samples=" + calib + ", max_calib_seq_len=" + seqlen + ")  # or a list of your own texts\n"
                "model.save_quantized(\"" + out + "\")\n"
                "tokenizer.save_pretrained(\"" + out + "\")\n";
            vq = s.bits == 4 ? "awq_marlin" : "awq";
            if (s.bits != 4) r.notes += "vLLM's AWQ kernels are 4-bit only; a " + std::to_string(s.bits) + "-bit AWQ checkpoint will not load. ";
            break;
        case Method::rtn: case Method::int8: case Method::w8a8: case Method::fp8: {
            // llm-compressor writes compressed-tensors checkpoints that vLLM detects by itself.
            std::string scheme, mods;
            if (s.method == Method::fp8) { scheme = "FP8_DYNAMIC"; }
            else if (s.method == Method::w8a8) scheme = "W8A8";
            else if (s.method == Method::int8 || s.bits == 8) scheme = "W8A16";
            else scheme = "W4A16";
            const bool calibrated = s.method == Method::w8a8;
            if (s.method == Method::w8a8)
                mods = "[SmoothQuantModifier(smoothing_strength=0.8),\n          GPTQModifier(targets=\"Linear\", scheme=\"W8A8\", ignore=[\"lm_head\"])]";
            else
                mods = "QuantizationModifier(targets=\"Linear\", scheme=\"" + scheme + "\", ignore=[\"lm_head\"])";
            r.quantize = "# llm-compressor (pip install llmcompressor)\nfrom llmcompressor import oneshot\n";
            r.quantize += "from llmcompressor.modifiers.quantization import " +
                          std::string(s.method == Method::w8a8 ? "GPTQModifier\nfrom llmcompressor.modifiers.smoothquant import SmoothQuantModifier\n" : "QuantizationModifier\n");
            r.quantize += "\nrecipe = " + mods + "\n";
            r.quantize += "oneshot(model=\"" + hf + "\", recipe=recipe, output_dir=\"" + out + "\"" +
                          (calibrated ? ",\n        dataset=\"open_platypus\", num_calibration_samples=" + calib + ", max_seq_length=" + seqlen : "") + ")\n";
            if (s.method == Method::fp8)
                r.notes += "Or skip the checkpoint: `vllm serve " + hf + " --quantization fp8` quantizes the weights to FP8 at load time. ";
            if ((s.method == Method::rtn && s.bits != 4 && s.bits != 8) || (s.group_size != 128 && s.group_size != 0))
                r.notes += "The preset schemes use group 128 (W4A16) or per-channel (W8); other bits or group sizes need a custom config_groups entry. ";
            if (s.method == Method::rtn && s.zero_point) r.notes += "For asymmetric RTN use the W4A16_ASYM scheme. ";
            break;
        }
        case Method::quip:
            r.notes += "QuIP# (Cornell-RelaxML/quip-sharp) has its own quantization scripts and kernels and is not served by mainline vLLM; "
                       "qbench prints no command it cannot check. ";
            r.serve = "# see github.com/Cornell-RelaxML/quip-sharp for its own generation/serving scripts";
            return r;
        case Method::count: break;
    }
    const bool quantized_ckpt = !r.quantize.empty();
    r.serve = "vllm serve " + (quantized_ckpt ? out : hf);
    if (!vq.empty()) r.serve += " --quantization " + vq;
    if (s.method == Method::bf16) r.serve += " --dtype bfloat16";
    else if (s.method == Method::fp16 || s.method == Method::gptq || s.method == Method::awq) r.serve += " --dtype float16";
    if (s.gpus > 1) r.serve += " --tensor-parallel-size " + std::to_string(s.gpus);
    if (s.kv == KvType::fp8) r.serve += " --kv-cache-dtype fp8";
    if (s.kv == KvType::int8) r.notes += "vLLM has no INT8 KV cache; use --kv-cache-dtype fp8 for the same memory. ";
    r.serve += " --max-model-len " + ctx + " --max-num-seqs " + std::to_string(s.batch) + " --gpu-memory-utilization 0.9";
    if (s.method == Method::fp8 && h->peak.fp8 <= 0) r.notes += h->name + " has no FP8 tensor cores. ";
    return r;
}

}  // namespace qb
