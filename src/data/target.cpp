// The target registry.
#include "boundseg/data/target.h"

#include <ATen/ATen.h>

namespace boundseg::data {

using RegisteredProduct = const Target;
// One name per target: its entry function is defined in src/data/targets/<name>.cpp.
#define BOUNDSEG_TARGETS(X) X(rgb) X(roi) X(cbl_boundary) X(inverseform_edges)
BOUNDSEG_DEFINE_REGISTRY(target_registry, BOUNDSEG_TARGETS)

std::vector<std::string> registered_targets() { return target_registry().names(); }

std::vector<CarriedMap> Target::carry(const cv::Mat&, const cv::Mat&) const { return {}; }

namespace {

class SimpleTarget : public Target {
 public:
  explicit SimpleTarget(std::function<at::Tensor(const AugmentedSample&)> make) : make_(std::move(make)) {}
  at::Tensor make(const AugmentedSample& sample) const override { return make_(sample); }
  void write_keys(OptionKeys&) const override {}

 private:
  std::function<at::Tensor(const AugmentedSample&)> make_;
};

}  // namespace

TargetEntry simple_target(std::string name, std::string summary,
                          std::function<at::Tensor(const AugmentedSample&)> make) {
  return {std::move(name), std::move(summary),
          [make](OptionKeys*, const TargetContext&, const OptionSite&) -> std::shared_ptr<const Target> {
            return std::make_shared<SimpleTarget>(make);
          }};
}

at::Tensor byte_tensor(const cv::Mat& map) {
  const cv::Mat dense = map.isContinuous() ? map : map.clone();
  return at::from_blob(const_cast<uint8_t*>(dense.ptr<uint8_t>()), {dense.rows, dense.cols}, at::kByte).clone();
}

}  // namespace boundseg::data
