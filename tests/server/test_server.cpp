// The server over loopback: a qb::server::Server runs in-process on a free port with temp
// directories; httplib::Client and raw sockets talk to it.
#include <gtest/gtest.h>
#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <vector>

#include "server_test_util.h"

using namespace qbt;
using qb::server::Options;

namespace {

constexpr const char* kToken = "test-token-123";
constexpr const char* kSecret = "TOPSECRET-outside-the-roots";

// root/secret.txt (must never be served), root/site, root/data (+ results/seed-run.json), root/logs.
class ServerTest : public ::testing::Test {
protected:
    void SetUp() override {
        const fs::path r = tmp.path();
        write_file(r / "secret.txt", kSecret);
        write_file(site() / "index.html", "<!doctype html><title>qbench</title>site index");
        write_file(site() / "app.js", "console.log('qbench');");
        write_file(site() / "app.wasm", std::string("\0asm\1\0\0\0", 8));
        write_file(site() / "style.css", "body{}");
        write_file(site() / "logo.png", "\x89PNG\r\n");
        write_file(site() / "icon.svg", "<svg/>");
        write_file(site() / "font.ttf", "ttf");
        write_file(site() / "font.woff2", "woff2");
        write_file(site() / "notes.txt", "notes");
        write_file(site() / "sub" / "index.html", "sub index");
        write_file(site() / ".hidden.txt", "hidden");
        fs::create_symlink("../secret.txt", site() / "escape.txt");
        fs::create_symlink(r, site() / "up");
        fs::create_symlink("notes.txt", site() / "inner-link.txt");
        for (const char* f : {"model-catalog.json", "hardware.json", "efficiency.json", "accuracy.json"})
            write_file(data() / f, std::string("{\"file\": \"") + f + "\"}\n");
        write_file(data() / "notes.md", "not a data file");
        write_file(results() / "seed-run.json", valid_run("seed-run").dump(2) + "\n");
        write_file(data() / "quantize" / "report.json", "{\"schema\": \"qbench.quantize\"}\n");
        write_file(data() / "quantize" / "notes.md", "not a report");
        fs::create_directories(logs());
    }

    Options options() const {
        Options o;
        o.site_dir = site().string();
        o.data_dir = data().string();
        o.log_dir = logs().string();
        o.token = kToken;
        o.quiet = true;
        return o;
    }
    fs::path site() const { return tmp.path() / "site"; }
    fs::path data() const { return tmp.path() / "data"; }
    fs::path results() const { return data() / "results"; }
    fs::path logs() const { return tmp.path() / "logs"; }

    static httplib::Client client(const RunningServer& s) {
        httplib::Client c("127.0.0.1", s.port());
        c.set_read_timeout(10, 0);
        return c;
    }
    static httplib::Headers bearer(const std::string& token = kToken) { return {{"Authorization", "Bearer " + token}}; }

    TempDir tmp;
};

json body_json(const httplib::Result& r) { return json::parse(r->body, nullptr, false); }

std::vector<std::string> lines_of(const std::string& s) {
    std::vector<std::string> out;
    std::istringstream in(s);
    for (std::string l; std::getline(in, l);) out.push_back(l);
    return out;
}

}  // namespace

// ---- GET: health, site, data ---------------------------------------------------------------

TEST_F(ServerTest, Health) {
    RunningServer s(options());
    auto c = client(s);
    auto r = c.Get("/api/health");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->get_header_value("Content-Type"), "application/json");
    EXPECT_EQ(r->get_header_value("Cache-Control"), "no-store");
    const json h = body_json(r);
    EXPECT_EQ(h["status"], "ok");
    EXPECT_FALSE(h["version"].get<std::string>().empty());
    EXPECT_GE(h["uptime_s"].get<double>(), 0.0);
    EXPECT_EQ(h["results_count"], 1);
    EXPECT_EQ(h["events_logged"], 0);
    EXPECT_EQ(h["uploads_enabled"], true);
}

