// server.cpp: routes and request handling of `qbench-native serve` (see server.h).
//
// How a request flows through cpp-httplib 0.11 here:
//   pre_route      every request, before its body is read: path checks (check_url_path),
//                  GET/HEAD/OPTIONS answered entirely here, requests without a body too.
//   post_results / post_events / the drain-and-refuse handler
//                  content-reader handlers for requests with a body: they see the headers
//                  first, so auth and size are decided before a body is buffered. A body is
//                  always read to its end (thrown away when unwanted, up to a cap) or the
//                  answer says "Connection: close", so leftover bytes are never taken for the
//                  next request on a kept-alive connection.
//   error handler  fills an empty error answer with {"error": "<reason phrase>"}.
//   post_routing   headers every answer gets (nosniff, CORS, Cache-Control for the API).
//   logger         one line per request to Options::log.
#include "server.h"

#include <httplib.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cstring>
#include <ctime>
#include <mutex>
#include <system_error>
#include <thread>

#include <nlohmann/json.hpp>

#include "publish.h"
#include "results_json.h"
#include "static_files.h"
#include "store.h"

#ifndef QB_VERSION
#define QB_VERSION "unknown"
#endif

namespace fs = std::filesystem;
using nlohmann::json;
using httplib::Request;
using httplib::Response;
using HandlerResponse = httplib::Server::HandlerResponse;

namespace qb::server {

namespace {

constexpr std::uint64_t kMaxServedFile = std::uint64_t(1) << 30;
constexpr size_t kMaxEventsPerRequest = 1000;
constexpr size_t kMaxEventType = 128;

// Start of the request being handled by this worker thread (each connection is served by one
// thread, one request at a time), for the log line's milliseconds.
thread_local std::chrono::steady_clock::time_point t_request_start;
thread_local bool t_request_timed = false;

void reply(Response& res, int status, const json& body) {
    res.status = status;
    res.set_content(body.dump(-1, ' ', false, json::error_handler_t::replace), "application/json");
}

void fail(Response& res, int status, const std::string& why) { reply(res, status, json{{"error", why}}); }

bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }
bool ends_with(std::string_view s, std::string_view p) { return s.size() >= p.size() && s.substr(s.size() - p.size()) == p; }

std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return s;
}

// Compares without an early exit, so the time taken does not tell how much of a guess was right.
// (The length is not secret.)
bool equal_const_time(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    unsigned char diff = 0;
    for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
    return diff == 0;
}

bool is_chunked(const Request& req) { return lower(req.get_header_value("Transfer-Encoding")).find("chunked") != std::string::npos; }

// Reason phrases for the answers httplib makes up by itself (parse errors, limits).
const char* reason_phrase(int status) {
    switch (status) {
    case 400: return "bad request";
    case 404: return "not found";
    case 405: return "method not allowed";
    case 411: return "length required";
    case 413: return "payload too large";
    case 414: return "URI too long";
    case 415: return "unsupported media type";
    case 416: return "range not satisfiable";
    default: return status >= 500 ? "internal error" : "request refused";
    }
}

