// native/bench/publish.h + file_io.h: merging runs into a results directory (index,
// de-duplication, atomicity: a failed or invalid publish leaves the directory untouched) and
// uploading to a server (a local cpp-httplib server checks the request).
#include <gtest/gtest.h>
#include <httplib.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <chrono>
#include <thread>

#include <nlohmann/json.hpp>

#include "file_io.h"
#include "publish.h"
#include "results_fixture.h"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// A fresh directory under the build tree's temp area, removed at the end.
struct TempDir {
    fs::path path;
    TempDir() {
        path = fs::temp_directory_path() / ("qbench-publish-" + std::to_string(::getpid()) + "-" + std::to_string(counter()++));
        fs::remove_all(path);
        fs::create_directories(path);
    }
    ~TempDir() { fs::remove_all(path); }
    static int& counter() { static int c = 0; return c; }
};

// Every file in dir with its content: the "untouched" check.
std::map<std::string, std::string> snapshot(const fs::path& dir) {
    std::map<std::string, std::string> m;
    if (!fs::exists(dir)) return m;
    for (const auto& e : fs::directory_iterator(dir)) {
        if (e.is_directory()) {
            m[e.path().filename().string()] = "<dir>";
            continue;
        }
        std::ifstream f(e.path(), std::ios::binary);
        m[e.path().filename().string()] = std::string(std::istreambuf_iterator<char>(f), {});
    }
    return m;
}

TEST(Publish, AddsRunAndWritesIndex) {
    TempDir t;
    const fs::path dir = t.path / "results";   // created on first publish
    const qb::Results a = qbt::sample_results("host-a");
    const qb::native::PublishOutcome o = qb::native::publish_results(qb::results_json(a), "a.json", dir.string());
    ASSERT_TRUE(o.ok) << o.error;
    EXPECT_TRUE(o.added);
    EXPECT_EQ(o.file, a.run_id + ".json");
    EXPECT_TRUE(fs::exists(dir / o.file));
    const auto snap = snapshot(dir);
    ASSERT_EQ(snap.size(), 2u);   // the run and index.json, no temp files left
    const json idx = json::parse(snap.at("index.json"));
    EXPECT_EQ(idx["schema"], "qbench.results-index");
    ASSERT_EQ(idx["runs"].size(), 1u);
    EXPECT_EQ(idx["runs"][0]["run_id"], a.run_id);
    EXPECT_EQ(idx["runs"][0]["measurements"], 8);
    // A second, different run is added and listed.
    const qb::Results b = qbt::sample_results("host-b", 2.0);
    ASSERT_TRUE(qb::native::publish_results(qb::results_json(b), "b.json", dir.string()).added);
    EXPECT_EQ(json::parse(snapshot(dir).at("index.json"))["runs"].size(), 2u);
}

TEST(Publish, DeduplicatesByRunIdAndByContent) {
    TempDir t;
    const qb::Results a = qbt::sample_results("host-a");
    ASSERT_TRUE(qb::native::publish_results(qb::results_json(a), "a.json", t.path.string()).added);
    const auto before = snapshot(t.path);
    // Same run again, even reformatted: not added.
    qb::native::PublishOutcome o = qb::native::publish_results(qb::results_json(a, -1), "a.json", t.path.string());
    EXPECT_TRUE(o.ok);
    EXPECT_FALSE(o.added);
    EXPECT_EQ(o.duplicate_of, a.run_id + ".json");
    // Identical environment + measurements under another run_id: not added either.
    qb::Results renamed = a;
    renamed.run_id = "some-other-name";
    o = qb::native::publish_results(qb::results_json(renamed), "r.json", t.path.string());
    EXPECT_TRUE(o.ok);
    EXPECT_FALSE(o.added);
    EXPECT_EQ(snapshot(t.path), before);
}

// A stale index (a merge of two branches' index.json, a crash between the two writes) is
// repaired by the next publish, even one that adds nothing; a current index is left alone.
TEST(Publish, DuplicatePublishRepairsAStaleIndex) {
    TempDir t;
    const qb::Results a = qbt::sample_results("host-a"), b = qbt::sample_results("host-b", 2.0);
    ASSERT_TRUE(qb::native::publish_results(qb::results_json(a), "a.json", t.path.string()).added);
    ASSERT_TRUE(qb::native::publish_results(qb::results_json(b), "b.json", t.path.string()).added);
    const std::string good = snapshot(t.path).at("index.json");
    std::string err;
    ASSERT_TRUE(qb::native::write_file_atomic((t.path / "index.json").string(), "{\"schema\": \"qbench.results-index\", \"runs\": []}\n", &err));
    const qb::native::PublishOutcome o = qb::native::publish_results(qb::results_json(a), "a.json", t.path.string());
    EXPECT_TRUE(o.ok) << o.error;
    EXPECT_FALSE(o.added);
    EXPECT_EQ(o.runs_in_index, 2);
    EXPECT_EQ(snapshot(t.path).at("index.json"), good);
    const auto mtime = fs::last_write_time(t.path / "index.json");
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    ASSERT_TRUE(qb::native::publish_results(qb::results_json(b), "b.json", t.path.string()).ok);
    EXPECT_EQ(fs::last_write_time(t.path / "index.json"), mtime);   // not rewritten
}

