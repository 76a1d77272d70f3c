// OCR head of openseg's HRNet_W48_OCR (hrnet_ocr.md §2) and the plain FCN head of HRNet_W48 (§3), sized from a
// backbone's FeatureSpec.
#pragma once

#include <ATen/core/Tensor.h>
#include <torch/arg.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/container/any.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/pimpl.h>

#include <cstdint>
#include <vector>

#include "boundseg/models/feature_spec.h"
#include "boundseg/models/hrnet.h"

namespace boundseg::models {

/// Activation of the heads' "BNReLU" layers (hrnet_ocr.md §6 #1).
enum class HeadActivation {
  /// From the BN naming: LeakyReLU(0.01) with kAbn (master InPlaceABNSync), ReLU with kTorch (1.7 branch).
  kAuto,
  kLeakyRelu,
  kRelu,
};

/// The heads' "BNReLU" (BN + activation) as one entry of a Sequential: with kAbn one BatchNorm whose state sits at
/// `<seq>.<idx>.weight`; with kTorch a wrapper whose BN sits at `<seq>.<idx>.0.weight` (plus num_batches_tracked),
/// as the 1.7 branch's Sequential(SyncBN, ReLU). input (N, C, H, W) float -> same shape.
torch::nn::AnyModule bn_relu(int64_t channels, BnNaming bn_naming, HeadActivation activation);

/// Upsamples features 1.. bilinearly to the size of features[0] and concatenates them on the channel axis
/// (hrnet_ocr.md §2 step 1 with align_corners true; mmseg's `resize_concat` with false). features: as the backbone
/// returns them, each (N, spec.channels[i], Hi, Wi) float; returns (N, spec.total_channels(), H0, W0). `where` names
/// the caller in errors.
at::Tensor upsample_concat(const std::vector<at::Tensor>& features, const FeatureSpec& spec, const char* where,
                           bool align_corners = true);

/// Soft object regions (SpatialGather, §2 step 4): softmax of `logits` over the pixels of each class map, then the
/// probability-weighted mean feature per class. feats: (N, C, H, W); logits: (N, K, H, W); returns the proxy
/// (N, C, K, 1).
at::Tensor spatial_gather(const at::Tensor& feats, const at::Tensor& logits);

/// Options of the OCR head (§2). Defaults as HRNet_W48_OCR on master.
struct OcrHeadOptions {
  /* implicit */ OcrHeadOptions(int64_t num_classes = 19) : num_classes_(num_classes) {}
  /// Classes K. Default 19 (Cityscapes).
  TORCH_ARG(int64_t, num_classes);
  /// Width of `conv3x3`'s output, the regions and the augmented representation. Default 512.
  TORCH_ARG(int64_t, mid_channels) = 512;
  /// Key/query/value width of the pixel-region attention. Default 256.
  TORCH_ARG(int64_t, key_channels) = 256;
  /// Dropout2d probability after `conv_bn_dropout` (identity in eval mode). Default 0.05.
  TORCH_ARG(double, dropout) = 0.05;
  /// BN naming of every head BN. Default kAbn (master).
  TORCH_ARG(BnNaming, bn_naming) = BnNaming::kAbn;
  /// Activation of every BNReLU. Default kAuto (from bn_naming, §6 #1).
  TORCH_ARG(HeadActivation, activation) = HeadActivation::kAuto;
};

/// Throws boundseg::Error naming `where` and the first invalid option.
void validate(const OcrHeadOptions& options, const char* where);

/// Pixel-region relation (openseg ObjectAttentionBlock2D, scale 1, §2 step 5). Keys `f_pixel.{0..3}`,
/// `f_object.{0..3}`, `f_down.{0,1}`, `f_up.{0,1}` (each conv has a bias).
/// forward: feats (N, C, H, W), proxy (N, C, K, 1) -> context (N, C, H, W).
class ObjectAttentionBlockImpl : public torch::nn::Module {
 public:
  ObjectAttentionBlockImpl(int64_t in_channels, int64_t key_channels, BnNaming bn_naming, HeadActivation activation);
  at::Tensor forward(const at::Tensor& feats, const at::Tensor& proxy);