TEST_F(ServerTest, StaticFilesWithContentTypes) {
    RunningServer s(options());
    auto c = client(s);
    const std::pair<const char*, const char*> files[] = {
        {"/index.html", "text/html; charset=utf-8"}, {"/app.js", "text/javascript; charset=utf-8"},
        {"/app.wasm", "application/wasm"},           {"/style.css", "text/css; charset=utf-8"},
        {"/logo.png", "image/png"},                  {"/icon.svg", "image/svg+xml"},
        {"/font.ttf", "font/ttf"},                   {"/font.woff2", "font/woff2"},
        {"/notes.txt", "text/plain; charset=utf-8"}, {"/inner-link.txt", "text/plain; charset=utf-8"}};
    for (const auto& [path, type] : files) {
        auto r = c.Get(path);
        ASSERT_TRUE(r) << path;
        EXPECT_EQ(r->status, 200) << path;
        EXPECT_EQ(r->get_header_value("Content-Type"), type) << path;
        EXPECT_EQ(r->body, read_file(fs::canonical(site() / std::string(path + 1)))) << path;
        EXPECT_FALSE(r->get_header_value("ETag").empty()) << path;
        EXPECT_EQ(r->get_header_value("X-Content-Type-Options"), "nosniff") << path;
    }
    EXPECT_EQ(c.Get("/index.html")->get_header_value("Cache-Control"), "no-cache");
    EXPECT_EQ(c.Get("/app.wasm")->get_header_value("Cache-Control"), "public, max-age=300");
}

TEST_F(ServerTest, IndexDirectoriesHeadAndConditionalGet) {
    RunningServer s(options());
    auto c = client(s);
    auto root = c.Get("/");
    ASSERT_TRUE(root);
    EXPECT_EQ(root->status, 200);
    EXPECT_NE(root->body.find("site index"), std::string::npos);
    EXPECT_EQ(c.Get("/sub/")->body, "sub index");
    auto redirect = c.Get("/sub");
    EXPECT_EQ(redirect->status, 301);
    EXPECT_EQ(redirect->get_header_value("Location"), "/sub/");

    auto head = c.Head("/app.js");
    ASSERT_TRUE(head);
    EXPECT_EQ(head->status, 200);
    EXPECT_EQ(head->body, "");
    EXPECT_EQ(head->get_header_value("Content-Length"), std::to_string(fs::file_size(site() / "app.js")));

    const std::string etag = c.Get("/app.js")->get_header_value("ETag");
    auto again = c.Get("/app.js", {{"If-None-Match", etag}});
    EXPECT_EQ(again->status, 304);
    EXPECT_EQ(again->body, "");
    write_file(site() / "app.js", "console.log('changed, longer');");
    EXPECT_EQ(c.Get("/app.js", {{"If-None-Match", etag}})->status, 200);
}

TEST_F(ServerTest, DataFiles) {
    RunningServer s(options());
    auto c = client(s);
    for (const char* f : {"model-catalog.json", "hardware.json", "efficiency.json", "accuracy.json"}) {
        auto r = c.Get(std::string("/data/") + f);
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 200) << f;
        EXPECT_EQ(r->get_header_value("Content-Type"), "application/json");
        EXPECT_EQ(r->get_header_value("Cache-Control"), "no-cache");
        EXPECT_EQ(body_json(r)["file"], f);
    }
    auto run = c.Get("/data/results/seed-run.json");
    ASSERT_TRUE(run);
    EXPECT_EQ(run->status, 200);
    EXPECT_EQ(body_json(run)["run_id"], "seed-run");
    auto report = c.Get("/data/quantize/report.json");   // quantize reports the widget loads
    ASSERT_TRUE(report);
    EXPECT_EQ(report->status, 200);
    EXPECT_EQ(body_json(report)["schema"], "qbench.quantize");
}

TEST_F(ServerTest, NotFoundAnswersJson) {
    RunningServer s(options());
    auto c = client(s);
    for (const char* p : {"/missing.html", "/data/missing.json", "/data/notes.md", "/data/results/missing.json", "/data/results/",
                          "/data/", "/data/results", "/.hidden.txt", "/api/nope", "/sub/index.html/", "/data/quantize/notes.md",
                          "/data/quantize/missing.json", "/data/quantize/a/b.json", "/data/other/x.json"}) {
        auto r = c.Get(p);
        ASSERT_TRUE(r) << p;
        EXPECT_EQ(r->status, 404) << p;
        EXPECT_EQ(r->get_header_value("Content-Type"), "application/json") << p;
        EXPECT_TRUE(body_json(r).contains("error")) << p << ": " << r->body;
    }
}

