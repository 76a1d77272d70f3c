// `pce`: partial cross entropy over the labelled (scribbled) pixels (rloss.md §3.1).
#include "boundseg/losses/rloss.h"
#include "losses/terms/common.h"

namespace boundseg::losses {
namespace {

class PceLoss : public LogitsLoss<PceLoss, PartialCrossEntropyOptions> {
 public:
  using LogitsLoss::LogitsLoss;
  static void keys(Options& o, OptionKeys& keys) { keys("batch_average", o.batch_average()); }
  static void validate(const Options&, const LossContext&, const OptionSite&) {}
  std::vector<std::string> targets() const override { return {kLabels}; }
  at::Tensor compute(const at::Tensor& logits, const TensorMap& targets) const {
    const at::Tensor& labels = named(targets, kLabels, "pce", "target");
    if (!any_labelled(labels, context_.ignore_index)) return zero_like_loss(logits);
    // Padding is already the ignore index in the batch labels; the ROI keeps it out of the regularisers.
    return partial_cross_entropy(
        logits, labels,
        PartialCrossEntropyOptions(options_).ignore_index(context_.ignore_index).padding_index(context_.ignore_index));
  }
};

}  // namespace

LossEntry pce_entry() {
  return PceLoss::entry("pce", "partial cross entropy over labelled pixels (rloss); batch_average as rloss' PyTorch");
}

}  // namespace boundseg::losses
