// SegFix_HRNet (segfix.md §4) and the hrnet2x20 backbone (hrnet_ocr.md §1): structure, keys, counts, outputs.
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/utils.h>

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "boundseg/models/hrnet.h"
#include "boundseg/models/segfix_net.h"
#include "boundseg/models/state_dict.h"
#include "support/golden.h"
#include "support/model_golden.h"

namespace boundseg::models {
namespace {

using testing::keys_of;
using testing::parameter_count;

std::map<std::string, std::vector<int64_t>> shapes_of(const torch::nn::Module& module) {
  std::map<std::string, std::vector<int64_t>> shapes;
  for (const auto& [name, tensor] : state_dict(module)) shapes[name] = tensor.sizes().vec();
  return shapes;
}

// Parameter counts of segfix.md §4 are given to 0.01 M.
void expect_millions(int64_t count, double millions) {
  EXPECT_NEAR(static_cast<double>(count), millions * 1e6, 0.005e6) << count;
}

void expect_heads(const SegFixNet& net, int64_t in_channels, int64_t bins) {
  const auto shapes = shapes_of(*net);
  EXPECT_EQ(shapes.at("dir_head.0.weight"), (std::vector<int64_t>{256, in_channels, 1, 1}));
  EXPECT_EQ(shapes.at("dir_head.2.weight"), (std::vector<int64_t>{bins, 256, 1, 1}));
  EXPECT_EQ(shapes.at("mask_head.0.weight"), (std::vector<int64_t>{256, in_channels, 1, 1}));
  EXPECT_EQ(shapes.at("mask_head.2.weight"), (std::vector<int64_t>{2, 256, 1, 1}));
  for (const char* bias : {"dir_head.0.bias", "dir_head.2.bias", "mask_head.0.bias", "mask_head.2.bias"}) {
    EXPECT_EQ(shapes.count(bias), 0u) << bias;  // no conv biases
  }
  // Reference registration order: backbone, dir_head, mask_head.
  const std::vector<std::string> keys = keys_of(*net);
  const auto first_head =
      std::find_if(keys.begin(), keys.end(), [](const std::string& k) { return k.rfind("backbone.", 0) != 0; });
  ASSERT_NE(first_head, keys.end());
  EXPECT_EQ(*first_head, "dir_head.0.weight");
  EXPECT_EQ(keys.back().rfind("mask_head.", 0), 0u) << keys.back();
}

TEST(SegFixNet, Hrnet48StructureKeysAndParameters) {
  SegFixNet net(segfix_net_options("hrnet48"));
  EXPECT_EQ(keys_of(*net).size(), 1537u);  // hrnet_ocr.md §1.1, master naming
  expect_millions(parameter_count(*net), 65.70);
  expect_heads(net, 720, 8);
  const auto shapes = shapes_of(*net);
  EXPECT_EQ(shapes.at("mask_head.1.weight"), (std::vector<int64_t>{256}));  // flat ABN keys
  EXPECT_EQ(shapes.count("mask_head.1.num_batches_tracked"), 0u);
  SegFixNet torch_named(segfix_net_options("hrnet48", 8, BnNaming::kTorch));
  EXPECT_EQ(keys_of(*torch_named).size(), 1844u);
}

TEST(SegFixNet, Hrnet2x20StructureKeysAndParameters) {
  SegFixNet net(segfix_net_options("hrnet2x20"));
  EXPECT_EQ(keys_of(*net).size(), 2347u);
  expect_millions(parameter_count(*net), 47.41);
  expect_heads(net, 620, 8);
  const auto shapes = shapes_of(*net);
  // hrnet_ocr.md §1: one stem conv; the 2x20 transitions.
  EXPECT_EQ(shapes.at("backbone.conv1.weight"), (std::vector<int64_t>{64, 3, 3, 3}));
  EXPECT_EQ(shapes.count("backbone.conv2.weight"), 0u);
  EXPECT_EQ(shapes.at("backbone.transition0.0.0.weight"), (std::vector<int64_t>{128, 64, 3, 3}));
  EXPECT_EQ(shapes.at("backbone.transition0.1.0.0.weight"), (std::vector<int64_t>{256, 64, 3, 3}));
  EXPECT_EQ(shapes.at("backbone.transition1.0.0.weight"), (std::vector<int64_t>{20, 128, 3, 3}));
  EXPECT_EQ(shapes.at("backbone.transition1.1.0.weight"), (std::vector<int64_t>{40, 256, 3, 3}));
  EXPECT_EQ(shapes.at("backbone.transition1.2.0.0.weight"), (std::vector<int64_t>{80, 256, 3, 3}));
  EXPECT_EQ(shapes.at("backbone.transition2.3.0.0.weight"), (std::vector<int64_t>{160, 80, 3, 3}));
  EXPECT_EQ(shapes.at("backbone.transition3.4.0.0.weight"), (std::vector<int64_t>{320, 160, 3, 3}));
  // Stage 1: Bottlenecks with planes 32 and 64 (expansion 4), no downsample, and their fusion.
  EXPECT_EQ(shapes.at("backbone.stage1.0.branches.0.0.conv1.weight"), (std::vector<int64_t>{32, 128, 1, 1}));
  EXPECT_EQ(shapes.at("backbone.stage1.0.branches.1.3.conv3.weight"), (std::vector<int64_t>{256, 64, 1, 1}));
  EXPECT_EQ(shapes.count("backbone.stage1.0.branches.0.0.downsample.0.weight"), 0u);
  EXPECT_EQ(shapes.at("backbone.stage1.0.fuse_layers.0.1.0.weight"), (std::vector<int64_t>{128, 256, 1, 1}));
  EXPECT_EQ(shapes.at("backbone.stage1.0.fuse_layers.1.0.0.0.weight"), (std::vector<int64_t>{256, 128, 3, 3}));
  EXPECT_EQ(shapes.at("backbone.stage4.2.fuse_layers.4.0.3.0.weight"), (std::vector<int64_t>{320, 20, 3, 3}));
  EXPECT_EQ(net->backbone()->feature_spec().channels, (std::vector<int64_t>{20, 40, 80, 160, 320}));
  EXPECT_EQ(net->backbone()->feature_spec().strides, (std::vector<int64_t>{2, 4, 8, 16, 32}));
  SegFixNet torch_named(segfix_net_options("hrnet2x20", 8, BnNaming::kTorch));
  EXPECT_EQ(keys_of(*torch_named).size(), 2816u);
}

TEST(SegFixNet, Hrnet18ParametersAndOutputsAtQuarterResolution) {
  SegFixNet net(segfix_net_options("hrnet18"));
  expect_millions(parameter_count(*net), 9.70);
  expect_heads(net, 270, 8);
  net->eval();
  torch::NoGradGuard no_grad;
  const auto [mask, dir] = net->forward(at::randn({2, 3, 64, 96}));
  EXPECT_EQ(mask.sizes(), (at::IntArrayRef{2, 2, 16, 24}));
  EXPECT_EQ(dir.sizes(), (at::IntArrayRef{2, 8, 16, 24}));
  EXPECT_TRUE(at::isfinite(mask).all().item<bool>() && at::isfinite(dir).all().item<bool>());
}

TEST(SegFixNet, Hrnet2x20OutputsAtHalfResolution) {
  SegFixNet net(segfix_net_options("hrnet2x20", 16));
  net->eval();
  torch::NoGradGuard no_grad;
  Hrnet backbone = net->backbone();  // a holder sharing the module
  const std::vector<at::Tensor> features = backbone->forward(at::randn({1, 3, 64, 64}));
  ASSERT_EQ(features.size(), 5u);
  for (size_t i = 0; i < 5; ++i) {
    EXPECT_EQ(features[i].sizes(), (at::IntArrayRef{1, 20 << i, 32 >> i, 32 >> i})) << i;
  }
  const auto [mask, dir] = net->forward(at::randn({1, 3, 64, 64}));
  EXPECT_EQ(mask.sizes(), (at::IntArrayRef{1, 2, 32, 32}));
  EXPECT_EQ(dir.sizes(), (at::IntArrayRef{1, 16, 32, 32}));
}

TEST(SegFixNet, HeadActivationFollowsNaming) {
  // master: the heads' BNReLU is InPlaceABN(leaky_relu 0.01) at `<head>.1`; 1.7: BN + ReLU, BN at `<head>.1.0`.
  SegFixNet abn(SegFixNetOptions().backbone(hrnet_options("hrnet_tiny")));
  SegFixNet torch_bn(
      SegFixNetOptions().backbone(hrnet_options("hrnet_tiny", BnNaming::kTorch)).bn_naming(BnNaming::kTorch));
  const auto abn_modules = abn->named_modules();
  const auto torch_modules = torch_bn->named_modules();
  for (const char* head : {"dir_head", "mask_head"}) {
    const auto* leaky = dynamic_cast<const BatchNormImpl*>(abn_modules[std::string(head) + ".1"].get());
    ASSERT_NE(leaky, nullptr) << head;
    EXPECT_EQ(leaky->options.activation(), BnActivation::kLeakyRelu);
    EXPECT_EQ(leaky->options.negative_slope(), 0.01);
    EXPECT_FALSE(leaky->options.track_num_batches());
    const auto* relu = dynamic_cast<const BatchNormImpl*>(torch_modules[std::string(head) + ".1.0"].get());
    ASSERT_NE(relu, nullptr) << head;
    EXPECT_EQ(relu->options.activation(), BnActivation::kRelu);
    EXPECT_TRUE(relu->options.track_num_batches());
  }
}

TEST(SegFixNet, RejectsBadOptionsAndInputs) {
  BOUNDSEG_EXPECT_THROWS_WITH(SegFixNet(SegFixNetOptions().num_bins(6)),
                              "boundseg SegFixNet: option 'num_bins' must be 4, 8, 16 or 32, but got 6.");
  BOUNDSEG_EXPECT_THROWS_WITH(SegFixNet(SegFixNetOptions().head_channels(0)),
                              "option 'head_channels' must be positive");
  BOUNDSEG_EXPECT_THROWS_WITH(SegFixNet(SegFixNetOptions().backbone(HrnetOptions().width(0))),
                              "'width' must be positive");
  BOUNDSEG_EXPECT_THROWS_WITH(segfix_net_options("hrnet2x21"),
                              "'name' must be one of hrnet18, hrnet32, hrnet48, hrnet64, hrnet2x20");
  SegFixNet net(SegFixNetOptions().backbone(hrnet_options("hrnet_tiny")));
  BOUNDSEG_EXPECT_THROWS_WITH(net->forward(at::zeros({1, 4, 32, 32})),
                              "'x' must be a floating-point (N, 3, H, W) tensor");
  BOUNDSEG_EXPECT_THROWS_WITH(Hrnet(HrnetOptions().high_resolution_next(true).mask_channels(1)),
                              "'mask_channels' must be 0 with high_resolution_next");
}

}  // namespace
}  // namespace boundseg::models
