// results_fixture.h: a small valid results run for the JSON, publish and calibrate tests.
#pragma once
#include <string>

#include "results_json.h"

namespace qbt {

inline qb::Results sample_results(const std::string& host = "test-host", double scale = 1.0) {
    qb::Results r;
    r.env.hostname = host;
    r.env.cpu_model = "Test CPU @ 2.00GHz";
    r.env.cores = 2;
    r.env.threads = 2;
    r.env.isa = {"avx2", "fma", "f16c", "avx512f", "avx512vnni"};
    r.env.compiler = "g++ 12.2.0";
    r.env.os = "Debian GNU/Linux 12";
    r.env.commit = "0123456789abcdef0123456789abcdef01234567";
    r.env.timestamp = "2026-11-26T12:00:00Z";
    r.env.cpu_mhz = 2000;
    r.env.load_avg = 0.1;
    r.probe.kind = "triad";
    r.probe.gbps = 12.5;
    r.probe.triad_gbps = 12.5;
    const char* kernels[] = {"fp32", "w8a16", "w4a16", "w8a8"};
    const int bits[] = {32, 8, 4, 8};
    for (int i = 0; i < 4; ++i)
        for (int M : {1, 16}) {
            qb::Measurement m;
            m.kernel = kernels[i];
            m.impl = i == 0 ? "eigen" : "avx512";
            m.isa = "avx512";
            m.bits = bits[i];
            m.group_size = i == 2 ? 128 : 0;
            m.m = M;
            m.n = 4096;
            m.k = 4096;
            m.shape = "4096x4096";
            m.reps = 5;
            m.median_us = (100.0 + i * 10 + M) * scale;
            m.p10_us = m.median_us * 0.95;
            m.p90_us = m.median_us * 1.1;
            m.bytes = 4096.0 * 4096 * bits[i] / 8;
            m.flops = 2.0 * M * 4096 * 4096;
            m.gbps = m.bytes / (m.median_us * 1e3);
            m.pct_of_probe = 100 * m.gbps / r.probe.gbps;
            m.correct = true;
            m.max_rel_err = 1e-7;
            r.measurements.push_back(m);
        }
    r.run_id = qb::make_run_id(r);
    return r;
}

}  // namespace qbt
