// Semantic boundary metrics: per-class Boundary IoU (metrics.md §2.6) and the
// GSCNN/SegFix boundary F-score (metrics.md §3).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include <opencv2/core/mat.hpp>

namespace boundseg::metrics {

/// Maps 8-bit map values to evaluated classes. class_of[v] = class index or -1;
/// ignored[v] marks ground-truth values that are void (V in §2.6).
struct ClassMapping {
  int64_t num_classes = 0;
  std::array<int16_t, 256> class_of{};
  std::array<bool, 256> ignored{};
  /// Cityscapes label ids: the 19 evaluated ids in trainId order; void = ignoreInEval.
  static ClassMapping cityscapes_label_ids();
  /// Train ids 0..K-1 with one ignore value (K <= 255).
  static ClassMapping train_ids(int64_t num_classes, int64_t ignore_index);
};

/// Per-class boundary intersection and union counts at one band ratio.
struct BoundaryIouStats {
  explicit BoundaryIouStats(int64_t num_classes = 0) : intersection(num_classes, 0), union_(num_classes, 0) {}
  std::vector<int64_t> intersection, union_;
  BoundaryIouStats& operator+=(const BoundaryIouStats& other);
};

/// Adds one image at each band width widths[r] to stats[r]:
/// I_c += |Gb_c ∩ Pb_c|, U_c += |Gb_c ∪ (Pb_c \ V)| with
/// Gb_c = mask_to_boundary(gt == c), Pb_c likewise. gt, pred: CV_8U.
void accumulate_boundary_iou(const cv::Mat& gt, const cv::Mat& pred, const ClassMapping& mapping,
                             const std::vector<int64_t>& widths, std::vector<BoundaryIouStats>& stats);

/// BIoU_c = I_c / U_c (NaN when U_c = 0).
std::vector<double> boundary_iou_scores(const BoundaryIouStats& stats);

/// Tolerance in pixels of a boundary-F threshold: th >= 1 is pixels, below 1 a
/// fraction of the diagonal rounded up (metrics.md §3.2 step 3).
int64_t boundary_f_tolerance(double threshold, int64_t height, int64_t width);

/// F-measure and precision of one class in one image at each threshold.
struct BoundaryFImage {
  /// f[t][c], precision[t][c]
  std::vector<std::vector<double>> f, precision;
};

/// db_eval_boundary for every class of one image at every threshold
/// (ignored GT pixels zeroed in both masks before seg2bmap).
BoundaryFImage boundary_f_image(const cv::Mat& gt, const cv::Mat& pred, const ClassMapping& mapping,
                                const std::vector<double>& thresholds);

/// Running F per class (F1RunningScore): sum of F and image count per class.
struct BoundaryFStats {
  BoundaryFStats() = default;
  BoundaryFStats(int64_t num_thresholds, int64_t num_classes)
      : f_sum(num_thresholds, std::vector<double>(num_classes, 0.0)), count(num_classes, 0) {}
  std::vector<std::vector<double>> f_sum;
  std::vector<int64_t> count;
  void add(const BoundaryFImage& image);
};

/// Per-class F = Fpc / Fc (classes absent from both maps count F = 1, as the
/// published definition does); [threshold][class].
std::vector<std::vector<double>> boundary_f_scores(const BoundaryFStats& stats);

}  // namespace boundseg::metrics