TEST_F(ServerTest, BuiltinPageWhenTheSiteIsNotBuilt) {
    Options o = options();
    o.site_dir = (tmp.path() / "no-site").string();
    RunningServer s(o);
    auto c = client(s);
    for (const char* p : {"/", "/index.html"}) {
        auto r = c.Get(p);
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 200);
        EXPECT_EQ(r->get_header_value("Content-Type"), "text/html; charset=utf-8");
        EXPECT_NE(r->body.find("not built"), std::string::npos);
        EXPECT_NE(r->body.find("/api/health"), std::string::npos);
    }
    EXPECT_EQ(c.Get("/app.js")->status, 404);
    EXPECT_EQ(c.Get("/api/health")->status, 200);
    EXPECT_EQ(c.Get("/data/hardware.json")->status, 200);
}

// ---- path traversal ------------------------------------------------------------------------

TEST_F(ServerTest, PathTraversalIsRejected) {
    RunningServer s(options());
    const std::string hardware = read_file(data() / "hardware.json");
    const std::string attempts[] = {
        "/../secret.txt", "/../../../../etc/passwd", "/%2e%2e/secret.txt", "/%2E%2E/%2e%2e/etc/passwd", "/%2e%2e%2fsecret.txt",
        "/data/../../secret.txt", "/data/../secret.txt", "/data/%2e%2e/%2e%2e/secret.txt", "/data/results/..%2f..%2fhardware.json",
        "/data/results/../hardware.json", "/data/results/%2e%2e/hardware.json", "/..\\secret.txt", "/%5c..%5csecret.txt",
        "/data\\..\\..\\secret.txt", "//etc/passwd", "/%2fetc/passwd", "/data//etc/passwd", "/%00", "/notes.txt%00.png",
        "/%252e%252e/secret.txt", "/%u002e%u002e/secret.txt", "/./secret.txt", "/escape.txt", "/up/secret.txt",
        "/sub/../../secret.txt", "/" + std::string(2000, 'a'), "/" + std::string(9000, 'a'),
        "/data/results/" + std::string(300, 'b') + ".json", "/.%2e/secret.txt", "/data/%2e%2e/site/index.html",
        "/data/results/%2e%2e/%2e%2e/site/index.html", "/data/results/x.json/..", "/data/.%2e/hardware.json"};
    for (const std::string& path : attempts) {
        for (const char* method : {"GET", "HEAD"}) {
            const RawResponse r = raw_request(s.port(), std::string(method) + " " + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
            EXPECT_TRUE(r.status == 400 || r.status == 404 || r.status == 414) << method << " " << path.substr(0, 80) << " -> " << r.status;
            EXPECT_EQ(r.body.find(kSecret), std::string::npos) << path;
            EXPECT_EQ(r.body.find("site index"), std::string::npos) << path;
            if (path.find("hardware") != std::string::npos) {
                EXPECT_EQ(r.body.find(hardware), std::string::npos) << path;
            }
        }
    }
    // The server is still fine.
    EXPECT_EQ(raw_get(s.port(), "/api/health").status, 200);
}

// ---- POST /api/results ---------------------------------------------------------------------

TEST_F(ServerTest, UploadStoresTheRun) {
    RunningServer s(options());
    auto c = client(s);
    const json doc = valid_run("2026-11-26_h100-run-1");
    auto r = c.Post("/api/results", bearer(), doc.dump(), "application/json");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 201) << r->body;
    const json reply = body_json(r);
    const fs::path stored = results() / "2026-11-26_h100-run-1.json";
    EXPECT_EQ(fs::path(reply["stored"].get<std::string>()), stored);
    EXPECT_EQ(reply["url"], "/data/results/2026-11-26_h100-run-1.json");
    EXPECT_EQ(json::parse(read_file(stored)), canonical(doc));
    auto back = c.Get("/data/results/2026-11-26_h100-run-1.json");
    ASSERT_TRUE(back);
    EXPECT_EQ(back->status, 200);
    EXPECT_EQ(json::parse(back->body), canonical(doc));
    EXPECT_EQ(body_json(c.Get("/api/health"))["results_count"], 2);
    // The scheme name is case-insensitive.
    auto lower = c.Post("/api/results", {{"Authorization", std::string("bearer ") + kToken}}, valid_run("run-2").dump(), "application/json");
    EXPECT_EQ(lower->status, 201) << lower->body;
}

