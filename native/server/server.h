// server.h: `qbench-native serve`, the HTTP side of qbench (cpp-httplib underneath).
//
//   GET  /, /<file>          the static site (Options::site_dir; a built-in page when missing)
//   GET  /data/<name>.json   the data files; /data/results/<run_id>.json the uploaded runs
//   GET  /api/health         {status, version, uptime_s, results_count, events_logged, uploads_enabled}
//   POST /api/results        store one qbench.results v1 run (Bearer token; see Options::token)
//   POST /api/events         append the widget's telemetry to <log_dir>/events.log (CORS applies)
//
// Every error answer is JSON {"error": "..."} naming what is wrong. Nothing a client sends can
// make the server read outside site_dir and data_dir or write outside data_dir/results and
// log_dir. The class owns no global state except the per-directory write locks (store.h).
#pragma once
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace qb::server {

struct Options {
    std::string host = "127.0.0.1";            // loopback unless told otherwise
    int port = 8080;                           // 0 = any free port (see Server::port)
    std::string site_dir = "build/site";       // static site root
    std::string data_dir = "data";             // served under /data/, uploads go to data_dir/results
    std::string log_dir = "logs";              // events.log and its generations
    std::string token;                         // POST /api/results bearer token; empty = uploads disabled
    std::vector<std::string> cors_origins;     // exact Origin values allowed cross-origin; empty = no CORS headers
    std::uint64_t max_upload_bytes = 8u << 20; // POST /api/results body limit (413 above)
    std::uint64_t max_event_bytes = 64u << 10; // POST /api/events body limit (413 above)
    std::uint64_t events_max_bytes = 10u << 20;// rotate events.log before it would grow past this
    int events_keep = 5;                       // rotated generations kept: events.log.1 .. .N
    int threads = 16;                          // worker threads (one per open connection)
    bool quiet = false;                        // no per-request log lines
    std::FILE* log = stderr;                   // request lines and server problems (nullptr: nowhere)
};

// "" when the options can be served, else the first problem (an origin that is not
// scheme://host[:port], a zero limit, ...).
std::string check_options(const Options& o);

// 127.0.0.0/8, ::1 and "localhost".
bool is_loopback_host(std::string_view host);

class Server {
public:
    explicit Server(Options opt);
    ~Server();                    // stops; join the thread that called run() first
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    bool bind(std::string* err);  // listens on host:port; false and *err if it cannot
    int port() const;             // the bound port (the chosen one for port 0), -1 before bind
    std::string url() const;      // http://host:port/
    bool run();                   // serves until stop(); false if accepting failed
    void stop();                  // from any thread, before, during or after run(); idempotent
    const Options& options() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace qb::server
