// A Conv2d that sends single-threaded 1x1 convolutions to oneDNN when LibTorch's BLAS is the reference one.
#pragma once

#include <ATen/core/Tensor.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/pimpl.h>

namespace boundseg::models {

/// torch::nn::Conv2d (same options, parameters and keys) whose forward can route pointwise convolutions (1x1
/// kernel, stride 1, no padding, dilation 1, one group) on float CPU tensors to oneDNN when LibTorch would not: with
/// one intra-op thread and batch < 16, LibTorch 1.13 computes them with BLAS gemm, 25-40x slower than oneDNN when
/// that BLAS is netlib's reference implementation (Debian's default libblas.so.3), as fast and with less memory when
/// it is OpenBLAS (docs/benchmarks.md). Only for inference (grad mode off) and never while tracing, so exported
/// graphs stay plain aten::conv2d. Results equal the default path up to float rounding.
class Conv2dImpl : public torch::nn::Conv2dImpl {
 public:
  using torch::nn::Conv2dImpl::Conv2dImpl;
  at::Tensor forward(const at::Tensor& input);
};
TORCH_MODULE(Conv2d);

enum class PointwiseRouting {
  kAuto,    ///< route only when no optimised BLAS (OpenBLAS, MKL, BLIS) is loaded: the default
  kAlways,  ///< route whenever the convolution and thread conditions hold
  kNever,   ///< LibTorch's own choice everywhere, e.g. to reproduce its bits or to measure it
};

/// Sets the routing process-wide.
void set_pointwise_routing(PointwiseRouting routing);

/// True when the sgemm_ that LibTorch calls comes from an optimised BLAS (OpenBLAS, MKL, BLIS), i.e. what
/// libblas.so.3 resolved to; false for netlib's reference BLAS.
bool optimized_blas_loaded();

/// True when Conv2dImpl::forward would take the oneDNN route for `input` (for tests and benchmarks).
bool routes_pointwise_to_onednn(const torch::nn::Conv2dImpl& conv, const at::Tensor& input);

}  // namespace boundseg::models
