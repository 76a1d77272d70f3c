// Inference: input normalisation, sliding windows, flips and scales.
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/csrc/autograd/grad_mode.h>

#include <opencv2/core.hpp>

#include "boundseg/models/hrnet_ocr.h"
#include "boundseg/models/inference.h"
#include "support/golden.h"

namespace boundseg::models {
namespace {

HrnetOcr small_model() {
  torch::manual_seed(3);
  HrnetOcr model(hrnet_ocr_options("hrnet18", 5));
  model->eval();
  return model;
}

Segmenter segmenter(HrnetOcr model) {
  return [model](const at::Tensor& x) mutable { return std::get<1>(model->forward(x)); };
}

TEST(Inference, NormalisationAppliesRgbStatisticsToBgrChannels) {
  cv::Mat image(1, 1, CV_8UC3, cv::Scalar(255, 0, 128));  // B, G, R
  const at::Tensor x = normalize_openseg(image);
  ASSERT_EQ(x.sizes(), (at::IntArrayRef{1, 3, 1, 1}));
  EXPECT_NEAR(x[0][0][0][0].item<float>(), (1.0 - 0.485) / 0.229, 1e-6);
  EXPECT_NEAR(x[0][1][0][0].item<float>(), (0.0 - 0.456) / 0.224, 1e-6);
  EXPECT_NEAR(x[0][2][0][0].item<float>(), (128.0 / 255.0 - 0.406) / 0.225, 1e-6);
}

TEST(Inference, SlidingWindowsAverageOverlapsLikeSeparateForwards) {
  HrnetOcr model = small_model();
  const at::Tensor image = at::randn({1, 3, 64, 96});
  InferenceOptions o;
  o.crop_height = 64;
  o.crop_width = 64;
  o.stride_width = 48;  // windows at x = 0 and x = 32 (the last one ends at the border)
  const at::Tensor got = predict_logits(segmenter(model), image, o);
  torch::NoGradGuard no_grad;
  const at::Tensor left = std::get<1>(model->forward(image.slice(3, 0, 64)));
  const at::Tensor right = std::get<1>(model->forward(image.slice(3, 32, 96)));
  at::Tensor expected = at::zeros_like(got);
  expected.slice(3, 0, 32).copy_(left.slice(3, 0, 32));
  expected.slice(3, 32, 64).copy_((left.slice(3, 32, 64) + right.slice(3, 0, 32)) / 2);
  expected.slice(3, 64, 96).copy_(right.slice(3, 32, 64));
  EXPECT_TRUE(at::allclose(got, expected, 1e-5, 1e-5));
}

TEST(Inference, OneWindowOfTheImageSizeEqualsTheWholeImage) {
  HrnetOcr model = small_model();
  const at::Tensor image = at::randn({1, 3, 64, 64});
  InferenceOptions whole, window;
  window.crop_height = window.crop_width = 64;
  EXPECT_TRUE(predict_logits(segmenter(model), image, whole).equal(predict_logits(segmenter(model), image, window)));
}

TEST(Inference, FlipAndScalesAverageTheirPasses) {
  HrnetOcr model = small_model();
  const at::Tensor image = at::randn({1, 3, 64, 64});
  InferenceOptions plain, flip, scales;
  flip.flip = true;
  scales.scales = {1.0, 0.5};
  const at::Tensor p = predict_logits(segmenter(model), image, plain);
  torch::NoGradGuard no_grad;
  const at::Tensor flipped = std::get<1>(model->forward(image.flip({3}))).flip({3});
  EXPECT_TRUE(at::allclose(predict_logits(segmenter(model), image, flip), (p + flipped) / 2, 1e-5, 1e-5));
  const at::Tensor half = at::upsample_bilinear2d(
      std::get<1>(model->forward(at::upsample_bilinear2d(image, {32, 32}, true))), {64, 64}, true);
  EXPECT_TRUE(at::allclose(predict_logits(segmenter(model), image, scales), (p + half) / 2, 1e-5, 1e-5));
}

TEST(Inference, BatchedWindowsAndFlipsMatchOneByOne) {
  HrnetOcr model = small_model();
  const at::Tensor image = at::randn({1, 3, 64, 96});
  InferenceOptions one, batched;
  one.crop_height = batched.crop_height = 64;
  one.crop_width = batched.crop_width = 64;
  one.stride_width = batched.stride_width = 16;  // windows at x = 0, 16, 32: with flips 6 passes
  one.flip = batched.flip = true;
  batched.batch_size = 4;  // batches of 4 and 2
  int calls = 0;
  Segmenter counted = [&](const at::Tensor& x) {
    ++calls;
    return segmenter(model)(x);
  };
  const at::Tensor expected = predict_logits(counted, image, one);
  EXPECT_EQ(calls, 6);
  calls = 0;
  const at::Tensor got = predict_logits(counted, image, batched);
  EXPECT_EQ(calls, 2);
  // Kernel choice depends on the batch size, so only the last float bits may differ.
  EXPECT_TRUE(at::allclose(got, expected, 1e-5, 1e-5)) << (got - expected).abs().max().item<double>();
}

TEST(Inference, RejectsBadImagesAndScales) {
  HrnetOcr model = small_model();
  BOUNDSEG_EXPECT_THROWS_WITH(normalize_openseg(cv::Mat(2, 2, CV_8UC1)), "be an 8-bit 3-channel (BGR) image");
  InferenceOptions o;
  o.scales = {0.0};
  BOUNDSEG_EXPECT_THROWS_WITH(predict_logits(segmenter(model), at::zeros({1, 3, 8, 8}), o), "hold scales in (0, 8]");
  InferenceOptions zero_batch;
  zero_batch.batch_size = 0;
  BOUNDSEG_EXPECT_THROWS_WITH(predict_logits(segmenter(model), at::zeros({1, 3, 8, 8}), zero_batch),
                              "boundseg infer: --batch-size must be positive, but got 0.");
}

}  // namespace
}  // namespace boundseg::models
