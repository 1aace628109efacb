// app.h: the widget's logic outside any panel: loading data, applying selections and links,
// recomputing results, drawing one frame, and the text and metrics it hands to the page.
#pragma once
#include <string>

#include "app_state.h"
#include "imgui.h"
#include "plot.h"

enum DataFile { kModelCatalog = 0, kHardware = 1, kEfficiency = 2, kAccuracy = 3 };

void app_init(AppState& s, const std::string& url_hash);
// Replaces one catalog file's text; a malformed file is reported and the previous data kept.
bool app_load_data(AppState& s, int which, const std::string& text, const std::string& origin);
bool app_apply_link(AppState& s, const std::string& hash);
// Adds a benchmark results document (qbench.results); a malformed one is reported, not loaded.
bool app_load_results(AppState& s, const std::string& text, const std::string& origin);
// Replaces the quantize report (qbench.quantize); a malformed one is reported and the previous
// report, if any, is kept.
bool app_load_quantize(AppState& s, const std::string& text, const std::string& origin);
// Applies a change made by a panel: keeps it if valid, otherwise the nearest valid selection,
// saying what was adjusted.
void app_set(AppState& s, const qb::Selections& next);
void app_recompute(AppState& s);
void app_frame(AppState& s);
std::string app_summary(const AppState& s);
std::string app_state_json(const AppState& s);
void app_status(AppState& s, const std::string& text);

// Panels and plots: each draws into the current window and returns true when it changed s.sel.
bool panel_selections(AppState& s);
void panel_results(AppState& s);
void panel_quantize(AppState& s);
void panel_compare(AppState& s);
void panel_recipe(AppState& s);
bool plot_pareto(AppState& s, ImVec2 size);
void plot_batch(AppState& s, ImVec2 size);
void plot_cost(AppState& s, ImVec2 size);
void plot_measured(AppState& s, ImVec2 size);

// Formatting shared by the panels.
std::string fmt_usd(double v);
std::string fmt_tokens(double v);
void help_marker(const char* text);
