#!/usr/bin/env bash
# The synthetic weak-supervision experiment of the README: full supervision vs scribbles + pCE vs scribbles + pCE +
# DenseCRF loss (rloss' two phases, with a pCE-only phase 2 as control), same model (hrnet_tiny_ocr) and 300
# iterations for every arm. Usage: tools/weak_supervision_experiment.sh [BOUNDSEG]
# Runs in the current directory (writes boundseg-synth/ and work_dirs/); about 20 minutes on 2 cores.
set -euo pipefail
boundseg=${1:-build/boundseg}
configs=$(dirname "$0")/../configs/synthetic/weak
[ -d boundseg-synth/leftImg8bit/train ] || "$boundseg" synth --out boundseg-synth --n 48 --size 256x512 --split train
[ -d boundseg-synth/leftImg8bit/val ] || "$boundseg" synth --out boundseg-synth --n 12 --size 256x512 --split val
[ -d boundseg-synth/scribbles/train ] || "$boundseg" scribbles generate --labels boundseg-synth/gtFine/train \
  --out boundseg-synth/scribbles/train --label-suffix _gtFine_labelTrainIds
for arm in full pce pce_phase1 pce_phase2 pce_densecrf; do  # finished arms are kept
  [ -f "work_dirs/$arm/model.safetensors" ] || "$boundseg" train "$configs/$arm.yaml" --quiet
done
echo "| supervision | mIoU (%) | boundary IoU (%) |"
echo "|---|---|---|"
for arm in full pce pce_phase2 pce_densecrf; do
  /usr/bin/env python3 - "$arm" <<'PY'
import json, sys
arm = sys.argv[1]
rows = [json.loads(l) for l in open(f"work_dirs/{arm}/metrics.jsonl") if "val/mIoU" in l]
last = rows[-1]
name = {"full": "dense labels, CE (300 it.)", "pce": "scribbles, pCE (300 it.)",
        "pce_phase2": "scribbles, pCE 150 it. → pCE 150 it. (control)",
        "pce_densecrf": "scribbles, pCE 150 it. → pCE + DenseCRF loss 150 it."}[arm]
print(f"| {name} | {100 * last['val/mIoU']:.1f} | {100 * last['val/bIoU']:.1f} |")
PY
done
