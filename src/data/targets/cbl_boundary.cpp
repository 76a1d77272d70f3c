// `cbl_boundary`: CBL's multi-class boundary ground truth {0, 1, ignore} (cbl.md §2), computed on the full-size
// label before any resizing, as CBL's GenerateBoundary (cbl.md §6.3), and carried through the augmentation.
#include <ATen/ATen.h>

#include "boundseg/data/target.h"
#include "boundseg/ops/boundary.h"

namespace boundseg::data {
namespace {

class CblBoundaryTarget : public TargetWithOptions<CblBoundaryTarget, ops::CblBoundaryOptions> {
 public:
  using TargetWithOptions::TargetWithOptions;
  static void keys(Options& o, OptionKeys& keys) { keys("dilation_ratio", o.dilation_ratio); }
  static void validate(const Options& o, const TargetContext&, const OptionSite& site) { ops::validate(o, site); }

  std::vector<CarriedMap> carry(const cv::Mat&, const cv::Mat& label) const override {
    Options options = options_;
    options.ignore_index = uint8_t(context_.ignore_index);
    const at::Tensor map = ops::cbl_boundary_targets(byte_tensor(label), options).contiguous();
    return {{cv::Mat(label.rows, label.cols, CV_8U, map.data_ptr<uint8_t>()).clone(), double(context_.ignore_index),
             {}}};
  }
  at::Tensor make(const AugmentedSample& sample) const override { return byte_tensor(sample.carried.at(0)); }
};

}  // namespace

TargetEntry cbl_boundary_entry() {
  return CblBoundaryTarget::entry(
      "cbl_boundary", "(B, H, W) uint8 {0, 1, ignore}: CBL's boundary band of the full-size label (dilation_ratio)");
}

}  // namespace boundseg::data
