// `ohem_ce`: online-hard-example-mining cross entropy (openseg FSOhemCELoss, hrnet_ocr.md §4).
#include "boundseg/losses/ocr_losses.h"
#include "losses/terms/common.h"

namespace boundseg::losses {
namespace {

class OhemCeLoss : public detail::ClassWeightedLoss<OhemCeLoss, OhemCrossEntropyOptions> {
 public:
  using ClassWeightedLoss::ClassWeightedLoss;
  static void keys(Options& o, OptionKeys& keys) {
    ClassWeightedLoss::keys(o, keys);
    keys("thresh", o.thresh());
    keys("min_kept", o.min_kept());
  }
  std::vector<std::string> targets() const override { return {kLabels}; }
  at::Tensor compute(const at::Tensor& logits, const TensorMap& targets) const {
    const at::Tensor& labels = named(targets, kLabels, "ohem_ce", "target");
    if (!any_labelled(labels, context_.ignore_index)) return zero_like_loss(logits);
    return functional::ohem_cross_entropy(logits, labels,
                                          OhemCrossEntropyOptions(options_).ignore_index(context_.ignore_index));
  }
};

}  // namespace

LossEntry ohem_ce_entry() {
  return OhemCeLoss::entry("ohem_ce", "OHEM cross entropy (openseg FSOhemCELoss): thresh, min_kept per process");
}

}  // namespace boundseg::losses
