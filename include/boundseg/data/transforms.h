// Training-time augmentation of an (image, label) pair and the network's input normalisation.
#pragma once

#include <cstdint>
#include <random>

#include <ATen/core/Tensor.h>
#include <opencv2/core/mat.hpp>

#include <vector>

#include "boundseg/core/options.h"
#include "boundseg/data/target.h"

namespace boundseg::data {

/// Augmentation, applied in this order (hrnet_ocr.md §5; mmseg for the crop retry and the photometric terms).
struct AugmentOptions {
  /// Random resize: scale s ~ U[scale_min, scale_max], aspect a ~ U[aspect_min, aspect_max]; the image becomes
  /// (h · s / √a) x (w · s · √a), image bicubic, label nearest. Defaults 0.5, 2.0, 1, 1.
  double scale_min = 0.5, scale_max = 2.0, aspect_min = 1.0, aspect_max = 1.0;
  /// Crop size; smaller images are padded (image 0, label ignore). Default 512 x 1024.
  int64_t crop_height = 512, crop_width = 1024;
  /// A crop where one class covers more than this fraction of the labelled pixels is re-drawn, up to 10 times
  /// (mmseg RandomCrop cat_max_ratio). 1 = off. Default 0.75.
  double cat_max_ratio = 0.75;
  /// Horizontal flip probability. Default 0.5.
  double flip_probability = 0.5;
  /// mmseg PhotoMetricDistortion: brightness ±32, contrast ×[0.5, 1.5], saturation ×[0.5, 1.5], hue ±18°, each
  /// with probability 1/2. Default true.
  bool photometric = true;
};

/// scale and aspect ranges positive and ordered, crops >= 8 px, cat_max_ratio in (0, 1], flip probability in [0, 1].
void validate(const AugmentOptions& options, const OptionSite& site);

/// One augmented pair: image CV_8UC3 BGR and label CV_8U, both crop-sized; `inside` CV_8U is 1 on image pixels
/// and 0 on padding (the ROI of regularised losses); `carried` the augmented carried maps, in order.
struct AugmentedPair {
  cv::Mat image, label, inside;
  std::vector<cv::Mat> carried;
};

/// Applies `options` to `image` (CV_8UC3) and `label` (CV_8U train ids, `ignore_index` = ignore), drawing every
/// random number from `rng` (same rng state, same result). `carried` maps (single-channel, the label's size, e.g. a
/// target made from the full-size label) go through the same geometry as the label: nearest resize, padding with
/// their pad value, the crop, the flip (then their after_flip); they draw no random numbers.
AugmentedPair augment(const cv::Mat& image, const cv::Mat& label, const AugmentOptions& options, int64_t ignore_index,
                      std::mt19937_64& rng, const std::vector<CarriedMap>& carried = {});

/// openseg's input convention (segfix.md §4): BGR uint8 / 255, then the RGB ImageNet mean/std applied to the B, G, R
/// channels in that order (the released weights depend on it). Writes 3 planes of H x W floats to `chw`.
void normalize_openseg_into(const cv::Mat& bgr, float* chw);

/// The colour image as the DenseCRF and bilateral filters take it: float32 (3, H, W), RGB order, 0..255 (rloss.md
/// §1.2). bgr: CV_8UC3.
at::Tensor rgb_float_tensor(const cv::Mat& bgr);

}  // namespace boundseg::data
