// Semantic boundary IoU and boundary F-score against goldens and slow references.
#include <gtest/gtest.h>

#include <random>

#include "boundseg/io/cityscapes_labels.h"
#include "boundseg/io/png.h"
#include "boundseg/metrics/boundary_metrics.h"
#include "boundseg/ops/boundary_kernels.h"
#include "reference/naive_boundary.h"
#include "support/compare.h"
#include "support/golden.h"

namespace boundseg::metrics {
namespace {

using testing::golden_dir;
using testing::matches_golden;

// The 19 evaluated classes by trainId, as the JSON results name them.
std::string class_name(int train_id) { return cityscapes::labels()[cityscapes::train_id_to_id()[train_id]].name; }

TEST(GoldenSemanticBoundaryIou, CountsAndScoresMatchReferenceBands) {
  const auto dir = golden_dir("metrics");
  const auto expected = testing::read_json(dir / "semantic_boundary_iou.json");
  const auto stems = expected["images"].get<std::vector<std::string>>();
  const ClassMapping mapping = ClassMapping::cityscapes_label_ids();
  testing::CaseCount cases("(ratio, scene) pairs of semantic_boundary_iou.json, per-image counts where listed");
  for (const auto& [key, e] : expected.items()) {
    if (key.rfind("ratio_", 0) != 0) continue;  // one entry per dilation ratio
    SCOPED_TRACE(key);
    BoundaryIouStats total(19);
    for (const auto& stem : stems) {
      const cv::Mat gt = io::read_label_png(dir / "inputs" / (stem + "_gtFine_labelIds.png"));
      const cv::Mat pred = io::read_label_png(dir / "inputs" / (stem + "_pred_labelIds.png"));
      const int64_t d = detail::band_width(e["dilation_ratio"].get<double>(), gt.rows, gt.cols);
      ASSERT_EQ(d, e["d_pixels"].get<int64_t>());
      std::vector<BoundaryIouStats> stats(1, BoundaryIouStats(19));
      accumulate_boundary_iou(gt, pred, mapping, {d}, stats);
      const BoundaryIouStats& image = stats[0];
      if (e["per_image_I_U"].contains(stem)) {
        for (int c = 0; c < 19; ++c) {
          EXPECT_EQ(image.intersection[c], e["per_image_I_U"][stem][class_name(c)][0].get<int64_t>()) << stem << c;
          EXPECT_EQ(image.union_[c], e["per_image_I_U"][stem][class_name(c)][1].get<int64_t>()) << stem << c;
        }
      }
      total += image;
      cases.add();
    }
    const auto scores = boundary_iou_scores(total);
    for (int c = 0; c < 19; ++c) {
      EXPECT_EQ(total.intersection[c], e["I"][class_name(c)].get<int64_t>());
      EXPECT_EQ(total.union_[c], e["U"][class_name(c)].get<int64_t>());
      EXPECT_TRUE(matches_golden(scores[c], e["classBIoU"][class_name(c)], 1e-12)) << class_name(c);
    }
  }
}

cv::Mat to_train_ids(const cv::Mat& label_ids, const ClassMapping& m) {
  cv::Mat out(label_ids.size(), CV_8UC1);
  for (int i = 0; i < label_ids.rows * label_ids.cols; ++i) {
    const int c = m.class_of[label_ids.data[i]];
    out.data[i] = c < 0 ? 255 : static_cast<uint8_t>(c);
  }
  return out;
}

TEST(GoldenBoundaryFScore, PerImageAndRunningScoresMatchOpenseg) {
  const auto dir = golden_dir("metrics");
  const auto expected = testing::read_json(dir / "boundary_fscore.json");
  const auto stems = expected["images"].get<std::vector<std::string>>();
  const ClassMapping label_ids = ClassMapping::cityscapes_label_ids();
  const ClassMapping train_ids = ClassMapping::train_ids(19, 255);
  // Per-class results follow the trainId order.
  ASSERT_EQ(expected["class_order"].size(), 19u);
  for (int c = 0; c < 19; ++c) EXPECT_EQ(expected["class_order"][c], class_name(c)) << c;
  std::vector<double> thresholds;
  std::vector<std::string> keys;
  for (const auto& [key, value] : expected["thresholds"].items()) {
    keys.push_back(key);
    thresholds.push_back(value["bound_th"].get<double>());
  }
  testing::CaseCount cases("(threshold, scene) pairs of boundary_fscore.json, per-image scores where listed");
  BoundaryFStats running(static_cast<int64_t>(thresholds.size()), 19);
  for (const auto& stem : stems) {
    const cv::Mat gt = io::read_label_png(dir / "inputs" / (stem + "_gtFine_labelIds.png"));
    const cv::Mat pred = io::read_label_png(dir / "inputs" / (stem + "_pred_labelIds.png"));
    const BoundaryFImage image = boundary_f_image(gt, pred, label_ids, thresholds);
    // The same image given as train ids (255 = ignore) must score identically.
    const BoundaryFImage again = boundary_f_image(to_train_ids(gt, label_ids), to_train_ids(pred, label_ids),
                                                  train_ids, thresholds);
    for (size_t t = 0; t < thresholds.size(); ++t) {
      const auto& e = expected["thresholds"][keys[t]];
      EXPECT_EQ(boundary_f_tolerance(thresholds[t], gt.rows, gt.cols), e["bound_pix"].get<double>());
      const bool listed = e["per_image_F_P"].contains(stem);
      for (int c = 0; c < 19; ++c) {
        if (listed) {
          EXPECT_TRUE(matches_golden(image.f[t][c], e["per_image_F_P"][stem][c][0], 1e-12)) << stem << keys[t] << c;
          EXPECT_TRUE(matches_golden(image.precision[t][c], e["per_image_F_P"][stem][c][1], 1e-12));
        }
        EXPECT_EQ(image.f[t][c], again.f[t][c]);
      }
      cases.add();
    }
    running.add(image);
  }
  const auto scores = boundary_f_scores(running);
  for (size_t t = 0; t < thresholds.size(); ++t) {
    const auto& e = expected["thresholds"][keys[t]];
    double mean = 0;
    for (int c = 0; c < 19; ++c) {
      EXPECT_TRUE(matches_golden(scores[t][c], e["classF"][c], 1e-12));
      mean += scores[t][c];
    }
    EXPECT_TRUE(matches_golden(mean / 19, e["meanF"], 1e-12));
  }
}

// Slow definition of db_eval_boundary: seg2bmap, disk dilation x^2+y^2 <= r^2.
std::pair<double, double> naive_db_eval(const std::vector<uint8_t>& fg, const std::vector<uint8_t>& gt, int h, int w,
                                        int r) {
  auto bmap = [&](const std::vector<uint8_t>& m) {
    std::vector<uint8_t> b(h * w);
    detail::seg2bmap(m.data(), b.data(), h, w);
    return b;
  };
  const auto bf = bmap(fg), bg = bmap(gt);
  auto matched = [&](const std::vector<uint8_t>& a, const std::vector<uint8_t>& b) {
    int64_t n = 0, m = 0;
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x) {
        if (!a[y * w + x]) continue;
        ++n;
        bool hit = false;
        for (int qy = 0; qy < h && !hit; ++qy)
          for (int qx = 0; qx < w && !hit; ++qx)
            hit = b[qy * w + qx] && (qy - y) * (qy - y) + (qx - x) * (qx - x) <= r * r;
        m += hit;
      }
    return std::pair<int64_t, int64_t>(n, m);
  };
  const auto [nf, mf] = matched(bf, bg);
  const auto [ng, mg] = matched(bg, bf);
  double p, rc;
  if (nf == 0 && ng > 0) p = 1, rc = 0;
  else if (nf > 0 && ng == 0) p = 0, rc = 1;
  else if (nf == 0 && ng == 0) p = 1, rc = 1;
  else p = double(mf) / nf, rc = double(mg) / ng;
  return {p + rc == 0 ? 0.0 : 2 * p * rc / (p + rc), p};
}

TEST(BoundaryFScore, MatchesSlowDefinitionOnRandomMapsAndWideTolerances) {
  std::mt19937 rng(9);
  const ClassMapping m = ClassMapping::train_ids(4, 255);
  for (int trial = 0; trial < 25; ++trial) {
    const int h = 3 + rng() % 30, w = 3 + rng() % 90;  // widths beyond one 64-bit word
    cv::Mat gt(h, w, CV_8UC1), pred(h, w, CV_8UC1);
    const int block = 1 + rng() % 5;
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x) {
        gt.at<uint8_t>(y, x) = ((y / block) * 7 + (x / block) * 3) % 5 == 4 ? 255 : ((y / block + x / block) % 4);
        pred.at<uint8_t>(y, x) = rng() % 9 == 0 ? rng() % 4 : ((y / block + (x + 1) / block) % 4);
      }
    const std::vector<double> thresholds = {1, 2, 3, 70, 0.05};
    const BoundaryFImage got = boundary_f_image(gt, pred, m, thresholds);
    for (int c = 0; c < 4; ++c) {
      std::vector<uint8_t> fg(h * w), gm(h * w);
      for (int i = 0; i < h * w; ++i) {
        const bool ignore = gt.data[i] == 255;
        fg[i] = !ignore && pred.data[i] == c;
        gm[i] = !ignore && gt.data[i] == c;
      }
      for (size_t t = 0; t < thresholds.size(); ++t) {
        const auto [f, p] = naive_db_eval(fg, gm, h, w, static_cast<int>(boundary_f_tolerance(thresholds[t], h, w)));
        ASSERT_DOUBLE_EQ(got.f[t][c], f) << trial << " c" << c << " t" << t;
        ASSERT_DOUBLE_EQ(got.precision[t][c], p);
      }
    }
  }
}

