// safetensors.cpp: see safetensors.h for the rules the reader enforces.
#include "safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>

#include "qformat.h"

namespace qb::st {

namespace {

struct DTypeRow {
    DType d;
    const char* name;
    int size;
};
constexpr DTypeRow kDTypes[] = {
    {DType::BOOL, "BOOL", 1}, {DType::U8, "U8", 1},   {DType::I8, "I8", 1},   {DType::I16, "I16", 2},
    {DType::U16, "U16", 2},   {DType::F16, "F16", 2}, {DType::BF16, "BF16", 2}, {DType::I32, "I32", 4},
    {DType::U32, "U32", 4},   {DType::F32, "F32", 4}, {DType::F64, "F64", 8}, {DType::I64, "I64", 8},
    {DType::U64, "U64", 8},   {DType::F8_E4M3, "F8_E4M3", 1}, {DType::F8_E5M2, "F8_E5M2", 1}};

std::string shape_str(const std::vector<int64_t>& s) {
    std::string r = "[";
    for (size_t i = 0; i < s.size(); ++i) r += (i ? ", " : "") + std::to_string(s[i]);
    return r + "]";
}

std::string quoted(const std::string& s) {
    std::string r = "'";
    for (char c : s) {
        if ((unsigned char)c < 0x20 || c == 0x7f) r += '?';
        else r += c;
        if (r.size() > 200) { r += "..."; break; }
    }
    return r + "'";
}

bool as_u64(const nlohmann::json& j, uint64_t* out) {
    if (j.is_number_unsigned()) { *out = j.get<uint64_t>(); return true; }
    if (j.is_number_integer()) {
        const int64_t v = j.get<int64_t>();
        if (v < 0) return false;
        *out = (uint64_t)v;
        return true;
    }
    return false;
}

std::string errno_str() { return std::strerror(errno); }

}  // namespace

const char* dtype_name(DType d) {
    for (const DTypeRow& r : kDTypes)
        if (r.d == d) return r.name;
    return "?";
}

int dtype_size(DType d) {
    for (const DTypeRow& r : kDTypes)
        if (r.d == d) return r.size;
    return 0;
}

bool parse_dtype(const std::string& s, DType* out) {
    for (const DTypeRow& r : kDTypes)
        if (s == r.name) { *out = r.d; return true; }
    return false;
}

int64_t TensorInfo::numel() const {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return n;
}

File::~File() { close(); }

void File::close() {
    if (map_) munmap(map_, map_size_);
    map_ = nullptr;
    map_size_ = 0;
    data_ = nullptr;
    tensors_.clear();
    meta_.clear();
}

bool File::open(const std::string& path, std::string* err, const Limits& lim) {
    close();
    path_ = path;
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) { *err = path + ": cannot open (" + errno_str() + ")"; return false; }
    struct stat st {};
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        ::close(fd);
        *err = path + ": not a regular file";
        return false;
    }
    const size_t size = (size_t)st.st_size;
    if (size < 8) {
        ::close(fd);
        *err = path + ": truncated: " + std::to_string(size) + " bytes, but a safetensors file starts with an 8-byte header length";
        return false;
    }
    void* m = mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    ::close(fd);
    if (m == MAP_FAILED) { *err = path + ": mmap failed (" + errno_str() + ")"; return false; }
    std::string e;
    if (!parse_impl(static_cast<const uint8_t*>(m), size, &e, lim)) {
        munmap(m, size);
        close();
        *err = path + ": " + e;
        return false;
    }
    map_ = m;
    map_size_ = size;
    return true;
}

bool File::parse(const uint8_t* bytes, size_t size, std::string* err, const Limits& lim) {
    close();
    if (parse_impl(bytes, size, err, lim)) return true;
    close();
    return false;
}

