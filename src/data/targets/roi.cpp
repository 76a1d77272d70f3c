// `roi`: float (H, W), 1 on image pixels and 0 on padding: the region the regularised losses see.
#include <ATen/ATen.h>

#include "boundseg/data/target.h"

namespace boundseg::data {
namespace {

class RoiTarget : public TargetWithOptions<RoiTarget, NoOptions> {
 public:
  using TargetWithOptions::TargetWithOptions;
  static void keys(Options&, OptionKeys&) {}
  static void validate(const Options&, const TargetContext&, const OptionSite&) {}
  at::Tensor make(const AugmentedSample& sample) const override {
    return byte_tensor(sample.inside).to(at::kFloat);
  }
};

}  // namespace

TargetEntry roi_target_entry() {
  return RoiTarget::entry("roi", "(B, H, W) float, 1 on image pixels and 0 on padding (regularised losses)");
}

}  // namespace boundseg::data
