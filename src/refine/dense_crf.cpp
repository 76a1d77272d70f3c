// Mean-field DenseCRF inference on two permutohedral lattices built once per image.
#include "boundseg/refine/dense_crf.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "core/simd_clones.h"
#include <ATen/Parallel.h>

#include "boundseg/core/check.h"
#include "boundseg/core/error.h"

namespace boundseg::refine {



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

// exp(x) for the softmax's x <= 0: Cephes' expf (range reduction by ln 2, degree-6 polynomial, 2^n by exponent
// bits), relative error about 1e-7. Plain float arithmetic, so the loop calling it vectorises.
inline float exp_nonpositive(float x) {
  x = x < -87.0f ? -87.0f : x;
  const float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;  // round(x / ln 2), half to even
  x = x - n * 0.693359375f + n * 2.12194440e-4f;
  float y = 1.9875691500e-4f;
  y = y * x + 1.3981999507e-3f;
  y = y * x + 8.3334519073e-3f;
  y = y * x + 4.1665795894e-2f;
  y = y * x + 1.6666665459e-1f;
  y = y * x + 5.0000001201e-1f;
  y = y * x * x + x + 1.0f;
  const int32_t bits = (static_cast<int32_t>(n) + 127) << 23;
  return y * __builtin_bit_cast(float, bits);
}

// The per-pixel state of one mean-field iteration, point-major (P, K) arrays.
struct MeanFieldStep {
  int64_t K;
  const float *log_unary, *norm_g, *norm_b;  // −U; the kernels' (A·1)^(-1/2)
  float weight_g, weight_b;
  const float *fg, *fb;  // A_g(n_g ∘ Q), A_b(n_b ∘ Q)
  float *q, *qg, *qb;    // Q (written only when `last`: memory traffic bounds the loop), n_g ∘ Q, n_b ∘ Q
  bool last;
};

// Q ← softmax(−U + w_g n_g ∘ fg + w_b n_b ∘ fb) for pixels [p0, p1): the next filterings' inputs n ∘ Q, or Q itself
// after the last iteration.
BOUNDSEG_SIMD_CLONES void mean_field_update(const MeanFieldStep& s, int64_t p0, int64_t p1) {
  const int64_t K = s.K;
  std::vector<float> z(K);
  for (int64_t p = p0; p < p1; ++p) {
    const float sg = s.weight_g * s.norm_g[p], sb = s.weight_b * s.norm_b[p];
    const int64_t o = p * K;
    for (int64_t k = 0; k < K; ++k) z[k] = s.log_unary[o + k] + sg * s.fg[o + k] + sb * s.fb[o + k];
    float top = -std::numeric_limits<float>::infinity();
    for (int64_t k = 0; k < K; ++k) top = std::max(top, z[k]);
    // (No reduction in this loop, so that it vectorises without reassociating float sums.)
    for (int64_t k = 0; k < K; ++k) z[k] = exp_nonpositive(z[k] - top);
    float sum = 0.0f;
    for (int64_t k = 0; k < K; ++k) sum += z[k];
    const float inv = 1.0f / sum;
    if (s.last) {
      for (int64_t k = 0; k < K; ++k) s.q[o + k] = z[k] * inv;
      continue;
    }
    for (int64_t k = 0; k < K; ++k) {
      const float qk = z[k] * inv;
      s.qg[o + k] = qk * s.norm_g[p];
      s.qb[o + k] = qk * s.norm_b[p];
    }
  }
}

}  // namespace

void validate(const DenseCrfOptions& o, const OptionSite& site) {
  site.require(o.iterations() >= 1, "iterations", "be >= 1", [&] { return std::to_string(o.iterations()); });
  const std::pair<const char*, double> weights[] = {{"gaussian_weight", o.gaussian_weight()},
                                                    {"bilateral_weight", o.bilateral_weight()}};
  for (const auto& [key, w] : weights) {
    site.require(w >= 0 && std::isfinite(w), key, "be finite and >= 0", [&] { return number_text(w); });
  }
  const std::pair<const char*, double> bandwidths[] = {{"gaussian_sigma_xy", o.gaussian_sigma_xy()},
                                                       {"bilateral_sigma_xy", o.bilateral_sigma_xy()},
                                                       {"bilateral_sigma_rgb", o.bilateral_sigma_rgb()}};
  for (const auto& [key, v] : bandwidths) {
    site.require(v > 0 && std::isfinite(v), key, "be positive and finite", [&] { return number_text(v); });
  }
}

