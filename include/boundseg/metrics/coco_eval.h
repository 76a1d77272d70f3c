// COCO mask AP and Boundary AP (pycocotools COCOeval; boundary-iou-api coco_instance_api, metrics.md §2.3).
// The RLE codec is io/coco_rle.h.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace boundseg::metrics {

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
