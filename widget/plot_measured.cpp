// Measured vs predicted: every kernel timing of the loaded benchmark runs against the model's
// prediction with the catalog's efficiency factors (hollow) and after fitting them to the run
// (filled). Points on the diagonal are predicted exactly; the title gives each run's error.
#include <algorithm>
#include <cstdio>
#include <string>

#include "app.h"

void plot_measured(AppState& s, ImVec2 size) {
    double lo = 1e300, hi = 0;
    for (const MeasuredRun& r : s.runs)
        for (size_t i = 0; i < r.measured_us.size(); ++i)
            for (double v : {r.measured_us[i], r.predicted_us[i], r.fitted_us[i]})
                if (v > 0) { lo = std::min(lo, v); hi = std::max(hi, v); }
    if (!(hi > 0)) { lo = 1; hi = 1000; }
    nice_range(lo, hi, true, &lo, &hi);
    char title[160];
    const MeasuredRun& r0 = s.runs.front();
    std::snprintf(title, sizeof title, "Measured vs predicted: error %.0f%% -> %.0f%% fitted", r0.cal.mape_before,
                  r0.cal.mape_after);
    const std::string ylabel = "predicted, us (log); " + r0.cal.hw.id + (s.runs.size() > 1 ? " +" + std::to_string(s.runs.size() - 1) + " runs" : "");
    const PlotAxes a = plot_frame(title, "measured kernel time, us (log)", ylabel.c_str(), size, lo, hi, lo, hi, true, true);
    s.layout.push_back({"plot_measured", {a.p0.x, a.p0.y, a.p1.x - a.p0.x, a.p1.y - a.p0.y}});
    plot_polyline(a, {lo, hi}, {lo, hi}, ImGui::GetColorU32(ImGuiCol_TextDisabled), 1);
    ImDrawList* dl = ImGui::GetWindowDrawList();
    dl->PushClipRect(a.p0, a.p1, true);
    std::vector<double> hx, hy;
    std::vector<std::pair<int, int>> hid;
    for (size_t ri = 0; ri < s.runs.size(); ++ri) {
        const MeasuredRun& r = s.runs[ri];
        for (size_t i = 0; i < r.measured_us.size(); ++i) {
            qb::Kernel k = qb::Kernel::fp16;
            qb::measurement_kernel(r.results.measurements[r.index[i]].kernel, &k);
            const ImU32 col = plot_color((int)k);
            dl->AddCircle(a.to_screen(r.measured_us[i], r.predicted_us[i]), 3.5f, col);
            dl->AddCircleFilled(a.to_screen(r.measured_us[i], r.fitted_us[i]), 3.0f, col);
            hx.push_back(r.measured_us[i]);
            hy.push_back(r.fitted_us[i]);
            hid.push_back({(int)ri, (int)i});
        }
    }
    dl->PopClipRect();
    std::vector<std::pair<std::string, ImU32>> legend;
    for (int k = 0; k < (int)qb::Kernel::attn; ++k) legend.push_back({qb::kernel_name((qb::Kernel)k), plot_color(k)});
    plot_legend(a, legend);
    const int hit = plot_hit(a, hx, hy);
    if (hit >= 0) {
        const MeasuredRun& r = s.runs[hid[hit].first];
        const int i = hid[hit].second;
        const qb::Measurement& m = r.results.measurements[r.index[i]];
        ImGui::BeginTooltip();
        ImGui::Text("%s %s (%s), M=%d N=%d K=%d", m.backend.c_str(), m.kernel.c_str(), m.impl.c_str(), m.m, m.n, m.k);
        ImGui::Text("measured %.1f us (%.0f GB/s, %.0f%% of probe)", m.median_us, m.gbps, m.pct_of_probe);
        ImGui::Text("predicted %.1f us with catalog factors, %.1f us fitted", r.predicted_us[i], r.fitted_us[i]);
        ImGui::TextDisabled("%s, %s", r.results.env.cpu_model.c_str(), r.results.env.timestamp.c_str());
        ImGui::EndTooltip();
    }
}
