// Cityscapes instance AP and Boundary AP: reference goldens, txt parsing, hand-derived cases.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>

#include "boundseg/io/cityscapes_labels.h"
#include "boundseg/io/png.h"
#include "boundseg/metrics/instance_ap.h"
#include "boundseg/ops/boundary_kernels.h"
#include "support/compare.h"
#include "support/golden.h"

namespace boundseg::metrics {
namespace {

namespace fs = std::filesystem;
using testing::golden_dir;
using testing::matches_golden;
using testing::TempDir;

constexpr double kTol = 1e-12;
// Position of each class in the result arrays (person, rider, car, truck, bus, train, motorcycle, bicycle).
constexpr int kPerson = 0, kRider = 1, kCar = 2;
constexpr uint16_t kRoad = 7, kUnlabeled = 0, kCarGroup = 26;

// ---------------------------------------------------------------------------
// Goldens (shared/golden/metrics, cases instance_ap and instance_boundary_ap)

// The scenes the reference evaluated: every GT instanceIds map of inputs/, each with its inst_pred/<stem>_pred.txt.
std::vector<InstanceImageMatches> golden_matches(std::vector<std::string>* warnings) {
  const fs::path inputs = golden_dir("metrics") / "inputs";
  InstanceApOptions options;
  options.boundary = true;
  options.boundary_dilation_ratio = testing::read_json(golden_dir("metrics") / "instance_boundary_ap.json")
                                        .at("dilation_ratio")
                                        .get<double>();  // the MANIFEST's args.dilation_ratio
  std::vector<InstanceImageMatches> images;
  for (const auto& gt_file : testing::golden_files("metrics", "inputs", "_gtFine_instanceIds.png")) {
    const cv::Mat gt = io::read_label_png(gt_file.path);
    InstanceMatcher matcher(gt, options);
    for (const auto& line :
         read_cityscapes_prediction_txt(inputs / "inst_pred" / (gt_file.stem + "_pred.txt"), warnings))
      matcher.add_prediction(line.label_id, line.confidence, io::read_label_png(line.mask_path));
    images.push_back(matcher.finish());
  }
  return images;
}

void expect_result_matches(const InstanceApResult& r, const nlohmann::json& expected, const std::string& what) {
  const auto& names = expected["instLabels"];
  ASSERT_EQ(names.size(), 8u);
  for (int k = 0; k < 8; ++k) {
    const std::string name = names[k].get<std::string>();
    // The result arrays follow the evaluator's instLabels order.
    EXPECT_EQ(name, cityscapes::labels()[cityscapes::instance_class_ids()[k]].name) << what;
    for (int o = 0; o < kNumOverlaps; ++o)
      EXPECT_TRUE(matches_golden(r.ap_matrix[k][o], expected["resultApMatrix"][0][k][o], kTol))
          << what << " " << name << " overlap " << o;
    EXPECT_TRUE(matches_golden(r.class_ap[k], expected["averages"]["classes"][name]["ap"], kTol))
        << what << " " << name;
    EXPECT_TRUE(matches_golden(r.class_ap50[k], expected["averages"]["classes"][name]["ap50%"], kTol))
        << what << " " << name;
  }
  EXPECT_TRUE(matches_golden(r.ap, expected["averages"]["allAp"], kTol)) << what;
  EXPECT_TRUE(matches_golden(r.ap50, expected["averages"]["allAp50%"], kTol)) << what;
}

TEST(GoldenInstanceAp, OverlapsAreTheExactNumpyDoubles) {
  const auto expected = testing::read_json(golden_dir("metrics") / "instance_ap.json")["overlaps"];
  testing::CaseCount cases("overlaps of instance_ap.json");
  ASSERT_EQ(expected.size(), size_t(kNumOverlaps));
  const double step = (0.5 + 0.05) - 0.5;  // numpy arange's delta
  for (int i = 0; i < kNumOverlaps; ++i) {
    EXPECT_EQ(cityscapes_overlaps()[i], expected[i].get<double>()) << i;  // exact, not approximate
    EXPECT_EQ(cityscapes_overlaps()[i], 0.5 + i * step) << i;
    cases.add();
  }
}

TEST(GoldenInstanceAp, MaskApMatchesCityscapesScripts) {
  std::vector<std::string> warnings;
  const auto images = golden_matches(&warnings);
  testing::CaseCount cases("scenes evaluated together (inputs/*_gtFine_instanceIds.png)");
  cases.add(static_cast<int64_t>(images.size()));
  EXPECT_TRUE(warnings.empty()) << warnings.front();
  const auto expected = testing::read_json(golden_dir("metrics") / "instance_ap.json");
  expect_result_matches(evaluate_instance_ap(images, InstanceOverlap::kMask), expected, "cityscapesScripts");
}

TEST(GoldenInstanceAp, SegmAndBoundaryApMatchBoundaryIouApi) {
  const auto images = golden_matches(nullptr);
  testing::CaseCount cases("scenes evaluated together (inputs/*_gtFine_instanceIds.png)");
  cases.add(static_cast<int64_t>(images.size()));
  const auto expected = testing::read_json(golden_dir("metrics") / "instance_boundary_ap.json");
  expect_result_matches(evaluate_instance_ap(images, InstanceOverlap::kMask), expected["segm"], "segm");
  expect_result_matches(evaluate_instance_ap(images, InstanceOverlap::kBoundary), expected["boundary"], "boundary");
}

// ---------------------------------------------------------------------------
// Prediction txt parsing

void write_text(const fs::path& path, const std::string& bytes) {
  fs::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary);
  out << bytes;
}

// A results folder with masks m/a.png, m/b.png, m/c.png next to the txt.
struct TxtFixture {
  TempDir tmp;
  fs::path txt = tmp.path() / "results" / "pred.txt";
  TxtFixture() {
    for (const char* name : {"a", "b", "c"})
      write_text(tmp.path() / "results" / "m" / (std::string(name) + ".png"), "x");
  }
  fs::path mask(const std::string& name) const { return tmp.path() / "results" / "m" / (name + ".png"); }
  std::vector<InstancePredictionLine> read(const std::string& content, std::vector<std::string>* warnings = nullptr) {
    write_text(txt, content);
    return read_cityscapes_prediction_txt(txt, warnings);
  }
};

TEST(InstancePredictionTxt, ParsesLinesResolvesPathsAndLastDuplicateWins) {
  TxtFixture f;
  // CRLF and a missing final newline are fine; "m/./a.png" is the same file as "m/a.png".
  const auto lines = f.read("m/a.png 24 0.9\nm/b.png 26.7 0.25\r\nm/./a.png 33 0.5\nm/c.png 26 1e-1");
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0].mask_path, f.mask("a"));  // first position, last line's values
  EXPECT_EQ(lines[0].label_id, 33);
  EXPECT_EQ(lines[0].confidence, 0.5);
  EXPECT_EQ(lines[1].mask_path, f.mask("b"));
  EXPECT_EQ(lines[1].label_id, 26);  // int(float("26.7"))
  EXPECT_EQ(lines[1].confidence, 0.25);
  EXPECT_EQ(lines[2].mask_path, f.mask("c"));
  EXPECT_EQ(lines[2].confidence, 0.1);
  EXPECT_TRUE(lines[2].mask_path.is_absolute());
}

