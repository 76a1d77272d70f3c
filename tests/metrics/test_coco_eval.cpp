// COCO RLE and COCOeval mask / Boundary AP: boundary-iou-api goldens, hand-derived cases, brute force.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "boundseg/io/coco_rle.h"
#include "boundseg/metrics/coco_eval.h"
#include "boundseg/ops/boundary_kernels.h"
#include "support/golden.h"

namespace boundseg::metrics {
namespace {

using nlohmann::json;
using testing::golden_dir;
using testing::read_json;
using io::Rle;
using io::rle_area;
using io::rle_bbox;
using io::rle_decode;
using io::rle_encode;
using io::rle_from_polygon;
using io::rle_from_string;
using io::rle_to_string;

// --- helpers --------------------------------------------------------------------------------------------------

// Straightforward column-major run lengths (formats.md §5), the definition rle_encode must follow.
std::vector<uint32_t> naive_counts(const cv::Mat& mask) {
  std::vector<uint8_t> flat;
  for (int x = 0; x < mask.cols; ++x)
    for (int y = 0; y < mask.rows; ++y) flat.push_back(mask.at<uint8_t>(y, x) != 0);
  std::vector<uint32_t> counts;
  uint8_t value = 0;
  uint32_t run = 0;
  for (uint8_t p : flat) {
    if (p != value) {
      counts.push_back(run);
      run = 0;
      value = p;
    }
    ++run;
  }
  counts.push_back(run);
  return counts;
}

cv::Mat random_mask(std::mt19937& rng, int h, int w) {
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  const int kind = std::uniform_int_distribution<int>(0, 3)(rng);
  cv::Mat m(h, w, CV_8UC1);
  if (kind == 0) {  // independent pixels of a random density: many short runs
    const double density = unit(rng);
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x) m.at<uint8_t>(y, x) = unit(rng) < density ? 1 : 0;
  } else {  // a few rectangles (long runs, growing and shrinking counts), values 0/255 to test "non-zero = 1"
    m.setTo(0);
    const int n = std::uniform_int_distribution<int>(0, 4)(rng);
    for (int i = 0; i < n; ++i) {
      const int x0 = std::uniform_int_distribution<int>(0, w - 1)(rng);
      const int y0 = std::uniform_int_distribution<int>(0, h - 1)(rng);
      const int x1 = std::uniform_int_distribution<int>(x0, w - 1)(rng);
      const int y1 = std::uniform_int_distribution<int>(y0, h - 1)(rng);
      m(cv::Range(y0, y1 + 1), cv::Range(x0, x1 + 1)).setTo(kind == 3 ? 255 : 1);
    }
  }
  return m;
}

cv::Mat box_mask(int h, int w, int x, int y, int bw, int bh) {
  cv::Mat m = cv::Mat::zeros(h, w, CV_8UC1);
  m(cv::Rect(x, y, bw, bh)).setTo(1);
  return m;
}

cv::Mat as_binary(const cv::Mat& m) {
  cv::Mat b;
  cv::compare(m, 0, b, cv::CMP_NE);
  b /= 255;
  return b;
}

json rle_json(const cv::Mat& mask) {
  const Rle r = rle_encode(mask);
  return json{{"size", {r.height, r.width}}, {"counts", rle_to_string(r)}};
}

json gt_annotation(int64_t id, int64_t image, int64_t category, const json& segmentation, double area,
                   int crowd = 0) {
  return json{{"id", id},     {"image_id", image}, {"category_id", category}, {"segmentation", segmentation},
              {"area", area}, {"iscrowd", crowd}};
}

json gt_annotation(int64_t id, int64_t image, int64_t category, const cv::Mat& mask, int crowd = 0) {
  return gt_annotation(id, image, category, rle_json(mask), cv::countNonZero(mask), crowd);
}

json detection(int64_t image, int64_t category, const cv::Mat& mask, double score) {
  return json{{"image_id", image}, {"category_id", category}, {"segmentation", rle_json(mask)}, {"score", score}};
}

// A JSON array of `items` (a braced list of one json would copy it instead of making an array).
json list(const std::vector<json>& items) { return json(items); }

json ground_truth(int h, int w, const std::vector<json>& annotations, int num_images = 1) {
  json images = json::array();
  for (int i = 1; i <= num_images; ++i) images.push_back({{"id", i}, {"height", h}, {"width", w}});
  return json{{"images", images},
              {"categories", json::array({json{{"id", 1}, {"name", "thing"}}})},
              {"annotations", list(annotations)}};
}

constexpr double kOne = 1.0;  // AP of a perfect ranking is 1/(1+eps) in the reference: compare with 1e-12

// --- golden: boundary-iou-api on the synthetic scenes (MANIFEST case coco_boundary_ap) --------------------------

void expect_matches_golden(CocoIouType type, const std::string& name) {
  const auto dir = golden_dir("metrics");
  const json gt = read_json(dir / "coco_gt.json");
  const json dt = read_json(dir / "coco_dt.json");
  const json expected = read_json(dir / "coco_boundary_ap.json");
  CocoEvalOptions options;
  options.iou_type = type;
  options.dilation_ratio = expected["dilation_ratio"].get<double>();
  const CocoEvalResult result = coco_evaluate(gt, dt, options);

  testing::CaseCount cases("summary stats and (image, category) IoU matrices of coco_boundary_ap.json");
  const json& stats = expected[name]["stats"];
  ASSERT_EQ(stats.size(), 12u);
  cases.add(static_cast<int64_t>(stats.size()));
  for (size_t i = 0; i < 12; ++i)
    EXPECT_NEAR(result.stats[i], stats[i].get<double>(), 1e-9) << name << " " << expected["stats_names"][i];

  const json& ious = expected[name]["ious"];
  EXPECT_EQ(result.ious.size(), ious.size()) << name;
  for (const auto& [key, matrix] : ious.items()) {
    const size_t sep = key.find('_');
    const std::pair<int64_t, int64_t> id{std::stoll(key.substr(0, sep)), std::stoll(key.substr(sep + 1))};
    const auto it = result.ious.find(id);
    ASSERT_NE(it, result.ious.end()) << name << " " << key;
    ASSERT_EQ(it->second.size(), matrix.size()) << name << " " << key;
    for (size_t d = 0; d < matrix.size(); ++d) {
      ASSERT_EQ(it->second[d].size(), matrix[d].size()) << name << " " << key;
      for (size_t g = 0; g < matrix[d].size(); ++g)
        EXPECT_NEAR(it->second[d][g], matrix[d][g].get<double>(), 1e-12) << name << " " << key << " " << d << "," << g;
    }
    cases.add();
  }
}

TEST(GoldenCocoEval, SegmMatchesReference) { expect_matches_golden(CocoIouType::kSegm, "segm"); }

TEST(GoldenCocoEval, BoundaryMatchesReference) { expect_matches_golden(CocoIouType::kBoundary, "boundary"); }

// --- RLE ---------------------------------------------------------------------------------------------------------

TEST(CocoRle, FormatsExampleEncodesToKnownString) {
  // formats.md §5: 4x5 mask, rows 1-2 and columns 1-3 set.
  cv::Mat mask = cv::Mat::zeros(4, 5, CV_8UC1);
  mask(cv::Range(1, 3), cv::Range(1, 4)).setTo(1);
  const Rle rle = rle_encode(mask);
  EXPECT_EQ(rle.height, 4);
  EXPECT_EQ(rle.width, 5);
  EXPECT_EQ(rle.counts, (std::vector<uint32_t>{5, 2, 2, 2, 2, 2, 5}));
  EXPECT_EQ(rle_to_string(rle), "5220003");
  const Rle back = rle_from_string("5220003", 4, 5);
  EXPECT_EQ(back.counts, rle.counts);
  EXPECT_EQ(testing::count_mismatches(rle_decode(back), mask), 0);
}

TEST(CocoRle, MultiCharacterAndNegativeDeltasByHand) {
  // 40 = 0b01000 + 1 << 5: low group 8 with the continuation bit (8 | 32) + 48 = 'X', then 1 + 48 = '1'.
  const Rle zeros = rle_encode(cv::Mat::zeros(5, 8, CV_8UC1));
  EXPECT_EQ(zeros.counts, (std::vector<uint32_t>{40}));
  EXPECT_EQ(rle_to_string(zeros), "X1");
  EXPECT_EQ(rle_from_string("X1", 5, 8).counts, zeros.counts);
  // 1x6 mask 0 1 1 1 0 1 -> counts [1, 3, 1, 1]; index 3 stores 1 - 3 = -2: group 30 (sign bit 16 set, no
  // continuation) -> 30 + 48 = 'N'. Index 2 is stored as is (the i > 2 rule).
  const cv::Mat row = (cv::Mat_<uint8_t>(1, 6) << 0, 1, 1, 1, 0, 1);
  const Rle rle = rle_encode(row);
  EXPECT_EQ(rle.counts, (std::vector<uint32_t>{1, 3, 1, 1}));
  EXPECT_EQ(rle_to_string(rle), "131N");
  EXPECT_EQ(rle_from_string("131N", 1, 6).counts, rle.counts);
}

TEST(CocoRle, StringRoundTripOnRandomMasks) {
  std::mt19937 rng(2024);
  const std::vector<std::pair<int, int>> sizes = {{1, 1}, {1, 17}, {17, 1}, {2, 2}, {37, 53}, {75, 100}, {256, 300}};
  for (int trial = 0; trial < 120; ++trial) {
    const auto [h, w] = sizes[trial % sizes.size()];
    const cv::Mat mask = random_mask(rng, h, w);
    const Rle rle = rle_encode(mask);
    ASSERT_EQ(rle.counts, naive_counts(mask)) << trial;
    const std::string s = rle_to_string(rle);
    for (char c : s) ASSERT_TRUE(c >= 48 && c < 112) << trial;
    const Rle back = rle_from_string(s, h, w);
    ASSERT_EQ(back.counts, rle.counts) << trial;
    EXPECT_EQ(testing::count_mismatches(rle_decode(back), as_binary(mask)), 0) << trial;
  }
}

TEST(CocoRle, AreaAndBboxMatchBruteForce) {
  std::mt19937 rng(7);
  for (int trial = 0; trial < 100; ++trial) {
    const int h = std::uniform_int_distribution<int>(1, 60)(rng);
    const int w = std::uniform_int_distribution<int>(1, 60)(rng);
    const cv::Mat mask = random_mask(rng, h, w);
    const Rle rle = rle_encode(mask);
    EXPECT_EQ(rle_area(rle), cv::countNonZero(mask)) << trial;
    int x0 = w, y0 = h, x1 = -1, y1 = -1;
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x)
        if (mask.at<uint8_t>(y, x)) {
          x0 = std::min(x0, x), x1 = std::max(x1, x), y0 = std::min(y0, y), y1 = std::max(y1, y);
        }
    const std::array<double, 4> expected =
        x1 < 0 ? std::array<double, 4>{0, 0, 0, 0}
               : std::array<double, 4>{double(x0), double(y0), double(x1 - x0 + 1), double(y1 - y0 + 1)};
    EXPECT_EQ(rle_bbox(rle), expected) << trial;
  }
}

