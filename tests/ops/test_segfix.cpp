// SegFix GT generation and training targets: spec tables, naive references, reference goldens (segfix.md §2, §3).
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "boundseg/io/safetensors.h"
#include "boundseg/ops/distance_transform.h"
#include "boundseg/ops/segfix.h"
#include "reference/naive_boundary.h"
#include "support/golden.h"
#include "support/tensor_mat.h"

namespace boundseg {
namespace {

// ---------------------------------------------------------------------------------------------------------------
// Slow references written straight from the spec.

// §2.2/§2.3 for one map: per segment a brute-force EDT of its mask, torch's conv of that masked field, then the
// angle in float32 (semantic) or double (instance).
struct NaiveGt {
  std::vector<uint8_t> depth, dir_deg;
};

// brute_force_edt = false takes the EDT of each mask from ops::segment_distance_transform (itself checked against
// brute force in test_distance_transform.cpp) for maps too large for the O((HW)^2) loop.
NaiveGt naive_gt(const std::vector<int64_t>& labels, int h, int w, bool semantic, int64_t ignore = 255,
                 int64_t min_pixels = 100, bool brute_force_edt = true) {
  NaiveGt out{std::vector<uint8_t>(h * w, 0), std::vector<uint8_t>(h * w, 0)};
  std::vector<double> gy(h * w, 0.0), gx(h * w, 0.0);
  std::vector<int64_t> values(labels);
  std::sort(values.begin(), values.end());
  values.erase(std::unique(values.begin(), values.end()), values.end());
  for (int64_t v : values) {
    std::vector<int64_t> mask(h * w);
    int64_t count = 0;
    for (int i = 0; i < h * w; ++i) count += mask[i] = labels[i] == v;
    if (semantic && (v == ignore || count < min_pixels)) continue;
    std::vector<float> d = brute_force_edt ? reference::segment_distance(mask, h, w) : std::vector<float>(h * w);
    if (!brute_force_edt) {
      const at::Tensor fast = ops::segment_distance_transform(at::from_blob(mask.data(), {h, w}, at::kLong));
      std::copy(fast.data_ptr<float>(), fast.data_ptr<float>() + h * w, d.begin());
    }
    at::Tensor field = at::zeros({1, 1, h, w});
    for (int i = 0; i < h * w; ++i)
      if (mask[i]) field.data_ptr<float>()[i] = d[i];
    const at::Tensor g = at::conv2d(field, ops::segfix_derivative_kernel(), {}, 1, 2).contiguous();
    for (int i = 0; i < h * w; ++i) {
      if (!mask[i]) continue;
      out.depth[i] = static_cast<uint8_t>(std::min(d[i], 250.0f));
      gy[i] = 0.0 + g.data_ptr<float>()[i];  // +0.0 + (-0.0) = +0.0, as the reference's accumulation
      gx[i] = 0.0 + g.data_ptr<float>()[h * w + i];
    }
  }
  for (int i = 0; i < h * w; ++i) {
    if (semantic) {
      const float deg = std::atan2(static_cast<float>(gy[i]), static_cast<float>(gx[i])) * 57.295776f;
      out.dir_deg[i] = static_cast<uint8_t>((deg + 180.0f) / 2.0f);
    } else {
      out.dir_deg[i] = static_cast<uint8_t>((std::atan2(gy[i], gx[i]) * (180.0 / M_PI) + 180.0) / 2.0);
    }
  }
  return out;
}

// Blocky random label maps: segments with straight edges, ridges and flat areas (exact cancellations).
std::vector<int64_t> random_blocks(std::mt19937& rng, int h, int w, int classes, int block) {
  const int bw = (w + block - 1) / block;
  std::vector<int64_t> seeds(((h + block - 1) / block) * bw);
  for (auto& s : seeds) s = rng() % classes;
  std::vector<int64_t> labels(h * w);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) labels[y * w + x] = seeds[(y / block) * bw + x / block];
  return labels;
}

at::Tensor as_tensor(std::vector<int64_t>& v, int h, int w) { return at::from_blob(v.data(), {h, w}, at::kLong); }

// §3.2 closed form: bin = ceil((angle + 180 - s/2) / s) mod N, s = 360 / N.
int64_t closed_form_bin(double angle, int64_t n) {
  const double s = 360.0 / n;
  const int64_t k = static_cast<int64_t>(std::ceil((angle + 180.0 - s / 2) / s));
  return ((k % n) + n) % n;
}

// ---------------------------------------------------------------------------------------------------------------

TEST(SegFixDerivativeKernel, MatchesSpecTable) {
  const float kx[5][5] = {{-.25f, -.2f, 0, .2f, .25f},
                          {-.4f, -.5f, 0, .5f, .4f},
                          {-.5f, -1, 0, 1, .5f},
                          {-.4f, -.5f, 0, .5f, .4f},
                          {-.25f, -.2f, 0, .2f, .25f}};
  const at::Tensor k = ops::segfix_derivative_kernel();
  ASSERT_EQ(k.sizes(), (at::IntArrayRef{2, 1, 5, 5}));
  ASSERT_EQ(k.scalar_type(), at::kFloat);
  for (int j = 0; j < 5; ++j)
    for (int i = 0; i < 5; ++i) {
      EXPECT_EQ(k[1][0][j][i].item<float>(), kx[j][i]) << "Kx tap " << j << "," << i;
      EXPECT_EQ(k[0][0][j][i].item<float>(), kx[i][j]) << "Ky tap " << j << "," << i;  // channel 0 = Ky = Kx^T
    }
}

TEST(SegFixSemanticGt, MatchesNaiveReferenceOnRandomMaps) {
  std::mt19937 rng(11);
  for (int trial = 0; trial < 12; ++trial) {
    const int h = 8 + rng() % 20, w = 8 + rng() % 20;
    std::vector<int64_t> labels = random_blocks(rng, h, w, 4, 2 + rng() % 5);
    for (auto& v : labels)
      if (v == 3) v = 255;  // one class is "ignore"
    const int64_t min_pixels = rng() % 60;
    const NaiveGt expected = naive_gt(labels, h, w, true, 255, min_pixels);
    const ops::SegFixGt got =
        ops::segfix_semantic_gt(as_tensor(labels, h, w), ops::SegFixSemanticGtOptions().min_pixels(min_pixels));
    ASSERT_EQ(got.depth.scalar_type(), at::kByte);
    ASSERT_EQ(got.dir_deg.sizes(), (at::IntArrayRef{h, w}));
    for (int i = 0; i < h * w; ++i) {
      ASSERT_EQ(got.depth.data_ptr<uint8_t>()[i], expected.depth[i]) << "trial " << trial << " px " << i;
      ASSERT_EQ(got.dir_deg.data_ptr<uint8_t>()[i], expected.dir_deg[i]) << "trial " << trial << " px " << i;
    }
  }
}

TEST(SegFixInstanceGt, MatchesNaiveReferenceOnRandomMaps) {
  std::mt19937 rng(12);
  for (int trial = 0; trial < 12; ++trial) {
    const int h = 8 + rng() % 20, w = 8 + rng() % 20;
    std::vector<int64_t> labels = random_blocks(rng, h, w, 6, 2 + rng() % 5);
    for (auto& v : labels) v = 26000 + v;  // instances only: the void merge leaves them alone
    const NaiveGt expected = naive_gt(labels, h, w, false);
    const ops::SegFixGt got = ops::segfix_instance_gt(as_tensor(labels, h, w));
    for (int i = 0; i < h * w; ++i) {
      ASSERT_EQ(got.depth.data_ptr<uint8_t>()[i], expected.depth[i]) << "trial " << trial << " px " << i;
      ASSERT_EQ(got.dir_deg.data_ptr<uint8_t>()[i], expected.dir_deg[i]) << "trial " << trial << " px " << i;
    }
  }
}

TEST(SegFixInstanceGt, ManySegmentsSharingConvolutionsMatchOneConvolutionPerSegment) {
  // Dozens of instances, most far apart: the kernel convolves non-neighbouring segments together.
  std::mt19937 rng(14);
  for (int trial = 0; trial < 3; ++trial) {
    const int h = 48 + rng() % 24, w = 64 + rng() % 24;
    std::vector<int64_t> labels = random_blocks(rng, h, w, 40, 4 + rng() % 4);
    for (auto& v : labels) v = v < 3 ? 24 + v : 26000 + v;  // a few stuff ids, many instances
    const NaiveGt expected = naive_gt(labels, h, w, false, 255, 100, /*brute_force_edt=*/false);
    const ops::SegFixGt got = ops::segfix_instance_gt(as_tensor(labels, h, w));
    for (int i = 0; i < h * w; ++i) {
      ASSERT_EQ(got.depth.data_ptr<uint8_t>()[i], expected.depth[i]) << "trial " << trial << " px " << i;
      ASSERT_EQ(got.dir_deg.data_ptr<uint8_t>()[i], expected.dir_deg[i]) << "trial " << trial << " px " << i;
    }
  }
}

TEST(SegFixSemanticGt, SmallClassesAndIgnoreGetDepthZeroAndQ90) {
  // A 12x12 class 0 with a 3x3 class 1 inside (9 px < 100) and an ignore column.
  at::Tensor labels = at::zeros({12, 12}, at::kByte);
  labels.narrow(0, 4, 3).narrow(1, 4, 3).fill_(1);
  labels.select(1, 11).fill_(255);
  const ops::SegFixGt gt = ops::segfix_semantic_gt(labels);
  EXPECT_EQ(gt.depth[5][5].item<uint8_t>(), 0);
  EXPECT_EQ(gt.dir_deg[5][5].item<uint8_t>(), 90);
  EXPECT_EQ(gt.depth[0][11].item<uint8_t>(), 0);
  EXPECT_EQ(gt.dir_deg[0][11].item<uint8_t>(), 90);
  // Class 0 pixels see class 1 and the ignore column as background; the border is not background.
  EXPECT_EQ(gt.depth[5][3].item<uint8_t>(), 1);
  EXPECT_EQ(gt.depth[0][10].item<uint8_t>(), 1);
  EXPECT_EQ(gt.depth[0][0].item<uint8_t>(), 5);  // nearest class-1 pixel (4, 4): sqrt(32) = 5.66
  // Left of the small square the distance grows to the left: the direction points left, q = 0 or 180 (§3.2 bin 0).
  const int q = gt.dir_deg[5][2].item<uint8_t>();
  EXPECT_TRUE(q <= 11 || q >= 169) << q;
}

TEST(SegFixSemanticGt, OneClassImageMeasuresToPhantomPixel) {
  const ops::SegFixGt gt = ops::segfix_semantic_gt(at::full({10, 12}, 3, at::kInt));
  EXPECT_EQ(gt.depth[0][0].item<uint8_t>(), 1);
  EXPECT_EQ(gt.depth[9][11].item<uint8_t>(), static_cast<uint8_t>(std::sqrt(100.0 + 121.0)));
}

TEST(SegFixSemanticGt, BatchEqualsImageByImage) {
  std::mt19937 rng(13);
  std::vector<int64_t> a = random_blocks(rng, 20, 24, 3, 4), b = random_blocks(rng, 20, 24, 5, 3);
  const at::Tensor batch = at::stack({as_tensor(a, 20, 24), as_tensor(b, 20, 24)}).to(at::kShort);
  const ops::SegFixSemanticGtOptions options = ops::SegFixSemanticGtOptions().min_pixels(10);
  const ops::SegFixGt both = ops::segfix_semantic_gt(batch, options);
  for (int i = 0; i < 2; ++i) {
    const ops::SegFixGt one = ops::segfix_semantic_gt(batch[i], options);
    EXPECT_TRUE(both.depth[i].equal(one.depth)) << i;
    EXPECT_TRUE(both.dir_deg[i].equal(one.dir_deg)) << i;
  }
}

TEST(SegFixInstanceGt, MergesVoidIdsIntoOneSegment) {
  // Label ids 0 and 3 (void) side by side form one segment 255; 26 (car, a stuff-like plain id) stays apart.
  at::Tensor ids = at::zeros({8, 12}, at::kInt);
  ids.narrow(1, 4, 4).fill_(3);
  ids.narrow(1, 8, 4).fill_(26);
  const ops::SegFixGt gt = ops::segfix_instance_gt(ids);
  EXPECT_EQ(gt.depth[4][3].item<uint8_t>(), 5);  // no boundary between 0 and 3: nearest 26 is at column 8
  EXPECT_EQ(gt.depth[4][8].item<uint8_t>(), 1);
  const ops::SegFixGt split = ops::segfix_instance_gt(ids, ops::SegFixInstanceGtOptions().label_list({0, 3, 26}));
  EXPECT_EQ(split.depth[4][3].item<uint8_t>(), 1);
}

TEST(SegFixGt, RejectsBadInputsAndOptions) {
  BOUNDSEG_EXPECT_THROWS_WITH(ops::segfix_semantic_gt(at::zeros({4, 4})), "'train_ids' must be an integer tensor");
  BOUNDSEG_EXPECT_THROWS_WITH(ops::segfix_semantic_gt(at::zeros({4}, at::kLong)), "2-D (H, W) or 3-D (N, H, W)");
  BOUNDSEG_EXPECT_THROWS_WITH(
      ops::segfix_semantic_gt(at::zeros({4, 4}, at::kLong), ops::SegFixSemanticGtOptions().min_pixels(-1)),
      "option 'min_pixels' must be >= 0, but got -1");
  BOUNDSEG_EXPECT_THROWS_WITH(ops::segfix_instance_gt(at::zeros({4, 4}, at::kDouble)), "'instance_ids'");
  BOUNDSEG_EXPECT_THROWS_WITH(
      ops::segfix_instance_gt(at::zeros({4, 4}, at::kInt), ops::SegFixInstanceGtOptions().label_list({7, 300})),
      "option 'label_list[1]' must be a label id in [0, 256), but got 300");
  BOUNDSEG_EXPECT_THROWS_WITH(
      ops::segfix_instance_gt(at::zeros({4, 4}, at::kInt), ops::SegFixInstanceGtOptions().label_list({7, 7})),
      "the repeated id 7");
  BOUNDSEG_EXPECT_THROWS_WITH(
      ops::segfix_instance_gt(at::zeros({4, 4}, at::kInt), ops::SegFixInstanceGtOptions().label_list({})),
      "must be a non-empty list");
}

// ---------------------------------------------------------------------------------------------------------------
// Label encoding.

TEST(SegFixLabelIds, EncodeAndDecodeThroughTheLabelList) {
  const std::vector<int64_t> list = ops::cityscapes_label_list();
  ASSERT_EQ(list, (std::vector<int64_t>{7, 8, 11, 12, 13, 17, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 31, 32, 33}));
  at::Tensor ids = at::arange(0, 40, at::kLong).view({5, 8}).to(at::kByte);
  const at::Tensor train = ops::encode_label_ids(ids, list);
  for (int64_t v = 0; v < 40; ++v) {
    const auto it = std::find(list.begin(), list.end(), v);
    const int64_t expected = it == list.end() ? 255 : it - list.begin();
    EXPECT_EQ(train.view({-1})[v].item<int64_t>(), expected) << v;
  }
  const at::Tensor back = ops::decode_train_ids(train, list);
  for (int64_t v = 0; v < 40; ++v) {
    const bool kept = std::find(list.begin(), list.end(), v) != list.end();
    EXPECT_EQ(back.view({-1})[v].item<int64_t>(), kept ? v : 255) << v;
  }
  EXPECT_EQ(ops::ade20k_label_list().front(), 1);
  EXPECT_EQ(ops::ade20k_label_list().size(), 150u);
  EXPECT_EQ(ops::encode_label_ids(at::tensor({0, 1, 150}).view({1, 3}), ops::ade20k_label_list())[0][2].item<int64_t>(),
            149);
}

TEST(SegFixLabelIds, RejectsBadInputs) {
  BOUNDSEG_EXPECT_THROWS_WITH(ops::encode_label_ids(at::zeros({2, 2}), {7}), "'labels' must be an integer tensor");
  BOUNDSEG_EXPECT_THROWS_WITH(ops::encode_label_ids(at::zeros({2, 2}, at::kLong), {}), "non-empty");
  BOUNDSEG_EXPECT_THROWS_WITH(ops::decode_train_ids(at::zeros({2, 2}, at::kFloat), {7}), "'train_ids'");
  BOUNDSEG_EXPECT_THROWS_WITH(ops::decode_train_ids(at::zeros({2, 2}, at::kLong), {7, 8, 7}), "repeated id 7");
}

// ---------------------------------------------------------------------------------------------------------------
// Direction bins and offsets.

TEST(SegFixDirectionBins, EightBinsMatchClosedFormAndQTableOnAll181Q) {
  // §3.2 in terms of q: bin 0 = q <= 11 or >= 169; 1 = 12-33; 2 = 34-56; 3 = 57-78; 4 = 79-101; 5 = 102-123;
  // 6 = 124-146; 7 = 147-168.
  const int upper[8] = {11, 33, 56, 78, 101, 123, 146, 168};
  at::Tensor q = at::arange(0, 181, at::kByte).view({1, 181});
  const at::Tensor bins = ops::segfix_direction_bins(ops::segfix_angle_from_dir_deg(q));
  for (int v = 0; v <= 180; ++v) {
    int table_bin = 0;
    for (int b = 1; b < 8; ++b)
      if (v > upper[b - 1] && v <= upper[b]) table_bin = b;
    const int64_t got = bins[0][v].item<int64_t>();
    EXPECT_EQ(got, table_bin) << "q " << v;
    EXPECT_EQ(got, closed_form_bin(2.0 * v - 180.0, 8)) << "q " << v;
  }
}

TEST(SegFixDirectionBins, GenericBinCountsMatchClosedFormOnFineGrid) {
  // Multiples of 1/64 degree: exact in float32 and float64, bin edges included.
  const at::Tensor angle = at::arange(-180 * 64, 180 * 64 + 1, at::kDouble).div(64.0).view({1, -1});
  for (int64_t n : {8, 16, 32}) {
    for (auto dtype : {at::kDouble, at::kFloat}) {
      const at::Tensor bins = ops::segfix_direction_bins(angle.to(dtype), n);
      for (int64_t i = 0; i < angle.size(1); ++i) {
        const double a = angle[0][i].item<double>();
        ASSERT_EQ(bins[0][i].item<int64_t>(), closed_form_bin(a, n)) << "N " << n << " angle " << a;
      }
    }
  }
}

TEST(SegFixDirectionBins, FourBins) {
  const at::Tensor angle =
      at::tensor({-180.0, -90.5, -90.0, -0.5, 0.0, 89.5, 90.0, 180.0, 200.0, -200.0}).view({1, -1});
  const at::Tensor quadrants = ops::segfix_direction_bins(angle, 4);
  const std::vector<int64_t> expected_quadrants = {0, 0, 1, 1, 2, 2, 3, 3, 3, 0};
  for (size_t i = 0; i < expected_quadrants.size(); ++i)
    EXPECT_EQ(quadrants[0][i].item<int64_t>(), expected_quadrants[i]) << angle[0][i].item<double>();
  const at::Tensor axis = ops::segfix_direction_bins(angle, 4, /*c4_align_axis=*/true);
  for (int64_t i = 0; i < angle.size(1); ++i) {
    const double a = angle[0][i].item<double>();
    EXPECT_EQ(axis[0][i].item<int64_t>(), closed_form_bin(a, 4)) << a;
  }
}

TEST(SegFixDirectionBins, NanAndOutOfRangeGoToBinZeroLikeTheReference) {
  const at::Tensor angle = at::tensor({std::nan(""), 181.0, -181.0}).view({1, 3});
  EXPECT_TRUE(ops::segfix_direction_bins(angle).equal(at::zeros({1, 3}, at::kLong)));
}

TEST(SegFixOffsetTable, MatchesReferenceTables) {
  using Table = std::vector<std::array<int64_t, 2>>;
  EXPECT_EQ(ops::segfix_offset_table(4), (Table{{-1, -1}, {-1, 1}, {1, 1}, {1, -1}}));
  EXPECT_EQ(ops::segfix_offset_table(4, true), (Table{{0, -1}, {-1, 0}, {0, 1}, {1, 0}}));
  EXPECT_EQ(ops::segfix_offset_table(8), (Table{{0, -1}, {-1, -1}, {-1, 0}, {-1, 1}, {0, 1}, {1, 1}, {1, 0}, {1, -1}}));
  EXPECT_EQ(ops::segfix_offset_table(16), (Table{{0, -2},
                                                 {-1, -2},
                                                 {-2, -2},
                                                 {-2, -1},
                                                 {-2, 0},
                                                 {-2, 1},
                                                 {-2, 2},
                                                 {-1, 2},
                                                 {0, 2},
                                                 {1, 2},
                                                 {2, 2},
                                                 {2, 1},
                                                 {2, 0},
                                                 {2, -1},
                                                 {2, -2},
                                                 {1, -2}}));
  EXPECT_EQ(
      ops::segfix_offset_table(32),
      (Table{{0, -4}, {-1, -4}, {-2, -4}, {-3, -4}, {-4, -4}, {-4, -3}, {-4, -2}, {-4, -1}, {-4, 0}, {-4, 1}, {-4, 2},
             {-4, 3}, {-4, 4},  {-3, 4},  {-2, 4},  {-1, 4},  {0, 4},   {1, 4},   {2, 4},   {3, 4},  {4, 4},  {4, 3},
             {4, 2},  {4, 1},   {4, 0},   {4, -1},  {4, -2},  {4, -3},  {4, -4},  {3, -4},  {2, -4}, {1, -4}}));
  // 8 bins: (sign(round(sin θ)), sign(round(cos θ))) with θ = -180 + 45 i.
  const auto sign_of_round = [](double v) {
    const double r = std::round(v);
    return static_cast<int64_t>((r > 0) - (r < 0));
  };
  const auto table = ops::segfix_offset_table(8);
  for (int i = 0; i < 8; ++i) {
    const double theta = (-180.0 + 45.0 * i) * M_PI / 180.0;
    EXPECT_EQ(table[i][0], sign_of_round(std::sin(theta))) << i;
    EXPECT_EQ(table[i][1], sign_of_round(std::cos(theta))) << i;
  }
  BOUNDSEG_EXPECT_THROWS_WITH(ops::segfix_offset_table(6), "'num_bins' must be 4, 8, 16 or 32, but got 6");
}

TEST(SegFixTargets, MaskDirectionAndGtOffsetOnAHandExample) {
  const at::Tensor distance = at::tensor({0, 3, 5, 6, 250, 2}, at::kInt).view({1, 6});
  const at::Tensor seg = at::tensor({4, 4, -1, 4, 4, 4}, at::kLong).view({1, 6});
  const at::Tensor angle = at::tensor({0.0, 90.0, -90.0, 180.0, 46.0, -134.0}).view({1, 6});
  EXPECT_TRUE(ops::segfix_mask_label(distance, seg).equal(at::tensor({1, 1, -1, 0, 0, 1}, at::kLong).view({1, 6})));
  EXPECT_TRUE(ops::segfix_direction_label(angle, seg).equal(at::tensor({4, 6, -1, 0, 5, 1}, at::kLong).view({1, 6})));
  EXPECT_TRUE(ops::segfix_direction_label(angle, at::Tensor())[0][2].item<int64_t>() == 2);
  const at::Tensor offset = ops::segfix_gt_offset(angle, distance);
  const at::Tensor expected = at::tensor({0, 1, 1, 0, -1, 0, 0, 0, 0, 0, -1, -1}, at::kLong).view({1, 6, 2});
  EXPECT_TRUE(offset.equal(expected)) << offset;
  // min_distance / max_distance move the band.
  EXPECT_TRUE(ops::segfix_mask_label(distance, seg, ops::SegFixTargetOptions().min_distance(1).max_distance(6))
                  .equal(at::tensor({0, 1, -1, 1, 0, 1}, at::kLong).view({1, 6})));
}

TEST(SegFixTargets, BinOffsetsFollowTheTable) {
  const at::Tensor bins = at::arange(0, 16, at::kLong).view({2, 8});
  const at::Tensor offsets = ops::segfix_bin_offsets(bins, 16);
  ASSERT_EQ(offsets.sizes(), (at::IntArrayRef{2, 8, 2}));
  const auto table = ops::segfix_offset_table(16);
  for (int i = 0; i < 16; ++i) {
    EXPECT_EQ(offsets[i / 8][i % 8][0].item<int64_t>(), table[i][0]);
    EXPECT_EQ(offsets[i / 8][i % 8][1].item<int64_t>(), table[i][1]);
  }
}

TEST(SegFixTargets, RejectsBadInputsAndOptions) {
  const at::Tensor d = at::zeros({2, 3}, at::kInt), s = at::zeros({2, 3}, at::kLong), a = at::zeros({2, 3});
  BOUNDSEG_EXPECT_THROWS_WITH(ops::segfix_mask_label(a, s), "'distance' must be an integer tensor");
  BOUNDSEG_EXPECT_THROWS_WITH(ops::segfix_mask_label(d, at::zeros({3, 2}, at::kLong)), "'seg' must have the shape");
  BOUNDSEG_EXPECT_THROWS_WITH(ops::segfix_mask_label(d, s, ops::SegFixTargetOptions().min_distance(-1)),
                              "option 'min_distance' must be >= 0, but got -1");
  BOUNDSEG_EXPECT_THROWS_WITH(ops::segfix_mask_label(d, s, ops::SegFixTargetOptions().max_distance(-1)),
                              "option 'max_distance' must be >= min_distance (0), but got -1");
  BOUNDSEG_EXPECT_THROWS_WITH(ops::segfix_direction_label(a, s, ops::SegFixTargetOptions().num_bins(12)),
                              "option 'num_bins' must be 4, 8, 16 or 32, but got 12");
  BOUNDSEG_EXPECT_THROWS_WITH(ops::segfix_direction_label(d, s), "'angle' must be a float32 or float64");
  BOUNDSEG_EXPECT_THROWS_WITH(ops::segfix_direction_label(a, at::zeros({2, 2}, at::kLong)),
                              "'seg' must have the shape");
  BOUNDSEG_EXPECT_THROWS_WITH(ops::segfix_gt_offset(a, at::zeros({3, 2}, at::kInt)), "'distance' must have the shape");
  BOUNDSEG_EXPECT_THROWS_WITH(ops::segfix_bin_offsets(at::full({2}, 8, at::kLong)), "values in [8, 8]");
  BOUNDSEG_EXPECT_THROWS_WITH(ops::segfix_bin_offsets(at::zeros({2})), "'bins' must be an int32 or int64 tensor");
  BOUNDSEG_EXPECT_THROWS_WITH(ops::segfix_distance_from_depth(d), "'depth' must be a uint8 depth map");
  BOUNDSEG_EXPECT_THROWS_WITH(ops::segfix_angle_from_dir_deg(d), "'dir_deg' must be a uint8 dir_deg map");
  BOUNDSEG_EXPECT_THROWS_WITH(ops::segfix_angle_from_dir_deg(at::zeros({2, 2}, at::kByte), 0),
                              "'deg_reduce' must be >= 1, but got 0");
}

// ---------------------------------------------------------------------------------------------------------------
// Reference goldens (shared/golden/segfix, MANIFEST.md: gt_generation and training_targets, exact).

at::Tensor read_png_tensor(const std::filesystem::path& path) {
  return testing::to_tensor(testing::read_png_fixture(path));
}

at::Tensor train_ids_of(const at::Tensor& label_ids) {
  return ops::encode_label_ids(label_ids, ops::cityscapes_label_list());
}

TEST(GoldenSegFixGt, DepthAndDirDegMatchTheGeneratorsExactly) {
  const auto dir = testing::golden_dir("segfix");
  testing::CaseCount cases("gt_generation maps (semantic and instance)");
  for (const std::string variant : {"semantic", "instance"}) {
    const std::string suffix = "_" + variant + "_depth.png";
    for (const auto& depth_file : testing::golden_files("segfix", "gt", suffix)) {
      const std::string& name = depth_file.stem;
      ops::SegFixGt got;
      if (variant == "semantic") {
        got = ops::segfix_semantic_gt(train_ids_of(read_png_tensor(dir / "inputs" / (name + "_labelIds.png"))));
      } else {
        got = ops::segfix_instance_gt(read_png_tensor(dir / "inputs" / (name + "_instanceIds.png")));
      }
      const cv::Mat expected_depth = testing::read_png_fixture(depth_file.path);
      const cv::Mat expected_q = testing::read_png_fixture(dir / "gt" / (name + "_" + variant + "_dir_deg.png"));
      EXPECT_EQ(testing::count_mismatches(testing::to_mat(got.depth), expected_depth), 0) << name << " " << variant;
      EXPECT_EQ(testing::count_mismatches(testing::to_mat(got.dir_deg), expected_q), 0) << name << " " << variant;
      cases.add();
    }
  }
}

TEST(GoldenSegFixTargets, LoaderConversionAndTargetsMatchExactly) {
  const auto dir = testing::golden_dir("segfix");
  testing::CaseCount cases("training_targets files");
  for (const std::string variant : {"semantic", "instance"}) {
    const std::string suffix = "_" + variant + ".safetensors";
    for (const auto& file : testing::golden_files("segfix", "targets", suffix)) {
      const std::string& name = file.stem;
      const auto golden = io::read_safetensors(file.path).tensors;
      const at::Tensor label_ids = read_png_tensor(dir / "inputs" / (name + "_labelIds.png"));
      // seg = trainId with -1 for ignore.
      const at::Tensor seg = train_ids_of(label_ids).masked_fill(train_ids_of(label_ids).eq(255), -1);
      EXPECT_TRUE(seg.equal(golden.at("seg").to(at::kLong))) << name << " " << variant << ": seg";
      // Our generator, then the loader conversion (distance = int32(depth), angle = 2q - 180).
      const ops::SegFixGt gt =
          variant == "semantic"
              ? ops::segfix_semantic_gt(train_ids_of(label_ids))
              : ops::segfix_instance_gt(read_png_tensor(dir / "inputs" / (name + "_instanceIds.png")));
      const at::Tensor distance = ops::segfix_distance_from_depth(gt.depth);
      const at::Tensor angle = ops::segfix_angle_from_dir_deg(gt.dir_deg);
      EXPECT_TRUE(distance.equal(golden.at("distance"))) << name << " " << variant << ": distance";
      EXPECT_TRUE(angle.equal(golden.at("angle"))) << name << " " << variant << ": angle";
      // Targets from the stored inputs, so that a target mismatch is not hidden behind a GT mismatch.
      const at::Tensor g_seg = golden.at("seg"), g_distance = golden.at("distance"), g_angle = golden.at("angle");
      EXPECT_TRUE(ops::segfix_mask_label(g_distance, g_seg).equal(golden.at("mask_label").to(at::kLong)))
          << name << " " << variant << ": mask_label";
      EXPECT_TRUE(ops::segfix_direction_label(g_angle, g_seg).equal(golden.at("direction_label").to(at::kLong)))
          << name << " " << variant << ": direction_label";
      EXPECT_TRUE(ops::segfix_gt_offset(g_angle, g_distance).equal(golden.at("gt_offset").to(at::kLong)))
          << name << " " << variant << ": gt_offset";
      cases.add();
    }
  }
}

}  // namespace
}  // namespace boundseg
