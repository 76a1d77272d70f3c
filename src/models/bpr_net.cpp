// BPR refinement network (bpr.md §4.2-4.3).
#include "boundseg/models/bpr_net.h"

#include <ATen/ATen.h>
#include <torch/nn/options/conv.h>

#include "boundseg/core/error.h"
#include "boundseg/models/ocr_head.h"
#include <ATen/Parallel.h>

#include "boundseg/core/check.h"

namespace boundseg::models {

ConvBnReluImpl::ConvBnReluImpl(int64_t in, int64_t out, int64_t kernel) {
  conv_ = register_module(
      "conv", Conv2d(torch::nn::Conv2dOptions(in, out, kernel).padding(kernel / 2).bias(false)));
  bn_ = register_module("bn", BatchNorm(batch_norm_options(out, BnNaming::kTorch).activation(BnActivation::kRelu)));
}

at::Tensor ConvBnReluImpl::forward(const at::Tensor& x) { return bn_->forward(conv_->forward(x)); }

MmsegFcnHeadImpl::MmsegFcnHeadImpl(const FeatureSpec& spec, int64_t num_classes) : spec_(spec) {
  require(num_classes > 0, "MmsegFcnHead", "'num_classes'", "be positive", [&] { return std::to_string(num_classes); });
  const int64_t c = spec_.total_channels();
  // conv_seg first: mmseg's BaseDecodeHead creates it before FCNHead adds `convs` (the reference key order).
  conv_seg_ = register_module("conv_seg", Conv2d(torch::nn::Conv2dOptions(c, num_classes, 1)));
  convs_ = register_module("convs", torch::nn::Sequential(ConvBnRelu(c, c, 1)));
}

at::Tensor MmsegFcnHeadImpl::forward(const std::vector<at::Tensor>& features) {
  return conv_seg_->forward(convs_->forward(upsample_concat(features, spec_, "MmsegFcnHead", false)));
}

std::vector<std::string> registered_bpr_nets() { return {"bpr_hrnet18s", "bpr_hrnet48"}; }

namespace {
void check_bpr_name(const std::string& name) {
  require(name == "bpr_hrnet18s" || name == "bpr_hrnet48", "BprNet", "'name'", "be bpr_hrnet18s or bpr_hrnet48",
          [&] { return "'" + name + "'"; });
}
}  // namespace

HrnetOptions bpr_backbone_options(const std::string& name) {
  check_bpr_name(name);
  return hrnet_options(name == "bpr_hrnet18s" ? "hrnetv2_w18_small" : "hrnetv2_w48").mask_channels(1);
}

int64_t bpr_input_size(const std::string& name) {
  check_bpr_name(name);
  return name == "bpr_hrnet18s" ? 128 : 256;
}

BprNetImpl::BprNetImpl(const std::string& name) {
  backbone_ = register_module("backbone", Hrnet(bpr_backbone_options(name)));
  decode_head_ = register_module("decode_head", MmsegFcnHead(backbone_->feature_spec(), 2));
}

BprOutput BprNetImpl::forward_all(const at::Tensor& x) {
  BprOutput result;
  result.features = backbone_->forward(x);
  result.logits = decode_head_->forward(result.features);
  return result;
}

at::Tensor BprNetImpl::forward(const at::Tensor& x) { return forward_all(x).logits; }

at::Tensor bpr_foreground_probability(const at::Tensor& logits, int64_t input_size, int64_t patch_size) {
  require(logits.defined() && logits.dim() == 4 && logits.size(1) == 2 && at::isFloatingType(logits.scalar_type()),
          "bpr_foreground_probability", "'logits'", "be a floating-point (N, 2, h, w) tensor",
          [&] { return boundseg::describe_or_undefined(logits); });
  require(input_size > 0 && patch_size > 0, "bpr_foreground_probability", "'input_size' and 'patch_size'",
          "be positive", [&] { return std::to_string(input_size) + " and " + std::to_string(patch_size); });
  // Two resizes, as the reference (resize to the network input, then to the original patch): for S = 256 the round
  // trip is a smoothing, not an identity (§4.3). Softmax after resizing.
  at::Tensor x = at::upsample_bilinear2d(logits, {input_size, input_size}, false);
  x = at::upsample_bilinear2d(x, {patch_size, patch_size}, false);
  return at::softmax(x, 1).select(1, 1);
}

}  // namespace boundseg::models
