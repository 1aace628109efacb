// Compare: `comparison_delta` against FP16 on the same hardware and against each API model,
// with the break-even volume, then the cost-vs-volume plot.
#include <cstdio>

#include <algorithm>

#include "app.h"
#include "imgui.h"

void panel_compare(AppState& s) {
    if (!s.result.ok()) return;
    const qb::Prediction& p = s.result.p;
    const qb::Fp16Delta& d = p.vs_fp16;
    ImGui::TextUnformatted("vs FP16 on the same hardware (computed)");
    if (ImGui::BeginTable("fp16", 3, ImGuiTableFlags_Borders | ImGuiTableFlags_RowBg | ImGuiTableFlags_SizingStretchProp)) {
        ImGui::TableSetupColumn("metric");
        ImGui::TableSetupColumn("change");
        ImGui::TableSetupColumn("%");
        ImGui::TableHeadersRow();
        auto row = [](const char* m, const char* v, double pct) {
            ImGui::TableNextRow();
            ImGui::TableNextColumn(); ImGui::TextUnformatted(m);
            ImGui::TableNextColumn(); ImGui::TextUnformatted(v);
            ImGui::TableNextColumn(); ImGui::Text("%+.1f%%", pct);
        };
        char b[64];
        std::snprintf(b, sizeof b, "%+.3f ms", d.tpot_ms); row("decode TPOT", b, d.tpot_pct);
        std::snprintf(b, sizeof b, "%+.2f ms", d.ttft_ms); row("first token TTFT", b, d.ttft_pct);
        std::snprintf(b, sizeof b, "%+.2f GB", d.memory_gb); row("memory", b, d.memory_pct);
        row("monthly cost", fmt_usd(d.usd_month).c_str(), d.usd_pct);
        ImGui::EndTable();
    }
    if (!d.fp16_fits) ImGui::TextColored(ImVec4(0.9f, 0.55f, 0.1f, 1), "FP16 does not fit these devices.");

    ImGui::Spacing();
    ImGui::TextUnformatted("vs API models for the same tokens (prices cited with their date)");
    if (ImGui::BeginTable("api", 6, ImGuiTableFlags_Borders | ImGuiTableFlags_RowBg | ImGuiTableFlags_SizingStretchProp)) {
        for (const char* h : {"API model", "tier", "API / month", "self-hosted - API", "%", "break-even tokens/day"}) ImGui::TableSetupColumn(h);
        ImGui::TableHeadersRow();
        for (const qb::ApiComparison& a : p.vs_api) {
            ImGui::TableNextRow();
            ImGui::TableNextColumn(); ImGui::TextUnformatted(a.id.c_str());
            if (const qb::ApiModel* am = s.catalog.api(a.id)) {
                if (ImGui::IsItemHovered()) ImGui::SetTooltip("%s, %s; $%.2f / $%.2f per M tokens (%s). %s", am->name.c_str(), am->provider.c_str(),
                                                              am->usd_per_m_input, am->usd_per_m_output, am->date.c_str(), am->source.c_str());
            }
            ImGui::TableNextColumn(); ImGui::TextUnformatted(a.tier.c_str());
            ImGui::TableNextColumn(); ImGui::TextUnformatted(fmt_usd(a.usd_month).c_str());
            ImGui::TableNextColumn();
            ImGui::TextColored(a.delta_usd <= 0 ? ImVec4(0.2f, 0.65f, 0.3f, 1) : ImVec4(0.85f, 0.3f, 0.2f, 1), "%s", fmt_usd(a.delta_usd).c_str());
            ImGui::TableNextColumn(); ImGui::Text("%+.0f%%", a.delta_pct);
            ImGui::TableNextColumn();
            if (a.breaks_even) ImGui::TextUnformatted(fmt_tokens(a.break_even_tokens_per_day).c_str());
            else ImGui::TextDisabled("never (API cheaper)");
        }
        ImGui::EndTable();
    }
    ImGui::TextDisabled("Negative: self-hosting saves. A faster model does not lower an API's per-token price.");
    ImGui::Spacing();
    plot_cost(s, ImVec2(ImGui::GetContentRegionAvail().x, std::max(240.0f, ImGui::GetContentRegionAvail().y - 4)));
}
