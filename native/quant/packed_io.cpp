// packed_io.cpp: the layer container of packed_io.h, on top of safetensors.h.
#include "packed_io.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "safetensors.h"

namespace qb::quant {

namespace {

bool to_int(const std::map<std::string, std::string>& m, const char* k, long long lo, long long hi, long long* out, std::string* err) {
    const auto it = m.find(k);
    if (it == m.end()) { *err = std::string("metadata '") + k + "' is missing"; return false; }
    char* end = nullptr;
    errno = 0;
    const long long v = std::strtoll(it->second.c_str(), &end, 10);
    if (it->second.empty() || *end != 0 || errno != 0 || v < lo || v > hi) {
        *err = std::string("metadata '") + k + "' must be an integer in " + std::to_string(lo) + ".." + std::to_string(hi);
        return false;
    }
    *out = v;
    return true;
}

template <class T>
bool take(const st::File& f, const char* name, st::DType dt, const std::vector<int64_t>& shape, std::vector<T>* out, std::string* err) {
    const st::TensorInfo* t = f.find(name);
    if (!t) { *err = std::string("tensor '") + name + "' is missing"; return false; }
    if (t->dtype != dt || t->shape != shape) {
        std::string want = "[";
        for (size_t i = 0; i < shape.size(); ++i) want += (i ? ", " : "") + std::to_string(shape[i]);
        *err = std::string("tensor '") + name + "' must be " + st::dtype_name(dt) + " " + want + "]";
        return false;
    }
    out->resize((size_t)(t->end - t->begin) / sizeof(T));
    if (!out->empty()) std::memcpy(out->data(), f.data(*t), t->end - t->begin);
    return true;
}

bool read_orthogonal(const st::File& f, const std::string& side, int n, Orthogonal* o, std::string* err) {
    o->n = n;
    o->pow2 = 1;
    while (n % (o->pow2 * 2) == 0) o->pow2 *= 2;
    o->m = n / o->pow2;
    if (!take(f, ("quip." + side + "_signs").c_str(), st::DType::F32, {n}, &o->signs, err)) return false;
    for (float s : o->signs)
        if (s != 1.0f && s != -1.0f) { *err = "quip." + side + "_signs must hold +-1"; return false; }
    if (o->m > 1 && !take(f, ("quip." + side + "_small").c_str(), st::DType::F32, {o->m, o->m}, &o->small, err)) return false;
    return true;
}

}  // namespace

bool write_packed(const std::string& path, const Result& r, const std::string& layer, const std::string& model, std::string* err) {
    const PackedWeights& p = r.packed;
    const QuantizedMatrix m = p.view();
    std::vector<st::OutTensor> t;
    t.push_back({"qweight", st::DType::U8, {p.rows, (int64_t)row_bytes(m)}, p.q.data(), p.q.size()});
    t.push_back({"scales", st::DType::F16, {p.rows, (int64_t)groups(m)}, p.scales.data(), p.scales.size() * 2});
    if (p.has_zero) t.push_back({"qzeros", st::DType::U8, {(int64_t)p.zeros.size()}, p.zeros.data(), p.zeros.size()});
    if (!r.perm.empty()) t.push_back({"perm", st::DType::I32, {p.cols}, r.perm.data(), r.perm.size() * 4});
    if (!r.input_scale.empty()) t.push_back({"input_scale", st::DType::F32, {p.cols}, r.input_scale.data(), r.input_scale.size() * 4});
    if (r.has_transform) {
        t.push_back({"quip.u_signs", st::DType::F32, {r.u.n}, r.u.signs.data(), r.u.signs.size() * 4});
        if (r.u.m > 1) t.push_back({"quip.u_small", st::DType::F32, {r.u.m, r.u.m}, r.u.small.data(), r.u.small.size() * 4});
        t.push_back({"quip.v_signs", st::DType::F32, {r.v.n}, r.v.signs.data(), r.v.signs.size() * 4});
        if (r.v.m > 1) t.push_back({"quip.v_small", st::DType::F32, {r.v.m, r.v.m}, r.v.small.data(), r.v.small.size() * 4});
    }
    std::map<std::string, std::string> meta = {
        {"format", "qbench.packed"}, {"version", "1"}, {"method", method_name(r.method)}, {"layer", layer}, {"model", model},
        {"rows", std::to_string(p.rows)}, {"cols", std::to_string(p.cols)}, {"bits", std::to_string(p.bits)},
        {"group", std::to_string(p.group)}, {"zero_point", p.has_zero ? "true" : "false"}, {"scale_type", "f16"},
        {"transform", r.has_transform ? "quip" : "none"}};
    if (r.has_transform) meta["seed"] = std::to_string(r.seed);
    return st::write(path, t, meta, err);
}

bool read_packed(const std::string& path, PackedLayer* out, std::string* err) {
    st::File f;
    if (!f.open(path, err)) return false;
    auto fail = [&](const std::string& why) {
        *err = path + ": " + why;
        return false;
    };
    const auto& md = f.metadata();
    out->meta = md;
    const auto fmt = md.find("format");
    if (fmt == md.end() || fmt->second != "qbench.packed") return fail("not a qbench.packed file (metadata 'format')");
    const auto ver = md.find("version");
    if (ver == md.end() || ver->second != "1") return fail("unsupported qbench.packed version (want 1)");
    long long rows, cols, bits, group;
    std::string e;
    if (!to_int(md, "rows", 1, 1 << 30, &rows, &e) || !to_int(md, "cols", 1, 1 << 30, &cols, &e) || !to_int(md, "bits", 2, 8, &bits, &e) ||
        !to_int(md, "group", 1, 1 << 30, &group, &e))
        return fail(e);
    const auto z = md.find("zero_point");
    if (z == md.end() || (z->second != "true" && z->second != "false")) return fail("metadata 'zero_point' must be true or false");
    const auto sc = md.find("scale_type");
    if (sc == md.end() || sc->second != "f16") return fail("metadata 'scale_type' must be f16");
    Result& r = out->r;
    if (const auto it = md.find("method"); it == md.end() || !parse_method(it->second, &r.method)) return fail("metadata 'method' is not rtn, gptq, awq or quip");
    out->method = method_name(r.method);
    if (const auto it = md.find("layer"); it != md.end()) out->layer = it->second;
    if (const auto it = md.find("model"); it != md.end()) out->model = it->second;
    QuantSpec s;
    s.bits = (int)bits;
    s.group = group == cols ? 0 : (int)group;
    s.zero_point = z->second == "true";
    r.spec = s;
    if (const std::string why = check_spec(s, (int)rows, (int)cols); !why.empty()) return fail("bad format: " + why);
    r.packed.allocate((int)rows, (int)cols, s);
    const QuantizedMatrix m = r.packed.view();
    if (!take(f, "qweight", st::DType::U8, {rows, (int64_t)row_bytes(m)}, &r.packed.q, &e)) return fail(e);
    if (!take(f, "scales", st::DType::F16, {rows, (int64_t)groups(m)}, &r.packed.scales, &e)) return fail(e);
    if (s.zero_point && !take(f, "qzeros", st::DType::U8, {(int64_t)zero_bytes(m)}, &r.packed.zeros, &e)) return fail(e);
    if (f.find("perm")) {
        if (!take(f, "perm", st::DType::I32, {cols}, &r.perm, &e)) return fail(e);
        std::vector<uint8_t> seen((size_t)cols, 0);
        for (int32_t p : r.perm) {
            if (p < 0 || p >= cols || seen[(size_t)p]) return fail("perm is not a permutation of 0..cols-1");
            seen[(size_t)p] = 1;
        }
    }
    if (f.find("input_scale") && !take(f, "input_scale", st::DType::F32, {cols}, &r.input_scale, &e)) return fail(e);
    const auto tr = md.find("transform");
    if (tr != md.end() && tr->second == "quip") {
        r.has_transform = true;
        if (!read_orthogonal(f, "u", (int)rows, &r.u, &e) || !read_orthogonal(f, "v", (int)cols, &r.v, &e)) return fail(e);
        if (const auto it = md.find("seed"); it != md.end()) {
            char* end = nullptr;
            errno = 0;
            const unsigned long long v = std::strtoull(it->second.c_str(), &end, 10);
            if (it->second.empty() || *end != 0 || errno != 0) return fail("metadata 'seed' must be an unsigned integer");
            r.seed = (uint64_t)v;
        }
    } else if (tr != md.end() && tr->second != "none") {
        return fail("metadata 'transform' must be none or quip");
    }
    return true;
}

}  // namespace qb::quant
