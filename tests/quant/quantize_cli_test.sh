#!/usr/bin/env bash
# `qbench-native quantize`'s contract: a small synthetic run and a small safetensors model (with
# a calibration file) succeed and write a valid qbench.quantize JSON and packed files; bad input
# exits 2 with one line on stderr naming what is wrong.
set -u
Q=$1
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
fails=0
check() {   # check NAME EXPECTED_EXIT STDERR_REGEX -- args...
  local name=$1 want=$2 re=$3; shift 4
  local err; err=$("$Q" quantize "$@" 2>&1 >/dev/null); local rc=$?
  if [ "$rc" != "$want" ]; then echo "FAIL $name: exit $rc, want $want ($err)"; fails=$((fails+1)); return; fi
  if [ -n "$re" ] && ! grep -Eq -- "$re" <<<"$err"; then echo "FAIL $name: stderr '$err' does not match /$re/"; fails=$((fails+1)); return; fi
  echo "ok   $name"
}

# A tiny Llama-style model (BF16 / F16 / F32 tensors, an embedding the default regex skips) and
# calibration activations: 'activations' [tokens, 128] and a per-layer input for down_proj.
python3 - "$W" <<'EOF'
import json, random, struct, sys
random.seed(1)
def st(path, tensors, meta=None):
    h, data = {}, b""
    if meta: h["__metadata__"] = meta
    for name, dt, shape, vals in tensors:
        if dt == "F32": b = struct.pack("<%df" % len(vals), *vals)
        elif dt == "F16": b = struct.pack("<%de" % len(vals), *vals)
        else: b = b"".join(struct.pack("<f", v)[2:] for v in vals)   # BF16: top half of the float
        h[name] = {"dtype": dt, "shape": shape, "data_offsets": [len(data), len(data) + len(b)]}
        data += b
    hs = json.dumps(h).encode()
    hs += b" " * (-len(hs) % 8)
    open(path, "wb").write(struct.pack("<Q", len(hs)) + hs + data)
g = lambda n, s: [random.gauss(0, s) for _ in range(n)]
st(sys.argv[1] + "/model.safetensors", [
    ("model.embed_tokens.weight", "F16", [100, 128], g(12800, 1)),
    ("model.layers.0.self_attn.q_proj.weight", "BF16", [64, 128], g(64 * 128, 0.09)),
    ("model.layers.0.self_attn.k_proj.weight", "F16", [32, 128], g(32 * 128, 0.09)),
    ("model.layers.0.mlp.down_proj.weight", "F32", [128, 64], g(128 * 64, 0.12)),
], {"format": "pt"})
acts = []
for t in range(512):
    base = random.gauss(0, 1)
    acts += [(30.0 if k in (3, 77) else 1.0) * (base + random.gauss(0, 0.5)) for k in range(128)]
st(sys.argv[1] + "/calib.safetensors", [
    ("activations", "F32", [512, 128], acts),
    ("model.layers.0.mlp.down_proj.input", "F16", [512, 64], g(512 * 64, 1)),
])
st(sys.argv[1] + "/acts_only.safetensors", [("activations", "F32", [512, 128], acts)])
open(sys.argv[1] + "/broken.safetensors", "wb").write(struct.pack("<Q", 999) + b"{}")
EOF

mkdir -p "$W/out"
if "$Q" quantize --synthetic --rows 64 --cols 256 --calib-tokens 8x64 --eval-tokens 2x64 --bits 3 --group-size 64 --zero-point \
     --act-order --json "$W/syn.json" --out-dir "$W/out" >"$W/syn.txt"; then
  python3 - "$W/syn.json" "$W/out" <<'EOF' && echo "ok   synthetic run, JSON and packed files" || { echo "FAIL synthetic JSON"; exit 1; }
import json, os, sys
d = json.load(open(sys.argv[1]))
assert d["schema"] == "qbench.quantize" and d["version"] == 1
assert d["config"]["bits"] == 3 and d["config"]["group_size"] == 64 and d["config"]["zero_point"] and d["config"]["act_order"]
for k in ("cpu", "threads", "isa", "compiler", "os"): assert k in d["environment"], k
(layer,) = d["layers"]
assert layer["rows"] == 64 and layer["cols"] == 256 and layer["calibration"]["tokens"] == 512
ms = {r["method"]: r for r in layer["results"]}
assert sorted(ms) == ["awq", "gptq", "quip", "rtn"], ms.keys()
for r in ms.values():
    assert r["ok"] and 0 < r["weight_rel_err"] < 1 and 0 < r["output_rel_err"] < 1 and r["time_s"] >= 0, r
    assert os.path.exists(r["file"]), r["file"]
assert ms["gptq"]["sidecars"]["perm"] and ms["awq"]["sidecars"]["input_scale"] and ms["quip"]["sidecars"]["transform"] == "quip"
q = ms["quip"]["details"]
assert q["mu_h_after"] < q["mu_h_before"] and q["mu_w_after"] < q["mu_w_rescaled"], q
assert len(os.listdir(sys.argv[2])) == 4
EOF
else
  echo "FAIL synthetic run: $(cat "$W/syn.txt")"; fails=$((fails+1))
fi

if "$Q" quantize --safetensors "$W/model.safetensors" --calib "$W/calib.safetensors" --eval-tokens 64 --group-size 32 \
     --methods rtn,gptq,awq --json "$W/model.json" >"$W/model.txt"; then
  python3 - "$W/model.json" <<'EOF' && echo "ok   safetensors model with calibration file" || { echo "FAIL model JSON"; exit 1; }
