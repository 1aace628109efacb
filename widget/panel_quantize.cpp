// The measured layer errors of a loaded quantize report (qbench-native quantize --json), drawn
// under the published perplexity. The two answer different questions and are labelled apart:
// the perplexity is cited from a paper for the whole model; these errors are measured by qbench
// on the report's layers and activations, and say how close each method's W^X stays to WX.
#include <cmath>
#include <cstdio>

#include "app.h"
#include "imgui.h"

static const ImVec4 kMeasured(0.2f, 0.5f, 0.9f, 1);   // the provenance colour of "measured"

// "model.layers.0.self_attn.q_proj.weight" -> "q_proj"; other names are shown whole.
static std::string short_layer(const std::string& n) {
    std::string s = n;
    const std::string suf = ".weight";
    if (s.size() > suf.size() && s.compare(s.size() - suf.size(), suf.size(), suf) == 0) s.resize(s.size() - suf.size());
    const size_t dot = s.rfind('.');
    return dot != std::string::npos && s.find("_proj", dot) != std::string::npos ? s.substr(dot + 1) : s;
}

void panel_quantize(AppState& s) {
    if (!s.has_quantize) return;
    const qb::QuantizeReport& r = s.quantize.report;
    const qb::Selections& sel = s.sel;
    ImGui::Separator();
    ImGui::TextColored(kMeasured, "Layer error [measured: quantize report]");
    help_marker("Measured by qbench-native quantize on the layers and held-out activations of this report: the relative output "
                "error ||WX - W^X|| / ||WX||, its SQNR and the method's time. It is not a perplexity: the perplexity above is "
                "published (cited) for the whole model; these errors are per layer.");
    ImGui::PushTextWrapPos(0);
    ImGui::TextDisabled("Report: %s (%s, %s; %s, %d thread(s))", s.quantize.origin.c_str(), r.tool_name.c_str(), r.created_utc.c_str(),
                        r.env.cpu.c_str(), r.env.threads);
    ImGui::TextDisabled("Source: %s", qb::quantize_source_line(r).c_str());
    const bool matches = !r.input.model.empty() && r.input.model == sel.model;
    if (!matches) {
        const std::string what = r.input.model.empty() ? "names no model" : "is for " + r.input.model;
        ImGui::TextColored(ImVec4(0.9f, 0.55f, 0.1f, 1), "This report %s, not the selected %s: showing all its layers.", what.c_str(),
                           sel.model.c_str());
    }
    ImGui::PopTextWrapPos();

    std::string want = qb::method_name(sel.method);
    if (!qb::fixed_bits(sel.method)) want += " W" + std::to_string(sel.bits) + (sel.group_size ? " g" + std::to_string(sel.group_size) : " per-channel");
    int picked = 0;
    bool zero_differs = false, act_differs = false;   // the highlighted rows are the nearest, not exact
    size_t rows = 0;
    for (const qb::QuantizeLayer& l : r.layers) rows += l.results.size();
    // A 7B model's 224 layers x 4 methods would bury the cost below: scroll past 12 rows.
    const float row_h = ImGui::GetTextLineHeightWithSpacing() + 2;
    const float table_h = rows > 12 ? row_h * 13 : 0;
    const ImGuiTableFlags flags = ImGuiTableFlags_RowBg | ImGuiTableFlags_BordersInnerH | ImGuiTableFlags_SizingStretchProp |
                                  (rows > 12 ? ImGuiTableFlags_ScrollY : 0);
    if (ImGui::BeginTable("quantize", 6, flags, ImVec2(0, table_h))) {
        ImGui::TableSetupScrollFreeze(0, 1);
        ImGui::TableSetupColumn("layer");
        ImGui::TableSetupColumn("method");
        ImGui::TableSetupColumn("output error");
        ImGui::TableSetupColumn("SQNR");
        ImGui::TableSetupColumn("weight error");
        ImGui::TableSetupColumn("time");
        ImGui::TableHeadersRow();
        const ImU32 highlight = ImGui::GetColorU32(ImVec4(kMeasured.x, kMeasured.y, kMeasured.z, 0.28f));
        for (const qb::QuantizeLayer& l : r.layers) {
            const int pick = qb::quantize_row_for(l, sel);
            picked += pick >= 0;
            if (pick >= 0) {
                zero_differs |= l.results[(size_t)pick].zero_point != sel.zero_point;
                act_differs |= sel.method == qb::Method::gptq && l.results[(size_t)pick].act_order != sel.act_order;
            }
            for (size_t i = 0; i < l.results.size(); ++i) {
                const qb::QuantizeRow& x = l.results[i];
                ImGui::TableNextRow();
                if ((int)i == pick) ImGui::TableSetBgColor(ImGuiTableBgTarget_RowBg1, highlight);
                ImGui::TableNextColumn();
                if (i == 0) ImGui::Text("%s [%dx%d]", short_layer(l.name).c_str(), l.rows, l.cols);
                ImGui::TableNextColumn();
                if (!x.ok) {
                    ImGui::Text("%s", x.method.c_str());
                    ImGui::TableNextColumn();
                    ImGui::TextColored(ImVec4(0.9f, 0.2f, 0.2f, 1), "failed: %s", x.error.c_str());
                    continue;
                }
                std::string m = x.method + " W" + std::to_string(x.bits) + (x.group_size ? " g" + std::to_string(x.group_size) : " pc");
                if (x.zero_point) m += " +zero";
                if (x.act_order) m += " act";
                ImGui::Text("%s%s", (int)i == pick ? "> " : "", m.c_str());
                ImGui::TableNextColumn();
                ImGui::Text("%.2f%%", 100 * x.output_rel_err);
                ImGui::TableNextColumn();
                if (std::isfinite(x.output_sqnr_db)) ImGui::Text("%.1f dB", x.output_sqnr_db);
                else ImGui::TextUnformatted("exact");
                ImGui::TableNextColumn();
                ImGui::Text("%.2f%%", 100 * x.weight_rel_err);
                ImGui::TableNextColumn();
                ImGui::Text("%.2f s", x.time_s);
            }
        }
        ImGui::EndTable();
        layout_item(s, "quantize_table");
    }
    if (picked == 0) ImGui::TextDisabled("No row of this report is %s: nothing highlighted.", want.c_str());
    else {
        ImGui::PushTextWrapPos(0);
        ImGui::TextDisabled("Highlighted (>): the rows for the selected %s%s%s. Time: the method alone, calibration excluded.", want.c_str(),
                            zero_differs ? (sel.zero_point ? "; the report's rows have no zero point" : "; the report's rows have a zero point") : "",
                            act_differs ? (sel.act_order ? "; run without act-order" : "; run with act-order") : "");
        ImGui::PopTextWrapPos();
    }
}