TEST(InstancePredictionTxt, RejectsLinesThatAreNotThreeSingleSpacedTokens) {
  TxtFixture f;
  BOUNDSEG_EXPECT_THROWS_WITH(
      f.read("m/a.png 24 0.9\nm/b.png  24 0.9\n"),
      "line 2 of '" + f.txt.string() +
          "' must be '<mask png> <labelId> <confidence>' "
          "separated by single spaces (formats.md §4), but got 4 token(s) in 'm/b.png  24 0.9'.");
  BOUNDSEG_EXPECT_THROWS_WITH(f.read("m/a.png 24\n"), "but got 2 token(s) in 'm/a.png 24'");
  BOUNDSEG_EXPECT_THROWS_WITH(f.read("m/a.png\t24 0.9\n"), "but got 2 token(s) in 'm/a.png\\t24 0.9'");
  BOUNDSEG_EXPECT_THROWS_WITH(f.read("m/a.png 24 0.9\n\nm/b.png 24 0.5\n"), "line 2 of");
  BOUNDSEG_EXPECT_THROWS_WITH(f.read("m/a.png 24 0.9\n\nm/b.png 24 0.5\n"), "but got an empty line");
  BOUNDSEG_EXPECT_THROWS_WITH(f.read("m/a.png 24 0.9 \n"), "but got 4 token(s)");  // trailing space
}

TEST(InstancePredictionTxt, RejectsBadNumbersAndPaths) {
  TxtFixture f;
  BOUNDSEG_EXPECT_THROWS_WITH(f.read("m/a.png person 0.9\n"), "the labelId on line 1");
  BOUNDSEG_EXPECT_THROWS_WITH(f.read("m/a.png 24 high\n"), "the confidence on line 1");
  BOUNDSEG_EXPECT_THROWS_WITH(f.read("m/a.png 24 nan\n"), "be a number other than NaN");
  BOUNDSEG_EXPECT_THROWS_WITH(f.read("/abs/a.png 24 0.9\n"), "be relative to the txt's directory");
  BOUNDSEG_EXPECT_THROWS_WITH(read_cityscapes_prediction_txt(f.tmp.path() / "none.txt"), "no such file");
}

