// Cityscapes instance-level AP / AP50 and its Boundary-IoU variant (metrics.md §2.4, §4).
#include "boundseg/metrics/instance_ap.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <cstdlib>
#include <iostream>
#include <limits>
#include <memory>
#include <string_view>
#include <system_error>
#include <unordered_map>

#include "boundseg/core/error.h"
#include "boundseg/io/cityscapes_labels.h"
#include "boundseg/io/atomic_file.h"
#include "boundseg/io/cityscapes_instances.h"
#include "boundseg/io/png.h"
#include "metrics/numpy_sum.h"
#include "boundseg/ops/boundary_kernels.h"

namespace boundseg::metrics {
namespace {

namespace fs = std::filesystem;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr const char* kTxtWhat = "instance prediction txt";
constexpr const char* kMatcherWhat = "InstanceMatcher";
constexpr const char* kEvalWhat = "evaluate_instance_ap";
// labels.py also knows "license plate" (id -1, ignoreInEval); it is never drawn
// into PNGs and is not part of the 34-row table, but id2label accepts it.
constexpr int64_t kLicensePlateId = -1;
// Instance ids are label_id * 1000 + k (metrics.md §4.2).
constexpr int64_t kInstanceIdFactor = 1000;

// ---------------------------------------------------------------------------
// Label helpers

bool is_known_label(int64_t id) {
  return id == kLicensePlateId || (id >= 0 && id < cityscapes::kNumLabelIds);
}

bool is_ignored_label(int64_t id) {
  return id == kLicensePlateId || (id >= 0 && id < cityscapes::kNumLabelIds && cityscapes::labels()[id].ignore_in_eval);
}

// Position in the evaluator's class order (person..bicycle), -1 otherwise.
// caravan/trailer have instances but are ignoreInEval, hence not in instLabels.
int instance_class_index(int64_t id) {
  const auto& ids = cityscapes::instance_class_ids();
  for (int k = 0; k < cityscapes::kNumInstanceClasses; ++k)
    if (ids[k] == id) return k;
  return -1;
}

std::string label_text(int64_t id) {
  if (id == kLicensePlateId) return "-1 (license plate)";
  return std::to_string(id) + " (" + cityscapes::labels()[id].name + ")";
}

// Label id of an instanceIds value, as instance.py getLabelID.
int64_t label_of_instance_value(int64_t v) { return v < kInstanceIdFactor ? v : v / kInstanceIdFactor; }


std::string size_text(int64_t rows, int64_t cols) { return std::to_string(rows) + "x" + std::to_string(cols); }

// ---------------------------------------------------------------------------
// numpy reduction order, so that averages reproduce the reference bit for bit

// np.nanmean: NaNs replaced by 0 in the sum, divided by the count of the rest.
double numpy_nanmean(std::vector<double> values) {
  size_t valid = 0;
  for (double& v : values) {
    if (std::isnan(v)) {
      v = 0.0;
    } else {
      ++valid;
    }
  }
  return numpy_pairwise_sum(values.data(), values.size()) / double(valid);  // 0/0 = NaN when all are NaN
}

// ---------------------------------------------------------------------------
// AP of one (class, threshold) from the (score, y_true) list (metrics.md §4.4)

struct ScoredEntry {
  double score;
  double is_true;  // y_true; a double as in the reference's float arrays
};

double average_precision(std::vector<ScoredEntry> entries, int64_t hard_false_negatives) {
  // Unique-score precision/recall points; only the multiset matters, so the
  // (unstable) order of equal scores in numpy's argsort is irrelevant.
  std::sort(entries.begin(), entries.end(),
            [](const ScoredEntry& a, const ScoredEntry& b) { return a.score < b.score; });
  const size_t n = entries.size();
  std::vector<double> cumsum(n);
  double running = 0.0;
  for (size_t i = 0; i < n; ++i) cumsum[i] = running += entries[i].is_true;
  const double total_true = cumsum[n - 1];
  std::vector<double> precision, recall;
  for (size_t i = 0; i < n; ++i) {
    if (i > 0 && entries[i].score == entries[i - 1].score) continue;  // first index of each unique score
    const double below = i > 0 ? cumsum[i - 1] : 0.0;                 // Y[u-1], Y[-1] := 0
    const double tp = total_true - below;
    const double fp = double(n - i) - tp;
    const double fn = below + double(hard_false_negatives);
    precision.push_back(tp / (tp + fp));
    recall.push_back(tp / (tp + fn));
  }
  // The artificial last point (boundary-iou-api and cityscapesScripts v2.2.4).
  precision.push_back(1.0);
  recall.push_back(0.0);
  // np.convolve([r0, r0, r1, ..., rn, 0], [-0.5, 0, 0.5], 'valid'):
  // width_j = 0.5 * r_{j-1} - 0.5 * r_{j+1} with r_{-1} = r_0, r_{n+1} = 0.
  const size_t m = recall.size();
  double ap = 0.0;
  for (size_t j = 0; j < m; ++j) {
    const double previous = j == 0 ? recall[0] : recall[j - 1];
    const double next = j + 1 < m ? recall[j + 1] : 0.0;
    ap += precision[j] * (previous * 0.5 + next * -0.5);
  }
  return ap;
}

void validate(const InstanceApOptions& options, const char* where) {
  require(std::isfinite(options.boundary_dilation_ratio) && options.boundary_dilation_ratio >= 0.0, where,
          "'boundary_dilation_ratio'", "be a finite number >= 0",
          [&] { return std::to_string(options.boundary_dilation_ratio); });
  require(options.min_region_size >= 0, where, "'min_region_size'", "be >= 0",
          [&] { return std::to_string(options.min_region_size); });
}

}  // namespace

const std::array<double, kNumOverlaps>& cityscapes_overlaps() {
  // numpy arange(0.5, 1.0, 0.05) = 0.5 + i * ((0.5 + 0.05) - 0.5), written out
  // as the exact doubles (metrics.md §4.4, §7 #8).
  static const std::array<double, kNumOverlaps> overlaps = {
      0.5,                0.55,               0.6000000000000001, 0.6500000000000001, 0.7000000000000002,
      0.7500000000000002, 0.8000000000000003, 0.8500000000000003, 0.9000000000000004, 0.9500000000000004};
  return overlaps;
}

std::vector<InstancePredictionLine> read_cityscapes_prediction_txt(const fs::path& txt,
                                                                   std::vector<std::string>* warnings) {
  // As assignGt2Preds: label lookup on the lines that survive the duplicate rule (so an overridden line cannot
  // drop or reject its replacement), then the mask.
  std::vector<InstancePredictionLine> result;
  for (const io::InstanceResultLine& e : io::read_cityscapes_instance_txt(txt)) {
    const std::string where = "line " + std::to_string(e.line_number) + " of '" + txt.string() + "'";
    if (!is_known_label(e.label_id)) {
      fail(kTxtWhat, "the labelId on " + where, "be a Cityscapes label id (-1..33; instance classes 24-28, 31-33)",
           "the unknown id " + io::quote_text(e.label_token));
    }
    if (instance_class_index(e.label_id) < 0) {
      // Upstream drops these silently (trainIds written by mistake vanish).
      const std::string message = where + ": label id " + label_text(e.label_id) +
                                  " is not one of the 8 evaluated instance classes; prediction '" +
                                  e.mask_path.string() + "' dropped (metrics.md §4.1)";
      if (warnings) {
        warnings->push_back(message);
      } else {
        std::cerr << "boundseg warning: " << message << "\n";
      }
      continue;
    }
    std::error_code ec;
    if (!fs::is_regular_file(e.mask_path, ec)) {
      fail(kTxtWhat, "the mask '" + e.mask_path.string() + "' named on " + where, "be an existing file",
           fs::exists(e.mask_path, ec) ? "a directory or special file" : "no such file");
    }
    result.push_back({e.mask_path, static_cast<int>(e.label_id), e.confidence});
  }
  return result;
}

// ---------------------------------------------------------------------------
// InstanceMatcher

struct InstanceMatcher::State {
  InstanceApOptions options;
  int64_t height = 0;
  int64_t width = 0;
  int64_t band_d = 0;              // mask_to_boundary width from the full image size
  std::vector<int32_t> gt_index;   // per pixel: index into result.gts, -1 elsewhere
  std::vector<uint8_t> void_mask;  // per pixel: GT value is an ignored label id (§4.3)
  std::vector<uint8_t> gt_band;    // per pixel: inside the band of its own GT segment (§2.4)
  std::vector<cv::Rect> gt_boxes;  // tight boxes of the GT segments
  InstanceImageMatches result;
  bool finished = false;
  // scratch buffers reused across predictions
  std::vector<int64_t> intersections, boundary_intersections;
  std::vector<uint8_t> crop, band;
};

namespace {

struct ValueStats {
  int64_t value = 0;
  int64_t count = 0;
  int x0 = std::numeric_limits<int>::max(), y0 = std::numeric_limits<int>::max(), x1 = -1, y1 = -1;
};

// One pass over the instanceIds map: per distinct value, its pixel count and
// box; `slots` receives the per-pixel index into `stats`. Works run by run
// (ids come in long horizontal runs), so the hash lookup and the box update
// happen once per run, not per pixel.
// Non-zero pixel count and tight box of a full-image mask. Zero stretches are
// skipped eight bytes at a time: masks are mostly empty.
struct MaskExtent {
  int64_t count = 0;
  int x0 = 0, y0 = 0, x1 = -1, y1 = -1;
};

MaskExtent mask_extent(const cv::Mat& mask) {
  MaskExtent e;
  e.x0 = mask.cols;
  e.y0 = mask.rows;
  for (int y = 0; y < mask.rows; ++y) {
    const uint8_t* row = mask.ptr<uint8_t>(y);
    int first = -1, x = 0;
    for (; x + 8 <= mask.cols && first < 0; x += 8) {
      uint64_t word;
      std::memcpy(&word, row + x, 8);
      if (word) first = x + __builtin_ctzll(word) / 8;
    }
    for (; x < mask.cols && first < 0; ++x)
      if (row[x]) first = x;
    if (first < 0) continue;
    int last = mask.cols - 1;
    while (!row[last]) --last;
    int64_t count = 0;
    for (int i = first; i <= last; ++i) count += row[i] != 0;
    e.count += count;
    e.x0 = std::min(e.x0, first);
    e.x1 = std::max(e.x1, last);
    e.y0 = std::min(e.y0, y);
    e.y1 = y;
  }
  return e;
}

template <typename T>
std::vector<ValueStats> scan_values(const cv::Mat& ids, std::vector<int32_t>& slots) {
  std::vector<ValueStats> stats;
  std::unordered_map<int64_t, int32_t> slot_of;
  for (int y = 0; y < ids.rows; ++y) {
    const T* row = ids.ptr<T>(y);
    int32_t* out = slots.data() + int64_t(y) * ids.cols;
    int x = 0;
    while (x < ids.cols) {
      const T v = row[x];
      int end = x + 1;
      while (end < ids.cols && row[end] == v) ++end;
      const auto [it, inserted] = slot_of.emplace(int64_t(v), int32_t(stats.size()));
      if (inserted) stats.push_back(ValueStats{int64_t(v)});
      ValueStats& s = stats[it->second];
      s.count += end - x;
      s.x0 = std::min(s.x0, x);
      s.x1 = std::max(s.x1, end - 1);
      s.y0 = std::min(s.y0, y);
      s.y1 = y;
      std::fill(out + x, out + end, it->second);
      x = end;
    }
  }
  return stats;
}

}  // namespace

InstanceMatcher::InstanceMatcher(const cv::Mat& gt_instance_ids, const InstanceApOptions& options) : state_(new State) {
  std::unique_ptr<State> guard(state_);  // released on success; frees the state if a check throws
  State& s = *state_;
  validate(options, kMatcherWhat);
  s.options = options;
  const cv::Mat& ids = gt_instance_ids;
  require(!ids.empty() && ids.channels() == 1 && (ids.depth() == CV_16U || ids.depth() == CV_32S), kMatcherWhat,
          "'gt_instance_ids'", "be a non-empty single-channel CV_16U or CV_32S instanceIds map",
          [&] { return io::describe_image(ids); });
  s.height = ids.rows;
  s.width = ids.cols;
  const int64_t n = s.height * s.width;
  s.gt_index.assign(n, -1);
  std::vector<ValueStats> values =
      ids.depth() == CV_16U ? scan_values<uint16_t>(ids, s.gt_index) : scan_values<int32_t>(ids, s.gt_index);

  // GT segments: every value whose label is one of the 8 classes, group
  // regions included, in ascending id order (instances2dict walks np.unique).
  std::vector<int32_t> order(values.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = int32_t(i);
  std::sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return values[a].value < values[b].value; });
  std::vector<int32_t> code_of_slot(values.size(), -1);  // >= 0: GT index; -2: void
  constexpr int32_t kVoid = -2;
  for (const int32_t slot : order) {
    const ValueStats& v = values[slot];
    const int64_t label = label_of_instance_value(v.value);
    if (!is_known_label(label)) {
      // instances2dict raises KeyError on such values.
      fail(kMatcherWhat, "'gt_instance_ids'",
           "hold Cityscapes label ids or label_id*1000+k instance ids (metrics.md §4.2)",
           "the value " + std::to_string(v.value) + " (label id " + std::to_string(label) + ")");
    }
    // np.in1d(gt, ignored ids): only raw values < 1000 can be void, so caravan
    // instances 29xxx are not void while the caravan group region 29 is.
    if (v.value < kInstanceIdFactor && is_ignored_label(v.value)) {
      code_of_slot[slot] = kVoid;
    } else if (instance_class_index(label) >= 0) {
      code_of_slot[slot] = int32_t(s.result.gts.size());
      InstanceImageMatches::Gt gt;
      gt.instance_id = v.value;
      gt.label_id = static_cast<int>(label);
      gt.pixel_count = v.count;
      s.result.gts.push_back(gt);
      s.gt_boxes.emplace_back(v.x0, v.y0, v.x1 - v.x0 + 1, v.y1 - v.y0 + 1);
    }
  }
  s.void_mask.assign(n, 0);
  for (int64_t i = 0; i < n; ++i) {
    const int32_t code = code_of_slot[s.gt_index[i]];
    s.void_mask[i] = code == kVoid;
    s.gt_index[i] = std::max(code, int32_t(-1));
  }

