// openseg.pytorch HRNet (HighResolutionNet, hrnet18/32/48/64) with the reference state-dict keys (hrnet_ocr.md §1).
#pragma once

#include <ATen/core/Tensor.h>
#include <torch/arg.h>
#include <torch/nn/cloneable.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/pimpl.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "boundseg/models/conv.h"
#include "boundseg/models/feature_spec.h"

namespace boundseg::models {

/// How batch-norm layers name their state (hrnet_ocr.md §1, §1.1).
enum class BnNaming {
  /// openseg master: InPlaceABNSync, keys weight, bias, running_mean, running_var (no num_batches_tracked); the
  /// heads' "BNReLU" is one module, so its keys sit at `<seq>.<idx>.weight`.
  kAbn,
  /// openseg pytorch-1.7 branch: torch (Sync)BatchNorm with `num_batches_tracked` (int64 scalar); the heads'
  /// "BNReLU" is Sequential(BN, ReLU), keys `<seq>.<idx>.0.weight`.
  kTorch,
};

/// Activation applied by a BatchNorm module after normalising (InPlaceABN's fused activation).
enum class BnActivation { kNone, kRelu, kLeakyRelu };

/// Options of BatchNorm.
struct BatchNormOptions {
  /* implicit */ BatchNormOptions(int64_t num_features) : num_features_(num_features) {}
  /// Channels C of the (N, C, H, W) input.
  TORCH_ARG(int64_t, num_features);
  /// Default 1e-5, as torch and InPlaceABNSync (hrnet_ocr.md §1).
  TORCH_ARG(double, eps) = 1e-5;
  /// Running-statistics momentum (PyTorch convention). Default 0.1.
  TORCH_ARG(double, momentum) = 0.1;
  /// Registers the int64 scalar buffer `num_batches_tracked` (torch naming) when true; ABN has none. Default false.
  TORCH_ARG(bool, track_num_batches) = false;
  /// Activation after the affine transform. Default none.
  TORCH_ARG(BnActivation, activation) = BnActivation::kNone;
  /// Negative slope of kLeakyRelu. Default 0.01 (InPlaceABN's default, used by the openseg master heads).
  TORCH_ARG(double, negative_slope) = 0.01;
};

/// Sums a tensor in place over the processes of a data-parallel run: what synchronised batch norm needs
/// (implemented on c10d by boundseg::train::ProcessGroup).
class CrossProcessSum {
 public:
  virtual ~CrossProcessSum() = default;
  virtual void sum_(at::Tensor& tensor) const = 0;
};

/// 2-D batch norm with optional fused activation, whose state is weight, bias (parameters, float (C)),
/// running_mean, running_var (buffers, float (C)) and, only with track_num_batches, num_batches_tracked. This covers
/// both InPlaceABN (master) and torch BN (1.7) naming with one type; torch::nn::BatchNorm2d always adds
/// num_batches_tracked. input: (N, C, H, W) float; returns the same shape.
class BatchNormImpl : public torch::nn::Cloneable<BatchNormImpl> {
 public:
  explicit BatchNormImpl(const BatchNormOptions& options);
  void reset() override;
  at::Tensor forward(const at::Tensor& input);
  void pretty_print(std::ostream& stream) const override;

