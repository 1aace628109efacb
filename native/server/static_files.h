// static_files.h: turning a request path into a file under a served root, safely, and the
// headers a served file gets. No httplib here: pure path and string logic, tested on its own.
//
// Invariant: resolve_under() only ever returns a path whose canonical form lies inside the
// canonical root (symlinks resolved), or an error. Everything a client sends is suspect:
// the path httplib hands us has been percent-decoded once, so "%2e%2e" arrives as "..".
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

namespace qb::server {

constexpr size_t kMaxUrlPath = 1024;   // longest request path served (bytes, decoded)
constexpr size_t kMaxSegment = 255;    // longest single path segment (NAME_MAX)

// Checks a decoded URL path (starting with '/') for anything that could name a file outside
// a root or confuse the file system: NUL and control bytes, backslashes, '%' left after
// decoding (double encoding), "." and ".." segments, empty segments ("//", which would make
// the rest absolute), over-long paths or segments. One trailing '/' is allowed.
// Returns "" when the path is acceptable, else a short reason (answer 400).
std::string check_url_path(std::string_view path);

struct Resolved {
    int status = 0;                    // 200: `file` is a regular file; 301: a directory
                                       // (caller decides); 400 / 404: rejected
    std::string error;                 // short reason when status >= 400
    std::filesystem::path file;        // canonical path (status 200 or 301)
};

// Resolves `rel` (a relative path already accepted by check_url_path, no leading '/') under
// `root`. Dot-files and dot-directories (".git", ".tmp-...") are never served (404). The
// result is canonicalised with weakly_canonical and must lie inside canonical(root), so a
// symlink that points outside the root is answered 404 as if absent.
Resolved resolve_under(const std::filesystem::path& root, std::string_view rel);

// Content-Type for a file name, by extension (lower-cased); application/octet-stream if unknown.
std::string_view content_type_for(std::string_view filename);

// Cache-Control for a served file: pages and data revalidate every time (they change when
// the site is rebuilt or a result is uploaded; the ETag makes that cheap), other assets may
// be reused for five minutes (the site's file names carry no content hash).
std::string_view cache_control_for(std::string_view filename);

// Weak validator from size and modification time: W/"<size>-<mtime ns, hex>".
std::string etag_for(std::uintmax_t size, std::filesystem::file_time_type mtime);

}  // namespace qb::server
