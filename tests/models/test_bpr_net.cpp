// BPR refinement network: reference keys, legacy [1]-shaped BN counters, golden forward parity (bpr.md §4.2-4.3).
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/utils.h>

#include <map>
#include <string>
#include <vector>

#include "boundseg/io/safetensors.h"
#include "boundseg/models/bpr_net.h"
#include "boundseg/models/state_dict.h"
#include "support/golden.h"
#include "support/model_golden.h"

namespace boundseg::models {
namespace {

using testing::bpr_cases;
using testing::bpr_net_of;
using testing::golden_keys;
using testing::golden_weights;
using testing::keys_of;
using testing::ModelCase;
using testing::parameter_count;

double max_abs_diff(const at::Tensor& a, const at::Tensor& b) { return (a - b).abs().max().item<double>(); }

// Golden cases: testing::bpr_cases(), every case of shared/golden/models whose io file holds `fg_prob64`.

TEST(GoldenBprNet, KeysAndParametersMatchTheReference) {
  testing::CaseCount cases("BPR model cases");
  for (const ModelCase& c : bpr_cases()) {
    SCOPED_TRACE(c.name);
    BprNet net(bpr_net_of(c));
    const std::vector<std::string> expected = golden_keys(c.name);
    ASSERT_EQ(static_cast<int64_t>(expected.size()), testing::manifest_count(c.name, "state-dict entries"));
    // Names and the reference state_dict order.
    EXPECT_EQ(testing::first_key_difference(keys_of(*net), expected), "");
    EXPECT_EQ(parameter_count(*net), testing::manifest_count(c.name, "parameters"));
    cases.add();
  }
}

TEST(BprNet, Hrnet48VariantHasTheReferenceSize) {
  BprNet net("bpr_hrnet48");  // structure only: no weights in the golden set (bpr.md §4.2 counts)
  EXPECT_EQ(keys_of(*net).size(), 1839u);
  EXPECT_EQ(parameter_count(*net), 65846978);
  EXPECT_EQ(bpr_input_size("bpr_hrnet48"), 256);
}

TEST(GoldenBprNet, LoadsTheReferenceWeightsIncludingOneElementCounters) {
  testing::CaseCount cases("BPR model cases");
  for (const ModelCase& c : bpr_cases()) {
    SCOPED_TRACE(c.name);
    std::map<std::string, at::Tensor> weights = golden_weights(c.name);
    // The reference stores every num_batches_tracked with shape [1]; the module's counter is 0-dim, like torch's.
    ASSERT_EQ(weights.at("backbone.bn1.num_batches_tracked").dim(), 1);
    BprNet net(bpr_net_of(c));
    const LoadReport report = load_state_dict(*net, weights);
    EXPECT_TRUE(report.ok()) << report.summary();
    EXPECT_EQ(static_cast<int64_t>(report.loaded.size()), testing::manifest_count(c.name, "state-dict entries"));
    for (const auto& [key, tensor] : state_dict(*net)) {
      EXPECT_TRUE(tensor.equal(weights.at(key).reshape(tensor.sizes()))) << key;
    }
    // A two-element counter is a real shape mismatch and stays one.
    weights["backbone.bn1.num_batches_tracked"] = at::zeros({2}, at::kLong);
    BOUNDSEG_EXPECT_THROWS_WITH(load_state_dict(*net, weights),
                                "backbone.bn1.num_batches_tracked: model [], weights [2]");
    cases.add();
  }
}

// Tolerances of the manifest: logits and backbone outputs abs 1e-4, fg_prob64 abs 1e-5.
TEST(GoldenBprNet, ForwardMatchesTheReference) {
  testing::CaseCount cases("BPR model cases");
  for (const ModelCase& c : bpr_cases()) {
    SCOPED_TRACE(c.name);
    const std::string name = bpr_net_of(c);
    BprNet net(name);
    load_state_dict(*net, golden_weights(c.name));
    net->eval();
    BprOutput out;
    at::Tensor fg;
    {
      testing::SingleThread single_thread;  // the golden was made with 1 thread and batch 1 (MANIFEST.md)
      torch::NoGradGuard no_grad;
      out = net->forward_all(c.tensor("input"));
      fg = bpr_foreground_probability(out.logits, bpr_input_size(name));
    }
    ASSERT_EQ(out.features.size(), 4u);
    for (size_t i = 0; i < 4; ++i) {
      const at::Tensor& expected = c.tensor("backbone_out" + std::to_string(i));
      ASSERT_EQ(out.features[i].sizes(), expected.sizes()) << i;
      EXPECT_LE(max_abs_diff(out.features[i], expected), 1e-4) << "backbone_out" << i;
    }
    ASSERT_EQ(out.logits.sizes(), c.tensor("logits").sizes());
    EXPECT_LE(max_abs_diff(out.logits, c.tensor("logits")), 1e-4);
    // `prob` = softmax of the twice-resized logits, both channels; fg_prob64 = its channel 1.
    const at::Tensor prob = c.tensor("prob");
    EXPECT_LE(max_abs_diff(fg, prob.select(1, 1)), 1e-5);
    EXPECT_LE(max_abs_diff(1 - fg, prob.select(1, 0)), 1e-5);
    ASSERT_EQ(fg.sizes(), c.tensor("fg_prob64").sizes());
    EXPECT_LE(max_abs_diff(fg, c.tensor("fg_prob64")), 1e-5);
    cases.add();
  }
}

TEST(BprNet, ProbabilityResizesTwiceBeforeSoftmax) {
  // For S = 256 the 64 -> 256 -> 64 round trip is a smoothing, not an identity (bpr.md §4.3): a direct resize of the
  // logits to 64 differs; a one-hot logit map shows it.
  at::Tensor logits = at::zeros({1, 2, 64, 64});
  logits.index_put_({0, 1, 32, 32}, 10.0);
  const at::Tensor twice = bpr_foreground_probability(logits, 256);
  const at::Tensor direct = at::softmax(logits, 1).select(1, 1);
  EXPECT_GT(max_abs_diff(twice, direct), 0.1);
  // A uniform map stays uniform and the probabilities lie in (0, 1).
  EXPECT_TRUE(bpr_foreground_probability(at::zeros({2, 2, 32, 32}), 128).eq(0.5).all().item<bool>());
  BOUNDSEG_EXPECT_THROWS_WITH(bpr_foreground_probability(at::zeros({1, 3, 8, 8}), 128),
                              "'logits' must be a floating-point (N, 2, h, w) tensor");
  BOUNDSEG_EXPECT_THROWS_WITH(BprNet("bpr_hrnet32"), "'name' must be bpr_hrnet18s or bpr_hrnet48, but got 'bpr_hrnet32'.");
}

}  // namespace
}  // namespace boundseg::models
