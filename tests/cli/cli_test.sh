#!/usr/bin/env bash
# The CLI's contract: every catalog model x hardware answers predict and sweep; bad input exits 2
# with one line on stderr naming what is wrong; --json is valid JSON with the promised keys.
set -u
Q=$1; DATA=$2
fails=0
check() {   # check NAME EXPECTED_EXIT STDERR_REGEX -- args...
  local name=$1 want=$2 re=$3; shift 4
  local err; err=$("$Q" "$@" 2>&1 >/dev/null); local rc=$?
  if [ "$rc" != "$want" ]; then echo "FAIL $name: exit $rc, want $want ($err)"; fails=$((fails+1)); return; fi
  if [ -n "$re" ] && ! grep -Eq -- "$re" <<<"$err"; then echo "FAIL $name: stderr '$err' does not match /$re/"; fails=$((fails+1)); return; fi
  echo "ok   $name"
}
models=$(python3 -c "import json;print(' '.join(m['id'] for m in json.load(open('$DATA/model-catalog.json'))['models']))")
hws=$(python3 -c "import json;print(' '.join(h['id'] for h in json.load(open('$DATA/hardware.json'))['hardware']))")
n=0
for m in $models; do for h in $hws; do
  out=$("$Q" predict --model "$m" --hardware "$h" --json) || { echo "FAIL predict $m $h"; fails=$((fails+1)); continue; }
  python3 -c "import json,sys; d=json.loads(sys.argv[1]); [d[k] for k in ('selections','share_link','memory_gb','latency_ms','tokens_per_s','accuracy','calculated_monthly_cost','comparison_delta')]" "$out" \
    || { echo "FAIL predict json $m $h"; fails=$((fails+1)); }
  "$Q" sweep --model "$m" --hardware "$h" --csv >/dev/null || { echo "FAIL sweep $m $h"; fails=$((fails+1)); }
  n=$((n+1))
done; done
echo "ok   predict + sweep for $n model x hardware pairs"

check unknown-model 2 "unknown model 'nope'" -- predict --model nope
check unknown-hw 2 "unknown hardware" -- predict --hardware tpu-v9
check fp8-a100 2 "fp8 needs FP8" -- predict --method fp8 --hardware a100-80gb
check fp8-3bit 2 "8-bit format" -- predict --method fp8 --bits 3
check bad-bits 2 "bits" -- predict --bits 5
check bad-batch 2 "batch" -- predict --batch -3
check absurd-batch 2 "batch" -- predict --batch 99999999
check bad-number 2 "tokens-per-day" -- predict --tokens-per-day lots
check nan 2 "usd-per-hour" -- predict --usd-per-hour nan
check tp3 2 "heads" -- predict --gpus 3
check context 2 "context" -- predict --model tinyllama-1.1b --prompt-tokens 4000
check unknown-flag 2 "unknown flag --frobnicate" -- predict --frobnicate 1
check missing-value 2 "needs a value" -- predict --model
check unknown-cmd 2 "unknown command" -- explode
check broken-link 2 "link" -- predict --link "v=1&b=four"
check lenient-link 0 "" -- predict --link "v=1&b=four" --lenient-link
check good-link 0 "" -- predict --link "#v=1&m=llama-3.1-8b&q=awq&hw=a100-80gb&bs=8"
check validate 0 "" -- validate-data --data "$DATA"

tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
cp "$DATA"/*.json "$tmp"/
echo '{"schema": "qbench.hardware", "version": 1, "hardware": [' > "$tmp/hardware.json"
check malformed-json 2 "hardware.json: malformed JSON" -- validate-data --data "$tmp"
cp "$DATA"/hardware.json "$tmp"/
python3 - "$tmp/model-catalog.json" <<'PY'
import json,sys; p=sys.argv[1]; d=json.load(open(p)); del d['models'][1]['layers']; json.dump(d,open(p,'w'))
PY
check missing-field 2 "model-catalog.json: /models/1/layers: missing required field" -- validate-data --data "$tmp"
check missing-dir 2 "cannot open" -- validate-data --data /nonexistent
# data/quantize/*.json (the reports the site shows) are validated with the catalog files.
cp "$DATA"/model-catalog.json "$tmp"/
mkdir -p "$tmp/quantize"
python3 - "$DATA/quantize/synthetic-llama2-7b.json" "$tmp/quantize/r.json" <<'PY'
import json,sys; d=json.load(open(sys.argv[1])); d['input']['model']='gpt-5'; json.dump(d,open(sys.argv[2],'w'))
PY
check quantize-unknown-model 2 "r.json: /input/model: 'gpt-5' is not in model-catalog.json" -- validate-data --data "$tmp"
echo '{"schema": "qbench.quantize", "version": 1, "layers": []}' > "$tmp/quantize/r.json"
check quantize-bad-report 2 "r.json: /created_utc: missing required field" -- validate-data --data "$tmp"

# Share link from predict --json reproduces the same prediction.
link=$("$Q" predict --model qwen2.5-7b --method awq --hardware l40s --batch 4 --json | python3 -c "import json,sys;print(json.load(sys.stdin)['share_link'])")
a=$("$Q" predict --model qwen2.5-7b --method awq --hardware l40s --batch 4 --json); b=$("$Q" predict --link "$link" --json)
if [ "$a" == "$b" ]; then echo "ok   link round trip ($link)"; else echo "FAIL link round trip"; fails=$((fails+1)); fi

[ "$fails" = 0 ] && echo "all CLI checks passed" || { echo "$fails CLI check(s) failed"; exit 1; }
