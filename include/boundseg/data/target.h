// Training targets by name: what the losses declare, the loader computes per sample, and only those. A target may
// make maps from the full-size label before augmentation (carried through the same geometry as the label) and
// finishes on the augmented sample. Adding a target: one file in src/data/targets/ and one line in
// src/data/target.cpp (docs/ARCHITECTURE.md).
#pragma once

#include <ATen/core/Tensor.h>
#include <opencv2/core/mat.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "boundseg/core/options.h"
#include "boundseg/core/registry.h"

namespace boundseg::data {

/// The target every batch has: (B, H, W) int64 train ids, the ignore index where unlabelled or padded.
inline constexpr const char* kLabels = "labels";

/// A single-channel map of the label's size made before augmentation and carried through its geometry: nearest
/// resize, padding with `pad`, the crop, the flip (followed by `after_flip`, e.g. to mirror angles).
struct CarriedMap {
  cv::Mat map;
  double pad = 0;
  std::function<void(cv::Mat&)> after_flip;
};

/// One augmented sample as a target sees it.
struct AugmentedSample {
  cv::Mat image;   ///< CV_8UC3 BGR crop
  cv::Mat label;   ///< CV_8U train ids (ignore index on padding)
  cv::Mat inside;  ///< CV_8U 1 on image pixels, 0 on padding
  /// This target's carried maps, in the order carry() returned them, after augmentation.
  std::vector<cv::Mat> carried;
};

/// What a target knows of the task.
using TargetContext = TaskContext;

/// One named training target.
class Target {
 public:
  virtual ~Target() = default;
  /// Maps made from the full-size image (CV_8UC3) and label (CV_8U) before augmentation; default none.
  virtual std::vector<CarriedMap> carry(const cv::Mat& image, const cv::Mat& label) const;
  /// The sample's tensor; every sample of a batch has the same shape and dtype (the batch stacks them).
  virtual at::Tensor make(const AugmentedSample& sample) const = 0;
  /// Visits a copy of the options (writers print the resolved configuration).
  virtual void write_keys(OptionKeys& keys) const = 0;
};

/// A registered target.
using TargetEntry = Entry<const Target>;

const Registry<TargetEntry>& target_registry();
std::vector<std::string> registered_targets();

/// Base of targets with an options struct: the derived class D provides `static void keys(Options&,
/// OptionKeys&)`, `static void validate(const Options&, const TargetContext&, const OptionSite&)` and a
/// constructor (Options, TargetContext).
template <typename D, typename OptionsT>
class TargetWithOptions : public Target {
 public:
  using Options = OptionsT;
  TargetWithOptions(Options options, TargetContext context) : options_(std::move(options)), context_(context) {}
  void write_keys(OptionKeys& keys) const override {
    Options copy = options_;
    D::keys(copy, keys);
  }
  static TargetEntry entry(std::string name, std::string summary) {
    return {std::move(name), std::move(summary),
            [](OptionKeys* keys, const TargetContext& context, const OptionSite& site) -> std::shared_ptr<const Target> {
              Options options;
              if (keys) D::keys(options, *keys);
              D::validate(options, context, site);
              return std::make_shared<D>(std::move(options), context);
            }};
  }

 protected:
  Options options_;
  TargetContext context_;
};

/// The entry of a target without options that makes its tensor from the augmented sample alone.
TargetEntry simple_target(std::string name, std::string summary,
                          std::function<at::Tensor(const AugmentedSample&)> make);

/// A CV_8U map as an (H, W) uint8 tensor (a copy).
at::Tensor byte_tensor(const cv::Mat& map);

}  // namespace boundseg::data
