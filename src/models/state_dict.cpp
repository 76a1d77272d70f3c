// Module state by name: PyTorch-ordered listing and checked, by-name loading.
#include "boundseg/models/state_dict.h"

#include <ATen/ATen.h>
#include <torch/utils.h>

#include <algorithm>

#include "boundseg/core/error.h"

namespace boundseg::models {
namespace {

constexpr size_t kNamedKeys = 5;  // keys named per list in messages; the rest are counted

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

// "3 missing keys (a, b, c)" / "7 missing keys (a, ..., e and 2 more)"; items already formatted.
std::string key_list(const std::vector<std::string>& items, const std::string& kind) {
  std::string s = std::to_string(items.size()) + " " + kind + (items.size() == 1 ? " key" : " keys");
  if (items.empty()) return s;
  s += " (";
  for (size_t i = 0; i < items.size() && i < kNamedKeys; ++i) s += (i ? ", " : "") + items[i];
  if (items.size() > kNamedKeys) s += " and " + std::to_string(items.size() - kNamedKeys) + " more";
  return s + ")";
}

std::vector<std::string> mismatch_items(const std::vector<ShapeMismatch>& mismatched) {
  std::vector<std::string> items;
  for (const ShapeMismatch& m : mismatched) {
    items.push_back(m.key + ": model " + shape_text(m.model_shape) + ", weights " + shape_text(m.weights_shape));
  }
  return items;
}

void collect(const torch::nn::Module& module, const std::string& prefix,
             std::vector<std::pair<std::string, at::Tensor>>& out) {
  for (const auto& p : module.named_parameters(/*recurse=*/false)) {
    if (p.value().defined()) out.emplace_back(prefix + p.key(), p.value());
  }
  for (const auto& b : module.named_buffers(/*recurse=*/false)) {
    if (b.value().defined()) out.emplace_back(prefix + b.key(), b.value());
  }
  for (const auto& child : module.named_children()) collect(*child.value(), prefix + child.key() + ".", out);
}

// A 0-dim entry stored with shape [1] (PyTorch 0.3 checkpoints; BPR's num_batches_tracked): torch's loader takes
// it, so this one does too.
bool is_legacy_scalar(const at::Tensor& target, const at::Tensor& source) {
  return target.dim() == 0 && source.dim() == 1 && source.numel() == 1;
}

}  // namespace

std::string LoadReport::summary() const {
  return std::to_string(loaded.size()) + " loaded, " + key_list(missing, "missing") + ", " +
         key_list(unexpected, "unexpected") + ", " + key_list(mismatch_items(mismatched), "mis-shaped");
}

std::vector<std::pair<std::string, at::Tensor>> state_dict(const torch::nn::Module& module) {
  std::vector<std::pair<std::string, at::Tensor>> out;
  collect(module, "", out);
  return out;
}

LoadReport load_state_dict(torch::nn::Module& module, const std::map<std::string, at::Tensor>& tensors, bool strict) {
  LoadReport report;
  std::map<std::string, at::Tensor> targets;
  for (auto& [name, tensor] : state_dict(module)) targets.emplace(name, tensor);

  std::vector<std::pair<at::Tensor, at::Tensor>> copies;  // (destination, source)
  for (const auto& [name, target] : targets) {
    auto it = tensors.find(name);
    if (it == tensors.end()) {
      report.missing.push_back(name);
    } else if (!it->second.defined() || !(it->second.sizes() == target.sizes() || is_legacy_scalar(target, it->second))) {
      report.mismatched.push_back(
          {name, target.sizes().vec(), it->second.defined() ? it->second.sizes().vec() : std::vector<int64_t>{}});
    } else {
      report.loaded.push_back(name);
      copies.emplace_back(target, it->second.reshape(target.sizes()));
    }
  }
  for (const auto& entry : tensors) {
    if (targets.count(entry.first) == 0) report.unexpected.push_back(entry.first);
  }

  if (strict && !report.ok()) {
    std::vector<std::string> parts;
    if (!report.missing.empty()) parts.push_back(key_list(report.missing, "missing"));
    if (!report.unexpected.empty()) parts.push_back(key_list(report.unexpected, "unexpected"));
    if (!report.mismatched.empty()) parts.push_back(key_list(mismatch_items(report.mismatched), "mis-shaped"));
    std::string actual;
    for (const std::string& part : parts) actual += (actual.empty() ? "" : ", ") + part;
    fail("load_state_dict", "the weights",
         "match the model's " + std::to_string(targets.size()) + " parameters and buffers by name and shape", actual);
  }

  torch::NoGradGuard no_grad;
  for (auto& [destination, source] : copies) destination.copy_(source);
  return report;
}

}  // namespace boundseg::models
