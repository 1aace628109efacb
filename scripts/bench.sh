#!/usr/bin/env bash
# Prints the model's speed figures (Google Benchmark) with the machine they ran on.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cmake --preset native-release >/dev/null
cmake --build --preset native-release --target qbench_bench_model
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores"
build/bin/qbench_bench_model --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
