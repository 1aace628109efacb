#!/usr/bin/env bash
# The kernel commands' contract: bench writes a valid results file, publish merges it once
# (duplicates and invalid files change nothing), calibrate reads the directory; bad input
# exits 2 with one line naming what is wrong.
set -u
Q=$1
fails=0
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
check() {   # check NAME EXPECTED_EXIT STDOUT+STDERR_REGEX -- args...
  local name=$1 want=$2 re=$3; shift 4
  local out; out=$("$Q" "$@" 2>&1); local rc=$?
  if [ "$rc" != "$want" ]; then echo "FAIL $name: exit $rc, want $want ($out)"; fails=$((fails+1)); return; fi
  if [ -n "$re" ] && ! grep -Eq -- "$re" <<<"$out"; then echo "FAIL $name: output does not match /$re/: $out"; fails=$((fails+1)); return; fi
  echo "ok   $name"
}
check bench-small 0 "run .* measurements" -- bench --shapes 64x256,9x100 --batches 1,3 --bits 4,2 --group-sizes 32,per-channel \
      --reps 2 --warmup 0 --probe-mb 8 --out "$tmp/run.json"
python3 -c "import json,sys; d=json.load(open(sys.argv[1])); assert d['schema']=='qbench.results' and d['version']==1; assert all(m['correct'] for m in d['measurements']); print(len(d['measurements']))" "$tmp/run.json" \
  || { echo "FAIL bench json"; fails=$((fails+1)); }
