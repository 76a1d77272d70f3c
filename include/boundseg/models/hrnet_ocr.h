// openseg.pytorch HRNet_W48_OCR on any hrnetW backbone: HRNet + OCR head, reference state-dict keys (hrnet_ocr.md §2).
#pragma once

#include <ATen/core/Tensor.h>
#include <torch/arg.h>
#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

#include <cstdint>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "boundseg/models/hrnet.h"
#include "boundseg/models/ocr_head.h"

namespace boundseg::models {

/// Options of HrnetOcr: one backbone and one head option set. Defaults: HRNet-W48 + OCR, 19 classes, master naming.
struct HrnetOcrOptions {
  TORCH_ARG(HrnetOptions, backbone) = HrnetOptions();
  TORCH_ARG(OcrHeadOptions, head) = OcrHeadOptions();
};

/// Options of openseg's HRNet_W48_OCR class on the backbone `backbone_name` (hrnet18/32/48/64, see
/// registered_hrnets()), with one naming for backbone and head: kAbn = master checkpoints (flat head BN keys,
/// LeakyReLU 0.01), kTorch = pytorch-1.7 checkpoints (num_batches_tracked, nested head BN keys, ReLU).
HrnetOcrOptions hrnet_ocr_options(const std::string& backbone_name, int64_t num_classes = 19,
                                  BnNaming bn_naming = BnNaming::kAbn);

/// Everything one forward pass produces.
struct HrnetOcrOutput {
  /// Auxiliary logits (N, K, H, W) float, upsampled to the input size.
  at::Tensor out_aux;
  /// Main logits (N, K, H, W) float, upsampled to the input size (the prediction).
  at::Tensor out;
  /// The backbone's branch outputs (N, W·2^i, ~H/2^(i+2), ~W/2^(i+2)), i = 0..3.
  std::vector<at::Tensor> features;
};

/// HRNet_W48_OCR (§2): children `backbone` (keys `backbone.*`) and, at the top level like the reference,
/// `conv3x3`, `ocr_distri_head`, `cls_head`, `aux_head` (the OcrHead's children; the head module itself is not a
/// separate level of the key names). With K = 19: W48 has 1583 ABN state-dict entries (1897 torch naming),
/// W18 also 1583 (12,666,322 parameters).
/// forward: x (N, in_channels, H, W) float, ImageNet-normalised -> (out_aux, out), both (N, K, H, W), bilinearly
/// upsampled with align_corners=True from stride 4.
class HrnetOcrImpl : public torch::nn::Module {
 public:
  explicit HrnetOcrImpl(const HrnetOcrOptions& options = {});

  /// (out_aux, out), in the reference's tuple order; the main prediction is the last.
  std::tuple<at::Tensor, at::Tensor> forward(const at::Tensor& x);
  /// Same computation, also returning the backbone outputs (for tests and feature extraction).
  HrnetOcrOutput forward_all(const at::Tensor& x);
  /// The main logits alone (N, K, H, W): inference skips upsampling the auxiliary logits (K x H x W floats).
  at::Tensor predict(const at::Tensor& x);
  /// Named outputs for training: "out" always, and those of `wanted` among "aux" (as forward), "bottleneck" (the
  /// head's 3x3 bottleneck features before the OCR block, (N, mid_channels, H/4, W/4)) and "backbone" (the
  /// concatenated backbone features, (N, C, H/4, W/4)).
  std::map<std::string, at::Tensor> forward_named(const at::Tensor& x, const std::vector<std::string>& wanted);

  /// Propagates to the head object too (its children are registered here, the head itself is not).
  void train(bool on = true) override;

  const Hrnet& backbone() const { return backbone_; }
  const OcrHead& head() const { return head_; }
  const HrnetOcrOptions& options() const { return options_; }

 private:
  HrnetOcrOptions options_;
  Hrnet backbone_{nullptr};
  OcrHead head_{nullptr};
};
TORCH_MODULE(HrnetOcr);

/// openseg's HRNet_W48 baseline on any hrnetW backbone (hrnet_ocr.md §3): children `backbone` and `cls_head` (the
/// FcnHead's, at the top level like the reference). forward: x (N, 3, H, W) float -> logits (N, K, H, W), bilinearly
/// upsampled with align_corners=True from stride 4.
class HrnetFcnImpl : public torch::nn::Module {
 public:
  HrnetFcnImpl(const HrnetOptions& backbone, const FcnHeadOptions& head);
  at::Tensor forward(const at::Tensor& x);
  void train(bool on = true) override;

 private:
  Hrnet backbone_{nullptr};
  FcnHead head_{nullptr};
};
TORCH_MODULE(HrnetFcn);

}  // namespace boundseg::models