TEST_F(ServerTest, DuplicateRunIds) {
    RunningServer s(options());
    auto c = client(s);
    const json doc = valid_run("dup");
    ASSERT_EQ(c.Post("/api/results", bearer(), doc.dump(), "application/json")->status, 201);
    const std::string before = read_file(results() / "dup.json");

    // Same content, different formatting: already stored.
    auto same = c.Post("/api/results", bearer(), doc.dump(4), "application/json");
    EXPECT_EQ(same->status, 200) << same->body;
    EXPECT_EQ(body_json(same)["status"], "already stored");

    // Different content under the same run_id: refused, file unchanged.
    auto other = c.Post("/api/results", bearer(), valid_run("dup", 99.0).dump(), "application/json");
    EXPECT_EQ(other->status, 409) << other->body;
    EXPECT_NE(body_json(other)["error"].get<std::string>().find("dup"), std::string::npos);
    EXPECT_EQ(read_file(results() / "dup.json"), before);

    // Also for a file that was there before the server started.
    EXPECT_EQ(c.Post("/api/results", bearer(), valid_run("seed-run").dump(), "application/json")->status, 200);
    EXPECT_EQ(c.Post("/api/results", bearer(), valid_run("seed-run", 1.0).dump(), "application/json")->status, 409);
}

TEST_F(ServerTest, UploadAuthFailures) {
    const std::string doc = valid_run("auth-run").dump();
    const auto before = snapshot(data());
    {
        RunningServer s(options());
        auto c = client(s);
        struct Case {
            httplib::Headers headers;
            const char* says;
        };
        const Case cases[] = {{{}, "missing"},
                              {bearer("wrong-token"), "wrong token"},
                              {bearer(std::string(kToken) + "x"), "wrong token"},
                              {bearer(""), "malformed"},
                              {{{"Authorization", std::string("Basic ") + kToken}}, "malformed"},
                              {{{"Authorization", kToken}}, "malformed"},
                              {{{"Authorization", "Bearer"}}, "malformed"},
                              {{{"Authorization", std::string("Bearer ") + kToken + " extra"}}, "malformed"}};
        for (const Case& k : cases) {
            auto r = c.Post("/api/results", k.headers, doc, "application/json");
            ASSERT_TRUE(r);
            EXPECT_EQ(r->status, 401) << k.says;
            EXPECT_NE(body_json(r)["error"].get<std::string>().find(k.says), std::string::npos) << r->body;
            EXPECT_NE(r->get_header_value("WWW-Authenticate").find("Bearer"), std::string::npos);
        }
        // The connection stays usable after a refused body.
        EXPECT_EQ(c.Get("/api/health")->status, 200);
    }
    {
        Options o = options();
        o.token.clear();
        RunningServer s(o);
        auto c = client(s);
        auto r = c.Post("/api/results", bearer(), doc, "application/json");
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 403);
        const std::string msg = body_json(r)["error"];
        EXPECT_NE(msg.find("--token"), std::string::npos) << msg;
        EXPECT_NE(msg.find("QBENCH_TOKEN"), std::string::npos) << msg;
        EXPECT_EQ(body_json(c.Get("/api/health"))["uploads_enabled"], false);
    }
    EXPECT_EQ(snapshot(data()), before);
}

