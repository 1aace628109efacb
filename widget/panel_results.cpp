// Results: latency, throughput, the memory bar against capacity, accuracy with its provenance,
// and the monthly cost. Every figure says whether it is computed, published or estimated.
#include <cstdio>

#include "app.h"
#include "imgui.h"

static void big(const char* label, const char* value, const char* help) {
    ImGui::BeginGroup();
    ImGui::TextDisabled("%s", label);
    ImGui::SetWindowFontScale(1.5f);
    ImGui::TextUnformatted(value);
    ImGui::SetWindowFontScale(1.0f);
    ImGui::EndGroup();
    help_marker(help);
}

static ImVec4 provenance_color(qb::Provenance p) {
    switch (p) {
        case qb::Provenance::published: return ImVec4(0.2f, 0.65f, 0.3f, 1);
        case qb::Provenance::measured: return ImVec4(0.2f, 0.5f, 0.9f, 1);
        case qb::Provenance::estimated: return ImVec4(0.9f, 0.55f, 0.1f, 1);
        default: return ImVec4(0.6f, 0.6f, 0.6f, 1);
    }
}

void panel_results(AppState& s) {
    if (!s.result.ok()) return;
    const qb::Prediction& p = s.result.p;
    char b[128];
    std::snprintf(b, sizeof b, "%.2f ms", p.lat.tpot_ms);
    big("Decode (TPOT)", b, "Time per output token at the mean context of the generation (computed: roofline with efficiency factors).");
    ImGui::SameLine(0, 28);
    std::snprintf(b, sizeof b, "%.1f ms", p.lat.ttft_ms);
    big("First token (TTFT)", b, "Prefill of the whole batch of prompts (computed).");
    ImGui::SameLine(0, 28);
    std::snprintf(b, sizeof b, "%.0f tok/s", p.lat.tokens_per_s);
    big("Throughput", b, "Output tokens per second of one replica: batch x output / request time (computed).");
    ImGui::SameLine(0, 28);
    std::snprintf(b, sizeof b, "%.2fx", p.vs_fp16.decode_speedup);
    big("vs FP16 decode", b, "FP16 TPOT / this TPOT on the same hardware (computed).");
    if (p.crossover_batch) ImGui::Text("Crossover batch: %d (weight-only decode is no faster than FP16 from here; computed)", p.crossover_batch);

    ImGui::Separator();
    ImGui::Text("Memory (computed): %.1f GB of %.1f GB usable on %d device(s) - %s", p.mem.total_gb, p.mem.capacity_gb, p.sel.gpus,
                p.mem.fits ? "fits" : "DOES NOT FIT");
    // Stacked bar: weights, KV cache, activations, runtime against the usable capacity.
    const double parts[] = {p.mem.weights_gb, p.mem.kv_cache_gb, p.mem.activations_gb, p.mem.overhead_gb};
    const char* names[] = {"weights", "KV cache", "activations", "runtime"};
    const double full = p.mem.capacity_gb > p.mem.total_gb ? p.mem.capacity_gb : p.mem.total_gb;
    ImDrawList* dl = ImGui::GetWindowDrawList();
    const ImVec2 o = ImGui::GetCursorScreenPos();
    const float w = ImGui::GetContentRegionAvail().x, h = ImGui::GetFontSize() * 1.6f;
    ImGui::InvisibleButton("membar", ImVec2(w, h));
    layout_item(s, "memory_bar");
    float x = o.x;
    int hovered = -1;
    for (int i = 0; i < 4; ++i) {
        const float pw = (float)(parts[i] / full) * w;
        dl->AddRectFilled(ImVec2(x, o.y), ImVec2(x + pw, o.y + h), plot_color(i));
        if (ImGui::IsItemHovered() && ImGui::GetIO().MousePos.x >= x && ImGui::GetIO().MousePos.x < x + pw) hovered = i;
        x += pw;
    }
    const float cap = o.x + (float)(p.mem.capacity_gb / full) * w;
    dl->AddRect(o, ImVec2(o.x + w, o.y + h), ImGui::GetColorU32(ImGuiCol_Border));
    dl->AddLine(ImVec2(cap, o.y - 3), ImVec2(cap, o.y + h + 3), IM_COL32(220, 40, 40, 255), 2);
    if (hovered >= 0) ImGui::SetTooltip("%s: %.2f GB", names[hovered], parts[hovered]);
    for (int i = 0; i < 4; ++i) {
        ImGui::ColorButton(names[i], ImGui::ColorConvertU32ToFloat4(plot_color(i)), ImGuiColorEditFlags_NoTooltip, ImVec2(10, 10));
        ImGui::SameLine();
        ImGui::Text("%s %.2f GB", names[i], parts[i]);
        if (i < 3) ImGui::SameLine(0, 16);
    }
    ImGui::TextDisabled("%.3f bits per weight in the linear layers (scales and zeros included); red line = usable capacity", p.mem.weight_bits);

    ImGui::Separator();
    ImGui::TextColored(provenance_color(p.acc.provenance), "Accuracy [%s]", qb::provenance_name(p.acc.provenance));
    if (p.acc.has_ppl)
        ImGui::Text("WikiText-2 perplexity %.2f vs FP16 %.2f (%+.2f%%), context %d", p.acc.ppl, p.acc.ppl_fp16, p.acc.delta_pct, p.acc.context);
    else if (p.acc.provenance != qb::Provenance::none)
        ImGui::Text("Perplexity change vs FP16: %+.2f%%", p.acc.delta_pct);
    ImGui::PushTextWrapPos(0);
    if (!p.acc.source.empty()) ImGui::TextDisabled("Source: %s", p.acc.source.c_str());
    if (!p.acc.basis.empty()) ImGui::TextDisabled("Basis: %s", p.acc.basis.c_str());
    ImGui::PopTextWrapPos();
    panel_quantize(s);

    ImGui::Separator();
    ImGui::Text("calculated_monthly_cost: %s", fmt_usd(p.cost.usd_month).c_str());
    ImGui::SameLine();
    ImGui::TextDisabled("(computed)");
    ImGui::Text("%d device(s) x $%.2f/h x 730 h; %d replica(s) at %.0f%% utilisation for %s in + %s out tokens/day", p.cost.gpus,
                p.cost.usd_per_hour, p.cost.replicas, p.cost.utilization * 100, fmt_tokens(p.sel.input_tokens_per_day).c_str(),
                fmt_tokens(p.sel.output_tokens_per_day).c_str());
    if (p.cost.price_overridden) ImGui::TextDisabled("Price: your override");
    else ImGui::TextDisabled("Price: %s, %s (cited: %s)", p.cost.price_provider.c_str(), p.cost.price_date.c_str(), p.cost.price_source.c_str());
    for (const std::string& w : p.warnings) {
        ImGui::PushTextWrapPos(0);
        ImGui::TextColored(ImVec4(0.9f, 0.55f, 0.1f, 1), "! %s", w.c_str());
        ImGui::PopTextWrapPos();
    }
}
