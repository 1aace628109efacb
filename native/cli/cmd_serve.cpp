// cmd_serve.cpp: `qbench-native serve`: flags, start-up messages and signals around
// qb::server::Server (native/server/), which does all the request handling.
#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#ifndef QB_NO_SERVER
#include <atomic>
#include <chrono>
#include <filesystem>
#include <thread>

#include "server.h"
#endif

namespace {

constexpr int kExitBadInput = 2;

void serve_usage() {
    std::puts(
        "usage: qbench-native serve [flags]\n"
        "  --host H               address to listen on (default 127.0.0.1; 0.0.0.0 = every interface)\n"
        "  --port N               port (default 8080; 0 = any free port, printed at start)\n"
        "  --site DIR             static site to serve at / (default build/site)\n"
        "  --data DIR             data files served at /data/, uploads stored in DIR/results (default data)\n"
        "  --log-dir DIR          where events.log is written (default logs)\n"
        "  --token T              enables POST /api/results for 'Authorization: Bearer T'\n"
        "                         (or set QBENCH_TOKEN, which keeps the token out of the process list)\n"
        "  --cors-origin URL      allow this page origin cross-origin (repeatable), e.g. https://docs.example.com\n"
        "  --max-upload-bytes N   POST /api/results body limit (default 8M; K/M/G suffixes are binary)\n"
        "  --max-event-bytes N    POST /api/events body limit (default 64K)\n"
        "  --events-max-bytes N   rotate events.log at this size (default 10M)\n"
        "  --events-keep N        rotated generations kept, events.log.1 .. .N (default 5)\n"
        "  --threads N            worker threads (default 16)\n"
        "  --quiet                no per-request log lines on stderr\n"
        "Stops on SIGINT or SIGTERM. Exit status: 0 stopped, 1 cannot listen, 2 bad flags.");
}

int bad(const std::string& why) {
    std::fprintf(stderr, "qbench-native serve: %s\n", why.c_str());
    return kExitBadInput;
}

// Non-negative integer with an optional binary suffix K, M or G.
bool parse_size(const std::string& s, std::uint64_t* out) {
    if (s.empty() || s[0] < '0' || s[0] > '9') return false;
    char* end = nullptr;
    errno = 0;
    unsigned long long v = std::strtoull(s.c_str(), &end, 10);
    if (errno == ERANGE) return false;
    const std::string suffix = end;
    unsigned shift = 0;
    if (suffix == "K" || suffix == "k" || suffix == "KiB") shift = 10;
    else if (suffix == "M" || suffix == "m" || suffix == "MiB") shift = 20;
    else if (suffix == "G" || suffix == "g" || suffix == "GiB") shift = 30;
    else if (!suffix.empty()) return false;
    if (v > (~0ull >> shift)) return false;
    *out = v << shift;
    return true;
}

#ifndef QB_NO_SERVER
volatile std::sig_atomic_t g_signal = 0;
extern "C" void on_stop_signal(int sig) { g_signal = sig; }
#endif

}  // namespace

int cmd_serve(int argc, char** argv) {
#ifdef QB_NO_SERVER
    (void)argc;
    (void)argv;
    (void)parse_size;
    serve_usage();
    return bad("this build has no server (cpp-httplib was not found at configure time: apt-get install libcpp-httplib-dev)");
#else
    qb::server::Options o;
    bool have_token = false;
    for (int i = 2; i < argc; ++i) {
        std::string flag = argv[i], val;
        if (flag == "--help" || flag == "-h") { serve_usage(); return 0; }
        if (flag == "--quiet") { o.quiet = true; continue; }
        if (flag.rfind("--", 0) != 0) return bad("unexpected argument '" + flag + "' (flags start with --)");
        if (const size_t eq = flag.find('='); eq != std::string::npos) {
            val = flag.substr(eq + 1);
            flag.resize(eq);
        } else if (i + 1 < argc) {
            val = argv[++i];
        } else {
            return bad(flag + " needs a value");
        }
        std::uint64_t n = 0;
        auto size_arg = [&](std::uint64_t* dst) {
            if (!parse_size(val, &n)) return false;
            *dst = n;
            return true;
        };
        auto int_arg = [&](int* dst, std::uint64_t lo, std::uint64_t hi) {
            if (!parse_size(val, &n) || n < lo || n > hi || val.find_first_not_of("0123456789") != std::string::npos) return false;
            *dst = static_cast<int>(n);
            return true;
        };
        bool ok = true;
        if (flag == "--host") o.host = val;
        else if (flag == "--port") ok = int_arg(&o.port, 0, 65535);
        else if (flag == "--site") o.site_dir = val;
        else if (flag == "--data") o.data_dir = val;
        else if (flag == "--log-dir") o.log_dir = val;
        else if (flag == "--token") { o.token = val; have_token = true; }
        else if (flag == "--cors-origin") o.cors_origins.push_back(val);
        else if (flag == "--max-upload-bytes") ok = size_arg(&o.max_upload_bytes);
        else if (flag == "--max-event-bytes") ok = size_arg(&o.max_event_bytes);
        else if (flag == "--events-max-bytes") ok = size_arg(&o.events_max_bytes);
        else if (flag == "--events-keep") ok = int_arg(&o.events_keep, 1, 1000);
        else if (flag == "--threads") ok = int_arg(&o.threads, 1, 1024);
        else return bad("unknown flag " + flag + " (see qbench-native serve --help)");
        if (!ok) return bad(flag + ": bad value '" + val + "'");
    }
    if (!have_token)
        if (const char* env = std::getenv("QBENCH_TOKEN")) o.token = env;
    if (have_token && o.token.empty()) return bad("--token must not be empty");
    if (const std::string why = qb::server::check_options(o); !why.empty()) return bad(why);

    // Handlers first: whoever reads the URL line may signal at once.
    struct sigaction sa {};
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);

    qb::server::Server server(o);
    std::string err;
    if (!server.bind(&err)) {
        std::fprintf(stderr, "qbench-native serve: %s\n", err.c_str());
        return 1;
    }
    std::error_code ec;
    if (!qb::server::is_loopback_host(o.host))
        std::fprintf(stderr, "qbench serve: warning: listening on %s, which other machines may reach: anyone who can connect can read "
                             "the data and post events\n", o.host.c_str());
    std::fprintf(stderr, "qbench serve: site %s%s; data %s; events %s/events.log; uploads %s\n", o.site_dir.c_str(),
                 std::filesystem::is_directory(o.site_dir, ec) ? "" : " (not built: a placeholder page is served)", o.data_dir.c_str(),
                 o.log_dir.c_str(), o.token.empty() ? "disabled (set --token or QBENCH_TOKEN)" : "enabled");
    std::printf("qbench serve: %s\n", server.url().c_str());
    std::fflush(stdout);

    // A signal handler may only set a flag; this thread turns the flag into stop().
    std::atomic<bool> done{false};
    std::thread watcher([&] {
        while (!done && g_signal == 0) std::this_thread::sleep_for(std::chrono::milliseconds(50));
        if (g_signal != 0) server.stop();
    });
    const bool ok = server.run();
    done = true;
    watcher.join();
    std::fprintf(stderr, "qbench serve: stopped%s\n", g_signal == SIGINT ? " (SIGINT)" : g_signal == SIGTERM ? " (SIGTERM)" : "");
    return ok ? 0 : 1;
#endif
}
