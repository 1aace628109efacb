// Recipe: the commands that reproduce the selection with the mainstream tools (shared/recipe.cpp).
#include <algorithm>

#include "app.h"
#include "imgui.h"
#include "platform.h"
#include "recipe.h"

static void block(AppState& s, const char* title, const std::string& text, const char* id) {
    if (text.empty()) return;
    ImGui::TextUnformatted(title);
    ImGui::SameLine();
    if (ImGui::SmallButton(id)) {
        platform::copy_to_clipboard(text);
        app_status(s, "Copied");
    }
    std::string buf = text;   // InputTextMultiline needs a mutable buffer even when read-only
    const float lines = 1.0f + (float)std::count(text.begin(), text.end(), '\n');
    ImGui::InputTextMultiline((std::string("##") + id).c_str(), buf.data(), buf.size() + 1,
                              ImVec2(-1, ImGui::GetTextLineHeight() * (lines + 1.2f)), ImGuiInputTextFlags_ReadOnly);
}

void panel_recipe(AppState& s) {
    const qb::Recipe r = qb::recipe(s.catalog, s.sel);
    ImGui::TextDisabled("Commands for the real tools (GPTQModel, AutoAWQ, llm-compressor, vLLM, llama.cpp); check versions before use.");
    block(s, "1. Quantize", r.quantize, "Copy quantize");
    block(s, "2. Serve", r.serve, "Copy serve");
    if (!r.notes.empty()) {
        ImGui::PushTextWrapPos(0);
        ImGui::TextColored(ImVec4(0.9f, 0.55f, 0.1f, 1), "%s", r.notes.c_str());
        ImGui::PopTextWrapPos();
    }
}
