// Permutohedral-lattice Gaussian filtering (Adams, Baek & Davis 2010, in Krähenbühl's DenseCRF form; rloss.md §2).
//
// A lattice is built once from per-point guide features and then filters any number of value channels in one
// pass: out = A · values with A ≈ c · exp(-½‖f_a − f_b‖²) (c ≈ 0.5–0.65, unnormalised, self term included).
// filter(..., transpose = true) applies Aᵀ exactly (the blur passes in reverse order), which the exact gradients of
// the DenseCRF and normalized-cut losses need.
#pragma once

#include <ATen/core/Tensor.h>
#include <torch/arg.h>

#include <cstdint>
#include <memory>
#include <utility>

namespace boundseg::ops {

/// Which lattice to build (rloss.md §2.6, §8 #3).
enum class LatticeMode {
  /// Every lattice point is a real point: the result depends only on the features, not on the point count.
  kClean,
  /// Reproduces the official rloss filter (its SSE code path): when the point count is not a multiple of 4, the
  /// empty lanes of the last block of 4 are zero-feature "phantom" points whose lattice vertices are inserted
  /// (they receive no value but take part in the blur). The two modes differ by 1e-4–2e-3 relative on such sizes,
  /// mostly when dark pixels lie near the top-left corner; otherwise they are identical.
  kReference,
};

/// A permutohedral lattice over P points with d-dimensional features (1 <= d <= 16). Immutable after construction;
/// filter() may be called concurrently. Copies share the lattice.
class PermutohedralLattice {
 public:
  /// features: float32 CPU (P, d), already divided by the bandwidths. Raises when an elevated coordinate would
  /// overflow the 16-bit lattice keys (a bandwidth that is tiny against the feature range).
  explicit PermutohedralLattice(const at::Tensor& features, LatticeMode mode = LatticeMode::kClean);

  int64_t num_points() const;
  int64_t dim() const;
  /// Number of lattice vertices M (including phantom ones in reference mode).
  int64_t num_vertices() const;

  /// values: float32 CPU (P, C) → (P, C). transpose = false applies A, true applies Aᵀ.
  at::Tensor filter(const at::Tensor& values, bool transpose = false) const;
  /// Raw form: `in` and `out` are P × channels floats, point-major; they must not overlap.
  void filter(const float* in, float* out, int64_t channels, bool transpose = false) const;

  struct Impl;

 private:
  std::shared_ptr<const Impl> impl_;
};

/// The bilateral (x, y, colour) guide features of one image, in rloss' order: (column / σ_xy, row / σ_xy,
/// c_0 / σ_rgb, …, c_{C-1} / σ_rgb), one row per pixel in raster order. image: float32 (C, H, W), any C >= 1.
at::Tensor bilateral_features(const at::Tensor& image, double sigma_rgb, double sigma_xy);

/// Options of bilateral_filter.
struct BilateralFilterOptions {
  /// Colour bandwidth on the image's scale (0..255 images). Default 15 (rloss recipe).
  TORCH_ARG(double, sigma_rgb) = 15.0;
  /// Spatial bandwidth in pixels of the given image. Default 50 (rloss' 100 at scale 0.5).
  TORCH_ARG(double, sigma_xy) = 50.0;
  /// Default clean (see LatticeMode).
  TORCH_ARG(LatticeMode, mode) = LatticeMode::kClean;
  /// Apply Aᵀ instead of A. Default false.
  TORCH_ARG(bool, transpose) = false;
};

/// One-shot bilateral filtering of value maps guided by images: builds one lattice per image and filters all K
/// channels in one pass, images in parallel. image: float32 (C, H, W) or (N, C, H, W); values: float32 (K, H, W) or
/// (N, K, H, W) with the same N, H, W. Returns float32 of the values' shape (rloss' bilateralfilter_batch).
at::Tensor bilateral_filter(const at::Tensor& image, const at::Tensor& values, const BilateralFilterOptions& options = {});

/// A·values and Aᵀ·values from the same lattices (options.transpose is ignored): what exact gradients of lattice
/// quadratic forms need. Shapes and types as bilateral_filter.
std::pair<at::Tensor, at::Tensor> bilateral_filter_and_transpose(const at::Tensor& image, const at::Tensor& values,
                                                                 const BilateralFilterOptions& options = {});

}  // namespace boundseg::ops