std::string utc_now_iso() {
    const auto now = std::chrono::system_clock::now();
    const std::time_t t = std::chrono::system_clock::to_time_t(now);
    const long long ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
    std::tm tm{};
    gmtime_r(&t, &tm);
    char b[128];
    std::snprintf(b, sizeof b, "%04d-%02d-%02dT%02d:%02d:%02d.%03lldZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                  tm.tm_sec, ms);
    return b;
}

// A client's path as it may appear in a log line: printable ASCII only, at most 200 bytes.
std::string loggable(std::string_view s) {
    if (s.empty()) return "-";
    std::string out;
    for (const char ch : s.substr(0, 200)) {
        const auto c = static_cast<unsigned char>(ch);
        if (c < 0x20 || c >= 0x7f || c == '\\') {
            char b[8];
            std::snprintf(b, sizeof b, "\\x%02x", c);
            out += b;
        } else {
            out += ch;
        }
    }
    if (s.size() > 200) out += "...";
    return out;
}

std::string html_escape(std::string_view s) {
    std::string out;
    for (const char c : s) {
        switch (c) {
        case '&': out += "&amp;"; break;
        case '<': out += "&lt;"; break;
        case '>': out += "&gt;"; break;
        case '"': out += "&quot;"; break;
        default: out += c;
        }
    }
    return out;
}

bool has_body(const Request& req) {
    if (is_chunked(req)) return true;
    const std::string len = req.get_header_value("Content-Length");
    return !len.empty() && len != "0";
}

// Reads and throws away a body, at most `cap` bytes of it. False when the body was longer
// (or unreadable): the connection then has unread bytes and must be closed.
bool drain_body(const Request& req, const httplib::ContentReader& reader, std::uint64_t cap) {
    std::uint64_t seen = 0;
    auto count = [&](const char*, size_t n) {
        seen += n;
        return seen <= cap;
    };
    if (req.is_multipart_form_data()) return reader([](const httplib::MultipartFormData&) { return true; }, count);
    return reader(count);
}

enum class BodyRead { ok, too_large, failed };

struct Body {
    BodyRead read = BodyRead::failed;
    bool clean = false;   // read to its end: the connection may serve the next request
};

// Reads the body, keeping at most `limit` bytes in *out. A body over the limit (declared by
// Content-Length, or found so while reading a chunked or compressed one) is read on and thrown
// away up to `drain_cap` bytes so that the client gets its answer on a clean connection;
// beyond that the read is abandoned (clean = false).
Body read_body(const Request& req, const httplib::ContentReader& reader, std::uint64_t limit, std::uint64_t drain_cap, std::string* out) {
    out->clear();
    if (req.has_header("Content-Length")) {
        const std::string v = req.get_header_value("Content-Length");
        char* end = nullptr;
        errno = 0;
        const unsigned long long len = std::strtoull(v.c_str(), &end, 10);
        if (v.empty() || *end != '\0' || errno == ERANGE || !std::isdigit(static_cast<unsigned char>(v[0]))) return {BodyRead::failed, false};
        if (len > limit) return {BodyRead::too_large, drain_body(req, reader, drain_cap)};
    }
    bool over = false;
    std::uint64_t seen = 0;
    const bool ok = reader([&](const char* data, size_t n) {
        seen += n;
        if (!over && out->size() + n <= limit) {
            out->append(data, n);
            return true;
        }
        if (!over) out->clear();
        over = true;
        return seen <= drain_cap;
    });
    if (over) return {BodyRead::too_large, ok};
    return {ok ? BodyRead::ok : BodyRead::failed, ok};
}

const char* kBuiltinPage = R"(<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>qbench server</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:42rem;margin:3rem auto;padding:0 1rem}code{background:#eee;padding:0 .2em}</style>
</head><body>
<h1>qbench server</h1>
<p><strong>The site is not built</strong>: there is no directory <code>@SITE@</code>. Build the site, or start
<code>qbench-native serve --site DIR</code> with the directory that holds it.</p>
<p>The API works without it:</p>
<ul>
<li><a href="/api/health">/api/health</a>: status, version, uptime, counts</li>
<li><a href="/data/model-catalog.json">/data/model-catalog.json</a>, <a href="/data/hardware.json">/data/hardware.json</a>,
<a href="/data/efficiency.json">/data/efficiency.json</a>, <a href="/data/accuracy.json">/data/accuracy.json</a></li>
<li><code>/data/results/&lt;run_id&gt;.json</code>: measured runs</li>
<li><code>/data/quantize/&lt;name&gt;.json</code>: quantize reports (measured layer errors)</li>
<li><code>POST /api/results</code> (Bearer token) and <code>POST /api/events</code></li>
</ul>
</body></html>
)";

}  // namespace

