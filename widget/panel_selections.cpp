// The selections panel: every field of qb::Selections, with ranges and what each one does.
#include <string>

#include "app.h"
#include "imgui.h"

static const char* kMethodHelp[] = {
    "FP16 weights and activations: the baseline.",
    "BF16: same speed as FP16, wider exponent; needs BF16 tensor cores.",
    "INT8 weight-only (W8A16): 8-bit weights, FP16 math; halves the weight stream.",
    "W8A8 INT8: weights and activations in INT8 on INT8 tensor cores (SmoothQuant-style); 2x FP16 peak on A100/H100.",
    "FP8 (E4M3) weights and activations: needs FP8 tensor cores (Hopper, Ada); 2x FP16 peak, not 8x.",
    "RTN: round-to-nearest, no calibration.",
    "GPTQ: second-order (Hessian-based) rounding from calibration data; no gradients.",
    "AWQ: activation-aware per-channel scaling, then rounding; forward passes only.",
    "QuIP#: incoherence processing (random Hadamard transforms) plus lattice codebooks; 2-4 bits."};

static bool combo_ids(const char* label, std::string* id, const std::vector<std::pair<std::string, std::string>>& items) {
    bool changed = false;
    std::string cur = *id;
    for (const auto& it : items)
        if (it.first == *id) cur = it.second;
    if (ImGui::BeginCombo(label, cur.c_str())) {
        for (const auto& it : items) {
            if (ImGui::Selectable(it.second.c_str(), it.first == *id)) { *id = it.first; changed = true; }
        }
        ImGui::EndCombo();
    }
    return changed;
}

