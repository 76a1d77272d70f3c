// Front door of the per-segment distance transform.
#include "boundseg/ops/distance_transform.h"

#include <ATen/ATen.h>

#include "boundseg/ops/boundary_kernels.h"
#include "boundseg/core/check.h"

namespace boundseg::ops {

at::Tensor segment_distance_transform(const at::Tensor& labels) {
  check_image_tensor(labels, "segment_distance_transform", "labels",
                             {at::kByte, at::kShort, at::kInt, at::kLong},
                             "an integer label map (uint8, int16, int32 or int64)");
  const at::Tensor src = labels.contiguous();
  at::Tensor out = at::empty(src.sizes(), src.options().dtype(at::kFloat));
  const int64_t h = src.size(-2), w = src.size(-1);
  const int64_t planes = h * w == 0 ? 0 : src.numel() / (h * w);
  AT_DISPATCH_INTEGRAL_TYPES(src.scalar_type(), "segment_distance_transform", [&] {
    if constexpr (!std::is_same_v<scalar_t, int8_t>) {
      // Planes run one after another; each parallelises over its segments.
      for (int64_t p = 0; p < planes; ++p) {
        detail::segment_distance_transform<scalar_t>(src.data_ptr<scalar_t>() + p * h * w,
                                                     out.data_ptr<float>() + p * h * w, h, w);
      }
    }
  });
  return out;
}

}  // namespace boundseg::ops
