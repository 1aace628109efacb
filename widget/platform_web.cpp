// The browser side of platform.h: each call hands a string to the embed script's per-instance
// object (Module.qb, set up by web/embed.js), which owns the DOM and network work.
#include <emscripten.h>

#include "platform.h"

EM_JS(void, qb_js_call, (const char* fn, const char* arg, int flag), {
    var qb = Module["qb"];
    if (qb && qb[UTF8ToString(fn)]) qb[UTF8ToString(fn)](UTF8ToString(arg), flag);
});

namespace platform {
void set_url_hash(const std::string& h) { qb_js_call("setHash", h.c_str(), 0); }
void copy_to_clipboard(const std::string& t) { qb_js_call("copy", t.c_str(), 0); }
void emit_metrics(const std::string& j) { qb_js_call("emit", j.c_str(), 0); }
void publish_summary(const std::string& t) { qb_js_call("summary", t.c_str(), 0); }
void show_status(const std::string& t, bool error) { qb_js_call("status", t.c_str(), error ? 1 : 0); }
void first_frame() { qb_js_call("firstFrame", "", 0); }
double now_ms() { return emscripten_get_now(); }
}  // namespace platform
