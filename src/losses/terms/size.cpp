// `size`: lower size bounds for the classes labelled in the crop (rloss.md §5.2, Kervadec et al.).
#include <ATen/ATen.h>

#include <limits>

#include "boundseg/losses/rloss.h"
#include "losses/terms/common.h"

namespace boundseg::losses {
namespace {

struct SizeTermOptions {
  /// A class labelled in the crop must cover at least this share of its ROI (and at least its labelled pixels);
  /// unlabelled classes are unconstrained (with scribbles and crops they may still be present). Default 0.01.
  double min_fraction = 0.01;
};

class SizeTerm : public LogitsLoss<SizeTerm, SizeTermOptions> {
 public:
  using LogitsLoss::LogitsLoss;
  static void keys(Options& o, OptionKeys& keys) { keys("min_fraction", o.min_fraction); }
  static void validate(const Options& o, const LossContext&, const OptionSite& site) {
    site.require(o.min_fraction >= 0 && o.min_fraction <= 1, "min_fraction", "be in [0, 1]",
                 [&] { return number_text(o.min_fraction); });
  }
  std::vector<std::string> targets() const override { return {kLabels, "roi"}; }

  at::Tensor compute(const at::Tensor& logits, const TensorMap& targets) const {
    const at::Tensor& batch_labels = named(targets, kLabels, "size", "target");
    if (!any_labelled(batch_labels, context_.ignore_index)) return zero_like_loss(logits);
    const at::Tensor probabilities = at::softmax(logits, 1);
    const int64_t N = probabilities.size(0), K = probabilities.size(1);
    const at::Tensor labels = batch_labels.to(probabilities.device()).reshape({N, -1});
    const at::Tensor valid = labels != context_.ignore_index;
    require(!(valid & ((labels < 0) | (labels >= K))).any().item<bool>(), "size loss", "the labels",
            "be class ids below " + std::to_string(K) + " or the ignore index", [] { return "a value out of range"; });
    // Size bounds from the labels: a class labelled in the crop covers at least max(its labelled pixels,
    // min_fraction of the ROI).
    const at::Tensor counts = at::zeros({N, K}, probabilities.options())
                                  .scatter_add_(1, at::where(valid, labels, at::zeros_like(labels)),
                                                valid.to(probabilities.scalar_type()));
    const at::Tensor roi = named(targets, "roi", "size", "target").to(probabilities.device());
    const at::Tensor area = roi.sum({1, 2}).unsqueeze(1);
    const at::Tensor present = counts > 0;
    const at::Tensor lower =
        at::where(present, at::maximum(counts, area * options_.min_fraction), at::zeros_like(counts));
    const at::Tensor upper = at::full_like(counts, std::numeric_limits<float>::infinity());
    return size_loss(probabilities, roi, lower, upper);
  }
};

}  // namespace

LossEntry size_entry() {
  return SizeTerm::entry("size", "lower size bounds for the classes labelled in the crop: min_fraction of the ROI");
}

}  // namespace boundseg::losses