  s.result.has_boundary = options.boundary;
  if (options.boundary) {
    // Per GT segment: its mask_to_boundary band (boundary-iou-api builds the
    // same bands into one map; segments are disjoint, so the visiting order
    // does not matter). Bands are computed on the tight box: the mask is zero
    // outside it and the image outside counts as background, so a zero border
    // is equivalent; d comes from the full image size.
    s.band_d = detail::band_width(options.boundary_dilation_ratio, s.height, s.width);
    s.gt_band.assign(n, 0);
    for (size_t g = 0; g < s.result.gts.size(); ++g) {
      const cv::Rect& box = s.gt_boxes[g];
      s.crop.resize(size_t(box.area()));
      s.band.resize(size_t(box.area()));
      for (int y = 0; y < box.height; ++y) {
        const int32_t* row = s.gt_index.data() + int64_t(box.y + y) * s.width + box.x;
        for (int x = 0; x < box.width; ++x) s.crop[int64_t(y) * box.width + x] = row[x] == int32_t(g);
      }
      detail::mask_to_boundary(s.crop.data(), s.band.data(), box.height, box.width, s.band_d);
      int64_t count = 0;
      for (int y = 0; y < box.height; ++y) {
        uint8_t* out = s.gt_band.data() + int64_t(box.y + y) * s.width + box.x;
        for (int x = 0; x < box.width; ++x) {
          if (s.band[int64_t(y) * box.width + x]) {
            out[x] = 1;
            ++count;
          }
        }
      }
      s.result.gts[g].boundary_count = count;
    }
  }
  guard.release();
}

