// probe.h: a STREAM-like memory bandwidth probe, run on the kernels' thread pool, recorded in
// every results file as this machine's limit for that run.
//
//   copy   c[i] = a[i]              2 x 4 bytes per element (read a, write c)
//   triad  a[i] = b[i] + s c[i]     3 x 4 bytes per element (read b, c, write a)
//   read   sum += b[i]              1 x 4 bytes per element, each thread reading its share as
//                                   8 interleaved streams (as a GEMV reads 4-8 weight rows):
//                                   one stream per core leaves DRAM bandwidth unused here
//                                   (8 GB/s for 1 stream vs 11-12 GB/s for 8 on this VM)
// Stores are non-temporal (movntps): they bypass the cache, so no line of the destination is
// read first (no write-allocate), and the bytes counted above are the bytes that move. With
// ordinary stores the hardware would also read each destination line, and STREAM's count
// would understate the traffic by a third (copy) or a quarter (triad).
// Each array is max(4 x last-level cache, 64 MB), at most 1/8 of RAM: the STREAM rule, so no
// level of cache can hold it. The best of `reps` passes of each kind counts (STREAM reports
// the best, which is the least disturbed by other work on the machine).
#pragma once
#include <cstddef>
#include <string>

namespace qb::native {

struct ProbeSpec {
    int reps = 5;
    size_t array_bytes = 0;   // 0: the rule above
};

struct ProbeResult {
    double copy_gbps = 0, triad_gbps = 0, read_gbps = 0;
    double best_gbps = 0;
    std::string best_kind;
    double array_mb = 0;
};

// Holds the three arrays so a run can probe several times (before each shape and at the end)
// without paying the page faults again; the best figure of each kind over all calls counts.
class BandwidthProbe {
public:
    explicit BandwidthProbe(const ProbeSpec& spec);
    ~BandwidthProbe();
    BandwidthProbe(const BandwidthProbe&) = delete;
    BandwidthProbe& operator=(const BandwidthProbe&) = delete;
    const ProbeResult& run(int reps);   // returns the best so far
    const ProbeResult& best() const { return best_; }

private:
    float *a_ = nullptr, *b_ = nullptr, *c_ = nullptr;
    size_t n_ = 0;
    ProbeResult best_;
};

ProbeResult run_probe(const ProbeSpec& spec);
size_t default_probe_array_bytes();

}  // namespace qb::native
