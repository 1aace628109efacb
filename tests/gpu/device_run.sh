#!/usr/bin/env bash
# device_run.sh quick|handoff|exp|ctask|verify|smoke|mid|full: everything one GPU-machine call runs, in order, from the folder that
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
# cpp-httplib (and brotli) of the build machine travel in ./lib when the GPU machine has none.
if ldd ./qbench-native | grep -q "not found" && [ -d ./lib ]; then
  export LD_LIBRARY_PATH=$PWD/lib:${LD_LIBRARY_PATH:-}
  ldd ./qbench-native | grep "not found"
fi
gpu=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1 | tr 'A-Z ' 'a-z-' | tr -cd 'a-z0-9-')
if [ "$mode" = quick ]; then
  # Correctness of every kernel on small shapes (cuBLASLt errors logged: the FP8 diagnosis),
  # memcheck of our kernels, then M = 1 / 4 / 16 timings, the split sweep and the decode step.
  CUBLASLT_LOG_LEVEL=1 ./qbench_gpu_tests --tiny 2>&1 | tee "$OUT/tests-tiny.txt" | grep -v "^ok " | tail -40
  compute-sanitizer --tool memcheck --error-exitcode 9 ./qbench_gpu_tests --tiny --no-lt > "$OUT/sanitizer.txt" 2>&1
  echo "compute-sanitizer exit $?"; tail -4 "$OUT/sanitizer.txt"
  # Registers / spills of our kernels (no cuobjdump on the build machine).
  cuobjdump --dump-resource-usage ./qbench_gpu_tests > "$OUT/resources.txt" 2>&1
  grep -o "REG:[0-9]* STACK:[0-9]* SHARED:[0-9]* LOCAL:[0-9]*" "$OUT/resources.txt" | sort | uniq -c
  timeout 300 ./qbench-native bench --backend cuda --batches 1,4,16 --no-group-sweep --no-cold --split-sweep --replays 10 \
    --out "$OUT/quick-$gpu.json" > "$OUT/quick-bench.txt" 2>&1
  echo "bench exit $?"; grep -v "^  sweep" "$OUT/quick-bench.txt" | tail -90; grep "sweep" "$OUT/quick-bench.txt" | cut -c1-400
  # Counters of one W4A16 g128 M = 1 launch of the streaming kernel (issue vs memory bound).
  timeout 150 ncu --clock-control none --kernel-name regex:wq_stream_kernel --launch-skip 3 --launch-count 1 \
    --section SpeedOfLight --section MemoryWorkloadAnalysis --section SchedulerStats --section WarpStateStats \
    --section Occupancy --section LaunchStats --section ComputeWorkloadAnalysis \
    ./qbench-native bench --backend cuda --shapes 11008x4096 --batches 1 --no-decode --no-cold --no-group-sweep \
    --large-m none --replays 3 --launches 4 > "$OUT/ncu.txt" 2>&1
  echo "ncu exit $?"; grep -v "^  *[-]*$" "$OUT/ncu.txt" | grep -A200 "wq_stream_kernel" | head -120
elif [ "$mode" = handoff ]; then
  # Hand-off to the next launch (wq_set_handoff, session 10): correctness of every variant with
  # it, registers, then M = 1 / 16 on the three target shapes and the decode step at each share
  # of the next launch's weights warmed in L2, in MB (0 = off, first and last for drift).
  ./qbench_gpu_tests --tiny > "$OUT/tests-tiny.txt" 2>&1; echo "tiny tests exit $?"; grep -v "^ok " "$OUT/tests-tiny.txt" | tail -6
  cuobjdump --dump-resource-usage ./qbench_gpu_tests > "$OUT/resources.txt" 2>&1
  grep -o "REG:[0-9]* STACK:[0-9]* SHARED:[0-9]* LOCAL:[0-9]*" "$OUT/resources.txt" | sort | uniq -c | sort -k2 | tail -12
  for f in ${HANDOFF_MB:-0 2 3.5 5 7 10 0}; do
    echo "== handoff $f MB"
    QB_WQ_HANDOFF_MB=$f timeout 120 ./qbench-native bench --backend cuda --shapes 11008x4096,4096x11008,8192x28672 --batches 1,4,16 \
      --no-group-sweep --no-cold --large-m none --replays 10 > "$OUT/handoff-$f-bench.txt" 2>&1
    echo "bench exit $?"; grep "cublaslt-fp16 .*M=1 \|w4a16    g128  z0\|w4a16    g128  z1.*M=1 \|w8a16.*M=1 \|decode" "$OUT/handoff-$f-bench.txt" | cut -c1-200
  done
