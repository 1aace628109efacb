// data_json.h: the one reader of data/*.json and the one writer of qbench's JSON output
// (predict, sweep, selections). Text in, structs out: no file access here, so the widget (wasm)
// and the CLI share it. Never throws; every problem names file, JSON pointer and reason.
#pragma once
#include <string>
#include <vector>

#include "catalog.h"
#include "predict.h"
#include "sweep.h"

namespace qb {

struct DataError {
    std::string file, pointer, reason;
    std::string str() const { return file + ": " + (pointer.empty() ? "" : pointer + ": ") + reason; }
};

// The texts of the four catalog files; `name` fields are used in error messages.
struct DataTexts {
    std::string model_catalog, hardware, efficiency, accuracy;
    std::string model_catalog_name = "model-catalog.json", hardware_name = "hardware.json",
                efficiency_name = "efficiency.json", accuracy_name = "accuracy.json";
};

// Parses and cross-checks all four; on any error returns false and leaves *out unchanged.
bool load_catalog(const DataTexts& t, Catalog* out, std::vector<DataError>* errors);

// The data compiled into the binary (data/*.json at build time): works with no files at all.
DataTexts embedded_data();

// Output documents (stable keys; see README "predict --json").
std::string selections_json(const Selections& s, int indent = -1);
std::string prediction_json(const Catalog& c, const Prediction& p, int indent = 2);
// The widget's metrics event: user_selections, calculated_monthly_cost, comparison_delta, share_link.
std::string metrics_json(const Catalog& c, const Prediction& p);
std::string sweep_json(const Catalog& c, const Selections& base, const std::vector<SweepPoint>& pts, int indent = 2);
std::string errors_json(const std::vector<FieldError>& e);

// Applies a (partial) selections object, with the keys selections_json() writes, on top of *s.
// A new "method" brings its default bits/group/zero unless those are given too. All or nothing:
// on any problem *s is unchanged and each problem names its field.
bool apply_selections_json(const Catalog& c, const std::string& text, Selections* s, std::vector<FieldError>* errors);

}  // namespace qb