bool is_loopback_host(std::string_view host) {
    return host == "localhost" || host == "::1" || host == "[::1]" ||
           (starts_with(host, "127.") && host.find_first_not_of("0123456789.") == std::string_view::npos);
}

std::string check_options(const Options& o) {
    if (o.host.empty()) return "--host must not be empty";
    if (o.port < 0 || o.port > 65535) return "--port must be 0..65535";
    if (o.max_upload_bytes == 0) return "--max-upload-bytes must be > 0";
    if (o.max_event_bytes == 0) return "--max-event-bytes must be > 0";
    if (o.events_max_bytes == 0) return "--events-max-bytes must be > 0";
    if (o.events_keep < 1 || o.events_keep > 1000) return "--events-keep must be 1..1000";
    if (o.threads < 1 || o.threads > 1024) return "--threads must be 1..1024";
    for (const char c : o.token)
        if (static_cast<unsigned char>(c) <= 0x20 || static_cast<unsigned char>(c) >= 0x7f)
            return "the token must be printable ASCII without spaces";
    for (const std::string& origin : o.cors_origins) {
        const size_t scheme = origin.find("://");
        const bool ok = (starts_with(origin, "http://") || starts_with(origin, "https://")) && origin.size() > scheme + 3 &&
                        origin.find_first_of("/?#* \t", scheme + 3) == std::string::npos;
        if (!ok) return "--cors-origin '" + origin + "' must be scheme://host[:port] (for example https://docs.example.com)";
    }
    return "";
}

struct Server::Impl {
    Options opt;
    httplib::Server http;
    EventLog events;
    const std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
    std::atomic<std::uint64_t> events_logged{0};
    int port = -1;
    std::atomic<bool> stop_requested{false}, in_run{false};
    std::once_flag stop_once;
    std::mutex log_mutex;

    explicit Impl(Options o) : opt(std::move(o)), events(opt.log_dir, opt.events_max_bytes, opt.events_keep) { setup(); }

    fs::path results_dir() const { return fs::path(opt.data_dir) / "results"; }

    bool origin_allowed(const std::string& origin) const {
        return std::find(opt.cors_origins.begin(), opt.cors_origins.end(), origin) != opt.cors_origins.end();
    }