TEST(CocoRle, EmptyAndFullMasks) {
  const Rle empty = rle_encode(cv::Mat::zeros(3, 4, CV_8UC1));
  EXPECT_EQ(empty.counts, (std::vector<uint32_t>{12}));
  EXPECT_EQ(rle_area(empty), 0);
  EXPECT_EQ(rle_bbox(empty), (std::array<double, 4>{0, 0, 0, 0}));
  const Rle full = rle_encode(cv::Mat::ones(3, 4, CV_8UC1));
  EXPECT_EQ(full.counts, (std::vector<uint32_t>{0, 12}));  // zeros first, so a leading empty run
  EXPECT_EQ(rle_area(full), 12);
  EXPECT_EQ(rle_bbox(full), (std::array<double, 4>{0, 0, 4, 3}));
}

TEST(CocoRle, PolygonRectangleByHand) {
  // rleFrPoly on the rectangle (2,1)-(5,4) in a 6x8 image (h = 6): vertices x5 -> (10,5) (25,5) (25,20) (10,20).
  // The top edge crosses the pixel-column centres 2, 3, 4 at fine y 5 -> row ceil(5.5/5 - .5) = 1; the bottom
  // edge at fine y 20 -> row ceil(20.5/5 - .5) = 4. Positions x*6+y: 13 19 25 and 16 22 28, plus h*w = 48:
  // runs 13 3 3 3 3 3 20, i.e. columns 2..4 x rows 1..3 (the half-open box [2,5) x [1,4)).
  const Rle rle = rle_from_polygon({2, 1, 5, 1, 5, 4, 2, 4}, 6, 8);
  EXPECT_EQ(rle.counts, (std::vector<uint32_t>{13, 3, 3, 3, 3, 3, 20}));
  EXPECT_EQ(testing::count_mismatches(rle_decode(rle), box_mask(6, 8, 2, 1, 3, 3)), 0);
}

