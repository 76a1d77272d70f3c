// Pixel-level metrics: Cityscapes (metrics.md §1) and train-id protocols.
#include "boundseg/metrics/pixel_metrics.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "boundseg/core/error.h"
#include "boundseg/io/cityscapes_labels.h"
#include "boundseg/io/png.h"

namespace boundseg::metrics {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr int kNumIds = cityscapes::kNumLabelIds;

std::string size_text(const cv::Mat& m) { return std::to_string(m.cols) + "x" + std::to_string(m.rows); }

void check_same_size(const cv::Mat& gt, const cv::Mat& other, const std::string& what, const std::string& name) {
  require(gt.size() == other.size(), "eval", what + " '" + name + "'",
          "have the ground truth's size " + size_text(gt), [&] { return size_text(other); });
}

[[noreturn]] void value_error(const std::string& what, const std::string& name, int value, int x, int y,
                              const std::string& requirement) {
  fail("eval", what + " '" + name + "'", requirement,
       "value " + std::to_string(value) + " at pixel (x=" + std::to_string(x) + ", y=" + std::to_string(y) + ")");
}

template <typename T>
[[noreturn]] void report_first_bad(const cv::Mat& m, int64_t limit, int64_t ignore, const std::string& what,
                                   const std::string& name, const std::string& requirement) {
  for (int y = 0; y < m.rows; ++y) {
    const T* row = m.ptr<T>(y);
    for (int x = 0; x < m.cols; ++x)
      if (row[x] >= limit && row[x] != ignore) value_error(what, name, row[x], x, y, requirement);
  }
  fail("eval", what, requirement, "an out-of-range value");  // unreachable
}

bool is_ignored_id(int id) { return cityscapes::labels()[id].ignore_in_eval; }

int category_of(int id) { return cityscapes::labels()[id].category_id; }

// Label ids counted as the category in category iIoU (metrics.md §1.6): all
// instance ids of the category, the ignored caravan/trailer included.
bool in_instance_category(int id, int category) {
  const auto& l = cityscapes::labels()[id];
  return l.has_instances && l.category_id == category;
}

struct InstanceCounts {
  int64_t size = 0, tp = 0, category_tp = 0;
};

template <typename T>
void count_instances(const cv::Mat& ids, const cv::Mat& pred, const std::string& name,
                     std::vector<InstanceCounts>& counts, std::vector<int32_t>& slot_of, std::vector<int32_t>& order) {
  for (int y = 0; y < ids.rows; ++y) {
    const T* row = ids.ptr<T>(y);
    const uint8_t* p = pred.ptr<uint8_t>(y);
    for (int x = 0; x < ids.cols; ++x) {
      const int32_t v = row[x];
      if (v <= 1000) continue;
      const int label = v / 1000;
      if (label >= kNumIds)  // (no message strings built on the hot path)
        fail("eval", "the instance ground truth '" + name + "'", "hold ids below 34000",
             "value " + std::to_string(v));
      if (static_cast<size_t>(v) >= slot_of.size()) slot_of.resize(static_cast<size_t>(v) + 1, -1);
      if (slot_of[v] < 0) {
        slot_of[v] = static_cast<int32_t>(counts.size());
        counts.emplace_back();
        order.push_back(v);
      }
      InstanceCounts& c = counts[slot_of[v]];
      ++c.size;
      c.tp += p[x] == label;
      c.category_tp += in_instance_category(p[x], category_of(label));
    }
  }
}

}  // namespace

uint64_t ConfusionMatrix::row_sum(int64_t gt) const {
  uint64_t s = 0;
  for (int64_t j = 0; j < size_; ++j) s += at(gt, j);
  return s;
}

uint64_t ConfusionMatrix::total() const {
  uint64_t s = 0;
  for (uint64_t v : counts_) s += v;
  return s;
}

ConfusionMatrix& ConfusionMatrix::operator+=(const ConfusionMatrix& other) {
  for (size_t i = 0; i < counts_.size(); ++i) counts_[i] += other.counts_[i];
  return *this;
}

