// Networks by name or config file, built to fit a weights file: what `boundseg infer` and `boundseg export` run.
#pragma once

#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "boundseg/models/hrnet.h"

namespace boundseg::models {

/// What `--model NAME_OR_CONFIG` describes.
struct ModelConfig {
  /// One of registered_models(); the names `tools/convert_checkpoint.py` writes as "arch".
  std::string arch;
  /// Classes; 0 = read from the classifier's shape in the weights.
  int64_t num_classes = 0;
  /// BN naming; unset = read from the weights (num_batches_tracked present = torch naming).
  std::optional<BnNaming> bn_naming;
  /// Head dropout probability; unset = the architecture's.
  std::optional<double> dropout;
  /// Palette name from a config ("cityscapes", "ade20k", "voc"); empty when the config names none.
  std::string palette;
};

/// hrnet_w18_ocr .. hrnet_w64_ocr (openseg HRNet + OCR), hrnet_w18 .. hrnet_w64 (openseg HRNet_W48 baseline: the
/// FCN head), hrnet_w18_small[_ocr] (mmseg's HRNetV2-W18-small backbone), hrnet_tiny_ocr (boundseg's CPU demo size:
/// the hrnet_tiny backbone with a 128/64-channel OCR head), bpr_hrnet18s, bpr_hrnet48.
std::vector<std::string> registered_models();

/// A registered name, or the path of a JSON config: the converter's side-car (`arch`, `num_classes`, `bn_variant`
/// abn_leaky|torch_bn_relu, `palette`) or any file with those keys (only `arch` is required). Errors name the file.
ModelConfig model_config(const std::string& name_or_config);

/// A network with its weights, in eval mode.
struct Network {
  std::shared_ptr<torch::nn::Module> module;
  /// The main output: class logits (N, K, H, W) at the input size for segmenters, (N, 2, S/4, S/4) for BPR.
  std::function<at::Tensor(const at::Tensor&)> forward;
  /// Every output by name for training: "out" (the main logits, as `forward`) and, for OCR, "aux" (the soft object
  /// region logits at the input size).
  std::function<std::map<std::string, at::Tensor>(const at::Tensor&)> forward_outputs;
  /// Channels the input must have (3 = image, 4 = BPR's image + mask).
  int64_t input_channels = 3;
  int64_t num_classes = 0;
  /// The module's TorchScript class name on export, e.g. "HrnetOcr".
  std::string type_name;
};

/// Builds `config.arch` with LibTorch's default initialisation (seed it with torch::manual_seed), in train mode;
/// segmenters need config.num_classes; BN naming defaults to torch's.
Network build_network(const ModelConfig& config);
/// Builds `config.arch`, filling unset classes and naming from `weights`, and loads them strictly (errors name the
/// missing, unexpected and mis-shaped keys).
Network load_network(const ModelConfig& config, const std::map<std::string, at::Tensor>& weights);

}  // namespace boundseg::models
