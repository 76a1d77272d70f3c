// SegFix_HRNet (segfix.md §4).
#include "boundseg/models/segfix_net.h"

#include <ATen/ATen.h>
#include <torch/nn/options/conv.h>

#include "boundseg/core/error.h"
#include "boundseg/models/conv.h"

namespace boundseg::models {
namespace {

torch::nn::Sequential make_head(int64_t in, int64_t mid, int64_t out, const SegFixNetOptions& options) {
  // Both 1x1 convs are bias-free (segfix.py).
  torch::nn::Sequential head;
  head->push_back(Conv2d(torch::nn::Conv2dOptions(in, mid, 1).bias(false)));
  head->push_back(bn_relu(mid, options.bn_naming(), options.activation()));
  head->push_back(Conv2d(torch::nn::Conv2dOptions(mid, out, 1).bias(false)));
  return head;
}

}  // namespace

void validate(const SegFixNetOptions& options, const OptionSite& site) {
  validate(options.backbone(), site.what().c_str());
  const int64_t k = options.num_bins();
  site.require(k == 4 || k == 8 || k == 16 || k == 32, "num_bins", "be 4, 8, 16 or 32",
          [&] { return std::to_string(k); });
  site.require(options.head_channels() > 0, "head_channels", "be positive",
          [&] { return std::to_string(options.head_channels()); });
}

SegFixNetOptions segfix_net_options(const std::string& backbone_name, int64_t num_bins, BnNaming bn_naming) {
  return SegFixNetOptions().backbone(hrnet_options(backbone_name, bn_naming)).num_bins(num_bins).bn_naming(bn_naming);
}

SegFixNetImpl::SegFixNetImpl(const SegFixNetOptions& options) : options_(options) {
  validate(options_, "SegFixNet");
  backbone_ = register_module("backbone", Hrnet(options_.backbone()));
  // C_in = width·15 (hrnetW) or width·31 (hrnet2x): the concatenated backbone outputs.
  const int64_t in = backbone_->feature_spec().total_channels();
  dir_head_ = register_module("dir_head", make_head(in, options_.head_channels(), options_.num_bins(), options_));
  mask_head_ = register_module("mask_head", make_head(in, options_.head_channels(), 2, options_));
}

std::pair<at::Tensor, at::Tensor> SegFixNetImpl::forward(const at::Tensor& x) {
  // Coarser maps upsampled (align_corners=True) to the finest one and concatenated (segfix.md §4).
  const at::Tensor feats = upsample_concat(backbone_->forward(x), backbone_->feature_spec(), "SegFixNet");
  return {mask_head_->forward(feats), dir_head_->forward(feats)};
}

}  // namespace boundseg::models