TEST(Publish, InvalidOrFailedPublishLeavesDirectoryUntouched) {
    TempDir t;
    ASSERT_TRUE(qb::native::publish_results(qb::results_json(qbt::sample_results("host-a")), "a.json", t.path.string()).added);
    const auto before = snapshot(t.path);
    // Invalid input: malformed, wrong schema, bad field.
    for (const std::string& bad : {std::string("{"), std::string("{\"schema\":\"qbench.results\",\"version\":1}"),
                                  std::string("[]")}) {
        const qb::native::PublishOutcome o = qb::native::publish_results(bad, "bad.json", t.path.string());
        EXPECT_FALSE(o.ok);
        EXPECT_NE(o.error.find("bad.json"), std::string::npos) << o.error;
        EXPECT_EQ(snapshot(t.path), before);
    }
    // A corrupt existing run stops the publish (it is not silently dropped from the index).
    {
        std::ofstream(t.path / "zz-corrupt.json") << "{ not json";
        const auto with_corrupt = snapshot(t.path);
        const qb::native::PublishOutcome o =
            qb::native::publish_results(qb::results_json(qbt::sample_results("host-c", 3.0)), "c.json", t.path.string());
        EXPECT_FALSE(o.ok);
        EXPECT_NE(o.error.find("zz-corrupt.json"), std::string::npos) << o.error;
        EXPECT_EQ(snapshot(t.path), with_corrupt);
        fs::remove(t.path / "zz-corrupt.json");
    }
    // The write itself fails (a directory sits where the run file would go): nothing changes
    // and no temporary file is left behind.
    const qb::Results d = qbt::sample_results("host-d", 4.0);
    fs::create_directory(t.path / (d.run_id + ".json"));
    const auto blocked = snapshot(t.path);
    const qb::native::PublishOutcome o = qb::native::publish_results(qb::results_json(d), "d.json", t.path.string());
    EXPECT_FALSE(o.ok);
    EXPECT_EQ(snapshot(t.path), blocked);
}

TEST(FileIo, AtomicWriteReplacesWholeFiles) {
    TempDir t;
    const std::string p = (t.path / "f.json").string();
    std::string err, back;
    ASSERT_TRUE(qb::native::write_file_atomic(p, "first", &err)) << err;
    ASSERT_TRUE(qb::native::write_file_atomic(p, "second, longer", &err)) << err;
    ASSERT_TRUE(qb::native::read_text_file(p, &back, &err));
    EXPECT_EQ(back, "second, longer");
    EXPECT_EQ(snapshot(t.path).size(), 1u);
    EXPECT_FALSE(qb::native::write_file_atomic((t.path / "missing-dir" / "f").string(), "x", &err));
    EXPECT_FALSE(qb::native::read_text_file((t.path / "nope").string(), &back, &err));
    std::vector<std::string> names;
    std::ofstream(t.path / "b.json") << "{}";
    std::ofstream(t.path / ".hidden.json") << "{}";
    std::ofstream(t.path / "c.txt") << "{}";
    ASSERT_TRUE(qb::native::list_json_files(t.path.string(), &names, &err));
    EXPECT_EQ(names, (std::vector<std::string>{"b.json", "f.json"}));
}

TEST(Upload, PostsWithBearerTokenAndReportsErrors) {
    httplib::Server srv;
    std::string got_auth, got_body, got_type;
    srv.Post("/api/results", [&](const httplib::Request& req, httplib::Response& res) {
        got_auth = req.get_header_value("Authorization");
        got_type = req.get_header_value("Content-Type");
        got_body = req.body;
        if (got_auth != "Bearer s3cret") { res.status = 401; res.set_content("{\"error\":\"bad token\"}", "application/json"); return; }
        res.status = 201;
        res.set_content("{\"ok\":true}", "application/json");
    });
    const int port = srv.bind_to_any_port("127.0.0.1");
    ASSERT_GT(port, 0);
    std::thread th([&] { srv.listen_after_bind(); });
    while (!srv.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    const qb::Results r = qbt::sample_results();
    const std::string url = "http://127.0.0.1:" + std::to_string(port);
    qb::native::UploadOutcome u = qb::native::upload_results(qb::results_json(r), "r.json", url, "s3cret");
    EXPECT_TRUE(u.ok) << u.error;
    EXPECT_EQ(u.status, 201);
    EXPECT_EQ(got_auth, "Bearer s3cret");
    EXPECT_EQ(got_type, "application/json");
    EXPECT_EQ(json::parse(got_body)["run_id"], r.run_id);
    u = qb::native::upload_results(qb::results_json(r), "r.json", url + "/", "wrong");
    EXPECT_FALSE(u.ok);
    EXPECT_EQ(u.status, 401);
    EXPECT_NE(u.error.find("401"), std::string::npos);
    srv.stop();
    th.join();
    // Unreachable server: a clear error, no exception.
    u = qb::native::upload_results(qb::results_json(r), "r.json", "http://127.0.0.1:" + std::to_string(port), "s3cret", 2);
    EXPECT_FALSE(u.ok);
    EXPECT_FALSE(u.bad_input);
    EXPECT_NE(u.error.find("cannot reach"), std::string::npos) << u.error;
    // Rejected before any request.
    EXPECT_TRUE(qb::native::upload_results("{}", "r.json", url, "t").bad_input);
    EXPECT_TRUE(qb::native::upload_results(qb::results_json(r), "r.json", "ftp://x", "t").bad_input);
    EXPECT_TRUE(qb::native::upload_results(qb::results_json(r), "r.json", url, "").bad_input);
}

}  // namespace
