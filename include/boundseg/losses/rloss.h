// Weakly-supervised segmentation losses of rloss (Tang et al., ECCV 2018; rloss.md): partial cross-entropy on
// scribbles, the DenseCRF regulariser on the permutohedral lattice, the normalized-cut loss and a size constraint.
//
// Images are float (N, 3, H, W) RGB on the 0..255 scale; probabilities are softmax outputs (N, K, H, W) at the
// image's resolution; an ROI is float (N, H, W) in {0, 1} (0 = padding: no contribution, no gradient). The losses
// are autograd-aware and return float32 0-dim tensors.
#pragma once

#include <ATen/core/Tensor.h>
#include <torch/arg.h>
#include <torch/nn/cloneable.h>
#include <torch/nn/pimpl.h>

#include <cstdint>

#include "boundseg/core/options.h"
#include "boundseg/ops/permutohedral.h"

namespace boundseg::losses {

/// Gradient of the lattice quadratic forms (rloss.md §1.4, §8 #2).
enum class CrfGradient {
  /// −2·A·S, as rloss: the gradient of −SᵀAS if A were symmetric (it differs from the true one by 2–5 % in L2).
  kReference,
  /// −(A + Aᵀ)·S through one extra transposed filtering: the true gradient of the computed forward value.
  kExact,
};

/// The RGBXY Gaussian affinity of the DenseCRF and normalized-cut losses, and the resolution it runs at.
struct CrfKernelOptions {
  /// Colour bandwidth (0..255 scale). Default 15.
  TORCH_ARG(double, sigma_rgb) = 15.0;
  /// Spatial bandwidth in pixels of the full-resolution input; the filter uses sigma_xy · scale_factor. Default 100.
  TORCH_ARG(double, sigma_xy) = 100.0;
  /// The image and ROI are resized with nearest and the probabilities with bilinear (align_corners false) by this
  /// factor, exactly as F.interpolate(scale_factor=s) (rloss.md §1.3, including its half-pixel misalignment).
  /// In (0, 1]. Default 0.5.
  TORCH_ARG(double, scale_factor) = 0.5;
  /// Default clean; kReference reproduces the official filter (ops::LatticeMode).
  TORCH_ARG(ops::LatticeMode, lattice) = ops::LatticeMode::kClean;
  /// Default kReference.
  TORCH_ARG(CrfGradient, gradient) = CrfGradient::kReference;
};

/// Bandwidths positive and finite, scale_factor in (0, 1] (keys sigma_rgb, sigma_xy, scale_factor).
void validate(const CrfKernelOptions& kernel, const OptionSite& site);

/// Options of dense_crf_loss.
struct DenseCrfLossOptions {
  /// Loss weight. It is calibrated to the lattice, the resolution, the crop size and the pCE normalisation: retune
  /// it when any of them changes (rloss.md §1.2). Default 2e-9 (rloss PyTorch recipe).
  TORCH_ARG(double, weight) = 2e-9;
  TORCH_ARG(CrfKernelOptions, kernel) = {};
  /// Add the constant Σ_n Rᵀ·A·R / N that rloss drops, so that the value is the non-negative relaxed Potts energy
  /// (logging only: gradients are unchanged). Default false (reference: loss <= 0).
  TORCH_ARG(bool, add_constant) = false;

