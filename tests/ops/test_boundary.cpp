// Boundary ops: golden parity (shared/golden/boundary), definitions, errors.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <random>

#include "boundseg/ops/boundary.h"
#include "boundseg/ops/boundary_kernels.h"
#include "reference/naive_boundary.h"
#include "support/golden.h"
#include "support/tensor_mat.h"

namespace boundseg {
namespace {

using testing::count_mismatches;
using testing::golden_dir;
using testing::read_png_fixture;
using testing::to_mat;
using testing::to_tensor;

TEST(GoldenBoundary, MaskToBoundaryMatchesReferenceBitExactly) {
  const auto dir = golden_dir("boundary");
  const auto index = testing::read_json(dir / "mask_to_boundary" / "index.json");
  testing::CaseCount cases("(mask, ratio) cases of mask_to_boundary/index.json");
  for (const auto& c : index) {
    const cv::Mat mask = read_png_fixture(dir / c["input"].get<std::string>());
    const cv::Mat expected = read_png_fixture(dir / c["output"].get<std::string>());
    const double ratio = c["ratio"].get<double>();
    EXPECT_EQ(ops::boundary_band_width(ratio, mask.rows, mask.cols), c["d"].get<int64_t>()) << c["input"];
    const cv::Mat band = to_mat(ops::mask_to_boundary(to_tensor(mask), ratio));
    EXPECT_EQ(count_mismatches(band, expected), 0) << c["output"];
    cases.add();
  }
}

// The label-map cases: every expected output in `subdir` names its input labels/<stem>.png.
TEST(GoldenBoundary, CblBoundaryTargetsMatchReference) {
  const auto dir = golden_dir("boundary");
  testing::CaseCount cases("label maps of cbl/");
  for (const auto& raw_file : testing::golden_files("boundary", "cbl", "_raw.png")) {
    const std::string& name = raw_file.stem;
    const cv::Mat labels = read_png_fixture(dir / "labels" / (name + ".png"));
    ops::CblBoundaryOptions raw;
    raw.mark_ignore = false;
    const cv::Mat expected_raw = read_png_fixture(raw_file.path);
    EXPECT_EQ(count_mismatches(to_mat(ops::cbl_boundary_targets(to_tensor(labels), raw)), expected_raw), 0) << name;
    const cv::Mat expected = read_png_fixture(dir / "cbl" / (name + "_boundary.png"));
    EXPECT_EQ(count_mismatches(to_mat(ops::cbl_boundary_targets(to_tensor(labels))), expected), 0) << name;
    cases.add();
  }
}

TEST(GoldenBoundary, InverseFormEdgesMatchReference) {
  const auto dir = golden_dir("boundary");
  testing::CaseCount cases("label maps of inverseform_edges/");
  for (const auto& edges : testing::golden_files("boundary", "inverseform_edges", ".png")) {
    const cv::Mat labels = read_png_fixture(dir / "labels" / (edges.stem + ".png"));
    const cv::Mat expected = read_png_fixture(edges.path);
    EXPECT_EQ(count_mismatches(to_mat(ops::inverseform_edges(to_tensor(labels))), expected), 0) << edges.stem;
    cases.add();
  }
}

TEST(GoldenBoundary, Seg2bmapMatchesReference) {
  const auto dir = golden_dir("boundary");
  testing::CaseCount cases("masks of seg2bmap/");
  for (const auto& bmap : testing::golden_files("boundary", "seg2bmap", ".png")) {
    // The inputs are masks of the mask_to_boundary case (MANIFEST.md).
    const cv::Mat mask = read_png_fixture(dir / "mask_to_boundary" / (bmap.stem + ".png"));
    const cv::Mat expected = read_png_fixture(bmap.path);
    EXPECT_EQ(count_mismatches(to_mat(ops::seg2bmap(to_tensor(mask))), expected), 0) << bmap.stem;
    cases.add();
  }
}

TEST(BoundaryBand, WidthRoundsHalfToEven) {
  EXPECT_EQ(ops::boundary_band_width(0.02, 75, 100), 2);    // 2.5 -> 2
  EXPECT_EQ(ops::boundary_band_width(0.02, 375, 500), 12);  // 12.5 -> 12
  EXPECT_EQ(ops::boundary_band_width(0.02, 1024, 2048), 46);
  EXPECT_EQ(ops::boundary_band_width(0.005, 1024, 2048), 11);
  EXPECT_EQ(ops::boundary_band_width(0.0, 10, 10), 1);
}

TEST(BoundaryBand, MaskToBoundaryMatchesDefinitionOnRandomMasks) {
  // Rows of 1..200 pixels (several 64-bit words), single rows and columns, and
  // bands wider than the image.
  std::mt19937 rng(7);
  for (int trial = 0; trial < 80; ++trial) {
    const int h = trial % 10 == 0 ? 1 : 1 + rng() % 40, w = trial % 10 == 1 ? 1 : 1 + rng() % 200;
    const double ratio = trial % 5 == 0 ? 1.0 : std::uniform_real_distribution<double>(0.0, 0.3)(rng);
    std::vector<uint8_t> mask(h * w);
    const int density = rng() % 100, scale = trial % 2 ? 1 : 255;
    // Blocky masks (runs of up to 90 px) so that whole words are uniform too.
    const int block = 1 + rng() % 90;
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x)
        mask[y * w + x] = (int((y / 3 * 131 + x / block * 71) % 100) < density) ? scale : 0;
    const int d = static_cast<int>(ops::boundary_band_width(ratio, h, w));
    const auto expected = reference::mask_band(mask, h, w, d);
    const at::Tensor band = ops::mask_to_boundary(at::from_blob(mask.data(), {h, w}, at::kByte), ratio);
    for (int i = 0; i < h * w; ++i)
      ASSERT_EQ(band.data_ptr<uint8_t>()[i], expected[i] * mask[i]) << trial << " " << i;
  }
}

TEST(BoundaryBand, MultiValuedMasksFollowTheReferenceSubtraction) {
  // mask - erode(mask), erosion = min over the (2d+1)^2 window, 0 outside.
  std::mt19937 rng(17);
  for (int trial = 0; trial < 20; ++trial) {
    const int h = 1 + rng() % 20, w = 1 + rng() % 90, d = 1 + rng() % 3;
    std::vector<uint8_t> mask(h * w);
    for (auto& v : mask) v = (rng() % 3 == 0) ? 0 : 1 + rng() % 4;
    std::vector<uint8_t> out(h * w);
    detail::mask_to_boundary(mask.data(), out.data(), h, w, d);
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x) {
        int lo = 255;
        for (int qy = y - d; qy <= y + d; ++qy)
          for (int qx = x - d; qx <= x + d; ++qx)
            lo = std::min<int>(lo, (qy < 0 || qy >= h || qx < 0 || qx >= w) ? 0 : mask[qy * w + qx]);
        ASSERT_EQ(out[y * w + x], mask[y * w + x] - lo) << trial;
      }
  }
}

