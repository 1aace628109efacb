#include "app.h"

#include <algorithm>
#include <cstdio>

#include "imgui.h"
#include "platform.h"
#include "share_link.h"

void layout_item(AppState& s, const char* name) {
    const ImVec2 a = ImGui::GetItemRectMin(), b = ImGui::GetItemRectMax();
    s.layout.push_back({name, {a.x, a.y, b.x - a.x, b.y - a.y}});
}

void app_status(AppState& s, const std::string& text) {
    s.status = text;
    s.status_until = platform::now_ms() + 4000;
}

std::string fmt_usd(double v) {
    char b[48];
    const double a = v < 0 ? -v : v;
    if (a >= 1e6) std::snprintf(b, sizeof b, "%s$%.2fM", v < 0 ? "-" : "", a / 1e6);
    else if (a >= 1e4) std::snprintf(b, sizeof b, "%s$%.1fk", v < 0 ? "-" : "", a / 1e3);
    else std::snprintf(b, sizeof b, "%s$%.0f", v < 0 ? "-" : "", a);
    return b;
}

std::string fmt_tokens(double v) {
    char b[48];
    if (v >= 1e9) std::snprintf(b, sizeof b, "%.2fB", v / 1e9);
    else if (v >= 1e6) std::snprintf(b, sizeof b, "%.1fM", v / 1e6);
    else if (v >= 1e3) std::snprintf(b, sizeof b, "%.0fk", v / 1e3);
    else std::snprintf(b, sizeof b, "%.0f", v);
    return b;
}

void help_marker(const char* text) {
    if (ImGui::IsItemHovered()) {
        ImGui::BeginTooltip();
        ImGui::PushTextWrapPos(ImGui::GetFontSize() * 28);
        ImGui::TextUnformatted(text);
        ImGui::PopTextWrapPos();
        ImGui::EndTooltip();
    }
}

static bool rebuild_catalog(AppState& s, const qb::DataTexts& t, std::string* why) {
    qb::Catalog c;
    std::vector<qb::DataError> errs;
    if (!qb::load_catalog(t, &c, &errs)) {
        *why = errs.empty() ? "unknown error" : errs.front().str();
        if (errs.size() > 1) *why += " (and " + std::to_string(errs.size() - 1) + " more)";
        return false;
    }
    s.catalog = std::move(c);
    s.texts = t;
    return true;
}

void app_init(AppState& s, const std::string& url_hash) {
    std::string why;
    if (!rebuild_catalog(s, qb::embedded_data(), &why)) s.data_messages.push_back("built-in data: " + why);
    if (!url_hash.empty()) app_apply_link(s, url_hash);
    s.dirty = true;
}

bool app_load_data(AppState& s, int which, const std::string& text, const std::string& origin) {
    qb::DataTexts t = s.texts;
    std::string* dst[] = {&t.model_catalog, &t.hardware, &t.efficiency, &t.accuracy};
    std::string* name[] = {&t.model_catalog_name, &t.hardware_name, &t.efficiency_name, &t.accuracy_name};
    if (which < 0 || which > 3) return false;
    *dst[which] = text;
    *name[which] = origin;
    std::string why;
    if (!rebuild_catalog(s, t, &why)) {
        const std::string msg = origin + " could not be used, built-in data kept: " + why;
        s.data_messages.push_back(msg);
        platform::show_status(msg, true);
        return false;
    }
    // The selection may name something the new data lacks: keep what still resolves.
    app_set(s, s.sel);
    s.dirty = true;
    return true;
}

bool app_load_results(AppState& s, const std::string& text, const std::string& origin) {
    MeasuredRun run;
    run.origin = origin;
    std::vector<qb::DataError> errs;
    std::string why;
    if (!qb::parse_results(text, origin, &run.results, &errs)) why = errs.empty() ? "invalid" : errs.front().str();
    // The device: the catalog entry the run names, else one synthesised from its environment.
    qb::Hardware hw;
    if (why.empty()) {
        const qb::Hardware* h = run.results.env.hardware_id.empty() ? nullptr : s.catalog.hw(run.results.env.hardware_id);
        if (h) hw = *h;
        else if (!qb::synthesize_hardware(s.catalog, run.results.env, run.results.probe.gbps, &hw))
            why = origin + ": no efficiency class to model this device with";
    }
    if (!why.empty()) {
        const std::string msg = "benchmark results " + origin + " not loaded: " + why;
        s.data_messages.push_back(msg);
        platform::show_status(msg, true);
        return false;
    }
    run.cal = qb::calibrate(s.catalog, hw, run.results.measurements);
    qb::Catalog fitted = s.catalog;   // the same catalog with this run's fitted factors as overrides
    for (const qb::KernelFit& f : run.cal.fits) {
        qb::EffOverride o;
        o.hardware = hw.id;
        o.kernel = f.kernel;
        o.eff = f.after;
        o.source = origin;
        fitted.eff_overrides.push_back(o);
    }
    if (!fitted.hw(hw.id)) fitted.hardware.push_back(hw);
    qb::index_catalog(fitted);
    const qb::Hardware& fhw = *fitted.hw(hw.id);
    for (size_t i = 0; i < run.results.measurements.size(); ++i) {
        const qb::Measurement& m = run.results.measurements[i];
        double before = 0, after = 0;
        if (!m.correct || !qb::predict_measurement_us(s.catalog, hw, m, &before) ||
            !qb::predict_measurement_us(fitted, fhw, m, &after))
            continue;
        run.measured_us.push_back(m.median_us);
        run.predicted_us.push_back(before);
        run.fitted_us.push_back(after);
        run.index.push_back((int)i);
    }
    s.runs.push_back(std::move(run));
    return true;
}

