// `inverseform_edges`: the InverseForm / GSCNN edge ground truth of the augmented label (inverseform.md §7: made
// after the joint transforms, for channels 1..num_classes).
#include "boundseg/data/target.h"
#include "boundseg/ops/boundary.h"

namespace boundseg::data {
namespace {

class InverseformEdgesTarget : public TargetWithOptions<InverseformEdgesTarget, ops::InverseformEdgeOptions> {
 public:
  InverseformEdgesTarget(Options options, TargetContext context) : TargetWithOptions(options, context) {
    options_.num_classes = context.num_classes;
  }
  static void keys(Options& o, OptionKeys& keys) { keys("radius", o.radius); }
  static void validate(const Options& o, const TargetContext& context, const OptionSite& site) {
    Options sized = o;
    sized.num_classes = context.num_classes;
    ops::validate(sized, site);
  }
  at::Tensor make(const AugmentedSample& sample) const override {
    return ops::inverseform_edges(byte_tensor(sample.label), options_);
  }
};

}  // namespace

TargetEntry inverseform_edges_entry() {
  return InverseformEdgesTarget::entry("inverseform_edges",
                                       "(B, H, W) uint8 0/1 edges of the augmented label (radius, InverseForm/GSCNN)");
}

}  // namespace boundseg::data
