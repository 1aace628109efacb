// store: atomic no-overwrite file writes and the rotated events log.
#include <gtest/gtest.h>

#include <cstring>

#include "server_test_util.h"
#include "store.h"

using namespace qb::server;
using namespace qbt;

TEST(StoreNewFile, WritesOnceNeverOverwrites) {
    TempDir t;
    const fs::path dir = t.path() / "results";  // created on demand
    StoreOutcome a = store_new_file(dir, "r.json", "{\"a\":1}\n");
    EXPECT_EQ(a.kind, StoreOutcome::stored) << a.error;
    EXPECT_EQ(read_file(dir / "r.json"), "{\"a\":1}\n");
    EXPECT_EQ(store_new_file(dir, "r.json", "{\"a\":1}\n").kind, StoreOutcome::identical);
    EXPECT_EQ(store_new_file(dir, "r.json", "{\"a\":2}\n").kind, StoreOutcome::conflict);
    EXPECT_EQ(store_new_file(dir, "r.json", "{ \"a\": 1 }", [](const std::string&) { return true; }).kind, StoreOutcome::identical);
    EXPECT_EQ(read_file(dir / "r.json"), "{\"a\":1}\n");
    EXPECT_EQ(snapshot(dir).size(), 1u);  // no temp file left behind
}

TEST(EventLog, RotatesKeepingNGenerations) {
    TempDir t;
    EventLog log(t.path() / "logs", 100, 3);
    std::string err;
    size_t line_bytes = 0;
    for (int i = 0; i < 40; ++i) {
        char line[32];
        std::snprintf(line, sizeof line, "{\"seq\":%3d,\"pad\":\"xxxx\"}\n", i);  // same length for every i
        line_bytes = std::strlen(line);
        ASSERT_TRUE(log.append(line, &err)) << err;
    }
    const size_t per_file = 100 / line_bytes;  // whole lines that fit under the limit
    EXPECT_TRUE(fs::exists(log.path()));
    for (int g = 1; g <= 3; ++g) {
        ASSERT_TRUE(fs::exists(log.generation(g))) << g;
        EXPECT_EQ(fs::file_size(log.generation(g)), per_file * line_bytes) << g;
    }
    EXPECT_FALSE(fs::exists(log.generation(4)));
    // Generations hold consecutive lines, oldest in the highest number, newest last in events.log.
    std::string all;
    for (int g = 3; g >= 1; --g) all += read_file(log.generation(g));
    all += read_file(log.path());
    std::istringstream in(all);
    int prev = -1;
    for (std::string line; std::getline(in, line);) {
        const int seq = json::parse(line)["seq"];
        if (prev >= 0) {
            EXPECT_EQ(seq, prev + 1);
        }
        prev = seq;
    }
    EXPECT_EQ(prev, 39);
}

TEST(EventLog, OversizedBatchStillWritten) {
    TempDir t;
    EventLog log(t.path(), 10, 2);
    std::string err;
    ASSERT_TRUE(log.append(std::string(50, 'a') + "\n", &err));
    ASSERT_TRUE(log.append(std::string(50, 'b') + "\n", &err));
    EXPECT_EQ(read_file(log.path()), std::string(50, 'b') + "\n");
    EXPECT_EQ(read_file(log.generation(1)), std::string(50, 'a') + "\n");
}