double nan_mean(const double* values, int64_t n) {
  double sum = 0.0;
  int64_t valid = 0;
  for (int64_t i = 0; i < n; ++i) {
    if (std::isnan(values[i])) continue;
    sum += values[i];
    ++valid;
  }
  return valid ? sum / double(valid) : kNaN;
}

// ----------------------------------------------------------------------------
// Cityscapes

CityscapesPixelStats& CityscapesPixelStats::operator+=(const CityscapesPixelStats& o) {
  confusion += o.confusion;
  for (int i = 0; i < kNumIds; ++i) {
    instance_tp[i] += o.instance_tp[i];
    instance_fn[i] += o.instance_fn[i];
  }
  for (int k = 0; k < cityscapes::kNumCategories; ++k) {
    category_instance_tp[k] += o.category_instance_tp[k];
    category_instance_fn[k] += o.category_instance_fn[k];
  }
  return *this;
}

void accumulate_cityscapes_pixels(const cv::Mat& gt, const cv::Mat& pred, const cv::Mat& gt_instances,
                                  CityscapesPixelStats& stats, const ImageSources& names) {
  require(gt.type() == CV_8UC1, "eval", "the ground truth '" + names.gt + "'", "be an 8-bit label-id map",
          [&] { return io::describe_image(gt); });
  require(pred.type() == CV_8UC1, "eval", "the prediction '" + names.prediction + "'", "be an 8-bit label-id map",
          [&] { return "a 16-bit map"; });
  check_same_size(gt, pred, "the prediction", names.prediction);
  // Histogram of gt * 256 + pred: one pass, range checks afterwards. Two
  // interleaved histograms avoid stalls on runs of equal pixels.
  std::vector<uint32_t> hist(2 * 256 * 256, 0);
  uint32_t* even = hist.data();
  uint32_t* odd = hist.data() + 256 * 256;
  for (int y = 0; y < gt.rows; ++y) {
    const uint8_t* g = gt.ptr<uint8_t>(y);
    const uint8_t* p = pred.ptr<uint8_t>(y);
    int x = 0;
    for (; x + 1 < gt.cols; x += 2) {
      ++even[(g[x] << 8) | p[x]];
      ++odd[(g[x + 1] << 8) | p[x + 1]];
    }
    if (x < gt.cols) ++even[(g[x] << 8) | p[x]];
  }
  for (int i = 0; i < 256 * 256; ++i) even[i] += odd[i];
  for (int g = 0; g < 256; ++g)
    for (int p = 0; p < 256; ++p) {
      const uint32_t n = hist[(g << 8) | p];
      if (!n) continue;
      if (g >= kNumIds)
        report_first_bad<uint8_t>(gt, kNumIds, -1, "the ground truth", names.gt, "hold Cityscapes label ids 0..33");
      if (p >= kNumIds)
        report_first_bad<uint8_t>(pred, kNumIds, -1, "the prediction", names.prediction,
                                  "hold Cityscapes label ids 0..33 (map train ids through trainId->id first)");
      stats.confusion.at(g, p) += n;
    }
  if (gt_instances.empty()) return;
  require(gt_instances.type() == CV_16UC1 || gt_instances.type() == CV_32SC1, "eval",
          "the instance ground truth '" + names.gt_instances + "'", "be a 16-bit instanceIds map",
          [&] { return io::describe_image(gt_instances); });
  check_same_size(gt, gt_instances, "the instance ground truth", names.gt_instances);
  // Per instance (id > 1000): size, class hits, category hits (metrics.md §1.6).
  std::vector<InstanceCounts> counts;
  std::vector<int32_t> slot_of;  // instance id -> index into counts
  std::vector<int32_t> order;
  if (gt_instances.depth() == CV_16U) {
    count_instances<uint16_t>(gt_instances, pred, names.gt_instances, counts, slot_of, order);
  } else {
    count_instances<int32_t>(gt_instances, pred, names.gt_instances, counts, slot_of, order);
  }
  std::sort(order.begin(), order.end());
  for (int32_t v : order) {
    const int label = v / 1000;
    if (is_ignored_id(label)) continue;
    const InstanceCounts& c = counts[slot_of[v]];
    const double weight = cityscapes::average_instance_size(label) / double(c.size);
    stats.instance_tp[label] += double(c.tp) * weight;
    stats.instance_fn[label] += double(c.size - c.tp) * weight;
    const int category = category_of(label);
    const std::string name = cityscapes::category_names()[category];
    if (name == "human" || name == "vehicle") {
      stats.category_instance_tp[category] += double(c.category_tp) * weight;
      stats.category_instance_fn[category] += double(c.size - c.category_tp) * weight;
    }
  }
}

