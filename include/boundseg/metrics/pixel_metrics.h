// Pixel-level semantic metrics: the Cityscapes protocol on label ids
// (evalPixelLevelSemanticLabeling, metrics.md §1) and a generic train-id protocol.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include <opencv2/core/mat.hpp>

namespace boundseg::metrics {

/// Square confusion matrix, rows = ground truth, columns = prediction.
class ConfusionMatrix {
 public:
  explicit ConfusionMatrix(int64_t size = 0) : size_(size), counts_(size * size, 0) {}
  int64_t size() const { return size_; }
  uint64_t at(int64_t gt, int64_t pred) const { return counts_[gt * size_ + pred]; }
  uint64_t& at(int64_t gt, int64_t pred) { return counts_[gt * size_ + pred]; }
  uint64_t row_sum(int64_t gt) const;
  uint64_t total() const;
  ConfusionMatrix& operator+=(const ConfusionMatrix& other);

 private:
  int64_t size_;
  std::vector<uint64_t> counts_;
};

/// The files of one image, named in error messages.
struct ImageSources {
  std::string gt, prediction, gt_instances;
};

// ---------------------------------------------------------------------------
// Cityscapes protocol (label ids 0..33)

/// Sums of one or more images. iIoU sums are weighted by avgSize/instanceSize.
struct CityscapesPixelStats {
  ConfusionMatrix confusion{34};
  std::array<double, 34> instance_tp{};   ///< weighted, per label id
  std::array<double, 34> instance_fn{};
  std::array<double, 8> category_instance_tp{};  ///< per category index
  std::array<double, 8> category_instance_fn{};
  CityscapesPixelStats& operator+=(const CityscapesPixelStats& other);
};

/// Adds one image. gt, pred: CV_8U label ids; gt_instances: CV_16U/CV_32S
/// instanceIds or empty (no iIoU). Values > 33 are errors naming the file.
void accumulate_cityscapes_pixels(const cv::Mat& gt, const cv::Mat& pred, const cv::Mat& gt_instances,
                                  CityscapesPixelStats& stats, const ImageSources& names);

/// Scores with NaN where the reference has NaN (ignored ids, empty denominators).
struct CityscapesPixelScores {
  std::array<double, 34> class_iou{};
  std::array<double, 34> class_iiou{};
  std::array<double, 8> category_iou{};
  std::array<double, 8> category_iiou{};
  double miou = 0, iiou = 0, category_miou = 0, category_iiou_mean = 0;
};
CityscapesPixelScores cityscapes_pixel_scores(const CityscapesPixelStats& stats);

// ---------------------------------------------------------------------------
// Generic train-id protocol (classes 0..K-1, one ignore index)

/// How a class whose union is empty (absent from GT and prediction) enters means.
enum class ZeroUnion {
  kExclude,  ///< NaN, left out of the mean (Cityscapes, detectron2, mmseg)
  kZero,     ///< counted as 0 (PaddleSeg)
};

/// Confusion of K classes plus one column for predictions equal to the ignore
/// index ("no prediction", an error for the GT class). GT ignore pixels are skipped.
struct TrainIdPixelStats {
  explicit TrainIdPixelStats(int64_t num_classes = 0) : num_classes(num_classes), confusion(num_classes + 1) {}
  int64_t num_classes;
  ConfusionMatrix confusion;
  TrainIdPixelStats& operator+=(const TrainIdPixelStats& other);
};

/// gt, pred: CV_8U or CV_16U train ids; values >= K other than ignore_index are errors.
void accumulate_train_id_pixels(const cv::Mat& gt, const cv::Mat& pred, int64_t ignore_index,
                                TrainIdPixelStats& stats, const ImageSources& names);

struct TrainIdPixelScores {
  std::vector<double> class_iou, class_accuracy, class_dice;
  double miou = 0, macc = 0, aacc = 0, fwiou = 0, mdice = 0;
};
TrainIdPixelScores train_id_pixel_scores(const TrainIdPixelStats& stats, ZeroUnion zero_union = ZeroUnion::kExclude);

/// Mean over non-NaN entries (NaN if none), summed in order as the references do.
double nan_mean(const double* values, int64_t n);

}  // namespace boundseg::metrics
