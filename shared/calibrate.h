// calibrate.h: fits the roofline efficiencies of shared/latency.h to measured kernels.
//
// For one hardware and each kernel class, find the pair {bw, compute} with which linear_time()
// predicts the measured times best:
//     predicted = max( bytes / (BW x bw),  MMA + dequant time at compute )      (latency.h)
// Points where the memory term binds pin bw, points where the compute term binds pin compute;
// the fit minimises the sum of squared relative errors (pred - meas) / meas over both
// parameters at once (a log-spaced grid, then a pattern search to 1e-7), each clamped to
// [0.01, 1] as efficiency.json requires. A parameter that binds at no point (e.g. compute when
// every measurement was memory-bound) cannot be learned from the data: it keeps the catalog
// value and the fit says so.
//
// Order: the fp16 class first (its compute also prices the MMA of the weight-only classes in
// linear_time), then w8a16, w4a16, w8a8, fp8.
//
// CPU specifics (documented in docs/results-format.md):
//  * "fp32" measurements (qbench's CPU baseline) calibrate the fp16 class, which is the model's
//    "dense kernel of this device". They are predicted as that class streaming 4-byte
//    instead of 2-byte weights: an efficiency is a fraction of bandwidth or peak and does not
//    depend on the element width, so it transfers.
//  * BW is the hardware.json datasheet figure when the results name a hardware_id (so fitted
//    factors mean what efficiency.json's factors mean: a fraction of the datasheet); for a
//    machine not in hardware.json the probe bandwidth stands in for the datasheet and the
//    device is synthesised from the environment (synthesize_hardware).
// Pure: no I/O; deterministic.
#pragma once
#include <string>
#include <vector>

#include "catalog.h"
#include "results_json.h"

namespace qb {

struct KernelFit {
    Kernel kernel = Kernel::fp16;
    int points = 0;
    Eff before, after;
    double mape_before = 0, mape_after = 0;   // mean |pred - meas| / meas, in percent
    int mem_bound = 0, compute_bound = 0;      // points where each term binds, after the fit
    bool bw_fitted = false, compute_fitted = false;   // false: not constrained by the data, catalog value kept
};

struct Calibration {
    Hardware hw;                     // the device calibrated (from hardware.json or synthesised)
    std::vector<KernelFit> fits;     // kernel classes with at least one point, in fit order
    double mape_before = 0, mape_after = 0;   // over all points
    int points = 0;
};

// A CPU device for results from a machine that is not in hardware.json: arch "x86-server",
// bandwidth = probe_gbps, dense FP32 FMA peak as the "fp16" peak (the CPU baseline computes in
// FP32) = threads x clock x FLOP/cycle (64 with AVX-512, 32 with AVX2, 8 otherwise: two FMA
// ports), INT8 peak = 4x that with AVX-512 VNNI (vpdpbusd: 64 MACs where an FMA does 16), else
// 2x. Clock: env.cpu_mhz, or 2000 MHz if unknown. False if the catalog has no x86-server class.
bool synthesize_hardware(const Catalog& c, const ResultsEnvironment& env, double probe_gbps, Hardware* out);
// "cpu-<model slug>-<threads>t": the id a synthesised device gets.
std::string synthesized_id(const ResultsEnvironment& env);

// The model's time for one measurement on h with catalog c's efficiencies (microseconds).
// Returns false for measurements the model has no class for.
bool predict_measurement_us(const Catalog& c, const Hardware& h, const Measurement& m, double* us);

// Fits every kernel class that has points. `h` may be a catalog device or a synthesised one.
Calibration calibrate(const Catalog& c, const Hardware& h, const std::vector<Measurement>& points);

}  // namespace qb
