// `rgb`: the augmented image as float (3, H, W) RGB on the 0..255 scale, what the DenseCRF-type losses filter with.
#include "boundseg/data/target.h"
#include "boundseg/data/transforms.h"

namespace boundseg::data {

TargetEntry rgb_entry() {
  return simple_target("rgb", "(B, 3, H, W) float RGB 0..255 of the augmented images (DenseCRF-type losses)",
                       [](const AugmentedSample& sample) { return rgb_float_tensor(sample.image); });
}

}  // namespace boundseg::data
