#!/usr/bin/env bash
# Training throughput of `boundseg train` (HRNet-W18 + OCR by default) on synthetic Cityscapes-style scenes:
# median step time and images/s over the iterations after warm-up, and the share of step time spent waiting for
# data, at 1 and 2 threads (THREADS="2" for one count); beside each, the same network's training step in
# python3-torch (`boundseg export --train` of the trained weights, bench/train_step_torchscript.py: same crop, batch,
# threads, loss and optimizer; random data; 3 warm-up steps for TorchScript's profiling executor). Usage:
# bench/train_throughput.sh [build-dir] [arch] [crop HxW] [batch] [iters]
set -euo pipefail
build="${1:-build}"; arch="${2:-hrnet_w18_ocr}"; crop="${3:-512x512}"; batch="${4:-2}"; iters="${5:-12}"
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
"$build/boundseg" synth --out "$work/data" --n 16 --size 512x1024 --split train > /dev/null 2>&1
cat > "$work/bench.yaml" <<YAML
model: {arch: $arch}
data:
  train: {type: cityscapes, root: $work/data, split: train}
  batch_size: $batch
  workers: 2
  augment: {crop_height: ${crop%x*}, crop_width: ${crop#*x}, scale_min: 0.5, scale_max: 2.0}
schedule: {iters: $iters}
run: {log_interval: 1, checkpoint_interval: 100000}
YAML
for threads in ${THREADS:-1 2}; do
  "$build/boundseg" --threads "$threads" train "$work/bench.yaml" --quiet --work-dir "$work/t$threads" > /dev/null 2>&1
  /usr/bin/python3 - "$work/t$threads/metrics.jsonl" "$threads" "$arch" "$crop" "$batch" <<'PY'
import json, statistics, sys
records = [json.loads(l) for l in open(sys.argv[1]) if '"loss"' in l][2:]  # first 2 iterations = warm-up
step = statistics.median(r["step_time_s"] for r in records)
wait = statistics.median(r["data_wait_fraction"] for r in records)
print(f"{sys.argv[3]} crop {sys.argv[4]} batch {sys.argv[5]}, {sys.argv[2]} thread(s): "
      f"median step {step:.3f} s, {int(sys.argv[5]) / step:.2f} images/s, data wait {100 * wait:.2f} % of the step "
      f"(median of {len(records)} iterations)")
PY
  if [ ! -f "$work/train.pt" ]; then
    "$build/boundseg" export --train --quiet --model "$work/t$threads/model.json" \
      --weights "$work/t$threads/model.safetensors" --example "$crop" --out "$work/train.pt"
  fi
  # Python twice: glibc's default allocator, then the one the boundseg CLI sets (apps/boundseg/main.cpp: no mmap
  # below 256 MB, no trimming below 512 MB), which keeps each step from faulting its activations in afresh.
  for allocator in default cli; do
    if [ "$allocator" = cli ]; then malloc_env="MALLOC_MMAP_THRESHOLD_=268435456 MALLOC_TRIM_THRESHOLD_=536870912"
    else malloc_env=""; fi
    printf '%s allocator: ' "$allocator"
    env $malloc_env /usr/bin/python3 "$(dirname "$0")/train_step_torchscript.py" "$work/train.pt" "$arch" "$threads" \
      "$((iters - 3))" 3 "$batch" "${crop%x*}" "${crop#*x}"
  done
done