TEST(CocoRle, PolygonRectanglesCoverHalfOpenBoxes) {
  // Generalises the hand derivation: an integer-corner rectangle covers [x0, x1) x [y0, y1) whatever the
  // vertex order; parts beyond the right/bottom edge are clipped (columns > w-1 dropped, rows clamped to h).
  std::mt19937 rng(11);
  for (int trial = 0; trial < 60; ++trial) {
    const int h = 30, w = 40;
    const int x0 = std::uniform_int_distribution<int>(0, w - 2)(rng);
    const int y0 = std::uniform_int_distribution<int>(0, h - 2)(rng);
    const int x1 = std::uniform_int_distribution<int>(x0 + 1, w + 5)(rng);
    const int y1 = std::uniform_int_distribution<int>(y0 + 1, h + 5)(rng);
    std::vector<double> xy = {double(x0), double(y0), double(x1), double(y0), double(x1), double(y1),
                              double(x0), double(y1)};
    if (trial % 2)  // clockwise in image coordinates instead of counter-clockwise
      xy = {double(x0), double(y0), double(x0), double(y1), double(x1), double(y1), double(x1), double(y0)};
    const cv::Mat expected = box_mask(h, w, x0, y0, std::min(x1, w) - x0, std::min(y1, h) - y0);
    EXPECT_EQ(testing::count_mismatches(rle_decode(rle_from_polygon(xy, h, w)), expected), 0)
        << x0 << "," << y0 << " " << x1 << "," << y1;
  }
}

