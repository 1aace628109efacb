#include "catalog.h"

namespace qb {

const char* kernel_name(Kernel k) {
    switch (k) {
        case Kernel::fp16: return "fp16";
        case Kernel::w8a16: return "w8a16";
        case Kernel::w4a16: return "w4a16";
        case Kernel::w8a8: return "w8a8";
        case Kernel::fp8: return "fp8";
        case Kernel::attn: return "attn";
        case Kernel::count: break;
    }
    return "?";
}

bool kernel_from_name(const std::string& name, Kernel* k) {
    for (int i = 0; i < (int)Kernel::count; ++i)
        if (name == kernel_name((Kernel)i)) { *k = (Kernel)i; return true; }
    return false;
}

template <class T>
static const T* find_id(const std::vector<T>& v, const std::string& id) {
    for (const T& x : v)
        if (x.id == id) return &x;
    return nullptr;
}

const ModelArch* Catalog::model(const std::string& id) const { return find_id(models, id); }
const ApiModel* Catalog::api(const std::string& id) const { return find_id(api_models, id); }
const Hardware* Catalog::hw(const std::string& id) const { return find_id(hardware, id); }

const AccSource* Catalog::acc_source(const std::string& key) const {
    for (const AccSource& s : acc_sources)
        if (s.key == key) return &s;
    return nullptr;
}

const EffClass* Catalog::eff_class(const std::string& arch) const {
    for (const EffClass& c : eff_classes)
        if (c.arch == arch) return &c;
    return nullptr;
}

Eff Catalog::eff(const Hardware& h, Kernel k) const {
    if (h.eff_override[(int)k] >= 0) return eff_overrides[h.eff_override[(int)k]].eff;
    return h.eff_class >= 0 ? eff_classes[h.eff_class].kernel[(int)k] : Eff{};
}

void index_catalog(Catalog& c) {
    static_assert((int)Kernel::count <= 8, "Hardware::eff_override holds 8 kernels");
    for (Hardware& h : c.hardware) {
        h.eff_class = -1;
        for (size_t i = 0; i < c.eff_classes.size(); ++i)
            if (c.eff_classes[i].arch == h.arch) h.eff_class = (int)i;
        for (int& o : h.eff_override) o = -1;
        for (size_t i = 0; i < c.eff_overrides.size(); ++i)   // the last override of a kernel wins
            if (c.eff_overrides[i].hardware == h.id) h.eff_override[(int)c.eff_overrides[i].kernel] = (int)i;
    }
    for (AccuracyRow& r : c.accuracy) {
        r.fp16_row = r.model_index = -1;
        for (size_t i = 0; i < c.models.size(); ++i)
            if (c.models[i].id == r.model) r.model_index = (int)i;
        for (size_t i = 0; i < c.accuracy.size(); ++i) {
            const AccuracyRow& x = c.accuracy[i];
            if (x.method == "fp16" && x.model == r.model && x.source == r.source && x.dataset == r.dataset &&
                x.context == r.context) {
                r.fp16_row = (int)i;
                break;
            }
        }
    }
}

double computed_params(const ModelArch& m) {
    const double h = m.hidden, hd = m.head_dim, q = (double)m.heads * hd, kv = (double)m.kv_heads * hd;
    double per_layer = h * q + 2 * h * kv + q * h     // q, k, v, o projections
                       + 3 * h * m.intermediate       // gate, up, down
                       + 2 * h;                        // two RMSNorm weight vectors
    if (m.qkv_bias) per_layer += q + 2 * kv;
    const double embed = (double)m.vocab * h * (m.tied_embeddings ? 1 : 2);
    return m.layers * per_layer + embed + h;           // + final norm
}

}  // namespace qb
