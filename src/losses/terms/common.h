// Option keys shared by several registered losses.
#pragma once

#include <ATen/ATen.h>

#include <string>
#include <vector>

#include "boundseg/core/options.h"
#include "boundseg/losses/loss.h"
#include "boundseg/losses/ocr_losses.h"
#include "boundseg/losses/rloss.h"

namespace boundseg::losses::detail {

/// `class_weights`: one weight per class, or "cityscapes" (openseg's Cityscapes ce_weight).
void class_weights_key(std::vector<double>& weights, OptionKeys& keys);
/// Empty or one weight per class of the task.
void validate_class_weight_count(const std::vector<double>& weights, const LossContext& context,
                                 const OptionSite& site);
/// The RGBXY kernel of the DenseCRF-type losses: sigma_rgb, sigma_xy, scale_factor, gradient, lattice.
void crf_kernel_keys(CrfKernelOptions& kernel, OptionKeys& keys);

/// Base of the cross-entropy losses: key `class_weights` (one per class), the options' own validate().
template <typename D, typename Options>
class ClassWeightedLoss : public LogitsLoss<D, Options> {
 public:
  using LogitsLoss<D, Options>::LogitsLoss;
  static void keys(Options& o, OptionKeys& keys) { class_weights_key(o.class_weights(), keys); }
  static void validate(const Options& o, const LossContext& context, const OptionSite& site) {
    losses::validate(o, site);
    validate_class_weight_count(o.class_weights(), context, site);
  }
};

/// A regulariser of the softmax on the batch's RGB images and ROI (rloss): `Loss(images, probabilities, roi,
/// options)` with `LossOptions().weight(1).kernel(...)` (the term's weight is the term's `weight`).
template <typename LossOptions, at::Tensor (*Loss)(const at::Tensor&, const at::Tensor&, const at::Tensor&,
                                                   const LossOptions&)>
class CrfRegulariser : public LogitsLoss<CrfRegulariser<LossOptions, Loss>, CrfKernelOptions> {
 public:
  using LogitsLoss<CrfRegulariser, CrfKernelOptions>::LogitsLoss;
  static void keys(CrfKernelOptions& o, OptionKeys& keys) { crf_kernel_keys(o, keys); }
  static void validate(const CrfKernelOptions& o, const LossContext&, const OptionSite& site) {
    losses::validate(o, site);
  }
  std::vector<std::string> targets() const override { return {"rgb", "roi"}; }
  at::Tensor compute(const at::Tensor& logits, const TensorMap& targets) const {
    return Loss(named(targets, "rgb", "regulariser", "target"), at::softmax(logits, 1),
                named(targets, "roi", "regulariser", "target"), LossOptions().weight(1.0).kernel(this->options_));
  }
};

}  // namespace boundseg::losses::detail