TEST(CocoRle, RejectsMalformedInput) {
  BOUNDSEG_EXPECT_THROWS_WITH(rle_from_string("52z0003", 4, 5), "character 'z' at position 2");
  BOUNDSEG_EXPECT_THROWS_WITH(rle_from_string("5220003X", 4, 5), "ends inside a count");
  BOUNDSEG_EXPECT_THROWS_WITH(rle_from_string("5220003", 4, 4), "sum to height * width = 16");
  BOUNDSEG_EXPECT_THROWS_WITH(rle_decode(Rle{2, 2, {1, 2}}), "counts summing to 3");
  BOUNDSEG_EXPECT_THROWS_WITH(rle_decode(Rle{2, 2, {}}), "no counts");
  BOUNDSEG_EXPECT_THROWS_WITH(rle_encode(cv::Mat::zeros(3, 3, CV_32FC1)), "CV_8UC1");
  BOUNDSEG_EXPECT_THROWS_WITH(rle_from_polygon({1, 2, 3, 4, 5}, 10, 10), "a list of 5 numbers");
  BOUNDSEG_EXPECT_THROWS_WITH(rle_from_polygon({1, 2, 3, std::nan(""), 5, 6}, 10, 10), "must be finite");
  BOUNDSEG_EXPECT_THROWS_WITH(rle_from_polygon({1, 2, 3, 4, 5, 6}, 0, 10), "be at least 1 x 1");
}

// --- COCOeval semantics -----------------------------------------------------------------------------------------

TEST(CocoEval, PerfectDetectionsScoreOneAndEmptyAreasMinusOne) {
  // A small (100 px) and a medium (1600 px) object, both detected exactly; no large GT. maxDets = 1 keeps only
  // the top DT, so AR1 = 1/2.
  const int h = 64, w = 64;
  const cv::Mat small = box_mask(h, w, 2, 2, 10, 10), medium = box_mask(h, w, 20, 20, 40, 40);
  const json gt = ground_truth(h, w, {gt_annotation(1, 1, 1, small), gt_annotation(2, 1, 1, medium)});
  const json dt = list({detection(1, 1, small, 0.9), detection(1, 1, medium, 0.8)});
  const auto s = coco_evaluate(gt, dt).stats;
  for (int i : {0, 1, 2, 3, 4}) EXPECT_NEAR(s[i], kOne, 1e-12) << i;
  EXPECT_EQ(s[5], -1.0);
  EXPECT_EQ(s[6], 0.5);
  for (int i : {7, 8, 9, 10}) EXPECT_EQ(s[i], 1.0) << i;
  EXPECT_EQ(s[11], -1.0);
}

