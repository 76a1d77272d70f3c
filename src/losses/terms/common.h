// Option keys shared by several registered losses.
#pragma once

#include <string>
#include <vector>

#include "boundseg/core/options.h"
#include "boundseg/losses/loss.h"
#include "boundseg/losses/rloss.h"

namespace boundseg::losses::detail {

/// `class_weights`: one weight per class, or "cityscapes" (openseg's Cityscapes ce_weight).
void class_weights_key(std::vector<double>& weights, OptionKeys& keys);
/// Empty or one weight per class of the task.
void validate_class_weight_count(const std::vector<double>& weights, const LossContext& context,
                                 const OptionSite& site);
/// The RGBXY kernel of the DenseCRF-type losses: sigma_rgb, sigma_xy, scale_factor, gradient, lattice.
void crf_kernel_keys(CrfKernelOptions& kernel, OptionKeys& keys);

}  // namespace boundseg::losses::detail
