// safetensors.h: a strict reader and an atomic writer of the safetensors format
// (huggingface/safetensors: 8-byte little-endian header length N, N bytes of JSON header,
// then the data section; each tensor {"dtype", "shape", "data_offsets": [begin, end]} with
// offsets relative to the data section; an optional "__metadata__" map of strings).
//
// The reader memory-maps the file and validates everything before handing out a pointer:
//   * the file holds the 8-byte length and the header it announces (header <= 100 MB, the
//     reference implementation's limit), and the header is a JSON object (parsed without
//     exceptions);
//   * every entry has a known dtype string, a shape of non-negative dims (each <= 2^40, rank
//     <= 8, element count without overflow) and two offsets begin <= end;
//   * shape product x dtype size == end - begin;
//   * the tensors tile the data section exactly, as the format requires: sorted by offset,
//     they start at 0, never overlap, leave no hole, and the last one ends at the end of the
//     file (no trailing bytes: a file cannot be two formats at once);
//   * __metadata__, when present, maps strings to strings.
// Every error message says which tensor and which rule, e.g. "tensor 'a': shape [2, 3] of F32
// needs 24 bytes but data_offsets give 20".
#pragma once
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace qb::st {

enum class DType : uint8_t { BOOL, U8, I8, I16, U16, F16, BF16, I32, U32, F32, F64, I64, U64, F8_E4M3, F8_E5M2 };
const char* dtype_name(DType d);
int dtype_size(DType d);
bool parse_dtype(const std::string& s, DType* out);

struct TensorInfo {
    std::string name;
    DType dtype = DType::F32;
    std::vector<int64_t> shape;
    uint64_t begin = 0, end = 0;       // within the data section
    int64_t numel() const;
};

struct Limits {
    uint64_t max_header = 100000000;   // bytes (safetensors' MAX_HEADER_SIZE)
    int64_t max_dim = int64_t(1) << 40;
    int max_rank = 8;
};

class File {
public:
    File() = default;
    ~File();
    File(const File&) = delete;
    File& operator=(const File&) = delete;

    // Maps and validates a file. On failure *err says why and the object stays empty.
    bool open(const std::string& path, std::string* err, const Limits& lim = {});
    // Validates bytes already in memory (not owned; they must outlive the object).
    bool parse(const uint8_t* bytes, size_t size, std::string* err, const Limits& lim = {});

    const std::vector<TensorInfo>& tensors() const { return tensors_; }
    const TensorInfo* find(const std::string& name) const;
    const std::map<std::string, std::string>& metadata() const { return meta_; }
    const uint8_t* data(const TensorInfo& t) const { return data_ + t.begin; }
    const std::string& path() const { return path_; }

    // Elements [first, first + count) of an F16 / BF16 / F32 tensor (flattened) as floats.
    bool read_floats(const TensorInfo& t, int64_t first, int64_t count, float* out, std::string* err) const;

private:
    void close();
    bool parse_impl(const uint8_t* bytes, size_t size, std::string* err, const Limits& lim);
    std::string path_;
    void* map_ = nullptr;
    size_t map_size_ = 0;
    const uint8_t* data_ = nullptr;    // start of the data section
    std::vector<TensorInfo> tensors_;  // in header order
    std::map<std::string, std::string> meta_;
};

// One tensor to write: `bytes` must equal the shape product x dtype size.
struct OutTensor {
    std::string name;
    DType dtype = DType::U8;
    std::vector<int64_t> shape;
    const void* data = nullptr;
    size_t bytes = 0;
};

// Writes a safetensors file (tensors in the given order, header padded with spaces to a
// multiple of 8) atomically: a temporary file in the same folder, fsync, rename.
bool write(const std::string& path, const std::vector<OutTensor>& tensors, const std::map<std::string, std::string>& meta,
           std::string* err);

// Writes bytes to path atomically (temporary file in the same folder, fsync, rename, fsync of
// the folder). Used for every file qbench-native quantize writes.
bool write_atomic(const std::string& path, const void* data, size_t size, std::string* err);

}  // namespace qb::st
