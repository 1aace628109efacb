// Helpers for the server tests: temporary directory trees, a server running in-process on a
// free loopback port, raw HTTP requests (bytes exactly as written, no client-side cleanup),
// and a valid qbench.results document.
#pragma once
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "results_json.h"
#include "server.h"

namespace qbt {

namespace fs = std::filesystem;
using nlohmann::json;

// A fresh directory under the system temp dir, removed with everything in it.
class TempDir {
public:
    TempDir() {
        std::string tmpl = (fs::temp_directory_path() / "qbench-server-XXXXXX").string();
        if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
        path_ = tmpl;
    }
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(path_, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    const fs::path& path() const { return path_; }

private:
    fs::path path_;
};

inline void write_file(const fs::path& p, const std::string& content) {
    fs::create_directories(p.parent_path());
    std::ofstream f(p, std::ios::binary);
    f << content;
}

inline std::string read_file(const fs::path& p) {
    std::ifstream f(p, std::ios::binary);
    std::ostringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

// Every file below `dir` (dot-files too) with its bytes: equal snapshots = untouched directory.
inline std::map<std::string, std::string> snapshot(const fs::path& dir) {
    std::map<std::string, std::string> out;
    std::error_code ec;
    for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
        if (it->is_regular_file()) out[fs::relative(it->path(), dir).string()] = read_file(it->path());
    return out;
}

// A qb::server::Server on 127.0.0.1 and a free port, serving on a background thread.
class RunningServer {
public:
    explicit RunningServer(qb::server::Options o) {
        o.host = "127.0.0.1";
        o.port = 0;
        server_ = std::make_unique<qb::server::Server>(std::move(o));
        std::string err;
        if (!server_->bind(&err)) throw std::runtime_error(err);
        thread_ = std::thread([this] { server_->run(); });
    }
    ~RunningServer() {
        server_->stop();
        thread_.join();
    }
    RunningServer(const RunningServer&) = delete;
    RunningServer& operator=(const RunningServer&) = delete;
    int port() const { return server_->port(); }

private:
    std::unique_ptr<qb::server::Server> server_;
    std::thread thread_;
};

struct RawResponse {
    int status = 0;
    std::string head;   // status line and headers
    std::string body;
    bool has_header(const std::string& name_colon_value) const { return head.find(name_colon_value) != std::string::npos; }
};

// Sends `request` verbatim and reads one answer (to its Content-Length, or until the server
// closes the connection).
inline RawResponse raw_request(int port, const std::string& request) {
    RawResponse r;
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return r;
    timeval tv{10, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        ::close(fd);
        return r;
    }
    size_t sent = 0;
    while (sent < request.size()) {
        const ssize_t n = ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
        if (n <= 0) break;
        sent += static_cast<size_t>(n);
    }
    const bool head = request.rfind("HEAD ", 0) == 0;
    std::string all;
    char buf[8192];
    for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;) {
        all.append(buf, static_cast<size_t>(n));
        const size_t end = all.find("\r\n\r\n");
        if (end == std::string::npos) continue;
        const size_t cl = all.find("\r\nContent-Length: ");
        if (cl == std::string::npos || cl > end) continue;
        const size_t want = head ? 0 : std::strtoul(all.c_str() + cl + 18, nullptr, 10);
        if (all.size() >= end + 4 + want) break;
    }
    ::close(fd);
    const size_t split = all.find("\r\n\r\n");
    r.head = all.substr(0, split);
    r.body = split == std::string::npos ? "" : all.substr(split + 4);
    if (all.rfind("HTTP/1.1 ", 0) == 0) r.status = std::atoi(all.c_str() + 9);
    return r;
}

inline RawResponse raw_get(int port, const std::string& target) {
    return raw_request(port, "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
}

// A minimal valid qbench.results v1 document.
inline json valid_run(const std::string& run_id, double median_us = 12.5) {
    json m = {{"backend", "cpu"}, {"kernel", "w4a16"}, {"impl", "avx512"}, {"bits", 4}, {"group_size", 128}, {"zero_point", false},
              {"m", 1}, {"n", 4096}, {"k", 4096}, {"shape", "llama-2-7b qkv"}, {"reps", 50}, {"median_us", median_us}, {"p10_us", median_us * 0.96},
              {"p90_us", median_us * 1.08}, {"bytes", 9437184}, {"flops", 33554432}, {"gbps", 75.5}, {"pct_of_probe", 62.1}, {"correct", true},
              {"max_rel_err", 0.0012}};
    return {{"schema", "qbench.results"},
            {"version", 1},
            {"run_id", run_id},
            {"environment",
             {{"hostname", "bench-1"}, {"cpu_model", "Intel Xeon"}, {"cores", 2}, {"threads", 2}, {"isa", {"avx2", "avx512f"}},
              {"compiler", "g++ 12.2"}, {"os", "Debian 12"}, {"commit", "dcf52bf"}, {"timestamp", "2026-11-26T12:00:00Z"},
              {"hardware_id", nullptr}, {"gpu", nullptr}}},
            {"probe", {{"kind", "triad"}, {"gbps", 121.5}}},
            {"measurements", json::array({m})}};
}

// The form the server stores a valid upload in (shared/results_json's writer), as JSON.
inline json canonical(const json& doc) {
    qb::Results r;
    std::vector<qb::DataError> errs;
    if (!qb::parse_results(doc.dump(), "test", &r, &errs)) throw std::runtime_error("not a valid run: " + errs.front().str());
    return json::parse(qb::results_json(r));
}

}  // namespace qbt
