// OCR head (hrnet_ocr.md §2) and plain FCN head (§3) of openseg's HRNet models.
#include "boundseg/models/ocr_head.h"

#include <ATen/ATen.h>
#include <torch/nn/modules/dropout.h>
#include <torch/nn/options/conv.h>

#include <cmath>
#include <string>

#include "boundseg/core/error.h"
#include "models/resize_like.h"
#include <ATen/Parallel.h>

#include "boundseg/core/check.h"

namespace boundseg::models {
namespace {

Conv2d head_conv(int64_t in, int64_t out, int64_t kernel, bool bias = true) {
  // Head convs have a bias unless the spec says otherwise (§2), and keep the size (pad kernel / 2).
  return Conv2d(torch::nn::Conv2dOptions(in, out, kernel).padding(kernel / 2).bias(bias));
}

/// The 1.7 branch's Sequential(SyncBN, ReLU): the BN is child "0"; the activation is fused into it (ReLU has no
/// state, so the keys are the same).
class NestedBnActImpl : public torch::nn::Module {
 public:
  explicit NestedBnActImpl(const BatchNormOptions& options) { bn_ = register_module("0", BatchNorm(options)); }
  at::Tensor forward(const at::Tensor& x) { return bn_->forward(x); }

 private:
  BatchNorm bn_{nullptr};
};
TORCH_MODULE(NestedBnAct);

void check_probability(double p, const char* where) {
  require(p >= 0 && p < 1, where, "'dropout'", "lie in [0, 1)", [&] { return std::to_string(p); });
}

}  // namespace

torch::nn::AnyModule bn_relu(int64_t channels, BnNaming bn_naming, HeadActivation activation) {
  if (activation == HeadActivation::kAuto) {
    activation = bn_naming == BnNaming::kAbn ? HeadActivation::kLeakyRelu : HeadActivation::kRelu;
  }
  // LeakyReLU slope 0.01 = InPlaceABN's default (§2).
  BatchNormOptions options =
      batch_norm_options(channels, bn_naming)
          .activation(activation == HeadActivation::kRelu ? BnActivation::kRelu : BnActivation::kLeakyRelu)
          .negative_slope(0.01);
  if (bn_naming == BnNaming::kAbn) return torch::nn::AnyModule(BatchNorm(options));
  return torch::nn::AnyModule(NestedBnAct(options));
}

at::Tensor upsample_concat(const std::vector<at::Tensor>& features, const FeatureSpec& spec, const char* where,
                           bool align_corners) {
  require(features.size() == spec.size() && !features.empty(), where, "'features'",
          "hold the " + std::to_string(spec.size()) + " maps of the backbone's FeatureSpec",
          [&] { return std::to_string(features.size()) + " maps"; });
  for (size_t i = 0; i < features.size(); ++i) {
    const at::Tensor& f = features[i];
    const std::string name = "'features[" + std::to_string(i) + "]'";
    const std::string shape = "(N, " + std::to_string(spec.channels[i]) + ", H, W)";
    require(f.defined() && f.dim() == 4 && f.size(1) == spec.channels[i] && at::isFloatingType(f.scalar_type()) &&
                f.size(0) == features[0].size(0),
            where, name, "be a floating-point " + shape + " tensor with the batch size of features[0]",
            [&] { return boundseg::describe_or_undefined(f); });
  }
  std::vector<at::Tensor> parts = {features[0]};
  for (size_t i = 1; i < features.size(); ++i) {
    parts.push_back(detail::resize_like(features[i], features[0], align_corners));
  }
  return at::cat(parts, 1);
}

at::Tensor spatial_gather(const at::Tensor& feats, const at::Tensor& logits) {
  require(feats.defined() && feats.dim() == 4, "spatial_gather", "'feats'", "be a (N, C, H, W) tensor",
          [&] { return boundseg::describe_or_undefined(feats); });
  require(logits.defined() && logits.dim() == 4 && logits.size(0) == feats.size(0) && logits.size(2) == feats.size(2) &&
              logits.size(3) == feats.size(3),
          "spatial_gather", "'logits'", "be a (N, K, H, W) tensor with the N, H, W of 'feats'",
          [&] {
            return boundseg::describe_or_undefined(logits) + " for 'feats' " + boundseg::describe(feats);
          });
  // Each class map is normalised over the pixels (dim 2), not over the classes (§2 step 4). Shapes come from the
  // tensors (flatten, view_as), never from read-out sizes, so that a traced export stays size-generic.
  const at::Tensor probs = at::softmax(logits.flatten(2), 2);                         // (N, K, HW)
  const at::Tensor regions = at::matmul(probs, feats.flatten(2).permute({0, 2, 1}));  // (N, K, C)
  return regions.permute({0, 2, 1}).unsqueeze(3);  // proxy (N, C, K, 1)
}

// ------------------------------------------------------------------------------------------------------------------

ObjectAttentionBlockImpl::ObjectAttentionBlockImpl(int64_t in_channels, int64_t key_channels, BnNaming bn_naming,
                                                   HeadActivation activation)
    : key_channels_(key_channels) {
  auto projection = [&](int64_t in, int64_t out) {
    torch::nn::Sequential seq;
    seq->push_back(head_conv(in, out, 1));
    seq->push_back(bn_relu(out, bn_naming, activation));
    return seq;
  };
  auto two_projections = [&] {
    torch::nn::Sequential seq = projection(in_channels, key_channels);
    seq->push_back(head_conv(key_channels, key_channels, 1));
    seq->push_back(bn_relu(key_channels, bn_naming, activation));
    return seq;
  };
  f_pixel_ = register_module("f_pixel", two_projections());
  f_object_ = register_module("f_object", two_projections());
  f_down_ = register_module("f_down", projection(in_channels, key_channels));
  f_up_ = register_module("f_up", projection(key_channels, in_channels));
}

at::Tensor ObjectAttentionBlockImpl::forward(const at::Tensor& feats, const at::Tensor& proxy) {
  at::Tensor context;
  {  // the pixel projection and the similarities are freed before f_up runs
    const at::Tensor pixel = f_pixel_->forward(feats);                               // (N, k, H, W)
    const at::Tensor query = pixel.flatten(2).permute({0, 2, 1});                    // (N, HW, k)
    const at::Tensor key = f_object_->forward(proxy).flatten(2);                     // (N, k, K)
    const at::Tensor value = f_down_->forward(proxy).flatten(2).permute({0, 2, 1});  // (N, K, k)
    // Scaled dot-product over the key width, softmax over the K regions; the scale multiplies after the matmul as
    // in the reference, for last-bit parity.
    at::Tensor sim = at::matmul(query, key) * std::pow(static_cast<double>(key_channels_), -0.5);
    sim = at::softmax(sim, -1);
    context = at::matmul(sim, value).permute({0, 2, 1}).contiguous().view_as(pixel);
  }
  return f_up_->forward(std::move(context));
}

SpatialOcrImpl::SpatialOcrImpl(int64_t in_channels, int64_t key_channels, int64_t out_channels, double dropout,
                               BnNaming bn_naming, HeadActivation activation) {
  object_context_block_ =
      register_module("object_context_block", ObjectAttentionBlock(in_channels, key_channels, bn_naming, activation));
  conv_bn_dropout_ = torch::nn::Sequential();
  conv_bn_dropout_->push_back(head_conv(2 * in_channels, out_channels, 1));
  conv_bn_dropout_->push_back(bn_relu(out_channels, bn_naming, activation));
  conv_bn_dropout_->push_back(torch::nn::Dropout2d(dropout));
  register_module("conv_bn_dropout", conv_bn_dropout_);
}

at::Tensor SpatialOcrImpl::forward(at::Tensor feats, const at::Tensor& proxy) {
  // Concat order [context, feats] (§2 step 6). Only the concatenation is alive while conv_bn_dropout runs (feats is
  // taken by value: a caller that moves it in gives up its reference).
  at::Tensor joined = at::cat({object_context_block_->forward(feats, proxy), feats}, 1);
  feats.reset();
  return conv_bn_dropout_->forward(std::move(joined));
}

// ------------------------------------------------------------------------------------------------------------------

void validate(const OcrHeadOptions& options, const char* where) {
  require(options.num_classes() > 0, where, "'num_classes'", "be positive",
          [&] { return std::to_string(options.num_classes()); });
  require(options.mid_channels() > 0, where, "'mid_channels'", "be positive",
          [&] { return std::to_string(options.mid_channels()); });
  require(options.key_channels() > 0, where, "'key_channels'", "be positive",
          [&] { return std::to_string(options.key_channels()); });
  check_probability(options.dropout(), where);
}

void validate(const FcnHeadOptions& options, const char* where) {
  require(options.num_classes() > 0, where, "'num_classes'", "be positive",
          [&] { return std::to_string(options.num_classes()); });
  check_probability(options.dropout(), where);
}

namespace {
void check_spec(const FeatureSpec& spec, const char* where) {
  bool ok = !spec.channels.empty() && spec.channels.size() == spec.strides.size();
  for (int64_t c : spec.channels) ok = ok && c > 0;
  require(ok, where, "the backbone's FeatureSpec", "list one positive channel count and one stride per map", [&] {
    return std::to_string(spec.channels.size()) + " channel counts and " + std::to_string(spec.strides.size()) +
           " strides";
  });
}
}  // namespace

OcrHeadImpl::OcrHeadImpl(const FeatureSpec& spec, const OcrHeadOptions& options) : spec_(spec), options_(options) {
  check_spec(spec_, "OcrHead");
  validate(options_, "OcrHead");
  const int64_t in = spec_.total_channels(), mid = options_.mid_channels(), k = options_.num_classes();
  const BnNaming naming = options_.bn_naming();
  const HeadActivation act = options_.activation();
  // Registration order = the reference's (conv3x3, ocr_distri_head, cls_head, aux_head), hence its state_dict order.
  conv3x3_ = torch::nn::Sequential();
  conv3x3_->push_back(head_conv(in, mid, 3));
  conv3x3_->push_back(bn_relu(mid, naming, act));
  register_module("conv3x3", conv3x3_);
  ocr_distri_head_ = register_module("ocr_distri_head",
                                     SpatialOcr(mid, options_.key_channels(), mid, options_.dropout(), naming, act));
  cls_head_ = register_module("cls_head", head_conv(mid, k, 1));
  aux_head_ = torch::nn::Sequential();
  aux_head_->push_back(head_conv(in, in, 3));
  aux_head_->push_back(bn_relu(in, naming, act));
  aux_head_->push_back(head_conv(in, k, 1));
  register_module("aux_head", aux_head_);
}

HeadOutput OcrHeadImpl::forward(const std::vector<at::Tensor>& features, bool keep_features) {
  HeadOutput result;
  at::Tensor f;
  {  // the concatenated features are freed once conv3x3 has read them (unless kept)
    const at::Tensor feats = upsample_concat(features, spec_, "OcrHead");
    result.aux = aux_head_->forward(feats);
    f = conv3x3_->forward(feats);
    if (keep_features) {
      result.backbone = feats;
      result.bottleneck = f;
    }
  }
  const at::Tensor proxy = spatial_gather(f, result.aux);
  result.out = cls_head_->forward(ocr_distri_head_->forward(std::move(f), proxy));
  return result;
}

FcnHeadImpl::FcnHeadImpl(const FeatureSpec& spec, const FcnHeadOptions& options) : spec_(spec), options_(options) {
  check_spec(spec_, "FcnHead");
  validate(options_, "FcnHead");
  const int64_t in = spec_.total_channels();
  cls_head_ = torch::nn::Sequential();
  cls_head_->push_back(head_conv(in, in, 3));
  cls_head_->push_back(bn_relu(in, options_.bn_naming(), options_.activation()));
  cls_head_->push_back(torch::nn::Dropout2d(options_.dropout()));
  cls_head_->push_back(head_conv(in, options_.num_classes(), 1, /*bias=*/false));
  register_module("cls_head", cls_head_);
}

at::Tensor FcnHeadImpl::forward(const std::vector<at::Tensor>& features) {
  return cls_head_->forward(upsample_concat(features, spec_, "FcnHead"));
}

}  // namespace boundseg::models