TEST(InstancePredictionTxt, UnknownLabelIdIsAnError) {
  TxtFixture f;
  BOUNDSEG_EXPECT_THROWS_WITH(f.read("m/a.png 24 0.9\nm/b.png 40 0.9\n"),
                              "boundseg instance prediction txt: the labelId on line 2 of '" + f.txt.string() +
                                  "' must be a Cityscapes label id");
  BOUNDSEG_EXPECT_THROWS_WITH(f.read("m/b.png 40 0.9\n"), "but got the unknown id '40'.");
  BOUNDSEG_EXPECT_THROWS_WITH(f.read("m/b.png 255 0.9\n"), "unknown id '255'");
}

TEST(InstancePredictionTxt, NonInstanceIdsAreDroppedWithAWarning) {
  TxtFixture f;
  std::vector<std::string> warnings;
  // 7 = road (e.g. a trainId written by mistake), 29 = caravan (instances but ignoreInEval), -1 = license plate.
  const auto lines = f.read("m/a.png 7 0.9\nm/b.png 24 0.8\nm/c.png 29 0.7\nm/missing.png -1 0.1\n", &warnings);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0].mask_path, f.mask("b"));
  ASSERT_EQ(warnings.size(), 3u);
  EXPECT_NE(warnings[0].find("line 1 of"), std::string::npos) << warnings[0];
  EXPECT_NE(warnings[0].find("label id 7 (road) is not one of the 8 evaluated instance classes"), std::string::npos)
      << warnings[0];
  EXPECT_NE(warnings[1].find("29 (caravan)"), std::string::npos) << warnings[1];
  EXPECT_NE(warnings[2].find("-1 (license plate)"), std::string::npos) << warnings[2];
}

TEST(InstancePredictionTxt, LabelsAreCheckedAfterDuplicatesAreResolved) {
  TxtFixture f;
  // As upstream: the dict entry of a.png holds the last line only.
  std::vector<std::string> warnings;
  EXPECT_TRUE(f.read("m/a.png 26 0.9\nm/a.png 7 0.8\n", &warnings).empty());
  EXPECT_EQ(warnings.size(), 1u);
  const auto lines = f.read("m/a.png 40 0.9\nm/a.png 26 0.8\n");
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0].label_id, 26);
}

TEST(InstancePredictionTxt, MissingMaskFileIsAnError) {
  TxtFixture f;
  BOUNDSEG_EXPECT_THROWS_WITH(f.read("m/a.png 24 0.9\nm/missing.png 26 0.5\n"),
                              "the mask '" + (f.tmp.path() / "results" / "m" / "missing.png").string() +
                                  "' named on line 2 of '" + f.txt.string() +
                                  "' must be an existing file, but got no such file.");
}

// ---------------------------------------------------------------------------
// Hand-made scenes

cv::Mat scene(int h, int w) { return cv::Mat(h, w, CV_16U, cv::Scalar(kRoad)); }

void paint(cv::Mat& ids, const cv::Rect& r, int value) { ids(r).setTo(cv::Scalar(value)); }

cv::Mat mask_of(const cv::Mat& ids, const cv::Rect& r) {
  cv::Mat m(ids.size(), CV_8U, cv::Scalar(0));
  m(r).setTo(cv::Scalar(255));
  return m;
}

struct Pred {
  int label;
  double confidence;
  cv::Rect box;
};

InstanceImageMatches match(const cv::Mat& ids, const std::vector<Pred>& preds, bool boundary = true) {
  InstanceApOptions options;
  options.boundary = boundary;
  InstanceMatcher matcher(ids, options);
  for (const auto& p : preds) matcher.add_prediction(p.label, p.confidence, mask_of(ids, p.box));
  return matcher.finish();
}

InstanceApResult evaluate_scene(const cv::Mat& ids, const std::vector<Pred>& preds,
                                InstanceOverlap overlap = InstanceOverlap::kMask) {
  return evaluate_instance_ap({match(ids, preds)}, overlap);
}

void expect_row(const InstanceApResult& r, int k, const std::array<double, kNumOverlaps>& expected) {
  for (int o = 0; o < kNumOverlaps; ++o) EXPECT_NEAR(r.ap_matrix[k][o], expected[o], 1e-15) << "overlap " << o;
}

