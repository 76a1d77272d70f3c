// Helpers shared by the model golden tests (shared/golden/models): reference key lists, weights, thread pinning.
#pragma once

#include <ATen/Parallel.h>
#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>

#include <map>
#include <regex>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "boundseg/io/safetensors.h"
#include "boundseg/models/bpr_net.h"
#include "boundseg/models/hrnet_ocr.h"
#include "boundseg/models/state_dict.h"
#include "support/golden.h"

namespace boundseg::testing {

inline std::vector<std::string> keys_of(const torch::nn::Module& module) {
  std::vector<std::string> keys;
  for (const auto& entry : models::state_dict(module)) keys.push_back(entry.first);
  return keys;
}

/// "" when equal, else the first position where the two key lists differ, for test messages.
inline std::string first_key_difference(const std::vector<std::string>& ours, const std::vector<std::string>& theirs) {
  for (size_t i = 0; i < ours.size() || i < theirs.size(); ++i) {
    const std::string a = i < ours.size() ? ours[i] : "(end)", b = i < theirs.size() ? theirs[i] : "(end)";
    if (a != b) return "at " + std::to_string(i) + ": ours " + a + ", reference " + b;
  }
  return "";
}

/// The reference state_dict order of golden case `name` (its _weights_index.json).
inline std::vector<std::string> golden_keys(const std::string& name) {
  const nlohmann::json index = read_json(golden_dir("models") / (name + "_weights_index.json"));
  return index.at("keys_in_order").get<std::vector<std::string>>();
}

/// All weights of case `name`, merged from the files named in the index's weight_map.
inline std::map<std::string, at::Tensor> golden_weights(const std::string& name) {
  const auto dir = golden_dir("models");
  const nlohmann::json index = read_json(dir / (name + "_weights_index.json"));
  std::set<std::string> files;
  for (const auto& item : index.at("weight_map").items()) files.insert(item.value().get<std::string>());
  std::map<std::string, at::Tensor> weights;
  for (const std::string& file : files) {
    io::Safetensors part = io::read_safetensors(dir / file);
    for (auto& [key, tensor] : part.tensors) {
      EXPECT_EQ(index.at("weight_map").value(key, std::string()), file) << key;
      weights.emplace(key, tensor);
    }
  }
  return weights;
}

/// A model case of shared/golden/models: <name>_io.safetensors (input and reference outputs) with its
/// <name>_weights_index.json.
struct ModelCase {
  std::string name;
  io::Safetensors io;
  const at::Tensor& tensor(const std::string& key) const { return io.tensors.at(key); }
};

/// The model cases whose io file holds every tensor named in `outputs`. The stored outputs tell which reference
/// network made a case (BPR stores `fg_prob64`, openseg's HRNet+OCR `out_aux`), not its name, which other case sets
/// may choose differently.
inline std::vector<ModelCase> model_cases_with(const std::vector<std::string>& outputs) {
  std::vector<ModelCase> cases;
  for (const auto& file : golden_files("models", "", "_io.safetensors")) {
    if (!std::filesystem::exists(golden_dir("models") / (file.stem + "_weights_index.json"))) continue;
    io::Safetensors io = io::read_safetensors(file.path);
    bool all = true;
    for (const auto& name : outputs) all = all && io.tensors.count(name) > 0;
    if (all) cases.push_back({file.stem, std::move(io)});
  }
  return cases;
}

/// The BPR refiner cases (their io files hold `fg_prob64`).
inline std::vector<ModelCase> bpr_cases() {
  return model_cases_with({"input", "logits", "prob", "fg_prob64", "backbone_out0"});
}

/// The BPR network of a case, read off its data: each registered network has its own patch size S (bpr.md §4.1),
/// the size of the case's input. "" with a test failure when none fits.
inline std::string bpr_net_of(const ModelCase& c) {
  for (const std::string& name : models::registered_bpr_nets())
    if (models::bpr_input_size(name) == c.tensor("input").size(-1)) return name;
  ADD_FAILURE() << c.name << ": no registered BPR network takes " << c.tensor("input").sizes() << " inputs";
  return "";
}

/// The openseg HRNet + OCR cases (their io files hold `out_aux`).
inline std::vector<ModelCase> ocr_cases() { return model_cases_with({"input", "out", "out_aux", "backbone_out0"}); }

/// The openseg network of a case, read off its data: openseg names its backbone configs hrnet<W> after the width W of
/// the first branch (backbone_out0's channels); the classes are `out`'s channels.
inline models::HrnetOcrOptions ocr_options_of(const ModelCase& c) {
  return models::hrnet_ocr_options("hrnet" + std::to_string(c.tensor("backbone_out0").size(1)),
                                   c.tensor("out").size(1));
}

/// The number the manifest states in the case's section as "<N> <what>" (e.g. "12666322 parameters"); -1 with a test
/// failure when it states none.
inline int64_t manifest_count(const std::string& case_name, const std::string& what) {
  const std::string text = manifest_section("models", case_name);
  std::smatch match;
  if (!std::regex_search(text, match, std::regex("([0-9]+) " + what))) {
    ADD_FAILURE() << "models/MANIFEST.md states no '<N> " << what << "' in section '### " << case_name << "'";
    return -1;
  }
  return std::stoll(match[1].str());
}

inline int64_t parameter_count(const torch::nn::Module& module) {
  int64_t count = 0;
  for (const auto& p : module.named_parameters()) count += p.value().numel();
  return count;
}

/// Single-threaded forward, as the goldens were made (most reproducible bits); restores the thread count.
class SingleThread {
 public:
  SingleThread() : threads_(at::get_num_threads()) { at::set_num_threads(1); }
  ~SingleThread() { at::set_num_threads(threads_); }
  SingleThread(const SingleThread&) = delete;
  SingleThread& operator=(const SingleThread&) = delete;

 private:
  int threads_;
};

}  // namespace boundseg::testing