InstanceMatcher::~InstanceMatcher() { delete state_; }

void InstanceMatcher::add_prediction(int label_id, double confidence, const cv::Mat& mask) {
  State& s = *state_;
  require(!s.finished, kMatcherWhat, "add_prediction", "be called before finish()",
          [] { return "a call after finish()"; });
  // assignGt2Preds skips other labels before it even opens the mask.
  if (instance_class_index(label_id) < 0) return;
  require(!std::isnan(confidence), kMatcherWhat, "'confidence'", "be a number other than NaN", [] { return "NaN"; });
  require(mask.type() == CV_8UC1, kMatcherWhat, "'mask'", "be a single-channel CV_8U mask (non-zero = instance)",
          [&] { return io::describe_image(mask); });
  require(mask.rows == s.height && mask.cols == s.width, kMatcherWhat, "'mask'",
          "have the ground truth's size " + size_text(s.height, s.width),
          [&] { return size_text(mask.rows, mask.cols); });

  // Pass 1 (whole mask): pixel count and tight box.
  const MaskExtent extent = mask_extent(mask);
  const int64_t pixel_count = extent.count;
  if (pixel_count == 0) return;  // "skip if actually empty"
  const int x0 = extent.x0, y0 = extent.y0, x1 = extent.x1, y1 = extent.y1;

  // Pass 2 (box only): void intersection and intersections with same-class GT.
  const size_t num_gts = s.result.gts.size();
  s.intersections.assign(num_gts, 0);
  s.boundary_intersections.assign(num_gts, 0);
  InstanceImageMatches::Prediction p;
  p.label_id = label_id;
  p.confidence = confidence;
  p.pixel_count = pixel_count;
  const int bw = x1 - x0 + 1, bh = y1 - y0 + 1;
  for (int y = y0; y <= y1; ++y) {
    const uint8_t* row = mask.ptr<uint8_t>(y);
    const int64_t base = int64_t(y) * s.width;
    for (int x = x0; x <= x1; ++x) {
      if (!row[x]) continue;
      p.void_intersection += s.void_mask[base + x];
      const int32_t g = s.gt_index[base + x];
      if (g >= 0 && s.result.gts[g].label_id == label_id) ++s.intersections[g];
    }
  }

  if (s.options.boundary) {
    // Prediction band = mask_to_boundary(mask != 0), on the box (see the GT bands).
    s.crop.resize(size_t(bw) * bh);
    s.band.resize(size_t(bw) * bh);
    for (int y = 0; y < bh; ++y) {
      const uint8_t* row = mask.ptr<uint8_t>(y0 + y) + x0;
      for (int x = 0; x < bw; ++x) s.crop[int64_t(y) * bw + x] = row[x] != 0;
    }
    detail::mask_to_boundary(s.crop.data(), s.band.data(), bh, bw, s.band_d);
    for (int y = 0; y < bh; ++y) {
      const int64_t base = int64_t(y0 + y) * s.width + x0;
      for (int x = 0; x < bw; ++x) {
        if (!s.band[int64_t(y) * bw + x]) continue;
        ++p.boundary_count;
        const int32_t g = s.gt_index[base + x];
        if (g >= 0 && s.gt_band[base + x] && s.result.gts[g].label_id == label_id) ++s.boundary_intersections[g];
      }
    }
  }

  // Every same-class GT with a mask intersection is kept (GT order); the
  // boundary variant's extra "boundary intersection > 0" rule is applied when
  // evaluating, so one set of matches serves both overlaps.
  for (size_t g = 0; g < num_gts; ++g) {
    if (s.intersections[g] > 0) p.matches.push_back({int(g), s.intersections[g], s.boundary_intersections[g]});
  }
  s.result.predictions.push_back(std::move(p));
}