at::Tensor dense_crf(const at::Tensor& image, const at::Tensor& probabilities, const DenseCrfOptions& options) {
  constexpr const char* where = "dense_crf";
  validate(options, where);
  require(image.defined() && image.dim() == 3 && image.size(0) == 3, where, "'image'", "be a (3, H, W) RGB tensor",
          [&] { return describe_or_undefined(image); });
  require(probabilities.defined() && probabilities.dim() == 3 && probabilities.size(0) >= 1 &&
              probabilities.size(1) == image.size(1) && probabilities.size(2) == image.size(2),
          where, "'probabilities'", "be (K, H, W) with the image's H x W",
          [&] { return describe_or_undefined(probabilities) + " for " + describe_or_undefined(image); });
  check_cpu(image, where, "image");
  check_cpu(probabilities, where, "probabilities");
  const at::Tensor sums = probabilities.to(at::kDouble).sum(0);
  require(probabilities.min().item<double>() >= 0 && (sums - 1).abs().max().item<double>() < 1e-3, where,
          "'probabilities'", "be non-negative and sum to 1 over K at every pixel", [&] {
            return "sums in [" + number_text(sums.min().item<double>()) + ", " +
                   number_text(sums.max().item<double>()) + "]";
          });
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

  // Point-major (P, K) throughout: the lattice filters all classes of a pixel together. An iteration is the two
  // filterings and one fused pass per pixel (unary + messages, softmax, inputs of the next filterings).
  const at::Tensor log_unary =
      at::log(probabilities.to(at::kFloat).clamp_min(1e-8)).reshape({K, P}).t().contiguous();
  at::Tensor q = probabilities.to(at::kFloat).reshape({K, P}).t().contiguous();
  const at::Tensor qg = q * ng, qb = q * nb;
  at::Tensor fg = at::empty_like(q), fb = at::empty_like(q);
  MeanFieldStep step{K,
                     log_unary.data_ptr<float>(),
                     ng.data_ptr<float>(),
                     nb.data_ptr<float>(),
                     static_cast<float>(options.gaussian_weight()),
                     static_cast<float>(options.bilateral_weight()),
                     fg.data_ptr<float>(),
                     fb.data_ptr<float>(),
                     q.data_ptr<float>(),
                     qg.data_ptr<float>(),
                     qb.data_ptr<float>(),
                     false};
  for (int64_t it = 0; it < options.iterations(); ++it) {
    step.last = it + 1 == options.iterations();
    smoothness.filter(step.qg, fg.data_ptr<float>(), K);
    appearance.filter(step.qb, fb.data_ptr<float>(), K);
    at::parallel_for(0, P, 1024, [&](int64_t p0, int64_t p1) { mean_field_update(step, p0, p1); });
  }
  return q.t().reshape({K, H, W}).contiguous();
}

void validate(const LabelUnaryOptions& o, const OptionSite& site) {
  site.require(o.confidence() > 0 && o.confidence() < 1, "confidence", "be in (0, 1)",
               [&] { return number_text(o.confidence()); });
}

at::Tensor probabilities_from_labels(const at::Tensor& labels, int64_t num_classes, const LabelUnaryOptions& options) {
  constexpr const char* where = "probabilities_from_labels";
  validate(options, where);
  const double confidence = options.confidence();
  const int64_t ignore_index = options.ignore_index();
  require(labels.defined() && labels.dim() == 2 && !at::isFloatingType(labels.scalar_type()), where, "'labels'",
          "be an integer (H, W) map", [&] { return describe_or_undefined(labels); });
  require(num_classes >= 2, where, "num_classes", "be >= 2", [&] { return std::to_string(num_classes); });
  const at::Tensor l = labels.to(at::kLong);
  const at::Tensor known = (l >= 0) & (l < num_classes) & (l != ignore_index);
  const double other = (1.0 - confidence) / static_cast<double>(num_classes - 1);
  at::Tensor probs = at::one_hot(l.clamp(0, num_classes - 1), num_classes).permute({2, 0, 1}).to(at::kFloat);
  probs = probs * (confidence - other) + other;
  return at::where(known.unsqueeze(0), probs, at::full_like(probs, 1.0 / static_cast<double>(num_classes)));
}

}  // namespace boundseg::refine
