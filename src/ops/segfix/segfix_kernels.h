// CPU kernels of the SegFix ops; callers validate, these trust their inputs.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>

namespace boundseg::detail {

/// Which generator's arithmetic to follow (segfix.md §2.2 vs §2.3).
enum class SegFixGtVariant {
  kSemantic,  ///< classes under min_pixels and `ignore` skipped; float32 angle
  kInstance,  ///< every value is a segment; double angle
};

/// depth (uint8) and dir_deg (uint8) of contiguous int64 maps (N, H, W). With kSemantic, segments equal to `ignore`
/// or smaller than `min_pixels` keep depth 0 and direction (0, 0); kInstance ignores both arguments.
void segfix_gt_cpu(const at::Tensor& labels, SegFixGtVariant variant, int64_t ignore, int64_t min_pixels,
                   at::Tensor& depth, at::Tensor& dir_deg);

/// Direction bins (int64) of a contiguous float32/float64 angle tensor (segfix.md §3.2).
at::Tensor segfix_direction_bins_cpu(const at::Tensor& angle, int64_t num_bins, bool c4_align_axis);

}  // namespace boundseg::detail
