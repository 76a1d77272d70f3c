// BPR's patch refinement network (bpr.md §4): HRNet with a mask stem + mmseg FCNHead, and its patch probability.
#pragma once

#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/pimpl.h>

#include <cstdint>
#include <string>
#include <vector>

#include "boundseg/models/hrnet.h"

namespace boundseg::models {

/// mmseg ConvModule(conv, BN, ReLU) with its key names `conv.weight` (bias-free) and `bn.*` (torch naming).
/// forward: (N, in, H, W) -> (N, out, H, W) (padding kernel / 2).
class ConvBnReluImpl : public torch::nn::Module {
 public:
  ConvBnReluImpl(int64_t in, int64_t out, int64_t kernel);
  at::Tensor forward(const at::Tensor& x);

 private:
  Conv2d conv_{nullptr};
  BatchNorm bn_{nullptr};
};
TORCH_MODULE(ConvBnRelu);

/// mmseg FCNHead as BPR configures it (bpr.md §4.2): `resize_concat` of all backbone maps (bilinear,
/// align_corners false), `convs.0` = 1x1 ConvModule C→C, no dropout, no concat_input, `conv_seg` 1x1 C→K with bias.
/// forward: backbone maps -> logits (N, K, H0, W0).
class MmsegFcnHeadImpl : public torch::nn::Module {
 public:
  MmsegFcnHeadImpl(const FeatureSpec& spec, int64_t num_classes);
  at::Tensor forward(const std::vector<at::Tensor>& features);

 private:
  FeatureSpec spec_;
  torch::nn::Sequential convs_{nullptr};
  Conv2d conv_seg_{nullptr};
};
TORCH_MODULE(MmsegFcnHead);

/// Names accepted by bpr_backbone_options: bpr_hrnet18s (HRNet-18s, patches at 128) and bpr_hrnet48 (at 256).
std::vector<std::string> registered_bpr_nets();

/// HRNet options of a BPR network (`name` from registered_bpr_nets()): the mmseg backbone with 3 image channels and
/// a 1-channel `conv_mask`.
HrnetOptions bpr_backbone_options(const std::string& name);

/// Network input size S of a BPR network: 128 for bpr_hrnet18s, 256 for bpr_hrnet48 (bpr.md §4.1).
int64_t bpr_input_size(const std::string& name);

/// Everything one forward pass produces.
struct BprOutput {
  /// Background/foreground logits (N, 2, S/4, S/4) float.
  at::Tensor logits;
  /// The backbone's branch outputs.
  std::vector<at::Tensor> features;
};

/// BPR's EncoderDecoderRefine (bpr.md §4.2): children `backbone` and `decode_head`, the reference keys (873 state
/// entries for bpr_hrnet18s, 1839 for bpr_hrnet48).
/// forward: x (N, 4, S, S) float = normalised RGB + mask in ±1 -> logits (N, 2, S/4, S/4).
class BprNetImpl : public torch::nn::Module {
 public:
  explicit BprNetImpl(const std::string& name = "bpr_hrnet18s");
  at::Tensor forward(const at::Tensor& x);
  BprOutput forward_all(const at::Tensor& x);
  const Hrnet& backbone() const { return backbone_; }

 private:
  Hrnet backbone_{nullptr};
  MmsegFcnHead decode_head_{nullptr};
};
TORCH_MODULE(BprNet);

/// Foreground probability of each patch (bpr.md §4.3): logits bilinearly resized (align_corners false) to the
/// network input size, then to the patch size, softmax over the 2 channels, channel 1.
/// logits (N, 2, h, w) float -> (N, patch_size, patch_size) float.
at::Tensor bpr_foreground_probability(const at::Tensor& logits, int64_t input_size, int64_t patch_size = 64);

}  // namespace boundseg::models
