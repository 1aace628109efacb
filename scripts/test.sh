#!/usr/bin/env bash
# The test command (README, CI): installs dependencies, builds everything with warnings as errors
# and ASan+UBSan on native code (plus the wasm build of the shared model), and runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cmake --preset native-debug
cmake --build --preset native-debug
ctest --preset native-debug
