// Conv2d's single-thread 1x1 routing to oneDNN (models/conv.h): when it applies and that it computes the same conv.
#include <ATen/ATen.h>
#include <dlfcn.h>
#include <gtest/gtest.h>
#include <torch/utils.h>

#include <filesystem>
#include <iostream>
#include <string>

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
  // setup.sh installs OpenBLAS; LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/blas selects Debian's reference BLAS for
  // sgemm_ (while LAPACK may still load OpenBLAS). The answer must follow the library that defines sgemm_: the
  // reference BLAS lives in a ".../blas/" folder, OpenBLAS in ".../openblas-*/".
  Dl_info info{};
  void* sgemm = dlsym(RTLD_DEFAULT, "sgemm_");
  ASSERT_NE(sgemm, nullptr);
  ASSERT_NE(dladdr(sgemm, &info), 0);
  const std::string provider = std::filesystem::canonical(info.dli_fname).string();  // through the alternatives
  std::cout << "[ blas     ] sgemm_ from " << provider << ", optimised: " << std::boolalpha << optimized_blas_loaded()
            << "\n";
  const bool openblas = provider.find("/openblas") != std::string::npos;
  const bool reference = provider.find("/blas/libblas") != std::string::npos;
  ASSERT_TRUE(openblas || reference) << "a BLAS this test does not know: " << provider;
  EXPECT_EQ(optimized_blas_loaded(), openblas);
}

}  // namespace
}  // namespace boundseg::models
