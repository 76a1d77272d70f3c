// Whole-image and sliding-window inference with flip and multi-scale test-time augmentation.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>
#include <vector>

#include <opencv2/core/mat.hpp>


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
  /// Forward passes of one scale (windows and their flips) run together in batches of up to this many inputs.
  /// Batching changes results only in the last float bits (kernel choice depends on the batch size).
  int64_t batch_size = 1;
};

/// A segmenter: normalised images (B, 3, h, w) -> class logits (B, K, h, w).
using Segmenter = std::function<at::Tensor(const at::Tensor&)>;

/// openseg's input convention (segfix.md §4): BGR uint8 -> float /255, then the RGB ImageNet mean/std applied to
/// the B, G, R channels in that order. bgr: CV_8UC3 -> (1, 3, H, W) float.
at::Tensor normalize_openseg(const cv::Mat& bgr);

/// Logits (1, K, H, W) of `segment` (a model in eval mode) for a normalised image (1, 3, H, W), averaged over
/// windows, flips and scales; windows that overlap are averaged per pixel, images smaller than the crop are
/// zero-padded.
at::Tensor predict_logits(const Segmenter& segment, const at::Tensor& image, const InferenceOptions& options);

}  // namespace boundseg::models
