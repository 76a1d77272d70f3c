// Helpers shared by the model golden tests (shared/golden/models): reference key lists, weights, thread pinning.
#pragma once

#include <ATen/Parallel.h>
#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "boundseg/io/safetensors.h"
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
