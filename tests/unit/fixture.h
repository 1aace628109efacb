// fixture.h: the built-in catalog (data/*.json compiled into the binary), loaded once for all tests.
#pragma once
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "catalog.h"
#include "data_json.h"

namespace qbt {

inline const qb::Catalog& catalog() {
    static const qb::Catalog c = [] {
        qb::Catalog cat;
        std::vector<qb::DataError> errs;
        const bool ok = qb::load_catalog(qb::embedded_data(), &cat, &errs);
        std::string all;
        for (const qb::DataError& e : errs) all += e.str() + "\n";
        // A broken built-in catalog makes every other test meaningless: stop here, loudly.
        if (!ok || !errs.empty()) {
            ADD_FAILURE() << "the embedded catalog does not load:\n" << all;
            std::abort();
        }
        return cat;
    }();
    return c;
}

inline const qb::ModelArch& model(const std::string& id) {
    const qb::ModelArch* m = catalog().model(id);
    if (!m) {
        ADD_FAILURE() << "no model " << id;
        std::abort();
    }
    return *m;
}

inline const qb::Hardware& hw(const std::string& id) {
    const qb::Hardware* h = catalog().hw(id);
    if (!h) {
        ADD_FAILURE() << "no hardware " << id;
        std::abort();
    }
    return *h;
}

inline const qb::ApiModel& api(const std::string& id) {
    const qb::ApiModel* a = catalog().api(id);
    if (!a) {
        ADD_FAILURE() << "no API model " << id;
        std::abort();
    }
    return *a;
}

// "field: reason; field: reason" for failure messages.
template <class E>
std::string describe(const std::vector<E>& errs) {
    std::string s;
    for (const E& e : errs) s += (s.empty() ? "" : "; ") + e.field + ": " + e.reason;
    return s;
}

// True when some error names `field` and (if given) its reason contains `needle`.
template <class E>
bool has_field(const std::vector<E>& errs, const std::string& field, const std::string& needle = "") {
    for (const E& e : errs)
        if (e.field == field && e.reason.find(needle) != std::string::npos) return true;
    return false;
}

}  // namespace qbt