CityscapesPixelScores cityscapes_pixel_scores(const CityscapesPixelStats& stats) {
  const ConfusionMatrix& cm = stats.confusion;
  CityscapesPixelScores s;
  for (int l = 0; l < kNumIds; ++l) {
    s.class_iou[l] = s.class_iiou[l] = kNaN;
    if (is_ignored_id(l)) continue;
    const uint64_t tp = cm.at(l, l);
    const uint64_t fn = cm.row_sum(l) - tp;
    uint64_t fp = 0;  // rows of valid ids other than l (predictions on void never hurt)
    for (int i = 0; i < kNumIds; ++i)
      if (i != l && !is_ignored_id(i)) fp += cm.at(i, l);
    const uint64_t denom = tp + fp + fn;
    if (denom > 0) s.class_iou[l] = double(tp) / double(denom);
    if (!cityscapes::labels()[l].has_instances) continue;
    const double itp = stats.instance_tp[l], ifn = stats.instance_fn[l];
    const double idenom = itp + double(fp) + ifn;
    if (idenom != 0) s.class_iiou[l] = itp / idenom;
  }
  for (int k = 0; k < cityscapes::kNumCategories; ++k) {
    s.category_iou[k] = s.category_iiou[k] = kNaN;
    std::vector<int> members;  // non-ignored ids of category k
    for (int l = 0; l < kNumIds; ++l)
      if (category_of(l) == k && !is_ignored_id(l)) members.push_back(l);
    if (members.empty()) continue;
    uint64_t tp = 0, rows = 0, fp = 0;
    for (int i : members) {
      rows += cm.row_sum(i);
      for (int j : members) tp += cm.at(i, j);
    }
    for (int i = 0; i < kNumIds; ++i) {
      if (is_ignored_id(i) || category_of(i) == k) continue;
      for (int j : members) fp += cm.at(i, j);
    }
    const uint64_t denom = tp + fp + (rows - tp);
    if (denom > 0) s.category_iou[k] = double(tp) / double(denom);
    const std::string name = cityscapes::category_names()[k];
    if (name != "human" && name != "vehicle") continue;
    uint64_t ifp = 0;  // columns: all instance ids of k, caravan/trailer included
    for (int i = 0; i < kNumIds; ++i) {
      if (is_ignored_id(i) || category_of(i) == k) continue;
      for (int j = 0; j < kNumIds; ++j)
        if (in_instance_category(j, k)) ifp += cm.at(i, j);
    }
    const double itp = stats.category_instance_tp[k], ifn = stats.category_instance_fn[k];
    const double idenom = itp + double(ifp) + ifn;
    if (idenom != 0) s.category_iiou[k] = itp / idenom;
  }
  s.miou = nan_mean(s.class_iou.data(), kNumIds);
  s.iiou = nan_mean(s.class_iiou.data(), kNumIds);
  s.category_miou = nan_mean(s.category_iou.data(), cityscapes::kNumCategories);
  s.category_iiou_mean = nan_mean(s.category_iiou.data(), cityscapes::kNumCategories);
  return s;
}

// ----------------------------------------------------------------------------
// Train ids

