// Google Benchmark: per-image cost of each metric on a synthetic scene.
#include <benchmark/benchmark.h>

#include <map>

#include "boundseg/data/synthetic.h"
#include "boundseg/metrics/boundary_metrics.h"
#include "boundseg/metrics/instance_ap.h"
#include "boundseg/metrics/pixel_metrics.h"
#include "boundseg/ops/boundary_kernels.h"

namespace {

using namespace boundseg;

const data::SyntheticScene& scene(int64_t h, int64_t w) {
  static std::map<std::pair<int64_t, int64_t>, data::SyntheticScene> cache;
  auto it = cache.find({h, w});
  if (it == cache.end()) it = cache.emplace(std::make_pair(h, w), data::make_synthetic_scene(3, int(h), int(w))).first;
  return it->second;
}

void sizes(benchmark::internal::Benchmark* b) {
  b->Args({512, 1024})->Args({1024, 2048})->Unit(benchmark::kMillisecond);
}

void BM_CityscapesPixels(benchmark::State& state) {
  const auto& s = scene(state.range(0), state.range(1));
  for (auto _ : state) {
    metrics::CityscapesPixelStats stats;
    metrics::accumulate_cityscapes_pixels(s.label_ids, s.pred_label_ids, s.instance_ids, stats, {"gt", "pred", "instances"});
    benchmark::DoNotOptimize(stats);
  }
}
BENCHMARK(BM_CityscapesPixels)->Apply(sizes);

void BM_BoundaryIouTwoRatios(benchmark::State& state) {
  const auto& s = scene(state.range(0), state.range(1));
  const auto mapping = metrics::ClassMapping::cityscapes_label_ids();
  const std::vector<int64_t> widths = {detail::band_width(0.02, s.label_ids.rows, s.label_ids.cols),
                                       detail::band_width(0.005, s.label_ids.rows, s.label_ids.cols)};
  for (auto _ : state) {
    std::vector<metrics::BoundaryIouStats> stats(2, metrics::BoundaryIouStats(19));
    metrics::accumulate_boundary_iou(s.label_ids, s.pred_label_ids, mapping, widths, stats);
    benchmark::DoNotOptimize(stats);
  }
}
BENCHMARK(BM_BoundaryIouTwoRatios)->Apply(sizes);

void BM_BoundaryFFourTolerances(benchmark::State& state) {
  const auto& s = scene(state.range(0), state.range(1));
  const auto mapping = metrics::ClassMapping::cityscapes_label_ids();
  for (auto _ : state)
    benchmark::DoNotOptimize(
        metrics::boundary_f_image(s.label_ids, s.pred_label_ids, mapping, {0.00088, 0.001875, 0.00375, 0.005}));
}
BENCHMARK(BM_BoundaryFFourTolerances)->Apply(sizes);

void BM_InstanceMatching(benchmark::State& state) {
  const auto& s = scene(state.range(0), state.range(1));
  for (auto _ : state) {
    metrics::InstanceMatcher matcher(s.instance_ids);
    for (const auto& p : s.pred_instances) matcher.add_prediction(p.label_id, p.score, p.mask);
    benchmark::DoNotOptimize(matcher.finish());
  }
  state.counters["predictions"] = double(s.pred_instances.size());
}
BENCHMARK(BM_InstanceMatching)->Apply(sizes);

}  // namespace