check publish 0 "published" -- publish "$tmp/run.json" --dir "$tmp/results"
check publish-again 0 "not added" -- publish "$tmp/run.json" --dir "$tmp/results"
state() { (cd "$tmp/results" && find . -mindepth 1 -printf '%P %s %T@\n' | sort && cat ./*.json) | md5sum; }
before=$(state)
echo '{"schema": "qbench.results", "version": 1, "run_id": "x"}' > "$tmp/bad.json"
check publish-invalid 2 "bad.json: /environment: missing" -- publish "$tmp/bad.json" --dir "$tmp/results"
check publish-missing 2 "cannot open" -- publish "$tmp/nope.json" --dir "$tmp/results"
[ "$before" = "$(state)" ] && echo "ok   results dir untouched" \
  || { echo "FAIL results dir changed"; fails=$((fails+1)); }
check publish-stdin 0 "not added" -- publish --dir "$tmp/results" < "$tmp/run.json"
check calibrate 0 "MAPE" -- calibrate --results "$tmp/results"
check calibrate-write-needs-id 2 "hardware_id" -- calibrate --results "$tmp/results" --write "$tmp/eff.json"
check calibrate-unknown-hw 2 "unknown --hardware-id" -- calibrate --results "$tmp/results" --hardware-id nope
check calibrate-no-runs 2 "no results with hardware_id" -- calibrate --results "$tmp/results" --hardware-id h100-sxm
# A run that names a hardware.json device can be calibrated into efficiency.json's overrides.
python3 - "$tmp/run.json" "$tmp/run-hw.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
d["environment"]["hardware_id"] = "xeon-8480-2s"
d["run_id"] = d["run_id"] + "-hw"
json.dump(d, open(sys.argv[2], "w"))
PY
check publish-hw 0 "published" -- publish "$tmp/run-hw.json" --dir "$tmp/results-hw"
DATA=$(dirname "$0")/../../data
cp "$DATA"/*.json "$tmp/" 2>/dev/null
check calibrate-write 0 "wrote [0-9]+ override" -- calibrate --results "$tmp/results-hw" --hardware-id xeon-8480-2s --write "$tmp/efficiency.json" --data "$tmp"
check validate-after-write 0 "ok" -- validate-data --data "$tmp"
grep -Eq '"hardware": ?"xeon-8480-2s"' "$tmp/efficiency.json" && echo "ok   overrides written" || { echo "FAIL overrides not written"; fails=$((fails+1)); }
# --kernels writes only the named classes (the CPU run measured fp16 = FP32 GEMV, w8a16, w4a16).
cp "$DATA"/efficiency.json "$tmp/efficiency.json"
check calibrate-write-kernels 0 "wrote 1 override" -- calibrate --results "$tmp/results-hw" --hardware-id xeon-8480-2s --write "$tmp/efficiency.json" --kernels w4a16 --data "$tmp"
python3 - "$tmp/efficiency.json" <<'PY' && echo "ok   only the named class written" || { echo "FAIL --kernels wrote other classes"; fails=$((fails+1)); }
import json, sys
o = [x for x in json.load(open(sys.argv[1]))["overrides"] if x["hardware"] == "xeon-8480-2s"]
assert [x["kernel"] for x in o] == ["w4a16"], o
PY
check calibrate-kernels-bad 2 "unknown kernel class 'int5'" -- calibrate --results "$tmp/results-hw" --write "$tmp/efficiency.json" --kernels fp16,int5 --data "$tmp"
check calibrate-kernels-needs-write 2 "give --write" -- calibrate --results "$tmp/results-hw" --kernels fp16 --data "$tmp"
check bench-bad-method 2 "unknown method 'int5'" -- bench --methods int5
check bench-bad-batch 2 "--batches" -- bench --batches 0
check bench-bad-shape 2 "--shapes" -- bench --shapes 12by3
check bench-bad-isa 2 "--isa" -- bench --isa sse9
out=$(QB_CPU_ISA=avx512-bf16 "$Q" bench --quick 2>&1); rc=$?
[ "$rc" = 2 ] && grep -q "QB_CPU_ISA='avx512-bf16' names no SIMD level" <<<"$out" && echo "ok   bench-bad-env-isa" \
  || { echo "FAIL bench-bad-env-isa: exit $rc ($out)"; fails=$((fails+1)); }
out=$(QB_CPU_ROWS=longest "$Q" bench --quick 2>&1); rc=$?
[ "$rc" = 2 ] && grep -q "QB_CPU_ROWS='longest' names no row order" <<<"$out" && echo "ok   bench-bad-env-rows" \
  || { echo "FAIL bench-bad-env-rows: exit $rc ($out)"; fails=$((fails+1)); }
# The CUDA kernels' experiment switches, refused before any device is looked for (so also here,
# where CI has no GPU); a build without CUDA says so instead.
out=$(QB_WQ_COOP=on "$Q" bench --backend cuda --quick 2>&1); rc=$?
if grep -q "built without CUDA" <<<"$out"; then echo "skip bench-bad-env-cuda: $out"
else [ "$rc" = 2 ] && grep -q "QB_WQ_COOP='on' is not an integer" <<<"$out" && echo "ok   bench-bad-env-cuda" \
  || { echo "FAIL bench-bad-env-cuda: exit $rc ($out)"; fails=$((fails+1)); }
fi
out=$(QB_WQ_HANDOFF_MB=7MB "$Q" bench --backend cuda --quick 2>&1); rc=$?
if grep -q "built without CUDA" <<<"$out"; then echo "skip bench-bad-env-cuda-mb: $out"
else [ "$rc" = 2 ] && grep -q "QB_WQ_HANDOFF_MB='7MB' is not a number of MB" <<<"$out" && echo "ok   bench-bad-env-cuda-mb" \
  || { echo "FAIL bench-bad-env-cuda-mb: exit $rc ($out)"; fails=$((fails+1)); }
fi
check bench-bad-rows 2 "--rows takes short or long" -- bench --rows diagonal
check bench-bad-flag 2 "unknown flag --frob" -- bench --frob 1
check bench-bad-hw 2 "unknown --hardware-id" -- bench --hardware-id tpu
check upload-bad-url 2 "http://" -- publish "$tmp/run.json" --to ftp://x --token t
check upload-unreachable 1 "cannot reach" -- publish "$tmp/run.json" --to http://127.0.0.1:9 --token t --timeout 2
exit $((fails > 0))