std::array<double, kNumOverlaps> all_of(double v) {
  std::array<double, kNumOverlaps> a;
  a.fill(v);
  return a;
}

TEST(InstanceMatcher, CountsPixelsVoidAndSameClassIntersections) {
  cv::Mat ids = scene(20, 30);
  paint(ids, {0, 0, 10, 10}, 26000);       // car, 100 px
  paint(ids, {10, 0, 5, 10}, kCarGroup);   // car group region, 50 px
  paint(ids, {20, 0, 10, 5}, kUnlabeled);  // void, 50 px
  paint(ids, {0, 12, 10, 8}, 24000);       // person, 80 px
  paint(ids, {20, 10, 10, 5}, 29000);      // caravan instance: neither GT nor void
  paint(ids, {20, 15, 10, 5}, 29);         // caravan group region: void
  const cv::Rect box{5, 3, 20, 10};        // x 5..24, y 3..12
  const auto m = match(ids, {{26, 0.7, box}, {24, 0.6, box}, {29, 0.9, box}, {7, 0.9, box}, {26, 0.9, {0, 0, 0, 0}}});
  EXPECT_TRUE(m.has_boundary);
  // GT segments in ascending id order: 26 (group), 24000, 26000.
  ASSERT_EQ(m.gts.size(), 3u);
  EXPECT_EQ(m.gts[0].instance_id, 26);
  EXPECT_EQ(m.gts[0].pixel_count, 50);
  EXPECT_EQ(m.gts[1].instance_id, 24000);
  EXPECT_EQ(m.gts[1].label_id, 24);
  EXPECT_EQ(m.gts[1].pixel_count, 80);
  EXPECT_EQ(m.gts[2].instance_id, 26000);
  EXPECT_EQ(m.gts[2].pixel_count, 100);
  // Caravan, road and empty predictions are dropped.
  ASSERT_EQ(m.predictions.size(), 2u);
  const auto& car = m.predictions[0];
  EXPECT_EQ(car.pixel_count, 200);
  EXPECT_EQ(car.void_intersection, 10);  // x 20..24, y 3..4 on id 0; caravan 29000 is not void
  ASSERT_EQ(car.matches.size(), 2u);
  EXPECT_EQ(car.matches[0].gt_index, 0);  // x 10..14, y 3..9
  EXPECT_EQ(car.matches[0].intersection, 35);
  EXPECT_EQ(car.matches[1].gt_index, 2);  // x 5..9, y 3..9
  EXPECT_EQ(car.matches[1].intersection, 35);
  const auto& person = m.predictions[1];
  EXPECT_EQ(person.confidence, 0.6);
  ASSERT_EQ(person.matches.size(), 1u);
  EXPECT_EQ(person.matches[0].gt_index, 1);
  EXPECT_EQ(person.matches[0].intersection, 5);  // x 5..9, y 12
}

TEST(InstanceMatcher, BandsUseTheFullImageDiagonalAndTheImageEdge) {
  // d = round(0.005 * sqrt(200^2 + 300^2)) = round(1.80) = 2; a 20x20 crop alone would give d = 1.
  ASSERT_EQ(detail::band_width(0.005, 200, 300), 2);
  cv::Mat ids = scene(200, 300);
  paint(ids, {50, 50, 20, 20}, 26000);
  paint(ids, {0, 0, 20, 20}, 26001);  // touches the image corner
  const auto m = match(ids, {{26, 0.9, {52, 50, 20, 20}}});
  ASSERT_EQ(m.gts.size(), 2u);
  // A 2-px inner ring of a 20x20 square: 400 - 16*16; at the corner the image edge counts as background.
  EXPECT_EQ(m.gts[0].boundary_count, 144);
  EXPECT_EQ(m.gts[1].boundary_count, 144);
  ASSERT_EQ(m.predictions.size(), 1u);
  EXPECT_EQ(m.predictions[0].boundary_count, 144);
  ASSERT_EQ(m.predictions[0].matches.size(), 1u);
  EXPECT_EQ(m.predictions[0].matches[0].intersection, 18 * 20);
  // The rings share rows 0, 1, 18, 19 over columns 52..69 only.
  EXPECT_EQ(m.predictions[0].matches[0].boundary_intersection, 4 * 18);
}

