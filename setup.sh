#!/usr/bin/env bash
# One-command set-up: installs the missing Debian packages, builds boundseg in
# Release (incrementally, through ccache) and then runs one job:
#   ./setup.sh demo [demo options]   synthetic data -> full evaluation -> table + picture
#   ./setup.sh test                  the whole test suite (ctest)
#   ./setup.sh build                 only build
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

job="${1:-build}"
shift || true

packages=(cmake ninja-build g++ ccache pkg-config zlib1g-dev libpng-dev
          libtorch-dev libopencv-dev nlohmann-json3-dev libcli11-dev libfmt-dev
          libgtest-dev libbenchmark-dev libyaml-cpp-dev libgloo-dev libmatio-dev python3-torch python3-pytest python3-opencv python3-numpy
          python3-scipy
          libopenblas0-openmp)
# libopenblas0-openmp: Debian's LibTorch calls libblas.so.3 for every convolution oneDNN does not take (all of them
# when training on one thread); the alternatives system then gives it OpenBLAS instead of the reference BLAS,
# ~10x faster HRNet training steps (docs/benchmarks.md). The OpenMP build shares LibTorch's thread count.
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "Installing: ${missing[*]}"
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -q
  "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

build_dir="${BOUNDSEG_BUILD_DIR:-build}"
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release ${BOUNDSEG_CMAKE_ARGS:-} > /dev/null
cmake --build "$build_dir" -j "$(nproc)"

case "$job" in
  demo)  exec "$build_dir/boundseg" demo "$@" ;;
  test)  exec ctest --test-dir "$build_dir" --output-on-failure "$@" ;;
  build) ;;
  *) echo "usage: ./setup.sh demo|test|build" >&2; exit 2 ;;
esac
