// Front doors of the boundary ops: validate, make contiguous, run per plane.
#include "boundseg/ops/boundary.h"

#include <ATen/ATen.h>

#include "boundseg/ops/boundary_kernels.h"
#include "boundseg/core/check.h"
#include "boundseg/core/error.h"
#include "ops/plane_loop.h"

namespace boundseg::ops {
namespace {

void check_ratio(double ratio, const OptionSite& site) {
  site.require(ratio >= 0.0 && std::isfinite(ratio), "dilation_ratio", "be a finite number >= 0",
               [&] { return number_text(ratio); });
}

constexpr auto kU8 = at::kByte;

}  // namespace

int64_t boundary_band_width(double dilation_ratio, int64_t height, int64_t width) {
  check_ratio(dilation_ratio, "boundary_band_width");
  return detail::band_width(dilation_ratio, height, width);
}

at::Tensor mask_to_boundary(const at::Tensor& mask, double dilation_ratio) {
  check_image_tensor(mask, "mask_to_boundary", "mask", {kU8}, "a uint8 mask");
  check_ratio(dilation_ratio, "mask_to_boundary");
  const at::Tensor src = mask.contiguous();
  at::Tensor out = at::empty_like(src);
  const int64_t d = detail::band_width(dilation_ratio, src.size(-2), src.size(-1));
  detail::for_each_plane<uint8_t, uint8_t>(src, out, [&](const uint8_t* in, uint8_t* o, int64_t h, int64_t w) {
    detail::mask_to_boundary(in, o, h, w, d);
  });
  return out;
}

at::Tensor label_boundary_band(const at::Tensor& labels, double dilation_ratio) {
  check_image_tensor(labels, "label_boundary_band", "labels",
                             {at::kByte, at::kShort, at::kInt, at::kLong},
                             "an integer label map (uint8, int16, int32 or int64)");
  check_ratio(dilation_ratio, "label_boundary_band");
  const at::Tensor src = labels.contiguous();
  at::Tensor out = at::empty(src.sizes(), src.options().dtype(at::kByte));
  const int64_t d = detail::band_width(dilation_ratio, src.size(-2), src.size(-1));
  AT_DISPATCH_INTEGRAL_TYPES(src.scalar_type(), "label_boundary_band", [&] {
    detail::for_each_plane<scalar_t, uint8_t>(src, out, [&](const scalar_t* in, uint8_t* o, int64_t h, int64_t w) {
      if constexpr (std::is_same_v<scalar_t, int8_t>) {
        TORCH_INTERNAL_ASSERT(false, "int8 labels are rejected at the entry");
      } else {
        detail::label_band<scalar_t>(in, o, h, w, d);
      }
    });
  });
  return out.to(at::kBool);
}

void validate(const CblBoundaryOptions& options, const OptionSite& site) { check_ratio(options.dilation_ratio, site); }

void validate(const InverseformEdgeOptions& options, const OptionSite& site) {
  site.require(options.num_classes >= 1 && options.num_classes <= 254, "num_classes", "be in [1, 254]",
               [&] { return std::to_string(options.num_classes); });
  site.require(options.radius >= 0.0 && std::isfinite(options.radius), "radius", "be a finite number >= 0",
               [&] { return number_text(options.radius); });
}

at::Tensor cbl_boundary_targets(const at::Tensor& labels, const CblBoundaryOptions& options) {
  check_image_tensor(labels, "cbl_boundary_targets", "labels", {kU8}, "a uint8 trainId map");
  validate(options, "cbl_boundary_targets");
  const at::Tensor src = labels.contiguous();
  at::Tensor out = at::empty_like(src);
  const int64_t d = detail::band_width(options.dilation_ratio, src.size(-2), src.size(-1));
  detail::for_each_plane<uint8_t, uint8_t>(src, out, [&](const uint8_t* in, uint8_t* o, int64_t h, int64_t w) {
    detail::cbl_boundary(in, o, h, w, d, options.ignore_index, options.mark_ignore);
  });
  return out;
}

at::Tensor inverseform_edges(const at::Tensor& labels, const InverseformEdgeOptions& options) {
  check_image_tensor(labels, "inverseform_edges", "labels", {kU8}, "a uint8 trainId map");
  validate(options, "inverseform_edges");
  const int64_t num_classes = options.num_classes;
  const double radius = options.radius;
  const at::Tensor src = labels.contiguous();
  at::Tensor out = at::empty_like(src);
  detail::for_each_plane<uint8_t, uint8_t>(src, out, [&](const uint8_t* in, uint8_t* o, int64_t h, int64_t w) {
    detail::inverseform_edges(in, o, h, w, num_classes, radius);
  });
  return out;
}

at::Tensor seg2bmap(const at::Tensor& mask) {
  check_image_tensor(mask, "seg2bmap", "mask", {kU8, at::kBool}, "a uint8 or bool mask");
  const at::Tensor src = mask.to(kU8).contiguous();
  at::Tensor out = at::empty_like(src);
  detail::for_each_plane<uint8_t, uint8_t>(src, out, [&](const uint8_t* in, uint8_t* o, int64_t h, int64_t w) {
    detail::seg2bmap(in, o, h, w);
  });
  return out;
}

}  // namespace boundseg::ops
