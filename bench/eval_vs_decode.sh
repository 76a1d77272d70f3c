#!/usr/bin/env bash
# Side by side in one run: `boundseg eval` with the full suite (pixel level,
# iIoU, boundary IoU at 0.02 and 0.005, boundary F at 4 tolerances, instance
# AP and boundary AP) against only decoding the same PNGs with the same
# threads (bench/decode_floor.cpp), on N synthetic Cityscapes-size scenes.
# Prints a markdown table of medians over REPEATS alternating runs.
#   bench/eval_vs_decode.sh            (N=20 SIZE=1024x2048 REPEATS=5)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
N="${N:-20}"; SIZE="${SIZE:-1024x2048}"; REPEATS="${REPEATS:-5}"
build="${BUILD:-build-bench}"
data="${DATA:-${TMPDIR:-/tmp}/boundseg-bench-${N}x${SIZE}}"

cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DBOUNDSEG_BUILD_BENCHMARKS=ON \
  -DBOUNDSEG_BUILD_TESTS=OFF > /dev/null
cmake --build "$build" -j "$(nproc)" --target boundseg decode_floor > /dev/null
if [ ! -f "$data/.complete" ]; then
  "$build/boundseg" synth --out "$data" --n "$N" --size "$SIZE"
  touch "$data/.complete"
fi

median() { sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
now() { date +%s.%N; }
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

echo "| threads | decode floor, in process (s) | eval, in process (s) | ratio | decode floor, whole process (s) | eval, whole process (s) | ratio |"
echo "|---|---|---|---|---|---|---|"
for threads in 1 2; do
  : > "$tmp/decode_in"; : > "$tmp/decode_all"; : > "$tmp/eval_in"; : > "$tmp/eval_all"
  for _ in $(seq "$REPEATS"); do
    t0=$(now)
    "$build/bench/decode_floor" --threads "$threads" "$data/gtFine" "$data/pred/semantic" "$data/pred/instances" > "$tmp/d.log"
    t1=$(now)
    "$build/boundseg" --threads "$threads" eval --quiet --gt "$data/gtFine" --pred "$data/pred/semantic" \
      --instances "$data/pred/instances" --json "$tmp/result.json" > /dev/null 2> "$tmp/e.log"
    t2=$(now)
    sed -n 's/.* in \([0-9.]*\) s$/\1/p' "$tmp/d.log" >> "$tmp/decode_in"
    sed -n 's/^evaluated .* in \([0-9.]*\) s .*/\1/p' "$tmp/e.log" >> "$tmp/eval_in"
    awk "BEGIN {print $t1 - $t0}" >> "$tmp/decode_all"
    awk "BEGIN {print $t2 - $t1}" >> "$tmp/eval_all"
  done
  di=$(median < "$tmp/decode_in"); ei=$(median < "$tmp/eval_in")
  da=$(median < "$tmp/decode_all"); ea=$(median < "$tmp/eval_all")
  printf "| %d | %.3f | %.3f | %.2fx | %.3f | %.3f | %.2fx |\n" "$threads" "$di" "$ei" "$(awk "BEGIN {print $ei / $di}")" \
    "$da" "$ea" "$(awk "BEGIN {print $ea / $da}")"
done
echo
echo "data: $N scenes of $SIZE in $data; medians of $REPEATS alternating runs; $(nproc) cores ($(lscpu | sed -n 's/^Model name: *//p'))"