bool File::parse_impl(const uint8_t* bytes, size_t size, std::string* err, const Limits& lim) {
    if (size < 8) {
        *err = "truncated: " + std::to_string(size) + " bytes, but a safetensors file starts with an 8-byte header length";
        return false;
    }
    uint64_t n = 0;
    for (int i = 7; i >= 0; --i) n = (n << 8) | bytes[i];
    if (n > size - 8) {
        *err = "header length " + std::to_string(n) + " runs past the end of the file (" + std::to_string(size) + " bytes)";
        return false;
    }
    if (n > lim.max_header) {
        *err = "header length " + std::to_string(n) + " is over the " + std::to_string(lim.max_header) + "-byte limit";
        return false;
    }
    const char* h = reinterpret_cast<const char*>(bytes + 8);
    const nlohmann::json j = nlohmann::json::parse(h, h + n, nullptr, false);
    if (j.is_discarded()) { *err = "the header is not valid JSON"; return false; }
    if (!j.is_object()) { *err = "the header is not a JSON object"; return false; }
    const uint64_t data_size = size - 8 - n;
    for (auto it = j.begin(); it != j.end(); ++it) {
        const std::string& name = it.key();
        const nlohmann::json& v = it.value();
        if (name == "__metadata__") {
            if (!v.is_object()) { *err = "__metadata__ must be an object of strings"; return false; }
            for (auto m = v.begin(); m != v.end(); ++m) {
                if (!m.value().is_string()) { *err = "__metadata__ value of " + quoted(m.key()) + " is not a string"; return false; }
                meta_[m.key()] = m.value().get<std::string>();
            }
            continue;
        }
        const std::string tn = "tensor " + quoted(name);
        if (!v.is_object()) { *err = tn + ": entry is not an object"; return false; }
        TensorInfo t;
        t.name = name;
        const auto dt = v.find("dtype");
        if (dt == v.end() || !dt->is_string()) { *err = tn + ": no dtype string"; return false; }
        if (!parse_dtype(dt->get<std::string>(), &t.dtype)) { *err = tn + ": unknown dtype " + quoted(dt->get<std::string>()); return false; }
        const auto sh = v.find("shape");
        if (sh == v.end() || !sh->is_array()) { *err = tn + ": no shape array"; return false; }
        if ((int)sh->size() > lim.max_rank) { *err = tn + ": rank " + std::to_string(sh->size()) + " is over " + std::to_string(lim.max_rank); return false; }
        // Element count without overflow: every dim <= 2^40 and the running product checked.
        uint64_t numel = 1;
        bool empty = false;
        for (const nlohmann::json& d : *sh) {
            uint64_t dv;
            if (!as_u64(d, &dv)) { *err = tn + ": shape dims must be non-negative integers"; return false; }
            if (dv > (uint64_t)lim.max_dim) { *err = tn + ": dim " + std::to_string(dv) + " is absurd (limit 2^40)"; return false; }
            t.shape.push_back((int64_t)dv);
            if (dv == 0) empty = true;
            else if (!empty) {
                if (numel > (UINT64_MAX / 16) / dv) { *err = tn + ": shape " + shape_str(t.shape) + " overflows"; return false; }
                numel *= dv;
            }
        }
        if (empty) numel = 0;
        const auto off = v.find("data_offsets");
        uint64_t b, e;
        if (off == v.end() || !off->is_array() || off->size() != 2 || !as_u64((*off)[0], &b) || !as_u64((*off)[1], &e)) {
            *err = tn + ": data_offsets must be [begin, end], two non-negative integers";
            return false;
        }
        if (b > e) { *err = tn + ": data_offsets begin " + std::to_string(b) + " > end " + std::to_string(e); return false; }
        if (e > data_size) {
            *err = tn + ": data_offsets end " + std::to_string(e) + " is past the data section (" + std::to_string(data_size) +
                   " bytes: the file is truncated or the header lies)";
            return false;
        }
        const uint64_t need = numel * (uint64_t)dtype_size(t.dtype);
        if (need != e - b) {
            *err = tn + ": shape " + shape_str(t.shape) + " of " + dtype_name(t.dtype) + " needs " + std::to_string(need) +
                   " bytes but data_offsets give " + std::to_string(e - b);
            return false;
        }
        t.begin = b;
        t.end = e;
        tensors_.push_back(std::move(t));
    }
    // The tensors must tile the data section.
    std::vector<const TensorInfo*> order;
    for (const TensorInfo& t : tensors_) order.push_back(&t);
    std::stable_sort(order.begin(), order.end(), [](const TensorInfo* a, const TensorInfo* b) {
        return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
    });
    uint64_t at = 0;
    const TensorInfo* prev = nullptr;
    for (const TensorInfo* t : order) {
        if (t->begin < at) {
            *err = "tensor " + quoted(t->name) + " overlaps tensor " + quoted(prev ? prev->name : "") + " (bytes " +
                   std::to_string(t->begin) + ".." + std::to_string(at) + ")";
            tensors_.clear();
            return false;
        }
        if (t->begin > at) {
            *err = "hole in the data section: bytes " + std::to_string(at) + ".." + std::to_string(t->begin) + " belong to no tensor";
            tensors_.clear();
            return false;
        }
        at = t->end;
        prev = t;
    }
    if (at != data_size) {
        *err = std::to_string(data_size - at) + " bytes after the last tensor belong to no tensor";
        tensors_.clear();
        return false;
    }
    data_ = bytes + 8 + n;
    return true;
}

