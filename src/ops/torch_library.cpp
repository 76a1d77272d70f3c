// Registers the op layer with the dispatcher: torch.ops.boundseg.* from Python.
#include <torch/library.h>

#include "boundseg/ops/boundary.h"
#include "boundseg/ops/distance_transform.h"

namespace {

at::Tensor cbl_boundary_targets_op(const at::Tensor& labels, double dilation_ratio, int64_t ignore_index,
                                   bool mark_ignore) {
  TORCH_CHECK_VALUE(ignore_index >= 0 && ignore_index <= 255,
                    "boundseg cbl_boundary_targets: 'ignore_index' must be in [0, 255], but got ", ignore_index, ".");
  boundseg::ops::CblBoundaryOptions options;
  options.dilation_ratio = dilation_ratio;
  options.ignore_index = static_cast<uint8_t>(ignore_index);
  options.mark_ignore = mark_ignore;
  return boundseg::ops::cbl_boundary_targets(labels, options);
}

}  // namespace

TORCH_LIBRARY(boundseg, m) {
  m.def("boundary_band_width(float dilation_ratio, int height, int width) -> int",
        &boundseg::ops::boundary_band_width);
  m.def("mask_to_boundary(Tensor mask, float dilation_ratio=0.02) -> Tensor", &boundseg::ops::mask_to_boundary);
  m.def("label_boundary_band(Tensor labels, float dilation_ratio=0.02) -> Tensor",
        &boundseg::ops::label_boundary_band);
  m.def("cbl_boundary_targets(Tensor labels, float dilation_ratio=0.02, int ignore_index=255, "
        "bool mark_ignore=True) -> Tensor",
        &cbl_boundary_targets_op);
  m.def("inverseform_edges(Tensor labels, int num_classes=19, float radius=2.0) -> Tensor",
        &boundseg::ops::inverseform_edges);
  m.def("seg2bmap(Tensor mask) -> Tensor", &boundseg::ops::seg2bmap);
  m.def("segment_distance_transform(Tensor labels) -> Tensor", &boundseg::ops::segment_distance_transform);
}