 private:
  int64_t key_channels_;
  torch::nn::Sequential f_pixel_{nullptr}, f_object_{nullptr}, f_down_{nullptr}, f_up_{nullptr};
};
TORCH_MODULE(ObjectAttentionBlock);

/// Object-contextual representation (openseg SpatialOCR_Module, §2 steps 5-6). Keys `object_context_block.*`,
/// `conv_bn_dropout.{0,1}`. forward: feats (N, C, H, W), proxy (N, C, K, 1) -> (N, out_channels, H, W), computed
/// from cat([context, feats]).
class SpatialOcrImpl : public torch::nn::Module {
 public:
  SpatialOcrImpl(int64_t in_channels, int64_t key_channels, int64_t out_channels, double dropout, BnNaming bn_naming,
                 HeadActivation activation);
  at::Tensor forward(at::Tensor feats, const at::Tensor& proxy);

 private:
  ObjectAttentionBlock object_context_block_{nullptr};
  torch::nn::Sequential conv_bn_dropout_{nullptr};
};
TORCH_MODULE(SpatialOcr);

/// Logits of a two-output head at the resolution of the finest feature map (stride spec.strides[0]).
struct HeadOutput {
  /// Auxiliary (soft-region) logits (N, K, H0, W0) float.
  at::Tensor aux;
  /// Main logits (N, K, H0, W0) float.
  at::Tensor out;
  /// With keep_features: the bottleneck `feats` (N, mid_channels, H0, W0), post BN-ReLU, before the OCR block (the
  /// features CBL acts on, cbl.md §4), and the concatenated backbone features (N, C, H0, W0); else undefined.
  at::Tensor bottleneck, backbone;
};

/// OCR head of HRNet_W48_OCR (§2), sized from the backbone: children `conv3x3`, `ocr_distri_head`, `cls_head`,
/// `aux_head` (the parameter-free `ocr_gather_head` is a function). aux_head keeps the concatenated width
/// (conv3x3 C→C, as the reference's 720→720), with C = spec.total_channels().
/// forward: backbone features as in upsample_concat -> HeadOutput.
class OcrHeadImpl : public torch::nn::Module {
 public:
  OcrHeadImpl(const FeatureSpec& spec, const OcrHeadOptions& options = {});
  /// keep_features also returns the bottleneck and backbone maps (they are otherwise freed as soon as possible).
  HeadOutput forward(const std::vector<at::Tensor>& features, bool keep_features = false);
  const FeatureSpec& input_spec() const { return spec_; }
  const OcrHeadOptions& options() const { return options_; }

 private:
  FeatureSpec spec_;
  OcrHeadOptions options_;
  torch::nn::Sequential conv3x3_{nullptr}, aux_head_{nullptr};
  SpatialOcr ocr_distri_head_{nullptr};
  Conv2d cls_head_{nullptr};
};
TORCH_MODULE(OcrHead);

/// Options of the plain FCN head (HRNet_W48 baseline, §3).
struct FcnHeadOptions {
  /* implicit */ FcnHeadOptions(int64_t num_classes = 19) : num_classes_(num_classes) {}
  /// Classes K. Default 19.
  TORCH_ARG(int64_t, num_classes);
  /// Dropout2d probability before the classifier. Default 0.10 (HRNet_W48).
  TORCH_ARG(double, dropout) = 0.10;
  /// BN naming. Default kAbn.
  TORCH_ARG(BnNaming, bn_naming) = BnNaming::kAbn;
  /// BNReLU activation. Default kAuto.
  TORCH_ARG(HeadActivation, activation) = HeadActivation::kAuto;
};

/// Throws boundseg::Error naming `where` and the first invalid option.
void validate(const FcnHeadOptions& options, const char* where);

/// Plain FCN head of HRNet_W48 (§3): `cls_head` = conv3x3 C→C (bias), BNReLU, Dropout2d, conv1x1 C→K (no bias), keys
/// `cls_head.{0,1,3}`. forward: backbone features as in upsample_concat -> logits (N, K, H0, W0).
class FcnHeadImpl : public torch::nn::Module {
 public:
  FcnHeadImpl(const FeatureSpec& spec, const FcnHeadOptions& options = {});
  at::Tensor forward(const std::vector<at::Tensor>& features);
  const FcnHeadOptions& options() const { return options_; }

 private:
  FeatureSpec spec_;
  FcnHeadOptions options_;
  torch::nn::Sequential cls_head_{nullptr};
};
TORCH_MODULE(FcnHead);

}  // namespace boundseg::models
