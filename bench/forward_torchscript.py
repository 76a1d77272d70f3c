"""Forward-pass timing of an exported TorchScript module in python3-torch; the counterpart of forward_bench.cpp.

Prints one JSON line with the same fields. Usage: forward_torchscript.py MODULE.pt MODEL_NAME THREADS RUNS H W
"""
import json
import resource
import sys
import time

import torch


def rss_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 / 2**20


def main():
    path, model, threads, runs, height, width = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:7])
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    module = torch.jit.load(path).eval()
    x = torch.randn(1, 3, height, width)
    with torch.no_grad():
        before = rss_mb()
        module(x)  # warm-up; also the TorchScript profiling run
        seconds = []
        for _ in range(runs):
            t0 = time.perf_counter()
            module(x)
            seconds.append(time.perf_counter() - t0)
    print(json.dumps({"impl": "python3-torch TorchScript", "model": model, "threads": threads,
                      "median_s": round(sorted(seconds)[len(seconds) // 2], 3),
                      "runs_s": [round(s, 3) for s in seconds], "rss_before_mb": round(before),
                      "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}))


if __name__ == "__main__":
    main()