bool panel_selections(AppState& s) {
    qb::Selections n = s.sel;
    const qb::Catalog& c = s.catalog;
    bool ch = false;
    ImGui::PushItemWidth(-ImGui::GetFontSize() * 7.5f);

    ImGui::TextDisabled("Model and hardware");
    std::vector<std::pair<std::string, std::string>> items;
    for (const qb::ModelArch& m : c.models) items.push_back({m.id, m.name});
    ch |= combo_ids("Model", &n.model, items);
    layout_item(s, "model");
    help_marker("Open-weight model; architecture from its published config.json (data/model-catalog.json).");
    items.clear();
    for (const qb::Hardware& h : c.hardware) items.push_back({h.id, h.name});
    ch |= combo_ids("Hardware", &n.hardware, items);
    layout_item(s, "hardware");
    help_marker("Datasheet memory, bandwidth and dense peaks (data/hardware.json).");
    const qb::Hardware* hw = c.hw(n.hardware);
    const int maxd = hw ? hw->max_devices : 1;
    ch |= ImGui::SliderInt("Devices", &n.gpus, 1, maxd, "%d", ImGuiSliderFlags_AlwaysClamp);
    layout_item(s, "gpus");
    help_marker("Tensor-parallel devices per replica; must divide the model's attention heads.");

    ImGui::Separator();
    ImGui::TextDisabled("Quantization");
    int mi = (int)n.method;
    if (ImGui::BeginCombo("Method", qb::method_name(n.method))) {
        for (int i = 0; i < (int)qb::Method::count; ++i) {
            qb::Selections t = n;
            qb::apply_method_defaults(t, (qb::Method)i);
            const std::vector<qb::FieldError> e = qb::validate(c, t);
            ImGui::BeginDisabled(!e.empty());
            if (ImGui::Selectable(qb::method_name((qb::Method)i), mi == i)) { qb::apply_method_defaults(n, (qb::Method)i); ch = true; }
            ImGui::EndDisabled();
            if (ImGui::IsItemHovered(ImGuiHoveredFlags_AllowWhenDisabled)) {
                ImGui::BeginTooltip();
                ImGui::PushTextWrapPos(ImGui::GetFontSize() * 26);
                ImGui::TextUnformatted(kMethodHelp[i]);
                if (!e.empty()) ImGui::TextColored(ImVec4(0.9f, 0.3f, 0.2f, 1), "%s", e.front().reason.c_str());
                ImGui::PopTextWrapPos();
                ImGui::EndTooltip();
            }
        }
        ImGui::EndCombo();
    }
    layout_item(s, "method");
    help_marker(kMethodHelp[mi]);

    if (!qb::fixed_bits(n.method)) {
        ImGui::TextUnformatted("Bits");
        for (int b : qb::kBitsChoices) {
            ImGui::SameLine();
            const std::string l = std::to_string(b) + "##bits";
            if (ImGui::RadioButton(l.c_str(), n.bits == b)) { n.bits = b; ch = true; }
            layout_item(s, ("bits_" + std::to_string(b)).c_str());
        }
        help_marker("Weight bits. Each bit removed quarters the rounding noise budget's headroom; 2-bit needs QuIP#-class methods.");
    }
    const bool groups = n.method == qb::Method::rtn || n.method == qb::Method::gptq || n.method == qb::Method::awq || n.method == qb::Method::int8;
    if (groups) {
        static const char* names[] = {"32", "64", "128", "256", "per-channel"};
        int gi = 0;
        for (int i = 0; i < 5; ++i)
            if (qb::kGroupChoices[i] == n.group_size) gi = i;
        if (ImGui::Combo("Group size", &gi, names, 5)) { n.group_size = qb::kGroupChoices[gi]; ch = true; }
        layout_item(s, "group_size");
        help_marker("Weights sharing one FP16 scale. Smaller groups: better accuracy, more bytes (4 + 16/g bits per weight).");
    }
    if (n.method == qb::Method::rtn || n.method == qb::Method::gptq || n.method == qb::Method::awq) {
        ch |= ImGui::Checkbox("Zero point", &n.zero_point);
        help_marker("Asymmetric quantization: a zero per group (stored at the weight width, as GPTQ/AWQ do).");
    }
    if (n.method == qb::Method::gptq) {
        ImGui::SameLine();
        ch |= ImGui::Checkbox("Act-order", &n.act_order);
        help_marker("GPTQ desc_act: quantize columns by decreasing Hessian diagonal; better accuracy, same speed with Marlin.");
    }
    static const char* kv[] = {"fp16", "bf16", "fp8", "int8"};
    int ki = (int)n.kv;
    if (ImGui::Combo("KV cache", &ki, kv, 4)) { n.kv = (qb::KvType)ki; ch = true; }
    layout_item(s, "kv_cache");
    help_marker("KV-cache data type: 8-bit halves the cache (and its read time in long contexts).");

    ImGui::Separator();
    ImGui::TextDisabled("Workload");
    ch |= ImGui::SliderInt("Batch", &n.batch, 1, 512, "%d", ImGuiSliderFlags_Logarithmic | ImGuiSliderFlags_AlwaysClamp);
    layout_item(s, "batch");
    help_marker("Concurrent sequences per replica. Weight-only quantization pays off at small batches only (see Plots).");
    const qb::ModelArch* m = c.model(n.model);
    const int ctx = m ? m->max_context : 4096;
    ch |= ImGui::SliderInt("Prompt", &n.prompt_tokens, 1, ctx - 1, "%d tokens", ImGuiSliderFlags_Logarithmic | ImGuiSliderFlags_AlwaysClamp);
    layout_item(s, "prompt_tokens");
    help_marker("Input tokens per request: sets the prefill work (TTFT) and the KV cache.");
    ch |= ImGui::SliderInt("Output", &n.output_tokens, 1, ctx - 1, "%d tokens", ImGuiSliderFlags_Logarithmic | ImGuiSliderFlags_AlwaysClamp);
    layout_item(s, "output_tokens");
    help_marker("Generated tokens per request: decode steps (TPOT each).");
    if (n.prompt_tokens + n.output_tokens > ctx) n.output_tokens = ctx - n.prompt_tokens;
    float tin = (float)(n.input_tokens_per_day / 1e6), tout = (float)(n.output_tokens_per_day / 1e6);
    if (ImGui::SliderFloat("Input/day", &tin, 0.01f, 100000.0f, "%.2fM", ImGuiSliderFlags_Logarithmic | ImGuiSliderFlags_AlwaysClamp)) {
        n.input_tokens_per_day = (double)tin * 1e6;
        ch = true;
    }
    layout_item(s, "input_per_day");
    help_marker("Input tokens per day, millions: sizes the fleet and the API bill.");
    if (ImGui::SliderFloat("Output/day", &tout, 0.01f, 100000.0f, "%.2fM", ImGuiSliderFlags_Logarithmic | ImGuiSliderFlags_AlwaysClamp)) {
        n.output_tokens_per_day = (double)tout * 1e6;
        ch = true;
    }
    layout_item(s, "output_per_day");
    help_marker("Output tokens per day, millions.");
    float usd = (float)n.usd_per_hour;
    if (ImGui::InputFloat("$/hour", &usd, 0.1f, 1.0f, usd > 0 ? "%.2f" : "catalog")) {
        n.usd_per_hour = usd < 0 ? 0 : usd > 1000 ? 1000 : usd;
        ch = true;
    }
    layout_item(s, "usd_per_hour");
    if (hw) {
        const std::string tip = "Price per device-hour; 0 uses the catalog's $" + std::to_string(hw->price.usd_per_hour).substr(0, 5) +
                                " (" + hw->price.provider + ", " + hw->price.date + ").";
        help_marker(tip.c_str());
    }

    ImGui::Separator();
    ImGui::TextDisabled("Compare with API models");
    for (const qb::ApiModel& a : c.api_models) {
        bool on = false;
        for (const std::string& x : n.compare_api) on |= x == a.id;
        const std::string l = a.id + "##api";
        if (ImGui::Checkbox(l.c_str(), &on)) {
            std::vector<std::string> v;
            for (const qb::ApiModel& b : c.api_models) {
                bool keep = false;
                for (const std::string& x : n.compare_api) keep |= x == b.id;
                if (b.id == a.id) keep = on;
                if (keep) v.push_back(b.id);
            }
            n.compare_api = v;
            ch = true;
        }
        layout_item(s, ("api_" + a.id).c_str());
        const std::string tip = a.name + " (" + a.tier + "): $" + std::to_string(a.usd_per_m_input).substr(0, 5) + " / $" +
                                std::to_string(a.usd_per_m_output).substr(0, 5) + " per M in/out tokens, price of " + a.date +
                                (a.status == "deprecated" ? ", deprecated" : "") + ". Source: " + a.source;
        help_marker(tip.c_str());
    }

    ImGui::Separator();
    ImGui::TextDisabled("Calibration (recipe only)");
    ch |= ImGui::InputInt("Samples", &n.calib_samples, 16, 128);
    help_marker("Calibration sequences for GPTQ/AWQ/SmoothQuant; use text from your own domain.");
    ch |= ImGui::InputInt("Tokens", &n.calib_tokens, 64, 512);
    help_marker("Tokens per calibration sequence.");
    n.calib_samples = n.calib_samples < 1 ? 1 : n.calib_samples > 100000 ? 100000 : n.calib_samples;
    n.calib_tokens = n.calib_tokens < 1 ? 1 : n.calib_tokens > 1000000 ? 1000000 : n.calib_tokens;
    ImGui::PopItemWidth();
    if (ch && !(n == s.sel)) {
        app_set(s, n);
        return true;
    }
    return false;
}
