// Conv2d's single-thread 1x1 routing to oneDNN (models/conv.h): when it applies and that it computes the same conv.
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/utils.h>

#include "boundseg/models/conv.h"
#include "support/model_golden.h"

namespace boundseg::models {
namespace {

TEST(Conv2d, RoutesOnlySingleThreadedPointwiseInference) {
  torch::manual_seed(2);
  Conv2d pointwise(torch::nn::Conv2dOptions(16, 8, 1));
  Conv2d spatial(torch::nn::Conv2dOptions(16, 8, 3).padding(1));
  Conv2d strided(torch::nn::Conv2dOptions(16, 8, 1).stride(2));
  const at::Tensor x = at::randn({2, 16, 24, 40});
  {
    testing::SingleThread single_thread;
    torch::NoGradGuard no_grad;
    EXPECT_EQ(routes_pointwise_to_onednn(*pointwise, x), at::hasMKLDNN());
    EXPECT_FALSE(routes_pointwise_to_onednn(*spatial, x));
    EXPECT_FALSE(routes_pointwise_to_onednn(*strided, x));
    EXPECT_FALSE(routes_pointwise_to_onednn(*pointwise, at::randn({16, 16, 4, 4})));  // LibTorch's own choice
    EXPECT_FALSE(routes_pointwise_to_onednn(*pointwise, x.to(at::kDouble)));
    set_pointwise_onednn_routing(false);
    EXPECT_FALSE(routes_pointwise_to_onednn(*pointwise, x));
    set_pointwise_onednn_routing(true);
    // Same convolution as the default path (an independent einsum), up to float rounding.
    const at::Tensor expected =
        at::einsum("oc,nchw->nohw", {pointwise->weight.flatten(1), x}) + pointwise->bias.view({1, -1, 1, 1});
    EXPECT_TRUE(at::allclose(pointwise->forward(x), expected, 1e-5, 1e-5));
  }
  testing::SingleThread single_thread;
  EXPECT_FALSE(routes_pointwise_to_onednn(*pointwise, x));  // grad mode on: training keeps LibTorch's path
  EXPECT_TRUE(pointwise->forward(x).requires_grad());
}

}  // namespace
}  // namespace boundseg::models
