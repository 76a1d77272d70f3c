// OCR losses (hrnet_ocr.md §4): openseg goldens, hand-computed cases, float64 finite differences, errors.
#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <functional>
#include <map>
#include <optional>
#include <regex>
#include <string>
#include <vector>

#include "boundseg/io/safetensors.h"
#include "boundseg/losses/ocr_losses.h"
#include "support/golden.h"

namespace boundseg {
namespace {

namespace F = losses::functional;
using losses::AuxCELossOptions;
using losses::AuxOhemCELossOptions;
using losses::OhemCrossEntropyOptions;
using losses::WeightedCrossEntropyOptions;

double max_abs(const at::Tensor& t) { return t.abs().max().item<double>(); }

at::Generator seeded(uint64_t seed) { return at::make_generator<at::CPUGeneratorImpl>(seed); }

std::vector<double> cityscapes() { return losses::cityscapes_class_weights(); }

// Logits (1, 2, 1, P) whose class-0 probability at pixel i is probs[i] (class 1 has logit 0), and a target of zeros.
std::pair<at::Tensor, at::Tensor> binary_case(const std::vector<double>& probs) {
  const int64_t p = static_cast<int64_t>(probs.size());
  at::Tensor logits = at::zeros({1, 2, 1, p}, at::kDouble);
  for (int64_t i = 0; i < p; ++i) logits[0][0][0][i] = std::log(probs[i] / (1.0 - probs[i]));
  return {logits, at::zeros({1, 1, p}, at::kLong)};
}

// Central-difference gradient of scalar `f` at `x` (float64), element by element.
at::Tensor numeric_gradient(const std::function<at::Tensor(const at::Tensor&)>& f, const at::Tensor& x, double eps) {
  at::Tensor grad = at::zeros_like(x);
  at::Tensor flat = x.detach().clone();
  at::Tensor view = flat.view({-1});
  for (int64_t i = 0; i < view.numel(); ++i) {
    const double v = view[i].item<double>();
    view[i] = v + eps;
    const double up = f(flat).item<double>();
    view[i] = v - eps;
    const double down = f(flat).item<double>();
    view[i] = v;
    grad.view({-1})[i] = (up - down) / (2.0 * eps);
  }
  return grad;
}

at::Tensor autograd_gradient(const std::function<at::Tensor(const at::Tensor&)>& f, const at::Tensor& x) {
  at::Tensor leaf = x.detach().clone().set_requires_grad(true);
  f(leaf).backward();
  return leaf.grad();
}

// ---------------------------------------------------------------------------------------------------------------
// Goldens: openseg FSAuxCELoss / FSAuxOhemCELoss on saved logits (shared/golden/models/MANIFEST.md).

// Every models/*_losses.safetensors holds the inputs and, per loss variant V, loss_V, grad_aux_V and grad_seg_V. V is
// openseg's loss_type (fs_auxce, fs_auxohemce) with an optional _minkeep<N> (OHEM's min_kept; else the config's).
struct LossVariant {
  std::string name, type;
  std::optional<int64_t> min_kept;
};

std::optional<LossVariant> parse_variant(const std::string& name) {
  std::smatch m;
  if (!std::regex_match(name, m, std::regex("(fs_auxce|fs_auxohemce)(_minkeep([0-9]+))?"))) return std::nullopt;
  LossVariant v{name, m[1].str(), std::nullopt};
  if (m[3].matched) v.min_kept = std::stoll(m[3].str());
  return v;
}

class GoldenOcrLosses : public ::testing::Test {
 protected:
  struct File {
    std::string stem;
    std::map<std::string, at::Tensor> tensors;
    std::vector<LossVariant> variants;
  };
  void SetUp() override {
    for (const auto& file : testing::golden_files("models", "", "_losses.safetensors")) {
      // Named as the manifest section that describes it: the file name less ".safetensors".
      File f{file.path.stem().string(), io::read_safetensors(file.path).tensors, {}};
      for (const auto& [name, tensor] : f.tensors) {
        if (name.rfind("loss_", 0) != 0) continue;
        const auto variant = parse_variant(name.substr(5));
        if (variant)
          f.variants.push_back(*variant);
        else
          unknown_.push_back(f.stem + ": " + name);
      }
      files_.push_back(std::move(f));
    }
  }
  static at::Tensor get(const File& file, const std::string& name) {
    const auto it = file.tensors.find(name);
    if (it == file.tensors.end()) ADD_FAILURE() << file.stem << ": golden tensor '" << name << "' missing";
    return it == file.tensors.end() ? at::Tensor() : it->second;
  }
  // The value the manifest prints for `variant` in the file's section ("Values: fs_auxce 8.6353188, ...").
  static double manifest_value(const File& file, const std::string& variant) {
    const std::string text = testing::manifest_section("models", file.stem);
    std::smatch m;
    if (!std::regex_search(text, m, std::regex("(^|[^\\w])" + variant + " ([0-9.eE+-]+)"))) {
      ADD_FAILURE() << "models/MANIFEST.md prints no value of " << variant << " in section '### " << file.stem << "'";
      return NAN;
    }
    return std::stod(m[2].str());
  }
  using Loss = std::function<at::Tensor(const at::Tensor&, const at::Tensor&, const at::Tensor&)>;
  // Checks every variant of every file that `pick` selects, with the loss `make` builds for it; returns how many.
  // Loss value within 1e-6 relative, gradients within 1e-6 * max|grad| absolute (MANIFEST.md).
  int64_t check_variants(const std::function<bool(const LossVariant&)>& pick,
                         const std::function<Loss(const LossVariant&)>& make) {
    int64_t checked = 0;
    for (const File& file : files_)
      for (const LossVariant& v : file.variants)
        if (pick(v)) {
          check_variant(file, v.name, make(v));
          ++checked;
        }
    return checked;
  }
  void check_variant(const File& file, const std::string& variant, const Loss& loss) {
    SCOPED_TRACE(file.stem + ": " + variant);
    const at::Tensor aux_in = get(file, "aux_logits"), seg_in = get(file, "seg_logits"), target = get(file, "target");
    const at::Tensor expected_loss = get(file, "loss_" + variant);
    const at::Tensor expected_aux = get(file, "grad_aux_" + variant), expected_seg = get(file, "grad_seg_" + variant);
    ASSERT_TRUE(aux_in.defined() && seg_in.defined() && target.defined() && expected_loss.defined() &&
                expected_aux.defined() && expected_seg.defined());
    const at::Tensor aux = aux_in.clone().set_requires_grad(true), seg = seg_in.clone().set_requires_grad(true);
    ASSERT_EQ(aux.scalar_type(), at::kFloat);

    const at::Tensor value = loss(aux, seg, target);
    ASSERT_EQ(value.dim(), 0);
    value.backward();
    const double got = value.item<double>(), want = expected_loss.item<double>();
    const double rel = std::fabs(got - want) / std::fabs(want);
    const double aux_err = max_abs(aux.grad() - expected_aux), aux_scale = max_abs(expected_aux);
    const double seg_err = max_abs(seg.grad() - expected_seg), seg_scale = max_abs(expected_seg);
    std::printf("  %s: loss %.9g vs %.9g (rel %.3g); grad aux max err %.3g (%.3g of max), seg %.3g (%.3g of max)\n",
                variant.c_str(), got, want, rel, aux_err, aux_err / aux_scale, seg_err, seg_err / seg_scale);
    EXPECT_LE(rel, 1e-6) << got << " vs " << want;
    EXPECT_LE(aux_err, 1e-6 * aux_scale);
    EXPECT_LE(seg_err, 1e-6 * seg_scale);
    // The file and the manifest's printed value (8 significant digits) agree.
    const double printed = manifest_value(file, variant);
    EXPECT_NEAR(want, printed, 1e-6 * printed);
  }
  std::vector<File> files_;
  std::vector<std::string> unknown_;
};

TEST_F(GoldenOcrLosses, EveryStoredVariantIsOneTheTestsCheck) {
  testing::CaseCount cases("loss variants of models/*_losses.safetensors");
  for (const File& file : files_) cases.add(static_cast<int64_t>(file.variants.size()));
  cases.add(static_cast<int64_t>(unknown_.size()));
  EXPECT_TRUE(unknown_.empty()) << "unknown loss variant " << unknown_.front();
}

TEST_F(GoldenOcrLosses, FsAuxCeMatchesReference) {
  const auto options = AuxCELossOptions().ce(WeightedCrossEntropyOptions().class_weights(cityscapes()));
  testing::CaseCount cases("fs_auxce variants");
  cases.add(check_variants([](const LossVariant& v) { return v.type == "fs_auxce" && !v.min_kept; },
                           [&](const LossVariant&) -> Loss {
                             return [&](const at::Tensor& a, const at::Tensor& s, const at::Tensor& t) {
                               return F::aux_ce_loss(a, s, t, options);
                             };
                           }));
}

TEST_F(GoldenOcrLosses, FsAuxOhemCeMatchesReference) {
  // The config's min_kept 100000 exceeds the pixel count: the threshold is max(largest valid p, 0.9).
  const auto options = AuxOhemCELossOptions().ohem(OhemCrossEntropyOptions().class_weights(cityscapes()));
  testing::CaseCount cases("fs_auxohemce variants with the config's min_kept");
  cases.add(check_variants([](const LossVariant& v) { return v.type == "fs_auxohemce" && !v.min_kept; },
                           [&](const LossVariant&) -> Loss {
                             return [&](const at::Tensor& a, const at::Tensor& s, const at::Tensor& t) {
                               return F::aux_ohem_ce_loss(a, s, t, options);
                             };
                           }));
}

TEST_F(GoldenOcrLosses, FsAuxOhemCeWithMinKeptMatchesReference) {
  // A min_kept below the pixel count: the threshold comes from the sorted target-class probabilities. Through the
  // module this time.
  testing::CaseCount cases("fs_auxohemce_minkeep<N> variants");
  cases.add(check_variants([](const LossVariant& v) { return v.type == "fs_auxohemce" && v.min_kept; },
                           [&](const LossVariant& v) -> Loss {
                             losses::AuxOhemCELoss module(AuxOhemCELossOptions().ohem(
                                 OhemCrossEntropyOptions().class_weights(cityscapes()).min_kept(*v.min_kept)));
                             return [module](const at::Tensor& a, const at::Tensor& s, const at::Tensor& t) mutable {
                               return module(a, s, t);
                             };
                           }));
}

TEST_F(GoldenOcrLosses, PixelZeroQuirkIsExercised) {
  // The golden targets ignore pixel (0, 0, 0); counting only truly valid pixels changes the loss beyond tolerance.
  testing::CaseCount cases("files with an fs_auxohemce variant");
  for (const File& file : files_) {
    if (!file.tensors.count("loss_fs_auxohemce")) continue;
    SCOPED_TRACE(file.stem);
    const at::Tensor target = get(file, "target");
    ASSERT_EQ(target[0][0][0].item<int64_t>(), -1);
    auto options = AuxOhemCELossOptions().ohem(OhemCrossEntropyOptions().class_weights(cityscapes()));
    options.ohem().strict_valid(true);
    const double strict =
        F::aux_ohem_ce_loss(get(file, "aux_logits"), get(file, "seg_logits"), target, options).item<double>();
    const double want = get(file, "loss_fs_auxohemce").item<double>();
    EXPECT_GT(std::fabs(strict - want), 1e-6 * want);
    cases.add();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Hand-checked values.

TEST(OcrLosses, UniformLogitsGiveLogK) {
  auto gen = seeded(11);
  const at::Tensor logits = at::zeros({2, 5, 3, 4}, at::kDouble);
  at::Tensor target = at::randint(0, 5, {2, 3, 4}, gen, at::kLong);
  target[0][1][2] = -1;
  target[1][0][0] = -1;
  EXPECT_NEAR(F::weighted_cross_entropy(logits, target).item<double>(), std::log(5.0), 1e-12);
  // With weights the weighted mean of a constant is still that constant.
  const auto weights = std::vector<double>{0.5, 1.0, 2.0, 3.0, 0.25};
  const auto weighted = WeightedCrossEntropyOptions().class_weights(weights);
  EXPECT_NEAR(F::weighted_cross_entropy(logits, target, weighted).item<double>(), std::log(5.0), 1e-12);
  // OHEM: every p = 0.2 < 0.9, so all valid pixels are kept; unweighted mean log 5.
  EXPECT_NEAR(F::ohem_cross_entropy(logits, target, OhemCrossEntropyOptions().strict_valid(true)).item<double>(),
              std::log(5.0), 1e-12);
}

TEST(OcrLosses, WeightedCrossEntropyIsWeightedMeanOverNonIgnored) {
  // Two classes, three pixels: p(target) = 0.8 (class 0), 0.3 (class 1), ignored.
  at::Tensor logits = at::zeros({1, 2, 1, 3}, at::kDouble);
  logits[0][0][0][0] = std::log(0.8 / 0.2);
  logits[0][1][0][1] = std::log(0.3 / 0.7);
  logits[0][0][0][2] = 7.0;
  const at::Tensor target = at::tensor({0, 1, -1}, at::kLong).view({1, 1, 3});
  const double w0 = 2.0, w1 = 0.5;
  const double expected = (w0 * -std::log(0.8) + w1 * -std::log(0.3)) / (w0 + w1);
  const double got =
      F::weighted_cross_entropy(logits, target, WeightedCrossEntropyOptions().class_weights({w0, w1})).item<double>();
  EXPECT_NEAR(got, expected, 1e-12);
  // Another ignore index: the third pixel's label 1 now counts, -1 would be out of range.
  const at::Tensor target255 = at::tensor({0, 1, 255}, at::kLong).view({1, 1, 3});
  const auto ignore255 = WeightedCrossEntropyOptions().ignore_index(255);
  EXPECT_NEAR(F::weighted_cross_entropy(logits, target255, ignore255).item<double>(),
              (-std::log(0.8) - std::log(0.3)) / 2.0, 1e-12);
}

TEST(OcrLosses, OhemThresholdFollowsMinKeptAndThresh) {
  const auto [logits, target] = binary_case({0.6, 0.2, 0.97, 0.4, 0.95});
  const auto nll = [](std::vector<double> ps) {
    double s = 0.0;
    for (double p : ps) s -= std::log(p);
    return s / static_cast<double>(ps.size());
  };
  // min_kept >= n: thr = max(p_sorted[n - 1], 0.9) = 0.97, strictly below keeps four pixels.
  EXPECT_NEAR(F::ohem_cross_entropy(logits, target).item<double>(), nll({0.6, 0.2, 0.4, 0.95}), 1e-12);
  // min_kept 2: thr = max(p_sorted[2] = 0.6, 0.9) = 0.9.
  EXPECT_NEAR(F::ohem_cross_entropy(logits, target, OhemCrossEntropyOptions().min_kept(2)).item<double>(),
              nll({0.6, 0.2, 0.4}), 1e-12);
  // min_kept 2, thresh 0.3: thr = 0.6 and p = 0.6 itself is not below it.
  EXPECT_NEAR(F::ohem_cross_entropy(logits, target, OhemCrossEntropyOptions().min_kept(2).thresh(0.3)).item<double>(),
              nll({0.2, 0.4}), 1e-12);
}

TEST(OcrLosses, OhemIsPlainMeanOfWeightedLosses) {
  // Uniform logits, all targets class 1 with weight 3: OHEM gives 3 log 2 (no division by Σ w), CE gives log 2.
  const at::Tensor logits = at::zeros({1, 2, 2, 2}, at::kDouble);
  const at::Tensor target = at::ones({1, 2, 2}, at::kLong);
  EXPECT_NEAR(F::ohem_cross_entropy(logits, target, OhemCrossEntropyOptions().class_weights({2.0, 3.0})).item<double>(),
              3.0 * std::log(2.0), 1e-12);
  const auto weighted = WeightedCrossEntropyOptions().class_weights({2.0, 3.0});
  EXPECT_NEAR(F::weighted_cross_entropy(logits, target, weighted).item<double>(), std::log(2.0), 1e-12);
}

TEST(OcrLosses, OhemCountsIgnoredPixelZeroUnlessStrict) {
  // Pixel 0 is ignored and its class-0 probability 0.5 is below the threshold: it joins the mean with loss 0.
  auto [logits, target] = binary_case({0.5, 0.2, 0.4});
  target[0][0][0] = -1;
  const double others = -std::log(0.2) - std::log(0.4);
  EXPECT_NEAR(F::ohem_cross_entropy(logits, target).item<double>(), others / 3.0, 1e-12);
  EXPECT_NEAR(F::ohem_cross_entropy(logits, target, OhemCrossEntropyOptions().strict_valid(true)).item<double>(),
              others / 2.0, 1e-12);
  // Another ignored pixel is never counted.
  target[0][0][1] = -1;
  EXPECT_NEAR(F::ohem_cross_entropy(logits, target).item<double>(), -std::log(0.4) / 2.0, 1e-12);
}

TEST(OcrLosses, EverythingIgnoredGivesNaNLikeTorch) {
  const at::Tensor logits = at::zeros({1, 3, 2, 2}, at::kDouble);
  const at::Tensor target = at::full({1, 2, 2}, -1, at::kLong);
  EXPECT_TRUE(std::isnan(F::weighted_cross_entropy(logits, target).item<double>()));
  EXPECT_TRUE(std::isnan(
      F::ohem_cross_entropy(logits, target, OhemCrossEntropyOptions().strict_valid(true)).item<double>()));
  // The pixel-0 quirk keeps one valid pixel (p = 1/3 < 0.9) with loss 0.
  EXPECT_EQ(F::ohem_cross_entropy(logits, target).item<double>(), 0.0);
}

TEST(OcrLosses, AuxLossesCombineSegAndAuxTerms) {
  auto gen = seeded(12);
  const at::Tensor aux = at::randn({2, 4, 3, 5}, gen, at::kDouble), seg = at::randn({2, 4, 3, 5}, gen, at::kDouble);
  at::Tensor target = at::randint(0, 4, {2, 3, 5}, gen, at::kLong);
  target[1][2][4] = -1;
  const std::vector<double> w = {1.5, 0.5, 1.0, 2.0};
  const auto ce = WeightedCrossEntropyOptions().class_weights(w);
  const double ce_seg = F::weighted_cross_entropy(seg, target, ce).item<double>();
  const double ce_aux = F::weighted_cross_entropy(aux, target, ce).item<double>();
  EXPECT_NEAR(F::aux_ce_loss(aux, seg, target, AuxCELossOptions().ce(ce)).item<double>(), ce_seg + 0.4 * ce_aux, 1e-12);
  const auto reweighted = AuxCELossOptions().ce(ce).seg_weight(0.5).aux_weight(2.0);
  EXPECT_NEAR(F::aux_ce_loss(aux, seg, target, reweighted).item<double>(), 0.5 * ce_seg + 2.0 * ce_aux, 1e-12);
  const auto ohem = OhemCrossEntropyOptions().class_weights(w).min_kept(7);
  const double ohem_seg = F::ohem_cross_entropy(seg, target, ohem).item<double>();
  EXPECT_NEAR(F::aux_ohem_ce_loss(aux, seg, target, AuxOhemCELossOptions().ohem(ohem)).item<double>(),
              ohem_seg + 0.4 * ce_aux, 1e-12);
}

TEST(OcrLosses, NonContiguousInputsGiveTheSameLoss) {
  auto gen = seeded(13);
  // Transposed storage must not change which pixel is "pixel 0" or the flat order used by OHEM.
  const at::Tensor logits_t = at::randn({2, 3, 5, 4}, gen, at::kDouble);
  const at::Tensor target_t = at::randint(0, 3, {2, 5, 4}, gen, at::kLong);
  target_t[0][0][0] = -1;
  const at::Tensor logits = logits_t.transpose(2, 3), target = target_t.transpose(1, 2);
  ASSERT_FALSE(logits.is_contiguous());
  ASSERT_FALSE(target.is_contiguous());
  for (int64_t min_kept : {3, 100}) {
    const auto options = OhemCrossEntropyOptions().min_kept(min_kept).class_weights({1.0, 2.0, 0.5});
    EXPECT_EQ(F::ohem_cross_entropy(logits, target, options).item<double>(),
              F::ohem_cross_entropy(logits.contiguous(), target.contiguous(), options).item<double>());
  }
  EXPECT_NEAR(F::weighted_cross_entropy(logits, target).item<double>(),
              F::weighted_cross_entropy(logits.contiguous(), target.contiguous()).item<double>(), 1e-14);
}

TEST(OcrLosses, ModulesMatchFunctionals) {
  auto gen = seeded(14);
  const at::Tensor aux = at::randn({1, 3, 4, 4}, gen), seg = at::randn({1, 3, 4, 4}, gen);
  const at::Tensor target = at::randint(0, 3, {1, 4, 4}, gen, at::kLong);
  const auto ohem = OhemCrossEntropyOptions().min_kept(5);
  losses::WeightedCrossEntropyLoss ce_module;
  losses::OhemCrossEntropyLoss ohem_module(ohem);
  losses::AuxCELoss aux_module;
  EXPECT_EQ(ce_module(seg, target).item<float>(), F::weighted_cross_entropy(seg, target).item<float>());
  EXPECT_EQ(ohem_module(seg, target).item<float>(), F::ohem_cross_entropy(seg, target, ohem).item<float>());
  EXPECT_EQ(aux_module(aux, seg, target).item<float>(), F::aux_ce_loss(aux, seg, target).item<float>());
}

// ---------------------------------------------------------------------------------------------------------------
// Float64 finite differences.

TEST(OcrLosses, WeightedCrossEntropyGradientMatchesFiniteDifferences) {
  auto gen = seeded(15);
  at::Tensor target = at::tensor({0, 2, 1, 1, -1, 0, 2, 2, 0, 1, 1, 0}, at::kLong).view({2, 2, 3});
  const at::Tensor x = at::randn({2, 3, 2, 3}, gen, at::kDouble);
  const auto options = WeightedCrossEntropyOptions().class_weights({0.7, 1.3, 1.1});
  const auto f = [&](const at::Tensor& logits) { return F::weighted_cross_entropy(logits, target, options); };
  const at::Tensor analytic = autograd_gradient(f, x), numeric = numeric_gradient(f, x, 1e-6);
  EXPECT_GT(max_abs(analytic), 1e-3);
  EXPECT_LE(max_abs(analytic - numeric), 1e-8) << "analytic\n" << analytic << "\nnumeric\n" << numeric;
  // The ignored pixel (0, 1, 1) gets no gradient.
  EXPECT_EQ(max_abs(analytic.select(0, 0).select(1, 1).select(1, 1)), 0.0);
}

TEST(OcrLosses, OhemGradientMatchesFiniteDifferencesAwayFromTheThreshold) {
  auto gen = seeded(16);
  // min_kept 2 puts the threshold at thresh = 0.9 (p_sorted[2] is lower); pixel (0, 1, 1) is confidently right
  // (p > 0.99) and drops out. No probability lies near 0.9, so the selection is fixed under the perturbations.
  const at::Tensor target = at::tensor({0, 2, 1, 1, 0, 0, 2, 1, 0, 1, 2, 0}, at::kLong).view({2, 2, 3});
  at::Tensor x = at::randn({2, 3, 2, 3}, gen, at::kDouble).mul(0.5);
  x[0][0][1][1] = 8.0;  // target class 0 at (0, 1, 1)
  const auto options = OhemCrossEntropyOptions().class_weights({0.7, 1.3, 1.1}).min_kept(2);
  const at::Tensor p = at::softmax(x, 1).gather(1, target.unsqueeze(1)).squeeze(1);
  ASSERT_GT(p.sub(0.9).abs().min().item<double>(), 1e-3) << p;
  ASSERT_LT(std::get<0>(at::sort(p.flatten()))[2].item<double>(), 0.9 - 1e-3);
  ASSERT_GT(p[0][1][1].item<double>(), 0.99);

  const auto f = [&](const at::Tensor& logits) { return F::ohem_cross_entropy(logits, target, options); };
  const at::Tensor analytic = autograd_gradient(f, x), numeric = numeric_gradient(f, x, 1e-6);
  EXPECT_GT(max_abs(analytic), 1e-3);
  EXPECT_LE(max_abs(analytic - numeric), 1e-8) << "analytic\n" << analytic << "\nnumeric\n" << numeric;
  // The dropped pixel contributes nothing.
  EXPECT_EQ(max_abs(analytic.select(0, 0).select(1, 1).select(1, 1)), 0.0);
}

// ---------------------------------------------------------------------------------------------------------------
// Errors.

TEST(OcrLosses, RejectsBadTargets) {
  const at::Tensor logits = at::zeros({2, 3, 4, 5});
  BOUNDSEG_EXPECT_THROWS_WITH(F::weighted_cross_entropy(logits, at::zeros({2, 4, 5}, at::kInt)),
                              "boundseg weighted_cross_entropy: 'target' must be an int64 tensor (N, H, W), but got a "
                              "3-D Int tensor [2, 4, 5].");
  BOUNDSEG_EXPECT_THROWS_WITH(F::ohem_cross_entropy(logits, at::zeros({2, 4, 6}, at::kLong)),
                              "boundseg ohem_cross_entropy: 'target' must have the (N, H, W) of 'logits' ([2, 4, 5])");
  BOUNDSEG_EXPECT_THROWS_WITH(F::weighted_cross_entropy(logits, at::zeros({2, 1, 4, 5}, at::kLong)),
                              "'target' must be a 3-D tensor (N, H, W), but got a 4-D Long tensor [2, 1, 4, 5].");
  at::Tensor target = at::zeros({2, 4, 5}, at::kLong);
  target[1][3][4] = 3;
  BOUNDSEG_EXPECT_THROWS_WITH(F::weighted_cross_entropy(logits, target),
                              "'target' values must be in [0, 3) or equal the ignore_index -1, but got 3.");
  target[1][3][4] = -2;
  BOUNDSEG_EXPECT_THROWS_WITH(F::ohem_cross_entropy(logits, target), "but got -2.");
  // With ignore_index 255, -1 is an ordinary out-of-range label.
  target[1][3][4] = -1;
  const auto ignore255 = WeightedCrossEntropyOptions().ignore_index(255);
  BOUNDSEG_EXPECT_THROWS_WITH(F::weighted_cross_entropy(logits, target, ignore255),
                              "or equal the ignore_index 255, but got -1.");
}

TEST(OcrLosses, RejectsBadLogits) {
  const at::Tensor target = at::zeros({2, 4, 5}, at::kLong);
  BOUNDSEG_EXPECT_THROWS_WITH(F::weighted_cross_entropy(at::zeros({2, 4, 5}), target),
                              "'logits' must be a 4-D tensor (N, K, H, W), but got a 3-D Float tensor [2, 4, 5].");
  BOUNDSEG_EXPECT_THROWS_WITH(F::weighted_cross_entropy(at::zeros({2, 3, 4, 5}, at::kLong), target),
                              "'logits' must be a floating point tensor");
  BOUNDSEG_EXPECT_THROWS_WITH(
      F::weighted_cross_entropy(at::zeros({2, 18, 4, 5}), target,
                                WeightedCrossEntropyOptions().class_weights(cityscapes())),
      "'logits' must have one channel per class weight (K = 19), but got a 4-D Float tensor [2, 18, 4, 5].");
  BOUNDSEG_EXPECT_THROWS_WITH(F::aux_ce_loss(at::zeros({2, 3, 4, 4}), at::zeros({2, 3, 4, 5}), target),
                              "boundseg aux_ce_loss: 'aux_logits' must have the shape of 'seg_logits'");
  const at::Tensor one_image = target.narrow(0, 0, 1);
  BOUNDSEG_EXPECT_THROWS_WITH(F::aux_ohem_ce_loss(at::zeros({2, 3, 4, 5}), at::zeros({2, 3, 4, 5}), one_image),
                              "boundseg aux_ohem_ce_loss: 'target' must have the (N, H, W) of 'seg_logits'");
  BOUNDSEG_EXPECT_THROWS_WITH(
      F::aux_ce_loss(at::zeros({2, 3, 4, 5}, at::kDouble), at::zeros({2, 3, 4, 5}), target),
      "'aux_logits' must have the dtype of 'seg_logits' (Float)");
}

TEST(OcrLosses, RejectsBadOptions) {
  const at::Tensor logits = at::zeros({1, 2, 2, 2});
  const at::Tensor target = at::zeros({1, 2, 2}, at::kLong);
  BOUNDSEG_EXPECT_THROWS_WITH(F::ohem_cross_entropy(logits, target, OhemCrossEntropyOptions().thresh(1.5)),
                              "boundseg ohem_cross_entropy: option 'thresh' must be in [0, 1], but got 1.5.");
  BOUNDSEG_EXPECT_THROWS_WITH(losses::OhemCrossEntropyLoss(OhemCrossEntropyOptions().min_kept(0)),
                              "boundseg OhemCrossEntropyLoss: option 'min_kept' must be >= 1, but got 0.");
  BOUNDSEG_EXPECT_THROWS_WITH(
      F::weighted_cross_entropy(logits, target, WeightedCrossEntropyOptions().class_weights({1.0, -0.5})),
      "option 'class_weights[1]' must be finite and >= 0, but got -0.5.");
  BOUNDSEG_EXPECT_THROWS_WITH(losses::AuxOhemCELoss(AuxOhemCELossOptions().aux_weight(NAN)),
                              "boundseg AuxOhemCELoss: option 'aux_weight' must be finite and >= 0, but got nan.");
}

}  // namespace
}  // namespace boundseg
