// Module state by name: PyTorch-ordered state dicts and checked loading (hrnet_ocr.md §1.2, §6 #6).
#pragma once

#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>

#include <map>
#include <string>
#include <utility>
#include <vector>

namespace boundseg::models {

/// A key present in both the module and the weights with different shapes.
struct ShapeMismatch {
  std::string key;
  std::vector<int64_t> model_shape;
  std::vector<int64_t> weights_shape;
};

/// What load_state_dict matched. Keys are sorted.
struct LoadReport {
  /// Keys copied into the module.
  std::vector<std::string> loaded;
  /// Module parameters/buffers without a tensor in the weights (left untouched).
  std::vector<std::string> missing;
  /// Weights without a parameter/buffer in the module (ignored).
  std::vector<std::string> unexpected;
  /// Keys on both sides with different shapes (left untouched).
  std::vector<ShapeMismatch> mismatched;

  /// True when nothing is missing, unexpected or mis-shaped.
  bool ok() const { return missing.empty() && unexpected.empty() && mismatched.empty(); }
  /// One line, e.g. "1581 loaded, 1 missing (cls_head.bias), 0 unexpected, 1 mis-shaped (aux_head.2.weight: model
  /// [19, 270, 1, 1], weights [20, 270, 1, 1])"; at most 5 keys are named per list, then "and N more".
  std::string summary() const;
};

/// The module's parameters and buffers in PyTorch `state_dict()` order: modules in pre-order (registration order),
/// for each its own parameters, then its own buffers. Undefined tensors (e.g. the `bias` of a bias-free conv) are
/// skipped. The tensors alias the module's state.
std::vector<std::pair<std::string, at::Tensor>> state_dict(const torch::nn::Module& module);

/// Copies `tensors` into the parameters and buffers of `module` by full dotted name, under NoGradGuard (values are
/// converted to the destination dtype and device; a [1]-shaped entry fills a 0-dim one, as in torch). With `strict`, any missing, unexpected or mis-shaped key is an
/// error naming the keys (first 5 of each kind and the counts), raised before anything is copied; otherwise the
/// matching keys are copied and the report says what was skipped.
LoadReport load_state_dict(torch::nn::Module& module, const std::map<std::string, at::Tensor>& tensors,
                           bool strict = true);

}  // namespace boundseg::models