TEST(CocoEval, NoGroundTruthGivesMinusOne) {
  const json gt = ground_truth(16, 16, {});
  const json dt = list({detection(1, 1, box_mask(16, 16, 1, 1, 4, 4), 0.5)});
  const auto r = coco_evaluate(gt, dt);
  for (double v : r.stats) EXPECT_EQ(v, -1.0);
  EXPECT_TRUE(r.ious.empty());  // pairs with GT or DT missing have no IoU matrix
}

json crowd_case(int crowd) {
  const int h = 64, w = 64;
  const cv::Mat a = box_mask(h, w, 2, 2, 10, 10), region = box_mask(h, w, 30, 30, 30, 30);
  const json gt = ground_truth(h, w, {gt_annotation(1, 1, 1, a), gt_annotation(2, 1, 1, region, crowd)});
  return gt;
}

TEST(CocoEval, CrowdRegionAbsorbsDetectionsInside) {
  const cv::Mat a = box_mask(64, 64, 2, 2, 10, 10), inside = box_mask(64, 64, 35, 35, 6, 6);
  const json dt = list({detection(1, 1, inside, 0.9), detection(1, 1, a, 0.8)});
  // Crowd: IoU = |d & g| / |d| = 1, the DT is matched to an ignored GT and drops out; the ranking is perfect.
  const auto crowd = coco_evaluate(crowd_case(1), dt);
  const auto& m = crowd.ious.at({1, 1});
  EXPECT_EQ(m[0][1], 1.0);
  EXPECT_EQ(m[0][0], 0.0);
  EXPECT_EQ(m[1][0], 1.0);
  EXPECT_NEAR(crowd.stats[0], kOne, 1e-12);
  // Not crowd: IoU 36/900 < 0.5, a false positive ranked first and the region is a miss: precision 1/2 up to
  // recall 1/2, i.e. 51 of the 101 recall points, at every threshold.
  const auto plain = coco_evaluate(crowd_case(0), dt);
  EXPECT_DOUBLE_EQ(plain.ious.at({1, 1})[0][1], 36.0 / 900.0);
  EXPECT_NEAR(plain.stats[0], 0.5 * 51.0 / 101.0, 1e-12);
  EXPECT_EQ(plain.stats[8], 0.5);
}

TEST(CocoEval, BoundaryIouIsMinOfMaskAndBandIou) {
  // 60x80: diagonal 100, d = round(0.02 * 100) = 2. Expected values by brute force on full images.
  const int h = 60, w = 80;
  const std::vector<cv::Mat> gts = {box_mask(h, w, 10, 10, 30, 20), box_mask(h, w, 50, 5, 25, 40)};
  const std::vector<int> crowd = {0, 1};
  std::vector<cv::Mat> dts = {box_mask(h, w, 12, 11, 30, 20), box_mask(h, w, 55, 10, 10, 10),
                              box_mask(h, w, 8, 8, 36, 26)};
  dts[2](cv::Rect(20, 15, 8, 8)).setTo(0);  // a hole: interior boundary
  std::vector<json> anns;
  for (size_t g = 0; g < gts.size(); ++g) anns.push_back(gt_annotation(int64_t(g) + 1, 1, 1, gts[g], crowd[g]));
  json results = json::array();
  for (size_t d = 0; d < dts.size(); ++d) results.push_back(detection(1, 1, dts[d], 0.9 - 0.1 * double(d)));
  CocoEvalOptions options;
  options.iou_type = CocoIouType::kBoundary;
  const auto boundary = coco_evaluate(ground_truth(h, w, anns), results, options).ious.at({1, 1});
  const auto segm = coco_evaluate(ground_truth(h, w, anns), results).ious.at({1, 1});

  const int64_t d = detail::band_width(0.02, h, w);
  ASSERT_EQ(d, 2);
  auto band = [&](const cv::Mat& m) {
    cv::Mat out(h, w, CV_8UC1);
    detail::mask_to_boundary(m.ptr<uint8_t>(), out.ptr<uint8_t>(), h, w, d);
    return out;
  };
  auto iou = [](const cv::Mat& a, const cv::Mat& b, bool is_crowd) {
    const int inter = cv::countNonZero(a & b);
    if (inter == 0) return 0.0;
    return double(inter) / double(is_crowd ? cv::countNonZero(a) : cv::countNonZero(a | b));
  };
  int lowered = 0;
  for (size_t i = 0; i < dts.size(); ++i)
    for (size_t g = 0; g < gts.size(); ++g) {
      const double mask_iou = iou(dts[i], gts[g], crowd[g]);
      const double expected = crowd[g] ? mask_iou : std::min(mask_iou, iou(band(dts[i]), band(gts[g]), false));
      EXPECT_DOUBLE_EQ(segm[i][g], mask_iou) << i << "," << g;
      EXPECT_DOUBLE_EQ(boundary[i][g], expected) << i << "," << g;
      lowered += expected < mask_iou;
    }
  EXPECT_GE(lowered, 2);  // the case really exercises the band
}