TrainIdPixelStats& TrainIdPixelStats::operator+=(const TrainIdPixelStats& o) {
  confusion += o.confusion;
  return *this;
}

namespace {

template <typename T>
void accumulate_train_ids(const cv::Mat& gt, const cv::Mat& pred, int64_t ignore, TrainIdPixelStats& stats,
                          const ImageSources& names) {
  const int64_t k = stats.num_classes;
  ConfusionMatrix& cm = stats.confusion;
  for (int y = 0; y < gt.rows; ++y) {
    const T* g = gt.ptr<T>(y);
    const T* p = pred.ptr<T>(y);
    for (int x = 0; x < gt.cols; ++x) {
      const int64_t gv = g[x], pv = p[x];
      if (gv == ignore) continue;
      if (gv >= k)
        value_error("the ground truth", names.gt, int(gv), x, y,
                    "hold train ids 0.." + std::to_string(k - 1) + " or the ignore index " + std::to_string(ignore));
      int64_t col = pv;
      if (pv == ignore) {
        col = k;
      } else if (pv >= k) {
        value_error("the prediction", names.prediction, int(pv), x, y,
                    "hold train ids 0.." + std::to_string(k - 1) + " or the ignore index " + std::to_string(ignore));
      }
      ++cm.at(gv, col);
    }
  }
}

}  // namespace

void accumulate_train_id_pixels(const cv::Mat& gt, const cv::Mat& pred, int64_t ignore_index,
                                TrainIdPixelStats& stats, const ImageSources& names) {
  require(gt.channels() == 1 && (gt.depth() == CV_8U || gt.depth() == CV_16U), "eval",
          "the ground truth '" + names.gt + "'", "be a single-channel 8- or 16-bit label map",
          [&] { return io::describe_image(gt); });
  check_same_size(gt, pred, "the prediction", names.prediction);
  require(pred.type() == gt.type(), "eval", "the prediction '" + names.prediction + "'",
          "have the ground truth's bit depth", [&] { return "a different bit depth"; });
  if (gt.depth() == CV_8U) {
    accumulate_train_ids<uint8_t>(gt, pred, ignore_index, stats, names);
  } else {
    accumulate_train_ids<uint16_t>(gt, pred, ignore_index, stats, names);
  }
}

TrainIdPixelScores train_id_pixel_scores(const TrainIdPixelStats& stats, ZeroUnion zero_union) {
  const int64_t k = stats.num_classes;
  const ConfusionMatrix& cm = stats.confusion;
  TrainIdPixelScores s;
  s.class_iou.assign(k, kNaN);
  s.class_accuracy.assign(k, kNaN);
  s.class_dice.assign(k, kNaN);
  uint64_t correct = 0, total = 0;
  double fw = 0.0;
  std::vector<uint64_t> rows(k);
  for (int64_t c = 0; c < k; ++c) rows[c] = cm.row_sum(c), total += rows[c];
  for (int64_t c = 0; c < k; ++c) {
    const uint64_t tp = cm.at(c, c);
    uint64_t col = 0;
    for (int64_t i = 0; i < k; ++i) col += cm.at(i, c);
    const uint64_t uni = rows[c] + col - tp;
    correct += tp;
    if (uni > 0) {
      s.class_iou[c] = double(tp) / double(uni);
      s.class_dice[c] = 2.0 * double(tp) / double(rows[c] + col);
      fw += double(rows[c]) / double(total) * s.class_iou[c];
    } else if (zero_union == ZeroUnion::kZero) {
      s.class_iou[c] = s.class_dice[c] = 0.0;
    }
    if (rows[c] > 0) s.class_accuracy[c] = double(tp) / double(rows[c]);
  }
  s.miou = nan_mean(s.class_iou.data(), k);
  s.macc = nan_mean(s.class_accuracy.data(), k);
  s.mdice = nan_mean(s.class_dice.data(), k);
  s.aacc = total ? double(correct) / double(total) : kNaN;
  s.fwiou = total ? fw : kNaN;
  return s;
}

}  // namespace boundseg::metrics