TEST(BoundaryIou, MatchesPerClassMaskBandsOnRandomMaps) {
  std::mt19937 rng(21);
  const ClassMapping m = ClassMapping::train_ids(3, 255);
  for (int trial = 0; trial < 20; ++trial) {
    // Up to 3 words per row; blocky maps so that whole words are often uniform.
    const int h = 2 + rng() % 25, w = 2 + rng() % 200, d = 1 + rng() % 4, block = 1 + rng() % 130;
    cv::Mat gt(h, w, CV_8UC1), pred(h, w, CV_8UC1);
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x) {
        const int i = y * w + x;
        gt.data[i] = (x / block + y / 7) % 4 == 3 ? 255 : (x / block + y / 7) % 3;
        pred.data[i] = rng() % 50 == 0 ? rng() % 3 : ((x + 3) / block + y / 7) % 3;
      }
    // Two widths in one call: the second must equal a call of its own.
    std::vector<BoundaryIouStats> both(2, BoundaryIouStats(3)), alone(1, BoundaryIouStats(3));
    accumulate_boundary_iou(gt, pred, m, {d + 2, d}, both);
    accumulate_boundary_iou(gt, pred, m, {d}, alone);
    EXPECT_EQ(both[1].union_, alone[0].union_);
    const BoundaryIouStats& got = both[1];
    for (int c = 0; c < 3; ++c) {
      std::vector<uint8_t> gm(h * w), pm(h * w);
      for (int i = 0; i < h * w; ++i) gm[i] = gt.data[i] == c, pm[i] = pred.data[i] == c;
      const auto gb = reference::mask_band(gm, h, w, d), pb = reference::mask_band(pm, h, w, d);
      int64_t inter = 0, uni = 0;
      for (int i = 0; i < h * w; ++i) {
        inter += gb[i] && pb[i];
        uni += gb[i] || (pb[i] && gt.data[i] != 255);
      }
      EXPECT_EQ(got.intersection[c], inter);
      EXPECT_EQ(got.union_[c], uni);
    }
  }
}

}  // namespace
}  // namespace boundseg::metrics
