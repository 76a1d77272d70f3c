// Inference: input normalisation, sliding windows, flips and scales.
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/csrc/autograd/grad_mode.h>

#include <opencv2/core.hpp>

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
  const at::Tensor got = predict_logits(model, image, o);
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
  EXPECT_TRUE(predict_logits(model, image, whole).equal(predict_logits(model, image, window)));
}

TEST(Inference, FlipAndScalesAverageTheirPasses) {
  HrnetOcr model = small_model();
  const at::Tensor image = at::randn({1, 3, 64, 64});
  InferenceOptions plain, flip, scales;
  flip.flip = true;
  scales.scales = {1.0, 0.5};
  const at::Tensor p = predict_logits(model, image, plain);
  torch::NoGradGuard no_grad;
  const at::Tensor flipped = std::get<1>(model->forward(image.flip({3}))).flip({3});
  EXPECT_TRUE(at::allclose(predict_logits(model, image, flip), (p + flipped) / 2, 1e-5, 1e-5));
  const at::Tensor half = at::upsample_bilinear2d(
      std::get<1>(model->forward(at::upsample_bilinear2d(image, {32, 32}, true))), {64, 64}, true);
  EXPECT_TRUE(at::allclose(predict_logits(model, image, scales), (p + half) / 2, 1e-5, 1e-5));
}

TEST(Inference, RejectsBadImagesAndScales) {
  HrnetOcr model = small_model();
  BOUNDSEG_EXPECT_THROWS_WITH(normalize_openseg(cv::Mat(2, 2, CV_8UC1)), "be an 8-bit 3-channel (BGR) image");
  InferenceOptions o;
  o.scales = {0.0};
  BOUNDSEG_EXPECT_THROWS_WITH(predict_logits(model, at::zeros({1, 3, 8, 8}), o), "hold scales in (0, 8]");
}

}  // namespace
}  // namespace boundseg::models
