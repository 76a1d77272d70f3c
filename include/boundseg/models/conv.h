// A Conv2d that sends single-threaded 1x1 convolutions to oneDNN.
#pragma once

#include <ATen/core/Tensor.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/pimpl.h>

namespace boundseg::models {

/// torch::nn::Conv2d (same options, parameters and keys) whose forward routes pointwise convolutions (1x1 kernel,
/// stride 1, no padding, dilation 1, one group) on float CPU tensors to oneDNN when LibTorch would not: with one
/// intra-op thread and batch < 16, LibTorch 1.13 uses its generic-BLAS path, 25-40x slower on Debian's build
/// (docs/benchmarks.md). Only for inference (grad mode off) and never while tracing, so exported graphs stay plain
/// aten::conv2d. Results equal the default path up to float rounding.
class Conv2dImpl : public torch::nn::Conv2dImpl {
 public:
  using torch::nn::Conv2dImpl::Conv2dImpl;
  at::Tensor forward(const at::Tensor& input);
};
TORCH_MODULE(Conv2d);

/// Turns the routing on (the default) or off process-wide, e.g. to reproduce LibTorch's own bits or to measure it.
void set_pointwise_onednn_routing(bool enabled);

/// True when Conv2dImpl::forward would take the oneDNN route for `input` (for tests and benchmarks).
bool routes_pointwise_to_onednn(const torch::nn::Conv2dImpl& conv, const at::Tensor& input);

}  // namespace boundseg::models
