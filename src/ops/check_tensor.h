// Entry checks shared by the op front doors (message form of STYLE.md §2.5).
#pragma once

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <c10/util/Exception.h>

#include <initializer_list>
#include <string>

namespace boundseg::detail {

inline std::string describe(const at::Tensor& t) {
  std::string s = std::to_string(t.dim()) + "-D " + std::string(c10::toString(t.scalar_type())) + " tensor [";
  for (int64_t i = 0; i < t.dim(); ++i) s += (i ? ", " : "") + std::to_string(t.size(i));
  return s + "]";
}

/// "a 4-D Float tensor [1, 3, 8, 8]" or "an undefined tensor": the `actual` part of an error message.
inline std::string describe_or_undefined(const at::Tensor& t) {
  return t.defined() ? "a " + describe(t) : std::string("an undefined tensor");
}

/// Requires a CPU (H, W) or (N, H, W) tensor of one of `types`.
inline void check_image_tensor(const at::Tensor& t, const char* where, const char* arg,
                               std::initializer_list<at::ScalarType> types, const char* types_text) {
  TORCH_CHECK_VALUE(t.defined(), "boundseg ", where, ": '", arg, "' must be a defined tensor, but got an undefined one.");
  TORCH_CHECK_VALUE(t.dim() == 2 || t.dim() == 3, "boundseg ", where, ": '", arg,
                    "' must be a 2-D (H, W) or 3-D (N, H, W) tensor, but got a ", describe(t), ".");
  bool ok = false;
  for (auto type : types) ok = ok || t.scalar_type() == type;
  TORCH_CHECK_TYPE(ok, "boundseg ", where, ": '", arg, "' must be ", types_text, ", but got a ", describe(t), ".");
  TORCH_CHECK(t.device().is_cpu(), "boundseg ", where, ": '", arg,
              "' must be a CPU tensor (boundseg was built without CUDA kernels for this op), but got ", t.device(), ".");
}

/// Runs fn(src_ptr, dst_ptr, h, w) on every (H, W) plane in parallel.
template <typename In, typename Out, typename Fn>
void for_each_plane(const at::Tensor& src, at::Tensor& dst, Fn fn) {
  const int64_t h = src.size(-2), w = src.size(-1);
  const int64_t planes = src.numel() / std::max<int64_t>(h * w, 1);
  const In* in = src.data_ptr<In>();
  Out* out = dst.data_ptr<Out>();
  if (h * w == 0) return;
  at::parallel_for(0, planes, 1, [&](int64_t b, int64_t e) {
    for (int64_t p = b; p < e; ++p) fn(in + p * h * w, out + p * h * w, h, w);
  });
}

}  // namespace boundseg::detail
