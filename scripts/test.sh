#!/usr/bin/env bash
# The test command (README, CI): installs dependencies, builds everything with warnings as errors
# and ASan+UBSan on native code (plus the wasm build of the shared model), and runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
eval "$(bash scripts/widget-deps.sh)"   # Dear ImGui + SDL2 for wasm, cached in .cache/
cmake --preset native-debug -DQB_IMGUI_DIR="$QB_IMGUI_DIR" -DQB_SDL2_WASM_DIR="$QB_SDL2_WASM_DIR"
cmake --build --preset native-debug
ctest --preset native-debug
