// COCO mask AP and Boundary AP (pycocotools COCOeval; boundary-iou-api coco_instance_api,
// metrics.md §2.3) and COCO RLE (formats.md §5).
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json_fwd.hpp>
#include <opencv2/core/mat.hpp>

namespace boundseg::metrics {

/// Uncompressed COCO run-length encoding (column-major runs, zeros first).
struct Rle {
  int64_t height = 0;
  int64_t width = 0;
  std::vector<uint32_t> counts;
};

Rle rle_encode(const cv::Mat& mask);  ///< CV_8U, non-zero = 1
cv::Mat rle_decode(const Rle& rle);   ///< CV_8U 0/1
std::string rle_to_string(const Rle& rle);  ///< pycocotools compressed string
Rle rle_from_string(const std::string& counts, int64_t height, int64_t width);
/// Polygon rasterisation as pycocotools rleFrPoly (xy pairs, image coordinates).
Rle rle_from_polygon(const std::vector<double>& xy, int64_t height, int64_t width);
int64_t rle_area(const Rle& rle);
std::array<double, 4> rle_bbox(const Rle& rle);  ///< [x, y, w, h]

enum class CocoIouType { kSegm, kBoundary };

struct CocoEvalOptions {
  CocoIouType iou_type = CocoIouType::kSegm;
  double dilation_ratio = 0.02;  ///< boundary variant only
};

struct CocoEvalResult {
  /// AP, AP50, AP75, AP_small, AP_medium, AP_large, AR1, AR10, AR100,
  /// AR_small, AR_medium, AR_large (COCOeval.summarize order).
  std::array<double, 12> stats{};
  /// IoU matrices per (image id, category id): [dt sorted by score][gt].
  std::map<std::pair<int64_t, int64_t>, std::vector<std::vector<double>>> ious;
};

/// Evaluates COCO-format results against COCO-format ground truth (parsed JSON:
/// the GT object and the results list). Errors name the offending entry.
CocoEvalResult coco_evaluate(const nlohmann::json& ground_truth, const nlohmann::json& detections,
                             const CocoEvalOptions& options = {});

}  // namespace boundseg::metrics
