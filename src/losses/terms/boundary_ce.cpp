// `boundary_ce`: the class-weighted cross entropy over the pixels of CBL's boundary band only, typically added to
// `ce` to weight boundaries up (target `cbl_boundary`, cbl.md §2).
#include <ATen/ATen.h>

#include "boundseg/losses/ocr_losses.h"
#include "losses/terms/common.h"

namespace boundseg::losses {
namespace {

class BoundaryCeLoss : public detail::ClassWeightedLoss<BoundaryCeLoss, WeightedCrossEntropyOptions> {
 public:
  using ClassWeightedLoss::ClassWeightedLoss;
  std::vector<std::string> targets() const override { return {kLabels, "cbl_boundary"}; }
  at::Tensor compute(const at::Tensor& logits, const TensorMap& targets) const {
    const at::Tensor& labels = named(targets, kLabels, "boundary_ce", "target");
    const at::Tensor& boundary = named(targets, "cbl_boundary", "boundary_ce", "target");
    const int64_t ignore = context_.ignore_index;
    // A crop without a labelled boundary pixel contributes 0.
    const at::Tensor on_boundary = boundary.to(labels.device()) == 1;
    const at::Tensor boundary_labels = at::where(on_boundary, labels, at::full_like(labels, ignore));
    if (!any_labelled(boundary_labels, ignore)) return zero_like_loss(logits);
    return functional::weighted_cross_entropy(logits, boundary_labels,
                                              WeightedCrossEntropyOptions(options_).ignore_index(ignore));
  }
};

}  // namespace

LossEntry boundary_ce_entry() {
  return BoundaryCeLoss::entry("boundary_ce",
                               "cross entropy over the pixels of the cbl_boundary target (boundaries weighted up)");
}

}  // namespace boundseg::losses