InstanceImageMatches InstanceMatcher::finish() {
  State& s = *state_;
  require(!s.finished, kMatcherWhat, "finish", "be called once", [] { return "a second call"; });
  s.finished = true;
  // The pixel maps are no longer needed; free them with the result handed out.
  std::vector<int32_t>().swap(s.gt_index);
  std::vector<uint8_t>().swap(s.void_mask);
  std::vector<uint8_t>().swap(s.gt_band);
  return std::move(s.result);
}

// ---------------------------------------------------------------------------
// evaluateMatches + computeAverages

namespace {

void check_image(const InstanceImageMatches& image, size_t index, InstanceOverlap overlap) {
  const std::string where = "images[" + std::to_string(index) + "]";
  require(overlap != InstanceOverlap::kBoundary || image.has_boundary, kEvalWhat, where,
          "carry boundary counts for InstanceOverlap::kBoundary (match with InstanceApOptions::boundary = true)",
          [] { return "matches computed without them"; });
  for (size_t i = 0; i < image.predictions.size(); ++i) {
    const auto& p = image.predictions[i];
    for (const auto& m : p.matches) {
      const std::string what = where + ".predictions[" + std::to_string(i) + "].matches";
      require(m.gt_index >= 0 && size_t(m.gt_index) < image.gts.size(), kEvalWhat, what,
              "index gts (size " + std::to_string(image.gts.size()) + ")",
              [&] { return "gt_index " + std::to_string(m.gt_index); });
      require(image.gts[m.gt_index].label_id == p.label_id, kEvalWhat, what, "refer to GT of the prediction's class",
              [&] { return "a GT of label id " + std::to_string(image.gts[m.gt_index].label_id); });
    }
  }
}

// GT -> recorded (prediction, match) pairs in prediction order, i.e. the
// reference's gt["matchedPred"].
struct PairRef {
  int prediction;
  int match;
};

}  // namespace