TEST(InstanceMatcher, RejectsBadInputs) {
  const cv::Mat ids = scene(20, 30);
  InstanceMatcher matcher(ids);
  BOUNDSEG_EXPECT_THROWS_WITH(
      matcher.add_prediction(26, 0.5, cv::Mat(20, 31, CV_8U, cv::Scalar(1))),
      "boundseg InstanceMatcher: 'mask' must have the ground truth's size 20x30, but got 20x31.");
  BOUNDSEG_EXPECT_THROWS_WITH(matcher.add_prediction(26, 0.5, cv::Mat(20, 30, CV_16U, cv::Scalar(1))),
                              "must be a single-channel CV_8U mask");
  BOUNDSEG_EXPECT_THROWS_WITH(matcher.add_prediction(26, std::nan(""), cv::Mat(20, 30, CV_8U, cv::Scalar(1))),
                              "'confidence' must be a number other than NaN");
  // Upstream never opens the mask of a non-instance prediction, so its size does not matter.
  matcher.add_prediction(7, 0.5, cv::Mat(3, 3, CV_8U, cv::Scalar(1)));
  EXPECT_TRUE(matcher.finish().predictions.empty());
  BOUNDSEG_EXPECT_THROWS_WITH(matcher.add_prediction(26, 0.5, cv::Mat(20, 30, CV_8U, cv::Scalar(1))),
                              "add_prediction must be called before finish()");

  BOUNDSEG_EXPECT_THROWS_WITH(InstanceMatcher(cv::Mat(20, 30, CV_8U, cv::Scalar(7))),
                              "'gt_instance_ids' must be a non-empty single-channel CV_16U or CV_32S instanceIds map");
  cv::Mat bad = scene(20, 30);
  paint(bad, {0, 0, 2, 2}, 40000);
  BOUNDSEG_EXPECT_THROWS_WITH(InstanceMatcher{bad}, "but got the value 40000 (label id 40).");
  InstanceApOptions options;
  options.boundary_dilation_ratio = -0.1;
  BOUNDSEG_EXPECT_THROWS_WITH(InstanceMatcher(ids, options), "'boundary_dilation_ratio' must be a finite number >= 0");
}

TEST(InstanceMatcher, AcceptsInt32InstanceIds) {
  cv::Mat ids16 = scene(20, 30);
  paint(ids16, {0, 0, 10, 10}, 26000);
  paint(ids16, {10, 10, 5, 5}, kUnlabeled);
  cv::Mat ids32;
  ids16.convertTo(ids32, CV_32S);
  const std::vector<Pred> preds = {{26, 0.5, {5, 5, 10, 10}}};
  const auto a = match(ids16, preds), b = match(ids32, preds);
  ASSERT_EQ(b.gts.size(), 1u);
  EXPECT_EQ(b.gts[0].pixel_count, a.gts[0].pixel_count);
  EXPECT_EQ(b.gts[0].boundary_count, a.gts[0].boundary_count);
  ASSERT_EQ(b.predictions.size(), 1u);
  EXPECT_EQ(b.predictions[0].void_intersection, 25);
  EXPECT_EQ(b.predictions[0].matches[0].intersection, 25);
}

// Hand-derived AP values. Notation: entries (score, y) sorted by score, precision/recall at each unique score,
// artificial last point (p = 1, r = 0), AP = sum_j p_j * (r_{j-1} - r_{j+1}) / 2 (metrics.md §4.4).

TEST(InstanceAp, OnePerfectPredictionGivesOneAndAbsentClassesAreNaN) {
  cv::Mat ids = scene(64, 64);
  paint(ids, {10, 10, 10, 10}, 26000);
  // (0.9, 1): p = [1, 1], r = [1, 0], widths [0.5, 0.5] -> 1.
  for (const auto overlap : {InstanceOverlap::kMask, InstanceOverlap::kBoundary}) {
    const auto r = evaluate_scene(ids, {{26, 0.9, {10, 10, 10, 10}}}, overlap);
    expect_row(r, kCar, all_of(1.0));
    for (int k : {kPerson, kRider, 3, 4, 5, 6, 7})
      for (int o = 0; o < kNumOverlaps; ++o) EXPECT_TRUE(std::isnan(r.ap_matrix[k][o])) << k;
    EXPECT_EQ(r.class_ap[kCar], 1.0);
    EXPECT_TRUE(std::isnan(r.class_ap[kPerson]));
    EXPECT_EQ(r.ap, 1.0);  // nanmean over the car row only
    EXPECT_EQ(r.ap50, 1.0);
  }
}

TEST(InstanceAp, ClassWithGtButNoPredictionScoresZero) {
  cv::Mat ids = scene(64, 64);
  paint(ids, {10, 10, 10, 10}, 26000);
  paint(ids, {30, 30, 10, 10}, 24000);
  const auto r = evaluate_scene(ids, {{26, 0.9, {10, 10, 10, 10}}});
  expect_row(r, kPerson, all_of(0.0));
  EXPECT_EQ(r.ap, 0.5);    // (10 * 1 + 10 * 0) / 20
  EXPECT_EQ(r.ap50, 0.5);  // (1 + 0) / 2
}

