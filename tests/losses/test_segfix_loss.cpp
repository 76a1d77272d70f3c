// SegFix loss (segfix.md §5): reference goldens, a float64 loop reference, guards, finite differences, errors.
#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <functional>
#include <string>
#include <tuple>
#include <vector>

#include "boundseg/io/safetensors.h"
#include "boundseg/losses/segfix_loss.h"
#include "support/golden.h"
#include "support/gradcheck.h"

namespace boundseg {
namespace {

namespace F = losses::functional;
using losses::SegFixLossOptions;
using losses::SegFixTargets;

at::Generator seeded(uint64_t seed) { return at::make_generator<at::CPUGeneratorImpl>(seed); }

double max_abs(const at::Tensor& t) { return t.abs().max().item<double>(); }

// ---------------------------------------------------------------------------------------------------------------
// Float64 loops straight from §5.

// Bilinear, align_corners=True: source coordinate = dst · (in - 1) / (out - 1).
std::vector<double> upsample(const at::Tensor& logits, int64_t n, int64_t c, int64_t out_h, int64_t out_w) {
  const int64_t h = logits.size(2), w = logits.size(3);
  const at::Tensor x = logits.to(at::kDouble);
  auto a = x.accessor<double, 4>();
  std::vector<double> out(out_h * out_w);
  for (int64_t y = 0; y < out_h; ++y)
    for (int64_t xo = 0; xo < out_w; ++xo) {
      const double sy = out_h > 1 ? y * double(h - 1) / double(out_h - 1) : 0.0;
      const double sx = out_w > 1 ? xo * double(w - 1) / double(out_w - 1) : 0.0;
      const int64_t y0 = static_cast<int64_t>(sy), x0 = static_cast<int64_t>(sx);
      const int64_t y1 = std::min(y0 + 1, h - 1), x1 = std::min(x0 + 1, w - 1);
      const double fy = sy - y0, fx = sx - x0;
      out[y * out_w + xo] = (1 - fy) * ((1 - fx) * a[n][c][y0][x0] + fx * a[n][c][y0][x1]) +
                            fy * ((1 - fx) * a[n][c][y1][x0] + fx * a[n][c][y1][x1]);
    }
  return out;
}

struct Pixel {
  std::vector<double> logits;
  int64_t label;
};

// Σ w[y]·(-log softmax_y) / Σ w[y] with w = 1 - count / total over the labelled pixels; 0 when Σ w[y] = 0.
double weighted_ce(const std::vector<Pixel>& pixels, int64_t k) {
  std::vector<double> count(k, 0.0);
  double total = 0;
  for (const auto& p : pixels) {
    count[p.label] += 1;
    total += 1;
  }
  double num = 0, den = 0;
  for (const auto& p : pixels) {
    double mx = -INFINITY, sum = 0;
    for (double v : p.logits) mx = std::max(mx, v);
    for (double v : p.logits) sum += std::exp(v - mx);
    const double nll = -(p.logits[p.label] - mx - std::log(sum));
    const double w = 1.0 - count[p.label] / total;
    num += w * nll;
    den += w;
  }
  return den > 0 ? num / den : 0.0;
}

double naive_segfix_loss(const at::Tensor& mask_logits, const at::Tensor& dir_logits, const SegFixTargets& t,
                         double threshold, double* min_margin) {
  const int64_t n = t.seg.size(0), h = t.seg.size(1), w = t.seg.size(2), k = dir_logits.size(1);
  std::vector<Pixel> mask_pixels, dir_pixels;
  *min_margin = INFINITY;
  for (int64_t b = 0; b < n; ++b) {
    std::vector<std::vector<double>> m(2), d(k);
    for (int64_t c = 0; c < 2; ++c) m[c] = upsample(mask_logits, b, c, h, w);
    for (int64_t c = 0; c < k; ++c) d[c] = upsample(dir_logits, b, c, h, w);
    for (int64_t y = 0; y < h; ++y)
      for (int64_t x = 0; x < w; ++x) {
        const int64_t i = y * w + x;
        const int64_t seg = t.seg[b][y][x].item<int64_t>(), dist = t.distance[b][y][x].item<int64_t>();
        if (seg == -1) continue;
        mask_pixels.push_back({{m[0][i], m[1][i]}, dist >= 0 && dist <= 5 ? 1 : 0});
        const double p1 = 1.0 / (1.0 + std::exp(m[0][i] - m[1][i]));
        *min_margin = std::min(*min_margin, std::fabs(p1 - threshold));
        if (!(p1 > threshold)) continue;
        const double angle = t.angle[b][y][x].item<double>();
        const int64_t bin = ((static_cast<int64_t>(std::ceil((angle + 157.5) / 45.0)) % 8) + 8) % 8;
        std::vector<double> logits(k);
        for (int64_t c = 0; c < k; ++c) logits[c] = d[c][i];
        dir_pixels.push_back({logits, bin});
      }
  }
  return weighted_ce(mask_pixels, 2) + weighted_ce(dir_pixels, k);
}

SegFixTargets random_targets(at::Generator& gen, int64_t n, int64_t h, int64_t w) {
  at::Tensor seg = at::randint(0, 19, {n, h, w}, gen, at::kLong);
  seg.masked_fill_(at::rand({n, h, w}, gen).lt(0.15), -1);
  const at::Tensor distance = at::randint(0, 12, {n, h, w}, gen, at::kInt);
  const at::Tensor angle = at::randint(0, 181, {n, h, w}, gen, at::kLong).to(at::kDouble).mul(2).sub(180);
  return {seg, distance, angle};
}

// ---------------------------------------------------------------------------------------------------------------

TEST(SegFixLoss, MatchesFloat64LoopReference) {
  auto gen = seeded(61);
  for (int trial = 0; trial < 4; ++trial) {
    const SegFixTargets t = random_targets(gen, 2, 9, 11);
    const at::Tensor mask = at::randn({2, 2, 4, 5}, gen).mul(1.5), dir = at::randn({2, 8, 4, 5}, gen).mul(1.5);
    double margin = 0;
    const double want = naive_segfix_loss(mask, dir, t, 0.5, &margin);
    ASSERT_GT(margin, 1e-4) << "a probability too close to the threshold; pick another seed";
    const double got = F::segfix_loss(mask, dir, t).item<double>();
    EXPECT_NEAR(got, want, 2e-6 * std::fabs(want)) << "trial " << trial;
  }
}

TEST(SegFixLoss, TermsAreWeightedAndSummed) {
  auto gen = seeded(62);
  const SegFixTargets t = random_targets(gen, 1, 8, 8);
  const at::Tensor mask = at::randn({1, 2, 4, 4}, gen), dir = at::randn({1, 8, 4, 4}, gen);
  const auto terms = F::segfix_loss_terms(mask, dir, t);
  const auto weighted = F::segfix_loss_terms(mask, dir, t, SegFixLossOptions().mask_weight(0.25).direction_weight(3.0));
  EXPECT_GT(terms.mask.item<double>(), 0.0);
  EXPECT_GT(terms.direction.item<double>(), 0.0);
  EXPECT_FLOAT_EQ(terms.total.item<float>(), terms.mask.item<float>() + terms.direction.item<float>());
  EXPECT_FLOAT_EQ(weighted.total.item<float>(),
                  0.25f * terms.mask.item<float>() + 3.0f * terms.direction.item<float>());
  losses::SegFixLoss module;
  EXPECT_EQ(module(mask, dir, t).item<float>(), terms.total.item<float>());
}

TEST(SegFixLoss, NoPredictedBoundaryGivesAZeroDirectionTermNotNaN) {
  // §10 #3: the reference divides 0 by 0 here.
  auto gen = seeded(63);
  const SegFixTargets t = random_targets(gen, 1, 8, 8);
  at::Tensor mask = at::zeros({1, 2, 4, 4});
  mask.select(1, 0).fill_(5.0f);  // P(boundary) ~ 0.007 everywhere
  const at::Tensor mask_leaf = mask.clone().set_requires_grad(true);
  const at::Tensor dir_leaf = at::randn({1, 8, 4, 4}, gen).set_requires_grad(true);
  const auto terms = F::segfix_loss_terms(mask_leaf, dir_leaf, t);
  EXPECT_EQ(terms.direction.item<float>(), 0.0f);
  EXPECT_TRUE(std::isfinite(terms.mask.item<float>()));
  EXPECT_EQ(terms.total.item<float>(), terms.mask.item<float>());
  terms.total.backward();
  EXPECT_EQ(max_abs(dir_leaf.grad()), 0.0);
  EXPECT_TRUE(at::isfinite(mask_leaf.grad()).all().item<bool>());
  EXPECT_GT(max_abs(mask_leaf.grad()), 0.0);
}

TEST(SegFixLoss, ZeroWeightDenominatorsGiveZeroTerms) {
  // Every supervised direction in one bin: its weight 1 - 1 = 0, so Σ w[y] = 0 (NaN in the reference).
  at::Tensor seg = at::zeros({1, 6, 6}, at::kLong);
  const at::Tensor distance = at::zeros({1, 6, 6}, at::kInt);  // all boundary -> the mask term is 0/0 as well
  const at::Tensor angle = at::full({1, 6, 6}, 90.0, at::kDouble);
  at::Tensor mask = at::zeros({1, 2, 3, 3});
  mask.select(1, 1).fill_(4.0f);  // everything predicted as boundary
  const auto terms = F::segfix_loss_terms(mask, at::randn({1, 8, 3, 3}), {seg, distance, angle});
  EXPECT_EQ(terms.mask.item<float>(), 0.0f);
  EXPECT_EQ(terms.direction.item<float>(), 0.0f);
  // Everything ignored: no supervised pixel at all.
  seg.fill_(-1);
  const auto ignored = F::segfix_loss_terms(mask, at::randn({1, 8, 3, 3}), {seg, distance, angle});
  EXPECT_EQ(ignored.total.item<float>(), 0.0f);
}

TEST(SegFixLoss, GradientMatchesFiniteDifferencesInFloat64) {
  auto gen = seeded(64);
  const SegFixTargets t = random_targets(gen, 2, 7, 9);
  const at::Tensor mask = at::randn({2, 2, 3, 4}, gen, at::kDouble).mul(1.5);
  const at::Tensor dir = at::randn({2, 8, 3, 4}, gen, at::kDouble);
  // The supervised set (P > 0.5) must not change under the perturbations.
  const at::Tensor p = at::softmax(at::upsample_bilinear2d(mask, {7, 9}, true), 1).select(1, 1);
  ASSERT_GT(p.sub(0.5).abs().min().item<double>(), 1e-4);
  const auto wrt_mask = [&](const at::Tensor& m) { return F::segfix_loss(m, dir, t); };
  const auto wrt_dir = [&](const at::Tensor& d) { return F::segfix_loss(mask, d, t); };
  for (const auto& [name, f, x] :
       {std::make_tuple("mask", std::function<at::Tensor(const at::Tensor&)>(wrt_mask), mask),
        std::make_tuple("dir", std::function<at::Tensor(const at::Tensor&)>(wrt_dir), dir)}) {
    const at::Tensor analytic = testing::autograd_gradient(f, x), numeric = testing::numeric_gradient(f, x, 1e-6);
    EXPECT_GT(max_abs(analytic), 1e-3) << name;
    EXPECT_LE(max_abs(analytic - numeric), 1e-8) << name << "\nanalytic\n" << analytic << "\nnumeric\n" << numeric;
  }
}

TEST(SegFixLoss, RejectsBadOptionsAndInputs) {
  const at::Tensor m = at::zeros({1, 2, 3, 3}), d = at::zeros({1, 8, 3, 3});
  const SegFixTargets t{at::zeros({1, 6, 6}, at::kLong), at::zeros({1, 6, 6}, at::kInt),
                        at::zeros({1, 6, 6}, at::kDouble)};
  BOUNDSEG_EXPECT_THROWS_WITH(F::segfix_loss(m, d, t, SegFixLossOptions().max_distance(-1)),
                              "boundseg segfix_loss: option 'max_distance' must be >= 0, but got -1.");
  BOUNDSEG_EXPECT_THROWS_WITH(F::segfix_loss(m, d, t, SegFixLossOptions().mask_threshold(1.5)),
                              "option 'mask_threshold' must be in [0, 1]");
  BOUNDSEG_EXPECT_THROWS_WITH(F::segfix_loss(m, d, t, SegFixLossOptions().mask_weight(-1)),
                              "option 'mask_weight' must be finite and >= 0");
  BOUNDSEG_EXPECT_THROWS_WITH(F::segfix_loss(m, d, t, SegFixLossOptions().direction_weight(NAN)),
                              "option 'direction_weight' must be finite and >= 0");
  BOUNDSEG_EXPECT_THROWS_WITH(F::segfix_loss(m, d, t, SegFixLossOptions().num_bins(6)),
                              "option 'num_bins' must be 4, 8, 16 or 32, but got 6");
  BOUNDSEG_EXPECT_THROWS_WITH(losses::SegFixLoss(SegFixLossOptions().num_bins(6)),
                              "boundseg SegFixLoss: option 'num_bins'");
  BOUNDSEG_EXPECT_THROWS_WITH(F::segfix_loss(at::zeros({1, 3, 3, 3}), d, t),
                              "'mask_logits' must be a floating point (N, 2, h, w)");
  BOUNDSEG_EXPECT_THROWS_WITH(F::segfix_loss(m, at::zeros({1, 4, 3, 3}), t),
                              "'dir_logits' must be a floating point (N, 8, h, w)");
  BOUNDSEG_EXPECT_THROWS_WITH(F::segfix_loss(m, at::zeros({2, 8, 3, 3}), t),
                              "'dir_logits' must have the batch size and dtype");
  BOUNDSEG_EXPECT_THROWS_WITH(F::segfix_loss(m, d.to(at::kDouble), t),
                              "'dir_logits' must have the batch size and dtype");
  BOUNDSEG_EXPECT_THROWS_WITH(F::segfix_loss(at::zeros({1, 2, 0, 3}), d, t),
                              "'mask_logits' must have a non-empty h, w");
  BOUNDSEG_EXPECT_THROWS_WITH(F::segfix_loss(m, d, {at::zeros({1, 6, 6}), t.distance, t.angle}),
                              "'targets.seg' must be a 3-D (N, H, W) integer tensor");
  BOUNDSEG_EXPECT_THROWS_WITH(F::segfix_loss(m, d, {t.seg, t.distance, at::zeros({1, 6, 6}, at::kLong)}),
                              "'targets.angle' must be a 3-D (N, H, W) float32 or float64 tensor");
  BOUNDSEG_EXPECT_THROWS_WITH(F::segfix_loss(m, d, {at::zeros({2, 6, 6}, at::kLong), t.distance, t.angle}),
                              "'targets.seg' must have the batch size of the logits (1)");
  BOUNDSEG_EXPECT_THROWS_WITH(F::segfix_loss(m, d, {t.seg, at::zeros({1, 6, 5}, at::kInt), t.angle}),
                              "'targets.distance' and 'targets.angle' must have the size of 'targets.seg'");
  BOUNDSEG_EXPECT_THROWS_WITH(F::segfix_loss(m, d, {t.seg, at::Tensor(), t.angle}),
                              "'targets.distance' must be a defined tensor");
}

// Golden: openseg SegFixLoss(eval) on saved 1/4-resolution logits with the semantic targets of the same scene;
// tolerance loss rel 1e-6, gradients abs 1e-7 (MANIFEST.md segfix_loss).
TEST(GoldenSegFixLoss, ValueAndGradientsMatchReference) {
  const auto dir = testing::golden_dir("segfix");
  testing::CaseCount cases("segfix loss files");
  for (const auto& case_file : testing::golden_files("segfix", "loss", ".safetensors")) {
    const std::string prefix = "segfix_loss_";
    const std::string& name = case_file.stem;
    const std::filesystem::path& file = case_file.path;
    ASSERT_EQ(name.rfind(prefix, 0), 0u) << file;
    const std::string scene = name.substr(prefix.size());
    SCOPED_TRACE(scene);
    const auto golden = io::read_safetensors(file).tensors;
    const auto targets = io::read_safetensors(dir / "targets" / (scene + "_semantic.safetensors")).tensors;
    const SegFixTargets t{targets.at("seg").unsqueeze(0).to(at::kLong), targets.at("distance").unsqueeze(0),
                          targets.at("angle").unsqueeze(0)};
    const at::Tensor mask = golden.at("mask_logits").clone().set_requires_grad(true);
    const at::Tensor dirs = golden.at("dir_logits").clone().set_requires_grad(true);
    const at::Tensor loss = F::segfix_loss(mask, dirs, t);
    loss.backward();
    const double got = loss.item<double>(), want = golden.at("loss").item<double>();
    const double mask_err = max_abs(mask.grad() - golden.at("grad_mask_logits"));
    const double dir_err = max_abs(dirs.grad() - golden.at("grad_dir_logits"));
    std::printf("  %s: loss %.9g vs %.9g (rel %.3g); grad max err mask %.3g, dir %.3g\n", scene.c_str(), got, want,
                std::fabs(got - want) / std::fabs(want), mask_err, dir_err);
    EXPECT_LE(std::fabs(got - want), 1e-6 * std::fabs(want));
    EXPECT_LE(mask_err, 1e-7);
    EXPECT_LE(dir_err, 1e-7);
    EXPECT_GT(max_abs(golden.at("grad_dir_logits")), 0.0);  // the direction term is active in the case
    cases.add();
  }
}

}  // namespace
}  // namespace boundseg