bool app_load_quantize(AppState& s, const std::string& text, const std::string& origin) {
    qb::QuantizeReport q;
    std::vector<qb::DataError> errs;
    if (!qb::parse_quantize(text, origin, &q, &errs)) {
        std::string why = errs.empty() ? "invalid" : errs.front().str();
        if (errs.size() > 1) why += " (and " + std::to_string(errs.size() - 1) + " more)";
        const std::string msg = "quantize report " + origin + " not loaded" + (s.has_quantize ? " (the previous one is kept)" : "") + ": " + why;
        s.data_messages.push_back(msg);
        platform::show_status(msg, true);
        return false;
    }
    s.quantize.origin = origin;
    s.quantize.report = std::move(q);
    s.has_quantize = true;
    s.emit = true;   // the page's text summary mentions the measured error
    return true;
}

bool app_apply_link(AppState& s, const std::string& hash) {
    const qb::LinkDecode d = qb::decode_link(s.catalog, hash);
    s.link_problems.clear();
    for (const qb::FieldError& e : d.problems) s.link_problems.push_back(e.field + ": " + e.reason);
    if (!s.link_problems.empty()) {
        std::string msg = "The shared link had problems; defaults were used for those fields: ";
        for (size_t i = 0; i < s.link_problems.size(); ++i) msg += (i ? "; " : "") + s.link_problems[i];
        platform::show_status(msg, true);
    }
    s.sel = d.sel;
    s.dirty = true;
    return s.link_problems.empty();
}

void app_set(AppState& s, const qb::Selections& next) {
    if (qb::validate(s.catalog, next).empty()) {
        s.sel = next;
    } else {
        // The nearest valid selection: the share-link decoder already knows how to repair one.
        const qb::LinkDecode d = qb::decode_link(s.catalog, qb::encode_link(next));
        s.sel = d.sel;
        std::string msg = "Adjusted: ";
        for (size_t i = 0; i < d.problems.size() && i < 2; ++i) msg += (i ? "; " : "") + d.problems[i].reason;
        app_status(s, msg);
    }
    s.dirty = true;
}

// Decode time vs batch for FP16, the methods the hardware runs natively, and the selection.
static void batch_curves(AppState& s) {
    s.batch_curves.clear();
    const qb::ModelArch& m = *s.catalog.model(s.sel.model);
    const qb::Hardware& h = *s.catalog.hw(s.sel.hardware);
    std::vector<qb::Selections> cfgs;
    auto add = [&](qb::Method meth) {
        qb::Selections q = s.sel;
        qb::apply_method_defaults(q, meth);
        if (qb::validate(s.catalog, q).empty()) cfgs.push_back(q);
    };
    add(qb::Method::fp16);
    add(qb::Method::int8);
    if (h.peak.fp8 > 0) add(qb::Method::fp8);
    else if (h.peak.int8 > 0) add(qb::Method::w8a8);
    if (s.sel.method != qb::Method::fp16 && s.sel.method != qb::Method::int8 && s.sel.method != qb::Method::fp8 &&
        s.sel.method != qb::Method::w8a8)
        cfgs.push_back(s.sel);
    for (size_t i = 0; i < cfgs.size(); ++i) {
        Curve c;
        c.label = qb::method_name(cfgs[i].method);
        if (!qb::fixed_bits(cfgs[i].method)) c.label += " W" + std::to_string(cfgs[i].bits);
        c.color = plot_color((int)i);
        for (int b = 1; b <= 512; b = b < 8 ? b + 1 : b + b / 4) {
            qb::Selections q = cfgs[i];
            q.batch = b;
            c.x.push_back(b);
            c.y.push_back(qb::step_time(s.catalog, m, h, q, false).total_us / 1000);
        }
        s.batch_curves.push_back(std::move(c));
    }
}

