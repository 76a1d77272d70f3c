// `rgb`: the augmented image as float (3, H, W) RGB on the 0..255 scale, what the DenseCRF-type losses filter with.
#include "boundseg/data/target.h"
#include "boundseg/data/transforms.h"

namespace boundseg::data {
namespace {

class RgbTarget : public TargetWithOptions<RgbTarget, NoOptions> {
 public:
  using TargetWithOptions::TargetWithOptions;
  static void keys(Options&, OptionKeys&) {}
  static void validate(const Options&, const TargetContext&, const OptionSite&) {}
  at::Tensor make(const AugmentedSample& sample) const override { return rgb_float_tensor(sample.image); }
};

}  // namespace

TargetEntry rgb_target_entry() {
  return RgbTarget::entry("rgb", "(B, 3, H, W) float RGB 0..255 of the augmented images (DenseCRF-type losses)");
}

}  // namespace boundseg::data
