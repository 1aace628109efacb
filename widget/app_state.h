// app_state.h: everything the widget knows, in one struct. Panels and plots take AppState& and
// return true when they changed the selections; app.cpp recomputes and emits once per frame.
#pragma once
#include <string>
#include <vector>

#include "calibrate.h"
#include "catalog.h"
#include "data_json.h"
#include "results_json.h"
#include "predict.h"
#include "quantize_json.h"
#include "sweep.h"

struct Rect { float x = 0, y = 0, w = 0, h = 0; };

// One labelled screen rectangle a test (or a screen reader helper) can find: widgets drawn into a
// canvas have no DOM, so the widget publishes where its controls and plot points are.
struct LayoutItem { std::string name; Rect r; };

struct Curve { std::string label; unsigned color; std::vector<double> x, y; };

// A published benchmark run (qbench-native bench / publish) and what the model says about it:
// every measurement with the catalog's prediction and the prediction after fitting this run.
struct MeasuredRun {
    std::string origin;
    qb::Results results;
    qb::Calibration cal;
    std::vector<double> measured_us, predicted_us, fitted_us;
    std::vector<int> index;   // measurement index of each point
};

// A quantize report (qbench-native quantize --json) loaded by the page: layer errors measured by
// qbench itself, shown beside the published perplexity.
struct LoadedQuantize {
    std::string origin;                  // the URL (or name) it came from
    qb::QuantizeReport report;
};

struct AppState {
    // Data: the catalog in use and what happened loading it.
    qb::Catalog catalog;
    qb::DataTexts texts;                 // the texts the catalog was built from (built-in or loaded)
    std::vector<std::string> data_messages;   // failed/malformed loads, shown in the widget and the DOM

    // The reader's choice and what it gives.
    qb::Selections sel;
    qb::PredictResult result;
    std::vector<qb::SweepPoint> sweep;         // every config at the current batch (Pareto plot)
    std::vector<Curve> batch_curves;           // TPOT vs batch per method family
    std::vector<std::string> link_problems;    // from the share link the page was opened with
    std::vector<MeasuredRun> runs;             // benchmark results loaded by the page
    bool has_quantize = false;                 // a quantize report is loaded (the last good one)
    LoadedQuantize quantize;

    // Bookkeeping.
    bool dirty = true;          // selections changed: recompute this frame
    bool emit = true;           // metrics to send to the page after this frame
    bool dark = false;
    float dpr = 1;              // device pixel ratio
    int width = 960, height = 720;   // CSS pixels of the canvas
    int active_tab = 0;
    int hovered_point = -1;
    std::string status;         // one-line transient message ("link copied")
    double status_until = 0;
    std::vector<LayoutItem> layout;   // rebuilt every frame
    std::vector<double> frame_ms;     // CPU time per frame, ring of the last 600
    std::vector<double> ui_ms;        // of which: building the UI (model + ImGui), same ring
    size_t frame_count = 0;
};

// Records the last ImGui item's rectangle under `name` (CSS pixels).
void layout_item(AppState& s, const char* name);
