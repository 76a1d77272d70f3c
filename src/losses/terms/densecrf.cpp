// `densecrf`: the DenseCRF regulariser on the softmax, the batch's RGB images and padding ROI (rloss.md §1). The
// loss weight is the term's `weight` (rloss PyTorch: 2e-9 at 513² crops; retune for other crops and scales).
#include <ATen/ATen.h>

#include "boundseg/losses/rloss.h"
#include "losses/terms/common.h"

namespace boundseg::losses {
namespace {

class DenseCrfTerm : public LogitsLoss<DenseCrfTerm, CrfKernelOptions> {
 public:
  using LogitsLoss::LogitsLoss;
  static void keys(Options& o, OptionKeys& keys) { detail::crf_kernel_keys(o, keys); }
  static void validate(const Options& o, const LossContext&, const OptionSite& site) { losses::validate(o, site); }
  std::vector<std::string> targets() const override { return {"rgb", "roi"}; }
  at::Tensor compute(const at::Tensor& logits, const TensorMap& targets) const {
    return dense_crf_loss(named(targets, "rgb", "densecrf", "target"), at::softmax(logits, 1),
                          named(targets, "roi", "densecrf", "target"),
                          DenseCrfLossOptions().weight(1.0).kernel(options_));
  }
};

}  // namespace

LossEntry densecrf_loss_entry() {
  return DenseCrfTerm::entry("densecrf", "DenseCRF loss on the softmax (rloss): sigma_rgb, sigma_xy, scale_factor");
}

}  // namespace boundseg::losses
