#!/usr/bin/env bash
# device_run.sh smoke|mid|full: everything one GPU-machine call runs, in order, from the folder that
# holds the binaries built on the development machine (qbench-native, qbench_gpu_tests) and the
# scripts (torch_peer.py). Results and logs go to $OUT (the device tool's output folder) or ./out.
set -x
mode=${1:-smoke}
OUT=${OUT:-./out}
mkdir -p "$OUT"
export PATH=$PATH:/usr/local/cuda/bin
export PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem,clocks.max.sm,temperature.gpu,power.draw --format=csv
# cuBLASLt must be found at run time; take the toolkit's or torch's copy if the loader has none.
if ldd ./qbench-native | grep -q "not found"; then
  lib=$(find /usr/local/cuda* /opt /usr/lib -name 'libcublasLt.so.13*' 2>/dev/null | head -1)
  [ -n "$lib" ] && export LD_LIBRARY_PATH=$(dirname "$lib"):${LD_LIBRARY_PATH:-}
  ldd ./qbench-native | grep -i cublas
fi
gpu=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1 | tr 'A-Z ' 'a-z-' | tr -cd 'a-z0-9-')
if [ "$mode" = smoke ]; then
  ./qbench_gpu_tests --tiny
  compute-sanitizer --tool memcheck --error-exitcode 9 ./qbench_gpu_tests --tiny --no-lt > "$OUT/sanitizer.txt" 2>&1
  echo "compute-sanitizer exit $?"; tail -12 "$OUT/sanitizer.txt"
  ./qbench-native bench --backend cuda --quick --out "$OUT/smoke-$gpu.json"
  timeout 150 python3 torch_peer.py --quick --out "$OUT/torch-smoke.json"
  ./qbench-native bench --backend cuda --merge-peer "$OUT/torch-smoke.json" --results "$OUT/smoke-$gpu.json" --out "$OUT/smoke-merged-$gpu.json"
elif [ "$mode" = mid ]; then
  ./qbench_gpu_tests --small
  compute-sanitizer --tool memcheck --error-exitcode 9 ./qbench_gpu_tests --tiny --no-lt > "$OUT/sanitizer.txt" 2>&1
  echo "compute-sanitizer exit $?"; tail -6 "$OUT/sanitizer.txt"
  ./qbench-native bench --backend cuda --batches 1,16,64 --split-sweep --no-group-sweep --replays 15 --out "$OUT/mid-$gpu.json"
  timeout 200 python3 torch_peer.py --out "$OUT/torch-mid-$gpu.json"
  ./qbench-native bench --backend cuda --merge-peer "$OUT/torch-mid-$gpu.json" --results "$OUT/mid-$gpu.json" --out "$OUT/mid-$gpu.json"
else
  ./qbench-native bench --backend cuda --out "$OUT/cuda-$gpu.json"
  timeout 240 python3 torch_peer.py --out "$OUT/torch-$gpu.json"
  ./qbench-native bench --backend cuda --merge-peer "$OUT/torch-$gpu.json" --results "$OUT/cuda-$gpu.json" --out "$OUT/cuda-$gpu.json"
  ./qbench_gpu_tests
  compute-sanitizer --tool memcheck --error-exitcode 9 ./qbench_gpu_tests --small --no-lt > "$OUT/sanitizer.txt" 2>&1
  echo "compute-sanitizer exit $?"; tail -12 "$OUT/sanitizer.txt"
fi
nvidia-smi -q | head -60 > "$OUT/smi.txt"
