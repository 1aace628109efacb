// store.cpp: atomic result files and the rotated events log (see store.h).
#include "store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <system_error>

namespace fs = std::filesystem;

namespace qb::server {

namespace {

std::string errno_text(const char* what, const fs::path& p) { return std::string(what) + " " + p.string() + ": " + std::strerror(errno); }

bool write_all(int fd, const char* data, size_t n) {
    while (n > 0) {
        const ssize_t w = ::write(fd, data, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return false;
        }
        data += w;
        n -= static_cast<size_t>(w);
    }
    return true;
}

// A rename is durable once the directory entry is on disk.
void fsync_dir(const fs::path& dir) {
    const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return;
    ::fsync(fd);
    ::close(fd);
}

}  // namespace

std::mutex& dir_lock(const fs::path& dir) {
    static std::mutex registry_mutex;
    static std::map<std::string, std::unique_ptr<std::mutex>> registry;
    std::error_code ec;
    fs::path key = fs::weakly_canonical(fs::absolute(dir, ec), ec);
    if (ec) key = dir.lexically_normal();
    std::lock_guard<std::mutex> g(registry_mutex);
    std::unique_ptr<std::mutex>& m = registry[key.string()];
    if (!m) m = std::make_unique<std::mutex>();
    return *m;
}

bool read_whole_file(const fs::path& p, std::string* out, std::uint64_t max_bytes) {
    std::ifstream f(p, std::ios::binary);
    if (!f) return false;
    std::error_code ec;
    const std::uintmax_t size = fs::file_size(p, ec);
    if (ec || size > max_bytes) return false;
    std::ostringstream ss;
    ss << f.rdbuf();
    if (f.bad()) return false;
    *out = ss.str();
    return out->size() <= max_bytes;
}

StoreOutcome store_new_file(const fs::path& dir, const std::string& name, const std::string& content,
                            const std::function<bool(const std::string&)>& same) {
    StoreOutcome r;
    r.path = dir / name;
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) { r.error = "cannot create " + dir.string() + ": " + ec.message(); return r; }

    std::lock_guard<std::mutex> g(dir_lock(dir));
    if (fs::exists(fs::symlink_status(r.path, ec))) {
        std::string existing;
        if (!read_whole_file(r.path, &existing)) { r.kind = StoreOutcome::conflict; return r; }
        r.kind = existing == content || (same && same(existing)) ? StoreOutcome::identical : StoreOutcome::conflict;
        return r;
    }

    static std::atomic<unsigned> counter{0};
    const fs::path tmp = dir / ("." + name + ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) { r.error = errno_text("cannot create", tmp); return r; }
    const bool ok = write_all(fd, content.data(), content.size()) && ::fsync(fd) == 0;
    const std::string werr = ok ? "" : errno_text("cannot write", tmp);
    if (::close(fd) != 0 || !ok) {
        r.error = werr.empty() ? errno_text("cannot close", tmp) : werr;
        ::unlink(tmp.c_str());
        return r;
    }
    if (::rename(tmp.c_str(), r.path.c_str()) != 0) {
        r.error = errno_text("cannot rename into", r.path);
        ::unlink(tmp.c_str());
        return r;
    }
    fsync_dir(dir);
    r.kind = StoreOutcome::stored;
    return r;
}

EventLog::EventLog(fs::path dir, std::uint64_t max_bytes, int keep) : dir_(std::move(dir)), max_bytes_(max_bytes), keep_(keep < 1 ? 1 : keep) {}

bool EventLog::rotate(std::string* err) {
    std::error_code ec;
    fs::remove(generation(keep_), ec);
    for (int i = keep_ - 1; i >= 1; --i) {
        if (!fs::exists(generation(i), ec)) continue;
        fs::rename(generation(i), generation(i + 1), ec);
        if (ec) { *err = "cannot rotate " + generation(i).string() + ": " + ec.message(); return false; }
    }
    fs::rename(path(), generation(1), ec);
    if (ec) { *err = "cannot rotate " + path().string() + ": " + ec.message(); return false; }
    return true;
}

bool EventLog::append(const std::string& lines, std::string* err) {
    std::error_code ec;
    fs::create_directories(dir_, ec);
    if (ec) { *err = "cannot create " + dir_.string() + ": " + ec.message(); return false; }
    std::lock_guard<std::mutex> g(dir_lock(dir_));
    const std::uintmax_t size = fs::exists(path(), ec) ? fs::file_size(path(), ec) : 0;
    if (!ec && size > 0 && size + lines.size() > max_bytes_ && !rotate(err)) return false;
    const int fd = ::open(path().c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) { *err = errno_text("cannot open", path()); return false; }
    const bool ok = write_all(fd, lines.data(), lines.size());
    if (!ok) *err = errno_text("cannot append to", path());
    ::close(fd);
    return ok;
}

}  // namespace qb::server
