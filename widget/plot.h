// plot.h: the small plotting layer the widget's charts share, drawn with ImDrawList (Dear ImGui
// 1.86 has no ImPlot): a frame with axes, 1-2-5 or decade ticks, labels, units, and helpers to
// map data to pixels and to find the point under the mouse.
#pragma once
#include <string>
#include <vector>

#include "imgui.h"

struct PlotAxes {
    ImVec2 p0, p1;                 // plotting area in screen pixels (p0 top-left)
    double x0 = 0, x1 = 1, y0 = 0, y1 = 1;
    bool logx = false, logy = false;
    ImVec2 to_screen(double x, double y) const;
    bool contains(ImVec2 p) const { return p.x >= p0.x && p.x <= p1.x && p.y >= p0.y && p.y <= p1.y; }
};

// Draws the frame, grid, ticks and labels into a child region of `size` and returns the axes.
// Ranges are in data units; for log axes they must be > 0.
PlotAxes plot_frame(const char* title, const char* xlabel, const char* ylabel, ImVec2 size, double x0, double x1,
                    double y0, double y1, bool logx, bool logy);

void plot_polyline(const PlotAxes& a, const std::vector<double>& x, const std::vector<double>& y, ImU32 col,
                   float thickness = 2.0f, bool steps = false);
void plot_legend(const PlotAxes& a, const std::vector<std::pair<std::string, ImU32>>& items);

// Index of the point nearest the mouse within `radius` pixels, or -1.
int plot_hit(const PlotAxes& a, const std::vector<double>& x, const std::vector<double>& y, float radius = 8.0f);

// A pleasant range around [lo, hi] (with margin, rounded to ticks).
void nice_range(double lo, double hi, bool log, double* out_lo, double* out_hi);

ImU32 plot_color(int i);   // a qualitative palette readable on light and dark backgrounds
