// openseg.pytorch SegFix_HRNet: HRNet features -> boundary-mask and direction logits (segfix.md §4).
#pragma once

#include <ATen/core/Tensor.h>
#include <torch/arg.h>

#include "boundseg/core/options.h"
#include <torch/nn/module.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/pimpl.h>

#include <cstdint>
#include <string>
#include <utility>

#include "boundseg/models/hrnet.h"
#include "boundseg/models/ocr_head.h"

namespace boundseg::models {

/// Options of SegFixNet. Defaults: HRNet-W48 backbone, 8 direction bins, master (ABN) naming.
struct SegFixNetOptions {
  /// The backbone; its FeatureSpec sizes the heads (C_in = Σ channels: 720 for W48, 620 for hrnet2x20).
  TORCH_ARG(HrnetOptions, backbone) = HrnetOptions();
  /// Direction classes K of `dir_head` (dt_num_classes). Default 8.
  TORCH_ARG(int64_t, num_bins) = 8;
  /// Hidden width of both heads. Default 256.
  TORCH_ARG(int64_t, head_channels) = 256;
  /// Naming of the heads' BNReLU: kAbn = master (one module, keys `<head>.1.*`), kTorch = pytorch-1.7 branch
  /// (`<head>.1.0.*` plus num_batches_tracked). Default kAbn.
  TORCH_ARG(BnNaming, bn_naming) = BnNaming::kAbn;
  /// Activation of the heads' BNReLU. Default kAuto: LeakyReLU(0.01) with kAbn (InPlaceABN's default), ReLU with
  /// kTorch (segfix.md §4, §12 #9).
  TORCH_ARG(HeadActivation, activation) = HeadActivation::kAuto;
};

/// Throws boundseg::Error naming `where` and the first invalid option.
void validate(const SegFixNetOptions& options, const OptionSite& site);

/// SegFix_HRNet on backbone `backbone_name` (registered_hrnets(): hrnet18/32/48/64 or hrnet2x20) with one naming for
/// backbone and heads.
SegFixNetOptions segfix_net_options(const std::string& backbone_name, int64_t num_bins = 8,
                                    BnNaming bn_naming = BnNaming::kAbn);

/// SegFix_HRNet (segfix.md §4): children `backbone`, `dir_head`, `mask_head` in the reference's order; each head is
/// conv1x1 (C_in -> 256, no bias), BNReLU(256), conv1x1 (256 -> K, no bias). Parameters: 65.70 M (hrnet48),
/// 47.41 M (hrnet2x20), 9.70 M (hrnet18).
/// forward: x (N, 3, H, W) float, normalised as segfix.md §4 -> (mask_logits (N, 2, h, w), dir_logits
/// (N, num_bins, h, w)) at the backbone's finest resolution (1/4 for hrnetW, 1/2 for hrnet2x20); no upsampling.
class SegFixNetImpl : public torch::nn::Module {
 public:
  explicit SegFixNetImpl(const SegFixNetOptions& options = {});
  std::pair<at::Tensor, at::Tensor> forward(const at::Tensor& x);

  const Hrnet& backbone() const { return backbone_; }
  const SegFixNetOptions& options() const { return options_; }

 private:
  SegFixNetOptions options_;
  Hrnet backbone_{nullptr};
  torch::nn::Sequential dir_head_{nullptr}, mask_head_{nullptr};
};
TORCH_MODULE(SegFixNet);

}  // namespace boundseg::models