  BatchNormOptions options;
  at::Tensor weight, bias, running_mean, running_var, num_batches_tracked;
  /// When set, training-mode statistics (mean, biased variance for normalising, unbiased for the running estimate)
  /// are taken over the whole distributed batch, and gradients flow back through that sum (SyncBatchNorm).
  std::shared_ptr<const CrossProcessSum> sync;
};
TORCH_MODULE(BatchNorm);

/// BatchNorm options for `bn_naming`, without activation.
BatchNormOptions batch_norm_options(int64_t channels, BnNaming bn_naming);

/// Options of the openseg HighResolutionNet (hrnet_ocr.md §1). Defaults: HRNet-W48 with master (ABN) naming.
struct HrnetOptions {
  /// Width W: branch channels are W, 2W, 4W, 8W. Default 48.
  TORCH_ARG(int64_t, width) = 48;
  /// Batch-norm naming of every BN in the backbone. Default kAbn (master hard-codes inplace_abn, §1).
  TORCH_ARG(BnNaming, bn_naming) = BnNaming::kAbn;
  /// Number of HighResolutionModules in stages 2, 3, 4. Default {1, 4, 3} (all openseg hrnetW configs).
  TORCH_ARG(std::vector<int64_t>, stage_modules) = std::vector<int64_t>({1, 4, 3});
  /// Blocks per branch in layer1 (Bottleneck) and in every branch of stages 2-4 (BasicBlock). Default 4.
  TORCH_ARG(int64_t, num_blocks) = 4;
  /// Input image channels. Default 3.
  TORCH_ARG(int64_t, in_channels) = 3;
  /// Extra input channels after the image ones, fed through their own stem conv `conv_mask` whose output is added to
  /// conv1's (BPR's early fusion of the coarse mask, bpr.md §4.2). Default 0 (no `conv_mask`).
  TORCH_ARG(int64_t, mask_channels) = 0;
  /// align_corners of the bilinear upsampling in the fusion layers: true in openseg, false in mmseg (BPR). Default
  /// true.
  TORCH_ARG(bool, align_corners) = true;
  /// openseg's HighResolutionNext layout (`hrnet2x20`, hrnet_ocr.md §1) instead of HighResolutionNet: one stride-2
  /// stem conv (conv1, bn1) at 1/2, `transition0` to two Bottleneck branches of 128 and 256 channels (`stage1`, one
  /// module), then stages 2-4 with 3, 4 and 5 BasicBlock branches of W·2^b channels: five outputs at strides 2..32.
  /// stage_modules and num_blocks apply to stages 2-4 and to stage 1's blocks. Default false.
  TORCH_ARG(bool, high_resolution_next) = false;
};

/// Throws boundseg::Error naming `where` and the first invalid option.
void validate(const HrnetOptions& options, const char* where);

/// Names accepted by hrnet_options: hrnet18, hrnet32, hrnet48, hrnet64, hrnet2x20 (openseg), hrnetv2_w18_small,
/// hrnetv2_w48 (mmseg), hrnet_tiny (boundseg's CPU demo size: W16, modules {1, 1, 1}, one block per branch).
std::vector<std::string> registered_hrnets();

/// Options of a named backbone config: openseg's `MODEL_CONFIGS` (hrnet_config.py; `bn_naming` applies), or mmseg's
/// HRNetV2-W18-small (2 blocks per branch, modules {1, 3, 2}) and HRNetV2-W48, both with torch BN naming and
/// align_corners false whatever `bn_naming` says (bpr.md §4.2). Unknown names are an error listing the valid ones.
HrnetOptions hrnet_options(const std::string& name, BnNaming bn_naming = BnNaming::kAbn);

namespace detail {
class HighResolutionModuleImpl;
}

/// HighResolutionNet (HRNetV2) as openseg and mmseg build it: the two share structure and key names (§1.1): conv1,
/// bn1, conv2, bn2, layer1, transition1..3 (identity entries have no keys), stage2..4
/// (`stageS.<m>.branches.<b>.<blk>.*`, `stageS.<m>.fuse_layers.<i>.<j>.*`), then `conv_mask` when mask_channels > 0.
/// All convs are bias-free.
/// forward: x (N, in_channels + mask_channels, H, W) float -> 4 maps (N, W·2^i, ceil(H/2^(i+2)),
/// ceil(W/2^(i+2))), i = 0..3. With high_resolution_next (HighResolutionNext, keys conv1, bn1, transition0..3,
/// stage1..4): 5 maps (N, W·2^i, ~H/2^(i+1), ~W/2^(i+1)), i = 0..4.
class HrnetImpl : public torch::nn::Module {
 public:
  explicit HrnetImpl(const HrnetOptions& options = {});

  std::vector<at::Tensor> forward(const at::Tensor& x);
  /// channels {W, 2W, 4W, 8W}, strides {4, 8, 16, 32}; HighResolutionNext: {W, .., 16W}, strides {2, .., 32}.
  FeatureSpec feature_spec() const;
  const HrnetOptions& options() const { return options_; }

 private:
  // One transition: per output branch an optional Sequential (null = identity); new branches read the last input.
  struct Transition {
    std::vector<torch::nn::Sequential> branches;
    std::vector<bool> reads_last;
  };
  Transition make_transition(const std::string& name, const std::vector<int64_t>& pre, const std::vector<int64_t>& cur);
  static std::vector<at::Tensor> apply(const Transition& t, const std::vector<at::Tensor>& y);

  HrnetOptions options_;
  Conv2d conv1_{nullptr}, conv2_{nullptr}, conv_mask_{nullptr};
  BatchNorm bn1_{nullptr}, bn2_{nullptr};
  torch::nn::Sequential layer1_{nullptr};
  std::vector<Transition> transitions_;
  std::vector<std::vector<std::shared_ptr<detail::HighResolutionModuleImpl>>> stages_;
};
TORCH_MODULE(Hrnet);

}  // namespace boundseg::models
