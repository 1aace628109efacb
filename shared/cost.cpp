#include "cost.h"

#include <cmath>

namespace qb {

// Fractions of input and output tokens in the traffic (the request shape when there is none).
static void mix(const Selections& s, double* f_in, double* f_out) {
    double tin = s.input_tokens_per_day, tout = s.output_tokens_per_day;
    if (tin + tout <= 0) { tin = s.prompt_tokens; tout = s.output_tokens; }
    *f_in = tin / (tin + tout);
    *f_out = tout / (tin + tout);
}

Cost self_hosted_cost(const Hardware& h, const Selections& s, const Latency& lat) {
    Cost c;
    c.price_overridden = s.usd_per_hour > 0;
    c.usd_per_hour = c.price_overridden ? s.usd_per_hour : h.price.usd_per_hour;
    if (!c.price_overridden) {
        c.price_provider = h.price.provider;
        c.price_date = h.price.date;
        c.price_source = h.price.source;
    }
    const double P = s.prompt_tokens, O = s.output_tokens;
    c.requests_per_day = std::fmax(s.input_tokens_per_day / P, s.output_tokens_per_day / O);
    c.replica_requests_per_day = s.batch / (lat.request_ms / 1000) * 86400;
    double f_in, f_out;
    mix(s, &f_in, &f_out);
    c.replica_tokens_per_day = c.replica_requests_per_day / std::fmax(f_in / P, f_out / O);
    // At least one replica (a self-hosted model runs around the clock), and never more devices
    // than an int holds: 1e13 tokens/day of long prompts on a laptop needs ~1e10 replicas, which
    // would wrap around to a negative count and cost. Past the cap, utilization exceeds 1.
    const double need = std::fmax(1, std::ceil(c.requests_per_day / c.replica_requests_per_day));
    c.replicas = (int)std::fmin(need, std::floor(kMaxDevices / s.gpus));
    c.gpus = c.replicas * s.gpus;
    c.utilization = c.requests_per_day / (c.replicas * c.replica_requests_per_day);
    c.usd_month = c.gpus * c.usd_per_hour * kHoursPerMonth;
    const double tokens_month = (s.input_tokens_per_day + s.output_tokens_per_day) * kDaysPerMonth;
    c.usd_per_m_tokens = tokens_month > 0 ? c.usd_month / tokens_month * 1e6 : 0;
    return c;
}

double api_usd_month(const ApiModel& a, const Selections& s) {
    return (s.input_tokens_per_day * a.usd_per_m_input + s.output_tokens_per_day * a.usd_per_m_output) / 1e6 *
           kDaysPerMonth;
}

ApiComparison compare_api(const ApiModel& a, const Selections& s, const Cost& self) {
    ApiComparison r;
    r.id = a.id;
    r.name = a.name;
    r.tier = a.tier;
    r.usd_month = api_usd_month(a, s);
    r.delta_usd = self.usd_month - r.usd_month;
    r.delta_pct = r.usd_month > 0 ? r.delta_usd / r.usd_month * 100 : 0;
    double f_in, f_out;
    mix(s, &f_in, &f_out);
    r.usd_per_m_blended = f_in * a.usd_per_m_input + f_out * a.usd_per_m_output;
    // One replica costs C1 a month whatever its load; the API costs T x blended x days.
    const double c1 = s.gpus * self.usd_per_hour * kHoursPerMonth;
    if (r.usd_per_m_blended > 0) {
        const double t = c1 / (r.usd_per_m_blended / 1e6 * kDaysPerMonth);
        r.breaks_even = t <= self.replica_tokens_per_day;
        r.break_even_tokens_per_day = r.breaks_even ? t : 0;
    }
    return r;
}

}  // namespace qb