TEST_F(ServerTest, BadUploadsLeaveResultsUntouched) {
    Options o = options();
    o.max_upload_bytes = 4096;  // the httplib payload limit is then the events limit, 64 KiB
    RunningServer s(o);
    auto c = client(s);
    const auto before = snapshot(data());

    auto post = [&](const std::string& body) { return c.Post("/api/results", bearer(), body, "application/json"); };
    for (const char* bad : {"", "{", "not json", "{\"schema\": \"qbench.results\",}", "\"a string\"", "null"}) {
        auto r = post(bad);
        ASSERT_TRUE(r) << bad;
        EXPECT_EQ(r->status, 400) << bad;
        EXPECT_TRUE(body_json(r).contains("error")) << bad;
    }
    struct Case {
        const char* names;
        std::function<void(json&)> edit;
    };
    const Case cases[] = {
        {"/schema", [](json& d) { d["schema"] = "qbench.other"; }},
        {"/version", [](json& d) { d["version"] = 2; }},
        {"/run_id", [](json& d) { d["run_id"] = "../../evil"; }},
        {"/run_id", [](json& d) { d["run_id"] = ".."; }},
        {"/run_id", [](json& d) { d["run_id"] = ".hidden"; }},
        {"/run_id", [](json& d) { d["run_id"] = "a/b"; }},
        {"/run_id", [](json& d) { d["run_id"] = "Run:1"; }},   // it names a file: [a-z0-9][a-z0-9._-]*
        {"/run_id", [](json& d) { d["run_id"] = std::string(129, 'a'); }},
        {"/environment/cores", [](json& d) { d["environment"]["cores"] = 0; }},
        {"/measurements/0/median_us", [](json& d) { d["measurements"][0]["median_us"] = -1; }},
        {"/measurements/0/correct", [](json& d) { d["measurements"][0]["correct"] = nullptr; }},
        {"/measurements", [](json& d) { d["measurements"] = json::array(); }},
        {"/measurements/0/backend", [](json& d) { d["measurements"][0]["backend"] = "tpu"; }},
        {"/measurements/0/m", [](json& d) { d["measurements"][0]["m"] = 0; }},
        {"/environment/isa", [](json& d) { d["environment"]["isa"] = "avx2"; }},
        {"/probe/gbps", [](json& d) { d["probe"]["gbps"] = -3; }},
    };
    for (const Case& k : cases) {
        json d = valid_run("bad-run");
        k.edit(d);
        auto r = post(d.dump());
        ASSERT_TRUE(r) << k.names;
        EXPECT_EQ(r->status, 400) << k.names;
        EXPECT_NE(body_json(r)["error"].get<std::string>().find(k.names), std::string::npos) << r->body;
    }
    // Too large: declared over our limit, over httplib's limit, and chunked (no declared size).
    json big = valid_run("big-run");
    big["padding"] = std::string(6000, 'p');
    auto r1 = post(big.dump());
    ASSERT_TRUE(r1);
    EXPECT_EQ(r1->status, 413);
    EXPECT_NE(body_json(r1)["error"].get<std::string>().find("--max-upload-bytes"), std::string::npos);
    big["padding"] = std::string(100000, 'p');
    auto r2 = post(big.dump());
    ASSERT_TRUE(r2);
    EXPECT_EQ(r2->status, 413);
    const std::string chunked_body = big.dump();
    auto r3 = c.Post(
        "/api/results", bearer(),
        [&](size_t offset, httplib::DataSink& sink) {
            if (offset < chunked_body.size()) sink.write(chunked_body.data() + offset, std::min<size_t>(1000, chunked_body.size() - offset));
            else sink.done();
            return true;
        },
        "application/json");
    ASSERT_TRUE(r3);
    EXPECT_EQ(r3->status, 413);
    // A raw request with no length at all.
    const RawResponse r4 = raw_request(s.port(), std::string("POST /api/results HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ") + kToken +
                                                     "\r\nConnection: close\r\n\r\n");
    EXPECT_EQ(r4.status, 411);

    EXPECT_EQ(snapshot(data()), before);
    // A chunked upload under the limit is fine.
    const std::string small = valid_run("chunked-run").dump();
    auto ok = c.Post(
        "/api/results", bearer(),
        [&](size_t offset, httplib::DataSink& sink) {
            if (offset < small.size()) sink.write(small.data() + offset, std::min<size_t>(100, small.size() - offset));
            else sink.done();
            return true;
        },
        "application/json");
    ASSERT_TRUE(ok);
    EXPECT_EQ(ok->status, 201) << ok->body;
}

TEST_F(ServerTest, DefaultUploadLimitIsEightMiB) {
    RunningServer s(options());
    auto c = client(s);
    json big = valid_run("huge-run");
    big["padding"] = std::string((8u << 20) + 16, 'p');
    auto r = c.Post("/api/results", bearer(), big.dump(), "application/json");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 413);
    EXPECT_FALSE(fs::exists(results() / "huge-run.json"));
}

TEST_F(ServerTest, ConcurrentUploadsLoseNothing) {
    RunningServer s(options());
    constexpr int kThreads = 8, kRuns = 10;
    std::atomic<int> created{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t)
        threads.emplace_back([&, t] {
            auto c = client(s);
            for (int i = 0; i < kRuns; ++i) {
                const json doc = valid_run("conc-" + std::to_string(t) + "-" + std::to_string(i), t * 100 + i + 1);
                auto r = c.Post("/api/results", bearer(), doc.dump(), "application/json");
                if (r && r->status == 201) ++created;
            }
        });
    for (std::thread& t : threads) t.join();
    EXPECT_EQ(created, kThreads * kRuns);
    for (int t = 0; t < kThreads; ++t)
        for (int i = 0; i < kRuns; ++i) {
            const std::string id = "conc-" + std::to_string(t) + "-" + std::to_string(i);
            const json stored = json::parse(read_file(results() / (id + ".json")), nullptr, false);
            EXPECT_EQ(stored, canonical(valid_run(id, t * 100 + i + 1))) << id;
        }
    // + seed-run + index.json; no temp files left
    EXPECT_EQ(snapshot(results()).size(), size_t(kThreads * kRuns + 2));
    EXPECT_EQ(body_json(client(s).Get("/api/health"))["results_count"], kThreads * kRuns + 1);
    // The index the widget reads lists every stored run (rebuilt after each upload).
    const json index = json::parse(read_file(results() / "index.json"), nullptr, false);
    ASSERT_TRUE(index.is_object());
    EXPECT_EQ(index["runs"].size(), size_t(kThreads * kRuns + 1));
}

