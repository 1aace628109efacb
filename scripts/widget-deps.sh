#!/usr/bin/env bash
# Fetches Dear ImGui and SDL2 from Debian's source packages (apt-get source, verified against
# the .dsc checksums by apt/dpkg-source) and builds SDL2 for WebAssembly, all under .cache/
# (git-ignored), keyed by version: a second run fetches and compiles nothing.
# Prints the two paths the CMake build needs: QB_IMGUI_DIR and QB_SDL2_WASM_DIR.
set -euo pipefail
cd "$(dirname "$0")/.."
exec 3>&1 1>&2   # stdout carries only the two result lines (callers eval them); the rest goes to stderr
IMGUI_VER=1.86
IMGUI_DEB=1.86+ds-1
SDL_VER=2.26.5
SDL_DEB=2.26.5+dfsg-1
cache=$PWD/.cache
src=$cache/debsrc
imgui_dir=$cache/imgui-$IMGUI_VER
sdl_src=$cache/SDL2-$SDL_VER
sdl_wasm=$cache/sdl2-wasm-$SDL_VER
mkdir -p "$src"

if [ ! -f "$imgui_dir/imgui.cpp" ] || [ ! -f "$sdl_src/CMakeLists.txt" ]; then
  command -v dpkg-source >/dev/null || { echo "widget-deps: dpkg-dev is needed" >&2; exit 1; }
  mkdir -p "$src/parts" "$src/lists/partial"
  uri=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
  [ -n "$uri" ] || uri=$(awk '/^deb /{print $2; exit}' /etc/apt/sources.list)
  printf 'Types: deb-src\nURIs: %s\nSuites: bookworm\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' "$uri" > "$src/parts/src.sources"
  O=(-o Dir::Etc::SourceList=/dev/null -o "Dir::Etc::SourceParts=$src/parts" -o "Dir::State::Lists=$src/lists")
  apt-get "${O[@]}" update -qq
  # apt verifies the downloads against the signed Sources index; dpkg-source -x checks the .dsc sums.
  (cd "$src" && apt-get "${O[@]}" source --download-only -qq "imgui=$IMGUI_DEB" "libsdl2=$SDL_DEB")
  rm -rf "$src/x" && mkdir -p "$src/x"
  (cd "$src/x" && dpkg-source --no-check -x ../imgui_*.dsc imgui >/dev/null && dpkg-source --no-check -x ../libsdl2_*.dsc sdl >/dev/null)
  rm -rf "$imgui_dir" "$sdl_src"
  mv "$src/x/imgui" "$imgui_dir"
  mv "$src/x/sdl" "$sdl_src"
  grep -q "IMGUI_VERSION *\"$IMGUI_VER" "$imgui_dir/imgui.h" || { echo "widget-deps: unexpected ImGui version" >&2; exit 1; }
fi

if [ ! -f "$sdl_wasm/lib/libSDL2.a" ]; then
  export NODE_PATH=/usr/share/nodejs
  b=$cache/sdl2-wasm-build-$SDL_VER
  emcmake cmake -S "$sdl_src" -B "$b" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSDL_SHARED=OFF -DSDL_STATIC=ON \
    -DSDL_TEST=OFF -DCMAKE_INSTALL_PREFIX="$sdl_wasm" >/dev/null
  cmake --build "$b" >/dev/null
  cmake --install "$b" >/dev/null
fi
echo "QB_IMGUI_DIR=$imgui_dir" >&3
echo "QB_SDL2_WASM_DIR=$sdl_wasm" >&3