    void setup() {
        const int threads = opt.threads;
        http.new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<size_t>(threads)); };
        // httplib's default sets SO_REUSEPORT, which would let a second server share the port
        // silently; SO_REUSEADDR only allows a restart while old connections linger.
        http.set_socket_options([](socket_t sock) {
            int yes = 1;
            ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
        });
        http.set_payload_max_length(static_cast<size_t>(std::max(opt.max_upload_bytes, opt.max_event_bytes)));
        http.set_keep_alive_timeout(3);
        http.set_pre_routing_handler([this](const Request& req, Response& res) { return pre_route(req, res); });
        http.Post("/api/results", [this](const Request& req, Response& res, const httplib::ContentReader& rd) { post_results(req, res, rd); });
        http.Post("/api/events", [this](const Request& req, Response& res, const httplib::ContentReader& rd) { post_events(req, res, rd); });
        // Every other request with a body: drained, then refused. pre_route has checked the path
        // (printable, at most kMaxUrlPath bytes), so this pattern runs on short strings only.
        const auto other = [this](const Request& req, Response& res, const httplib::ContentReader& rd) {
            if (!drain_body(req, rd, drain_cap())) res.set_header("Connection", "close");
            not_allowed(req, res);
        };
        http.Post(R"([\s\S]*)", other);
        http.Put(R"([\s\S]*)", other);
        http.Patch(R"([\s\S]*)", other);
        http.Delete(R"([\s\S]*)", other);
        http.set_error_handler(httplib::Server::HandlerWithResponse([](const Request&, Response& res) {
            if (res.body.empty()) fail(res, res.status, reason_phrase(res.status));
            return HandlerResponse::Handled;
        }));
        http.set_exception_handler([this](const Request& req, Response& res, std::exception_ptr ep) {
            std::string what = "unknown exception";
            try {
                std::rethrow_exception(ep);
            } catch (const std::exception& e) {
                what = e.what();
            } catch (...) {
            }
            note("internal error on " + req.method + " " + loggable(req.path) + ": " + what);
            res.headers.clear();
            res.set_header("Connection", "close");
            fail(res, 500, "internal error");
        });
        http.set_post_routing_handler([this](const Request& req, Response& res) { finish_headers(req, res); });
        http.set_logger([this](const Request& req, const Response& res) { log_request(req, res); });
    }

    // Headers every answer gets. CORS only for configured origins, and never on the upload
    // endpoint (it is for the CLI, not for pages).
    void finish_headers(const Request& req, Response& res) {
        res.set_header("X-Content-Type-Options", "nosniff");
        if (!res.has_header("Cache-Control")) res.set_header("Cache-Control", "no-store");
        if (opt.cors_origins.empty()) return;
        res.set_header("Vary", "Origin");
        const std::string origin = req.get_header_value("Origin");
        if (!origin.empty() && origin_allowed(origin) && req.path != "/api/results") res.set_header("Access-Control-Allow-Origin", origin);
    }

    // A server problem (not a request line): printed even with --quiet.
    void note(const std::string& what) {
        if (!opt.log) return;
        std::lock_guard<std::mutex> g(log_mutex);
        std::fprintf(opt.log, "qbench serve: %s\n", what.c_str());
        std::fflush(opt.log);
    }

    void log_request(const Request& req, const Response& res) {
        if (opt.quiet || !opt.log) return;
        double ms = 0;
        if (t_request_timed)
            ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t_request_start).count();
        t_request_timed = false;
        const size_t bytes = req.method == "HEAD" ? 0 : res.body.size();
        std::lock_guard<std::mutex> g(log_mutex);
        std::fprintf(opt.log, "%s %s %d %zuB %.1fms\n", loggable(req.method).c_str(), loggable(req.path.empty() ? req.target : req.path).c_str(),
                     res.status, bytes, ms);
        std::fflush(opt.log);
    }

    // ---- routing -------------------------------------------------------------------------

    HandlerResponse pre_route(const Request& req, Response& res) {
        t_request_start = std::chrono::steady_clock::now();
        t_request_timed = true;
        const std::string& m = req.method;
        const bool body_method = m == "POST" || m == "PUT" || m == "PATCH" || m == "DELETE";
        if (const std::string why = check_url_path(req.path); !why.empty()) {
            fail(res, 400, why);
        } else if (m == "GET" || m == "HEAD") {
            get(req, res);
        } else if (m == "OPTIONS") {
            options(req, res);
        } else if (body_method && (req.has_header("Content-Length") || is_chunked(req))) {
            return HandlerResponse::Unhandled;  // to post_results, post_events or the drain-and-refuse handler
        } else if (m == "POST" && (req.path == "/api/results" || req.path == "/api/events")) {
            fail(res, 411, "a Content-Length header (or chunked transfer encoding) is required");
        } else {
            not_allowed(req, res);
        }
        // Answered without reading a body: make sure it is never parsed as the next request.
        if (has_body(req)) res.set_header("Connection", "close");
        return HandlerResponse::Handled;
    }

    // The answer to a method a path does not take.
    void not_allowed(const Request& req, Response& res) {
        const std::string& p = req.path;
        const bool endpoint = p == "/api/results" || p == "/api/events";
        if (endpoint || p == "/api/health" || starts_with(p, "/data/") || !starts_with(p, "/api/")) {
            res.set_header("Allow", endpoint ? "POST, OPTIONS" : "GET, HEAD, OPTIONS");
            fail(res, 405, req.method + " is not allowed on " + p);
        } else {
            fail(res, 404, "no such endpoint: " + req.method + " " + p);
        }
    }

    // How much of an unwanted or oversized body of unknown length (chunked, compressed) is read
    // and thrown away before giving up on the connection. (httplib itself reads and drops any
    // body whose declared Content-Length is over its payload limit.)
    std::uint64_t drain_cap() const { return std::max<std::uint64_t>(2 * std::max(opt.max_upload_bytes, opt.max_event_bytes), 16u << 20); }

    // Refuses multipart forms after draining them; true if it did.
    bool refuse_form(const Request& req, Response& res, const httplib::ContentReader& reader) {
        if (!req.is_multipart_form_data()) return false;
        if (!drain_body(req, reader, drain_cap())) res.set_header("Connection", "close");
        fail(res, 415, "send the document as the request body (Content-Type: application/json), not as a form");
        return true;
    }

    void options(const Request& req, Response& res) {
        res.status = 204;
        if (req.path == "/api/events") {
            res.set_header("Allow", "POST, OPTIONS");
            const std::string origin = req.get_header_value("Origin");
            if (!origin.empty() && origin_allowed(origin)) {  // a CORS preflight we accept
                res.set_header("Access-Control-Allow-Methods", "POST, OPTIONS");
                res.set_header("Access-Control-Allow-Headers", "Content-Type");
                res.set_header("Access-Control-Max-Age", "600");
            }
        } else if (req.path == "/api/results") {
            res.set_header("Allow", "POST, OPTIONS");
        } else {
            res.set_header("Allow", "GET, HEAD, OPTIONS");
        }
    }

    void get(const Request& req, Response& res) {
        const std::string& p = req.path;
        if (p == "/api/health") return health(res);
        if (p == "/api/results" || p == "/api/events") {
            res.set_header("Allow", "POST, OPTIONS");
            return fail(res, 405, "use POST on " + p);
        }
        if (starts_with(p, "/api/")) return fail(res, 404, "no such endpoint: GET " + p);
        if (p == "/data" || p == "/data/") return fail(res, 404, "no listing: ask for /data/<name>.json, /data/results/<run_id>.json or /data/quantize/<name>.json");
        if (starts_with(p, "/data/")) return serve_data(req, res, std::string_view(p).substr(6));
        serve_site(req, res, std::string_view(p).substr(1));
    }

    // ---- GET: files ----------------------------------------------------------------------

    // Only <name>.json, results/<name>.json and quantize/<name>.json (quantize reports): the
    // data directory may hold other things.
    void serve_data(const Request& req, Response& res, std::string_view rel) {
        const size_t slash = rel.find('/');
        const bool top = slash == std::string_view::npos;
        const bool sub = !top && (rel.substr(0, slash) == "results" || rel.substr(0, slash) == "quantize") &&
                         rel.find('/', slash + 1) == std::string_view::npos;
        if (!(top || sub) || !ends_with(rel, ".json"))
            return fail(res, 404, "not found (data is served as /data/<name>.json, /data/results/<run_id>.json and /data/quantize/<name>.json)");
        const Resolved r = resolve_under(opt.data_dir, rel);
        if (r.status != 200) return fail(res, r.status == 301 ? 404 : r.status, r.status == 301 ? "not found" : r.error);
        send_file(req, res, r.file);
    }

    void serve_site(const Request& req, Response& res, std::string_view rel) {
        std::error_code ec;
        const bool dir_request = !rel.empty() && rel.back() == '/';
        if (dir_request) rel.remove_suffix(1);
        if (!fs::is_directory(opt.site_dir, ec)) {
            if (rel.empty() || rel == "index.html") return builtin_page(res);
            return fail(res, 404, "not found (the site is not built: no directory " + opt.site_dir + ")");
        }
        if (rel.empty()) {
            const Resolved r = resolve_under(opt.site_dir, "index.html");
            if (r.status == 200) return send_file(req, res, r.file);
            return builtin_page(res);
        }
        const Resolved r = resolve_under(opt.site_dir, rel);
        if (r.status == 301) {
            if (!dir_request) return res.set_redirect(req.path + "/", 301);
            const Resolved index = resolve_under(opt.site_dir, std::string(rel) + "/index.html");
            if (index.status == 200) return send_file(req, res, index.file);
            return fail(res, 404, "not found");
        }
        if (r.status != 200) return fail(res, r.status, r.error);
        if (dir_request) return fail(res, 404, "not found");
        send_file(req, res, r.file);
    }

    void builtin_page(Response& res) {
        std::string page = kBuiltinPage;
        page.replace(page.find("@SITE@"), 6, html_escape(opt.site_dir));
        res.set_header("Cache-Control", "no-cache");
        res.set_content(page, "text/html; charset=utf-8");
    }

    // The status is left unset on success, so that httplib answers a Range request with 206.
    void send_file(const Request& req, Response& res, const fs::path& file) {
        std::error_code ec;
        const std::uintmax_t size = fs::file_size(file, ec);
        const fs::file_time_type mtime = fs::last_write_time(file, ec);
        if (ec) return fail(res, 404, "not found");
        if (size > kMaxServedFile) return fail(res, 500, "file too large to serve");
        const std::string name = file.filename().string();
        const std::string etag = etag_for(size, mtime);
        res.set_header("Cache-Control", std::string(cache_control_for(name)));
        res.set_header("ETag", etag);
        const std::string inm = req.get_header_value("If-None-Match");
        if (!inm.empty() && (inm == "*" || inm.find(etag) != std::string::npos)) {
            res.status = 304;
            return;
        }
        std::string data;
        if (!read_whole_file(file, &data, kMaxServedFile)) return fail(res, 404, "not found");
        res.set_content(data, std::string(content_type_for(name)));
    }

    // ---- GET /api/health -----------------------------------------------------------------

    size_t results_count() const {
        size_t n = 0;
        std::error_code ec;
        for (fs::directory_iterator it(results_dir(), ec), end; !ec && it != end; it.increment(ec)) {
            const std::string name = it->path().filename().string();
            if (!name.empty() && name.front() != '.' && ends_with(name, ".json") && name != "index.json" && it->is_regular_file(ec)) ++n;
        }
        return n;
    }

    void health(Response& res) {
        const double up = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
        reply(res, 200,
              json{{"status", "ok"}, {"version", QB_VERSION}, {"uptime_s", static_cast<double>(static_cast<long long>(up * 1000)) / 1000},
                   {"results_count", results_count()}, {"events_logged", events_logged.load()}, {"uploads_enabled", !opt.token.empty()}});
    }

    // ---- POST /api/results ---------------------------------------------------------------

    // Answers a request whose body was not wanted: read it to its end (or give the connection up).
    void discard_body(const Request& req, Response& res, const httplib::ContentReader& reader) {
        if (!drain_body(req, reader, drain_cap())) res.set_header("Connection", "close");
    }

    // "" if the Authorization header carries the configured token, else why not.
    std::string auth_problem(const Request& req) const {
        if (!req.has_header("Authorization")) return "missing header 'Authorization: Bearer <token>'";
        const std::string h = req.get_header_value("Authorization");
        if (h.size() < 7 || lower(h.substr(0, 7)) != "bearer ") return "malformed Authorization header: expected 'Bearer <token>'";
        const std::string given = h.substr(7);
        if (given.empty() || given.find_first_of(" \t") != std::string::npos) return "malformed Authorization header: expected 'Bearer <token>'";
        if (!equal_const_time(given, opt.token)) return "wrong token";
        return "";
    }

    void post_results(const Request& req, Response& res, const httplib::ContentReader& reader) {
        if (refuse_form(req, res, reader)) return;
        if (opt.token.empty()) {
            discard_body(req, res, reader);
            return fail(res, 403,
                        "uploads are disabled: start the server with --token T or with the environment variable QBENCH_TOKEN set");
        }
        if (const std::string why = auth_problem(req); !why.empty()) {
            discard_body(req, res, reader);
            res.set_header("WWW-Authenticate", "Bearer realm=\"qbench\"");
            return fail(res, 401, why);
        }
        std::string body;
        const Body b = read_body(req, reader, opt.max_upload_bytes, drain_cap(), &body);
        if (!b.clean) res.set_header("Connection", "close");
        switch (b.read) {
        case BodyRead::ok: break;
        case BodyRead::too_large:
            return fail(res, 413, "the document is larger than the upload limit of " + std::to_string(opt.max_upload_bytes) +
                                      " bytes (--max-upload-bytes)");
        case BodyRead::failed: return fail(res, 400, "the request body could not be read");
        }
        // One reader for every side (shared/results_json): what is stored here is exactly what
        // publish, calibrate and the widget read. It also bounds size, depth and string length
        // before parsing, and its run_id rule ([a-z0-9][a-z0-9._-]*, no "..") makes run_id a
        // safe file name.
        qb::Results parsed;
        std::vector<qb::DataError> errs;
        if (!qb::parse_results(body, "upload", &parsed, &errs)) {
            json list = json::array();
            for (const qb::DataError& e : errs) list.push_back((e.pointer.empty() ? std::string("document") : e.pointer) + ": " + e.reason);
            return reply(res, 400, json{{"error", "not a valid qbench.results v1 document: " + list.front().get<std::string>()}, {"problems", list}});
        }
        const std::string run_id = parsed.run_id;
        // Stored in the canonical form publish writes, so an upload and a publish of the same
        // run are the same bytes; a re-upload is "identical" if it parses to the same run.
        const std::string content = qb::results_json(parsed);
        const StoreOutcome out = store_new_file(results_dir(), run_id + ".json", content, [&content](const std::string& existing) {
            qb::Results old;
            std::vector<qb::DataError> ignored;
            return existing == content || (qb::parse_results(existing, "stored", &old, &ignored) && qb::results_json(old) == content);
        });
        const std::string url = "/data/results/" + run_id + ".json";
        switch (out.kind) {
        case StoreOutcome::stored: {
            // The widget finds runs through index.json: rebuild it from the directory.
            int runs = 0;
            std::string err;
            if (!qb::native::rebuild_results_index(results_dir().string(), &runs, &err)) note("index.json not rebuilt: " + err);
            return reply(res, 201, json{{"stored", out.path.string()}, {"url", url}, {"run_id", run_id}});
        }
        case StoreOutcome::identical:
            return reply(res, 200, json{{"status", "already stored"}, {"stored", out.path.string()}, {"url", url}, {"run_id", run_id}});
        case StoreOutcome::conflict:
            return fail(res, 409, "run_id '" + run_id + "' is already stored with different content (" + out.path.string() +
                                      "); results are never overwritten: upload under a new run_id");
        case StoreOutcome::failed: break;
        }
        note("cannot store " + run_id + ": " + out.error);
        fail(res, 500, "the result could not be stored (see the server log)");
    }

    // ---- POST /api/events ----------------------------------------------------------------

    // Pages on this server (same origin) and configured origins may post events; a page on
    // any other site may not (browsers send Origin on every cross-origin POST).
    bool events_origin_ok(const Request& req) const {
        if (!req.has_header("Origin")) return true;  // not a browser page: curl, tests
        const std::string origin = req.get_header_value("Origin");
        const std::string host = req.get_header_value("Host");
        return origin_allowed(origin) || (!host.empty() && (origin == "http://" + host || origin == "https://" + host));
    }

    // "" if `e` is an acceptable event, else why not (pointer first).
    static std::string event_problem(const json& e, const std::string& ptr) {
        if (!e.is_object()) return ptr + ": each event must be a JSON object";
        const auto t = e.find("type");
        if (t == e.end() || !t->is_string() || t->get_ref<const std::string&>().empty() || t->get_ref<const std::string&>().size() > kMaxEventType)
            return ptr + "/type: must be a non-empty string of at most " + std::to_string(kMaxEventType) + " characters";
        if (const auto u = e.find("user_selections"); u != e.end() && !u->is_object() && !u->is_null())
            return ptr + "/user_selections: must be an object";
        for (const char* k : {"calculated_monthly_cost", "comparison_delta"})
            if (const auto v = e.find(k); v != e.end() && !v->is_object() && !v->is_number() && !v->is_null())
                return ptr + "/" + k + ": must be an object or a number";
        return "";
    }

    void post_events(const Request& req, Response& res, const httplib::ContentReader& reader) {
        if (refuse_form(req, res, reader)) return;
        if (!events_origin_ok(req)) {
            discard_body(req, res, reader);
            return fail(res, 403, "origin '" + req.get_header_value("Origin") + "' may not post events (allowed: pages of this server and the --cors-origin values)");
        }
        std::string body;
        const Body b = read_body(req, reader, opt.max_event_bytes, drain_cap(), &body);
        if (!b.clean) res.set_header("Connection", "close");
        switch (b.read) {
        case BodyRead::ok: break;
        case BodyRead::too_large:
            return fail(res, 413, "the events are larger than the limit of " + std::to_string(opt.max_event_bytes) + " bytes");
        case BodyRead::failed: return fail(res, 400, "the request body could not be read");
        }
        json doc = json::parse(body, nullptr, false);
        if (doc.is_discarded()) return fail(res, 400, "the body is not valid JSON");
        if (doc.is_object()) doc = json::array({std::move(doc)});
        if (!doc.is_array() || doc.empty() || doc.size() > kMaxEventsPerRequest)
            return fail(res, 400, "the body must be an event object or a non-empty array of at most " + std::to_string(kMaxEventsPerRequest) +
                                      " event objects");
        for (size_t i = 0; i < doc.size(); ++i)
            if (const std::string why = event_problem(doc[i], "/" + std::to_string(i)); !why.empty()) return fail(res, 400, why);

        const std::string ts = utc_now_iso();
        std::string lines;
        for (json& e : doc) {
            e["server_ts"] = ts;
            lines += e.dump(-1, ' ', false, json::error_handler_t::replace);
            lines += '\n';
        }
        std::string err;
        if (!events.append(lines, &err)) {
            note("cannot log events: " + err);
            return fail(res, 500, "the events could not be logged (see the server log)");
        }
        events_logged += doc.size();
        reply(res, 200, json{{"logged", doc.size()}});
    }
};

