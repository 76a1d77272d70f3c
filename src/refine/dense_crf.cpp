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

at::Tensor dense_crf(const at::Tensor& image, const at::Tensor& probabilities, const DenseCrfOptions& options) {
  TORCH_CHECK_VALUE(image.defined() && image.dim() == 3 && image.size(0) == 3,
                    "boundseg dense_crf: 'image' must be a (3, H, W) RGB tensor, but got ", describe_or_undefined(image),
                    ".");
  TORCH_CHECK_VALUE(probabilities.defined() && probabilities.dim() == 3 && probabilities.size(0) >= 1 &&
                        probabilities.size(1) == image.size(1) && probabilities.size(2) == image.size(2),
                    "boundseg dense_crf: 'probabilities' must be (K, H, W) with the image's H x W, but got ",
                    describe_or_undefined(probabilities), " for ", describe_or_undefined(image), ".");
  TORCH_CHECK(image.device().is_cpu() && probabilities.device().is_cpu(), "boundseg dense_crf: 'image' and ",
              "'probabilities' must be CPU tensors, but got ", image.device(), " and ", probabilities.device(), ".");
  const at::Tensor sums = probabilities.to(at::kDouble).sum(0);
  TORCH_CHECK_VALUE(probabilities.min().item<double>() >= 0 && (sums - 1).abs().max().item<double>() < 1e-3,
                    "boundseg dense_crf: 'probabilities' must be non-negative and sum to 1 over K at every pixel, ",
                    "but got sums in [", sums.min().item<double>(), ", ", sums.max().item<double>(), "].");
  for (const double w : {options.gaussian_weight(), options.bilateral_weight()}) {
    TORCH_CHECK_VALUE(w >= 0 && std::isfinite(w), "boundseg dense_crf: kernel weights must be finite and >= 0, but ",
                      "got ", w, ".");
  }
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
  const ops::PermutohedralLattice smoothness(xy_features, options.lattice());
  const ops::PermutohedralLattice appearance(bilateral_features, options.lattice());
  const int64_t P = H * W;
  // Symmetric normalisation of each kernel: K̃ = n ∘ A(n ∘ ·), n = (A·1)^(-1/2).
  const at::Tensor ones = at::ones({P, 1}, at::kFloat);
  const at::Tensor ng = at::rsqrt(smoothness.filter(ones) + 1e-20), nb = at::rsqrt(appearance.filter(ones) + 1e-20);

  // Point-major (P, K) throughout: the lattice filters all classes of a pixel together. Each iteration is two
  // fused passes (scale for both kernels; unary + both messages) around the two filterings, then the softmax.
  const at::Tensor log_unary =
      at::log(probabilities.to(at::kFloat).clamp_min(1e-8)).reshape({K, P}).t().contiguous();
  at::Tensor q = probabilities.to(at::kFloat).reshape({K, P}).t().contiguous();
  at::Tensor qg = at::empty_like(q), qb = at::empty_like(q), fg = at::empty_like(q), fb = at::empty_like(q),
             logits = at::empty_like(q);
  const float *ngp = ng.data_ptr<float>(), *nbp = nb.data_ptr<float>(), *lu = log_unary.data_ptr<float>();
  const float wg = static_cast<float>(options.gaussian_weight()), wb = static_cast<float>(options.bilateral_weight());
  for (int64_t it = 0; it < options.iterations(); ++it) {
    const float* qp = q.data_ptr<float>();
    float *qgp = qg.data_ptr<float>(), *qbp = qb.data_ptr<float>();
    at::parallel_for(0, P, 1024, [&](int64_t p0, int64_t p1) {
      for (int64_t p = p0; p < p1; ++p) {
        for (int64_t k = 0; k < K; ++k) {
          qgp[p * K + k] = qp[p * K + k] * ngp[p];
          qbp[p * K + k] = qp[p * K + k] * nbp[p];
        }
      }
    });
    smoothness.filter(qgp, fg.data_ptr<float>(), K);
    appearance.filter(qbp, fb.data_ptr<float>(), K);
    const float *fgp = fg.data_ptr<float>(), *fbp = fb.data_ptr<float>();
    float* zp = logits.data_ptr<float>();
    at::parallel_for(0, P, 1024, [&](int64_t p0, int64_t p1) {
      for (int64_t p = p0; p < p1; ++p) {
        const float sg = wg * ngp[p], sb = wb * nbp[p];
        for (int64_t k = 0; k < K; ++k) zp[p * K + k] = lu[p * K + k] + sg * fgp[p * K + k] + sb * fbp[p * K + k];
      }
    });
    q = at::softmax(logits, 1);
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
