// Pixel-level metrics: cityscapesScripts goldens and a naive train-id reference.
#include <gtest/gtest.h>

#include <random>

#include "boundseg/io/cityscapes_labels.h"
#include "boundseg/io/png.h"
#include "boundseg/metrics/pixel_metrics.h"
#include "support/compare.h"
#include "support/golden.h"

namespace boundseg::metrics {
namespace {

using testing::golden_dir;
using testing::matches_golden;

constexpr double kTol = 1e-12;

CityscapesPixelStats stats_of(const std::filesystem::path& dir, const std::vector<std::string>& stems,
                              const std::string& pred_suffix) {
  CityscapesPixelStats stats;
  for (const auto& stem : stems) {
    const cv::Mat gt = io::read_label_png(dir / (stem + "_gtFine_labelIds.png"));
    const cv::Mat inst = io::read_label_png(dir / (stem + "_gtFine_instanceIds.png"));
    const cv::Mat pred = io::read_label_png(dir / (stem + pred_suffix));
    accumulate_cityscapes_pixels(gt, pred, inst, stats, {stem, stem + pred_suffix, stem + "_inst"});
  }
  return stats;
}

void expect_scores_match(const CityscapesPixelStats& stats, const nlohmann::json& expected) {
  if (expected.contains("confMatrix")) {
    for (int i = 0; i < 34; ++i)
      for (int j = 0; j < 34; ++j)
        ASSERT_EQ(stats.confusion.at(i, j), expected["confMatrix"][i][j].get<uint64_t>()) << i << "," << j;
  }
  const CityscapesPixelScores s = cityscapes_pixel_scores(stats);
  for (const auto& label : cityscapes::labels()) {
    EXPECT_TRUE(matches_golden(s.class_iou[label.id], expected["classScores"][label.name], kTol)) << label.name;
    EXPECT_TRUE(matches_golden(s.class_iiou[label.id], expected["classInstScores"][label.name], kTol)) << label.name;
  }
  for (int k = 0; k < cityscapes::kNumCategories; ++k) {
    const char* name = cityscapes::category_names()[k];
    EXPECT_TRUE(matches_golden(s.category_iou[k], expected["categoryScores"][name], kTol)) << name;
    EXPECT_TRUE(matches_golden(s.category_iiou[k], expected["categoryInstScores"][name], kTol)) << name;
  }
  EXPECT_TRUE(matches_golden(s.miou, expected["averageScoreClasses"], kTol));
  EXPECT_TRUE(matches_golden(s.iiou, expected["averageScoreInstClasses"], kTol));
  if (expected.contains("averageScoreCategories")) {
    EXPECT_TRUE(matches_golden(s.category_miou, expected["averageScoreCategories"], kTol));
    EXPECT_TRUE(matches_golden(s.category_iiou_mean, expected["averageScoreInstCategories"], kTol));
  }
}

// The scenes of a folder: every <stem>_gtFine_labelIds.png in it.
std::vector<std::string> scenes_in(const std::string& subdir) {
  std::vector<std::string> stems;
  for (const auto& file : testing::golden_files("metrics", subdir, "_gtFine_labelIds.png")) stems.push_back(file.stem);
  return stems;
}

TEST(GoldenPixelLevel, AllScenesMatchCityscapesScripts) {
  const auto dir = golden_dir("metrics");
  const auto expected = testing::read_json(dir / "pixel_level.json");
  // The scenes the reference evaluated together.
  const auto stems = expected["images"].get<std::vector<std::string>>();
  testing::CaseCount cases("scenes of pixel_level.json, evaluated together");
  expect_scores_match(stats_of(dir / "inputs", stems, "_pred_labelIds.png"), expected);
  cases.add(static_cast<int64_t>(stems.size()));
}

TEST(GoldenPixelLevel, EachSceneAloneMatchesCityscapesScripts) {
  const auto dir = golden_dir("metrics");
  const auto expected = testing::read_json(dir / "pixel_level_per_image.json");
  testing::CaseCount cases("scenes of pixel_level_per_image.json");
  for (const auto& [stem, scores] : expected.items()) {
    SCOPED_TRACE(stem);
    expect_scores_match(stats_of(dir / "inputs", {stem}, "_pred_labelIds.png"), scores);
    cases.add();
  }
}

TEST(GoldenPixelLevel, EdgeCasesMatchCityscapesScripts) {
  const auto dir = golden_dir("metrics");
  const auto expected = testing::read_json(dir / "pixel_level_edge_cases.json");
  // The reference evaluated every scene of the folder together, and each scene of `per_image` alone.
  const std::vector<std::string> stems = scenes_in("inputs/edge_cases");
  testing::CaseCount cases("edge-case evaluations (all scenes together, then each of per_image)");
  ASSERT_FALSE(stems.empty()) << "no *_gtFine_labelIds.png in inputs/edge_cases";
  expect_scores_match(stats_of(dir / "inputs" / "edge_cases", stems, "_pred_labelIds.png"), expected);
  cases.add();
  for (const auto& [stem, scores] : expected["per_image"].items()) {
    SCOPED_TRACE(stem);
    expect_scores_match(stats_of(dir / "inputs" / "edge_cases", {stem}, "_pred_labelIds.png"), scores);
    cases.add();
  }
}

TEST(CityscapesPixels, RejectsIdsAbove33NamingFileValueAndPixel) {
  cv::Mat gt(4, 5, CV_8UC1, cv::Scalar(7)), pred(4, 5, CV_8UC1, cv::Scalar(7));
  pred.at<uint8_t>(2, 3) = 255;
  CityscapesPixelStats stats;
  BOUNDSEG_EXPECT_THROWS_WITH(accumulate_cityscapes_pixels(gt, pred, cv::Mat(), stats, {"g.png", "x.png", ""}),
                              "boundseg eval: the prediction 'x.png' must hold Cityscapes label ids 0..33 (map "
                              "train ids through trainId->id first), but got value 255 at pixel (x=3, y=2).");
  pred.at<uint8_t>(2, 3) = 7;
  gt.at<uint8_t>(0, 1) = 40;
  BOUNDSEG_EXPECT_THROWS_WITH(accumulate_cityscapes_pixels(gt, pred, cv::Mat(), stats, {"g.png", "x.png", ""}),
                              "value 40 at pixel (x=1, y=0)");
}

TEST(CityscapesPixels, RejectsSizeMismatch) {
  CityscapesPixelStats stats;
  BOUNDSEG_EXPECT_THROWS_WITH(accumulate_cityscapes_pixels(cv::Mat(4, 5, CV_8UC1, cv::Scalar(7)),
                                                           cv::Mat(4, 6, CV_8UC1, cv::Scalar(7)), cv::Mat(), stats,
                                                           {"g", "p", ""}),
                              "must have the ground truth's size 5x4, but got 6x4");
}

// Naive reference: per-class intersection / union by direct counting.
TEST(TrainIdPixels, MatchesNaiveCountsAndConventions) {
  std::mt19937 rng(3);
  const int k = 5, ignore = 255;
  TrainIdPixelStats stats(k);
  std::vector<int64_t> inter(k, 0), uni(k, 0), gt_area(k, 0), pred_area(k, 0);
  int64_t correct = 0, valid = 0;
  for (int image = 0; image < 3; ++image) {
    cv::Mat gt(17, 23, CV_8UC1), pred(17, 23, CV_8UC1);
    for (int i = 0; i < gt.rows * gt.cols; ++i) {
      gt.data[i] = rng() % 7 == 0 ? ignore : rng() % (k - 1);  // class 4 never in GT
      pred.data[i] = rng() % 11 == 0 ? ignore : rng() % (k - 1);  // nor predicted
      if (gt.data[i] == ignore) continue;
      ++valid;
      const int g = gt.data[i], p = pred.data[i];
      correct += g == p;
      ++gt_area[g];
      if (p != ignore) ++pred_area[p];
      for (int c = 0; c < k; ++c) {
        inter[c] += g == c && p == c;
        uni[c] += g == c || p == c;
      }
    }
    accumulate_train_id_pixels(gt, pred, ignore, stats, {"g", "p", ""});
  }
  const auto s = train_id_pixel_scores(stats);
  for (int c = 0; c < k - 1; ++c) {
    EXPECT_DOUBLE_EQ(s.class_iou[c], double(inter[c]) / double(uni[c]));
    EXPECT_DOUBLE_EQ(s.class_dice[c], 2.0 * inter[c] / double(gt_area[c] + pred_area[c]));
    EXPECT_DOUBLE_EQ(s.class_accuracy[c], double(inter[c]) / double(gt_area[c]));
  }
  EXPECT_TRUE(std::isnan(s.class_iou[k - 1]));
  EXPECT_DOUBLE_EQ(s.aacc, double(correct) / double(valid));
  double mean = 0;
  for (int c = 0; c < k - 1; ++c) mean += double(inter[c]) / double(uni[c]);
  EXPECT_DOUBLE_EQ(s.miou, mean / (k - 1));
  const auto zero = train_id_pixel_scores(stats, ZeroUnion::kZero);
  EXPECT_DOUBLE_EQ(zero.miou, mean / k);
}

TEST(TrainIdPixels, RejectsOutOfRangeIds) {
  TrainIdPixelStats stats(3);
  cv::Mat gt(2, 2, CV_8UC1, cv::Scalar(1)), pred(2, 2, CV_8UC1, cv::Scalar(1));
  gt.at<uint8_t>(1, 0) = 3;
  BOUNDSEG_EXPECT_THROWS_WITH(accumulate_train_id_pixels(gt, pred, 255, stats, {"g.png", "p.png", ""}),
                              "the ground truth 'g.png' must hold train ids 0..2 or the ignore index 255, but got "
                              "value 3 at pixel (x=0, y=1)");
}

}  // namespace
}  // namespace boundseg::metrics
