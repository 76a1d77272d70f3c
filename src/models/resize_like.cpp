#include "models/resize_like.h"

#include <ATen/ATen.h>
#include <torch/csrc/jit/frontend/tracer.h>

namespace boundseg::models::detail {

at::Tensor resize_like(const at::Tensor& x, const at::Tensor& like, bool align_corners) {
  namespace tracer = torch::jit::tracer;
  if (tracer::isTracing()) {
    // The tracer takes stashed size values for the IntArrayRef argument of this name (what Python's arg parser does
    // when it sees traced sizes).
    for (size_t d = 0; d < 2; ++d) {
      tracer::ArgumentStash::stashIntArrayRefElem("output_size", 2, d, tracer::getSizeOf(like, int64_t(d) + 2));
    }
  }
  return at::upsample_bilinear2d(x, {like.size(2), like.size(3)}, align_corners);
}

}  // namespace boundseg::models::detail
