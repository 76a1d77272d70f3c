// Float64 gradient checks: autograd against central differences.
#pragma once

#include <ATen/ATen.h>

#include <functional>

namespace boundseg::testing {

/// Central-difference gradient of scalar `f` at `x` (float64), element by element.
inline at::Tensor numeric_gradient(const std::function<at::Tensor(const at::Tensor&)>& f, const at::Tensor& x,
                                   double eps) {
  at::Tensor grad = at::zeros_like(x);
  at::Tensor flat = x.detach().clone();
  at::Tensor view = flat.view({-1});
  for (int64_t i = 0; i < view.numel(); ++i) {
    const double v = view[i].item<double>();
    view[i] = v + eps;
    const double up = f(flat).item<double>();
    view[i] = v - eps;
    const double down = f(flat).item<double>();
    view[i] = v;
    grad.view({-1})[i] = (up - down) / (2.0 * eps);
  }
  return grad;
}

/// d f / d x by autograd.
inline at::Tensor autograd_gradient(const std::function<at::Tensor(const at::Tensor&)>& f, const at::Tensor& x) {
  at::Tensor leaf = x.detach().clone().set_requires_grad(true);
  f(leaf).backward();
  return leaf.grad();
}

}  // namespace boundseg::testing
