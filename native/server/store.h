// store.h: the server's two writers, both safe under concurrent requests.
//   store_new_file  one file per uploaded run, written atomically and never overwritten
//   EventLog        append-only JSON lines, rotated by size into N numbered generations
// Every write into a directory happens under that directory's mutex (dir_lock), shared by all
// servers in the process, so concurrent uploads lose nothing and readers never see half a file.
#pragma once
#include <cstdint>
#include <filesystem>
#include <functional>
#include <mutex>
#include <string>

namespace qb::server {

// The mutex of a directory, keyed by its canonical path; lives as long as the process.
std::mutex& dir_lock(const std::filesystem::path& dir);

struct StoreOutcome {
    enum Kind { stored, identical, conflict, failed } kind = failed;
    std::filesystem::path path;   // dir/name
    std::string error;            // failed: what went wrong
};

// Creates dir (and parents) if needed, then writes `content` to dir/name through a temp file
// in the same directory (O_EXCL, write, fsync, rename, fsync of the directory): a reader sees
// the old state or the whole new file, never a part. If dir/name exists it is left untouched
// and the answer is `identical` when its bytes equal `content` or same(existing bytes) says
// so, else `conflict`.
StoreOutcome store_new_file(const std::filesystem::path& dir, const std::string& name, const std::string& content,
                            const std::function<bool(const std::string& existing)>& same = {});

// dir/events.log plus events.log.1 (newest) .. events.log.<keep> (oldest).
class EventLog {
public:
    EventLog(std::filesystem::path dir, std::uint64_t max_bytes, int keep);

    // Appends `lines` (whole lines, each ending in '\n') with one write. When the file is not
    // empty and would grow past max_bytes, it is rotated first, so a generation exceeds
    // max_bytes only when one request alone is larger.
    bool append(const std::string& lines, std::string* err);

    std::filesystem::path path() const { return dir_ / "events.log"; }
    std::filesystem::path generation(int i) const { return dir_ / ("events.log." + std::to_string(i)); }

private:
    bool rotate(std::string* err);
    std::filesystem::path dir_;
    std::uint64_t max_bytes_;
    int keep_;
};

// Whole file into *out (false if it cannot be opened or read, or is over max_bytes).
bool read_whole_file(const std::filesystem::path& p, std::string* out, std::uint64_t max_bytes = std::uint64_t(1) << 30);

}  // namespace qb::server
