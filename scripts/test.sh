#!/usr/bin/env bash
# The test command (README, CI): installs dependencies, builds everything with warnings as errors
# and ASan+UBSan on native code (plus the wasm build of the shared model), and runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
eval "$(bash scripts/widget-deps.sh)"   # Dear ImGui + SDL2 for wasm, cached in .cache/
cmake --preset native-debug -DQB_IMGUI_DIR="$QB_IMGUI_DIR" -DQB_SDL2_WASM_DIR="$QB_SDL2_WASM_DIR"
cmake --build --preset native-debug
# The CUDA kernels compile wherever nvcc is (CUDA 13 is preinstalled at /usr/local/cuda on these
# machines) and run only where a GPU is: build the cuda preset (sm_90a, sm_80, sm_89, warnings as
# errors), then its gpu_kernels test, which reports SKIP (exit 77) without a GPU, and the CLI
# contract of the build that has `bench --backend cuda` (its switches are refused before any GPU
# is looked for; the debug build below has no CUDA).
if command -v nvcc > /dev/null 2>&1 || [ -x /usr/local/cuda/bin/nvcc ]; then
  export PATH="$PATH:/usr/local/cuda/bin"
  cmake --preset cuda
  cmake --build --preset cuda
  ctest --test-dir build-cuda -R '^(gpu_kernels|cli_kernels_contract)$' --output-on-failure
else
  echo "test.sh: no nvcc on this machine: the CUDA kernels were not compiled (cmake --preset cuda needs it)"
fi
# The whole suite runs last, so that the run ends on its summary (the CUDA step above ends on a
# one-test SKIP on machines without a GPU).
ctest --preset native-debug
