#include <algorithm>

#include "plot.h"

#include <cmath>
#include <cstdio>

ImVec2 PlotAxes::to_screen(double x, double y) const {
    const double tx = logx ? (std::log10(x) - std::log10(x0)) / (std::log10(x1) - std::log10(x0)) : (x - x0) / (x1 - x0);
    const double ty = logy ? (std::log10(y) - std::log10(y0)) / (std::log10(y1) - std::log10(y0)) : (y - y0) / (y1 - y0);
    return ImVec2(p0.x + (float)tx * (p1.x - p0.x), p1.y - (float)ty * (p1.y - p0.y));
}

ImU32 plot_color(int i) {
    static const ImU32 c[] = {IM_COL32(31, 119, 180, 255), IM_COL32(255, 127, 14, 255), IM_COL32(44, 160, 44, 255),
                              IM_COL32(214, 39, 40, 255),  IM_COL32(148, 103, 189, 255), IM_COL32(140, 86, 75, 255),
                              IM_COL32(227, 119, 194, 255), IM_COL32(127, 127, 127, 255), IM_COL32(188, 189, 34, 255),
                              IM_COL32(23, 190, 207, 255)};
    return c[(unsigned)i % (sizeof c / sizeof c[0])];
}

static std::string tick_label(double v) {
    char b[32];
    const double a = std::fabs(v);
    if (a >= 1e9) std::snprintf(b, sizeof b, "%gB", v / 1e9);
    else if (a >= 1e6) std::snprintf(b, sizeof b, "%gM", v / 1e6);
    else if (a >= 1e4) std::snprintf(b, sizeof b, "%gk", v / 1e3);
    else std::snprintf(b, sizeof b, "%g", v);
    return b;
}

// Ticks: decades (with 2 and 5 when the range is short) for log axes, 1-2-5 steps otherwise.
static std::vector<double> ticks(double lo, double hi, bool log) {
    std::vector<double> t;
    if (log) {
        const int d0 = (int)std::floor(std::log10(lo)), d1 = (int)std::ceil(std::log10(hi));
        const bool fine = d1 - d0 <= 2;
        for (int d = d0; d <= d1; ++d)
            for (double m : {1.0, 2.0, 5.0}) {
                if (!fine && m != 1.0) continue;
                const double v = m * std::pow(10.0, d);
                if (v >= lo * 0.999 && v <= hi * 1.001) t.push_back(v);
            }
        return t;
    }
    const double span = hi - lo;
    if (!(span > 0)) return t;
    const double raw = span / 5, mag = std::pow(10.0, std::floor(std::log10(raw)));
    const double step = raw / mag < 1.5 ? mag : raw / mag < 3.5 ? 2 * mag : raw / mag < 7.5 ? 5 * mag : 10 * mag;
    for (double v = std::ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) t.push_back(std::fabs(v) < step * 1e-9 ? 0 : v);
    return t;
}

void nice_range(double lo, double hi, bool log, double* out_lo, double* out_hi) {
    if (log) {
        lo = lo > 0 ? lo : 1e-3;
        hi = hi > lo ? hi : lo * 10;
        *out_lo = std::pow(10.0, std::floor(std::log10(lo) * 4) / 4);
        *out_hi = std::pow(10.0, std::ceil(std::log10(hi) * 4) / 4);
        return;
    }
    if (!(hi > lo)) hi = lo + 1;
    const double m = (hi - lo) * 0.08;
    *out_lo = lo - m < 0 && lo >= 0 ? 0 : lo - m;
    *out_hi = hi + m;
}