void app_recompute(AppState& s) {
    s.result = qb::predict(s.catalog, s.sel);
    if (!s.result.ok()) {   // cannot happen after app_set; keep the defaults rather than show nothing
        s.sel = qb::Selections{};
        s.result = qb::predict(s.catalog, s.sel);
    }
    s.sweep = qb::sweep(s.catalog, s.sel);
    batch_curves(s);
    s.dirty = false;
    s.emit = true;
}

std::string app_summary(const AppState& s) {
    if (!s.result.ok()) return "No result.";
    const qb::Prediction& p = s.result.p;
    const qb::ModelArch& m = *s.catalog.model(p.sel.model);
    const qb::Hardware& h = *s.catalog.hw(p.sel.hardware);
    std::string q = qb::method_name(p.sel.method);
    if (!qb::fixed_bits(p.sel.method))
        q += " W" + std::to_string(p.sel.bits) + (p.sel.group_size ? " g" + std::to_string(p.sel.group_size) : " per-channel");
    char b[1024];
    std::snprintf(b, sizeof b,
                  "%s, %s on %d x %s, batch %d: decode %.2f ms/token (%.2fx FP16), first token %.1f ms, "
                  "%.0f tokens/s per replica. Memory %.1f of %.1f GB (%s). ",
                  m.name.c_str(), q.c_str(), p.sel.gpus, h.name.c_str(), p.sel.batch, p.lat.tpot_ms, p.vs_fp16.decode_speedup,
                  p.lat.ttft_ms, p.lat.tokens_per_s, p.mem.total_gb, p.mem.capacity_gb, p.mem.fits ? "fits" : "does not fit");
    std::string out = b;
    if (p.acc.has_ppl)
        std::snprintf(b, sizeof b, "Perplexity %.2f (%+.2f%% vs FP16, %s). ", p.acc.ppl, p.acc.delta_pct,
                      qb::provenance_name(p.acc.provenance));
    else if (p.acc.provenance != qb::Provenance::none)
        std::snprintf(b, sizeof b, "Perplexity change %+.2f%% vs FP16 (%s). ", p.acc.delta_pct, qb::provenance_name(p.acc.provenance));
    else
        std::snprintf(b, sizeof b, "No accuracy figure. ");
    out += b;
    if (s.has_quantize) {
        // Measured by qbench on the report's layers (not a perplexity): the mean over the layers
        // that have a row for this selection.
        double err = 0, sqnr = 0;
        int n = 0;
        for (const qb::QuantizeLayer& l : s.quantize.report.layers)
            if (const int i = qb::quantize_row_for(l, p.sel); i >= 0) {
                err += l.results[(size_t)i].output_rel_err;
                sqnr += l.results[(size_t)i].output_sqnr_db;
                ++n;
            }
        if (n > 0)
            std::snprintf(b, sizeof b, "Measured layer output error (quantize report, %d layer(s)): %.2f%%, SQNR %.1f dB. ", n,
                          100 * err / n, sqnr / n);
        else
            std::snprintf(b, sizeof b, "The quantize report has no row for %s. ", q.c_str());
        out += b;
    }
    out += "Monthly cost " + fmt_usd(p.cost.usd_month) + " (" + std::to_string(p.cost.gpus) + " devices)";
    for (const qb::ApiComparison& a : p.vs_api) {
        std::snprintf(b, sizeof b, "; vs %s %s (%+.0f%%)", a.id.c_str(), fmt_usd(a.usd_month).c_str(), a.delta_pct);
        out += b;
    }
    return out + ".";
}

std::string app_state_json(const AppState& s) {
    std::string j = "{\"metrics\":" + (s.result.ok() ? qb::metrics_json(s.catalog, s.result.p) : std::string("null"));
    j += ",\"prediction\":" + (s.result.ok() ? qb::prediction_json(s.catalog, s.result.p, -1) : std::string("null"));
    j += ",\"summary\":\"";
    for (char ch : app_summary(s)) {
        if (ch == '"' || ch == '\\') j += '\\';
        if ((unsigned char)ch >= 0x20) j += ch;
    }
    j += "\",\"sweep_points\":" + std::to_string(s.sweep.size());
    j += ",\"runs\":[";
    for (size_t i = 0; i < s.runs.size(); ++i) {
        char b[256];
        std::snprintf(b, sizeof b, "%s{\"points\":%zu,\"mape_before\":%.3f,\"mape_after\":%.3f,\"device\":\"%s\"}", i ? "," : "",
                      s.runs[i].measured_us.size(), s.runs[i].cal.mape_before, s.runs[i].cal.mape_after, s.runs[i].cal.hw.id.c_str());
        j += b;
    }
    j += "]";
    auto arr = [&](const std::vector<std::string>& v) {
        std::string a = "[";
        for (size_t i = 0; i < v.size(); ++i) {
            a += (i ? ",\"" : "\"");
            for (char ch : v[i]) {
                if (ch == '"' || ch == '\\') a += '\\';
                if ((unsigned char)ch >= 0x20) a += ch;
            }
            a += "\"";
        }
        return a + "]";
    };
    j += ",\"quantize\":" + (s.has_quantize ? qb::quantize_summary_json(s.quantize.report, s.quantize.origin, s.sel) : std::string("null"));
    j += ",\"link_problems\":" + arr(s.link_problems) + ",\"data_messages\":" + arr(s.data_messages);
    j += ",\"tab\":" + std::to_string(s.active_tab) + ",\"layout\":{";
    for (size_t i = 0; i < s.layout.size(); ++i) {
        char b[160];
        std::snprintf(b, sizeof b, "%s\"%s\":[%.1f,%.1f,%.1f,%.1f]", i ? "," : "", s.layout[i].name.c_str(), s.layout[i].r.x,
                      s.layout[i].r.y, s.layout[i].r.w, s.layout[i].r.h);
        j += b;
    }
    return j + "}}";
}

