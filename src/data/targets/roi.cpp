// `roi`: float (H, W), 1 on image pixels and 0 on padding: the region the regularised losses see.
#include <ATen/ATen.h>

#include "boundseg/data/target.h"

namespace boundseg::data {

TargetEntry roi_entry() {
  return simple_target("roi", "(B, H, W) float, 1 on image pixels and 0 on padding (regularised losses)",
                       [](const AugmentedSample& sample) { return byte_tensor(sample.inside).to(at::kFloat); });
}

}  // namespace boundseg::data