// ---- POST /api/events ----------------------------------------------------------------------

TEST_F(ServerTest, EventsAreAppended) {
    RunningServer s(options());
    auto c = client(s);
    const json one = {{"type", "selection_changed"}, {"user_selections", {{"model", "llama-2-7b"}, {"bits", 4}}}, {"calculated_monthly_cost", 1234.5}};
    auto r = c.Post("/api/events", one.dump(), "application/json");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200) << r->body;
    EXPECT_EQ(body_json(r)["logged"], 1);
    const json three = json::array({{{"type", "a"}}, {{"type", "b"}, {"comparison_delta", {{"vs_fp16", {{"tpot_pct", -55.1}}}}}},
                                    {{"type", "c"}, {"calculated_monthly_cost", {{"usd", 10}}}}});
    EXPECT_EQ(body_json(c.Post("/api/events", three.dump(), "text/plain"))["logged"], 3);

    const std::vector<std::string> lines = lines_of(read_file(logs() / "events.log"));
    ASSERT_EQ(lines.size(), 4u);
    const char* types[] = {"selection_changed", "a", "b", "c"};
    for (size_t i = 0; i < 4; ++i) {
        const json e = json::parse(lines[i]);
        EXPECT_EQ(e["type"], types[i]);
        EXPECT_TRUE(e["server_ts"].is_string());
        EXPECT_EQ(e["server_ts"].get<std::string>().size(), 24u);  // 2026-11-26T12:00:00.000Z
    }
    EXPECT_EQ(json::parse(lines[0])["user_selections"]["bits"], 4);
    EXPECT_EQ(body_json(c.Get("/api/health"))["events_logged"], 4);

    const std::string log_before = read_file(logs() / "events.log");
    for (const char* bad : {"", "{", "42", "[]", "[1]", "{\"no_type\": 1}", "{\"type\": \"\"}", "{\"type\": 5}",
                            "{\"type\": \"x\", \"user_selections\": 5}", "{\"type\": \"x\", \"comparison_delta\": \"big\"}",
                            "[{\"type\": \"ok\"}, {\"type\": null}]"}) {
        auto b = c.Post("/api/events", bad, "application/json");
        ASSERT_TRUE(b) << bad;
        EXPECT_EQ(b->status, 400) << bad;
        EXPECT_TRUE(body_json(b).contains("error")) << bad;
    }
    auto big = c.Post("/api/events", json{{"type", "x"}, {"pad", std::string(70000, 'p')}}.dump(), "application/json");
    ASSERT_TRUE(big);
    EXPECT_EQ(big->status, 413);
    EXPECT_EQ(read_file(logs() / "events.log"), log_before);
}

TEST_F(ServerTest, EventsLogRotates) {
    Options o = options();
    o.events_max_bytes = 300;
    RunningServer s(o);
    auto c = client(s);
    for (int i = 0; i < 60; ++i) {
        auto r = c.Post("/api/events", json{{"type", "tick"}, {"seq", i}}.dump(), "application/json");
        ASSERT_TRUE(r);
        ASSERT_EQ(r->status, 200);
    }
    std::vector<int> seqs;
    for (int g = 5; g >= 0; --g) {
        const fs::path p = logs() / (g == 0 ? std::string("events.log") : "events.log." + std::to_string(g));
        ASSERT_TRUE(fs::exists(p)) << p;
        EXPECT_LE(fs::file_size(p), 300u) << p;
        for (const std::string& l : lines_of(read_file(p))) seqs.push_back(json::parse(l)["seq"]);
    }
    EXPECT_FALSE(fs::exists(logs() / "events.log.6"));
    ASSERT_FALSE(seqs.empty());
    EXPECT_EQ(seqs.back(), 59);
    for (size_t i = 1; i < seqs.size(); ++i) EXPECT_EQ(seqs[i], seqs[i - 1] + 1);  // the kept ones, in order, none lost
}

// ---- CORS ----------------------------------------------------------------------------------

