#include "boundseg/models/conv.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <dlfcn.h>
#include <torch/csrc/autograd/grad_mode.h>
#include <torch/csrc/jit/frontend/tracer.h>

#include <atomic>

namespace boundseg::models {
namespace {

std::atomic<PointwiseRouting> routing{PointwiseRouting::kAuto};

bool all_equal(const torch::ExpandingArray<2>& values, int64_t v) { return (*values)[0] == v && (*values)[1] == v; }

}  // namespace

void set_pointwise_routing(PointwiseRouting value) { routing = value; }

bool optimized_blas_loaded() {
  static const bool loaded = [] {
    // The library that defines the sgemm_ LibTorch calls decides, not what else is loaded: Debian's LAPACK may pull
    // in OpenBLAS while sgemm_ still comes from the reference libblas.so.3.
    void* sgemm = dlsym(RTLD_DEFAULT, "sgemm_");
    void* blas = dlopen("libblas.so.3", RTLD_LAZY | RTLD_NOLOAD);
    if (!sgemm && blas) sgemm = dlsym(blas, "sgemm_");
    if (blas) dlclose(blas);
    Dl_info info{};
    if (!sgemm || !dladdr(sgemm, &info) || !info.dli_fname) return false;
    void* provider = dlopen(info.dli_fname, RTLD_LAZY | RTLD_NOLOAD);
    if (!provider) return false;
    bool found = false;
    for (const char* symbol : {"openblas_get_config", "MKL_Get_Version", "bli_info_get_version_str"}) {
      found = found || dlsym(provider, symbol) != nullptr;
    }
    dlclose(provider);
    return found;
  }();
  return loaded;
}

bool routes_pointwise_to_onednn(const torch::nn::Conv2dImpl& conv, const at::Tensor& input) {
  const auto& o = conv.options;
  const auto* padding = c10::get_if<torch::ExpandingArray<2>>(&o.padding());
  const bool pointwise = o.kernel_size()->at(0) == 1 && o.kernel_size()->at(1) == 1 && all_equal(o.stride(), 1) &&
                         padding != nullptr && all_equal(*padding, 0) && all_equal(o.dilation(), 1) &&
                         o.groups() == 1 && !o.transposed();
  // LibTorch itself picks oneDNN for 1x1 convolutions with several threads or a batch of 16 and more.
  const PointwiseRouting mode = routing;
  const bool wanted =
      mode == PointwiseRouting::kAlways || (mode == PointwiseRouting::kAuto && !optimized_blas_loaded());
  return wanted && pointwise && at::hasMKLDNN() && at::globalContext().userEnabledMkldnn() &&
         at::get_num_threads() == 1 && input.dim() == 4 && input.size(0) < 16 && input.device().is_cpu() &&
         input.scalar_type() == at::kFloat && !at::GradMode::is_enabled() && !torch::jit::tracer::isTracing();
}

at::Tensor Conv2dImpl::forward(const at::Tensor& input) {
  if (routes_pointwise_to_onednn(*this, input)) {
    return at::mkldnn_convolution(input.contiguous(), weight, bias, {0, 0}, {1, 1}, {1, 1}, 1);
  }
  return torch::nn::Conv2dImpl::forward(input);
}

}  // namespace boundseg::models
