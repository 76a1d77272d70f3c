// Option keys shared by several registered losses.
#include "losses/terms/common.h"

#include "boundseg/losses/ocr_losses.h"

namespace boundseg::losses::detail {

void class_weights_key(std::vector<double>& weights, OptionKeys& keys) {
  keys("class_weights", weights, {{"cityscapes", cityscapes_class_weights()}});
}

void validate_class_weight_count(const std::vector<double>& weights, const LossContext& context,
                                 const OptionSite& site) {
  site.require(weights.empty() || int64_t(weights.size()) == context.num_classes, "class_weights",
               "have one entry per class (" + std::to_string(context.num_classes) + ")",
               [&] { return std::to_string(weights.size()); });
}

void crf_kernel_keys(CrfKernelOptions& kernel, OptionKeys& keys) {
  keys("sigma_rgb", kernel.sigma_rgb());
  keys("sigma_xy", kernel.sigma_xy());
  keys("scale_factor", kernel.scale_factor());
  keys.choice("gradient", kernel.gradient(),
              {{"reference", CrfGradient::kReference}, {"exact", CrfGradient::kExact}});
  keys.choice("lattice", kernel.lattice(),
              {{"clean", ops::LatticeMode::kClean}, {"reference", ops::LatticeMode::kReference}});
}

}  // namespace boundseg::losses::detail