TEST(BoundaryBand, LabelBandEqualsPerClassMaskBands) {
  std::mt19937 rng(11);
  for (int trial = 0; trial < 45; ++trial) {
    const int h = 2 + rng() % 30, w = 2 + rng() % 150, classes = 1 + rng() % 5;
    // Blocky maps so that bands are not everywhere.
    at::Tensor labels = at::randint(classes, {(h + 3) / 4, (w + 3) / 4}, at::kLong);
    labels = labels.repeat_interleave(4, 0).repeat_interleave(4, 1).slice(0, 0, h).slice(1, 0, w).contiguous();
    const double ratio = trial % 3 == 0 ? 0.05 : trial % 3 == 1 ? 0.3 : 1.0;  // 1.0: wider than the image
    const at::Tensor band = ops::label_boundary_band(labels, ratio);
    for (int c = 0; c < classes; ++c) {
      const at::Tensor per_class = ops::mask_to_boundary(labels.eq(c).to(at::kByte), ratio).to(at::kBool);
      ASSERT_TRUE(per_class.equal(band.logical_and(labels.eq(c)))) << trial << " class " << c;
    }
  }
}

TEST(BoundaryBand, BatchedInputEqualsPerPlaneAndNonContiguousIsAccepted) {
  at::Tensor masks = (at::rand({3, 20, 30}) > 0.4).to(at::kByte);
  const at::Tensor batched = ops::mask_to_boundary(masks, 0.1);
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(batched[i].equal(ops::mask_to_boundary(masks[i], 0.1)));
  const at::Tensor transposed = masks[0].t();
  EXPECT_TRUE(ops::mask_to_boundary(transposed, 0.1).equal(ops::mask_to_boundary(transposed.contiguous(), 0.1)));
}

TEST(BoundaryBand, RejectsBadInputWithClearMessages) {
  BOUNDSEG_EXPECT_THROWS_WITH(ops::mask_to_boundary(at::zeros({4, 4}, at::kFloat)),
                              "boundseg mask_to_boundary: 'mask' must be a uint8 mask, but got a 2-D Float tensor");
  BOUNDSEG_EXPECT_THROWS_WITH(ops::mask_to_boundary(at::zeros({1, 1, 4, 4}, at::kByte)), "must be a 2-D (H, W)");
  BOUNDSEG_EXPECT_THROWS_WITH(ops::mask_to_boundary(at::zeros({4, 4}, at::kByte), -0.1),
                              "'dilation_ratio' must be a finite number >= 0, but got -0.1");
  BOUNDSEG_EXPECT_THROWS_WITH(ops::inverseform_edges(at::zeros({4, 4}, at::kByte), {0}), "'num_classes' must be in");
  BOUNDSEG_EXPECT_THROWS_WITH(ops::label_boundary_band(at::zeros({4, 4}, at::kFloat)), "integer label map");
}

TEST(BoundaryBand, EmptyImagesGiveEmptyOutputs) {
  EXPECT_EQ(ops::mask_to_boundary(at::zeros({0, 5}, at::kByte)).numel(), 0);
  EXPECT_EQ(ops::seg2bmap(at::zeros({3, 0}, at::kByte)).numel(), 0);
}

}  // namespace
}  // namespace boundseg
