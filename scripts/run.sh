#!/usr/bin/env bash
# The main job (README): installs dependencies, builds qbench in release mode (CLI + widget),
# runs the model on the built-in data (a prediction and a sweep for Llama-2-7B on an H100 SXM),
# benchmarks the CPU kernels (bench --quick), publishes the run, and serves the widget's site
# with it on localhost, printing its URL.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
eval "$(bash scripts/widget-deps.sh)"
cmake --preset native-release -DQB_IMGUI_DIR="$QB_IMGUI_DIR" -DQB_SDL2_WASM_DIR="$QB_SDL2_WASM_DIR" >/dev/null
cmake --build --preset native-release
Q=build/bin/qbench-native
echo; echo "== $Q predict --model llama-2-7b --method gptq --bits 4 --group-size 128 --hardware h100-sxm"
$Q predict --model llama-2-7b --method gptq --bits 4 --group-size 128 --hardware h100-sxm
echo; echo "== $Q sweep --model llama-2-7b --hardware h100-sxm"
$Q sweep --model llama-2-7b --hardware h100-sxm

# Real kernels on this machine: the quick CPU benchmark (about a minute on 2 cores), published
# into data/results/ (atomic, validated, de-duplicated) so the widget shows it next to the model.
mkdir -p build/results
echo; echo "== $Q bench --quick --out build/results/quick.json"
$Q bench --quick --out build/results/quick.json
echo; echo "== $Q publish build/results/quick.json --dir data/results"
$Q publish build/results/quick.json --dir data/results
echo; echo "== $Q calibrate --results data/results (predicted vs measured, before and after fitting)"
$Q calibrate --results data/results || true   # a report; the shipped efficiency.json is not rewritten here

# The widget: build/site is a static site (page, embed script, wasm); qbench-native serves it with
# the data files (and takes uploads and the widget's metrics). It prints its URL.
echo
echo "== $Q serve --site build/site --data data --port ${PORT:-8080}   (Ctrl+C to stop)"
exec $Q serve --site build/site --data data --port "${PORT:-8080}"
