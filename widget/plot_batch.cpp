// Decode time vs batch size per method: where weight-only quantization stops beating FP16.
#include <algorithm>
#include <cmath>

#include "app.h"

void plot_batch(AppState& s, ImVec2 size) {
    double y0 = 1e300, y1 = 0;
    for (const Curve& c : s.batch_curves)
        for (double v : c.y) { y0 = std::min(y0, v); y1 = std::max(y1, v); }
    nice_range(s.batch_curves.empty() ? 0.1 : y0, s.batch_curves.empty() ? 10 : y1, true, &y0, &y1);
    const PlotAxes a = plot_frame("Decode step vs batch", "batch (sequences per replica, log)", "TPOT, ms (log, computed)", size, 1, 512,
                                  y0, y1, true, true);
    s.layout.push_back({"plot_batch", {a.p0.x, a.p0.y, a.p1.x - a.p0.x, a.p1.y - a.p0.y}});
    std::vector<std::pair<std::string, ImU32>> legend;
    for (const Curve& c : s.batch_curves) {
        plot_polyline(a, c.x, c.y, c.color, 2);
        legend.push_back({c.label, c.color});
    }
    ImDrawList* dl = ImGui::GetWindowDrawList();
    if (s.result.ok() && s.result.p.crossover_batch > 0 && s.result.p.crossover_batch <= 512) {
        const ImVec2 p = a.to_screen(s.result.p.crossover_batch, y0);
        dl->AddLine(ImVec2(p.x, a.p0.y), ImVec2(p.x, a.p1.y), IM_COL32(214, 39, 40, 220), 1.5f);
        const std::string l = "crossover " + std::to_string(s.result.p.crossover_batch);
        dl->AddText(ImVec2(p.x + 4, a.p1.y - ImGui::GetFontSize() - 2), IM_COL32(214, 39, 40, 255), l.c_str());
    }
    const ImVec2 cur = a.to_screen(std::max(1, std::min(512, s.sel.batch)), y0);
    dl->AddLine(ImVec2(cur.x, a.p0.y), ImVec2(cur.x, a.p1.y), ImGui::GetColorU32(ImGuiCol_TextDisabled), 1);
    plot_legend(a, legend);
    const ImVec2 m = ImGui::GetIO().MousePos;
    if (a.contains(m) && !s.batch_curves.empty()) {
        // Read-out at the batch under the mouse.
        const Curve& c0 = s.batch_curves[0];
        size_t best = 0;
        for (size_t i = 0; i < c0.x.size(); ++i)
            if (std::fabs(a.to_screen(c0.x[i], y0).x - m.x) < std::fabs(a.to_screen(c0.x[best], y0).x - m.x)) best = i;
        ImGui::BeginTooltip();
        ImGui::Text("batch %.0f", c0.x[best]);
        for (const Curve& c : s.batch_curves)
            if (best < c.y.size()) ImGui::TextColored(ImGui::ColorConvertU32ToFloat4(c.color), "%s: %.3f ms", c.label.c_str(), c.y[best]);
        ImGui::EndTooltip();
    }
}
