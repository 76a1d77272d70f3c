// HRNet + OCR head as openseg's HRNet_W48_OCR (hrnet_ocr.md §2).
#include "boundseg/models/hrnet_ocr.h"

#include <algorithm>

#include <ATen/ATen.h>

#include "models/resize_like.h"

namespace boundseg::models {

HrnetOcrOptions hrnet_ocr_options(const std::string& backbone_name, int64_t num_classes, BnNaming bn_naming) {
  return HrnetOcrOptions()
      .backbone(hrnet_options(backbone_name, bn_naming))
      .head(OcrHeadOptions(num_classes).bn_naming(bn_naming));
}

HrnetOcrImpl::HrnetOcrImpl(const HrnetOcrOptions& options) : options_(options) {
  backbone_ = register_module("backbone", Hrnet(options_.backbone()));
  head_ = OcrHead(backbone_->feature_spec(), options_.head());
  // The reference keeps the head layers directly on the network (`conv3x3.0.weight`, not `head.conv3x3.0.weight`).
  for (const auto& child : head_->named_children()) register_module(child.key(), child.value());
}

void HrnetOcrImpl::train(bool on) {
  torch::nn::Module::train(on);
  head_->train(on);
}

HrnetOcrOutput HrnetOcrImpl::forward_all(const at::Tensor& x) {
  HrnetOcrOutput result;
  result.features = backbone_->forward(x);
  HeadOutput logits = head_->forward(result.features);
  // Both outputs go back to the input size (§2 step 8).
  result.out_aux = detail::resize_like(logits.aux, x, /*align_corners=*/true);
  result.out = detail::resize_like(logits.out, x, /*align_corners=*/true);
  return result;
}

at::Tensor HrnetOcrImpl::predict(const at::Tensor& x) {
  return detail::resize_like(head_->forward(backbone_->forward(x)).out, x, /*align_corners=*/true);
}

std::map<std::string, at::Tensor> HrnetOcrImpl::forward_named(const at::Tensor& x,
                                                              const std::vector<std::string>& wanted) {
  const auto wants = [&](const char* name) { return std::find(wanted.begin(), wanted.end(), name) != wanted.end(); };
  HeadOutput head = head_->forward(backbone_->forward(x), wants("bottleneck") || wants("backbone"));
  std::map<std::string, at::Tensor> outputs{{"out", detail::resize_like(head.out, x, /*align_corners=*/true)}};
  if (wants("aux")) outputs["aux"] = detail::resize_like(head.aux, x, /*align_corners=*/true);
  if (wants("bottleneck")) outputs["bottleneck"] = head.bottleneck;
  if (wants("backbone")) outputs["backbone"] = head.backbone;
  return outputs;
}

std::tuple<at::Tensor, at::Tensor> HrnetOcrImpl::forward(const at::Tensor& x) {
  HrnetOcrOutput result = forward_all(x);
  return {result.out_aux, result.out};
}

HrnetFcnImpl::HrnetFcnImpl(const HrnetOptions& backbone, const FcnHeadOptions& head) {
  backbone_ = register_module("backbone", Hrnet(backbone));
  head_ = FcnHead(backbone_->feature_spec(), head);
  for (const auto& child : head_->named_children()) register_module(child.key(), child.value());
}

void HrnetFcnImpl::train(bool on) {
  torch::nn::Module::train(on);
  head_->train(on);
}

at::Tensor HrnetFcnImpl::forward(const at::Tensor& x) {
  return detail::resize_like(head_->forward(backbone_->forward(x)), x, /*align_corners=*/true);
}

}  // namespace boundseg::models
