// qbench widget entry point: SDL + WebGL + Dear ImGui setup, the main-loop stub, and the C
// functions embed.js calls. Everything else lives in app.cpp and the panel/plot files.
#include <SDL.h>
#include <SDL_opengles2.h>
#include <emscripten.h>

#include <algorithm>
#include <cstdio>
#include <string>

#include "app.h"
#include "imgui.h"
#include "imgui_impl_opengl3.h"
#include "imgui_impl_sdl.h"
#include "platform.h"
#include "share_link.h"

static AppState g_app;
static SDL_Window* g_window = nullptr;
static SDL_GLContext g_gl = nullptr;
static std::string g_ret;   // storage for strings returned to JS (copied there at once)
static float g_font_dpr = 0;

static void apply_theme(bool dark) {
    if (dark) ImGui::StyleColorsDark();
    else ImGui::StyleColorsLight();
    ImGuiStyle& st = ImGui::GetStyle();
    st.WindowRounding = 0;
    st.FrameRounding = 3;
    st.GrabRounding = 3;
    st.ChildRounding = 4;
    st.WindowBorderSize = 0;
    if (!dark) {   // ImGui's light style draws white frames on a white window: give them a tint
        st.Colors[ImGuiCol_WindowBg] = ImVec4(1, 1, 1, 1);
        st.Colors[ImGuiCol_FrameBg] = ImVec4(0.92f, 0.93f, 0.95f, 1);
        st.Colors[ImGuiCol_FrameBgHovered] = ImVec4(0.86f, 0.89f, 0.94f, 1);
        st.FrameBorderSize = 0;
    }
}

// The font is rasterised at the device pixel ratio and scaled back, so text stays crisp on HiDPI.
static void load_font(float dpr) {
    if (dpr == g_font_dpr) return;
    g_font_dpr = dpr;
    ImGuiIO& io = ImGui::GetIO();
    io.Fonts->Clear();
    ImFontConfig cfg;
    cfg.OversampleH = 2;
    if (!io.Fonts->AddFontFromFileTTF("/font.ttf", 15.0f * dpr, &cfg)) io.Fonts->AddFontDefault();
    io.FontGlobalScale = 1.0f / dpr;
    ImGui_ImplOpenGL3_DestroyFontsTexture();
}

static void frame(void*) {
    const double t0 = platform::now_ms();
    SDL_Event e;
    while (SDL_PollEvent(&e)) ImGui_ImplSDL2_ProcessEvent(&e);
    const float dpr = (float)emscripten_get_device_pixel_ratio();
    if (dpr != g_font_dpr) load_font(dpr);
    g_app.dpr = dpr;
    ImGui_ImplOpenGL3_NewFrame();
    ImGui_ImplSDL2_NewFrame();
    ImGui::NewFrame();
    app_frame(g_app);
    ImGui::Render();
    const double t_ui = platform::now_ms() - t0;
    const ImGuiIO& io = ImGui::GetIO();
    SDL_GL_MakeCurrent(g_window, g_gl);
    glViewport(0, 0, (int)(io.DisplaySize.x * io.DisplayFramebufferScale.x), (int)(io.DisplaySize.y * io.DisplayFramebufferScale.y));
    const ImVec4 bg = ImGui::GetStyle().Colors[ImGuiCol_WindowBg];
    glClearColor(bg.x, bg.y, bg.z, 1);
    glClear(GL_COLOR_BUFFER_BIT);
    ImGui_ImplOpenGL3_RenderDrawData(ImGui::GetDrawData());
    if (g_app.emit && g_app.result.ok()) {
        g_app.emit = false;
        platform::emit_metrics(qb::metrics_json(g_app.catalog, g_app.result.p));
        platform::publish_summary(app_summary(g_app));
        platform::set_url_hash("#" + qb::encode_link(g_app.sel));
    }
    const double dt = platform::now_ms() - t0;
    if (g_app.frame_ms.size() < 600) {
        g_app.frame_ms.push_back(dt);
        g_app.ui_ms.push_back(t_ui);
    } else {
        g_app.frame_ms[g_app.frame_count % 600] = dt;
        g_app.ui_ms[g_app.frame_count % 600] = t_ui;
    }
    if (++g_app.frame_count == 1) platform::first_frame();
}

