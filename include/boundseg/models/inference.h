// Whole-image and sliding-window inference with flip and multi-scale test-time augmentation.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

#include <opencv2/core/mat.hpp>

#include "boundseg/models/hrnet_ocr.h"

namespace boundseg::models {

struct InferenceOptions {
  /// Sliding-window crop (height, width); {0, 0} = the whole image in one pass.
  int64_t crop_height = 0, crop_width = 0;
  /// Window stride; {0, 0} = 2/3 of the crop.
  int64_t stride_height = 0, stride_width = 0;
  /// Also predict the horizontally flipped image and average the logits.
  bool flip = false;
  /// Image scales (bilinear resize); logits are resized back and averaged.
  std::vector<double> scales = {1.0};
};

/// openseg's input convention (segfix.md §4): BGR uint8 -> float /255, then the RGB ImageNet mean/std applied to
/// the B, G, R channels in that order. bgr: CV_8UC3 -> (1, 3, H, W) float.
at::Tensor normalize_openseg(const cv::Mat& bgr);

/// Main logits (1, K, H, W) of `model` (eval mode) for a normalised image (1, 3, H, W), averaged over windows, flips
/// and scales; windows that overlap are averaged per pixel, images smaller than the crop are zero-padded.
at::Tensor predict_logits(HrnetOcr& model, const at::Tensor& image, const InferenceOptions& options);

}  // namespace boundseg::models
