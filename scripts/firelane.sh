#!/usr/bin/env bash
# One entry point for a fresh Debian 12 machine (as root): installs what is missing, builds, then
#   scripts/firelane.sh run  [firelane args]   runs firelane (default: -c conf/firelane.conf)
#   scripts/firelane.sh test [ctest args]      runs the whole test suite with ctest
#   scripts/firelane.sh build                  only builds
#   scripts/firelane.sh deps                   only installs the Debian packages (scripts/fuzz.sh uses it)
# Environment: BUILD_DIR (default build), SANITIZE=1 (ASan+UBSan build in build-asan).
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(g++ cmake ninja-build pkg-config make libuv1-dev libmsgpack-dev libssl-dev libnghttp2-dev
  libre2-dev zlib1g-dev libdeflate-dev libzstd-dev libhttp-parser-dev catch2 libbenchmark-dev nlohmann-json3-dev
  ca-certificates haproxy)

install_missing() {
  local missing=()
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if ((${#missing[@]})); then
    echo "installing: ${missing[*]}" >&2
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
  fi
}

build() {
  local dir="${BUILD_DIR:-build}" extra=()
  if [ "${SANITIZE:-0}" = 1 ]; then
    dir="${BUILD_DIR:-build-asan}"
    # Benches measure the normal build only; -O1 -g1 halves the compile time and keeps usable
    # sanitizer stack traces.
    extra+=(-DFIRELANE_SANITIZE=ON -DFIRELANE_BENCH=OFF "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g1 -DNDEBUG")
  fi
  if [ ! -f "$dir/build.ninja" ]; then
    cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "${extra[@]}" >&2
  fi
  cmake --build "$dir" -j "$(nproc)" >&2
  BUILD="$dir"
}

cmd="${1:-run}"
shift || true
install_missing
[ "$cmd" = deps ] && exit 0
build
case "$cmd" in
  build) ;;
  run)
    if (($#)); then exec "$BUILD/firelane" "$@"; fi
    exec "$BUILD/firelane" -c conf/firelane.conf
    ;;
  test)
    cd "$BUILD"
    exec ctest --output-on-failure -j "$(nproc)" "$@"
    ;;
  *)
    echo "usage: scripts/firelane.sh run|test|build|deps" >&2
    exit 2
    ;;
esac
