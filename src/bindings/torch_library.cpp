// Registers boundseg's ops with the dispatcher: torch.ops.boundseg.* from Python. The bindings layer sits above the
// library; schema defaults are printed from the options structs, so every default lives in one place.
#include <torch/library.h>

#include "boundseg/core/error.h"

#include <sstream>
#include <string>

#include "boundseg/losses/rloss.h"
#include "boundseg/ops/boundary.h"
#include "boundseg/ops/distance_transform.h"
#include "boundseg/ops/permutohedral.h"
#include "boundseg/refine/dense_crf.h"

namespace {

namespace ops = boundseg::ops;
namespace losses = boundseg::losses;

// A schema default as TorchScript reads it ("15.", "2e-09", "True").
std::string d(double v) {
  std::ostringstream s;
  s.precision(17);
  s << v;
  std::string text = s.str();
  if (text.find_first_of(".e") == std::string::npos) text += ".";
  return text;
}
std::string d(int64_t v) { return std::to_string(v); }
std::string d(bool v) { return v ? "True" : "False"; }

ops::LatticeMode lattice_mode(bool reference_lattice) {
  return reference_lattice ? ops::LatticeMode::kReference : ops::LatticeMode::kClean;
}

at::Tensor cbl_boundary_targets_op(const at::Tensor& labels, double dilation_ratio, int64_t ignore_index,
                                   bool mark_ignore) {
  boundseg::require(ignore_index >= 0 && ignore_index <= 255, "cbl_boundary_targets", "'ignore_index'",
                    "be in [0, 255]", [&] { return std::to_string(ignore_index); });
  ops::CblBoundaryOptions options;
  options.dilation_ratio = dilation_ratio;
  options.ignore_index = static_cast<uint8_t>(ignore_index);
  options.mark_ignore = mark_ignore;
  return ops::cbl_boundary_targets(labels, options);
}

at::Tensor inverseform_edges_op(const at::Tensor& labels, int64_t num_classes, double radius) {
  return ops::inverseform_edges(labels, ops::InverseformEdgeOptions{num_classes, radius});
}

at::Tensor bilateral_filter_op(const at::Tensor& image, const at::Tensor& values, double sigma_rgb, double sigma_xy,
                               bool reference_lattice, bool transpose) {
  return ops::bilateral_filter(image, values,
                               ops::BilateralFilterOptions()
                                   .sigma_rgb(sigma_rgb)
                                   .sigma_xy(sigma_xy)
                                   .mode(lattice_mode(reference_lattice))
                                   .transpose(transpose));
}

losses::CrfKernelOptions crf_kernel(double sigma_rgb, double sigma_xy, double scale_factor, bool exact_gradient,
                                    bool reference_lattice) {
  return losses::CrfKernelOptions()
      .sigma_rgb(sigma_rgb)
      .sigma_xy(sigma_xy)
      .scale_factor(scale_factor)
      .gradient(exact_gradient ? losses::CrfGradient::kExact : losses::CrfGradient::kReference)
      .lattice(lattice_mode(reference_lattice));
}

at::Tensor dense_crf_loss_op(const at::Tensor& images, const at::Tensor& probabilities, const at::Tensor& roi,
                             double weight, double sigma_rgb, double sigma_xy, double scale_factor, bool exact_gradient,
                             bool reference_lattice) {
  return losses::dense_crf_loss(images, probabilities, roi,
                                losses::DenseCrfLossOptions().weight(weight).kernel(
                                    crf_kernel(sigma_rgb, sigma_xy, scale_factor, exact_gradient, reference_lattice)));
}

at::Tensor normalized_cut_loss_op(const at::Tensor& images, const at::Tensor& probabilities, const at::Tensor& roi,
                                  double weight, double sigma_rgb, double sigma_xy, double scale_factor,
                                  bool exact_gradient, bool reference_lattice) {
  return losses::normalized_cut_loss(
      images, probabilities, roi,
      losses::NormalizedCutLossOptions().weight(weight).kernel(
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

// The CRF kernel arguments of the loss schemas, with the defaults of CrfKernelOptions.
std::string crf_kernel_schema() {
  const losses::CrfKernelOptions k;
  return "float sigma_rgb=" + d(k.sigma_rgb()) + ", float sigma_xy=" + d(k.sigma_xy()) +
         ", float scale_factor=" + d(k.scale_factor()) +
         ", bool exact_gradient=" + d(k.gradient() == losses::CrfGradient::kExact) +
         ", bool reference_lattice=" + d(k.lattice() == ops::LatticeMode::kReference);
}

}  // namespace

TORCH_LIBRARY(boundseg, m) {
  // The schema strings are built at registration; TORCH_LIBRARY parses a C string.
  const auto def = [&m](const std::string& schema, auto function) { m.def(schema.c_str(), function); };
  const ops::CblBoundaryOptions cbl;
  const ops::InverseformEdgeOptions edges;
  const ops::BilateralFilterOptions bilateral;
  const boundseg::refine::DenseCrfOptions crf;
  def("boundary_band_width(float dilation_ratio, int height, int width) -> int", &ops::boundary_band_width);
  def("mask_to_boundary(Tensor mask, float dilation_ratio=" + d(ops::kBoundaryIouRatio) + ") -> Tensor",
        &ops::mask_to_boundary);
  def("label_boundary_band(Tensor labels, float dilation_ratio=" + d(ops::kBoundaryIouRatio) + ") -> Tensor",
        &ops::label_boundary_band);
  def("cbl_boundary_targets(Tensor labels, float dilation_ratio=" + d(cbl.dilation_ratio) +
            ", int ignore_index=" + d(int64_t(cbl.ignore_index)) + ", bool mark_ignore=" + d(cbl.mark_ignore) +
            ") -> Tensor",
        &cbl_boundary_targets_op);
  def("inverseform_edges(Tensor labels, int num_classes=" + d(edges.num_classes) + ", float radius=" +
            d(edges.radius) + ") -> Tensor",
        &inverseform_edges_op);
  def("seg2bmap(Tensor mask) -> Tensor", &ops::seg2bmap);
  def("segment_distance_transform(Tensor labels) -> Tensor", &ops::segment_distance_transform);
  def("bilateral_filter(Tensor image, Tensor values, float sigma_rgb=" + d(bilateral.sigma_rgb()) +
            ", float sigma_xy=" + d(bilateral.sigma_xy()) +
            ", bool reference_lattice=" + d(bilateral.mode() == ops::LatticeMode::kReference) +
            ", bool transpose=" + d(bilateral.transpose()) + ") -> Tensor",
        &bilateral_filter_op);
  // Composite ops: autograd runs through the C++ autograd Functions inside.
  def("dense_crf_loss(Tensor images, Tensor probabilities, Tensor roi, float weight=" +
            d(losses::DenseCrfLossOptions().weight()) + ", " + crf_kernel_schema() + ") -> Tensor",
        &dense_crf_loss_op);
  def("normalized_cut_loss(Tensor images, Tensor probabilities, Tensor roi, float weight=" +
            d(losses::NormalizedCutLossOptions().weight()) + ", " + crf_kernel_schema() + ") -> Tensor",
        &normalized_cut_loss_op);
  def("dense_crf(Tensor image, Tensor probabilities, int iterations=" + d(crf.iterations()) +
            ", float gaussian_sigma_xy=" + d(crf.gaussian_sigma_xy()) + ", float gaussian_weight=" +
            d(crf.gaussian_weight()) + ", float bilateral_sigma_xy=" + d(crf.bilateral_sigma_xy()) +
            ", float bilateral_sigma_rgb=" + d(crf.bilateral_sigma_rgb()) + ", float bilateral_weight=" +
            d(crf.bilateral_weight()) + ") -> Tensor",
        &dense_crf_op);
}
