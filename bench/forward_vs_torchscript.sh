#!/usr/bin/env bash
# Side by side in one run: boundseg's C++ forward of HRNet+OCR (random weights, 1x3x512x1024, batch 1) and the same
# network exported with `boundseg export`-style tracing, run from Debian's python3-torch. Each line is one process
# (a warm-up, then RUNS timed forwards; peak RSS is the process's). At one thread the C++ path is also run with its
# 1x1-conv routing forced on and off (the default, auto, routes only without an optimised BLAS); python3-torch makes
# LibTorch's own choice. REFERENCE_BLAS=1 runs everything on Debian's reference BLAS instead of OpenBLAS.
#   bench/forward_vs_torchscript.sh              (MODELS="hrnet_w18_ocr hrnet_w48_ocr" THREADS="2 1" RUNS=3)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
MODELS="${MODELS:-hrnet_w18_ocr hrnet_w48_ocr}"; THREADS="${THREADS:-2 1}"; RUNS="${RUNS:-3}"
H="${H:-512}"; W="${W:-1024}"
build="${BUILD:-build-bench}"
python="${PYTHON:-/usr/bin/python3}"
if [ "${REFERENCE_BLAS:-0}" = 1 ]; then export LD_LIBRARY_PATH="/usr/lib/x86_64-linux-gnu/blas${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"; fi

cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DBOUNDSEG_BUILD_BENCHMARKS=ON \
  -DBOUNDSEG_BUILD_TESTS=OFF > /dev/null
cmake --build "$build" -j "$(nproc)" --target forward_bench > /dev/null
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

for model in $MODELS; do
  "$build/bench/forward_bench" --model "$model" --height "$H" --width "$W" --export "$tmp/$model.pt"
  for threads in $THREADS; do
    "$build/bench/forward_bench" --model "$model" --threads "$threads" --runs "$RUNS" --height "$H" --width "$W"
    "$python" bench/forward_torchscript.py "$tmp/$model.pt" "$model" "$threads" "$RUNS" "$H" "$W"
    if [ "$threads" = 1 ]; then
      for routing in always never; do
        "$build/bench/forward_bench" --model "$model" --threads 1 --runs "$RUNS" --height "$H" --width "$W" \
          --routing "$routing"
      done
    fi
  done
done
