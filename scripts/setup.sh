#!/usr/bin/env bash
# Installs what qbench needs on a bare Debian 12 machine, from Debian's archive only.
# Idempotent: installs only what is missing. Run as root (or with sudo available).
set -euo pipefail
cd "$(dirname "$0")/.."
pkgs=(cmake g++ ninja-build python3 nlohmann-json3-dev libeigen3-dev libcpp-httplib-dev libsdl2-dev
      libgtest-dev libgmock-dev libbenchmark-dev
      emscripten dpkg-dev xz-utils python3-fonttools fonts-dejavu-core   # the widget (wasm) build
      chromium)                                                          # browser tests
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  echo "qbench setup: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# Browser-test driver from the npm registry (no browser download: Debian's Chromium is used).
if [ ! -d tests/web/node_modules/playwright-core ]; then
  (cd tests/web && npm ci --no-audit --no-fund --loglevel=error)
fi