InstanceApResult evaluate_instance_ap(const std::vector<InstanceImageMatches>& images, InstanceOverlap overlap,
                                      const InstanceApOptions& options) {
  validate(options, kEvalWhat);
  for (size_t i = 0; i < images.size(); ++i) check_image(images[i], i, overlap);
  const bool boundary = overlap == InstanceOverlap::kBoundary;
  const int64_t min_region = options.min_region_size;

  // The boundary copy records a pair only if both the mask and the boundary
  // intersections are > 0 (metrics.md §2.4); that also limits which GT
  // intersections count as ignore pixels below.
  auto recorded = [&](const InstanceImageMatches::Match& m) {
    return m.intersection > 0 && (!boundary || m.boundary_intersection > 0);
  };
  auto overlap_of = [&](const InstanceImageMatches::Gt& g, const InstanceImageMatches::Prediction& p,
                        const InstanceImageMatches::Match& m) {
    double o = double(m.intersection) / double(g.pixel_count + p.pixel_count - m.intersection);
    if (boundary) {
      const double b =
          double(m.boundary_intersection) / double(g.boundary_count + p.boundary_count - m.boundary_intersection);
      o = std::min(o, b);
    }
    return o;
  };

  std::vector<std::vector<std::vector<PairRef>>> gt_pairs(images.size());
  for (size_t i = 0; i < images.size(); ++i) {
    gt_pairs[i].resize(images[i].gts.size());
    for (size_t p = 0; p < images[i].predictions.size(); ++p) {
      const auto& matches = images[i].predictions[p].matches;
      for (size_t m = 0; m < matches.size(); ++m)
        if (recorded(matches[m])) gt_pairs[i][matches[m].gt_index].push_back({int(p), int(m)});
    }
  }

  InstanceApResult result;
  const auto& overlaps = cityscapes_overlaps();
  for (int k = 0; k < cityscapes::kNumInstanceClasses; ++k) {
    const int label = cityscapes::instance_class_ids()[k];
    for (int o = 0; o < kNumOverlaps; ++o) {
      const double threshold = overlaps[o];
      std::vector<ScoredEntry> entries;
      int64_t hard_false_negatives = 0;
      bool have_gt = false, have_pred = false;
      for (size_t i = 0; i < images.size(); ++i) {
        const InstanceImageMatches& image = images[i];
        // Kept GT: real instances (id >= 1000) of at least min_region pixels;
        // group regions and small GT are neither TP nor FN.
        for (size_t g = 0; g < image.gts.size(); ++g) {
          const auto& gt = image.gts[g];
          if (gt.label_id != label || gt.instance_id < kInstanceIdFactor || gt.pixel_count < min_region) continue;
          have_gt = true;
          bool matched = false;
          double score = 0.0;
          for (const PairRef& ref : gt_pairs[i][g]) {
            const auto& p = image.predictions[ref.prediction];
            if (!(overlap_of(gt, p, p.matches[ref.match]) > threshold)) continue;
            if (matched) {
              // A second match: the lower score becomes a false positive.
              entries.push_back({std::min(score, p.confidence), 0.0});
              score = std::max(score, p.confidence);
            } else {
              matched = true;
              score = p.confidence;
            }
          }
          if (matched) {
            entries.push_back({score, 1.0});
          } else {
            ++hard_false_negatives;
          }
        }
        // Predictions over no recorded GT pair with overlap > t: false positive
        // unless mostly on ignore pixels. Group regions and small GT both add
        // their intersection, so a small group region counts twice.
        for (const auto& p : image.predictions) {
          if (p.label_id != label) continue;
          have_pred = true;
          bool found = false;
          for (const auto& m : p.matches) {
            if (recorded(m) && overlap_of(image.gts[m.gt_index], p, m) > threshold) {
              found = true;
              break;
            }
          }
          if (found) continue;
          int64_t ignore = p.void_intersection;
          for (const auto& m : p.matches) {
            if (!recorded(m)) continue;
            const auto& gt = image.gts[m.gt_index];
            if (gt.instance_id < kInstanceIdFactor) ignore += m.intersection;
            if (gt.pixel_count < min_region) ignore += m.intersection;
          }
          if (double(ignore) / double(p.pixel_count) <= threshold) entries.push_back({p.confidence, 0.0});
        }
      }
      double ap = kNaN;
      if (have_gt && have_pred) {
        // Reference deviation #2 (metrics.md §8): upstream raises IndexError
        // when nothing is countable; boundseg defines AP = 0.
        ap = entries.empty() ? 0.0 : average_precision(std::move(entries), hard_false_negatives);
      } else if (have_gt) {
        ap = 0.0;
      }
      result.ap_matrix[k][o] = ap;
    }
  }

  // computeAverages: np.average per class (NaN propagates), np.nanmean overall.
  std::vector<double> all, at50;
  for (int k = 0; k < cityscapes::kNumInstanceClasses; ++k) {
    const auto& row = result.ap_matrix[k];
    result.class_ap[k] = numpy_pairwise_sum(row.data(), row.size()) / double(kNumOverlaps);
    result.class_ap50[k] = row[0];
    all.insert(all.end(), row.begin(), row.end());
    at50.push_back(row[0]);
  }
  result.ap = numpy_nanmean(all);
  result.ap50 = numpy_nanmean(at50);
  return result;
}

}  // namespace boundseg::metrics