TEST(InstanceAp, PredictionOfAnotherClassDoesNotMatch) {
  cv::Mat ids = scene(64, 64);
  paint(ids, {10, 10, 10, 10}, 26000);
  const auto r = evaluate_scene(ids, {{24, 0.9, {10, 10, 10, 10}}});
  expect_row(r, kCar, all_of(0.0));                  // GT, no car prediction
  EXPECT_TRUE(std::isnan(r.ap_matrix[kPerson][0]));  // prediction, but no person GT
}

TEST(InstanceAp, DuplicateDetectionIsAFalsePositive) {
  cv::Mat ids = scene(64, 64);
  const cv::Rect a{0, 0, 10, 10}, b{20, 20, 10, 10};
  paint(ids, a, 26000);
  paint(ids, b, 26001);
  // Control without the duplicate: (0.7, 1), (0.9, 1): p = [1, 1, 1], r = [1, .5, 0] -> .25 + .5 + .25 = 1.
  expect_row(evaluate_scene(ids, {{26, 0.9, a}, {26, 0.7, b}}), kCar, all_of(1.0));
  // Duplicate of A at 0.8: sorted (0.7, 1), (0.8, 0), (0.9, 1); p = [2/3, 1/2, 1, 1], r = [1, .5, .5, 0],
  // widths [.25, .25, .25, .25] -> 2/3/4 + 1/8 + 1/4 + 1/4 = 19/24.
  expect_row(evaluate_scene(ids, {{26, 0.9, a}, {26, 0.8, a}, {26, 0.7, b}}), kCar, all_of(19.0 / 24.0));
  // The GT keeps the higher score whichever comes first: the duplicate at 0.95 makes 0.9 the false positive.
  // Sorted (0.7, 1), (0.9, 0), (0.95, 1): the same curve.
  expect_row(evaluate_scene(ids, {{26, 0.9, a}, {26, 0.95, a}, {26, 0.7, b}}), kCar, all_of(19.0 / 24.0));
}

TEST(InstanceAp, DuplicateWithATiedScoreUsesTheArtificialPointPrecisionOne) {
  cv::Mat ids = scene(64, 64);
  const cv::Rect a{0, 0, 10, 10};
  paint(ids, a, 26000);
  // (0.9, 1), (0.9, 0): one unique score with p = 1/2, r = 1; artificial point p = 1, r = 0; widths [.5, .5]
  // -> .25 + .5 = .75. (The top-score tie is the only case where p_n = 1 differs from p_n = p_{n-1}, which
  // would give .5.)
  expect_row(evaluate_scene(ids, {{26, 0.9, a}, {26, 0.9, a}}), kCar, all_of(0.75));
}

TEST(InstanceAp, MissedInstanceIsAHardFalseNegative) {
  cv::Mat ids = scene(64, 64);
  paint(ids, {0, 0, 10, 10}, 26000);
  paint(ids, {20, 20, 10, 10}, 26001);
  // (0.9, 1) with one hard FN: p = [1, 1], r = [.5, 0], widths [.25, .25] -> .5.
  expect_row(evaluate_scene(ids, {{26, 0.9, {0, 0, 10, 10}}}), kCar, all_of(0.5));
}

TEST(InstanceAp, ThresholdIsStrictAgainstTheExactDoubles) {
  cv::Mat ids = scene(64, 64);
  paint(ids, {0, 0, 10, 10}, 26000);
  // IoU = 60 / 100 = 0.6 (the double 0.59999999999999998): > 0.55 but not > 0.6000000000000001.
  // Unmatched: GT hard FN + prediction FP -> p = [0, 1], r = [0, 0] -> 0.
  const auto r = evaluate_scene(ids, {{26, 0.9, {0, 0, 10, 6}}});
  expect_row(r, kCar, {1, 1, 0, 0, 0, 0, 0, 0, 0, 0});
  EXPECT_NEAR(r.class_ap[kCar], 0.2, 1e-15);
  EXPECT_EQ(r.class_ap50[kCar], 1.0);
  EXPECT_NEAR(r.ap, 0.2, 1e-15);
  EXPECT_EQ(r.ap50, 1.0);
  // IoU = 50 / 100 is exactly the first threshold 0.5: not > 0.5, so never matched.
  expect_row(evaluate_scene(ids, {{26, 0.9, {0, 0, 10, 5}}}), kCar, all_of(0.0));
  // The same strict test decides whether a prediction is a false positive: next to a TP at 0.5 on a second car,
  // sorted (0.5, 1), (0.9, 0) with one hard FN: p = [1/2, 0, 1], r = [1/2, 0, 0], widths [1/4, 1/4, 0] -> 1/8.
  paint(ids, {20, 20, 10, 10}, 26001);
  expect_row(evaluate_scene(ids, {{26, 0.9, {0, 0, 10, 5}}, {26, 0.5, {20, 20, 10, 10}}}), kCar, all_of(0.125));
}

