#include "publish.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>

#include "file_io.h"

namespace qb::native {

namespace fs = std::filesystem;

// Serializes everyone who rewrites index.json from the directory's contents: the server's
// upload threads and a `publish` running beside a server. Without it two rebuilds race and the
// one that read the directory first can write last, dropping a run from the index (seen in
// ServerTest.ConcurrentUploadsLoseNothing). flock on the directory itself: no lock file to
// serve, list or leave behind; released when the descriptor closes.
class DirLock {
public:
    explicit DirLock(const std::string& dir) : fd_(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)) {
        if (fd_ >= 0)
            while (::flock(fd_, LOCK_EX) != 0 && errno == EINTR) {}
    }
    ~DirLock() {
        if (fd_ >= 0) ::close(fd_);
    }
    DirLock(const DirLock&) = delete;
    DirLock& operator=(const DirLock&) = delete;

private:
    int fd_;
};

static void sort_index(std::vector<ResultsIndexEntry>& index) {
    std::sort(index.begin(), index.end(), [](const ResultsIndexEntry& a, const ResultsIndexEntry& b) {
        return a.timestamp != b.timestamp ? a.timestamp < b.timestamp : a.run_id < b.run_id;
    });
}

// Every run in `dir` (index.json excepted), validated, with the file name it must have.
static bool read_runs(const std::string& dir, std::vector<std::pair<std::string, Results>>* runs, std::string* error) {
    std::vector<std::string> names;
    if (!list_json_files(dir, &names, error)) return false;
    for (const std::string& n : names) {
        if (n == "index.json") continue;
        std::string t, err;
        Results r;
        std::vector<DataError> e;
        const std::string path = (fs::path(dir) / n).string();
        if (!read_text_file(path, &t, &err)) { *error = err; return false; }
        if (!parse_results(t, path, &r, &e)) {
            *error = "existing run " + e.front().str() + "; fix or remove it before publishing";
            return false;
        }
        if (r.run_id + ".json" != n) {
            *error = "existing file " + path + " holds run_id '" + r.run_id + "' (files are named <run_id>.json)";
            return false;
        }
        runs->push_back({n, std::move(r)});
    }
    return true;
}

bool rebuild_results_index(const std::string& dir, int* runs, std::string* err) {
    const DirLock lock(dir);
    std::vector<std::pair<std::string, Results>> all;
    if (!read_runs(dir, &all, err)) return false;
    std::vector<ResultsIndexEntry> index;
    for (const auto& [n, r] : all) index.push_back(index_entry(r, n));
    sort_index(index);
    *runs = (int)index.size();
    return write_file_atomic((fs::path(dir) / "index.json").string(), results_index_json(index), err);
}

PublishOutcome publish_results(const std::string& text, const std::string& name, const std::string& dir) {
    PublishOutcome out;
    std::vector<DataError> errs;
    Results run;
    if (!parse_results(text, name, &run, &errs)) {
        out.error = errs.front().str() + (errs.size() > 1 ? " (and " + std::to_string(errs.size() - 1) + " more)" : "");
        return out;
    }
    out.run_id = run.run_id;
    std::error_code ec;
    if (!fs::exists(dir, ec)) {
        if (!fs::create_directories(dir, ec)) { out.error = "cannot create " + dir + ": " + ec.message(); return out; }
    }
    const std::string fp = results_fingerprint(run);
    const DirLock lock(dir);
    std::vector<std::pair<std::string, Results>> existing;
    if (!read_runs(dir, &existing, &out.error)) return out;
    std::vector<ResultsIndexEntry> index;
    for (const auto& [n, r] : existing) {
        if (r.run_id == run.run_id) out.duplicate_of = n;
        else if (results_fingerprint(r) == fp && out.duplicate_of.empty()) out.duplicate_of = n;
        index.push_back(index_entry(r, n));
    }
    out.file = run.run_id + ".json";
    std::string err;
    if (!out.duplicate_of.empty()) {
        // Nothing new to add, but an index left stale (a failed write, a merge) is repaired here,
        // as the error message below promises.
        sort_index(index);
        const std::string want = results_index_json(index);
        std::string have, ignored;
        const std::string ipath = (fs::path(dir) / "index.json").string();
        if ((!read_text_file(ipath, &have, &ignored, kResultsMaxBytes) || have != want) && !write_file_atomic(ipath, want, &err)) {
            out.error = err;
            return out;
        }
        out.ok = true;
        out.runs_in_index = (int)index.size();
        return out;
    }
    if (!write_file_atomic((fs::path(dir) / out.file).string(), results_json(run), &err)) { out.error = err; return out; }
    index.push_back(index_entry(run, out.file));
    sort_index(index);
    if (!write_file_atomic((fs::path(dir) / "index.json").string(), results_index_json(index), &err)) {
        out.error = err + " (the run file was written; the next publish rebuilds the index)";
        return out;
    }
    out.ok = out.added = true;
    out.runs_in_index = (int)index.size();
    return out;
}

}  // namespace qb::native
