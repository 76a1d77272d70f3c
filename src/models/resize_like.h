// Bilinear resizing to another tensor's spatial size that stays shape-generic under the TorchScript tracer.
#pragma once

#include <ATen/core/Tensor.h>

namespace boundseg::models::detail {

/// x (N, C, h, w) bilinearly resized to the (H, W) of `like` (.., .., H, W). While `boundseg export` traces a model,
/// the size is recorded as `like`'s shape (aten::size) rather than as constants, so that the exported module runs at
/// any input size, as a traced Python module does.
at::Tensor resize_like(const at::Tensor& x, const at::Tensor& like, bool align_corners);

}  // namespace boundseg::models::detail
