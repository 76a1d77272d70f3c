// The whole evaluator (discovery + one pass + JSON) against every metrics golden.
#include <ATen/Parallel.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <algorithm>

#include "boundseg/data/synthetic.h"
#include "boundseg/io/png.h"
#include "boundseg/metrics/evaluator.h"
#include "support/compare.h"
#include "support/golden.h"

namespace boundseg::metrics {
namespace {

namespace fs = std::filesystem;
using testing::golden_dir;
using testing::matches_golden;

// GT, semantic predictions and instance results in three separate folders, as users keep them: every scene of
// inputs/ (a <city>_<seq>_<frame>_gtFine_labelIds.png), its GT under gt/<city>/.
struct GoldenLayout {
  testing::TempDir dir;
  std::vector<std::string> stems;
  GoldenLayout() {
    const auto in = golden_dir("metrics") / "inputs";
    for (const auto& file : testing::golden_files("metrics", "inputs", "_gtFine_labelIds.png")) {
      const std::string& stem = file.stem;
      stems.push_back(stem);
      const std::string city = stem.substr(0, stem.find('_'));
      fs::create_directories(dir.path() / "gt" / city);
      fs::create_directories(dir.path() / "pred");
      for (const char* kind : {"_gtFine_labelIds.png", "_gtFine_instanceIds.png"})
        fs::copy_file(in / (stem + kind), dir.path() / "gt" / city / (stem + kind));
      fs::copy_file(in / (stem + "_pred_labelIds.png"), dir.path() / "pred" / (stem + "_leftImg8bit.png"));
    }
  }
  DiscoverOptions discover() const {
    DiscoverOptions d;
    d.gt_dir = dir.path() / "gt";
    d.pred_dir = dir.path() / "pred";
    d.instance_dir = golden_dir("metrics") / "inputs" / "inst_pred";
    return d;
  }
};

EvalOptions full_suite() {
  EvalOptions o;
  o.instance_ap = true;
  o.progress = false;
  return o;
}

TEST(GoldenEvaluator, FullSuiteInOnePassMatchesEveryReference) {
  GoldenLayout layout;
  const auto samples = discover_samples(layout.discover());
  ASSERT_EQ(samples.size(), layout.stems.size());
  const auto dir = golden_dir("metrics");
  const auto pixel = testing::read_json(dir / "pixel_level.json");
  // The references evaluated the same scenes as the folder holds.
  auto images = pixel["images"].get<std::vector<std::string>>();
  std::sort(images.begin(), images.end());
  ASSERT_EQ(images, layout.stems);
  testing::CaseCount cases("scenes evaluated in one pass against every metrics reference");
  cases.add(static_cast<int64_t>(samples.size()));
  const nlohmann::json j = to_json(evaluate(samples, full_suite()));
  constexpr double kTol = 1e-12;

  EXPECT_TRUE(matches_golden(j["mIoU"].get<double>(), pixel["averageScoreClasses"], kTol));
  EXPECT_TRUE(matches_golden(j["iIoU"].get<double>(), pixel["averageScoreInstClasses"], kTol));
  EXPECT_TRUE(matches_golden(j["category_mIoU"].get<double>(), pixel["averageScoreCategories"], kTol));
  EXPECT_TRUE(matches_golden(j["category_iIoU"].get<double>(), pixel["averageScoreInstCategories"], kTol));
  for (const auto& [name, value] : j["class_iou"].items()) {
    EXPECT_TRUE(matches_golden(value.is_null() ? NAN : value.get<double>(), pixel["classScores"][name], kTol)) << name;
  }
  for (const auto& [name, value] : j["category_iou"].items()) {
    EXPECT_TRUE(matches_golden(value.is_null() ? NAN : value.get<double>(), pixel["categoryScores"][name], kTol));
  }

  // Boundary IoU and F-score: every ratio / threshold that both the reference and the evaluator report.
  const auto biou = testing::read_json(dir / "semantic_boundary_iou.json");
  int64_t ratios = 0;
  for (const auto& [ratio, result] : j["boundary_iou"].items()) {
    if (!biou.contains("ratio_" + ratio)) continue;
    EXPECT_TRUE(matches_golden(result["mean"].get<double>(), biou["ratio_" + ratio]["mBIoU"], kTol)) << ratio;
    ++ratios;
  }
  EXPECT_GT(ratios, 0) << "no boundary IoU ratio of semantic_boundary_iou.json is one the evaluator reports";

  const auto bf = testing::read_json(dir / "boundary_fscore.json");
  int64_t thresholds = 0;
  for (const auto& [th, result] : j["boundary_f"].items()) {
    if (!bf["thresholds"].contains(th)) continue;
    EXPECT_TRUE(matches_golden(result["mean"].get<double>(), bf["thresholds"][th]["meanF"], kTol)) << th;
    ++thresholds;
  }
  EXPECT_GT(thresholds, 0) << "no boundary F threshold of boundary_fscore.json is one the evaluator reports";

  const auto ap = testing::read_json(dir / "instance_ap.json");
  EXPECT_TRUE(matches_golden(j["AP"].get<double>(), ap["averages"]["allAp"], kTol));
  EXPECT_TRUE(matches_golden(j["AP50"].get<double>(), ap["averages"]["allAp50%"], kTol));
  const auto bap = testing::read_json(dir / "instance_boundary_ap.json");
  EXPECT_TRUE(matches_golden(j["boundary_AP"].get<double>(), bap["boundary"]["averages"]["allAp"], kTol));
  EXPECT_TRUE(matches_golden(j["boundary_AP50"].get<double>(), bap["boundary"]["averages"]["allAp50%"], kTol));
  for (const auto& [name, value] : ap["averages"]["classes"].items()) {
    const auto& got = j["instance_classes"][name];
    EXPECT_TRUE(matches_golden(got["AP"].is_null() ? NAN : got["AP"].get<double>(), value["ap"], kTol)) << name;
  }
}

TEST(Evaluator, ResultsDoNotDependOnTheThreadCount) {
  // 24 scenes: several chunks of images in flight, so the order of reduction matters.
  testing::TempDir dir;
  data::write_synthetic_cityscapes(dir.path(), 24, 48, 96, /*seed=*/5, /*progress=*/false);
  DiscoverOptions d;
  d.gt_dir = dir.path() / "gtFine";
  d.pred_dir = dir.path() / "pred" / "semantic";
  d.instance_dir = dir.path() / "pred" / "instances";
  const auto samples = discover_samples(d);
  ASSERT_EQ(samples.size(), 24u);
  const int threads = at::get_num_threads();
  at::set_num_threads(1);
  const std::string one = to_json(evaluate(samples, full_suite())).dump();
  at::set_num_threads(std::max(2, threads));
  const std::string many = to_json(evaluate(samples, full_suite())).dump();
  at::set_num_threads(threads);
  EXPECT_EQ(one, many);
}

TEST(Evaluator, DiscoveryRejectsMissingAndAmbiguousPredictions) {
  GoldenLayout layout;
  DiscoverOptions d = layout.discover();
  ASSERT_FALSE(layout.stems.empty());
  const std::string stem = layout.stems.back();
  const fs::path pred = layout.dir.path() / "pred" / (stem + "_leftImg8bit.png");
  const fs::path aside = layout.dir.path() / (stem + "_aside.png");
  fs::rename(pred, aside);
  BOUNDSEG_EXPECT_THROWS_WITH(discover_samples(d), "must be exactly one PNG named '" + stem + "*.png' under --pred");
  fs::rename(aside, pred);
  fs::copy_file(pred, layout.dir.path() / "pred" / (stem + "_color.png"));
  BOUNDSEG_EXPECT_THROWS_WITH(discover_samples(d), "but got 2 (");
}

TEST(Evaluator, DiscoveryRejectsEmptyAndMissingDirectories) {
  testing::TempDir empty;
  DiscoverOptions d;
  d.gt_dir = empty.path();
  BOUNDSEG_EXPECT_THROWS_WITH(discover_samples(d), "must contain Cityscapes ground truth (*_gtFine_labelIds.png)");
  d.protocol = Protocol::kTrainId;
  BOUNDSEG_EXPECT_THROWS_WITH(discover_samples(d), "must contain ground-truth PNG files, but got an empty directory");
  d.gt_dir = empty.path() / "nope";
  BOUNDSEG_EXPECT_THROWS_WITH(discover_samples(d), "must be an existing directory, but got no such directory");
}

TEST(Evaluator, TrainIdProtocolPairsIdenticalStems) {
  testing::TempDir dir;
  fs::create_directories(dir.path() / "gt");
  fs::create_directories(dir.path() / "pred" / "nested");
  cv::Mat gt(8, 8, CV_8UC1, cv::Scalar(0)), pred(8, 8, CV_8UC1, cv::Scalar(0));
  gt(cv::Rect(0, 0, 4, 8)).setTo(1);
  pred(cv::Rect(0, 0, 5, 8)).setTo(1);
  gt.at<uint8_t>(7, 7) = 255;
  io::write_png(dir.path() / "gt" / "img1.png", gt);
  io::write_png(dir.path() / "pred" / "nested" / "img1.png", pred);
  DiscoverOptions d;
  d.gt_dir = dir.path() / "gt";
  d.pred_dir = dir.path() / "pred";
  d.protocol = Protocol::kTrainId;
  EvalOptions o;
  o.protocol = Protocol::kTrainId;
  o.num_classes = 2;
  o.progress = false;
  const EvalResult r = evaluate(discover_samples(d), o);
  // class 1: GT 32 px, pred 40 px, all GT inside pred -> IoU 32/40; class 0: 23/31 (one GT px ignored).
  EXPECT_DOUBLE_EQ(r.class_iou[1], 32.0 / 40.0);
  EXPECT_DOUBLE_EQ(r.class_iou[0], 23.0 / 31.0);
  EXPECT_DOUBLE_EQ(r.aacc, 55.0 / 63.0);
}

}  // namespace
}  // namespace boundseg::metrics