import json, sys
d = json.load(open(sys.argv[1]))
names = [l["name"] for l in d["layers"]]
assert names == ["model.layers.0.self_attn.q_proj.weight", "model.layers.0.self_attn.k_proj.weight",
                 "model.layers.0.mlp.down_proj.weight"], names
src = [l["calibration"]["source"] for l in d["layers"]]
assert src == ["activations", "activations", "model.layers.0.mlp.down_proj.input"], src
assert d["layers"][1]["calibration"]["shared"] and d["layers"][0]["calibration"]["eval_tokens"] == 64
for l in d["layers"]:
    e = {r["method"]: r["output_rel_err"] for r in l["results"]}
    assert all(r["ok"] for r in l["results"])
assert d["layers"][0]["results"][1]["output_rel_err"] < d["layers"][0]["results"][0]["output_rel_err"]   # gptq < rtn on q_proj
EOF
else
  echo "FAIL model run: $(cat "$W/model.txt")"; fails=$((fails+1))
fi

# --model: synthetic layers shaped as a catalog model's projections; the report reads back
# (validate-data --quantize parses it with shared/quantize_json, as the widget does).
if "$Q" quantize --synthetic --model smollm2-135m --layers '.*(k|down)_proj.*' --calib-tokens 2x64 --eval-tokens 64 \
     --methods rtn,gptq --group-size 64 --json "$W/smol.json" >"$W/smol.txt" && "$Q" validate-data --quantize "$W/smol.json" >/dev/null; then
  python3 - "$W/smol.json" <<'EOF2' && echo "ok   --model run, report validates" || { echo "FAIL --model report"; fails=$((fails+1)); }
import json, sys
d = json.load(open(sys.argv[1]))
assert d["input"]["model"] == "smollm2-135m", d["input"]
names = [(l["name"], l["rows"], l["cols"]) for l in d["layers"]]
assert names == [("model.layers.0.self_attn.k_proj.weight", 192, 576), ("model.layers.0.mlp.down_proj.weight", 576, 1536)], names
EOF2
else
  echo "FAIL --model run: $(cat "$W/smol.txt")"; fails=$((fails+1))
fi
python3 - "$W/smol.json" "$W/bad-report.json" <<'EOF2'
import json, sys
d = json.load(open(sys.argv[1])); d["layers"][0]["results"][0]["output_rel_err"] = "small"
json.dump(d, open(sys.argv[2], "w"))
EOF2
err=$("$Q" validate-data --quantize "$W/bad-report.json" 2>&1 >/dev/null); rc=$?
if [ "$rc" = 2 ] && grep -q "bad-report.json: /layers/0/results/0/output_rel_err: must be a number" <<<"$err"; then echo "ok   validate-data refuses a bad report"
else echo "FAIL validate-data on a bad report: exit $rc, '$err'"; fails=$((fails+1)); fi
check unknown-model 2 "unknown model 'nope'" -- --synthetic --model nope
check model-and-shape 2 "--rows / --cols do not go with --model" -- --synthetic --model smollm2-135m --rows 64
check model-no-layers 2 "matches none of smollm2-135m's projections" -- --synthetic --model smollm2-135m --layers 'x'

check no-input 2 "exactly one of --synthetic and --safetensors" --
check both-inputs 2 "exactly one of" -- --synthetic --safetensors "$W/model.safetensors"
check unknown-method 2 "unknown method 'obq'" -- --synthetic --methods rtn,obq
check bad-bits 2 "bits" -- --synthetic --bits 5
check bad-group 2 "group must be a multiple of 32" -- --synthetic --rows 8 --cols 96 --group-size 64
check int8-group 2 "INT8 is per-channel" -- --synthetic --bits 8 --group-size 128
check bad-tokens 2 "calib-tokens" -- --synthetic --calib-tokens lots
check bad-damp 2 "damp" -- --synthetic --damp -1
check bad-hessian 2 "--hessian must be f32 or bf16" -- --synthetic --hessian f64
check unknown-flag 2 "unknown flag --frobnicate" -- --synthetic --frobnicate 1
check missing-value 2 "needs a value" -- --synthetic --bits
check static-alone 2 "static-groups goes with --act-order" -- --synthetic --static-groups
check missing-file 2 "cannot open" -- --safetensors "$W/nope.safetensors"
check broken-file 2 "runs past the end" -- --safetensors "$W/broken.safetensors"
check no-layers 2 "no 2-D tensor matches" -- --safetensors "$W/model.safetensors" --layers 'nothing.*'
check bad-regex 2 "not a valid regular expression" -- --safetensors "$W/model.safetensors" --layers '('
check no-calib 2 "no 'model.layers.0.mlp.down_proj.input' or 'activations'" -- --safetensors "$W/model.safetensors" --calib "$W/model.safetensors" --layers '.*down_proj.*' --group-size 32
check calib-width 2 "must be \[tokens, 64\]" -- --safetensors "$W/model.safetensors" --calib "$W/acts_only.safetensors" --layers '.*down_proj.*' --group-size 32
check layer-shape 2 "group must be a multiple of 32" -- --safetensors "$W/model.safetensors" --group-size 256
check bad-out-dir 2 "not a writable folder" -- --synthetic --rows 8 --cols 64 --group-size 32 --out-dir "$W/nope/deeper"
"$Q" quantize --help >/dev/null && echo "ok   help" || { echo "FAIL help"; fails=$((fails+1)); }

[ "$fails" = 0 ] && echo "all quantize CLI checks passed" || echo "$fails quantize CLI check(s) failed"
[ "$fails" = 0 ]
