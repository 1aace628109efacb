// file_io.h: the few file operations the bench, publish and calibrate commands need, with the
// atomicity they promise: a file is replaced by writing a temporary file in the same
// directory, fsync'ing it, renaming it over the target (atomic on POSIX file systems) and
// fsync'ing the directory, so a reader sees the old file or the new one, never a torn one,
// and a crash leaves at most a stray "*.tmp" (ignored by every reader).
#pragma once
#include <string>
#include <vector>

namespace qb::native {

bool read_text_file(const std::string& path, std::string* out, std::string* err, size_t max_bytes = 64u << 20);
bool write_file_atomic(const std::string& path, const std::string& data, std::string* err);
// Regular files named *.json in dir (not recursive), sorted by name.
bool list_json_files(const std::string& dir, std::vector<std::string>* names, std::string* err);

}  // namespace qb::native
