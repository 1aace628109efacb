// static_files.cpp: request path -> file under a root (see static_files.h for the invariant).
#include "static_files.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <system_error>

namespace fs = std::filesystem;

namespace qb::server {

std::string check_url_path(std::string_view path) {
    if (path.empty() || path.front() != '/') return "path must start with '/'";
    if (path.size() > kMaxUrlPath) return "path is longer than " + std::to_string(kMaxUrlPath) + " bytes";
    for (const char ch : path) {
        const auto c = static_cast<unsigned char>(ch);
        if (c < 0x20 || c == 0x7f) return "control character or NUL in path";
        if (c == '\\') return "backslash in path";
        if (c == '%') return "'%' left in the path after decoding (double encoding)";
    }
    std::string_view rest = path.substr(1);
    if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
    if (rest.empty()) return "";
    size_t start = 0;
    while (true) {
        const size_t slash = rest.find('/', start);
        const std::string_view seg = rest.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
        if (seg.empty()) return "empty path segment ('//')";
        if (seg == "." || seg == "..") return "'.' or '..' segment in path";
        if (seg.size() > kMaxSegment) return "path segment longer than " + std::to_string(kMaxSegment) + " bytes";
        if (slash == std::string_view::npos) break;
        start = slash + 1;
    }
    return "";
}

Resolved resolve_under(const fs::path& root, std::string_view rel) {
    Resolved r;
    auto reject = [&r](int status, std::string why) {
        r.status = status;
        r.error = std::move(why);
        r.file.clear();
        return r;
    };
    // Callers check with check_url_path first; refuse anything absolute or dotted regardless.
    if (!rel.empty() && rel.front() == '/') return reject(400, "absolute path");
    for (size_t i = 0; i < rel.size();) {   // dot-files and dot-directories: never served
        if (rel[i] == '.') return reject(404, "not found");
        const size_t slash = rel.find('/', i);
        if (slash == std::string_view::npos) break;
        i = slash + 1;
    }

    std::error_code ec;
    const fs::path root_c = fs::canonical(root, ec);
    if (ec) return reject(404, "not found");
    const fs::path target = fs::weakly_canonical(root_c / fs::path(std::string(rel)), ec);
    if (ec) return reject(404, "not found");

    // Inside the root, component by component (a string prefix would let /srv/site2 pass for /srv/site).
    auto t = target.begin();
    for (auto c = root_c.begin(); c != root_c.end(); ++c, ++t)
        if (t == target.end() || *c != *t) return reject(404, "not found");
    // A symlink inside the root may still lead to a dot-file inside it: refuse that too.
    for (; t != target.end(); ++t) {
        const std::string name = t->string();
        if (!name.empty() && name.front() == '.') return reject(404, "not found");
    }

    const fs::file_status st = fs::status(target, ec);
    if (ec || !fs::exists(st)) return reject(404, "not found");
    if (fs::is_directory(st)) { r.status = 301; r.file = target; return r; }
    if (!fs::is_regular_file(st)) return reject(404, "not found");
    r.status = 200;
    r.file = target;
    return r;
}

std::string_view content_type_for(std::string_view filename) {
    const size_t dot = filename.rfind('.');
    const size_t slash = filename.rfind('/');
    if (dot == std::string_view::npos || (slash != std::string_view::npos && dot < slash)) return "application/octet-stream";
    std::string ext(filename.substr(dot + 1));
    std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    static constexpr std::pair<std::string_view, std::string_view> kTypes[] = {
        {"html", "text/html; charset=utf-8"}, {"htm", "text/html; charset=utf-8"},
        {"js", "text/javascript; charset=utf-8"}, {"mjs", "text/javascript; charset=utf-8"},
        {"wasm", "application/wasm"}, {"json", "application/json"}, {"map", "application/json"},
        {"css", "text/css; charset=utf-8"}, {"png", "image/png"}, {"jpg", "image/jpeg"}, {"jpeg", "image/jpeg"},
        {"gif", "image/gif"}, {"webp", "image/webp"}, {"svg", "image/svg+xml"}, {"ico", "image/x-icon"},
        {"ttf", "font/ttf"}, {"otf", "font/otf"}, {"woff", "font/woff"}, {"woff2", "font/woff2"},
        {"txt", "text/plain; charset=utf-8"}, {"md", "text/markdown; charset=utf-8"}, {"csv", "text/csv; charset=utf-8"},
        {"xml", "application/xml"}, {"pdf", "application/pdf"}, {"data", "application/octet-stream"}};
    for (const auto& [e, type] : kTypes)
        if (e == ext) return type;
    return "application/octet-stream";
}

std::string_view cache_control_for(std::string_view filename) {
    const std::string_view type = content_type_for(filename);
    if (type.starts_with("text/html") || type == "application/json") return "no-cache";
    return "public, max-age=300";
}

std::string etag_for(std::uintmax_t size, fs::file_time_type mtime) {
    char b[64];
    std::snprintf(b, sizeof b, "W/\"%jx-%llx\"", size, static_cast<unsigned long long>(mtime.time_since_epoch().count()));
    return b;
}

}  // namespace qb::server
