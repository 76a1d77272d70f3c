// SegFix at test time: offsets from outputs, the sliding window, semantic and instance refinement (segfix.md §7, §8).
#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "boundseg/io/safetensors.h"
#include "boundseg/io/cityscapes_instances.h"
#include "boundseg/ops/segfix.h"
#include "boundseg/refine/segfix.h"
#include "support/golden.h"
#include "support/tensor_mat.h"

namespace boundseg {
namespace {

using refine::SegFixRefineMode;

at::Generator seeded(uint64_t seed) { return at::make_generator<at::CPUGeneratorImpl>(seed); }

// ---------------------------------------------------------------------------------------------------------------
// Slow references.

// §7 per pixel: boundary = p1 > 0.5; bin = first index of the largest softmax probability; table8 offset.
at::Tensor naive_offsets(const at::Tensor& mask_prob, const at::Tensor& dir_logits) {
  const at::Tensor prob = at::softmax(dir_logits, 1).contiguous();
  const auto table = ops::segfix_offset_table(dir_logits.size(1));
  const int64_t n = mask_prob.size(0), h = mask_prob.size(2), w = mask_prob.size(3), k = dir_logits.size(1);
  at::Tensor out = at::zeros({n, h, w, 2}, at::kLong);
  auto p = prob.accessor<float, 4>();
  auto m = mask_prob.accessor<float, 4>();
  auto o = out.accessor<int64_t, 4>();
  for (int64_t b = 0; b < n; ++b)
    for (int64_t y = 0; y < h; ++y)
      for (int64_t x = 0; x < w; ++x) {
        if (!(m[b][1][y][x] > 0.5f)) continue;
        int64_t best = 0;
        for (int64_t c = 1; c < k; ++c)
          if (p[b][c][y][x] > p[b][best][y][x]) best = c;
        o[b][y][x][0] = table[best][0];
        o[b][y][x][1] = table[best][1];
      }
  return out;
}

// §8.1: out[y, x] = in[clamp(y + s·dh), clamp(x + s·dw)], one map (H, W) and its offsets (H, W, 2).
at::Tensor naive_gather(const at::Tensor& labels, const at::Tensor& offsets, int64_t s) {
  const int64_t h = labels.size(0), w = labels.size(1);
  const at::Tensor in = labels.to(at::kLong), off = offsets.to(at::kLong);
  at::Tensor out = at::empty({h, w}, at::kLong);
  for (int64_t y = 0; y < h; ++y)
    for (int64_t x = 0; x < w; ++x) {
      const int64_t sy = std::clamp<int64_t>(y + s * off[y][x][0].item<int64_t>(), 0, h - 1);
      const int64_t sx = std::clamp<int64_t>(x + s * off[y][x][1].item<int64_t>(), 0, w - 1);
      out[y][x] = in[sy][sx];
    }
  return out.to(labels.scalar_type());
}

at::Tensor random_offsets(at::Generator& gen, int64_t h, int64_t w) {
  return at::randint(-1, 2, {h, w, 2}, gen, at::kInt);
}

// ---------------------------------------------------------------------------------------------------------------
// Offsets from network outputs.

TEST(SegFixOffsets, MatchNaiveReference) {
  auto gen = seeded(21);
  for (int64_t k : {8, 4, 16}) {
    const at::Tensor mask_prob = at::softmax(at::randn({2, 2, 9, 11}, gen).mul(2), 1);
    const at::Tensor dir_logits = at::randn({2, k, 9, 11}, gen).mul(3);
    EXPECT_TRUE(refine::segfix_offsets(mask_prob, dir_logits).equal(naive_offsets(mask_prob, dir_logits))) << k;
  }
}

TEST(SegFixOffsets, ThresholdIsStrictAndTiesGoToTheFirstBin) {
  at::Tensor mask_prob = at::full({1, 2, 1, 3}, 0.5f);
  mask_prob[0][1][0][1] = std::nextafter(0.5f, 1.0f);
  mask_prob[0][1][0][2] = 0.9f;
  at::Tensor dir_logits = at::zeros({1, 8, 1, 3});  // all bins tie -> bin 0 -> (0, -1)
  dir_logits[0][5][0][2] = 1.0f;                    // bin 5 -> (1, 1)
  const at::Tensor offsets = refine::segfix_offsets(mask_prob, dir_logits);
  EXPECT_TRUE(offsets.equal(at::tensor({0, 0, 0, -1, 1, 1}, at::kLong).view({1, 1, 3, 2}))) << offsets;
  // A custom threshold.
  const at::Tensor none =
      refine::segfix_offsets(mask_prob, dir_logits, refine::SegFixOffsetOptions().mask_threshold(0.95));
  EXPECT_EQ(none.abs().sum().item<int64_t>(), 0);
}

TEST(SegFixOffsets, RejectsBadInputs) {
  const at::Tensor m = at::zeros({1, 2, 4, 4}), d = at::zeros({1, 8, 4, 4});
  BOUNDSEG_EXPECT_THROWS_WITH(refine::segfix_offsets(at::zeros({2, 4, 4}), d),
                              "'mask_prob' must be a floating point 4-D");
  BOUNDSEG_EXPECT_THROWS_WITH(refine::segfix_offsets(at::zeros({1, 3, 4, 4}), d), "'mask_prob' must have 2 channels");
  BOUNDSEG_EXPECT_THROWS_WITH(refine::segfix_offsets(m, at::zeros({1, 8, 4, 4}, at::kLong)),
                              "'dir_logits' must be a floating");
  BOUNDSEG_EXPECT_THROWS_WITH(refine::segfix_offsets(m, at::zeros({1, 6, 4, 4})), "4, 8, 16 or 32 direction channels");
  BOUNDSEG_EXPECT_THROWS_WITH(refine::segfix_offsets(m, at::zeros({1, 8, 4, 5})),
                              "must have the N, H, W of 'mask_prob'");
  BOUNDSEG_EXPECT_THROWS_WITH(refine::segfix_offsets(m, d, refine::SegFixOffsetOptions().mask_threshold(NAN)),
                              "option 'mask_threshold' must be finite");
  BOUNDSEG_EXPECT_THROWS_WITH(refine::segfix_offsets(at::Tensor(), d), "'mask_prob' must be a defined tensor");
}

TEST(GoldenSegFixOffsets, OffsetsFromPredictionsMatchExactly) {
  testing::CaseCount cases("offsets_from_prediction files");
  for (const auto& case_file : testing::golden_files("segfix", "offsets", ".safetensors")) {
    const std::string& file = case_file.stem;
    const auto golden = io::read_safetensors(case_file.path).tensors;
    const at::Tensor got = refine::segfix_offsets(golden.at("mask_prob"), golden.at("dir_logits"));
    const at::Tensor want = golden.at("offset");
    EXPECT_EQ(got.scalar_type(), want.scalar_type()) << file;
    EXPECT_TRUE(got.equal(want)) << file << ": " << got.ne(want).sum().item<int64_t>() << " values differ";
    cases.add();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Sliding window.

TEST(SegFixCropStarts, MatchTheSpecExamplesAndCoverTheAxis) {
  EXPECT_EQ(refine::segfix_crop_starts(1024, 512), (std::vector<int64_t>{0, 170, 340, 510, 512}));
  EXPECT_EQ(refine::segfix_crop_starts(2048, 512),
            (std::vector<int64_t>{0, 170, 340, 510, 680, 850, 1020, 1190, 1360, 1530, 1536}));
  EXPECT_EQ(refine::segfix_crop_starts(512, 512), (std::vector<int64_t>{0}));
  for (int64_t crop = 3; crop <= 20; ++crop) {
    const int64_t stride = crop / 3;
    for (int64_t total = crop; total <= 70; ++total) {
      const auto s = refine::segfix_crop_starts(total, crop);
      ASSERT_EQ(s.front(), 0);
      ASSERT_EQ(s.back(), total - crop) << total << "/" << crop;  // the last window ends at the border
      for (size_t i = 1; i < s.size(); ++i) {
        ASSERT_GT(s[i], s[i - 1]);
        ASSERT_LE(s[i] - s[i - 1], stride);
        if (i + 1 < s.size()) ASSERT_EQ(s[i], static_cast<int64_t>(i) * stride);
      }
    }
  }
  BOUNDSEG_EXPECT_THROWS_WITH(refine::segfix_crop_starts(100, 2), "'crop' must be >= 3");
  BOUNDSEG_EXPECT_THROWS_WITH(refine::segfix_crop_starts(10, 12), "'total' must be >= crop (12); pad smaller images");
}

// A network stand-in: mask logits and direction logits at 1/2 resolution, computed from the crop's pixels; it also
// records where each crop came from (channel 0 holds the row index, channel 1 the column index of the image).
struct FakeNet {
  std::vector<std::pair<int64_t, int64_t>> calls;
  bool grad_mode_seen = false;
  std::pair<at::Tensor, at::Tensor> operator()(const at::Tensor& crop) {
    calls.emplace_back(crop[0][0][0][0].item<int64_t>(), crop[0][1][0][0].item<int64_t>());
    grad_mode_seen = grad_mode_seen || c10::GradMode::is_enabled();
    const at::Tensor pooled = at::avg_pool2d(crop, {2, 2}, {2, 2}, {0, 0}, /*ceil_mode=*/true);
    const at::Tensor mask = at::cat({pooled.narrow(1, 2, 1), pooled.narrow(1, 2, 1).mul(-0.5).add(0.1)}, 1);
    const at::Tensor dir =
        at::cat({pooled.narrow(1, 2, 1).sin(), pooled.narrow(1, 2, 1).cos(), pooled.narrow(1, 0, 1).mul(0.01),
                 pooled.narrow(1, 1, 1).mul(0.02), pooled.narrow(1, 2, 1).mul(0.3), pooled.narrow(1, 2, 1).neg(),
                 pooled.narrow(1, 0, 2).sum(1, true).mul(0.001), pooled.narrow(1, 2, 1).pow(2)},
                1);
    return {mask, dir};
  }
};

at::Tensor position_image(at::Generator& gen, int64_t n, int64_t h, int64_t w) {
  at::Tensor image = at::empty({n, 3, h, w});
  image.select(1, 0).copy_(at::arange(h, at::kFloat).view({h, 1}).expand({n, h, w}));
  image.select(1, 1).copy_(at::arange(w, at::kFloat).view({1, w}).expand({n, h, w}));
  image.select(1, 2).copy_(at::randn({n, h, w}, gen));
  return image;
}

// The reference's sscrop_test written out: window by window, softmax at low resolution, upsample, sum, count.
refine::SegFixPrediction naive_sliding_window(const at::Tensor& image, FakeNet& net, int64_t ch, int64_t cw) {
  const int64_t n = image.size(0), h = image.size(2), w = image.size(3);
  at::Tensor mask = at::zeros({n, 2, h, w}), dir = at::zeros({n, 8, h, w}), count = at::zeros({n, 1, h, w});
  std::vector<int64_t> rows, cols;
  for (int64_t y = 0; y <= h - ch; y += ch / 3) rows.push_back(y);
  if (h - rows.back() > ch) rows.push_back(h - ch);
  for (int64_t x = 0; x <= w - cw; x += cw / 3) cols.push_back(x);
  if (w - cols.back() > cw) cols.push_back(w - cw);
  for (int64_t y : rows)
    for (int64_t x : cols) {
      const at::Tensor crop = image.index({at::indexing::Slice(), at::indexing::Slice(), at::indexing::Slice(y, y + ch),
                                           at::indexing::Slice(x, x + cw)});
      auto [m, d] = net(crop.contiguous());
      m = at::upsample_bilinear2d(at::softmax(m, 1), {ch, cw}, true);
      d = at::upsample_bilinear2d(d, {ch, cw}, true);
      for (int64_t i = 0; i < ch; ++i)
        for (int64_t j = 0; j < cw; ++j) {
          mask.select(2, y + i).select(2, x + j).add_(m.select(2, i).select(2, j));
          dir.select(2, y + i).select(2, x + j).add_(d.select(2, i).select(2, j));
          count.select(2, y + i).select(2, x + j).add_(1);
        }
    }
  return {mask / count, dir / count};
}

TEST(SegFixPredict, SlidingWindowFollowsTheReferenceOrderAndAverages) {
  auto gen = seeded(31);
  const at::Tensor image = position_image(gen, 2, 30, 40);
  FakeNet net, reference_net;
  const auto options = refine::SegFixPredictOptions().crop_height(12).crop_width(12);
  const refine::SegFixPrediction got = refine::segfix_predict(image, std::ref(net), options);
  const refine::SegFixPrediction want = naive_sliding_window(image, reference_net, 12, 12);
  // Rows {0, 4, 8, 12, 16, 18} outer, columns {0, 4, ..., 28} inner.
  std::vector<std::pair<int64_t, int64_t>> order;
  for (int64_t y : {0, 4, 8, 12, 16, 18})
    for (int64_t x = 0; x <= 28; x += 4) order.emplace_back(y, x);
  EXPECT_EQ(net.calls, order);
  EXPECT_FALSE(net.grad_mode_seen);  // test time: no autograd graph
  ASSERT_EQ(got.mask_prob.sizes(), (at::IntArrayRef{2, 2, 30, 40}));
  ASSERT_EQ(got.dir_logits.sizes(), (at::IntArrayRef{2, 8, 30, 40}));
  EXPECT_TRUE(at::allclose(got.mask_prob, want.mask_prob, 0, 1e-6));
  EXPECT_TRUE(at::allclose(got.dir_logits, want.dir_logits, 0, 1e-6));
  // Probabilities stay probabilities after averaging.
  EXPECT_TRUE(at::allclose(got.mask_prob.sum(1), at::ones({2, 30, 40}), 0, 1e-6));
}

TEST(SegFixPredict, SmallImagesArePaddedRightAndBottom) {
  auto gen = seeded(32);
  const at::Tensor image = position_image(gen, 1, 10, 20);
  FakeNet net, reference_net;
  const auto options = refine::SegFixPredictOptions().crop_height(12).crop_width(16);
  const refine::SegFixPrediction got = refine::segfix_predict(image, std::ref(net), options);
  const at::Tensor padded = at::constant_pad_nd(image, {0, 0, 0, 2}, 0);
  const refine::SegFixPrediction want = naive_sliding_window(padded, reference_net, 12, 16);
  EXPECT_EQ(net.calls, (std::vector<std::pair<int64_t, int64_t>>{{0, 0}, {0, 4}}));
  ASSERT_EQ(got.mask_prob.sizes(), (at::IntArrayRef{1, 2, 10, 20}));
  EXPECT_TRUE(at::allclose(got.mask_prob, want.mask_prob.narrow(2, 0, 10), 0, 1e-6));
  EXPECT_TRUE(at::allclose(got.dir_logits, want.dir_logits.narrow(2, 0, 10), 0, 1e-6));
}

TEST(SegFixPredict, SingleScaleRunsOnceOnTheWholeImage) {
  auto gen = seeded(33);
  const at::Tensor image = position_image(gen, 1, 14, 18);
  FakeNet net;
  const refine::SegFixPrediction got =
      refine::segfix_predict(image, std::ref(net), refine::SegFixPredictOptions().sliding_window(false));
  EXPECT_EQ(net.calls.size(), 1u);
  FakeNet again;
  auto [m, d] = again(image);
  EXPECT_TRUE(got.mask_prob.equal(at::upsample_bilinear2d(at::softmax(m, 1), {14, 18}, true)));
  EXPECT_TRUE(got.dir_logits.equal(at::upsample_bilinear2d(d, {14, 18}, true)));
}

TEST(SegFixPredict, RejectsBadInputsOptionsAndOutputs) {
  const at::Tensor image = at::zeros({1, 3, 16, 16});
  FakeNet net;
  BOUNDSEG_EXPECT_THROWS_WITH(refine::segfix_predict(at::zeros({3, 16, 16}), std::ref(net)),
                              "'image' must be a floating");
  BOUNDSEG_EXPECT_THROWS_WITH(refine::segfix_predict(image, refine::SegFixForward()), "'forward' must be callable");
  BOUNDSEG_EXPECT_THROWS_WITH(
      refine::segfix_predict(image, std::ref(net), refine::SegFixPredictOptions().crop_height(2)),
      "option 'crop_height' must be >= 3, but got 2");
  BOUNDSEG_EXPECT_THROWS_WITH(
      refine::segfix_predict(image, std::ref(net), refine::SegFixPredictOptions().crop_width(0)),
      "option 'crop_width' must be >= 3, but got 0");
  const refine::SegFixForward three_mask = [](const at::Tensor& x) {
    return std::make_pair(at::zeros({1, 3, 4, 4}), at::zeros({1, 8, 4, 4}));
  };
  BOUNDSEG_EXPECT_THROWS_WITH(refine::segfix_predict(image, three_mask),
                              "'forward(...).first' must have the batch size of the image and 2 channels");
  const refine::SegFixForward int_mask = [](const at::Tensor& x) {
    return std::make_pair(at::zeros({1, 2, 4, 4}, at::kLong), at::zeros({1, 8, 4, 4}));
  };
  BOUNDSEG_EXPECT_THROWS_WITH(refine::segfix_predict(image, int_mask),
                              "'forward(...).first' must be a floating point 4-D");
  const refine::SegFixForward bad_dir = [](const at::Tensor& x) {
    return std::make_pair(at::zeros({1, 2, 4, 4}), at::zeros({1, 7, 4, 4}));
  };
  BOUNDSEG_EXPECT_THROWS_WITH(refine::segfix_predict(image, bad_dir), "'forward(...).second' must have the batch size");
  BOUNDSEG_EXPECT_THROWS_WITH(refine::segfix_predict(at::zeros({0, 3, 16, 16}), std::ref(net)),
                              "'image' must be non-empty");
}

// ---------------------------------------------------------------------------------------------------------------
// Semantic refinement.

TEST(SegFixRefineSemantic, GatherMatchesNaiveReference) {
  auto gen = seeded(41);
  for (int64_t scale : {0, 1, 2, 5}) {
    const at::Tensor labels = at::randint(0, 34, {13, 17}, gen, at::kByte);
    const at::Tensor offsets = random_offsets(gen, 13, 17);
    const at::Tensor got =
        refine::segfix_refine_semantic(labels, offsets, refine::SegFixSemanticRefineOptions().scale(scale));
    EXPECT_EQ(got.scalar_type(), at::kByte);
    EXPECT_TRUE(got.equal(naive_gather(labels, offsets, scale))) << "scale " << scale;
  }
  // Offsets far outside the image clamp to the border.
  const at::Tensor labels = at::arange(12, at::kLong).view({3, 4});
  at::Tensor far = at::zeros({3, 4, 2}, at::kLong);
  far[1][1][0] = int64_t{1} << 40;
  far[1][1][1] = -(int64_t{1} << 40);
  EXPECT_EQ(refine::segfix_refine_semantic(labels, far)[1][1].item<int64_t>(), 8);  // (2, 0)
}

TEST(SegFixRefineSemantic, BatchesUseOneOffsetFieldPerMap) {
  auto gen = seeded(42);
  const at::Tensor labels = at::randint(0, 40, {3, 9, 10}, gen, at::kInt);
  const at::Tensor offsets = at::randint(-1, 2, {3, 9, 10, 2}, gen, at::kLong);
  const at::Tensor got = refine::segfix_refine_semantic(labels, offsets);
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(got[i].equal(naive_gather(labels[i], offsets[i], 2))) << i;
}

TEST(SegFixRefineSemantic, VoidTo255MapsEveryIdOutsideTheListEvenWithoutMovement) {
  const at::Tensor labels = at::tensor({0, 3, 7, 8, 26, 33, 34, 255}, at::kByte).view({2, 4});
  const at::Tensor still = at::zeros({2, 4, 2}, at::kInt);
  EXPECT_TRUE(refine::segfix_refine_semantic(labels, still).equal(labels));
  const at::Tensor mapped =
      refine::segfix_refine_semantic(labels, still, refine::SegFixSemanticRefineOptions().void_to_255(true));
  EXPECT_TRUE(mapped.equal(at::tensor({255, 255, 7, 8, 26, 33, 255, 255}, at::kByte).view({2, 4}))) << mapped;
  // Another label list (ADE20K ids 1..150): 0 is void.
  const at::Tensor ade = refine::segfix_refine_semantic(
      labels, still, refine::SegFixSemanticRefineOptions().void_to_255(true).label_list(ops::ade20k_label_list()));
  EXPECT_TRUE(ade.equal(at::tensor({255, 3, 7, 8, 26, 33, 34, 255}, at::kByte).view({2, 4}))) << ade;
}

TEST(SegFixRefineSemantic, Torch14BilinearBlendsLabelsEvenWithZeroOffsets) {
  // §8.3: with all-zero offsets the torch >= 1.4 path samples column x at x·W/(W-1) - 0.5 and mixes neighbours.
  at::Tensor labels = at::full({4, 6}, 7, at::kByte);  // trainId 0 (road) in columns 0-1
  labels.narrow(1, 2, 4).fill_(26);                    // trainId 13 (car) in columns 2-5
  const at::Tensor still = at::zeros({4, 6, 2}, at::kInt);
  const auto compat = refine::SegFixSemanticRefineOptions().void_to_255(true).mode(SegFixRefineMode::kTorch14Bilinear);
  const at::Tensor got = refine::segfix_refine_semantic(labels, still, compat);
  // Column 1 samples at 0.7 (road, road), column 3 at 3.1 (car, car); column 2 at 1.9 blends
  // 0.1·0 + 0.9·13 = 11.7 -> trainId 12 = label 25 (rider), a class present nowhere in the input.
  EXPECT_EQ(got[0][1].item<uint8_t>(), 7);
  EXPECT_EQ(got[0][2].item<uint8_t>(), 25);
  EXPECT_EQ(got[0][3].item<uint8_t>(), 26);
  EXPECT_TRUE(refine::segfix_refine_semantic(labels, still).equal(labels));  // the gather moves nothing
}

TEST(SegFixRefineSemantic, RejectsBadInputsAndOptions) {
  const at::Tensor labels = at::zeros({4, 5}, at::kByte), offsets = at::zeros({4, 5, 2}, at::kInt);
  BOUNDSEG_EXPECT_THROWS_WITH(refine::segfix_refine_semantic(at::zeros({4, 5}), offsets),
                              "'labels' must be an integer");
  BOUNDSEG_EXPECT_THROWS_WITH(
      refine::segfix_refine_semantic(labels, at::zeros({4, 5, 2})),
      "'offsets' must be an int32 or int64 tensor [4, 5, 2] (the size of 'labels' plus (dh, dw))");
  BOUNDSEG_EXPECT_THROWS_WITH(refine::segfix_refine_semantic(labels, at::zeros({5, 4, 2}, at::kInt)),
                              "but got a 3-D Int tensor [5, 4, 2]");
  BOUNDSEG_EXPECT_THROWS_WITH(refine::segfix_refine_semantic(labels, at::Tensor()),
                              "'offsets' must be a defined tensor");
  BOUNDSEG_EXPECT_THROWS_WITH(
      refine::segfix_refine_semantic(labels, offsets, refine::SegFixSemanticRefineOptions().scale(-1)),
      "option 'scale' must be in [0, 2^31), but got -1");
  BOUNDSEG_EXPECT_THROWS_WITH(
      refine::segfix_refine_semantic(labels, offsets,
                                     refine::SegFixSemanticRefineOptions().void_to_255(true).label_list({})),
      "option 'label_list' must be non-empty with void_to_255");
  BOUNDSEG_EXPECT_THROWS_WITH(
      refine::segfix_refine_semantic(at::zeros({1, 5}, at::kByte), at::zeros({1, 5, 2}, at::kInt),
                                     refine::SegFixSemanticRefineOptions().mode(SegFixRefineMode::kTorch14Bilinear)),
      "must be at least 2 x 2 with kTorch14Bilinear");
}

// Golden: scripts/cityscapes/segfix.py, gather = align_corners forced to True, raw_torch113 = unmodified on torch 1.13.
TEST(GoldenSegFixRefineSemantic, GatherAndTorch113OutputsMatchExactly) {
  const auto dir = testing::golden_dir("segfix") / "refine_semantic";
  const std::vector<int64_t> list = ops::cityscapes_label_list();
  testing::CaseCount cases("refine_semantic cases");
  for (const auto& gather_file : testing::golden_files("segfix", "refine_semantic", "_refined_gather.png")) {
    const std::string& name = gather_file.stem;
    SCOPED_TRACE(name);
    const at::Tensor input = testing::to_tensor(testing::read_png_fixture(dir / (name + "_input_labelIds.png")));
    const at::Tensor offsets = io::read_safetensors(dir / (name + "_offset.safetensors")).tensors.at("offset");
    const at::Tensor want_gather = testing::to_tensor(testing::read_png_fixture(gather_file.path));
    const at::Tensor want_raw =
        testing::to_tensor(testing::read_png_fixture(dir / (name + "_refined_raw_torch113.png")));
    // The file is the void_to_255 gather.
    const auto compat = refine::SegFixSemanticRefineOptions().void_to_255(true);
    const at::Tensor got_gather = refine::segfix_refine_semantic(input, offsets, compat);
    EXPECT_TRUE(got_gather.equal(want_gather)) << got_gather.ne(want_gather).sum().item<int64_t>() << " px differ";
    // The default keeps raw ids: it is the plain gather, and mapping its voids to 255 gives the file.
    const at::Tensor got_default = refine::segfix_refine_semantic(input, offsets);
    EXPECT_TRUE(got_default.equal(naive_gather(input, offsets, 2)));
    const at::Tensor default_void_mapped = ops::decode_train_ids(ops::encode_label_ids(got_default, list), list);
    EXPECT_TRUE(default_void_mapped.to(at::kByte).equal(want_gather));
    const int64_t void_px = got_default.ne(want_gather).sum().item<int64_t>();
    // torch >= 1.4 compatibility.
    const at::Tensor got_raw = refine::segfix_refine_semantic(
        input, offsets, refine::SegFixSemanticRefineOptions(compat).mode(SegFixRefineMode::kTorch14Bilinear));
    EXPECT_TRUE(got_raw.equal(want_raw)) << got_raw.ne(want_raw).sum().item<int64_t>() << " px differ";
    std::printf("  %s: %ld px void in the default output, %ld px where torch 1.13 differs from the gather\n",
                name.c_str(), static_cast<long>(void_px),
                static_cast<long>(want_raw.ne(want_gather).sum().item<int64_t>()));
    cases.add();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Instance refinement.

TEST(SegFixRefineInstance, EachMaskIsGatheredWithTheSameOffsets) {
  auto gen = seeded(51);
  const at::Tensor masks = at::randint(0, 3, {4, 11, 9}, gen, at::kByte).mul(100);  // 0, 100, 200: > 0 = foreground
  const at::Tensor offsets = random_offsets(gen, 11, 9);
  const at::Tensor got = refine::segfix_refine_instance(masks, offsets);
  ASSERT_EQ(got.scalar_type(), at::kByte);
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(got[i].equal(naive_gather(masks[i].gt(0).to(at::kByte), offsets, 1))) << i;
  const at::Tensor scaled =
      refine::segfix_refine_instance(masks[0].to(at::kBool), offsets, refine::SegFixInstanceRefineOptions().scale(3));
  EXPECT_TRUE(scaled.equal(naive_gather(masks[0].gt(0).to(at::kByte), offsets, 3)));
}

TEST(SegFixRefineInstance, RejectsBadInputsAndOptions) {
  const at::Tensor masks = at::zeros({2, 4, 5}, at::kByte), offsets = at::zeros({4, 5, 2}, at::kInt);
  BOUNDSEG_EXPECT_THROWS_WITH(refine::segfix_refine_instance(at::zeros({2, 4, 5}), offsets),
                              "'masks' must be an integer or bool (H, W) or (K, H, W) tensor");
  BOUNDSEG_EXPECT_THROWS_WITH(refine::segfix_refine_instance(masks, at::zeros({2, 4, 5, 2}, at::kInt)),
                              "'offsets' must be an int32 or int64 tensor [4, 5, 2]");
  BOUNDSEG_EXPECT_THROWS_WITH(
      refine::segfix_refine_instance(masks, offsets, refine::SegFixInstanceRefineOptions().scale(-2)),
      "option 'scale' must be in [0, 2^31)");
  BOUNDSEG_EXPECT_THROWS_WITH(
      refine::segfix_refine_instance(at::zeros({2, 4, 1}, at::kByte), at::zeros({4, 1, 2}, at::kInt),
                                     refine::SegFixInstanceRefineOptions().mode(SegFixRefineMode::kTorch14Bilinear)),
      "must be at least 2 x 2 with kTorch14Bilinear");
}

// Golden: scripts/cityscapes/segfix_instance.py on *_pred.txt files (gather and unmodified torch 1.13 outputs).
TEST(GoldenSegFixRefineInstance, EveryMaskOfEveryPredictionFileMatchesExactly) {
  const auto dir = testing::golden_dir("segfix") / "refine_instance";
  testing::CaseCount files("refine_instance prediction files"), masks_checked("refine_instance mask outputs");
  std::set<std::string> produced;
  for (const auto& txt : testing::golden_files("segfix", "refine_instance/input", "_pred.txt")) {
    const std::string& name = txt.stem;
    SCOPED_TRACE(name);
    const at::Tensor offsets = io::read_safetensors(dir / (name + "_offset.safetensors")).tensors.at("offset");
    // Every line is refined, whatever its class (the reference script does not filter).
    const auto predictions = io::read_cityscapes_instance_txt(txt.path, /*masks_inside=*/true);
    std::vector<at::Tensor> masks;
    for (const auto& p : predictions) masks.push_back(testing::to_tensor(testing::read_png_fixture(p.mask_path)));
    ASSERT_FALSE(masks.empty());
    const at::Tensor stack = at::stack(masks);
    for (const auto& [mode, folder] : {std::make_pair(SegFixRefineMode::kGather, "gather"),
                                       std::make_pair(SegFixRefineMode::kTorch14Bilinear, "raw_torch113")}) {
      const at::Tensor refined =
          refine::segfix_refine_instance(stack, offsets, refine::SegFixInstanceRefineOptions().mode(mode));
      for (size_t k = 0; k < predictions.size(); ++k) {
        const std::string file = predictions[k].mask_path.filename().string();
        const cv::Mat want = testing::read_png_fixture(dir / folder / file);
        EXPECT_EQ(testing::count_mismatches(testing::to_mat(refined[k].mul(255)), want), 0) << folder << "/" << file;
        produced.insert(std::string(folder) + "/" + file);
        masks_checked.add();
      }
    }
    files.add();
  }
  // Every reference output was produced by some prediction line.
  for (const char* folder : {"gather", "raw_torch113"})
    for (const auto& png : testing::golden_files("segfix", std::string("refine_instance/") + folder, ".png"))
      EXPECT_EQ(produced.count(std::string(folder) + "/" + png.path.filename().string()), 1u) << png.path;
}

}  // namespace
}  // namespace boundseg
