// rloss losses: DenseCRF golden parity (value, gradients, scaled inputs), finite differences, dense-matrix
// references for the exact gradients and the normalized cut, size and partial-CE references, invariants.
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/autograd.h>

#include <cmath>
#include <string>

#include "boundseg/io/safetensors.h"
#include "boundseg/losses/rloss.h"
#include "support/golden.h"
#include "support/scene_tensors.h"

namespace {

using namespace boundseg::losses;
using boundseg::ops::LatticeMode;
using boundseg::testing::scene_image_rgb;

double max_rel(const at::Tensor& actual, const at::Tensor& expected) {
  return (actual - expected).abs().max().item<double>() / expected.abs().max().item<double>();
}

at::Tensor scene_batch(int n, int h, int w, int seed = 1) {
  std::vector<at::Tensor> images;
  for (int i = 0; i < n; ++i) images.push_back(scene_image_rgb(seed + i, h, w));
  return at::stack(images);
}

at::Tensor random_probabilities(int n, int k, int h, int w) {
  return at::softmax(at::randn({n, k, h, w}, at::kFloat) * 2, 1);
}

at::Tensor gradient_of(const at::Tensor& loss, const at::Tensor& input) {
  return torch::autograd::grad({loss}, {input})[0];
}

TEST(GoldenDenseCrfLoss, MatchesTheReferenceModuleValueAndGradients) {
  // Tolerances of MANIFEST.md: loss rel 1e-5, grad_probs max-rel 1e-5, grad_logits max-rel 1e-4, scaled inputs exact.
  boundseg::testing::CaseCount cases("loss/*.safetensors cases");
  for (const auto& file : boundseg::testing::golden_files("rloss", "loss", ".safetensors")) {
    const auto st = boundseg::io::read_safetensors(file.path);
    const auto& t = st.tensors;
    const auto options = DenseCrfLossOptions()
                             .weight(std::stod(st.metadata.at("weight")))
                             .kernel(CrfKernelOptions()
                                         .sigma_rgb(std::stod(st.metadata.at("sigma_rgb")))
                                         .sigma_xy(std::stod(st.metadata.at("sigma_xy")))
                                         .scale_factor(std::stod(st.metadata.at("scale_factor")))
                                         .lattice(LatticeMode::kReference));
    const std::string& name = file.stem;
    // The resized inputs of the Function equal F.interpolate's bit for bit.
    const CrfInputs scaled = scale_crf_inputs(t.at("image"), t.at("probs"), t.at("roi"), options.kernel());
    EXPECT_TRUE(at::equal(scaled.image, t.at("image_scaled"))) << name;
    EXPECT_TRUE(at::equal(scaled.probabilities, t.at("seg_scaled"))) << name;
    EXPECT_TRUE(at::equal(scaled.roi, t.at("roi_scaled"))) << name;
    const at::Tensor AS = boundseg::ops::bilateral_filter(
        scaled.image, scaled.probabilities * scaled.roi.unsqueeze(1),
        boundseg::ops::BilateralFilterOptions().sigma_rgb(options.kernel().sigma_rgb()).sigma_xy(scaled.sigma_xy).mode(
            LatticeMode::kReference));
    EXPECT_LE(max_rel(AS, t.at("filtered_seg_scaled")), 1e-5) << name;

    const at::Tensor probs = t.at("probs").clone().requires_grad_(true);
    const at::Tensor loss = dense_crf_loss(t.at("image"), probs, t.at("roi"), options);
    const double expected = t.at("loss").item<double>();
    EXPECT_LE(std::fabs(loss.item<double>() - expected), 1e-5 * std::fabs(expected)) << name;
    EXPECT_LE(max_rel(gradient_of(loss, probs), t.at("grad_probs")), 1e-5) << name;

    const at::Tensor logits = t.at("logits").clone().requires_grad_(true);
    const at::Tensor loss2 = dense_crf_loss(t.at("image"), at::softmax(logits, 1), t.at("roi"), options);
    EXPECT_LE(max_rel(gradient_of(loss2, logits), t.at("grad_logits")), 1e-4) << name;
    cases.add();
  }
}

TEST(DenseCrfLoss, HalfScaleResizeIsBitIdenticalToInterpolateForwardAndBackward) {
  for (const auto& [h, w] : {std::pair<int64_t, int64_t>{97, 131}, {101, 77}, {64, 80}, {3, 2}}) {
    const at::Tensor probs = random_probabilities(2, 3, h, w);
    const at::Tensor upstream = at::randn({2, 3, h / 2, w / 2});
    const at::Tensor ours_in = probs.clone().requires_grad_(true), torch_in = probs.clone().requires_grad_(true);
    const at::Tensor ours = scale_crf_inputs(at::zeros({2, 3, h, w}), ours_in, at::ones({2, h, w}),
                                             CrfKernelOptions().scale_factor(0.5)).probabilities;
    const at::Tensor theirs = at::upsample_bilinear2d(torch_in, c10::nullopt, false, std::vector<double>{0.5, 0.5});
    EXPECT_TRUE(at::equal(ours, theirs)) << h << "x" << w;
    EXPECT_TRUE(at::equal(torch::autograd::grad({(ours * upstream).sum()}, {ours_in})[0],
                          torch::autograd::grad({(theirs * upstream).sum()}, {torch_in})[0]))
        << h << "x" << w;
  }
}

// Dense A (column j = A e_j) of the lattice of one scaled image.
at::Tensor dense_lattice_matrix(const at::Tensor& image, double sigma_rgb, double sigma_xy, LatticeMode mode) {
  const boundseg::ops::PermutohedralLattice lattice(boundseg::ops::bilateral_features(image, sigma_rgb, sigma_xy), mode);
  const int64_t P = lattice.num_points();
  return lattice.filter(at::eye(P, at::kFloat)).to(at::kDouble);  // column j = A e_j
}

TEST(DenseCrfLoss, ExactGradientEqualsTheDenseMatrixGradientAndFiniteDifferences) {
  const int h = 14, w = 17, K = 3;
  const at::Tensor images = scene_batch(2, h, w);
  const at::Tensor roi = (at::rand({2, h, w}) > 0.2).to(at::kFloat);
  const auto options = DenseCrfLossOptions().weight(0.5).kernel(
      CrfKernelOptions().scale_factor(1.0).sigma_xy(6).sigma_rgb(20).gradient(CrfGradient::kExact));
  const at::Tensor probs = random_probabilities(2, K, h, w).requires_grad_(true);
  const at::Tensor loss = dense_crf_loss(images, probs, roi, options);
  const at::Tensor grad = gradient_of(loss, probs);
  // Dense reference: L = 0.5 / N Σ_n −Σ_k s̃ᵀ A s̃, ∇ = −0.5 / N (A + Aᵀ) s̃ ∘ R.
  double dense_loss = 0;
  for (int n = 0; n < 2; ++n) {
    const at::Tensor A = dense_lattice_matrix(images[n], 20, 6, LatticeMode::kClean);
    const at::Tensor s = (probs[n].detach() * roi[n]).reshape({K, -1}).to(at::kDouble);  // (K, P)
    dense_loss += -0.25 * (s * at::matmul(s, A.t())).sum().item<double>();
    const at::Tensor dense_grad = (-0.25 * at::matmul(s, (A + A.t()))) * roi[n].reshape({1, -1}).to(at::kDouble);
    EXPECT_LE(max_rel(grad[n].reshape({K, -1}).to(at::kDouble), dense_grad), 1e-6);
  }
  EXPECT_NEAR(loss.item<double>(), dense_loss, 1e-6 * std::fabs(dense_loss));
  // The energy is quadratic in the probabilities, so central differences are exact up to rounding at any step.
  for (int trial = 0; trial < 4; ++trial) {
    const at::Tensor direction = at::randn_like(probs);
    const double step = 0.25;
    const double fd = (dense_crf_loss(images, probs.detach() + step * direction, roi, options).item<double>() -
                       dense_crf_loss(images, probs.detach() - step * direction, roi, options).item<double>()) /
                      (2 * step);
    const double analytic = (grad * direction).sum().item<double>();
    EXPECT_NEAR(fd, analytic, 1e-4 * std::fabs(analytic)) << trial;
  }
}

TEST(DenseCrfLoss, ReferenceGradientIsTwiceTheFilteredSegmentation) {
  const int h = 20, w = 23, K = 4;
  const at::Tensor images = scene_batch(3, h, w);
  const at::Tensor roi = (at::rand({3, h, w}) > 0.3).to(at::kFloat);
  const auto options = DenseCrfLossOptions().weight(3.0).kernel(CrfKernelOptions().scale_factor(1.0).sigma_xy(8));
  const at::Tensor probs = random_probabilities(3, K, h, w).requires_grad_(true);
  const at::Tensor grad = gradient_of(dense_crf_loss(images, probs, roi, options), probs);
  const at::Tensor AS = boundseg::ops::bilateral_filter(images, probs.detach() * roi.unsqueeze(1),
                                                        boundseg::ops::BilateralFilterOptions().sigma_xy(8));
  EXPECT_LE(max_rel(grad, -2.0 * 3.0 * AS / 3.0 * roi.unsqueeze(1)), 1e-6);
}

TEST(DenseCrfLoss, LogitGradientMatchesFiniteDifferences) {
  const int h = 16, w = 18, K = 3;
  const at::Tensor images = scene_batch(1, h, w, 7);
  const at::Tensor roi = at::ones({1, h, w});
  const auto options = DenseCrfLossOptions().weight(1e-3).kernel(
      CrfKernelOptions().scale_factor(0.5).sigma_xy(12).gradient(CrfGradient::kExact));
  const at::Tensor logits = (at::randn({1, K, h, w}) * 2).requires_grad_(true);
  const auto loss_of = [&](const at::Tensor& z) { return dense_crf_loss(images, at::softmax(z, 1), roi, options); };
  const at::Tensor grad = gradient_of(loss_of(logits), logits);
  for (int trial = 0; trial < 3; ++trial) {
    const at::Tensor direction = at::randn_like(logits);
    const double step = 1e-2;
    const double fd = (loss_of(logits.detach() + step * direction).item<double>() -
                       loss_of(logits.detach() - step * direction).item<double>()) /
                      (2 * step);
    const double analytic = (grad * direction).sum().item<double>();
    EXPECT_NEAR(fd, analytic, 2e-3 * std::fabs(analytic)) << trial;
  }
}

TEST(DenseCrfLoss, InvariantsOfTheReferenceSemantics) {
  const int h = 22, w = 25, K = 4;
  const at::Tensor images = scene_batch(2, h, w, 3);
  at::Tensor roi = at::ones({2, h, w});
  roi.slice(1, 15).slice(2, 18).zero_();
  const at::Tensor probs = random_probabilities(2, K, h, w);
  const auto options = DenseCrfLossOptions().weight(1.0).kernel(CrfKernelOptions().scale_factor(1.0).sigma_xy(10));
  const at::Tensor p = probs.clone().requires_grad_(true);
  const at::Tensor loss = dense_crf_loss(images, p, roi, options);
  const at::Tensor grad = gradient_of(loss, p);
  EXPECT_LT(loss.item<double>(), 0.0);
  // Proportional to the weight.
  EXPECT_NEAR(dense_crf_loss(images, probs, roi, DenseCrfLossOptions(options).weight(7.0)).item<double>(),
              7.0 * loss.item<double>(), 1e-6 * std::fabs(loss.item<double>()) * 7);
  // The batch loss is the mean of the single-image losses.
  const double single0 = dense_crf_loss(images.slice(0, 0, 1), probs.slice(0, 0, 1), roi.slice(0, 0, 1), options)
                             .item<double>();
  const double single1 = dense_crf_loss(images.slice(0, 1, 2), probs.slice(0, 1, 2), roi.slice(0, 1, 2), options)
                             .item<double>();
  EXPECT_NEAR(loss.item<double>(), (single0 + single1) / 2, 1e-6 * std::fabs(loss.item<double>()));
  // Zero gradient outside the ROI; padding values do not change the loss.
  EXPECT_EQ(grad.masked_select((roi == 0).unsqueeze(1).expand_as(grad)).abs().max().item<float>(), 0.0f);
  at::Tensor changed = probs.clone();
  changed.masked_fill_((roi == 0).unsqueeze(1).expand_as(changed), 0.77f);
  EXPECT_EQ(dense_crf_loss(images, changed, roi, options).item<float>(), loss.item<float>());
  // Permuting the classes permutes the gradient.
  const at::Tensor order = at::tensor({2, 0, 3, 1}, at::kLong);
  const at::Tensor permuted = probs.index_select(1, order).requires_grad_(true);
  const at::Tensor grad_permuted = gradient_of(dense_crf_loss(images, permuted, roi, options), permuted);
  EXPECT_TRUE(at::allclose(grad_permuted, grad.index_select(1, order), 1e-6, 1e-9));
  // K = 1, S = 1: −Σ R·(A R) / N; with the constant added the energy of a constant labelling is 0.
  const at::Tensor ones = at::ones({2, 1, h, w});
  const at::Tensor AR = boundseg::ops::bilateral_filter(images, roi.unsqueeze(1), boundseg::ops::BilateralFilterOptions().sigma_xy(10));
  EXPECT_NEAR(dense_crf_loss(images, ones, roi, options).item<double>(),
              -(AR * roi.unsqueeze(1)).sum().item<double>() / 2, 1e-5 * AR.sum().item<double>());
  EXPECT_NEAR(dense_crf_loss(images, ones, roi, DenseCrfLossOptions(options).add_constant(true)).item<double>(), 0.0,
              1e-6 * AR.sum().item<double>());
  EXPECT_GT(dense_crf_loss(images, probs, roi, DenseCrfLossOptions(options).add_constant(true)).item<double>(), 0.0);
  // Deterministic.
  EXPECT_EQ(dense_crf_loss(images, probs, roi, options).item<float>(), loss.item<float>());
}

TEST(DenseCrfLoss, BadInputGetsAClearError) {
  const at::Tensor images = scene_batch(1, 8, 8);
  const at::Tensor probs = random_probabilities(1, 2, 8, 8);
  BOUNDSEG_EXPECT_THROWS_WITH(dense_crf_loss(images, probs, at::ones({1, 8, 9})), "'roi' must be (N, H, W)");
  BOUNDSEG_EXPECT_THROWS_WITH(dense_crf_loss(images, random_probabilities(1, 2, 8, 7), at::ones({1, 8, 8})),
                              "'probabilities' must be (N, K, H, W)");
  BOUNDSEG_EXPECT_THROWS_WITH(
      dense_crf_loss(images, probs, at::ones({1, 8, 8}), DenseCrfLossOptions().kernel(CrfKernelOptions().scale_factor(2))),
      "'kernel.scale_factor' must be in (0, 1]");
}

// Normalized cut with a dense affinity, by autograd in double: Σ_k (1 − s̃ᵀAs̃ / (A r)ᵀ s̃), mean over images.
at::Tensor dense_normalized_cut(const std::vector<at::Tensor>& A, const at::Tensor& probs, const at::Tensor& roi) {
  at::Tensor total = at::zeros({}, at::kDouble);
  const int64_t N = probs.size(0), K = probs.size(1);
  for (int64_t n = 0; n < N; ++n) {
    const at::Tensor r = roi[n].reshape({-1}).to(at::kDouble);
    const at::Tensor s = probs[n].reshape({K, -1}) * r;
    const at::Tensor d = at::matmul(A[n], r);
    const at::Tensor a = (s * at::matmul(s, A[n].t())).sum(1);
    const at::Tensor b = at::matmul(s, d);
    total = total + (1 - a / b).sum();
  }
  return total / static_cast<double>(N);
}

TEST(NormalizedCutLoss, MatchesADenseMatrixImplementationAndFiniteDifferences) {
  const int h = 13, w = 15, K = 3;
  const at::Tensor images = scene_batch(2, h, w, 11);
  const at::Tensor roi = (at::rand({2, h, w}) > 0.2).to(at::kFloat);
  const at::Tensor probs = random_probabilities(2, K, h, w);
  std::vector<at::Tensor> A;
  for (int n = 0; n < 2; ++n) A.push_back(dense_lattice_matrix(images[n], 15, 5, LatticeMode::kClean));
  const at::Tensor dense_probs = probs.to(at::kDouble).requires_grad_(true);
  const at::Tensor dense = dense_normalized_cut(A, dense_probs, roi);
  const at::Tensor dense_grad = gradient_of(dense, dense_probs);

  const auto exact = NormalizedCutLossOptions().kernel(
      CrfKernelOptions().scale_factor(1.0).sigma_xy(5).gradient(CrfGradient::kExact));
  const at::Tensor p = probs.clone().requires_grad_(true);
  const at::Tensor loss = normalized_cut_loss(images, p, roi, exact);
  const at::Tensor grad = gradient_of(loss, p);
  EXPECT_NEAR(loss.item<double>(), dense.item<double>(), 1e-6 * dense.item<double>());
  EXPECT_LE(max_rel(grad.to(at::kDouble), dense_grad), 1e-5);
  EXPECT_GT(loss.item<double>(), 0.0);
  EXPECT_LT(loss.item<double>(), K);
  // Central differences of the (float) loss itself along random directions.
  for (int trial = 0; trial < 3; ++trial) {
    const at::Tensor direction = at::randn_like(probs) * roi.unsqueeze(1);
    const double step = 1e-2;
    const double fd = (normalized_cut_loss(images, probs + step * direction, roi, exact).item<double>() -
                       normalized_cut_loss(images, probs - step * direction, roi, exact).item<double>()) /
                      (2 * step);
    const double analytic = (grad * direction).sum().item<double>();
    EXPECT_NEAR(fd, analytic, 1e-3 * std::fabs(analytic) + 1e-5) << trial;
  }
  // Reference gradient: 2·A·s̃ in place of (A + Aᵀ)·s̃.
  const at::Tensor p2 = probs.clone().requires_grad_(true);
  const at::Tensor grad_reference = gradient_of(
      normalized_cut_loss(images, p2, roi, NormalizedCutLossOptions(exact).kernel(
          CrfKernelOptions(exact.kernel()).gradient(CrfGradient::kReference))), p2);
  for (int n = 0; n < 2; ++n) {
    const at::Tensor r = roi[n].reshape({-1}).to(at::kDouble);
    const at::Tensor s = probs[n].reshape({K, -1}).to(at::kDouble) * r;
    const at::Tensor d = at::matmul(A[n], r);
    const at::Tensor a = (s * at::matmul(s, A[n].t())).sum(1, true), b = at::matmul(s, d).unsqueeze(1);
    const at::Tensor expected = (a / (b * b) * d.unsqueeze(0) - 2 * at::matmul(s, A[n].t()) / b) * r / 2.0;
    EXPECT_LE(max_rel(grad_reference[n].reshape({K, -1}).to(at::kDouble), expected), 1e-5);
  }
}

TEST(NormalizedCutLoss, AnAbsentClassCountsOneWithoutNaN) {
  const int h = 12, w = 12;
  const at::Tensor images = scene_batch(1, h, w, 2);
  at::Tensor probs = at::zeros({1, 3, h, w});
  probs.select(1, 0).fill_(0.6f);
  probs.select(1, 1).fill_(0.4f);  // class 2 absent
  const at::Tensor p = probs.requires_grad_(true);
  const auto options = NormalizedCutLossOptions().kernel(CrfKernelOptions().scale_factor(1.0).sigma_xy(5));
  const at::Tensor loss = normalized_cut_loss(images, p, at::ones({1, h, w}), options);
  const at::Tensor grad = gradient_of(loss, p);
  EXPECT_TRUE(std::isfinite(loss.item<double>()));
  EXPECT_GT(loss.item<double>(), 1.0);
  EXPECT_TRUE(at::isfinite(grad).all().item<bool>());
}

// Size penalty written out element by element.
double slow_size_loss(const at::Tensor& probs, const at::Tensor& roi, const at::Tensor& lower, const at::Tensor& upper) {
  const int64_t N = probs.size(0), K = probs.size(1), H = probs.size(2), W = probs.size(3);
  double total = 0;
  int64_t constrained = 0;
  for (int64_t n = 0; n < N; ++n) {
    for (int64_t k = 0; k < K; ++k) {
      double v = 0;
      for (int64_t y = 0; y < H; ++y) {
        for (int64_t x = 0; x < W; ++x) v += probs[n][k][y][x].item<double>() * roi[n][y][x].item<double>();
      }
      const double a = lower[n][k].item<double>(), b = upper[n][k].item<double>();
      if (a > 0 || std::isfinite(b)) ++constrained;
      if (v < a) total += (v - a) * (v - a) / double(H * W);
      if (v > b) total += (v - b) * (v - b) / double(H * W);
    }
  }
  return total / double(std::max<int64_t>(constrained, 1));
}

TEST(SizeLoss, MatchesTheElementwiseDefinitionAndFiniteDifferences) {
  const int h = 9, w = 11;
  const double inf = std::numeric_limits<double>::infinity();
  const at::Tensor probs = random_probabilities(2, 3, h, w).to(at::kDouble);
  const at::Tensor roi = (at::rand({2, h, w}) > 0.1).to(at::kDouble);
  // (too small, too large, unconstrained) for image 0; (inside, upper only, lower only) for image 1.
  const at::Tensor lower = at::tensor({60.0, 0.0, 0.0, 10.0, 0.0, 50.0}, at::kDouble).reshape({2, 3});
  const at::Tensor upper = at::tensor({inf, 5.0, inf, 90.0, 20.0, inf}, at::kDouble).reshape({2, 3});
  const at::Tensor p = probs.clone().requires_grad_(true);
  const at::Tensor loss = size_loss(p, roi, lower, upper, SizeLossOptions().weight(2.0));
  EXPECT_NEAR(loss.item<double>(), 2.0 * slow_size_loss(probs, roi, lower, upper), 1e-12);
  EXPECT_GT(loss.item<double>(), 0.0);
  const at::Tensor grad = gradient_of(loss, p);
  for (int trial = 0; trial < 3; ++trial) {
    const at::Tensor direction = at::randn_like(probs);
    const double step = 1e-6;
    const double fd = (size_loss(probs + step * direction, roi, lower, upper, SizeLossOptions().weight(2.0)).item<double>() -
                       size_loss(probs - step * direction, roi, lower, upper, SizeLossOptions().weight(2.0)).item<double>()) /
                      (2 * step);
    EXPECT_NEAR(fd, (grad * direction).sum().item<double>(), 1e-6 * std::fabs(fd) + 1e-9);
  }
  BOUNDSEG_EXPECT_THROWS_WITH(size_loss(probs, roi, upper, lower), "'lower' must be <= 'upper'");
}

// Partial CE written out pixel by pixel.
double slow_partial_ce(const at::Tensor& logits, const at::Tensor& scribbles) {
  const at::Tensor log_p = at::log_softmax(logits.to(at::kDouble), 1);
  double total = 0;
  int64_t count = 0;
  for (int64_t n = 0; n < scribbles.size(0); ++n) {
    for (int64_t y = 0; y < scribbles.size(1); ++y) {
      for (int64_t x = 0; x < scribbles.size(2); ++x) {
        const int64_t label = scribbles[n][y][x].item<int64_t>();
        if (label == 255 || label == 254) continue;
        total -= log_p[n][label][y][x].item<double>();
        ++count;
      }
    }
  }
  return total / double(count);
}

TEST(PartialCrossEntropy, AveragesOverScribbledPixelsOnlyAndMatchesFiniteDifferences) {
  const int h = 10, w = 12, K = 4;
  at::Tensor scribbles = at::full({2, h, w}, 255, at::kLong);
  scribbles.select(1, 3).slice(1, 2, 9).fill_(1);
  scribbles.select(2, 5).slice(1, 1, 8).fill_(3);
  scribbles.select(1, 7).slice(1, 0, 4).fill_(0);
  scribbles.slice(1, 8).fill_(254);  // padding rows
  scribbles[1][8][0] = 254;
  const at::Tensor logits = at::randn({2, K, h, w}, at::kDouble) * 2;
  const at::Tensor z = logits.clone().requires_grad_(true);
  const at::Tensor loss = partial_cross_entropy(z, scribbles);
  EXPECT_NEAR(loss.item<double>(), slow_partial_ce(logits, scribbles), 1e-12);
  EXPECT_NEAR(partial_cross_entropy(logits, scribbles, PartialCrossEntropyOptions().batch_average(true)).item<double>(),
              loss.item<double>() / 2, 1e-12);
  const at::Tensor grad = gradient_of(loss, z);
  EXPECT_EQ(grad.masked_select((scribbles >= 254).unsqueeze(1).expand_as(grad)).abs().max().item<double>(), 0.0);
  for (int trial = 0; trial < 3; ++trial) {
    const at::Tensor direction = at::randn_like(logits);
    const double step = 1e-5;
    const double fd = (partial_cross_entropy(logits + step * direction, scribbles).item<double>() -
                       partial_cross_entropy(logits - step * direction, scribbles).item<double>()) /
                      (2 * step);
    EXPECT_NEAR(fd, (grad * direction).sum().item<double>(), 1e-7 * std::fabs(fd) + 1e-10);
  }
  EXPECT_TRUE(at::equal(scribble_roi(scribbles), (scribbles != 254).to(at::kFloat)));
}

TEST(PartialCrossEntropy, AnUnlabelledBatchGivesZeroNotNaN) {
  const at::Tensor z = at::randn({1, 3, 4, 4}).requires_grad_(true);
  const at::Tensor loss = partial_cross_entropy(z, at::full({1, 4, 4}, 255, at::kLong));
  EXPECT_EQ(loss.item<float>(), 0.0f);
  EXPECT_EQ(gradient_of(loss, z).abs().sum().item<float>(), 0.0f);
  BOUNDSEG_EXPECT_THROWS_WITH(partial_cross_entropy(z, at::full({1, 4, 4}, 3, at::kLong)),
                              "scribble values must be class ids in [0, 3)");
}

TEST(CaffeRoi, ExcludesPixelsWhoseThreeChannelsTruncateToZero) {
  at::Tensor data = at::full({1, 3, 2, 2}, 5.0f);
  data[0].select(1, 0).select(1, 0).fill_(0.5f);  // pixel (0, 0): |x| < 1 in every channel
  data[0][0][1][1] = 0.2f;                         // pixel (1, 1): only one channel near zero
  const at::Tensor roi = caffe_roi(data);
  EXPECT_TRUE(at::equal(roi, at::tensor({0.0f, 1.0f, 1.0f, 1.0f}).reshape({1, 2, 2})));
}

}  // namespace
