"""Training-step timing of a train-mode TorchScript export in python3-torch; the counterpart of `boundseg train`.

The module comes from `boundseg export --train` (BN in training mode, dropout on, returns (aux, out) at the input
size). One step = what boundseg's trainer does with its default config: forward, cross entropy on `out` (ignore
255), backward, SGD (lr 0.01, momentum 0.9, weight decay 5e-4). Random images and labels: data loading is not part
of the step. glibc's allocator matters here as much as the kernels: bench/train_throughput.sh runs this script with
the default and with the boundseg CLI's settings (MALLOC_MMAP_THRESHOLD_ / MALLOC_TRIM_THRESHOLD_). Prints one JSON
line. Usage: train_step_torchscript.py MODULE.pt MODEL THREADS ITERS WARMUP BATCH H W
"""
import json
import statistics
import sys
import time

import torch
import torch.nn.functional as F


def main():
    path, model = sys.argv[1], sys.argv[2]
    threads, iters, warmup, batch, height, width = map(int, sys.argv[3:9])
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    module = torch.jit.load(path)
    module.train()
    optimizer = torch.optim.SGD(module.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    images = torch.randn(batch, 3, height, width)
    labels = torch.randint(0, 19, (batch, height, width))
    seconds = []
    for _ in range(warmup + iters):
        t0 = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        outputs = module(images)
        out = outputs[-1] if isinstance(outputs, tuple) else outputs
        loss = F.cross_entropy(out, labels, ignore_index=255)
        loss.backward()
        optimizer.step()
        seconds.append(time.perf_counter() - t0)
    timed = seconds[warmup:]
    step = statistics.median(timed)
    print(json.dumps({"impl": "python3-torch TorchScript", "model": model, "threads": threads, "batch": batch,
                      "crop": f"{height}x{width}", "median_step_s": round(step, 3),
                      "images_per_s": round(batch / step, 3), "steps_s": [round(s, 3) for s in timed]}))


if __name__ == "__main__":
    main()