const TensorInfo* File::find(const std::string& name) const {
    for (const TensorInfo& t : tensors_)
        if (t.name == name) return &t;
    return nullptr;
}

bool File::read_floats(const TensorInfo& t, int64_t first, int64_t count, float* out, std::string* err) const {
    if (first < 0 || count < 0 || first + count > t.numel()) { *err = "tensor " + quoted(t.name) + ": read out of range"; return false; }
    const uint8_t* p = data(t);
    switch (t.dtype) {
        case DType::F32:
            std::memcpy(out, p + (size_t)first * 4, (size_t)count * 4);
            return true;
        case DType::F16:
            for (int64_t i = 0; i < count; ++i) {
                uint16_t h;
                std::memcpy(&h, p + (size_t)(first + i) * 2, 2);
                out[i] = fp16_to_f32(h);
            }
            return true;
        case DType::BF16:
            for (int64_t i = 0; i < count; ++i) {
                uint16_t h;
                std::memcpy(&h, p + (size_t)(first + i) * 2, 2);
                out[i] = f32_from_bits((uint32_t)h << 16);
            }
            return true;
        default:
            *err = "tensor " + quoted(t.name) + " has dtype " + dtype_name(t.dtype) + "; weights and activations must be F16, BF16 or F32";
            return false;
    }
}

bool write_atomic(const std::string& path, const void* data, size_t size, std::string* err) {
    const std::string tmp = path + ".tmp." + std::to_string((long)getpid());
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) { *err = tmp + ": cannot create (" + errno_str() + ")"; return false; }
    const uint8_t* p = static_cast<const uint8_t*>(data);
    size_t left = size;
    while (left > 0) {
        const ssize_t w = ::write(fd, p, left);
        if (w < 0) {
            if (errno == EINTR) continue;
            *err = tmp + ": write failed (" + errno_str() + ")";
            ::close(fd);
            ::unlink(tmp.c_str());
            return false;
        }
        p += w;
        left -= (size_t)w;
    }
    if (::fsync(fd) != 0) {
        *err = tmp + ": fsync failed (" + errno_str() + ")";
        ::close(fd);
        ::unlink(tmp.c_str());
        return false;
    }
    ::close(fd);
    if (::rename(tmp.c_str(), path.c_str()) != 0) {
        *err = path + ": rename failed (" + errno_str() + ")";
        ::unlink(tmp.c_str());
        return false;
    }
    const size_t slash = path.find_last_of('/');
    const std::string dir = slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
    const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        ::fsync(dfd);   // best effort: the rename itself is already atomic
        ::close(dfd);
    }
    return true;
}

bool write(const std::string& path, const std::vector<OutTensor>& tensors, const std::map<std::string, std::string>& meta,
           std::string* err) {
    nlohmann::ordered_json h = nlohmann::ordered_json::object();
    if (!meta.empty()) {
        nlohmann::ordered_json m = nlohmann::ordered_json::object();
        for (const auto& [k, v] : meta) m[k] = v;
        h["__metadata__"] = m;
    }
    uint64_t at = 0;
    for (const OutTensor& t : tensors) {
        uint64_t numel = 1;
        for (int64_t d : t.shape) numel *= (uint64_t)d;
        if (numel * (uint64_t)dtype_size(t.dtype) != t.bytes) { *err = "tensor " + quoted(t.name) + ": shape and byte count disagree"; return false; }
        if (t.name == "__metadata__" || h.contains(t.name)) { *err = "tensor " + quoted(t.name) + ": duplicate or reserved name"; return false; }
        h[t.name] = {{"dtype", dtype_name(t.dtype)}, {"shape", t.shape}, {"data_offsets", {at, at + t.bytes}}};
        at += t.bytes;
    }
    std::string hs = h.dump();
    while (hs.size() % 8) hs += ' ';
    std::vector<uint8_t> buf(8 + hs.size() + at);
    const uint64_t n = hs.size();
    for (int i = 0; i < 8; ++i) buf[(size_t)i] = (uint8_t)(n >> (8 * i));
    std::memcpy(buf.data() + 8, hs.data(), hs.size());
    size_t o = 8 + hs.size();
    for (const OutTensor& t : tensors) {
        if (t.bytes) std::memcpy(buf.data() + o, t.data, t.bytes);
        o += t.bytes;
    }
    return write_atomic(path, buf.data(), buf.size(), err);
}

}  // namespace qb::st
