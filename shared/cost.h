// cost.h: what serving the selected traffic costs a month, self-hosted and through each API.
//
// Self-hosted: one replica (gpus devices) serves `batch` requests at a time, each taking
// TTFT + (output-1) x TPOT; it completes batch / request_time requests a second. The traffic
// needs max(input/day / prompt, output/day / output) requests a day; replicas = that / capacity,
// rounded up (at least one: a self-hosted model runs around the clock). Monthly = devices x $/h
// x 730 h. API: (input/day x $in + output/day x $out) / 1e6 x 365/12 days.
// Break-even: the tokens per day (same input:output mix) at which one replica costs what the
// API would; none when the API is cheaper even with the replica fully used.
#pragma once
#include <string>

#include "catalog.h"
#include "latency.h"
#include "selections.h"

namespace qb {

inline constexpr double kHoursPerMonth = 730;          // 8760 / 12
inline constexpr double kDaysPerMonth = 365.0 / 12;    // 30.4167
inline constexpr double kMaxDevices = 1e9;             // replicas x devices is capped here (see utilization)

struct Cost {
    double usd_per_hour = 0;        // per device
    bool price_overridden = false;
    std::string price_provider, price_date, price_source;
    double requests_per_day = 0;    // what the traffic needs
    double replica_requests_per_day = 0;
    double replica_tokens_per_day = 0;   // total (input + output) tokens/day one replica serves at this mix
    int replicas = 0, gpus = 0;
    double utilization = 0;         // needed / provisioned; above 1 only when the traffic needs more than kMaxDevices
    double usd_month = 0;           // `calculated_monthly_cost`
    double usd_per_m_tokens = 0;    // self-hosted $ per million (input + output) tokens at this volume
};

struct ApiComparison {
    std::string id, name, tier;
    double usd_month = 0;           // API bill for the same tokens
    double delta_usd = 0;           // self-hosted - API (negative: self-hosting saves)
    double delta_pct = 0;           // delta_usd / API bill x 100
    bool breaks_even = false;
    double break_even_tokens_per_day = 0;
    double usd_per_m_blended = 0;   // API $ per million tokens at this input:output mix
};

Cost self_hosted_cost(const Hardware& h, const Selections& s, const Latency& lat);
double api_usd_month(const ApiModel& a, const Selections& s);
ApiComparison compare_api(const ApiModel& a, const Selections& s, const Cost& self);

}  // namespace qb