extern "C" {

// The state as JSON: metrics, the full prediction, the summary, link/data problems and layout.
EMSCRIPTEN_KEEPALIVE const char* qb_state() {
    g_ret = app_state_json(g_app);
    return g_ret.c_str();
}

// Applies a partial selections object; returns "" or a JSON {"errors": [...]}.
EMSCRIPTEN_KEEPALIVE const char* qb_set_selections(const char* json) {
    std::vector<qb::FieldError> errs;
    qb::Selections s = g_app.sel;
    if (qb::apply_selections_json(g_app.catalog, json ? json : "", &s, &errs)) {
        g_app.sel = s;
        app_recompute(g_app);
        g_ret.clear();
    } else {
        g_ret = qb::errors_json(errs);
    }
    return g_ret.c_str();
}

EMSCRIPTEN_KEEPALIVE int qb_apply_link(const char* hash) {
    const bool ok = app_apply_link(g_app, hash ? hash : "");
    app_recompute(g_app);
    return ok ? 1 : 0;
}

EMSCRIPTEN_KEEPALIVE int qb_load_data(int which, const char* text, const char* origin) {
    const bool ok = app_load_data(g_app, which, text ? text : "", origin ? origin : "data");
    if (ok) app_recompute(g_app);
    return ok ? 1 : 0;
}

EMSCRIPTEN_KEEPALIVE int qb_load_results(const char* text, const char* origin) {
    return app_load_results(g_app, text ? text : "", origin ? origin : "results") ? 1 : 0;
}

// Replaces the quantize report (qbench.quantize); 0 and a message in the widget when it is
// malformed, in which case the previous report and everything else are kept.
EMSCRIPTEN_KEEPALIVE int qb_load_quantize(const char* text, const char* origin) {
    return app_load_quantize(g_app, text ? text : "", origin ? origin : "quantize report") ? 1 : 0;
}

EMSCRIPTEN_KEEPALIVE void qb_data_error(const char* msg) {
    g_app.data_messages.push_back(msg ? msg : "data load failed");
}

EMSCRIPTEN_KEEPALIVE void qb_resize(int w, int h) {
    w = std::max(320, std::min(w, 8192));
    h = std::max(240, std::min(h, 8192));
    g_app.width = w;
    g_app.height = h;
    if (g_window) SDL_SetWindowSize(g_window, w, h);
}

EMSCRIPTEN_KEEPALIVE void qb_set_theme(int dark) {
    g_app.dark = dark != 0;
    apply_theme(g_app.dark);
}

// Frame times (ms) over the recent frames: the whole frame (events, model, UI, GL submission) and
// the UI part alone (events, model recompute, ImGui build). The difference is the GL submission,
// which under a software renderer (headless Chromium's SwiftShader) waits on rasterisation.
EMSCRIPTEN_KEEPALIVE const char* qb_perf() {
    std::vector<double> v = g_app.frame_ms, u = g_app.ui_ms;
    std::sort(v.begin(), v.end());
    std::sort(u.begin(), u.end());
    char b[200];
    std::snprintf(b, sizeof b, "{\"frames\":%zu,\"median_ms\":%.4f,\"p90_ms\":%.4f,\"max_ms\":%.4f,\"ui_median_ms\":%.4f}",
                  g_app.frame_count, v.empty() ? 0 : v[v.size() / 2], v.empty() ? 0 : v[v.size() * 9 / 10], v.empty() ? 0 : v.back(),
                  u.empty() ? 0 : u[u.size() / 2]);
    g_ret = b;
    return g_ret.c_str();
}

EMSCRIPTEN_KEEPALIVE void qb_reset_perf() {
    g_app.frame_ms.clear();
    g_app.ui_ms.clear();
}
}

int main(int argc, char** argv) {
    // Keyboard events only from this widget's canvas, so the rest of the page keeps its keys.
    SDL_SetHint(SDL_HINT_EMSCRIPTEN_KEYBOARD_ELEMENT, "#canvas");
    if (SDL_Init(SDL_INIT_VIDEO | SDL_INIT_TIMER) != 0) {
        std::fprintf(stderr, "qbench: SDL_Init failed: %s\n", SDL_GetError());
        return 1;
    }
    SDL_GL_SetAttribute(SDL_GL_CONTEXT_FLAGS, 0);
    SDL_GL_SetAttribute(SDL_GL_CONTEXT_PROFILE_MASK, SDL_GL_CONTEXT_PROFILE_ES);
    SDL_GL_SetAttribute(SDL_GL_CONTEXT_MAJOR_VERSION, 2);
    SDL_GL_SetAttribute(SDL_GL_CONTEXT_MINOR_VERSION, 0);
    SDL_GL_SetAttribute(SDL_GL_DOUBLEBUFFER, 1);
    const int w = argc > 1 ? std::atoi(argv[1]) : 960, h = argc > 2 ? std::atoi(argv[2]) : 720;
    g_app.width = std::max(320, w);
    g_app.height = std::max(240, h);
    g_window = SDL_CreateWindow("qbench", SDL_WINDOWPOS_CENTERED, SDL_WINDOWPOS_CENTERED, g_app.width, g_app.height,
                                (SDL_WindowFlags)(SDL_WINDOW_OPENGL | SDL_WINDOW_RESIZABLE | SDL_WINDOW_ALLOW_HIGHDPI));
    g_gl = g_window ? SDL_GL_CreateContext(g_window) : nullptr;
    if (!g_gl) {
        std::fprintf(stderr, "qbench: WebGL is not available: %s\n", SDL_GetError());
        platform::show_status("qbench needs WebGL, which this browser did not provide.", true);
        return 1;
    }
    SDL_GL_SetSwapInterval(1);
    IMGUI_CHECKVERSION();
    ImGui::CreateContext();
    ImGuiIO& io = ImGui::GetIO();
    io.IniFilename = nullptr;   // no imgui.ini on the web
    io.ConfigFlags |= ImGuiConfigFlags_NavEnableKeyboard;
    apply_theme(false);
    ImGui_ImplSDL2_InitForOpenGL(g_window, g_gl);
    ImGui_ImplOpenGL3_Init("#version 100");
    load_font((float)emscripten_get_device_pixel_ratio());
    app_init(g_app, argc > 3 ? argv[3] : "");
    emscripten_set_main_loop_arg(frame, nullptr, 0, true);
    return 0;
}
