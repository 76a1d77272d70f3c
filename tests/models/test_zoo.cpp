// Model zoo: names and JSON configs to networks sized from their weights (models/zoo.h).
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/utils.h>

#include <map>
#include <string>

#include "boundseg/io/atomic_file.h"
#include "boundseg/models/hrnet_ocr.h"
#include "boundseg/models/state_dict.h"
#include "boundseg/models/zoo.h"
#include "support/golden.h"

namespace boundseg::models {
namespace {

std::map<std::string, at::Tensor> weights_of(const torch::nn::Module& module) {
  std::map<std::string, at::Tensor> weights;
  for (const auto& [name, tensor] : state_dict(module)) weights.emplace(name, tensor.clone());
  return weights;
}

TEST(Zoo, FcnBaselineTakesClassesAndNamingFromTheWeights) {
  torch::manual_seed(4);
  HrnetFcn reference(hrnet_options("hrnet18", BnNaming::kTorch), FcnHeadOptions(7).bn_naming(BnNaming::kTorch));
  const Network net = load_network(model_config("hrnet_w18"), weights_of(*reference));
  EXPECT_EQ(net.num_classes, 7);
  EXPECT_EQ(net.type_name, "HrnetFcn");
  reference->eval();
  torch::NoGradGuard no_grad;
  const at::Tensor x = at::randn({1, 3, 40, 56});
  const at::Tensor logits = net.forward(x);
  EXPECT_EQ(logits.sizes(), (at::IntArrayRef{1, 7, 40, 56}));
  EXPECT_TRUE(logits.equal(reference->forward(x)));  // the same weights, loaded by name
  EXPECT_TRUE(state_dict(*net.module).size() == state_dict(*reference).size());
}

TEST(Zoo, ConfigFileOverridesAndErrorsNameTheFile) {
  testing::TempDir dir;
  const auto config = dir.path() / "m.json";
  io::write_file_atomic(config, R"({"arch": "hrnet_w32_ocr", "num_classes": 150, "bn_variant": "torch_bn_relu",
                                    "palette": "ade20k"})");
  const ModelConfig c = model_config(config.string());
  EXPECT_EQ(c.arch, "hrnet_w32_ocr");
  EXPECT_EQ(c.num_classes, 150);
  ASSERT_TRUE(c.bn_naming.has_value());
  EXPECT_EQ(*c.bn_naming, BnNaming::kTorch);
  EXPECT_EQ(c.palette, "ade20k");
  EXPECT_EQ(model_config("bpr_hrnet18s").arch, "bpr_hrnet18s");

  BOUNDSEG_EXPECT_THROWS_WITH(model_config("resnet50"), "boundseg model: --model must be one of hrnet_w18_ocr");
  io::write_file_atomic(config, "{not json");
  BOUNDSEG_EXPECT_THROWS_WITH(model_config(config.string()), "must be valid JSON");
  io::write_file_atomic(config, R"({"num_classes": 19})");
  BOUNDSEG_EXPECT_THROWS_WITH(model_config(config.string()), "key \"arch\" must name one of");
  // Weights without the classifier cannot size it.
  BOUNDSEG_EXPECT_THROWS_WITH(load_network(model_config("hrnet_w18_ocr"), {}),
                              "the weights must hold cls_head.weight (to size the classifier), but got no such key.");
}

}  // namespace
}  // namespace boundseg::models
