// Forward-pass timing of a boundseg network (random weights) in this process: median wall time, peak memory.
// Prints one JSON line; bench/forward_vs_torchscript.sh runs it beside the exported TorchScript module in
// python3-torch. With --export it writes that module (traced at the benchmark size) instead.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <sys/resource.h>
#include <torch/utils.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "boundseg/models/conv.h"
#include "boundseg/models/export.h"
#include "boundseg/models/hrnet_ocr.h"

namespace {

double rss_mb() {  // current resident set, from /proc/self/statm (pages)
  std::ifstream statm("/proc/self/statm");
  long pages = 0, resident = 0;
  statm >> pages >> resident;
  return resident * 4096.0 / (1 << 20);
}

double peak_rss_mb() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss / 1024.0;  // KiB on Linux
}

}  // namespace

int main(int argc, char** argv) {
  std::string model = "hrnet_w18_ocr", export_path;
  int threads = 1, runs = 3, height = 512, width = 1024;
  std::string routing = "auto";
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&] { return std::string(i + 1 < argc ? argv[++i] : ""); };
    if (a == "--model") model = next();
    else if (a == "--threads") threads = std::stoi(next());
    else if (a == "--runs") runs = std::stoi(next());
    else if (a == "--height") height = std::stoi(next());
    else if (a == "--width") width = std::stoi(next());
    else if (a == "--export") export_path = next();
    else if (a == "--routing") routing = next();
    else {
      std::fprintf(stderr, "usage: %s [--model hrnet_w18_ocr|hrnet_w48_ocr] [--threads N] [--runs N] [--height H] "
                   "[--width W] [--routing auto|always|never] [--export FILE.pt]\n", argv[0]);
      return 2;
    }
  }
  at::set_num_threads(threads);
  using boundseg::models::PointwiseRouting;
  boundseg::models::set_pointwise_routing(routing == "always"  ? PointwiseRouting::kAlways
                                          : routing == "never" ? PointwiseRouting::kNever
                                                               : PointwiseRouting::kAuto);
  torch::manual_seed(0);
  // "hrnet_w48_ocr" -> backbone "hrnet48"
  boundseg::models::HrnetOcr net(boundseg::models::hrnet_ocr_options("hrnet" + model.substr(7, 2), 19));
  net->eval();
  auto forward = [net](const at::Tensor& x) mutable { return net->predict(x); };
  const at::Tensor x = at::randn({1, 3, height, width});
  if (!export_path.empty()) {
    boundseg::models::export_torchscript(*net, forward, x, export_path, "HrnetOcr");
    return 0;
  }
  torch::NoGradGuard no_grad;
  const double rss_before = rss_mb();
  forward(x);  // warm-up (allocator, oneDNN primitive caches)
  std::vector<double> seconds;
  for (int r = 0; r < runs; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    const at::Tensor y = forward(x);
    seconds.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  std::vector<double> sorted = seconds;
  std::sort(sorted.begin(), sorted.end());
  std::printf("{\"impl\": \"boundseg C++ (1x1 routing %s)\", \"optimized_blas\": %s, \"model\": \"%s\", "
              "\"threads\": %d, \"median_s\": %.3f, \"runs_s\": [",
              routing.c_str(), boundseg::models::optimized_blas_loaded() ? "true" : "false", model.c_str(), threads,
              sorted[sorted.size() / 2]);
  for (size_t i = 0; i < seconds.size(); ++i) std::printf("%s%.3f", i ? ", " : "", seconds[i]);
  std::printf("], \"rss_before_mb\": %.0f, \"peak_rss_mb\": %.0f}\n", rss_before, peak_rss_mb());
  return 0;
}
