// Boundary bands, boundary targets and boundary maps on tensors (CPU).
// Each op takes (H, W) or (N, H, W) tensors and returns the same leading shape.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>

#include "boundseg/core/options.h"

namespace boundseg::ops {

/// The Boundary IoU band ratio of boundary-iou-api (2 % of the image diagonal).
inline constexpr double kBoundaryIouRatio = 0.02;

/// Band width d = max(1, round_half_even(ratio * sqrt(H^2 + W^2))) in pixels.
int64_t boundary_band_width(double dilation_ratio, int64_t height, int64_t width);

/// Boundary IoU inner band of binary masks (boundary-iou-api mask_to_boundary,
/// metrics.md §2.2): mask - erode(mask, (2d+1)^2 square), the image outside
/// counting as background. mask: uint8 (H, W) or (N, H, W), 0/1 or 0/255;
/// returns uint8 on the same scale.
at::Tensor mask_to_boundary(const at::Tensor& mask, double dilation_ratio = kBoundaryIouRatio);

/// Per-class band of a label map: bool, true where the pixel lies in the
/// mask_to_boundary band of its own label, so the band of class c is
/// `(labels == c) & band`. labels: uint8/int16/int32/int64 (H, W) or (N, H, W).
at::Tensor label_boundary_band(const at::Tensor& labels, double dilation_ratio = kBoundaryIouRatio);

/// Options of CBL's boundary ground truth (cbl.md §2).
struct CblBoundaryOptions {
  /// The reference ignores its dilation argument and always uses 0.02.
  double dilation_ratio = kBoundaryIouRatio;
  uint8_t ignore_index = 255;
  /// GenerateBoundary marks ignore pixels with ignore_index; the raw
  /// multi_class_gt_to_boundary leaves them 0. Default: as GenerateBoundary.
  bool mark_ignore = true;
};

/// CBL multi-class boundary GT of trainId maps (uint8, 255 = ignore):
/// uint8 {0, 1, 255}; a map without any class is all ignore_index.
at::Tensor cbl_boundary_targets(const at::Tensor& labels, const CblBoundaryOptions& options = {});

/// Checks dilation_ratio (finite, >= 0) at `site`.
void validate(const CblBoundaryOptions& options, const OptionSite& site);

/// Options of the InverseForm / GSCNN edge ground truth (inverseform.md §7).
struct InverseformEdgeOptions {
  /// One-hot channels for train ids 1..num_classes (id 0 is never a channel, as the reference); in [1, 254].
  int64_t num_classes = 19;
  /// Euclidean half-width of the band on both sides of each class edge, pixels. Default 2.
  double radius = 2.0;
};
void validate(const InverseformEdgeOptions& options, const OptionSite& site);

/// InverseForm / GSCNN edge GT (inverseform.md §7): uint8 0/1 edges of trainId maps (uint8 (H, W) or (N, H, W)).
at::Tensor inverseform_edges(const at::Tensor& labels, const InverseformEdgeOptions& options = {});

/// 1-px boundary map of the boundary F-score (openseg seg2bmap): uint8 0/1.
at::Tensor seg2bmap(const at::Tensor& mask);

}  // namespace boundseg::ops