Server::Server(Options opt) : impl_(std::make_unique<Impl>(std::move(opt))) {}

Server::~Server() { stop(); }

bool Server::bind(std::string* err) {
    Impl& m = *impl_;
    m.port = m.opt.port == 0 ? m.http.bind_to_any_port(m.opt.host) : (m.http.bind_to_port(m.opt.host, m.opt.port) ? m.opt.port : -1);
    if (m.port < 0) {
        *err = "cannot listen on " + m.opt.host + ":" + std::to_string(m.opt.port) + " (port in use, or not an address of this machine)";
        return false;
    }
    return true;
}

int Server::port() const { return impl_->port; }

std::string Server::url() const {
    const std::string& h = impl_->opt.host;
    const bool v6 = h.find(':') != std::string::npos && h.front() != '[';
    return "http://" + (v6 ? "[" + h + "]" : h) + ":" + std::to_string(impl_->port) + "/";
}

bool Server::run() {
    Impl& m = *impl_;
    m.in_run = true;
    bool ok = true;
    if (!m.stop_requested && m.port >= 0) ok = m.http.listen_after_bind();
    m.in_run = false;
    return ok;
}

// httplib's stop() acts only once its accept loop runs (and must not run twice): wait for the
// loop if run() has been entered, then close the listening socket once. run() checks
// stop_requested after raising in_run, so one of the two always sees the other.
void Server::stop() {
    Impl& m = *impl_;
    m.stop_requested = true;
    while (m.in_run && !m.http.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    if (m.http.is_running()) std::call_once(m.stop_once, [&m] { m.http.stop(); });
}

const Options& Server::options() const { return impl_->opt; }

}  // namespace qb::server
