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
# The picture: one val scene, predictions of dense CE, the pCE control and pCE + DenseCRF side by side.
scene=$(find boundseg-synth/leftImg8bit/val -name '*.png' | sort | head -1)
for arm in full pce_phase2 pce_densecrf; do
  "$boundseg" infer --model "work_dirs/$arm/model.json" --weights "work_dirs/$arm/model.safetensors" \
    --images "$scene" --out "work_dirs/$arm/picture" --format color --quiet
done
/usr/bin/python3 - "$scene" <<'PY'
import sys
from pathlib import Path
import cv2
import numpy as np
scene = Path(sys.argv[1])
tiles = [("image", cv2.imread(str(scene)))]
for arm, title in [("full", "dense labels, CE"), ("pce_phase2", "scribbles, pCE"),
                   ("pce_densecrf", "scribbles, pCE + DenseCRF")]:
    tiles.append((title, cv2.imread(f"work_dirs/{arm}/picture/{scene.stem}.png")))
row = []
for title, tile in tiles:
    tile = tile.copy()
    cv2.putText(tile, title, (8, 22), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 2, cv2.LINE_AA)
    row.append(tile)
cv2.imwrite("weak_supervision.png", np.vstack([np.hstack(row[:2]), np.hstack(row[2:])]))
print("wrote weak_supervision.png")
PY