 public:  // TORCH_ARG leaves the section private
  /// rloss' PyTorch recipe: σ_rgb 15, σ_xy 100, scale 0.5, weight 2e-9, reference lattice (use with pCE
  /// batch_average = true).
  static DenseCrfLossOptions rloss_pytorch();
  /// rloss' Caffe recipe (DeepLab-largeFOV/MSc/VGG16): σ 15/100 at full resolution, weight 1e-8.
  static DenseCrfLossOptions rloss_caffe();
  /// rloss' Caffe ResNet-101 recipe: σ_rgb 13, σ_xy 80, full resolution, weight 1e-8.
  static DenseCrfLossOptions rloss_caffe_resnet101();
};

/// The inputs of the lattice after rloss' resizing: image and ROI nearest, probabilities bilinear, sizes
/// floor(H·s) x floor(W·s); sigma_xy already multiplied by the scale factor.
struct CrfInputs {
  at::Tensor image, probabilities, roi;
  double sigma_xy = 0.0;
};
CrfInputs scale_crf_inputs(const at::Tensor& images, const at::Tensor& probabilities, const at::Tensor& roi,
                           const CrfKernelOptions& kernel);

/// DenseCRF loss (rloss.md §1): weight · (1/N) Σ_n −Σ_k S̃_kᵀ A S̃_k with S̃ = S ∘ ROI at the scaled resolution.
at::Tensor dense_crf_loss(const at::Tensor& images, const at::Tensor& probabilities, const at::Tensor& roi,
                          const DenseCrfLossOptions& options = {});

/// Options of normalized_cut_loss.
struct NormalizedCutLossOptions {
  /// NC is scale-free (in [0, K]): weights are O(0.1–1). Default 1.
  TORCH_ARG(double, weight) = 1.0;
  TORCH_ARG(CrfKernelOptions, kernel) = {};
};

/// Normalized-cut loss (rloss.md §5.1): weight · (1/N) Σ_n Σ_k (b_k − a_k)/b_k with a_k = S̃_kᵀ A S̃_k,
/// b_k = dᵀ S̃_k, degrees d = A·ROI. A class with b_k below 1e-6·dᵀROI (absent from the image) uses that floor and
/// contributes ≈ 1 with no gradient through its b_k.
at::Tensor normalized_cut_loss(const at::Tensor& images, const at::Tensor& probabilities, const at::Tensor& roi,
                               const NormalizedCutLossOptions& options = {});

/// Options of size_loss.
struct SizeLossOptions {
  /// Default 1.
  TORCH_ARG(double, weight) = 1.0;
};

/// Size constraint (rloss.md §5.2, Kervadec et al.): soft sizes V_nk = Σ_p S_nk(p)·ROI(p) in pixels; penalty
/// (V − lower)² below the lower bound, (V − upper)² above the upper one, divided by H·W and averaged over the
/// constrained (n, k) pairs (lower > 0 or upper finite). lower, upper: float (N, K) in pixels, lower <= upper;
/// use +inf for "no upper bound".
at::Tensor size_loss(const at::Tensor& probabilities, const at::Tensor& roi, const at::Tensor& lower,
                     const at::Tensor& upper, const SizeLossOptions& options = {});

/// Options of partial_cross_entropy.
struct PartialCrossEntropyOptions {
  /// Unlabelled (not scribbled) pixels. Default 255.
  TORCH_ARG(int64_t, ignore_index) = 255;
  /// Padding added by crops: excluded from the loss like unlabelled pixels, and outside the CRF's ROI. Default 254.
  TORCH_ARG(int64_t, padding_index) = 254;
  /// Divide once more by the batch size, as rloss' PyTorch code does (needed to reuse its 2e-9 CRF weight).
  /// Default false.
  TORCH_ARG(bool, batch_average) = false;
};

/// Partial cross-entropy (rloss.md §3.1): mean of −log softmax over the labelled pixels. A batch without any
/// labelled pixel gives 0 with a zero gradient (rloss: NaN). logits (N, K, H, W); scribbles int64 (N, H, W).
at::Tensor partial_cross_entropy(const at::Tensor& logits, const at::Tensor& scribbles,
                                 const PartialCrossEntropyOptions& options = {});

/// The ROI of a scribble map: 1 except on padding pixels.
at::Tensor scribble_roi(const at::Tensor& scribbles, int64_t padding_index = 254);

/// The ROI rule of rloss' Caffe layer (rloss.md §1.6): 0 where all three channels of the mean-subtracted `data`
/// blob (N, 3, H, W) truncate to 0 (|x| < 1), i.e. mean-colour padding, else 1.
at::Tensor caffe_roi(const at::Tensor& mean_subtracted_data);

/// Module form of dense_crf_loss; forward(images, probabilities, roi).
class DenseCrfLossImpl : public torch::nn::Cloneable<DenseCrfLossImpl> {
 public:
  explicit DenseCrfLossImpl(DenseCrfLossOptions options = {});
  void reset() override;
  at::Tensor forward(const at::Tensor& images, const at::Tensor& probabilities, const at::Tensor& roi);
  DenseCrfLossOptions options;
};
TORCH_MODULE(DenseCrfLoss);

/// Module form of normalized_cut_loss; forward(images, probabilities, roi).
class NormalizedCutLossImpl : public torch::nn::Cloneable<NormalizedCutLossImpl> {
 public:
  explicit NormalizedCutLossImpl(NormalizedCutLossOptions options = {});
  void reset() override;
  at::Tensor forward(const at::Tensor& images, const at::Tensor& probabilities, const at::Tensor& roi);
  NormalizedCutLossOptions options;
};
TORCH_MODULE(NormalizedCutLoss);

}  // namespace boundseg::losses
