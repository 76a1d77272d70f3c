// Registers the op layer with the dispatcher: torch.ops.boundseg.* from Python.
#include <torch/library.h>

#include "boundseg/losses/rloss.h"
#include "boundseg/ops/boundary.h"
#include "boundseg/ops/distance_transform.h"
#include "boundseg/ops/permutohedral.h"
#include "boundseg/refine/dense_crf.h"

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

boundseg::ops::LatticeMode lattice_mode(bool reference_lattice) {
  return reference_lattice ? boundseg::ops::LatticeMode::kReference : boundseg::ops::LatticeMode::kClean;
}

at::Tensor bilateral_filter_op(const at::Tensor& image, const at::Tensor& values, double sigma_rgb, double sigma_xy,
                               bool reference_lattice, bool transpose) {
  return boundseg::ops::bilateral_filter(image, values,
                                         boundseg::ops::BilateralFilterOptions()
                                             .sigma_rgb(sigma_rgb)
                                             .sigma_xy(sigma_xy)
                                             .mode(lattice_mode(reference_lattice))
                                             .transpose(transpose));
}

boundseg::losses::CrfKernelOptions crf_kernel(double sigma_rgb, double sigma_xy, double scale_factor,
                                              bool exact_gradient, bool reference_lattice) {
  return boundseg::losses::CrfKernelOptions()
      .sigma_rgb(sigma_rgb)
      .sigma_xy(sigma_xy)
      .scale_factor(scale_factor)
      .gradient(exact_gradient ? boundseg::losses::CrfGradient::kExact : boundseg::losses::CrfGradient::kReference)
      .lattice(lattice_mode(reference_lattice));
}

at::Tensor dense_crf_loss_op(const at::Tensor& images, const at::Tensor& probabilities, const at::Tensor& roi,
                             double weight, double sigma_rgb, double sigma_xy, double scale_factor, bool exact_gradient,
                             bool reference_lattice) {
  return boundseg::losses::dense_crf_loss(
      images, probabilities, roi,
      boundseg::losses::DenseCrfLossOptions().weight(weight).kernel(
          crf_kernel(sigma_rgb, sigma_xy, scale_factor, exact_gradient, reference_lattice)));
}

at::Tensor normalized_cut_loss_op(const at::Tensor& images, const at::Tensor& probabilities, const at::Tensor& roi,
                                  double weight, double sigma_rgb, double sigma_xy, double scale_factor,
                                  bool exact_gradient, bool reference_lattice) {
  return boundseg::losses::normalized_cut_loss(
      images, probabilities, roi,
      boundseg::losses::NormalizedCutLossOptions().weight(weight).kernel(
          crf_kernel(sigma_rgb, sigma_xy, scale_factor, exact_gradient, reference_lattice)));
}

at::Tensor dense_crf_op(const at::Tensor& image, const at::Tensor& probabilities, int64_t iterations,
                        double gaussian_sigma_xy, double gaussian_weight, double bilateral_sigma_xy,
                        double bilateral_sigma_rgb, double bilateral_weight) {
  return boundseg::refine::dense_crf(image, probabilities,
                                     boundseg::refine::DenseCrfOptions()
                                         .iterations(iterations)
                                         .gaussian_sigma_xy(gaussian_sigma_xy)
                                         .gaussian_weight(gaussian_weight)
                                         .bilateral_sigma_xy(bilateral_sigma_xy)
                                         .bilateral_sigma_rgb(bilateral_sigma_rgb)
                                         .bilateral_weight(bilateral_weight));
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
  m.def("bilateral_filter(Tensor image, Tensor values, float sigma_rgb=15, float sigma_xy=50, "
        "bool reference_lattice=False, bool transpose=False) -> Tensor",
        &bilateral_filter_op);
  // Composite ops: autograd runs through the C++ autograd Functions inside.
  m.def("dense_crf_loss(Tensor images, Tensor probabilities, Tensor roi, float weight=2e-9, float sigma_rgb=15, "
        "float sigma_xy=100, float scale_factor=0.5, bool exact_gradient=False, bool reference_lattice=False) -> Tensor",
        &dense_crf_loss_op);
  m.def("normalized_cut_loss(Tensor images, Tensor probabilities, Tensor roi, float weight=1, float sigma_rgb=15, "
        "float sigma_xy=100, float scale_factor=0.5, bool exact_gradient=False, bool reference_lattice=False) -> Tensor",
        &normalized_cut_loss_op);
  m.def("dense_crf(Tensor image, Tensor probabilities, int iterations=5, float gaussian_sigma_xy=3, "
        "float gaussian_weight=3, float bilateral_sigma_xy=80, float bilateral_sigma_rgb=13, "
        "float bilateral_weight=10) -> Tensor",
        &dense_crf_op);
}