elif [ "$mode" = exp ]; then
  # Tuning experiment: correctness of every variant, the ablation / split sweep at M = 1 and 16,
  # and the decode step with each streaming-kernel variant (set through environment switches).
  ./qbench_gpu_tests --tiny > "$OUT/tests-tiny.txt" 2>&1; echo "tiny tests exit $?"; grep -v "^ok " "$OUT/tests-tiny.txt" | tail -6
  cuobjdump --dump-resource-usage ./qbench_gpu_tests > "$OUT/resources.txt" 2>&1
  timeout 240 ./qbench-native bench --backend cuda --batches 1,16 --no-group-sweep --no-cold --split-sweep --large-m none \
    --replays 10 --no-decode --out "$OUT/exp-$gpu.json" > "$OUT/exp-bench.txt" 2>&1
  echo "bench exit $?"; grep "ablation\|stamps\|qbench-mma  *w4a16  *g128  z0" "$OUT/exp-bench.txt" | cut -c1-900
  for v in "0 0" "3 0" "2 0" "6 0" "4 1" "3 1" "2 1"; do
    set -- $v
    echo "decode variant depth $1 accscale $2:"
    QB_WQ_STREAM_DEPTH=$1 QB_WQ_ACCSCALE=$2 timeout 60 ./qbench-native bench --backend cuda --shapes 4096x4096 --batches 1 \
      --no-group-sweep --no-cold --large-m none --replays 10 2>&1 | grep "decode qbench-w4a16\|w4a16    g128  z0"
  done 2>&1 | tee "$OUT/decode-variants.txt"
elif [ "$mode" = ctask ]; then
  # Split-K inside the CTA (branch cuda4): correctness and memcheck of every variant on small
  # shapes, registers, then the bench with the old default (the ablation times ctask at each
  # warp count against it at M = 1) and with ctask as the default at M <= 8 (M = 1..8 and the
  # decode step), in the same call.
  ./qbench_gpu_tests --tiny > "$OUT/tests-tiny.txt" 2>&1; echo "tiny tests exit $?"; grep -v "^ok " "$OUT/tests-tiny.txt" | tail -6
  grep -c "ctask" "$OUT/tests-tiny.txt"; grep "ctask" "$OUT/tests-tiny.txt" | grep -c "other path"
  timeout 120 compute-sanitizer --tool memcheck --error-exitcode 9 ./qbench_gpu_tests --tiny --no-lt > "$OUT/sanitizer.txt" 2>&1
  echo "compute-sanitizer exit $?"; tail -2 "$OUT/sanitizer.txt"
  cuobjdump --dump-resource-usage ./qbench_gpu_tests > "$OUT/resources.txt" 2>&1
  grep -A1 "ILi4ELi8ELi[34]EL.*ELi[0-9]*ELb[01]ELi\(4\|8\|16\)EE" "$OUT/resources.txt" | grep -o "REG:[0-9]* STACK:[0-9]* SHARED:[0-9]* LOCAL:[0-9]*" | sort | uniq -c
  QB_WQ_CTASK=0 timeout 220 ./qbench-native bench --backend cuda --batches 1,2,4,8,16 --no-group-sweep --no-cold --split-sweep --large-m none \
    --replays 10 --out "$OUT/old-$gpu.json" > "$OUT/old-bench.txt" 2>&1
  echo "bench old exit $?"; grep "ablation\|sweep\|decode\|qbench-mma  *w4a16  *g128" "$OUT/old-bench.txt" | cut -c1-1200
  QB_WQ_CTASK=8 timeout 150 ./qbench-native bench --backend cuda --batches 1,2,4,8 --no-group-sweep --no-cold --large-m none \
    --replays 10 --out "$OUT/ctask-$gpu.json" > "$OUT/ctask-bench.txt" 2>&1
  echo "bench ctask exit $?"; grep "decode\|qbench-mma  *w4a16" "$OUT/ctask-bench.txt" | cut -c1-400
