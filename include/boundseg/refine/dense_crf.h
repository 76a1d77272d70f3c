// Fully connected CRF inference (Krähenbühl & Koltun, NIPS 2011) on the permutohedral lattice: a refiner for any
// model's softmax output or hard labels (rloss.md §6.1).
#pragma once

#include <ATen/core/Tensor.h>
#include <torch/arg.h>

#include <cstdint>

#include "boundseg/ops/permutohedral.h"

namespace boundseg::refine {

/// Mean-field parameters: a Gaussian (smoothness) kernel on (x, y) and a bilateral (appearance) kernel on
/// (x, y, r, g, b), both with Potts compatibility and symmetric normalisation, as pydensecrf's
/// addPairwiseGaussian / addPairwiseBilateral defaults. Defaults = pydensecrf's README values.
struct DenseCrfOptions {
  /// Mean-field iterations, >= 1. Default 5.
  TORCH_ARG(int64_t, iterations) = 5;
  /// Smoothness kernel: spatial bandwidth (pixels) and weight. Defaults 3 and 3.
  TORCH_ARG(double, gaussian_sigma_xy) = 3.0;
  TORCH_ARG(double, gaussian_weight) = 3.0;
  /// Appearance kernel: spatial and colour (0..255) bandwidths and weight. Defaults 80, 13 and 10.
  TORCH_ARG(double, bilateral_sigma_xy) = 80.0;
  TORCH_ARG(double, bilateral_sigma_rgb) = 13.0;
  TORCH_ARG(double, bilateral_weight) = 10.0;
  /// Default clean.
  TORCH_ARG(ops::LatticeMode, lattice) = ops::LatticeMode::kClean;

 public:  // TORCH_ARG leaves the section private
  /// DeepLab's VOC post-processing: Gaussian weight 3, σ_xy 1; bilateral weight 4, σ_xy 67, σ_rgb 3; 10 iterations.
  static DenseCrfOptions deeplab_voc();
};

/// Mean-field inference: Q ∝ exp(−U + Σ_m w_m · K̃_m Q) with U = −log(probabilities), starting from
/// Q = probabilities. Both lattices are built once and reused by every iteration. image: float (3, H, W) RGB 0..255;
/// probabilities: float (K, H, W), each pixel summing to 1 (clamped to >= 1e-8 before the log). Returns the final
/// Q, float (K, H, W).
at::Tensor dense_crf(const at::Tensor& image, const at::Tensor& probabilities, const DenseCrfOptions& options = {});

/// Unary probabilities from hard labels (pydensecrf's unary_from_labels): `confidence` on the given label, the rest
/// spread evenly over the other classes; pixels labelled `ignore_index` (or any value >= num_classes when
/// ignore_index < 0) are uniform. labels: integer (H, W). Returns float (K, H, W).
at::Tensor probabilities_from_labels(const at::Tensor& labels, int64_t num_classes, double confidence = 0.7,
                                     int64_t ignore_index = 255);

}  // namespace boundseg::refine
