// platform.h: what the widget needs from its host page, behind one small interface. The web
// implementation (platform_web.cpp) talks to embed.js; nothing else in widget/ knows about JS.
#pragma once
#include <string>

namespace platform {
void set_url_hash(const std::string& hash);            // replaces location.hash without a history entry
void copy_to_clipboard(const std::string& text);
void emit_metrics(const std::string& json);             // CustomEvent + postMessage + optional endpoint
void publish_summary(const std::string& text);          // aria-live mirror in the DOM
void show_status(const std::string& text, bool error);  // message element in the DOM
void first_frame();                                     // tells the page the first frame is drawn
double now_ms();
}  // namespace platform
