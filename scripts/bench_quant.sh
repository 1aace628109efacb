#!/usr/bin/env bash
# The quantizer benchmark of docs/quantizers.md: a 4096 x 4096 synthetic layer with 128 x 512
# calibration tokens, every method, on 2 threads (pinned to two cores when taskset exists and
# the machine has more). Prints the tables and writes one qbench.quantize JSON per run.
#   bash scripts/bench_quant.sh [path/to/qbench-native] [output dir]
# Without a binary it builds build/bin/qbench-native (release) first.
set -euo pipefail
cd "$(dirname "$0")/.."
Q=${1:-}
OUT=${2:-bench-quant}
if [ -z "$Q" ]; then
  bash scripts/setup.sh
  cmake --preset native-release >/dev/null
  cmake --build --preset native-release --target qbench-native
  Q=build/bin/qbench-native
fi
mkdir -p "$OUT"
# Two CPUs on different physical cores (cpu0 and the first CPU that is not its SMT sibling).
PIN=()
if command -v taskset >/dev/null && [ "$(nproc)" -gt 2 ]; then
  sib=$(cat /sys/devices/system/cpu/cpu0/topology/thread_siblings_list 2>/dev/null || echo 0)
  other=$(for c in $(seq 1 $(($(nproc) - 1))); do
            case ",$(echo "$sib" | tr '-' ',')," in *",$c,"*) ;; *) echo $c; break ;; esac
          done)
  PIN=(taskset -c "0,${other:-1}")
fi
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) logical cores, runs on 2 threads ${PIN[*]:+(pinned: ${PIN[*]})}"
# The load average is printed with each run: on a shared machine it says how much of the two
# cores the run really had.
run() {
  local name=$1; shift
  echo; echo "== $name (load average before: $(cut -d' ' -f1-3 /proc/loadavg))"
  "${PIN[@]}" "$Q" quantize --threads 2 "$@" --json "$OUT/$name.json" || echo "($name did not run)"
}
run w4g128 --synthetic --rows 4096 --cols 4096 --calib-tokens 128x512
run w4g128-actorder --synthetic --rows 4096 --cols 4096 --calib-tokens 128x512 --methods gptq --act-order
run w3g128-zero --synthetic --rows 4096 --cols 4096 --calib-tokens 128x512 --bits 3 --zero-point
run w4g128-bf16 --synthetic --rows 4096 --cols 4096 --calib-tokens 128x512 --hessian bf16
run w4g128-calib32 --synthetic --rows 4096 --cols 4096 --calib-tokens 32x512 --methods gptq,awq,quip
