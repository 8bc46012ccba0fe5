#!/usr/bin/env bash
# FluoroPlan set-up and run script (the only one; see README.md).
#   ./setup.sh demo   install what is missing, build (Release, Ninja), run `fluoroplan demo`
#   ./setup.sh test   install what is missing, build, run the whole test suite with ctest
#   ./setup.sh build  install what is missing and build
# Runs as root, or uses sudo for apt-get when not root.
set -euo pipefail
cd "$(dirname "$0")"
ROOT=$(pwd)
BUILD_DIR=${FLUOROPLAN_BUILD_DIR:-$ROOT/build}
mode=${1:-demo}

# Debian 12 packages (../shared/DEPENDENCIES.md lists why each is here).
PACKAGES=(
  cmake ninja-build g++ ccache pkg-config
  libinsighttoolkit5-dev libvtk9-dev libdcmtk-dev dcmtk libopenjp2-7-dev
  qt6-base-dev libqt6opengl6-dev libxkbcommon-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  nlohmann-json3-dev libsqlite3-dev libcli11-dev
  xvfb xauth libgl1-mesa-dri orthanc dicom3tools clang
)

install_missing() {
  local missing=()
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -eq 0 ]; then
    echo "setup: all ${#PACKAGES[@]} Debian packages present"
    return
  fi
  echo "setup: installing ${missing[*]}"
  local SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y --no-install-recommends "${missing[@]}"
}

build() {
  cmake -S "$ROOT" -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release
  # Two cores, and ITK translation units need ~1 GB each: one job per core.
  cmake --build "$BUILD_DIR" --parallel "$(nproc)"
}

# VTK in Debian is X-only: anything that renders runs under a virtual display.
with_display() {
  if [ -n "${DISPLAY:-}" ]; then "$@"; else xvfb-run -a -s "-screen 0 1280x1024x24" "$@"; fi
}

case "$mode" in
  demo)
    install_missing
    build
    with_display "$BUILD_DIR/ui/cli/fluoroplan" demo --work "$BUILD_DIR/work"
    ;;
  test)
    install_missing
    build
    cd "$BUILD_DIR"
    with_display ctest --output-on-failure --timeout 900 -j "$(nproc)"
    ;;
  build)
    install_missing
    build
    ;;
  *)
    echo "usage: $0 demo|test|build" >&2
    exit 2
    ;;
esac
