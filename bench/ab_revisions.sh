#!/usr/bin/env bash
# Two builds of boundseg side by side in one run, alternating A B A B ...: `boundseg eval` with the full suite on N
# synthetic Cityscapes-size scenes (in-process seconds, as eval prints them) and `boundseg train` of HRNet-W18 + OCR
# (median step time of the iterations after warm-up, from metrics.jsonl). For refactors that must not change speed.
#   bench/ab_revisions.sh BUILD_A BUILD_B      (REPEATS=3 N=20 SIZE=1024x2048 ITERS=8 THREADS=2)
# Build a baseline outside the tree, e.g.: git worktree add ../base <rev> && cmake -S ../base -B ../base/build \
#   -G Ninja -DCMAKE_BUILD_TYPE=Release -DBOUNDSEG_BUILD_TESTS=OFF && cmake --build ../base/build --target boundseg
set -euo pipefail
a="${1:?usage: bench/ab_revisions.sh BUILD_A BUILD_B}"; b="${2:?usage: bench/ab_revisions.sh BUILD_A BUILD_B}"
REPEATS="${REPEATS:-3}"; N="${N:-20}"; SIZE="${SIZE:-1024x2048}"; ITERS="${ITERS:-8}"; THREADS="${THREADS:-2}"
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
"$b/boundseg" synth --out "$work/eval" --n "$N" --size "$SIZE" > /dev/null 2>&1
"$b/boundseg" synth --out "$work/train" --n 16 --size 512x1024 --split train > /dev/null 2>&1
cat > "$work/train.yaml" <<YAML
model: {arch: hrnet_w18_ocr}
data:
  train: {type: cityscapes, root: $work/train, split: train}
  batch_size: 2
  workers: 2
  augment: {crop_height: 512, crop_width: 512, scale_min: 0.5, scale_max: 2.0}
schedule: {iters: $ITERS}
run: {log_interval: 1, checkpoint_interval: 100000}
YAML

median() { sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
for side in A B; do : > "$work/eval_$side"; : > "$work/step_$side"; done
for _ in $(seq "$REPEATS"); do
  for side in A B; do
    build="$a"; [ "$side" = B ] && build="$b"
    "$build/boundseg" --threads "$THREADS" eval --quiet --gt "$work/eval/gtFine" --pred "$work/eval/pred/semantic" \
      --instances "$work/eval/pred/instances" --json "$work/result_$side.json" > /dev/null 2> "$work/e.log"
    sed -n 's/^evaluated .* in \([0-9.]*\) s .*/\1/p' "$work/e.log" >> "$work/eval_$side"
    rm -rf "$work/t"
    "$build/boundseg" --threads "$THREADS" train "$work/train.yaml" --quiet --work-dir "$work/t" > /dev/null 2>&1
    /usr/bin/python3 -c '
import json, statistics, sys
records = [json.loads(l) for l in open(sys.argv[1]) if "\"loss\"" in l][2:]  # first 2 iterations = warm-up
print(statistics.median(r["step_time_s"] for r in records))' "$work/t/metrics.jsonl" >> "$work/step_$side"
  done
done
cmp -s <(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); d.pop("warnings", None); print(json.dumps(d, sort_keys=True))' "$work/result_A.json") \
       <(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); d.pop("warnings", None); print(json.dumps(d, sort_keys=True))' "$work/result_B.json") \
  && same="identical" || same="DIFFERENT"
echo "| measure ($THREADS threads, median of $REPEATS alternating runs) | A | B | B / A |"
echo "|---|---|---|---|"
for m in eval step; do
  ma=$(median < "$work/${m}_A"); mb=$(median < "$work/${m}_B")
  label="boundseg eval, full suite, $N scenes $SIZE (s)"; [ "$m" = step ] && label="boundseg train, HRNet-W18+OCR 512x512 batch 2, step (s)"
  echo "| $label | $ma | $mb | $(awk "BEGIN {printf \"%.3f\", $mb / $ma}") |"
done
echo
echo "eval JSON of A and B: $same; all runs A eval: $(tr '\n' ' ' < "$work/eval_A")B eval: $(tr '\n' ' ' < "$work/eval_B")"
echo "A step: $(tr '\n' ' ' < "$work/step_A")B step: $(tr '\n' ' ' < "$work/step_B")"
