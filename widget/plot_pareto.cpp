// Latency vs accuracy: every configuration of the sweep at the current batch, the Pareto front
// joined, the current selection ringed. A click on a point selects that configuration.
#include <algorithm>
#include <cstdio>

#include "app.h"

static constexpr double kFloorPct = 0.01;   // losses below this are drawn at it (log axis)

bool plot_pareto(AppState& s, ImVec2 size) {
    std::vector<double> x, y;
    std::vector<int> idx;
    for (size_t i = 0; i < s.sweep.size(); ++i) {
        const qb::SweepPoint& p = s.sweep[i];
        if (p.provenance == qb::Provenance::none) continue;
        x.push_back(p.tpot_ms);
        y.push_back(std::max(p.delta_pct, kFloorPct));
        idx.push_back((int)i);
    }
    double x0 = 1e300, x1 = 0, y0 = 1e300, y1 = 0;
    for (size_t i = 0; i < x.size(); ++i) {
        x0 = std::min(x0, x[i]); x1 = std::max(x1, x[i]);
        y0 = std::min(y0, y[i]); y1 = std::max(y1, y[i]);
    }
    nice_range(x.empty() ? 0 : x0, x.empty() ? 1 : x1, false, &x0, &x1);
    nice_range(y.empty() ? 0.01 : y0, y.empty() ? 100 : y1, true, &y0, &y1);
    const PlotAxes a = plot_frame("Latency vs accuracy (click a point to select it)", "decode TPOT, ms (computed)",
                                  "perplexity increase vs FP16, % (log)", size, x0, x1, y0, y1, false, true);
    s.layout.push_back({"plot_pareto", {a.p0.x, a.p0.y, a.p1.x - a.p0.x, a.p1.y - a.p0.y}});
    ImDrawList* dl = ImGui::GetWindowDrawList();
    dl->PushClipRect(a.p0, a.p1, true);
    // Front: Pareto points in TPOT order.
    std::vector<std::pair<double, double>> front;
    for (size_t i = 0; i < idx.size(); ++i)
        if (s.sweep[idx[i]].pareto) front.push_back({x[i], y[i]});
    std::sort(front.begin(), front.end());
    std::vector<double> fx, fy;
    for (auto& f : front) { fx.push_back(f.first); fy.push_back(f.second); }
    dl->PopClipRect();
    plot_polyline(a, fx, fy, IM_COL32(44, 160, 44, 200), 2, true);
    dl->PushClipRect(a.p0, a.p1, true);
    int cur = -1;
    for (size_t i = 0; i < idx.size(); ++i) {
        const qb::SweepPoint& p = s.sweep[idx[i]];
        const ImVec2 c = a.to_screen(x[i], y[i]);
        const ImU32 col = plot_color((int)p.sel.method);
        if (p.fits) dl->AddCircleFilled(c, p.pareto ? 4.5f : 3.0f, col);
        else dl->AddCircle(c, 3.5f, col);
        if (p.sel.method == s.sel.method && p.sel.bits == s.sel.bits && p.sel.group_size == s.sel.group_size &&
            p.sel.zero_point == s.sel.zero_point)
            cur = (int)i;
    }
    if (cur >= 0) {
        const ImVec2 c = a.to_screen(x[cur], y[cur]);
        dl->AddCircle(c, 8, ImGui::GetColorU32(ImGuiCol_Text), 0, 2);
        s.layout.push_back({"pareto_current", {c.x - 4, c.y - 4, 8, 8}});
    }
    dl->PopClipRect();
    // Points a test (or a keyboard user's helper) can click: the Pareto front.
    int n_front = 0;
    for (size_t i = 0; i < idx.size(); ++i)
        if (s.sweep[idx[i]].pareto && s.sweep[idx[i]].fits && (int)i != cur) {
            const ImVec2 c = a.to_screen(x[i], y[i]);
            if (a.contains(c) && n_front < 8) s.layout.push_back({"pareto_point_" + std::to_string(n_front++), {c.x - 4, c.y - 4, 8, 8}});
        }
    const int hit = plot_hit(a, x, y);
    bool changed = false;
    if (hit >= 0) {
        const qb::SweepPoint& p = s.sweep[idx[hit]];
        ImGui::BeginTooltip();
        ImGui::Text("%s%s", qb::method_name(p.sel.method), qb::fixed_bits(p.sel.method) ? "" : (" W" + std::to_string(p.sel.bits)).c_str());
        if (!qb::fixed_bits(p.sel.method) && p.sel.method != qb::Method::quip)
            ImGui::Text("group %s%s", p.sel.group_size ? std::to_string(p.sel.group_size).c_str() : "per-channel", p.sel.zero_point ? ", zero point" : "");
        ImGui::Text("TPOT %.3f ms, TTFT %.1f ms", p.tpot_ms, p.ttft_ms);
        ImGui::Text("perplexity %+.2f%% (%s)%s", p.delta_pct, qb::provenance_name(p.provenance), p.pareto ? ", on the Pareto front" : "");
        ImGui::Text("memory %.1f GB%s, %s/month", p.memory_gb, p.fits ? "" : " (does not fit)", fmt_usd(p.usd_month).c_str());
        ImGui::EndTooltip();
        if (ImGui::IsMouseClicked(0)) {
            qb::Selections n = s.sel;
            n.method = p.sel.method;
            n.bits = p.sel.bits;
            n.group_size = p.sel.group_size;
            n.zero_point = p.sel.zero_point;
            app_set(s, n);
            changed = true;
        }
    }
    return changed;
}