TEST(CocoEval, EqualScoresKeepResultOrder) {
  const int h = 32, w = 32;
  const cv::Mat a = box_mask(h, w, 0, 0, 10, 10), b = box_mask(h, w, 0, 0, 10, 5);
  const json gt = ground_truth(h, w, {gt_annotation(1, 1, 1, a)});
  const auto ab = coco_evaluate(gt, list({detection(1, 1, a, 0.5), detection(1, 1, b, 0.5)})).ious.at({1, 1});
  const auto ba = coco_evaluate(gt, list({detection(1, 1, b, 0.5), detection(1, 1, a, 0.5)})).ious.at({1, 1});
  EXPECT_EQ(ab[0][0], 1.0);
  EXPECT_EQ(ab[1][0], 0.5);
  EXPECT_EQ(ba[0][0], 0.5);
  EXPECT_EQ(ba[1][0], 1.0);
  // A higher score moves a later result first.
  const auto up = coco_evaluate(gt, list({detection(1, 1, b, 0.5), detection(1, 1, a, 0.6)})).ious.at({1, 1});
  EXPECT_EQ(up[0][0], 1.0);
}

TEST(CocoEval, GroundTruthAreaRangeUsesJsonArea) {
  // A 100 px mask whose 'area' field says 5000 is a medium object (the mask itself is never measured).
  const int h = 32, w = 32;
  const cv::Mat m = box_mask(h, w, 4, 4, 10, 10);
  const json gt = ground_truth(h, w, {gt_annotation(1, 1, 1, rle_json(m), 5000.0)});
  const auto s = coco_evaluate(gt, list({detection(1, 1, m, 0.7)})).stats;
  EXPECT_EQ(s[3], -1.0);
  EXPECT_NEAR(s[4], kOne, 1e-12);
  EXPECT_EQ(s[10], 1.0);
}

TEST(CocoEval, DetectionOutsideAreaRangeIsIgnoredOnlyWhenUnmatched) {
  // One small GT; an unmatched large DT scores first. In 'all' it is a false positive; in 'small' it is ignored.
  const int h = 128, w = 128;
  const cv::Mat small = box_mask(h, w, 2, 2, 10, 10), large = box_mask(h, w, 20, 20, 100, 100);
  const json gt = ground_truth(h, w, {gt_annotation(1, 1, 1, small)});
  const auto s = coco_evaluate(gt, list({detection(1, 1, large, 0.9), detection(1, 1, small, 0.8)})).stats;
  EXPECT_NEAR(s[0], 0.5, 1e-12);  // precision 1/2 at every recall point
  EXPECT_NEAR(s[3], kOne, 1e-12);
}

TEST(CocoEval, PolygonAndUncompressedGroundTruthMatchCompressed) {
  const int h = 20, w = 30;
  // Two polygons are merged into one mask (union); integer rectangles cover half-open boxes.
  const json polygons = {{2, 1, 8, 1, 8, 6, 2, 6}, {5, 4, 12, 4, 12, 9, 5, 9}};
  const cv::Mat union_mask = box_mask(h, w, 2, 1, 6, 5) | box_mask(h, w, 5, 4, 7, 5);
  const cv::Mat other = box_mask(h, w, 15, 3, 9, 12);
  json counts = json::array();
  for (uint32_t c : rle_encode(other).counts) counts.push_back(c);
  const json gt = ground_truth(h, w, {gt_annotation(1, 1, 1, polygons, 0.0 + cv::countNonZero(union_mask)),
                                      gt_annotation(2, 1, 1, json{{"size", {h, w}}, {"counts", counts}}, 108.0)});
  const auto r = coco_evaluate(gt, list({detection(1, 1, union_mask, 0.9), detection(1, 1, other, 0.8)}));
  const auto& m = r.ious.at({1, 1});
  EXPECT_EQ(m[0][0], 1.0);
  EXPECT_EQ(m[1][1], 1.0);
  EXPECT_EQ(m[0][1], 0.0);
  EXPECT_NEAR(r.stats[0], kOne, 1e-12);
}

