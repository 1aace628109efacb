// Monthly cost vs tokens per day: self-hosted (steps as replicas are added) for the selection and
// FP16, one line per API model, break-even points marked, the current volume as a vertical line.
#include <algorithm>
#include <cmath>

#include "app.h"
#include "cost.h"

void plot_cost(AppState& s, ImVec2 size) {
    if (!s.result.ok()) return;
    const qb::Prediction& p = s.result.p;
    const qb::Hardware& h = *s.catalog.hw(p.sel.hardware);
    const double total = p.sel.input_tokens_per_day + p.sel.output_tokens_per_day;
    const double f_in = total > 0 ? p.sel.input_tokens_per_day / total : p.sel.prompt_tokens / double(p.sel.prompt_tokens + p.sel.output_tokens);
    std::vector<double> xs;
    for (double e = 5; e <= 11.001; e += 0.05) xs.push_back(std::pow(10.0, e));
    qb::Selections f = p.sel;
    qb::apply_method_defaults(f, qb::Method::fp16);
    const qb::Latency fl = qb::latency(s.catalog, *s.catalog.model(f.model), h, f);
    std::vector<Curve> curves;
    Curve self{"self-hosted (this)", plot_color(0), {}, {}}, f16{"self-hosted FP16", plot_color(7), {}, {}};
    for (double x : xs) {
        qb::Selections q = p.sel;
        q.input_tokens_per_day = x * f_in;
        q.output_tokens_per_day = x * (1 - f_in);
        self.x.push_back(x);
        self.y.push_back(qb::self_hosted_cost(h, q, p.lat).usd_month);
        qb::Selections qf = f;
        qf.input_tokens_per_day = q.input_tokens_per_day;
        qf.output_tokens_per_day = q.output_tokens_per_day;
        f16.x.push_back(x);
        f16.y.push_back(qb::self_hosted_cost(h, qf, fl).usd_month);
    }
    curves.push_back(self);
    curves.push_back(f16);
    int ci = 1;
    for (const std::string& id : p.sel.compare_api) {
        const qb::ApiModel* am = s.catalog.api(id);
        if (!am) continue;
        Curve c{id, plot_color(++ci), {}, {}};
        for (double x : xs) {
            qb::Selections q = p.sel;
            q.input_tokens_per_day = x * f_in;
            q.output_tokens_per_day = x * (1 - f_in);
            c.x.push_back(x);
            c.y.push_back(qb::api_usd_month(*am, q));
        }
        curves.push_back(c);
    }
    double y0 = 1e300, y1 = 0;
    for (const Curve& c : curves)
        for (double v : c.y)
            if (v > 0) { y0 = std::min(y0, v); y1 = std::max(y1, v); }
    nice_range(y0, y1, true, &y0, &y1);
    const PlotAxes a = plot_frame("Monthly cost vs volume", "tokens per day (input + output, log)", "$ per month (log, computed)", size,
                                  xs.front(), xs.back(), y0, y1, true, true);
    s.layout.push_back({"plot_cost", {a.p0.x, a.p0.y, a.p1.x - a.p0.x, a.p1.y - a.p0.y}});
    std::vector<std::pair<std::string, ImU32>> legend;
    for (size_t i = 0; i < curves.size(); ++i) {
        plot_polyline(a, curves[i].x, curves[i].y, curves[i].color, i == 0 ? 2.5f : 1.5f, i < 2);
        legend.push_back({curves[i].label, curves[i].color});
    }
    ImDrawList* dl = ImGui::GetWindowDrawList();
    dl->PushClipRect(a.p0, a.p1, true);
    for (const qb::ApiComparison& c : p.vs_api)
        if (c.breaks_even) {
            const double y = c.break_even_tokens_per_day * c.usd_per_m_blended / 1e6 * qb::kDaysPerMonth;
            const ImVec2 q = a.to_screen(c.break_even_tokens_per_day, y);
            dl->AddCircleFilled(q, 5, IM_COL32(214, 39, 40, 255));
        }
    if (total > 0) {
        const ImVec2 q = a.to_screen(std::max(xs.front(), std::min(xs.back(), total)), y0);
        dl->AddLine(ImVec2(q.x, a.p0.y), ImVec2(q.x, a.p1.y), ImGui::GetColorU32(ImGuiCol_TextDisabled), 1);
    }
    dl->PopClipRect();
    plot_legend(a, legend);
    const ImVec2 m = ImGui::GetIO().MousePos;
    if (a.contains(m)) {
        size_t best = 0;
        for (size_t i = 0; i < xs.size(); ++i)
            if (std::fabs(a.to_screen(xs[i], y0).x - m.x) < std::fabs(a.to_screen(xs[best], y0).x - m.x)) best = i;
        ImGui::BeginTooltip();
        ImGui::Text("%s tokens/day", fmt_tokens(xs[best]).c_str());
        for (const Curve& c : curves) ImGui::TextColored(ImGui::ColorConvertU32ToFloat4(c.color), "%s: %s/month", c.label.c_str(), fmt_usd(c.y[best]).c_str());
        ImGui::TextDisabled("red dots: break-even with each API model");
        ImGui::EndTooltip();
    }
}
