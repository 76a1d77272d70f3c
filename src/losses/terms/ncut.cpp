// `ncut`: the normalized-cut regulariser on the softmax, the batch's RGB images and padding ROI (rloss.md §5.1).
#include <ATen/ATen.h>

#include "boundseg/losses/rloss.h"
#include "losses/terms/common.h"

namespace boundseg::losses {
namespace {

class NormalizedCutTerm : public LogitsLoss<NormalizedCutTerm, CrfKernelOptions> {
 public:
  using LogitsLoss::LogitsLoss;
  static void keys(Options& o, OptionKeys& keys) { detail::crf_kernel_keys(o, keys); }
  static void validate(const Options& o, const LossContext&, const OptionSite& site) { losses::validate(o, site); }
  std::vector<std::string> targets() const override { return {"rgb", "roi"}; }
  at::Tensor compute(const at::Tensor& logits, const TensorMap& targets) const {
    return normalized_cut_loss(named(targets, "rgb", "ncut", "target"), at::softmax(logits, 1),
                               named(targets, "roi", "ncut", "target"),
                               NormalizedCutLossOptions().weight(1.0).kernel(options_));
  }
};

}  // namespace

LossEntry ncut_loss_entry() {
  return NormalizedCutTerm::entry("ncut", "normalized-cut loss on the softmax (rloss): sigma_rgb, sigma_xy, scale");
}

}  // namespace boundseg::losses