elif [ "$mode" = verify ]; then
  # Before a full run: every kernel variant on small shapes, memcheck, registers, the ablation.
  ./qbench_gpu_tests --tiny > "$OUT/tests-tiny.txt" 2>&1; echo "tiny tests exit $?"; grep -v "^ok " "$OUT/tests-tiny.txt" | tail -6
  compute-sanitizer --tool memcheck --error-exitcode 9 ./qbench_gpu_tests --tiny --no-lt > "$OUT/sanitizer.txt" 2>&1
  echo "compute-sanitizer exit $?"; tail -2 "$OUT/sanitizer.txt"
  cuobjdump --dump-resource-usage ./qbench_gpu_tests > "$OUT/resources.txt" 2>&1
  grep -o "REG:[0-9]* STACK:[0-9]* SHARED:[0-9]* LOCAL:[0-9]*" "$OUT/resources.txt" | sort | uniq -c | sort -k2 | tail -12
  timeout 200 ./qbench-native bench --backend cuda --shapes 11008x4096,4096x11008 --batches 1,16 --no-group-sweep --no-cold \
    --split-sweep --large-m none --replays 10 --no-decode --out "$OUT/verify-$gpu.json" > "$OUT/verify-bench.txt" 2>&1
  echo "bench exit $?"; grep "ablation\|stamps\|qbench-mma  *w4a16  *g128  z0\|sweep" "$OUT/verify-bench.txt" | cut -c1-700
elif [ "$mode" = smoke ]; then
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
  # 1. Correctness first, quickly (every kernel on small shapes, both W4A16 / W8A16 paths). A build
  # whose tests fail, hang or find no GPU stops here: nothing of it is timed or published. (The log
  # goes to /tmp: $OUT keeps to the 8 files below, all a lent device machine hands back.)
  tiny_log=${TMPDIR:-/tmp}/qbench-tests-tiny.txt
  timeout 300 ./qbench_gpu_tests --tiny > "$tiny_log" 2>&1
  rc=$?
  grep -v "^ok " "$tiny_log" | tail -8
  if [ $rc -ne 0 ]; then
    echo "device_run.sh: qbench_gpu_tests --tiny failed (exit $rc; 77: no usable GPU, 124: timed out); not benchmarking this build"
    exit 1
  fi
  # 2. The benchmark (split sweep included), torch on the same GPU, merged.
  # Ours stay in cuda-<gpu>.json (what gets published); the merge with torch goes to its own file.
  timeout 300 ./qbench-native bench --backend cuda --split-sweep --out "$OUT/cuda-$gpu.json" > "$OUT/bench.txt" 2>&1
  echo "bench exit $?"; grep -v "^  sweep\|^  ablation\|^  stamps" "$OUT/bench.txt" | tail -150; grep "sweep\|ablation" "$OUT/bench.txt" | cut -c1-600
  # The decode step with split-K inside the CTA off (the previous default), same call.
  QB_WQ_CTASK=0 timeout 60 ./qbench-native bench --backend cuda --shapes 4096x4096 --batches 1 --no-group-sweep --no-cold \
    --large-m none --replays 15 2>&1 | grep "decode qbench-w4a16\|decode cublaslt-fp16" | sed 's/^/ctask off: /' | tee -a "$OUT/bench.txt"
  timeout 90 python3 torch_peer.py --out "$OUT/torch-$gpu.json" 2>&1 | tail -30
  ./qbench-native bench --backend cuda --merge-peer "$OUT/torch-$gpu.json" --results "$OUT/cuda-$gpu.json" \
    --out "$OUT/cuda-merged-$gpu.json" | tail -40
  # 3. The full test grid and compute-sanitizer on our kernels (small shapes).
  timeout 150 ./qbench_gpu_tests > "$OUT/tests-full.txt" 2>&1; echo "gpu tests exit $?"; grep -v "^ok " "$OUT/tests-full.txt" | tail -12
  timeout 110 compute-sanitizer --tool memcheck --error-exitcode 9 ./qbench_gpu_tests --small --no-lt > "$OUT/sanitizer.txt" 2>&1
  echo "compute-sanitizer exit $?"; tail -6 "$OUT/sanitizer.txt"
fi
nvidia-smi -q | head -60 > "$OUT/smi.txt"