static const char* kTabs[] = {"Results", "Plots", "Compare", "Recipe"};

void app_frame(AppState& s) {
    s.layout.clear();
    const ImGuiIO& io = ImGui::GetIO();
    ImGui::SetNextWindowPos(ImVec2(0, 0));
    ImGui::SetNextWindowSize(io.DisplaySize);
    ImGui::Begin("qbench", nullptr,
                 ImGuiWindowFlags_NoDecoration | ImGuiWindowFlags_NoMove | ImGuiWindowFlags_NoSavedSettings |
                     ImGuiWindowFlags_NoBringToFrontOnFocus);
    // Header: title, copy link, transient status.
    ImGui::TextUnformatted("qbench");
    ImGui::SameLine();
    ImGui::TextDisabled("what quantization buys you");
    ImGui::SameLine();
    if (ImGui::SmallButton("Copy link")) {
        platform::copy_to_clipboard("#" + qb::encode_link(s.sel));
        app_status(s, "Link copied");
    }
    layout_item(s, "copy_link");
    help_marker("Copies a link to this exact view; opening it restores every setting.");
    if (!s.status.empty() && platform::now_ms() < s.status_until) {
        ImGui::SameLine();
        ImGui::TextColored(ImVec4(0.95f, 0.6f, 0.1f, 1), "%s", s.status.c_str());
    }
    for (const std::string& m : s.data_messages) ImGui::TextColored(ImVec4(0.9f, 0.2f, 0.2f, 1), "Data: %s", m.c_str());
    if (!s.link_problems.empty()) {
        ImGui::TextColored(ImVec4(0.9f, 0.4f, 0.1f, 1), "Link: %zu field(s) fell back to defaults", s.link_problems.size());
        if (ImGui::IsItemHovered()) {
            ImGui::BeginTooltip();
            for (const std::string& p : s.link_problems) ImGui::TextUnformatted(p.c_str());
            ImGui::EndTooltip();
        }
    }

    const float left_w = std::min(340.0f, io.DisplaySize.x * 0.38f);
    ImGui::BeginChild("selections", ImVec2(left_w, 0), true);
    if (panel_selections(s)) s.dirty = true;
    ImGui::EndChild();
    ImGui::SameLine();
    ImGui::BeginChild("main", ImVec2(0, 0), false);
    if (s.dirty) app_recompute(s);
    if (ImGui::BeginTabBar("tabs")) {
        for (int i = 0; i < 4; ++i) {
            const bool open = ImGui::BeginTabItem(kTabs[i]);
            layout_item(s, (std::string("tab_") + kTabs[i]).c_str());
            if (!open) continue;
            s.active_tab = i;
            if (i == 0) panel_results(s);
            if (i == 1) {
                const float w = ImGui::GetContentRegionAvail().x, h = std::max(220.0f, (ImGui::GetContentRegionAvail().y - 8) / 2);
                const ImVec2 half((w - ImGui::GetStyle().ItemSpacing.x) / 2, h);
                if (plot_pareto(s, half)) s.dirty = true;
                ImGui::SameLine();
                plot_batch(s, half);
                if (s.runs.empty()) {
                    plot_cost(s, ImVec2(w, h));
                } else {
                    plot_cost(s, half);
                    ImGui::SameLine();
                    plot_measured(s, half);
                }
            }
            if (i == 2) panel_compare(s);
            if (i == 3) panel_recipe(s);
            ImGui::EndTabItem();
        }
        ImGui::EndTabBar();
    }
    ImGui::EndChild();
    ImGui::End();
    if (s.dirty) app_recompute(s);   // a click in a plot changed the selection this frame
}