PlotAxes plot_frame(const char* title, const char* xlabel, const char* ylabel, ImVec2 size, double x0, double x1,
                    double y0, double y1, bool logx, bool logy) {
    ImDrawList* dl = ImGui::GetWindowDrawList();
    const ImGuiStyle& st = ImGui::GetStyle();
    const ImU32 text = ImGui::GetColorU32(ImGuiCol_Text), grid = ImGui::GetColorU32(ImGuiCol_Border, 0.5f);
    const ImVec2 o = ImGui::GetCursorScreenPos();
    const float fh = ImGui::GetFontSize();
    ImGui::InvisibleButton(title, size);   // claims the area; hover and click on it are the plot's
    PlotAxes a;
    a.x0 = x0; a.x1 = x1; a.y0 = y0; a.y1 = y1; a.logx = logx; a.logy = logy;
    a.p0 = ImVec2(o.x + fh * 4.2f, o.y + fh * 2.9f);   // title line, y-label line, then the plot
    a.p1 = ImVec2(o.x + size.x - fh * 0.8f, o.y + size.y - fh * 2.6f);
    dl->AddRectFilled(o, ImVec2(o.x + size.x, o.y + size.y), ImGui::GetColorU32(ImGuiCol_FrameBg, 0.35f), st.FrameRounding);
    dl->AddText(ImVec2(o.x + fh * 0.5f, o.y + fh * 0.2f), text, title);
    for (double v : ticks(x0, x1, logx)) {
        const ImVec2 p = a.to_screen(v, logy ? y0 : y0);
        dl->AddLine(ImVec2(p.x, a.p0.y), ImVec2(p.x, a.p1.y), grid);
        const std::string l = tick_label(v);
        dl->AddText(ImVec2(p.x - ImGui::CalcTextSize(l.c_str()).x / 2, a.p1.y + 2), text, l.c_str());
    }
    for (double v : ticks(y0, y1, logy)) {
        const ImVec2 p = a.to_screen(x0, v);
        dl->AddLine(ImVec2(a.p0.x, p.y), ImVec2(a.p1.x, p.y), grid);
        const std::string l = tick_label(v);
        dl->AddText(ImVec2(a.p0.x - ImGui::CalcTextSize(l.c_str()).x - 4, p.y - fh / 2), text, l.c_str());
    }
    dl->AddRect(a.p0, a.p1, ImGui::GetColorU32(ImGuiCol_Border));
    dl->AddText(ImVec2((a.p0.x + a.p1.x - ImGui::CalcTextSize(xlabel).x) / 2, a.p1.y + fh * 1.25f), text, xlabel);
    dl->AddText(ImVec2(o.x + fh * 0.5f, o.y + fh * 1.35f), ImGui::GetColorU32(ImGuiCol_TextDisabled), ylabel);
    return a;
}

void plot_polyline(const PlotAxes& a, const std::vector<double>& x, const std::vector<double>& y, ImU32 col,
                   float thickness, bool steps) {
    ImDrawList* dl = ImGui::GetWindowDrawList();
    dl->PushClipRect(a.p0, a.p1, true);
    std::vector<ImVec2> pts;
    for (size_t i = 0; i < x.size() && i < y.size(); ++i) {
        if ((a.logx && !(x[i] > 0)) || (a.logy && !(y[i] > 0))) continue;
        const ImVec2 p = a.to_screen(x[i], y[i]);
        if (steps && !pts.empty()) pts.push_back(ImVec2(p.x, pts.back().y));
        pts.push_back(p);
    }
    if (pts.size() >= 2) dl->AddPolyline(pts.data(), (int)pts.size(), col, 0, thickness);
    dl->PopClipRect();
}

void plot_legend(const PlotAxes& a, const std::vector<std::pair<std::string, ImU32>>& items) {
    ImDrawList* dl = ImGui::GetWindowDrawList();
    const float fh = ImGui::GetFontSize();
    float w = 0;
    for (const auto& it : items) w = std::max(w, ImGui::CalcTextSize(it.first.c_str()).x);
    ImVec2 p(a.p1.x - w - fh * 2.2f, a.p0.y + fh * 0.3f);
    dl->AddRectFilled(ImVec2(p.x - 4, p.y - 2), ImVec2(a.p1.x - 4, p.y + fh * 1.15f * items.size() + 2),
                      ImGui::GetColorU32(ImGuiCol_WindowBg, 0.85f), 3);
    for (const auto& it : items) {
        dl->AddLine(ImVec2(p.x, p.y + fh * 0.55f), ImVec2(p.x + fh, p.y + fh * 0.55f), it.second, 3);
        dl->AddText(ImVec2(p.x + fh * 1.3f, p.y), ImGui::GetColorU32(ImGuiCol_Text), it.first.c_str());
        p.y += fh * 1.15f;
    }
}

int plot_hit(const PlotAxes& a, const std::vector<double>& x, const std::vector<double>& y, float radius) {
    const ImVec2 m = ImGui::GetIO().MousePos;
    if (!a.contains(m)) return -1;
    int best = -1;
    float bd = radius * radius;
    for (size_t i = 0; i < x.size() && i < y.size(); ++i) {
        if ((a.logx && !(x[i] > 0)) || (a.logy && !(y[i] > 0))) continue;
        const ImVec2 p = a.to_screen(x[i], y[i]);
        const float d = (p.x - m.x) * (p.x - m.x) + (p.y - m.y) * (p.y - m.y);
        if (d < bd) { bd = d; best = (int)i; }
    }
    return best;
}
