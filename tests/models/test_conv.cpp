// Conv2d's single-thread 1x1 routing to oneDNN (models/conv.h): when it applies and that it computes the same conv.
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <dlfcn.h>
#include <torch/utils.h>

#include <iostream>

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
    // The default routes only without an optimised BLAS (LibTorch's own 1x1 path is fast with one).
    EXPECT_EQ(routes_pointwise_to_onednn(*pointwise, x), at::hasMKLDNN() && !optimized_blas_loaded());
    set_pointwise_routing(PointwiseRouting::kAlways);
    EXPECT_EQ(routes_pointwise_to_onednn(*pointwise, x), at::hasMKLDNN());
    EXPECT_FALSE(routes_pointwise_to_onednn(*spatial, x));
    EXPECT_FALSE(routes_pointwise_to_onednn(*strided, x));
    EXPECT_FALSE(routes_pointwise_to_onednn(*pointwise, at::randn({16, 16, 4, 4})));  // LibTorch's own choice
    EXPECT_FALSE(routes_pointwise_to_onednn(*pointwise, x.to(at::kDouble)));
    // Same convolution as the default path (an independent einsum), up to float rounding.
    const at::Tensor expected =
        at::einsum("oc,nchw->nohw", {pointwise->weight.flatten(1), x}) + pointwise->bias.view({1, -1, 1, 1});
    EXPECT_TRUE(at::allclose(pointwise->forward(x), expected, 1e-5, 1e-5));
    set_pointwise_routing(PointwiseRouting::kNever);
    EXPECT_FALSE(routes_pointwise_to_onednn(*pointwise, x));
    set_pointwise_routing(PointwiseRouting::kAuto);
  }
  testing::SingleThread single_thread;
  set_pointwise_routing(PointwiseRouting::kAlways);
  EXPECT_FALSE(routes_pointwise_to_onednn(*pointwise, x));  // grad mode on: training keeps LibTorch's path
  EXPECT_TRUE(pointwise->forward(x).requires_grad());
  set_pointwise_routing(PointwiseRouting::kAuto);
}

TEST(Conv2d, DetectsTheBlasLibTorchUses) {
  // setup.sh installs OpenBLAS; with Debian's reference BLAS (LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/blas) this
  // is false. Either way the answer must agree with the loaded library's own symbol.
  void* openblas_symbol = nullptr;
  if (void* blas = dlopen("libblas.so.3", RTLD_LAZY | RTLD_NOLOAD)) {
    openblas_symbol = dlsym(blas, "openblas_get_config");
    dlclose(blas);
  }
  if (openblas_symbol) EXPECT_TRUE(optimized_blas_loaded());
  std::cout << "[ blas     ] optimised BLAS loaded: " << std::boolalpha << optimized_blas_loaded() << "\n";
}

}  // namespace
}  // namespace boundseg::models
