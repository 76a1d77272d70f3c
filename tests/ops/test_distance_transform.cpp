// Per-segment exact EDT against a brute-force definition.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <random>

#include "boundseg/ops/distance_transform.h"
#include "reference/naive_boundary.h"
#include "support/golden.h"

namespace boundseg {
namespace {

TEST(SegmentDistanceTransform, MatchesBruteForceOnRandomMaps) {
  std::mt19937 rng(5);
  for (int trial = 0; trial < 40; ++trial) {
    const int h = 1 + rng() % 24, w = 1 + rng() % 24, classes = 1 + rng() % 4;
    const int block = 1 + rng() % 6;
    std::vector<int64_t> labels(h * w);
    std::vector<int64_t> seeds(((h + block - 1) / block) * ((w + block - 1) / block));
    for (auto& s : seeds) s = rng() % classes;
    const int bw = (w + block - 1) / block;
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x) labels[y * w + x] = seeds[(y / block) * bw + x / block];
    const auto expected = reference::segment_distance(labels, h, w);
    const at::Tensor got = ops::segment_distance_transform(at::from_blob(labels.data(), {h, w}, at::kLong));
    for (int i = 0; i < h * w; ++i) ASSERT_EQ(got.data_ptr<float>()[i], expected[i]) << "trial " << trial << " px " << i;
  }
}

TEST(SegmentDistanceTransform, SingleSegmentMeasuresToPhantomPixelLikeScipy) {
  const at::Tensor got = ops::segment_distance_transform(at::full({3, 4}, 7, at::kByte));
  EXPECT_FLOAT_EQ(got[0][0].item<float>(), 1.0f);
  EXPECT_FLOAT_EQ(got[2][3].item<float>(), std::sqrt(9.0f + 9.0f));
}

TEST(SegmentDistanceTransform, BorderIsNotABoundary) {
  at::Tensor labels = at::zeros({5, 5}, at::kInt);
  labels[4][4] = 1;
  const at::Tensor got = ops::segment_distance_transform(labels);
  EXPECT_FLOAT_EQ(got[0][0].item<float>(), std::sqrt(32.0f));
  EXPECT_FLOAT_EQ(got[4][4].item<float>(), 1.0f);
}

TEST(SegmentDistanceTransform, RejectsFloatLabels) {
  BOUNDSEG_EXPECT_THROWS_WITH(ops::segment_distance_transform(at::zeros({2, 2})), "integer label map");
}

}  // namespace
}  // namespace boundseg

namespace boundseg {
namespace {

// SegFix's instance GT generator (segfix.md §2.3) stores, for every pixel, the
// exact EDT to the nearest pixel of another instanceIds value, clipped at 250
// and truncated to uint8: the per-segment EDT of the remapped instance map.
TEST(GoldenSegmentDistanceTransform, MatchesSegFixInstanceDepth) {
  const auto dir = testing::golden_dir("segfix");
  const std::array<int, 19> valid = {7, 8, 11, 12, 13, 17, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 31, 32, 33};
  int checked = 0;
  for (const auto& input : testing::list_files(dir / "inputs", "_instanceIds.png")) {
    const std::string name = testing::strip_suffix(input, "_instanceIds.png");
    const cv::Mat ids = testing::read_png_fixture(input);
    ASSERT_EQ(ids.type(), CV_16UC1);
    at::Tensor labels = at::empty({ids.rows, ids.cols}, at::kInt);
    for (int y = 0; y < ids.rows; ++y)
      for (int x = 0; x < ids.cols; ++x) {
        int v = ids.at<uint16_t>(y, x);
        // Values below 256 that are not evaluated label ids become 255.
        if (v < 256 && std::find(valid.begin(), valid.end(), v) == valid.end()) v = 255;
        labels[y][x] = v;
      }
    const at::Tensor depth = ops::segment_distance_transform(labels).clamp_max(250.0f).to(at::kByte);
    const cv::Mat expected = testing::read_png_fixture(dir / "gt" / (name + "_instance_depth.png"));
    cv::Mat got(ids.rows, ids.cols, CV_8UC1, depth.contiguous().data_ptr());
    EXPECT_EQ(testing::count_mismatches(got, expected), 0) << name;
    ++checked;
  }
  std::cout << "[ golden   ] segfix instance depth (segment EDT): " << checked << " cases checked\n";
  EXPECT_GT(checked, 0) << "no instanceIds inputs found in " << dir / "inputs";
}

}  // namespace
}  // namespace boundseg
