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
  return {"hrnet_w18_ocr",       "hrnet_w32_ocr", "hrnet_w48_ocr", "hrnet_w64_ocr",  "hrnet_w18_small_ocr",
          "hrnet_tiny_ocr",      "hrnet_w18",     "hrnet_w32",     "hrnet_w48",      "hrnet_w64",
          "hrnet_w18_small",     "bpr_hrnet18s",  "bpr_hrnet48"};
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

namespace {

// What a segmenter name means: backbone, head and the classifier key that sizes it.
struct SegmenterArch {
  std::string backbone;
  bool ocr = false;
  int64_t ocr_mid_channels = 512, ocr_key_channels = 256;
  std::string classifier() const { return ocr ? "cls_head.weight" : "cls_head.3.weight"; }
};

std::optional<SegmenterArch> segmenter_arch(const std::string& arch) {
  if (arch.rfind(kOpensegPrefix, 0) != 0 && arch != "hrnet_tiny_ocr") return std::nullopt;
  SegmenterArch s;
  s.ocr = arch.size() > 4 && arch.compare(arch.size() - 4, 4, "_ocr") == 0;
  const std::string stem = s.ocr ? arch.substr(0, arch.size() - 4) : arch;
  if (stem == "hrnet_tiny") {
    s.backbone = "hrnet_tiny";
    s.ocr_mid_channels = 128;
    s.ocr_key_channels = 64;
  } else if (stem == "hrnet_w18_small") {
    s.backbone = "hrnetv2_w18_small";
  } else {
    s.backbone = "hrnet" + stem.substr(7);  // "hrnet_w48" -> "hrnet48"
  }
  return s;
}

Network make_network(const ModelConfig& config, BnNaming naming) {
  require(is_registered(config.arch), "model", "'arch'", "be one of " + joined(registered_models()),
          [&] { return "'" + config.arch + "'"; });
  Network net;
  net.num_classes = config.num_classes;
  if (const auto arch = segmenter_arch(config.arch)) {
    if (arch->ocr) {
      HrnetOcrOptions options = hrnet_ocr_options(arch->backbone, net.num_classes, naming);
      options.head().mid_channels(arch->ocr_mid_channels).key_channels(arch->ocr_key_channels);
      if (config.dropout) options.head().dropout(*config.dropout);
      HrnetOcr model(options);
      net.module = model.ptr();
      net.forward = [model](const at::Tensor& x) mutable { return model->predict(x); };
      net.forward_outputs = [model](const at::Tensor& x) mutable {
        auto [aux, out] = model->forward(x);
        return std::map<std::string, at::Tensor>{{"out", out}, {"aux", aux}};
      };
      net.type_name = "HrnetOcr";
    } else {
      FcnHeadOptions head = FcnHeadOptions(net.num_classes).bn_naming(naming);
      if (config.dropout) head.dropout(*config.dropout);
      HrnetFcn model(hrnet_options(arch->backbone, naming), head);
      net.module = model.ptr();
      net.forward = [model](const at::Tensor& x) mutable { return model->forward(x); };
      net.forward_outputs = [model](const at::Tensor& x) mutable {
        return std::map<std::string, at::Tensor>{{"out", model->forward(x)}};
      };
      net.type_name = "HrnetFcn";
    }
  } else {
    BprNet model(config.arch);
    net.module = model.ptr();
    net.forward = [model](const at::Tensor& x) mutable { return model->forward(x); };
    net.forward_outputs = [model](const at::Tensor& x) mutable {
      return std::map<std::string, at::Tensor>{{"out", model->forward(x)}};
    };
    net.input_channels = 4;
    net.num_classes = 2;
    net.type_name = "BprNet";
  }
  return net;
}

}  // namespace

Network build_network(const ModelConfig& config) {
  require(config.num_classes > 0 || !segmenter_arch(config.arch), "model", "'num_classes'",
          "be set to build a segmenter without weights", [&] { return std::to_string(config.num_classes); });
  Network net = make_network(config, config.bn_naming.value_or(BnNaming::kTorch));
  net.module->train();
  return net;
}

Network load_network(const ModelConfig& config, const std::map<std::string, at::Tensor>& weights) {
  ModelConfig sized = config;
  if (const auto arch = segmenter_arch(config.arch)) {
    if (sized.num_classes <= 0) sized.num_classes = classes_in(weights, arch->classifier());
    require(sized.num_classes > 0, "model", "the weights", "hold " + arch->classifier() + " (to size the classifier)",
            [] { return "no such key"; });
  }
  const BnNaming naming = config.bn_naming.value_or([&] {
    for (const auto& entry : weights) {
      if (entry.first.size() >= 19 && entry.first.compare(entry.first.size() - 19, 19, "num_batches_tracked") == 0)
        return BnNaming::kTorch;
    }
    return BnNaming::kAbn;
  }());
  Network net = make_network(sized, naming);
  load_state_dict(*net.module, weights);  // strict
  net.module->eval();
  return net;
}

}  // namespace boundseg::models