// A kept car (100 px, TP at 0.5) plus one more car prediction at 0.9 on `box`: 1 if that prediction is ignored;
// if it is a false positive, sorted (0.5, 1), (0.9, 0): p = [.5, 0, 1], r = [1, 0, 0], widths [.5, .5, 0] -> .25.
InstanceApResult with_extra_prediction(const cv::Mat& base, const cv::Rect& box,
                                       InstanceOverlap overlap = InstanceOverlap::kMask) {
  cv::Mat ids = base.clone();
  paint(ids, {0, 0, 10, 10}, 26000);
  return evaluate_scene(ids, {{26, 0.5, {0, 0, 10, 10}}, {26, 0.9, box}}, overlap);
}

TEST(InstanceAp, PredictionOnRoadIsAFalsePositive) {
  expect_row(with_extra_prediction(scene(64, 64), {40, 40, 10, 10}), kCar, all_of(0.25));
}

TEST(InstanceAp, PredictionOnAGroupRegionIsIgnored) {
  cv::Mat ids = scene(64, 64);
  paint(ids, {40, 40, 10, 10}, kCarGroup);
  expect_row(with_extra_prediction(ids, {40, 40, 10, 10}), kCar, all_of(1.0));
}

TEST(InstanceAp, PredictionMostlyOnVoidIsIgnoredUpToTheThreshold) {
  cv::Mat ids = scene(64, 64);
  paint(ids, {40, 40, 10, 6}, kUnlabeled);
  // 60 of 100 px on void: 0.6 > 0.5, 0.55 -> ignored; 0.6 <= 0.6000000000000001 -> false positive.
  expect_row(with_extra_prediction(ids, {40, 40, 10, 10}), kCar, {1, 1, .25, .25, .25, .25, .25, .25, .25, .25});
}

TEST(InstanceAp, IgnoreShareEqualToTheThresholdIsAFalsePositive) {
  cv::Mat ids = scene(64, 64);
  paint(ids, {40, 40, 10, 5}, kUnlabeled);
  // 50 of 100 px on void: 0.5 <= 0.5 -> false positive at every threshold.
  expect_row(with_extra_prediction(ids, {40, 40, 10, 10}), kCar, all_of(0.25));
}

TEST(InstanceAp, SmallGtIsNeitherMatchNorMissAndItsPredictionIsIgnored) {
  cv::Mat ids = scene(64, 64);
  paint(ids, {40, 40, 10, 5}, 26001);  // 50 px < min_region_size 100
  expect_row(with_extra_prediction(ids, {40, 40, 10, 5}), kCar, all_of(1.0));
  // Without its prediction the small GT is no hard false negative either (that would give 0.5).
  paint(ids, {0, 0, 10, 10}, 26000);
  expect_row(evaluate_scene(ids, {{26, 0.5, {0, 0, 10, 10}}}), kCar, all_of(1.0));
}

TEST(InstanceAp, SmallGroupRegionCountsTwiceAsIgnore) {
  cv::Mat ids = scene(64, 64);
  paint(ids, {40, 40, 10, 4}, kCarGroup);  // 40 px: a group region and small
  // Ignore = 40 + 40 = 80 of 100 px: ignored while 0.8 > t (up to 0.7500000000000002), then a false positive.
  // Counted once (0.4) it would be a false positive at every threshold.
  expect_row(with_extra_prediction(ids, {40, 40, 10, 10}), kCar, {1, 1, 1, 1, 1, 1, .25, .25, .25, .25});
}

TEST(InstanceAp, NothingCountableGivesZeroWhereTheReferenceCrashes) {
  cv::Mat ids = scene(64, 64);
  paint(ids, {0, 0, 10, 10}, 26000);
  paint(ids, {40, 40, 10, 10}, kUnlabeled);
  // GT unmatched, the only prediction ignored: no entries; upstream raises IndexError (metrics.md §8 #2).
  expect_row(evaluate_scene(ids, {{26, 0.9, {40, 40, 10, 10}}}), kCar, all_of(0.0));
}

