// `ce`: class-weighted cross entropy on one logits output (openseg FSCELoss, hrnet_ocr.md §4).
#include "boundseg/losses/ocr_losses.h"
#include "losses/terms/common.h"

namespace boundseg::losses {
namespace {

class CeLoss : public detail::ClassWeightedLoss<CeLoss, WeightedCrossEntropyOptions> {
 public:
  using ClassWeightedLoss::ClassWeightedLoss;
  std::vector<std::string> targets() const override { return {kLabels}; }
  at::Tensor compute(const at::Tensor& logits, const TensorMap& targets) const {
    const at::Tensor& labels = named(targets, kLabels, "ce", "target");
    if (!any_labelled(labels, context_.ignore_index)) return zero_like_loss(logits);
    return functional::weighted_cross_entropy(
        logits, labels, WeightedCrossEntropyOptions(options_).ignore_index(context_.ignore_index));
  }
};

}  // namespace

LossEntry ce_entry() {
  return CeLoss::entry("ce", "class-weighted cross entropy (openseg FSCELoss); class_weights: list or cityscapes");
}

}  // namespace boundseg::losses
