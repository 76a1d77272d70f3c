// Runs a raw kernel on every (H, W) plane of an op's input, in parallel.
#pragma once

#include <ATen/Parallel.h>
#include <ATen/core/Tensor.h>

#include <algorithm>
#include <cstdint>

namespace boundseg::detail {

/// Runs fn(src_ptr, dst_ptr, h, w) on every (H, W) plane of contiguous `src` and `dst`.
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
