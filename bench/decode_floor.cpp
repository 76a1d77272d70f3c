// The decode floor of `boundseg eval`: discovers the same files and only
// decodes every PNG the evaluation reads (GT label ids, instance ids,
// predictions, instance masks), images in parallel on the same thread pool.
// Usage: decode_floor --threads N GT_DIR PRED_DIR INSTANCE_DIR
#include <ATen/Parallel.h>

#include <malloc.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <string>

#include "boundseg/io/png.h"
#include "boundseg/metrics/evaluator.h"

int main(int argc, char** argv) {
  if (argc != 6 || std::string(argv[1]) != "--threads") {
    std::fprintf(stderr, "usage: decode_floor --threads N GT_DIR PRED_DIR INSTANCE_DIR\n");
    return 2;
  }
  // The same allocator settings as the boundseg CLI, so the floor is fair.
  mallopt(M_MMAP_THRESHOLD, 256 << 20);
  mallopt(M_TRIM_THRESHOLD, 512 << 20);
  at::set_num_threads(std::stoi(argv[2]));
  boundseg::metrics::DiscoverOptions d;
  d.gt_dir = argv[3];
  d.pred_dir = argv[4];
  d.instance_dir = argv[5];
  const auto start = std::chrono::steady_clock::now();
  const auto samples = boundseg::metrics::discover_samples(d);
  std::atomic<int64_t> pixels{0};
  at::parallel_for(0, static_cast<int64_t>(samples.size()), 1, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      const auto& s = samples[i];
      int64_t n = boundseg::io::read_label_png(s.gt).total() + boundseg::io::read_label_png(s.gt_instances).total() +
                  boundseg::io::read_label_png(s.prediction).total();
      for (const auto& line : boundseg::metrics::read_cityscapes_prediction_txt(s.instance_txt))
        n += boundseg::io::read_label_png(line.mask_path).total();
      pixels += n;
    }
  });
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("decoded %lld pixels of %zu images in %.3f s\n", static_cast<long long>(pixels.load()), samples.size(),
              seconds);
  return 0;
}
