// Exact Euclidean distance transform of a label or instance map, per segment.
#pragma once

#include <ATen/core/Tensor.h>

namespace boundseg::ops {

/// For every pixel, the exact Euclidean distance to the nearest pixel with a
/// different value (segfix.md §2: the image border is not a boundary; a map
/// holding one value measures to a virtual pixel at (-1, 0), as scipy does).
/// labels: uint8/int16/int32/int64 (H, W) or (N, H, W); returns float32.
at::Tensor segment_distance_transform(const at::Tensor& labels);

}  // namespace boundseg::ops