TEST(CocoEval, IgnoreFieldAndUnknownCategories) {
  const int h = 16, w = 16;
  const cv::Mat m = box_mask(h, w, 2, 2, 5, 5);
  json ignored = gt_annotation(1, 1, 1, m);
  ignored["ignore"] = 1;
  // Category 9 is not listed: its GT and DT are left out, as COCOeval evaluates params.catIds only.
  const json gt = ground_truth(h, w, {ignored, gt_annotation(2, 1, 9, m)});
  const auto r = coco_evaluate(gt, list({detection(1, 1, m, 0.9), detection(1, 9, m, 0.9)}));
  for (double v : r.stats) EXPECT_EQ(v, -1.0);
  EXPECT_EQ(r.ious.size(), 1u);
}

TEST(CocoEval, RejectsMalformedEntries) {
  const int h = 16, w = 16;
  const cv::Mat m = box_mask(h, w, 2, 2, 5, 5);
  const json gt = ground_truth(h, w, {gt_annotation(1, 1, 1, m)});
  const json ok = list({detection(1, 1, m, 0.9)});
  BOUNDSEG_EXPECT_THROWS_WITH(coco_evaluate(gt, list({detection(7, 1, m, 0.9)})),
                              "detections[0].image_id must refer to an image of ground_truth.images, but got 7.");
  json no_score = ok;
  no_score[0].erase("score");
  BOUNDSEG_EXPECT_THROWS_WITH(coco_evaluate(gt, no_score), "detections[0] must have the field 'score'");
  BOUNDSEG_EXPECT_THROWS_WITH(coco_evaluate(gt, list({detection(1, 1, cv::Mat::zeros(8, 16, CV_8UC1), 0.9)})),
                              "detections[0].segmentation.size must equal the size [16, 16] of image 1");
  json bad_counts = ok;
  bad_counts[0]["segmentation"]["counts"] = "5220003";
  BOUNDSEG_EXPECT_THROWS_WITH(coco_evaluate(gt, bad_counts), "must sum to height * width = 256");
  BOUNDSEG_EXPECT_THROWS_WITH(coco_evaluate(gt, json::object()), "detections must be a JSON array");

  json no_area = gt;
  no_area["annotations"][0].erase("area");
  BOUNDSEG_EXPECT_THROWS_WITH(coco_evaluate(no_area, ok), "ground_truth.annotations[0] must have the field 'area'");
  json duplicate = gt;
  duplicate["annotations"].push_back(gt_annotation(1, 1, 1, m));
  BOUNDSEG_EXPECT_THROWS_WITH(coco_evaluate(duplicate, ok), "ground_truth.annotations[1].id must be unique");
  json orphan = gt;
  orphan["annotations"].push_back(gt_annotation(2, 5, 1, m));
  BOUNDSEG_EXPECT_THROWS_WITH(coco_evaluate(orphan, ok), "ground_truth.annotations[1].image_id must refer");
  json short_polygon = gt;
  short_polygon["annotations"][0]["segmentation"] = json::array({json::array({1, 1, 4, 4})});
  BOUNDSEG_EXPECT_THROWS_WITH(coco_evaluate(short_polygon, ok), "segmentation[0] must hold more than 4 numbers");
  json odd_polygon = gt;
  odd_polygon["annotations"][0]["segmentation"] = json::array({json::array({1, 1, 4, 1, 4, 4, 1})});
  BOUNDSEG_EXPECT_THROWS_WITH(coco_evaluate(odd_polygon, ok), "a list of 7 numbers");
  json bad_string = gt;
  bad_string["annotations"][0]["segmentation"]["counts"] = "5\x7f";
  BOUNDSEG_EXPECT_THROWS_WITH(coco_evaluate(bad_string, ok), "must be a COCO compressed RLE string");

  CocoEvalOptions options;
  options.dilation_ratio = -0.1;
  BOUNDSEG_EXPECT_THROWS_WITH(coco_evaluate(gt, ok, options), "'dilation_ratio' must be finite and >= 0");
}

}  // namespace
}  // namespace boundseg::metrics
