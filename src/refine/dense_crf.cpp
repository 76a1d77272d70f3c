// Mean-field DenseCRF inference on two permutohedral lattices built once per image.
#include "boundseg/refine/dense_crf.h"

#include <ATen/ATen.h>

#include <cmath>

#include "ops/check_tensor.h"

namespace boundseg::refine {

using boundseg::detail::describe_or_undefined;

DenseCrfOptions DenseCrfOptions::deeplab_voc() {
  return DenseCrfOptions()
      .iterations(10)
      .gaussian_sigma_xy(1)
      .gaussian_weight(3)
      .bilateral_sigma_xy(67)
      .bilateral_sigma_rgb(3)
      .bilateral_weight(4);
}

namespace {

// One Potts kernel with symmetric normalisation: w · n ∘ A(n ∘ Q), n = (A·1)^(-1/2).
struct NormalizedKernel {
  ops::PermutohedralLattice lattice;
  at::Tensor norm;  // (P, 1)
  double weight;

  NormalizedKernel(const at::Tensor& features, double weight, ops::LatticeMode mode)
      : lattice(features, mode), weight(weight) {
    const at::Tensor ones = at::ones({features.size(0), 1}, features.options());
    norm = at::rsqrt(lattice.filter(ones) + 1e-20);
  }

  at::Tensor message(const at::Tensor& q) const { return lattice.filter(q * norm) * (norm * weight); }
};

}  // namespace

at::Tensor dense_crf(const at::Tensor& image, const at::Tensor& probabilities, const DenseCrfOptions& options) {
  TORCH_CHECK_VALUE(image.defined() && image.dim() == 3 && image.size(0) == 3,
                    "boundseg dense_crf: 'image' must be a (3, H, W) RGB tensor, but got ", describe_or_undefined(image),
                    ".");
  TORCH_CHECK_VALUE(probabilities.defined() && probabilities.dim() == 3 && probabilities.size(0) >= 1 &&
                        probabilities.size(1) == image.size(1) && probabilities.size(2) == image.size(2),
                    "boundseg dense_crf: 'probabilities' must be (K, H, W) with the image's H x W, but got ",
                    describe_or_undefined(probabilities), " for ", describe_or_undefined(image), ".");
  TORCH_CHECK_VALUE(options.iterations() >= 1, "boundseg dense_crf: iterations must be >= 1, but got ",
                    options.iterations(), ".");
  for (const double v : {options.gaussian_sigma_xy(), options.bilateral_sigma_xy(), options.bilateral_sigma_rgb()}) {
    TORCH_CHECK_VALUE(v > 0 && std::isfinite(v), "boundseg dense_crf: every kernel bandwidth must be positive and ",
                      "finite, but got ", v, ".");
  }
  const int64_t K = probabilities.size(0), H = probabilities.size(1), W = probabilities.size(2);
  const at::Tensor bilateral_features =
      ops::bilateral_features(image.to(at::kFloat), options.bilateral_sigma_rgb(), options.bilateral_sigma_xy());
  // The smoothness kernel's (x, y) features: the bilateral ones rescaled to its own spatial bandwidth.
  const at::Tensor xy_features =
      (bilateral_features.slice(1, 0, 2) * (options.bilateral_sigma_xy() / options.gaussian_sigma_xy())).contiguous();
  const NormalizedKernel smoothness(xy_features, options.gaussian_weight(), options.lattice());
  const NormalizedKernel appearance(bilateral_features, options.bilateral_weight(), options.lattice());

  // Point-major (P, K) throughout: the lattice filters all classes of a pixel together.
  const at::Tensor log_unary =
      at::log(probabilities.to(at::kFloat).clamp_min(1e-8)).reshape({K, H * W}).t().contiguous();
  at::Tensor q = probabilities.to(at::kFloat).reshape({K, H * W}).t().contiguous();
  for (int64_t it = 0; it < options.iterations(); ++it) {
    q = at::softmax(log_unary + smoothness.message(q) + appearance.message(q), 1);
  }
  return q.t().reshape({K, H, W}).contiguous();
}

at::Tensor probabilities_from_labels(const at::Tensor& labels, int64_t num_classes, double confidence,
                                     int64_t ignore_index) {
  TORCH_CHECK_VALUE(labels.defined() && labels.dim() == 2 && !at::isFloatingType(labels.scalar_type()),
                    "boundseg probabilities_from_labels: 'labels' must be an integer (H, W) map, but got ",
                    describe_or_undefined(labels), ".");
  TORCH_CHECK_VALUE(num_classes >= 2, "boundseg probabilities_from_labels: num_classes must be >= 2, but got ",
                    num_classes, ".");
  TORCH_CHECK_VALUE(confidence > 0 && confidence < 1, "boundseg probabilities_from_labels: confidence must be in ",
                    "(0, 1), but got ", confidence, ".");
  const at::Tensor l = labels.to(at::kLong);
  const at::Tensor known = (l >= 0) & (l < num_classes) & (l != ignore_index);
  const double other = (1.0 - confidence) / static_cast<double>(num_classes - 1);
  at::Tensor probs = at::one_hot(l.clamp(0, num_classes - 1), num_classes).permute({2, 0, 1}).to(at::kFloat);
  probs = probs * (confidence - other) + other;
  return at::where(known.unsqueeze(0), probs, at::full_like(probs, 1.0 / static_cast<double>(num_classes)));
}

}  // namespace boundseg::refine
