// Google Benchmark: boundary ops on 256x256, 512x512 and 1024x2048 maps.
#include <ATen/ATen.h>
#include <benchmark/benchmark.h>

#include "boundseg/data/synthetic.h"
#include "boundseg/ops/boundary.h"
#include "boundseg/ops/distance_transform.h"

namespace {

// A synthetic Cityscapes label-id map of the requested size, as a tensor.
at::Tensor scene_labels(int64_t h, int64_t w) {
  const auto scene = boundseg::data::make_synthetic_scene(1, static_cast<int>(h), static_cast<int>(w));
  return at::from_blob(scene.label_ids.data, {h, w}, at::kByte).clone();
}

void sizes(benchmark::internal::Benchmark* b) {
  b->Args({256, 256})->Args({512, 512})->Args({1024, 2048})->Unit(benchmark::kMillisecond);
}

void set_pixels(benchmark::State& state) {
  state.counters["pixels/s"] = benchmark::Counter(double(state.range(0) * state.range(1)) * state.iterations(),
                                                  benchmark::Counter::kIsRate);
}

void BM_MaskToBoundary(benchmark::State& state) {
  const at::Tensor mask = scene_labels(state.range(0), state.range(1)).eq(26).to(at::kByte);
  for (auto _ : state) benchmark::DoNotOptimize(boundseg::ops::mask_to_boundary(mask, 0.02));
  set_pixels(state);
}
BENCHMARK(BM_MaskToBoundary)->Apply(sizes);

void BM_LabelBoundaryBand(benchmark::State& state) {
  const at::Tensor labels = scene_labels(state.range(0), state.range(1));
  for (auto _ : state) benchmark::DoNotOptimize(boundseg::ops::label_boundary_band(labels, 0.02));
  set_pixels(state);
}
BENCHMARK(BM_LabelBoundaryBand)->Apply(sizes);

void BM_CblBoundaryTargets(benchmark::State& state) {
  const at::Tensor labels = scene_labels(state.range(0), state.range(1));
  for (auto _ : state) benchmark::DoNotOptimize(boundseg::ops::cbl_boundary_targets(labels));
  set_pixels(state);
}
BENCHMARK(BM_CblBoundaryTargets)->Apply(sizes);

void BM_InverseFormEdges(benchmark::State& state) {
  const at::Tensor labels = scene_labels(state.range(0), state.range(1));
  for (auto _ : state) benchmark::DoNotOptimize(boundseg::ops::inverseform_edges(labels));
  set_pixels(state);
}
BENCHMARK(BM_InverseFormEdges)->Apply(sizes);

void BM_SegmentDistanceTransform(benchmark::State& state) {
  const at::Tensor labels = scene_labels(state.range(0), state.range(1));
  for (auto _ : state) benchmark::DoNotOptimize(boundseg::ops::segment_distance_transform(labels));
  set_pixels(state);
}
BENCHMARK(BM_SegmentDistanceTransform)->Apply(sizes);

}  // namespace
