// DenseCRF inference: a dense-matrix mean-field reference, limiting cases, denoising, and the CLI end to end.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "boundseg/data/synthetic.h"
#include "boundseg/io/png.h"
#include "boundseg/io/safetensors.h"
#include "boundseg/refine/dense_crf.h"
#include "support/cli.h"
#include "support/golden.h"
#include "support/scene_tensors.h"

namespace {

using boundseg::refine::DenseCrfOptions;

TEST(DenseCrf, MatchesADenseMatrixMeanField) {
  const int64_t h = 16, w = 18, K = 3, P = h * w;
  const at::Tensor image = boundseg::testing::scene_image_rgb(5, h, w);
  const at::Tensor probs = at::softmax(at::randn({K, h, w}) * 2, 0);
  const auto options = DenseCrfOptions().iterations(4).gaussian_sigma_xy(2).bilateral_sigma_xy(6).bilateral_sigma_rgb(20);
  const at::Tensor q = boundseg::refine::dense_crf(image, probs, options);

  // The same kernels as dense matrices (column j = A e_j), then mean field in double.
  const at::Tensor bilateral = boundseg::ops::bilateral_features(image, 20, 6);
  const at::Tensor xy = (bilateral.slice(1, 0, 2) * (6.0 / 2.0)).contiguous();
  const at::Tensor eye = at::eye(P, at::kFloat);
  const at::Tensor Ag = boundseg::ops::PermutohedralLattice(xy).filter(eye).to(at::kDouble);
  const at::Tensor Ab = boundseg::ops::PermutohedralLattice(bilateral).filter(eye).to(at::kDouble);
  const at::Tensor ng = at::rsqrt(Ag.sum(1, true) + 1e-20), nb = at::rsqrt(Ab.sum(1, true) + 1e-20);
  const at::Tensor log_unary = at::log(probs.reshape({K, P}).t().to(at::kDouble).clamp_min(1e-8));
  at::Tensor expected = probs.reshape({K, P}).t().to(at::kDouble);
  for (int it = 0; it < 4; ++it) {
    const at::Tensor message = 3.0 * ng * at::matmul(Ag, ng * expected) + 10.0 * nb * at::matmul(Ab, nb * expected);
    expected = at::softmax(log_unary + message, 1);
  }
  const at::Tensor ours = q.reshape({K, P}).t().to(at::kDouble);
  EXPECT_LE((ours - expected).abs().max().item<double>(), 1e-5);
  EXPECT_LE((q.sum(0) - 1).abs().max().item<float>(), 1e-5f);
}

TEST(DenseCrf, ZeroWeightsReturnTheUnary) {
  const at::Tensor image = boundseg::testing::scene_image_rgb(2, 20, 24);
  const at::Tensor probs = at::softmax(at::randn({4, 20, 24}), 0);
  const at::Tensor q = boundseg::refine::dense_crf(image, probs, DenseCrfOptions().gaussian_weight(0).bilateral_weight(0));
  EXPECT_TRUE(at::allclose(q, probs, 1e-5, 1e-6));
}

TEST(DenseCrf, RemovesLabelNoiseAlongColourEdges) {
  const auto scene = boundseg::data::make_synthetic_scene(4, 96, 128);
  const at::Tensor truth = at::from_blob(scene.label_ids.data, {96, 128}, at::kByte).to(at::kLong);
  const auto [classes, dense] = at::_unique(truth, true, true);
  const int64_t K = classes.size(0);
  const at::Tensor flip = at::rand({96, 128}) < 0.3;
  const at::Tensor noisy = at::where(flip, at::randint(K, {96, 128}, at::kLong), dense.reshape({96, 128}));
  const at::Tensor unary = boundseg::refine::probabilities_from_labels(noisy, K, boundseg::refine::LabelUnaryOptions().confidence(0.6));
  const at::Tensor refined = boundseg::refine::dense_crf(boundseg::data::rgb_float_tensor(scene.image), unary,
                                                         DenseCrfOptions().iterations(10));
  const auto accuracy = [&](const at::Tensor& labels) {
    return (labels == dense.reshape({96, 128})).to(at::kDouble).mean().item<double>();
  };
  const double before = accuracy(noisy), after = accuracy(refined.argmax(0));
  EXPECT_LT(before, 0.8);
  EXPECT_GT(after, 0.93) << "before " << before;
}

TEST(DenseCrf, ProbabilitiesFromLabels) {
  const at::Tensor labels = at::tensor({0, 2, 255, 7}, at::kLong).reshape({2, 2});
  const at::Tensor p = boundseg::refine::probabilities_from_labels(labels, 3, boundseg::refine::LabelUnaryOptions().confidence(0.8));
  EXPECT_FLOAT_EQ(p[0][0][0].item<float>(), 0.8f);
  EXPECT_FLOAT_EQ(p[1][0][0].item<float>(), 0.1f);
  EXPECT_FLOAT_EQ(p[2][0][1].item<float>(), 0.8f);
  for (int k = 0; k < 3; ++k) {
    EXPECT_FLOAT_EQ(p[k][1][0].item<float>(), 1.0f / 3);  // ignore
    EXPECT_FLOAT_EQ(p[k][1][1].item<float>(), 1.0f / 3);  // out of range
  }
  BOUNDSEG_EXPECT_THROWS_WITH(boundseg::refine::probabilities_from_labels(labels, 3, boundseg::refine::LabelUnaryOptions().confidence(1.0)), "'confidence' must be in");
}

TEST(CliRefine, CrfRefinesSyntheticPredictionsEndToEnd) {
  namespace fs = std::filesystem;
  boundseg::testing::TempDir tmp;
  const fs::path data = tmp.path() / "data", out = tmp.path() / "refined";
  ASSERT_EQ(boundseg::run_cli("synth --out " + data.string() + " --n 2 --size 96x160").exit_code, 0);
  const fs::path images = data / "leftImg8bit" / "val", preds = data / "pred" / "semantic";
  const auto r = boundseg::run_cli("refine crf --images " + images.string() + " --probs-or-labels " + preds.string() +
                                   " --num-classes 34 --confidence 0.8 --iterations 5 --out " + out.string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  int checked = 0;
  for (const auto& entry : fs::recursive_directory_iterator(images)) {
    if (!entry.is_regular_file()) continue;
    const std::string stem = entry.path().stem().string();
    const cv::Mat refined = boundseg::io::read_label_png(out / (stem + ".png"));
    const cv::Mat input = boundseg::io::read_label_png(preds / (stem + ".png"));
    ASSERT_EQ(refined.size(), input.size());
    EXPECT_GT(boundseg::testing::count_mismatches(refined, input), 0) << "the CRF changed nothing";
    EXPECT_LT(boundseg::testing::count_mismatches(refined, input), refined.total() / 5) << "the CRF rewrote the map";
    ++checked;
  }
  EXPECT_EQ(checked, 2);

  // Softmax probabilities as <stem>.safetensors: a confident, correct unary survives the CRF unchanged.
  const fs::path probs_dir = tmp.path() / "probs", image_dir = tmp.path() / "one";
  fs::create_directories(probs_dir);
  fs::create_directories(image_dir);
  const auto scene = boundseg::data::make_synthetic_scene(9, 64, 96);
  boundseg::io::write_png(image_dir / "scene.png", scene.image);
  const at::Tensor truth = at::from_blob(scene.label_ids.data, {64, 96}, at::kByte).to(at::kLong);
  const at::Tensor probs = boundseg::refine::probabilities_from_labels(truth, 34, boundseg::refine::LabelUnaryOptions().confidence(0.99));
  boundseg::io::write_safetensors(probs_dir / "scene.safetensors", {{"probs", probs}});
  const auto from_probs = boundseg::run_cli("refine crf --quiet --images " + image_dir.string() +
                                            " --probs-or-labels " + probs_dir.string() + " --out " +
                                            (tmp.path() / "from_probs").string());
  ASSERT_EQ(from_probs.exit_code, 0) << from_probs.output;
  const cv::Mat refined = boundseg::io::read_label_png(tmp.path() / "from_probs" / "scene.png");
  EXPECT_LT(boundseg::testing::count_mismatches(refined, scene.label_ids), int64_t(refined.total() / 50));
  // Probabilities that do not sum to 1 are refused with the file named.
  boundseg::io::write_safetensors(probs_dir / "scene.safetensors", {{"probs", probs * 2}});
  const auto bad = boundseg::run_cli("refine crf --quiet --images " + image_dir.string() + " --probs-or-labels " +
                                     probs_dir.string() + " --out " + (tmp.path() / "bad").string());
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.output.find("scene.safetensors must hold softmax probabilities"), std::string::npos) << bad.output;
  // Bad input: label maps need --num-classes (usage, 2); a missing input names the file (1); inputs are kept.
  EXPECT_EQ(boundseg::run_cli("refine crf --quiet --images " + images.string() + " --probs-or-labels " +
                              preds.string() + " --out " + (tmp.path() / "x").string())
                .exit_code,
            2);
  const auto missing = boundseg::run_cli("refine crf --quiet --images " + images.string() + " --probs-or-labels " +
                                         out.string() + "/none --num-classes 34 --out " + (tmp.path() / "y").string());
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.output.find("boundseg refine crf: --probs-or-labels"), std::string::npos) << missing.output;
  const auto same = boundseg::run_cli("refine crf --quiet --images " + images.string() + " --probs-or-labels " +
                                      preds.string() + " --num-classes 34 --out " + preds.string());
  EXPECT_EQ(same.exit_code, 2);
  EXPECT_NE(same.output.find("inputs are never overwritten"), std::string::npos) << same.output;
  const auto inside = boundseg::run_cli("refine crf --quiet --images " + images.string() + " --probs-or-labels " +
                                        preds.string() + " --num-classes 34 --out " + (images / "refined").string());
  EXPECT_EQ(inside.exit_code, 2);
  EXPECT_NE(inside.output.find("must lie outside the input folder"), std::string::npos) << inside.output;
  EXPECT_FALSE(fs::exists(images / "refined"));
}

}  // namespace
