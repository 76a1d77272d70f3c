// Cityscapes instance-level AP / AP50 (cityscapesScripts evalInstanceLevelSemanticLabeling,
// metrics.md §4) and its Boundary-IoU variant (boundary-iou-api, metrics.md §2.4).
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <opencv2/core/mat.hpp>

namespace boundseg::metrics {

constexpr int kNumOverlaps = 10;  ///< numpy arange(0.5, 1.0, 0.05), exact doubles
/// The Cityscapes overlap thresholds (0.5, 0.55, 0.6000000000000001, ...).
const std::array<double, kNumOverlaps>& cityscapes_overlaps();

/// One line of a `*_pred.txt` file after parsing.
struct InstancePredictionLine {
  std::filesystem::path mask_path;  ///< resolved against the txt's directory
  int label_id = 0;                 ///< Cityscapes label id (24..33 are kept)
  double confidence = 0.0;
};

/// Parses a Cityscapes instance result file (formats.md §4, metrics.md §4.1):
/// exactly three single-space-separated tokens per line; label id parsed as
/// int(float(token)); unknown label ids are errors; known non-instance ids are
/// dropped with a warning in `warnings` (stderr when null); duplicate mask
/// paths: last line wins, first position kept (labels are checked after that,
/// as upstream does). A kept line whose mask file is missing is an error.
/// mask_path is absolute and lexically normalised (upstream os.path.abspath).
std::vector<InstancePredictionLine> read_cityscapes_prediction_txt(const std::filesystem::path& txt,
                                                                   std::vector<std::string>* warnings = nullptr);

struct InstanceApOptions {
  /// Also compute the Boundary-IoU variant (overlap = min(mask IoU, boundary IoU)).
  bool boundary = true;
  /// Band ratio of the boundary variant; Cityscapes convention 0.005.
  double boundary_dilation_ratio = 0.005;
  /// GT smaller than this (pixels) is neither TP nor FN (minRegionSizes[0]).
  int64_t min_region_size = 100;
};

/// Everything the AP computation needs from one image (no pixels kept).
struct InstanceImageMatches {
  struct Gt {
    int64_t instance_id = 0;  ///< value in instanceIds (< 1000: group region)
    int label_id = 0;
    int64_t pixel_count = 0;
    int64_t boundary_count = 0;  ///< size of its mask_to_boundary band
  };
  struct Match {
    int gt_index = 0;              ///< into `gts`
    int64_t intersection = 0;      ///< |pred ∩ gt|
    int64_t boundary_intersection = 0;  ///< |pred band ∩ gt band|
  };
  struct Prediction {
    int label_id = 0;
    double confidence = 0.0;
    int64_t pixel_count = 0;
    int64_t boundary_count = 0;
    int64_t void_intersection = 0;
    std::vector<Match> matches;  ///< GTs of the same class with intersection > 0, GT order
  };
  std::vector<Gt> gts;               ///< all GT segments of the 8 instance classes, ascending id
  std::vector<Prediction> predictions;  ///< in input order
  /// Whether the boundary counts were computed (InstanceApOptions::boundary);
  /// evaluate_instance_ap(kBoundary) rejects images without them.
  bool has_boundary = false;
};

/// Streams one image: construct from the GT instanceIds map (CV_16U or CV_32S),
/// add predictions one by one (mask: CV_8U, any non-zero pixel is foreground;
/// the mask can be dropped afterwards), then take the matches.
class InstanceMatcher {
 public:
  InstanceMatcher(const cv::Mat& gt_instance_ids, const InstanceApOptions& options = {});
  ~InstanceMatcher();
  InstanceMatcher(const InstanceMatcher&) = delete;
  InstanceMatcher& operator=(const InstanceMatcher&) = delete;
  /// Predictions of a label id that is not an instance class, or with an empty
  /// mask, are ignored (as the reference does). A mask of another size than
  /// the GT, of another type, or a NaN confidence is an error.
  void add_prediction(int label_id, double confidence, const cv::Mat& mask);
  InstanceImageMatches finish();

 private:
  struct State;
  State* state_;
};

enum class InstanceOverlap { kMask, kBoundary };

struct InstanceApResult {
  /// ap[class][overlap]; NaN where a class has neither GT nor predictions.
  std::array<std::array<double, kNumOverlaps>, 8> ap_matrix{};
  std::array<double, 8> class_ap{};    ///< mean over overlaps (NaN propagates)
  std::array<double, 8> class_ap50{};  ///< overlap index 0
  double ap = 0.0;    ///< nanmean over the matrix (allAp)
  double ap50 = 0.0;  ///< nanmean over classes at 0.5 (allAp50%)
};

/// evaluateMatches + computeAverages over all images (metrics.md §4.4).
InstanceApResult evaluate_instance_ap(const std::vector<InstanceImageMatches>& images,
                                      InstanceOverlap overlap, const InstanceApOptions& options = {});

}  // namespace boundseg::metrics
