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
    for (const EffOverride& o : eff_overrides)
        if (o.kernel == k && o.hardware == h.id) return o.eff;
    const EffClass* c = eff_class(h.arch);
    return c ? c->kernel[(int)k] : Eff{};
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
