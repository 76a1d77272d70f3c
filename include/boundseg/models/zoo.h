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

#include "boundseg/core/registry.h"
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

/// A network with its weights, in eval mode.
struct Network {
  std::shared_ptr<torch::nn::Module> module;
  /// The main output: class logits (N, K, H, W) at the input size for segmenters, (N, 2, S/4, S/4) for BPR.
  std::function<at::Tensor(const at::Tensor&)> forward;
  /// Named outputs for training: "out" (the main logits, as `forward`) and those of `wanted` (names from
  /// `outputs`), computed only when asked.
  std::function<std::map<std::string, at::Tensor>(const at::Tensor&, const std::vector<std::string>& wanted)>
      forward_outputs;
  /// What forward_outputs can give, e.g. {"out", "aux", "bottleneck", "backbone"} for OCR networks.
  std::vector<std::string> outputs = {"out"};
  /// The logits among them (what `export --train` returns), e.g. {"out", "aux"}.
  std::vector<std::string> logits = {"out"};
  /// Channels the input must have (3 = image, 4 = BPR's image + mask).
  int64_t input_channels = 3;
  int64_t num_classes = 0;
  /// The module's TorchScript class name on export, e.g. "HrnetOcr".
  std::string type_name;
};

/// A network by name. Adding one: a row in the table of src/models/zoo.cpp (docs/ARCHITECTURE.md).
struct ZooEntry {
  std::string name;
  /// The weights key whose rows are the classes (sizes a segmenter from its weights); empty = fixed classes.
  std::string classifier_key;
  /// Builds the untrained network (LibTorch's default initialisation) for config.num_classes classes.
  std::function<Network(const ModelConfig& config, BnNaming naming)> build;
};

/// hrnet_w18_ocr .. hrnet_w64_ocr (openseg HRNet + OCR), hrnet_w18_small_ocr (mmseg's HRNetV2-W18-small backbone),
/// hrnet_tiny_ocr (boundseg's CPU demo size: the hrnet_tiny backbone with a 128/64-channel OCR head),
/// hrnet_w18 .. hrnet_w64, hrnet_w18_small (openseg HRNet_W48 baseline: the FCN head), bpr_hrnet18s, bpr_hrnet48.
const Registry<ZooEntry>& model_registry();
std::vector<std::string> registered_models();

/// A registered name, or the path of a JSON config: the converter's side-car (`arch`, `num_classes`, `bn_variant`
/// abn_leaky|torch_bn_relu, `palette`) or any file with those keys (only `arch` is required). Errors name the file.
ModelConfig model_config(const std::string& name_or_config);

/// Builds `config.arch` with LibTorch's default initialisation (seed it with torch::manual_seed), in train mode;
/// segmenters need config.num_classes; BN naming defaults to torch's.
Network build_network(const ModelConfig& config);
/// Builds `config.arch`, filling unset classes and naming from `weights`, and loads them strictly (errors name the
/// missing, unexpected and mis-shaped keys).
Network load_network(const ModelConfig& config, const std::map<std::string, at::Tensor>& weights);

}  // namespace boundseg::models