TEST(InstanceAp, EmptyInputIsAllNaN) {
  const auto r = evaluate_instance_ap({}, InstanceOverlap::kMask);
  EXPECT_TRUE(std::isnan(r.ap));
  EXPECT_TRUE(std::isnan(r.ap50));
  EXPECT_TRUE(std::isnan(r.class_ap[kCar]));
}

TEST(InstanceAp, ImagesArePooledPerClass) {
  cv::Mat one = scene(64, 64), two = scene(64, 64);
  paint(one, {0, 0, 10, 10}, 26000);
  paint(two, {0, 0, 10, 10}, 26000);
  // Image 1: TP at 0.9; image 2: missed -> the hard-FN curve of MissedInstanceIsAHardFalseNegative.
  const auto r =
      evaluate_instance_ap({match(one, {{26, 0.9, {0, 0, 10, 10}}}), match(two, {})}, InstanceOverlap::kMask);
  expect_row(r, kCar, all_of(0.5));
}

TEST(InstanceBoundaryAp, ShiftedSquarePassesByMaskButNotByBoundary) {
  cv::Mat ids = scene(200, 300);  // d = 2
  paint(ids, {50, 50, 20, 20}, 26000);
  const std::vector<Pred> preds = {{26, 0.9, {52, 50, 20, 20}}};
  // Mask IoU 360 / 440 = 0.818: matched up to 0.8000000000000003.
  expect_row(evaluate_scene(ids, preds), kCar, {1, 1, 1, 1, 1, 1, 1, 0, 0, 0});
  // Boundary IoU 72 / (144 + 144 - 72) = 1/3 -> min(0.818, 1/3) never passes.
  expect_row(evaluate_scene(ids, preds, InstanceOverlap::kBoundary), kCar, all_of(0.0));
}

TEST(InstanceBoundaryAp, IgnoreCountsOnlyGroupsWhoseBandMeetsThePredictionBand) {
  cv::Mat ids = scene(200, 300);  // d = 2
  paint(ids, {100, 100, 30, 30}, kCarGroup);
  // The extra prediction lies deep inside the group region: mask intersection 100, band intersection 0.
  const cv::Rect inside{110, 110, 10, 10};
  cv::Mat with_car = ids.clone();
  paint(with_car, {0, 0, 10, 10}, 26000);
  const auto m = match(with_car, {{26, 0.9, inside}});
  ASSERT_EQ(m.predictions[0].matches.size(), 1u);
  EXPECT_EQ(m.predictions[0].matches[0].intersection, 100);
  EXPECT_EQ(m.predictions[0].matches[0].boundary_intersection, 0);
  // Mask AP: fully on a group region -> ignored. Boundary AP: the pair is not recorded, so nothing is ignored
  // and the prediction is a false positive.
  expect_row(with_extra_prediction(ids, inside), kCar, all_of(1.0));
  expect_row(with_extra_prediction(ids, inside, InstanceOverlap::kBoundary), kCar, all_of(0.25));
}

TEST(InstanceBoundaryAp, RequiresBoundaryCounts) {
  cv::Mat ids = scene(64, 64);
  paint(ids, {0, 0, 10, 10}, 26000);
  const auto m = match(ids, {{26, 0.9, {0, 0, 10, 10}}}, /*boundary=*/false);
  EXPECT_FALSE(m.has_boundary);
  EXPECT_EQ(m.gts[0].boundary_count, 0);
  expect_row(evaluate_instance_ap({m}, InstanceOverlap::kMask), kCar, all_of(1.0));
  BOUNDSEG_EXPECT_THROWS_WITH(evaluate_instance_ap({m}, InstanceOverlap::kBoundary),
                              "boundseg evaluate_instance_ap: images[0] must carry boundary counts");
}

TEST(InstanceAp, RejectsInconsistentMatches) {
  InstanceImageMatches m;
  m.gts.push_back({26000, 26, 100, 0});
  InstanceImageMatches::Prediction p;
  p.label_id = 26;
  p.pixel_count = 100;
  p.matches.push_back({3, 50, 0});
  m.predictions.push_back(p);
  BOUNDSEG_EXPECT_THROWS_WITH(evaluate_instance_ap({m}, InstanceOverlap::kMask), "but got gt_index 3");
  m.predictions[0].matches[0].gt_index = 0;
  m.predictions[0].label_id = 24;
  BOUNDSEG_EXPECT_THROWS_WITH(evaluate_instance_ap({m}, InstanceOverlap::kMask),
                              "refer to GT of the prediction's class");
}

}  // namespace
}  // namespace boundseg::metrics