TEST_F(ServerTest, CorsOnlyForConfiguredOrigins) {
    const std::string docs = "https://docs.example.com", evil = "https://evil.example.net";
    const std::string event = json{{"type", "x"}}.dump();
    {
        Options o = options();
        o.cors_origins = {docs, "http://localhost:3000"};
        RunningServer s(o);
        auto c = client(s);
        auto r = c.Post("/api/events", {{"Origin", docs}}, event, "application/json");
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 200);
        EXPECT_EQ(r->get_header_value("Access-Control-Allow-Origin"), docs);
        EXPECT_EQ(r->get_header_value("Vary"), "Origin");
        EXPECT_EQ(c.Get("/data/hardware.json", {{"Origin", "http://localhost:3000"}})->get_header_value("Access-Control-Allow-Origin"),
                  "http://localhost:3000");

        auto pre = c.Options("/api/events", {{"Origin", docs}, {"Access-Control-Request-Method", "POST"},
                                             {"Access-Control-Request-Headers", "content-type"}});
        ASSERT_TRUE(pre);
        EXPECT_EQ(pre->status, 204);
        EXPECT_EQ(pre->get_header_value("Access-Control-Allow-Origin"), docs);
        EXPECT_NE(pre->get_header_value("Access-Control-Allow-Methods").find("POST"), std::string::npos);
        EXPECT_NE(pre->get_header_value("Access-Control-Allow-Headers").find("Content-Type"), std::string::npos);

        auto bad_pre = c.Options("/api/events", {{"Origin", evil}, {"Access-Control-Request-Method", "POST"}});
        EXPECT_FALSE(bad_pre->has_header("Access-Control-Allow-Origin"));
        EXPECT_FALSE(bad_pre->has_header("Access-Control-Allow-Methods"));
        auto bad = c.Post("/api/events", {{"Origin", evil}}, event, "application/json");
        EXPECT_EQ(bad->status, 403);
        EXPECT_FALSE(bad->has_header("Access-Control-Allow-Origin"));
        // Origins match exactly: no prefix, suffix or scheme games.
        for (const char* near : {"https://docs.example.com.evil.net", "http://docs.example.com", "https://docs.example.com:443", "null"})
            EXPECT_FALSE(c.Get("/api/health", {{"Origin", near}})->has_header("Access-Control-Allow-Origin")) << near;
        // Never on the upload endpoint, which is not for pages.
        EXPECT_FALSE(c.Post("/api/results", {{"Origin", docs}, {"Authorization", std::string("Bearer ") + kToken}}, valid_run("cors").dump(),
                            "application/json")
                         ->has_header("Access-Control-Allow-Origin"));
        EXPECT_FALSE(c.Options("/api/results", {{"Origin", docs}})->has_header("Access-Control-Allow-Origin"));
    }
    {
        RunningServer s(options());  // no --cors-origin: no CORS headers at all
        auto c = client(s);
        std::vector<httplib::Result> answers;
        answers.push_back(c.Get("/api/health", {{"Origin", docs}}));
        answers.push_back(c.Options("/api/events", {{"Origin", docs}, {"Access-Control-Request-Method", "POST"}}));
        answers.push_back(c.Post("/api/events", {{"Origin", docs}}, event, "application/json"));
        for (const httplib::Result& r : answers) {
            ASSERT_TRUE(r);
            for (const auto& [k, v] : r->headers) EXPECT_EQ(k.rfind("Access-Control-", 0), std::string::npos) << k;
            EXPECT_FALSE(r->has_header("Vary"));
        }
        EXPECT_EQ(c.Post("/api/events", {{"Origin", docs}}, event, "application/json")->status, 403);
        EXPECT_EQ(c.Post("/api/events", event, "application/json")->status, 200);  // no Origin: not a page
        const std::string self = "http://127.0.0.1:" + std::to_string(s.port());
        EXPECT_EQ(c.Post("/api/events", {{"Origin", self}}, event, "application/json")->status, 200);  // a page of this server
    }
}

// ---- the rest: methods, log lines, start and stop ------------------------------------------

TEST_F(ServerTest, OtherMethodsAndPaths) {
    RunningServer s(options());
    auto c = client(s);
    EXPECT_EQ(c.Get("/api/results")->status, 405);
    EXPECT_EQ(c.Post("/api/health", "{}", "application/json")->status, 405);
    EXPECT_EQ(c.Put("/data/hardware.json", "{}", "application/json")->status, 405);
    EXPECT_EQ(c.Delete("/api/results")->status, 405);
    EXPECT_EQ(c.Post("/api/unknown", "{}", "application/json")->status, 404);
    EXPECT_EQ(c.Post("/index.html", "{}", "application/json")->status, 405);
    auto form = c.Post("/api/results", bearer(), httplib::MultipartFormDataItems{{"file", "{}", "r.json", "application/json"}});
    ASSERT_TRUE(form);
    EXPECT_EQ(form->status, 415);
    EXPECT_EQ(c.Options("/data/hardware.json")->status, 204);
    EXPECT_EQ(c.Get("/api/health")->status, 200);
    EXPECT_EQ(snapshot(results()).size(), 1u);
}

