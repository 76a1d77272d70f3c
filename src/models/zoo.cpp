// Model registry: names and config files -> networks with their weights.
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

const char* const kOpensegPrefix = "hrnet_w";

std::string joined(const std::vector<std::string>& names) {
  std::string s;
  for (const std::string& n : names) s += (s.empty() ? "" : ", ") + n;
  return s;
}

bool is_registered(const std::string& name) {
  for (const std::string& known : registered_models()) {
    if (known == name) return true;
  }
  return false;
}

// Rows of the classifier weight `key` (its output channels), or 0 when absent.
int64_t classes_in(const std::map<std::string, at::Tensor>& weights, const std::string& key) {
  auto it = weights.find(key);
  return it != weights.end() && it->second.dim() >= 1 ? it->second.size(0) : 0;
}

}  // namespace

std::vector<std::string> registered_models() {
  return {"hrnet_w18_ocr", "hrnet_w32_ocr", "hrnet_w48_ocr", "hrnet_w64_ocr", "hrnet_w18", "hrnet_w32",
          "hrnet_w48",     "hrnet_w64",     "bpr_hrnet18s",  "bpr_hrnet48"};
}

ModelConfig model_config(const std::string& name_or_config) {
  ModelConfig config;
  if (is_registered(name_or_config)) {
    config.arch = name_or_config;
    return config;
  }
  std::error_code ec;
  require(std::filesystem::is_regular_file(name_or_config, ec), "model", "--model",
          "be one of " + joined(registered_models()) + " or a JSON config file",
          [&] { return "'" + name_or_config + "'"; });
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
  require(is_registered(config.arch), "model", "config '" + name_or_config + "' key \"arch\"",
          "name one of " + joined(registered_models()), [&] { return "'" + config.arch + "'"; });
  if (json.contains("num_classes") && json["num_classes"].is_number_integer()) {
    config.num_classes = json["num_classes"].get<int64_t>();
  }
  const std::string variant = text("bn_variant");
  if (variant == "abn_leaky") config.bn_naming = BnNaming::kAbn;
  if (variant == "torch_bn_relu") config.bn_naming = BnNaming::kTorch;
  config.palette = text("palette");
  return config;
}

Network load_network(const ModelConfig& config, const std::map<std::string, at::Tensor>& weights) {
  require(is_registered(config.arch), "model", "'arch'", "be one of " + joined(registered_models()),
          [&] { return "'" + config.arch + "'"; });
  Network net;
  if (config.arch.rfind(kOpensegPrefix, 0) == 0) {
    const BnNaming naming = config.bn_naming.value_or([&] {
      for (const auto& entry : weights) {
        if (entry.first.size() >= 19 && entry.first.compare(entry.first.size() - 19, 19, "num_batches_tracked") == 0)
          return BnNaming::kTorch;
      }
      return BnNaming::kAbn;
    }());
    const bool ocr = config.arch.size() > 4 && config.arch.compare(config.arch.size() - 4, 4, "_ocr") == 0;
    // The classifier: OCR's cls_head.weight, the baseline's last cls_head conv (cls_head.3.weight).
    const std::string classifier = ocr ? "cls_head.weight" : "cls_head.3.weight";
    net.num_classes = config.num_classes > 0 ? config.num_classes : classes_in(weights, classifier);
    require(net.num_classes > 0, "model", "the weights", "hold " + classifier + " (to size the classifier)",
            [] { return "no such key"; });
    // "hrnet_w48_ocr" / "hrnet_w48" -> backbone "hrnet48".
    const std::string backbone = "hrnet" + config.arch.substr(7, config.arch.find('_', 7) - 7);
    if (ocr) {
      HrnetOcr model(hrnet_ocr_options(backbone, net.num_classes, naming));
      net.module = model.ptr();
      net.forward = [model](const at::Tensor& x) mutable { return std::get<1>(model->forward(x)); };
      net.type_name = "HrnetOcr";
    } else {
      HrnetFcn model(hrnet_options(backbone, naming), FcnHeadOptions(net.num_classes).bn_naming(naming));
      net.module = model.ptr();
      net.forward = [model](const at::Tensor& x) mutable { return model->forward(x); };
      net.type_name = "HrnetFcn";
    }
  } else {
    BprNet model(config.arch);
    net.module = model.ptr();
    net.forward = [model](const at::Tensor& x) mutable { return model->forward(x); };
    net.input_channels = 4;
    net.num_classes = 2;
    net.type_name = "BprNet";
  }
  load_state_dict(*net.module, weights);  // strict
  net.module->eval();
  return net;
}

}  // namespace boundseg::models
