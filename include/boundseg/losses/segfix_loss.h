// SegFix training loss: weighted boundary-mask CE + weighted direction CE on predicted boundary pixels (segfix.md §5).
#pragma once

#include <ATen/core/Tensor.h>
#include <torch/arg.h>

#include "boundseg/core/options.h"
#include <torch/nn/cloneable.h>
#include <torch/nn/pimpl.h>

#include <cstdint>

namespace boundseg::losses {

/// Options of the SegFix loss (openseg SegFixLoss; env dt_max_distance, mask_threshold, mask_weight,
/// direction_weight, dt_num_classes).
struct SegFixLossOptions {
  /// Boundary = 0 <= distance <= max_distance (pixels). Default 5.
  TORCH_ARG(int64_t, max_distance) = 5;
  /// The direction is supervised where softmax(mask)[:, 1] > mask_threshold (strict), in [0, 1]. Default 0.5.
  TORCH_ARG(double, mask_threshold) = 0.5;
  /// Weight of the boundary-mask term. Default 1.
  TORCH_ARG(double, mask_weight) = 1.0;
  /// Weight of the direction term. Default 1.
  TORCH_ARG(double, direction_weight) = 1.0;
  /// Direction bins: 4, 8, 16 or 32 (the direction logits' channel count). Default 8.
  TORCH_ARG(int64_t, num_bins) = 8;
};

/// Throws boundseg::Error naming `where` and the first invalid option.
void validate(const SegFixLossOptions& options, const OptionSite& site);

/// The loader's SegFix targets at label resolution (segfix.md §3).
struct SegFixTargets {
  /// trainIds (N, H, W), any integer dtype (int64 from the loader), -1 = ignore.
  at::Tensor seg;
  /// int32(depth) (N, H, W), any integer dtype.
  at::Tensor distance;
  /// 2q - 180 degrees (N, H, W), float64 (or float32).
  at::Tensor angle;
};

/// The two terms and their weighted sum, each a 0-d tensor of the logits' dtype.
struct SegFixLossTerms {
  at::Tensor mask;       ///< L_mask
  at::Tensor direction;  ///< L_dir
  at::Tensor total;      ///< mask_weight·L_mask + direction_weight·L_dir
};

namespace functional {

/// SegFix loss (segfix.md §5): both logit maps upsampled bilinearly (align_corners=True) to the targets' H, W;
/// L_mask = CE(mask, boundary label, weights 1 - freq of the two classes in this batch, ignore -1); L_dir = CE(dir,
/// direction bins, weights 1 - freq over the supervised pixels, ignore -1), supervised where seg != -1 and the
/// upsampled softmax(mask)[:, 1] > mask_threshold. A term whose weighted pixel count Σ w[y] is 0 is 0 with zero
/// gradient instead of the reference's NaN (§10 #3: no pixel predicted as boundary; likewise every supervised pixel
/// in one class, or none at all).
/// mask_logits: float (N, 2, h, w); dir_logits: float (N, num_bins, h, w), same dtype; targets (N, H, W).
SegFixLossTerms segfix_loss_terms(const at::Tensor& mask_logits, const at::Tensor& dir_logits,
                                  const SegFixTargets& targets, const SegFixLossOptions& options = {});

/// segfix_loss_terms(...).total.
at::Tensor segfix_loss(const at::Tensor& mask_logits, const at::Tensor& dir_logits, const SegFixTargets& targets,
                       const SegFixLossOptions& options = {});

}  // namespace functional

/// Module form of functional::segfix_loss; holds only its validated options.
class SegFixLossImpl : public torch::nn::Cloneable<SegFixLossImpl> {
 public:
  explicit SegFixLossImpl(SegFixLossOptions options = {});
  void reset() override;
  at::Tensor forward(const at::Tensor& mask_logits, const at::Tensor& dir_logits, const SegFixTargets& targets);
  SegFixLossOptions options;
};
TORCH_MODULE(SegFixLoss);

}  // namespace boundseg::losses
