// static_files: URL path checks, resolution under a root (symlinks included), content types.
#include <gtest/gtest.h>

#include "server_test_util.h"
#include "static_files.h"

using namespace qb::server;
using namespace qbt;

TEST(CheckUrlPath, AcceptsOrdinaryPaths) {
    for (const char* p : {"/", "/index.html", "/a/b/c.js", "/sub/", "/data/results/run-1:2.json", "/a b.txt", "/..foo", "/foo.."})
        EXPECT_EQ(check_url_path(p), "") << p;
}

TEST(CheckUrlPath, RejectsTraversalAndOddBytes) {
    const std::string nul_path("/a\0b", 4);
    for (const std::string& p : {std::string(""), std::string("index.html"), std::string("/.."), std::string("/../etc/passwd"),
                                 std::string("/a/../b"), std::string("/a/./b"), std::string("/a/.."), std::string("//etc/passwd"),
                                 std::string("/a//b"), std::string("/a\\..\\b"), std::string("/%2e%2e/"), nul_path,
                                 std::string("/a\nb"), std::string("/a\x7f"), std::string("/") + std::string(300, 'a'),
                                 std::string(kMaxUrlPath + 1, 'a').replace(0, 1, "/")})
        EXPECT_NE(check_url_path(p), "") << p;
}

TEST(ResolveUnder, StaysInsideTheRoot) {
    TempDir t;
    const fs::path root = t.path() / "site";
    write_file(root / "a.txt", "a");
    write_file(root / "sub" / "b.txt", "b");
    write_file(root / ".git" / "config", "secret");
    write_file(t.path() / "site2" / "x.txt", "x");
    write_file(t.path() / "outside.txt", "outside");
    fs::create_symlink(t.path() / "outside.txt", root / "out-abs");
    fs::create_symlink("../outside.txt", root / "out-rel");
    fs::create_symlink("../site2", root / "sibling");
    fs::create_symlink("a.txt", root / "in-link");
    fs::create_symlink(".git/config", root / "to-dotfile");

    Resolved r = resolve_under(root, "a.txt");
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.file, fs::canonical(root / "a.txt"));
    EXPECT_EQ(resolve_under(root, "sub/b.txt").status, 200);
    EXPECT_EQ(resolve_under(root, "sub").status, 301);
    EXPECT_EQ(resolve_under(root, "in-link").status, 200);
    EXPECT_EQ(resolve_under(root, "missing.txt").status, 404);
    EXPECT_EQ(resolve_under(root, ".git/config").status, 404);
    EXPECT_EQ(resolve_under(root, "to-dotfile").status, 404);
    EXPECT_EQ(resolve_under(root, "out-abs").status, 404);
    EXPECT_EQ(resolve_under(root, "out-rel").status, 404);
    EXPECT_EQ(resolve_under(root, "sibling/x.txt").status, 404);  // /site2 must not pass as a prefix of /site
    EXPECT_EQ(resolve_under(root, "/etc/passwd").status, 400);
    EXPECT_EQ(resolve_under(t.path() / "no-such-root", "a.txt").status, 404);
    for (const Resolved& bad : {resolve_under(root, "out-abs"), resolve_under(root, "sibling/x.txt")}) EXPECT_TRUE(bad.file.empty());
}

TEST(ContentType, ByExtension) {
    EXPECT_EQ(content_type_for("index.html"), "text/html; charset=utf-8");
    EXPECT_EQ(content_type_for("app.js"), "text/javascript; charset=utf-8");
    EXPECT_EQ(content_type_for("qbench.wasm"), "application/wasm");
    EXPECT_EQ(content_type_for("hardware.json"), "application/json");
    EXPECT_EQ(content_type_for("style.css"), "text/css; charset=utf-8");
    EXPECT_EQ(content_type_for("logo.PNG"), "image/png");
    EXPECT_EQ(content_type_for("icon.svg"), "image/svg+xml");
    EXPECT_EQ(content_type_for("font.ttf"), "font/ttf");
    EXPECT_EQ(content_type_for("font.woff2"), "font/woff2");
    EXPECT_EQ(content_type_for("notes.txt"), "text/plain; charset=utf-8");
    EXPECT_EQ(content_type_for("Makefile"), "application/octet-stream");
    EXPECT_EQ(content_type_for("dir.d/file"), "application/octet-stream");
    EXPECT_EQ(cache_control_for("index.html"), "no-cache");
    EXPECT_EQ(cache_control_for("hardware.json"), "no-cache");
    EXPECT_EQ(cache_control_for("qbench.wasm"), "public, max-age=300");
}
