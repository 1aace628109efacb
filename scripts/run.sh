#!/usr/bin/env bash
# The main job (README): installs dependencies, builds qbench in release mode and runs the
# model on the built-in data: a prediction and a sweep for Llama-2-7B on an H100 SXM.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cmake --preset native-release >/dev/null
cmake --build --preset native-release
Q=build/bin/qbench-native
echo; echo "== $Q predict --model llama-2-7b --method gptq --bits 4 --group-size 128 --hardware h100-sxm"
$Q predict --model llama-2-7b --method gptq --bits 4 --group-size 128 --hardware h100-sxm
echo; echo "== $Q sweep --model llama-2-7b --hardware h100-sxm"
$Q sweep --model llama-2-7b --hardware h100-sxm
