// Google Benchmark: the permutohedral lattice and the DenseCRF loss at rloss' PyTorch setting (rloss.md §6):
// N = 4 natural-looking 513 x 513 images, K = 21, scale 0.5 (lattice on 256 x 256, σ_xy 50, σ_rgb 15).
// Arg 0 = intra-op threads (set here, in the benchmark process only).
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <benchmark/benchmark.h>
#include <malloc.h>
#include <torch/autograd.h>

#include "boundseg/data/synthetic.h"
#include "boundseg/data/transforms.h"
#include "boundseg/losses/rloss.h"
#include "boundseg/ops/permutohedral.h"
#include "boundseg/refine/dense_crf.h"

namespace {

// The CLI's allocator settings (apps/boundseg/main.cpp): large buffers stay in the process between steps instead
// of being unmapped and faulted back in.
const bool kCliAllocator = [] {
  mallopt(M_MMAP_THRESHOLD, 256 << 20);
  mallopt(M_TRIM_THRESHOLD, 512 << 20);
  return true;
}();

at::Tensor scene_images(int n, int size) {
  std::vector<at::Tensor> images;
  for (int i = 0; i < n; ++i) {
    images.push_back(boundseg::data::rgb_float_tensor(boundseg::data::make_synthetic_scene(100 + i, size, size).image));
  }
  return at::stack(images);
}

// Softmax of random logits at 1/8 resolution upsampled bilinearly, as the reference timings used.
at::Tensor smooth_probabilities(int n, int k, int size) {
  at::manual_seed(0);
  const at::Tensor coarse = at::randn({n, k, (size + 7) / 8, (size + 7) / 8}) * 3;
  return at::softmax(at::upsample_bilinear2d(coarse, {size, size}, false), 1);
}

void threads(benchmark::internal::Benchmark* b) { b->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime(); }

void BM_DenseCrfLossForwardBackward(benchmark::State& state) {
  at::set_num_threads(static_cast<int>(state.range(0)));
  const at::Tensor images = scene_images(4, 513);
  const at::Tensor probs = smooth_probabilities(4, 21, 513).requires_grad_(true);
  const at::Tensor roi = at::ones({4, 513, 513});
  const auto options = boundseg::losses::DenseCrfLossOptions::rloss_pytorch();
  for (auto _ : state) {
    const at::Tensor loss = boundseg::losses::dense_crf_loss(images, probs, roi, options);
    benchmark::DoNotOptimize(torch::autograd::grad({loss}, {probs}));
  }
}
BENCHMARK(BM_DenseCrfLossForwardBackward)->Apply(threads);

// The lattice alone on the four 256 x 256 scaled images: construction + one 21-channel filtering each.
void BM_LatticeBuildAndFilter21(benchmark::State& state) {
  at::set_num_threads(static_cast<int>(state.range(0)));
  const at::Tensor images = at::upsample_nearest2d(scene_images(4, 513), {256, 256});
  const at::Tensor values = smooth_probabilities(4, 21, 256);
  const auto options = boundseg::ops::BilateralFilterOptions().sigma_rgb(15).sigma_xy(50).mode(
      boundseg::ops::LatticeMode::kReference);
  for (auto _ : state) benchmark::DoNotOptimize(boundseg::ops::bilateral_filter(images, values, options));
  const auto lattice = boundseg::ops::PermutohedralLattice(
      boundseg::ops::bilateral_features(images[0], 15, 50), boundseg::ops::LatticeMode::kReference);
  state.counters["vertices_img0"] = static_cast<double>(lattice.num_vertices());
}
BENCHMARK(BM_LatticeBuildAndFilter21)->Apply(threads);

void BM_LatticeBuildOnly(benchmark::State& state) {
  at::set_num_threads(1);
  const at::Tensor image = at::upsample_nearest2d(scene_images(1, 513), {256, 256})[0];
  const at::Tensor features = boundseg::ops::bilateral_features(image, 15, 50);
  for (auto _ : state) {
    benchmark::DoNotOptimize(boundseg::ops::PermutohedralLattice(features, boundseg::ops::LatticeMode::kReference));
  }
}
BENCHMARK(BM_LatticeBuildOnly)->Unit(benchmark::kMillisecond);

// DenseCRF inference on a VOC-sized frame (500 x 375), 21 labels, 10 mean-field iterations, pydensecrf kernels;
// unaries: one-hot labels at 1/8 resolution with noise, upsampled (ConvCRF's synthetic protocol, rloss.md §6.1).
void BM_DenseCrfInference500x375(benchmark::State& state) {
  at::set_num_threads(static_cast<int>(state.range(0)));
  const auto scene = boundseg::data::make_synthetic_scene(7, 375, 500);
  const at::Tensor image = boundseg::data::rgb_float_tensor(scene.image);
  at::manual_seed(0);
  const at::Tensor coarse = at::softmax(at::randn({1, 21, 47, 63}) * 2, 1);
  const at::Tensor unary = at::upsample_bilinear2d(coarse, {375, 500}, false)[0];
  const auto options = boundseg::refine::DenseCrfOptions().iterations(10);
  for (auto _ : state) benchmark::DoNotOptimize(boundseg::refine::dense_crf(image, unary, options));
}
BENCHMARK(BM_DenseCrfInference500x375)->Apply(threads);

}  // namespace
