// The model zoo: a table name -> builder, and names or config files -> networks with their weights.
#include "boundseg/models/zoo.h"

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include <filesystem>

#include "boundseg/core/error.h"
#include "boundseg/io/atomic_file.h"
#include "boundseg/models/bpr_net.h"
#include "boundseg/models/hrnet_ocr.h"
#include "boundseg/models/state_dict.h"

namespace boundseg::models {
namespace {

// openseg HRNet + OCR on `backbone`, the OCR head's widths given.
ZooEntry hrnet_ocr(std::string name, std::string backbone, int64_t mid_channels = 512, int64_t key_channels = 256) {
  return {std::move(name), "cls_head.weight",
          [=](const ModelConfig& config, BnNaming naming) {
            HrnetOcrOptions options = hrnet_ocr_options(backbone, config.num_classes, naming);
            options.head().mid_channels(mid_channels).key_channels(key_channels);
            if (config.dropout) options.head().dropout(*config.dropout);
            HrnetOcr model(options);
            Network net;
            net.module = model.ptr();
            net.forward = [model](const at::Tensor& x) mutable { return model->predict(x); };
            net.forward_outputs = [model](const at::Tensor& x, const std::vector<std::string>& wanted) mutable {
              return model->forward_named(x, wanted);
            };
            net.outputs = {"out", "aux", "bottleneck", "backbone"};
            net.logits = {"out", "aux"};
            net.type_name = "HrnetOcr";
            return net;
          }};
}

// openseg's HRNet baseline: the FCN head on `backbone`.
ZooEntry hrnet_fcn(std::string name, std::string backbone) {
  return {std::move(name), "cls_head.3.weight", [=](const ModelConfig& config, BnNaming naming) {
            FcnHeadOptions head = FcnHeadOptions(config.num_classes).bn_naming(naming);
            if (config.dropout) head.dropout(*config.dropout);
            HrnetFcn model(hrnet_options(backbone, naming), head);
            Network net;
            net.module = model.ptr();
            net.forward = [model](const at::Tensor& x) mutable { return model->forward(x); };
            net.forward_outputs = [model](const at::Tensor& x, const std::vector<std::string>&) mutable {
              return std::map<std::string, at::Tensor>{{"out", model->forward(x)}};
            };
            net.type_name = "HrnetFcn";
            return net;
          }};
}

// BPR's refinement network (4-channel input, 2 classes).
ZooEntry bpr(std::string name) {
  return {name, "", [name](const ModelConfig&, BnNaming) {
            BprNet model(name);
            Network net;
            net.module = model.ptr();
            net.forward = [model](const at::Tensor& x) mutable { return model->forward(x); };
            net.forward_outputs = [model](const at::Tensor& x, const std::vector<std::string>&) mutable {
              return std::map<std::string, at::Tensor>{{"out", model->forward(x)}};
            };
            net.input_channels = 4;
            net.num_classes = 2;
            net.type_name = "BprNet";
            return net;
          }};
}

// Rows of the classifier weight `key` (its output channels), or 0 when absent.
int64_t classes_in(const std::map<std::string, at::Tensor>& weights, const std::string& key) {
  auto it = weights.find(key);
  return it != weights.end() && it->second.dim() >= 1 ? it->second.size(0) : 0;
}

}  // namespace

const Registry<ZooEntry>& model_registry() {
  // One row per network.
  static const Registry<ZooEntry> registry({
      hrnet_ocr("hrnet_w18_ocr", "hrnet18"),
      hrnet_ocr("hrnet_w32_ocr", "hrnet32"),
      hrnet_ocr("hrnet_w48_ocr", "hrnet48"),
      hrnet_ocr("hrnet_w64_ocr", "hrnet64"),
      hrnet_ocr("hrnet_w18_small_ocr", "hrnetv2_w18_small"),
      hrnet_ocr("hrnet_tiny_ocr", "hrnet_tiny", /*mid_channels=*/128, /*key_channels=*/64),
      hrnet_fcn("hrnet_w18", "hrnet18"),
      hrnet_fcn("hrnet_w32", "hrnet32"),
      hrnet_fcn("hrnet_w48", "hrnet48"),
      hrnet_fcn("hrnet_w64", "hrnet64"),
      hrnet_fcn("hrnet_w18_small", "hrnetv2_w18_small"),
      bpr("bpr_hrnet18s"),
      bpr("bpr_hrnet48"),
  });
  return registry;
}

std::vector<std::string> registered_models() { return model_registry().names(); }

ModelConfig model_config(const std::string& name_or_config) {
  ModelConfig config;
  const Registry<ZooEntry>& zoo = model_registry();
  if (zoo.find(name_or_config)) {
    config.arch = name_or_config;
    return config;
  }
  std::error_code ec;
  require(std::filesystem::is_regular_file(name_or_config, ec), "model", "--model",
          "be one of " + zoo.joined() + " or a JSON config file", [&] { return "'" + name_or_config + "'"; });
  nlohmann::json json;
  try {
    json = nlohmann::json::parse(io::read_file(name_or_config, "model config"));
  } catch (const nlohmann::json::exception& e) {
    fail("model", "config '" + name_or_config + "'", "be valid JSON", e.what());
  }
  auto text = [&](const char* key) {
    return json.is_object() && json.contains(key) && json[key].is_string() ? json[key].get<std::string>() : "";
  };
  config.arch = text("arch");
  require(zoo.find(config.arch) != nullptr, "model", "config '" + name_or_config + "' key \"arch\"",
          "name one of " + zoo.joined(), [&] { return "'" + config.arch + "'"; });
  if (json.contains("num_classes") && json["num_classes"].is_number_integer()) {
    config.num_classes = json["num_classes"].get<int64_t>();
  }
  const std::string variant = text("bn_variant");
  if (variant == "abn_leaky") config.bn_naming = BnNaming::kAbn;
  if (variant == "torch_bn_relu") config.bn_naming = BnNaming::kTorch;
  config.palette = text("palette");
  return config;
}

Network build_network(const ModelConfig& config) {
  const ZooEntry& entry = model_registry().at(config.arch, "model", "'arch'");
  require(config.num_classes > 0 || entry.classifier_key.empty(), "model", "'num_classes'",
          "be set to build a segmenter without weights", [&] { return std::to_string(config.num_classes); });
  Network net = entry.build(config, config.bn_naming.value_or(BnNaming::kTorch));
  if (!entry.classifier_key.empty()) net.num_classes = config.num_classes;
  net.module->train();
  return net;
}

Network load_network(const ModelConfig& config, const std::map<std::string, at::Tensor>& weights) {
  const ZooEntry& entry = model_registry().at(config.arch, "model", "'arch'");
  ModelConfig sized = config;
  if (!entry.classifier_key.empty()) {
    if (sized.num_classes <= 0) sized.num_classes = classes_in(weights, entry.classifier_key);
    require(sized.num_classes > 0, "model", "the weights",
            "hold " + entry.classifier_key + " (to size the classifier)", [] { return "no such key"; });
  }
  const BnNaming naming = config.bn_naming.value_or([&] {
    for (const auto& w : weights) {
      if (w.first.size() >= 19 && w.first.compare(w.first.size() - 19, 19, "num_batches_tracked") == 0)
        return BnNaming::kTorch;
    }
    return BnNaming::kAbn;
  }());
  Network net = entry.build(sized, naming);
  if (!entry.classifier_key.empty()) net.num_classes = sized.num_classes;
  load_state_dict(*net.module, weights);  // strict
  net.module->eval();
  return net;
}

}  // namespace boundseg::models
