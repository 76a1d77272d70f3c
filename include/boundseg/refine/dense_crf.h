// Fully connected CRF inference (Krähenbühl & Koltun, NIPS 2011) on the permutohedral lattice: a refiner for any
// model's softmax output or hard labels (rloss.md §6.1).
#pragma once

#include <ATen/core/Tensor.h>
#include <torch/arg.h>

#include <cstdint>

#include "boundseg/core/options.h"
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

/// iterations >= 1, kernel weights finite and >= 0, bandwidths positive and finite.
void validate(const DenseCrfOptions& options, const OptionSite& site);

/// Mean-field inference: Q ∝ exp(−U + Σ_m w_m · K̃_m Q) with U = −log(probabilities), starting from
/// Q = probabilities. Both lattices are built once and reused by every iteration. image: float (3, H, W) RGB 0..255;
/// probabilities: float (K, H, W), each pixel summing to 1 (clamped to >= 1e-8 before the log). Returns the final
/// Q, float (K, H, W).
at::Tensor dense_crf(const at::Tensor& image, const at::Tensor& probabilities, const DenseCrfOptions& options = {});

/// How hard labels become unary probabilities (pydensecrf's unary_from_labels).
struct LabelUnaryOptions {
  /// Probability of the given label, in (0, 1); the rest is spread evenly over the other classes. Default 0.7.
  TORCH_ARG(double, confidence) = 0.7;
  /// Label value meaning "unknown": uniform probabilities (as is any value outside [0, num_classes)). Default 255.
  TORCH_ARG(int64_t, ignore_index) = 255;
};
void validate(const LabelUnaryOptions& options, const OptionSite& site);

/// Unary probabilities from hard labels. labels: integer (H, W); num_classes >= 2. Returns float (K, H, W).
at::Tensor probabilities_from_labels(const at::Tensor& labels, int64_t num_classes,
                                     const LabelUnaryOptions& options = {});

}  // namespace boundseg::refine
