#include "file_io.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

namespace qb::native {

namespace fs = std::filesystem;

bool read_text_file(const std::string& path, std::string* out, std::string* err, size_t max_bytes) {
    std::error_code ec;
    if (!fs::is_regular_file(path, ec)) { *err = "cannot open " + path + " (not a file)"; return false; }
    const auto size = fs::file_size(path, ec);
    if (ec) { *err = "cannot stat " + path; return false; }
    if (size > max_bytes) { *err = path + " is larger than " + std::to_string(max_bytes >> 20) + " MB"; return false; }
    std::ifstream f(path, std::ios::binary);
    if (!f) { *err = "cannot open " + path; return false; }
    std::ostringstream ss;
    ss << f.rdbuf();
    if (f.bad()) { *err = "cannot read " + path; return false; }
    *out = ss.str();
    return true;
}

bool write_file_atomic(const std::string& path, const std::string& data, std::string* err) {
    const fs::path target(path);
    const fs::path dir = target.has_parent_path() ? target.parent_path() : fs::path(".");
    std::random_device rd;
    const std::string tmp = (dir / ("." + target.filename().string() + "." + std::to_string(getpid()) + "." +
                                    std::to_string(rd() & 0xffffff) + ".tmp")).string();
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) { *err = "cannot create " + tmp + ": " + std::strerror(errno); return false; }
    auto fail = [&](const std::string& what) {
        *err = what + ": " + std::strerror(errno);
        ::close(fd);
        ::unlink(tmp.c_str());
        return false;
    };
    size_t off = 0;
    while (off < data.size()) {
        const ssize_t w = ::write(fd, data.data() + off, data.size() - off);
        if (w < 0) {
            if (errno == EINTR) continue;
            return fail("cannot write " + tmp);
        }
        off += (size_t)w;
    }
    if (::fsync(fd) != 0) return fail("cannot fsync " + tmp);
    if (::close(fd) != 0) {
        *err = "cannot close " + tmp + ": " + std::strerror(errno);
        ::unlink(tmp.c_str());
        return false;
    }
    if (::rename(tmp.c_str(), path.c_str()) != 0) {
        *err = "cannot rename " + tmp + " to " + path + ": " + std::strerror(errno);
        ::unlink(tmp.c_str());
        return false;
    }
    // The rename is durable once the directory entry is.
    const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        ::fsync(dfd);
        ::close(dfd);
    }
    return true;
}

bool list_json_files(const std::string& dir, std::vector<std::string>* names, std::string* err) {
    std::error_code ec;
    names->clear();
    if (!fs::is_directory(dir, ec)) { *err = dir + " is not a directory"; return false; }
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
        const fs::path& p = it->path();
        const std::string n = p.filename().string();
        if (n.empty() || n[0] == '.' || p.extension() != ".json") continue;
        if (!it->is_regular_file(ec)) continue;
        names->push_back(n);
    }
    if (ec) { *err = "cannot list " + dir + ": " + ec.message(); return false; }
    std::sort(names->begin(), names->end());
    return true;
}

}  // namespace qb::native