TEST_F(ServerTest, LogsOneLinePerRequest) {
    const fs::path log_path = tmp.path() / "server.log";
    std::FILE* f = std::fopen(log_path.c_str(), "w");
    ASSERT_NE(f, nullptr);
    {
        Options o = options();
        o.quiet = false;
        o.log = f;
        RunningServer s(o);
        auto c = client(s);
        c.Get("/api/health");
        c.Get("/missing.txt");
        raw_get(s.port(), "/a%0Ab");  // a newline in the path must not split the log line
    }
    std::fclose(f);
    // Lines come in the order the answers were sent, which is not always the order of the requests.
    std::vector<std::string> lines = lines_of(read_file(log_path));
    ASSERT_EQ(lines.size(), 3u) << read_file(log_path);
    std::sort(lines.begin(), lines.end());
    EXPECT_EQ(lines[0].rfind("GET /a\\x0ab 400 ", 0), 0u) << lines[0];
    EXPECT_EQ(lines[1].rfind("GET /api/health 200 ", 0), 0u) << lines[1];
    EXPECT_EQ(lines[2].rfind("GET /missing.txt 404 ", 0), 0u) << lines[2];
    for (const std::string& l : lines) EXPECT_EQ(l.substr(l.size() - 2), "ms") << l;

    std::FILE* q = std::fopen(log_path.c_str(), "w");
    {
        Options o = options();
        o.log = q;  // quiet (options() sets it)
        RunningServer s(o);
        client(s).Get("/api/health");
    }
    std::fclose(q);
    EXPECT_EQ(read_file(log_path), "");
}

TEST_F(ServerTest, StopBeforeDuringAndAfterRun) {
    Options o = options();
    o.port = 0;
    o.host = "127.0.0.1";
    {
        qb::server::Server s(o);
        std::string err;
        ASSERT_TRUE(s.bind(&err)) << err;
        EXPECT_GT(s.port(), 0);
        EXPECT_EQ(s.url(), "http://127.0.0.1:" + std::to_string(s.port()) + "/");
        s.stop();
        EXPECT_TRUE(s.run());  // returns at once
        s.stop();
    }
    for (int i = 0; i < 20; ++i) {  // stop racing with the start of run()
        qb::server::Server s(o);
        std::string err;
        ASSERT_TRUE(s.bind(&err)) << err;
        std::thread t([&] { s.run(); });
        s.stop();
        s.stop();
        t.join();
    }
    {  // a taken port is an error, not a silent share
        RunningServer first(options());
        Options again = options();
        again.port = first.port();
        qb::server::Server s(again);
        std::string err;
        EXPECT_FALSE(s.bind(&err));
        EXPECT_NE(err.find(std::to_string(first.port())), std::string::npos);
    }
}

TEST(ServerOptions, Checks) {
    EXPECT_EQ(qb::server::check_options(Options{}), "");
    Options o;
    o.cors_origins = {"https://docs.example.com", "http://localhost:3000"};
    EXPECT_EQ(qb::server::check_options(o), "");
    for (const char* bad : {"docs.example.com", "https://docs.example.com/", "https://a.example/path", "*", "https://", "https://a b"}) {
        o.cors_origins = {bad};
        EXPECT_NE(qb::server::check_options(o), "") << bad;
    }
    o = Options{};
    o.token = "has space";
    EXPECT_NE(qb::server::check_options(o), "");
    o = Options{};
    o.max_upload_bytes = 0;
    EXPECT_NE(qb::server::check_options(o), "");
    o = Options{};
    o.port = 70000;
    EXPECT_NE(qb::server::check_options(o), "");
    for (const char* h : {"127.0.0.1", "127.1.2.3", "localhost", "::1"}) EXPECT_TRUE(qb::server::is_loopback_host(h)) << h;
    for (const char* h : {"0.0.0.0", "::", "192.168.1.5", "127.evil.example"}) EXPECT_FALSE(qb::server::is_loopback_host(h)) << h;
}
