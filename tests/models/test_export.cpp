// TorchScript export: the saved module reproduces boundseg's forward at the traced size, at other sizes and batch
// sizes, keeps the reference parameter names, and matches the BPR golden (shared/golden/models).
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/csrc/jit/serialization/import.h>
#include <torch/utils.h>

#include <fstream>
#include <string>
#include <vector>

#include "boundseg/io/safetensors.h"
#include "boundseg/models/bpr_net.h"
#include "boundseg/models/export.h"
#include "boundseg/models/hrnet_ocr.h"
#include "boundseg/models/zoo.h"
#include "support/golden.h"
#include "support/model_golden.h"

namespace boundseg::models {
namespace {

at::Tensor run(torch::jit::Module& module, const at::Tensor& x) {
  torch::NoGradGuard no_grad;
  return module.forward({x}).toTensor();
}

std::vector<std::string> jit_keys(const torch::jit::Module& module) {
  std::vector<std::string> keys;
  for (const auto& p : module.named_parameters()) keys.push_back(p.name);
  for (const auto& b : module.named_buffers()) keys.push_back(b.name);
  std::sort(keys.begin(), keys.end());
  return keys;
}

TEST(Export, TracedHrnetOcrRunsAtOtherSizesAndBatches) {
  torch::manual_seed(5);
  HrnetOcr model(HrnetOcrOptions()
                     .backbone(HrnetOptions().width(8).stage_modules({1, 1, 1}).num_blocks(1))
                     .head(OcrHeadOptions(4).mid_channels(16).key_channels(8)));
  model->eval();
  // Non-trivial BN statistics, so that a dropped or misplaced BN would show.
  for (auto& [name, tensor] : state_dict(*model)) {
    torch::NoGradGuard no_grad;
    if (name.find("running_var") != std::string::npos) tensor.uniform_(0.5, 2.0);
    if (name.find("running_mean") != std::string::npos) tensor.uniform_(-0.2, 0.2);
  }
  auto forward = [model](const at::Tensor& x) mutable { return std::get<1>(model->forward(x)); };
  testing::TempDir dir;
  const auto path = dir.path() / "tiny.pt";
  export_torchscript(*model, forward, at::randn({1, 3, 64, 96}), path, "HrnetOcr");
  torch::jit::Module loaded = torch::jit::load(path.string());

  std::vector<std::string> ours;
  for (const auto& [name, tensor] : state_dict(*model)) ours.push_back(name);
  std::sort(ours.begin(), ours.end());
  EXPECT_EQ(jit_keys(loaded), ours);

  torch::NoGradGuard no_grad;
  for (const at::Tensor& x : {at::randn({1, 3, 64, 96}), at::randn({2, 3, 80, 48}), at::randn({1, 3, 37, 53})}) {
    const at::Tensor expected = forward(x);
    const at::Tensor got = run(loaded, x);
    ASSERT_EQ(got.sizes(), expected.sizes()) << x.sizes();
    // The same computation; only boundseg's single-thread 1x1-conv routing (never traced, models/conv.h) may change
    // the last float bits.
    EXPECT_TRUE(at::allclose(got, expected, 1e-5, 1e-6))
        << x.sizes() << " max |diff| " << (got - expected).abs().max().item<double>();
  }
}

// Every BPR case of shared/golden/models (its io file holds `fg_prob64`), traced at the size of its input.
TEST(GoldenExport, BprModuleReproducesTheReferenceLogits) {
  testing::CaseCount cases("BPR model cases");
  for (const testing::ModelCase& c : testing::bpr_cases()) {
    SCOPED_TRACE(c.name);
    const at::Tensor& input = c.tensor("input");
    const std::string arch = testing::bpr_net_of(c);
    ASSERT_FALSE(arch.empty());
    Network net = load_network(model_config(arch), testing::golden_weights(c.name));
    testing::TempDir dir;
    const auto path = dir.path() / "sub" / "bpr.pt";  // a missing folder is created
    export_torchscript(*net.module, net.forward, at::zeros(input.sizes()), path, net.type_name);
    torch::jit::Module loaded = torch::jit::load(path.string());
    testing::SingleThread single_thread;
    const at::Tensor logits = run(loaded, input);
    EXPECT_LE((logits - c.tensor("logits")).abs().max().item<double>(), 1e-4);  // MANIFEST.md tolerance
    std::vector<std::string> expected = testing::golden_keys(c.name);
    std::sort(expected.begin(), expected.end());
    EXPECT_EQ(jit_keys(loaded), expected);
    cases.add();
  }
}

TEST(Export, RejectsABadExampleAndLeavesNoFile) {
  BprNet net("bpr_hrnet18s");
  testing::TempDir dir;
  const auto path = dir.path() / "x.pt";
  BOUNDSEG_EXPECT_THROWS_WITH(
      export_torchscript(*net, [&](const at::Tensor& x) { return net->forward(x); }, at::zeros({4, 128, 128}), path,
                         "BprNet"),
      "boundseg export: the example input must be a (N, C, H, W) tensor, but got 3-D.");
  EXPECT_FALSE(std::filesystem::exists(path));
}

}  // namespace
}  // namespace boundseg::models
