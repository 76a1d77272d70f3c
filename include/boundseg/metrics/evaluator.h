// The dataset evaluator: pairs files, runs every requested metric in one
// streaming, parallel pass, and reduces the statistics at the end.
#pragma once

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "boundseg/metrics/boundary_metrics.h"
#include "boundseg/metrics/instance_ap.h"
#include "boundseg/metrics/pixel_metrics.h"

namespace boundseg::metrics {

enum class Protocol {
  kCityscapes,  ///< label ids 0..33, cityscapesScripts rules (metrics.md §1)
  kTrainId,     ///< classes 0..K-1 and one ignore index
};

/// One image to evaluate; empty paths mean "not available".
struct EvalSample {
  std::string name;                     ///< <city>_<seq>_<frame> or the file stem
  std::filesystem::path gt;             ///< GT label map
  std::filesystem::path gt_instances;   ///< Cityscapes instanceIds (iIoU, AP)
  std::filesystem::path prediction;     ///< predicted label map
  std::filesystem::path instance_txt;   ///< Cityscapes `*_pred.txt`
};

/// Cityscapes instance result files (`<city>_<seq>_<frame>*.txt`) under dir,
/// recursively; empty if dir is empty or missing.
std::vector<std::filesystem::path> find_instance_results(const std::filesystem::path& dir);

struct DiscoverOptions {
  std::filesystem::path gt_dir;
  std::filesystem::path pred_dir;        ///< semantic predictions (may be empty)
  std::filesystem::path instance_dir;    ///< `*_pred.txt` + masks (may be empty)
  Protocol protocol = Protocol::kCityscapes;
};

/// Finds the GT files under gt_dir (recursively) and pairs each with exactly
/// one prediction: Cityscapes names pair by `<city>_<seq>_<frame>` prefix (GT
/// files and masks listed in result txts are never taken as predictions),
/// other names by identical stem. Missing or ambiguous partners are errors.
std::vector<EvalSample> discover_samples(const DiscoverOptions& options);

struct EvalOptions {
  Protocol protocol = Protocol::kCityscapes;
  int64_t num_classes = 19;     ///< train-id protocol
  int64_t ignore_index = 255;   ///< train-id protocol
  std::vector<std::string> class_names;  ///< train-id protocol; default "class_<k>"
  bool pixel = true;            ///< mIoU & co (+ iIoU where instanceIds exist)
  bool boundary_iou = true;
  bool boundary_f = true;
  bool instance_ap = false;     ///< needs instance_txt and gt_instances per sample
  std::vector<double> boundary_iou_ratios = {0.02, 0.005};
  /// Fractions of the diagonal (< 1) or pixels (>= 1); defaults are GSCNN's
  /// 3/5/9/12 px at 1024x2048.
  std::vector<double> boundary_f_thresholds = {0.00088, 0.001875, 0.00375, 0.005};
  double ap_boundary_ratio = 0.005;
  ZeroUnion zero_union = ZeroUnion::kExclude;
  bool progress = true;
};

/// Everything the evaluator reports; NaN where a score is undefined.
struct EvalResult {
  Protocol protocol = Protocol::kCityscapes;
  int64_t num_images = 0;
  std::vector<std::string> class_names;      ///< evaluated classes, in order
  std::vector<std::string> warnings;
  // pixel level
  bool has_pixel = false, has_iiou = false;
  std::vector<double> class_iou, class_iiou, class_accuracy, class_dice;
  std::vector<std::string> category_names;
  std::vector<double> category_iou, category_iiou;
  double miou = 0, iiou = 0, category_miou = 0, category_iiou_mean = 0;
  double macc = 0, aacc = 0, fwiou = 0, mdice = 0;
  ConfusionMatrix confusion;
  // boundaries
  std::vector<double> boundary_iou_ratios;
  std::vector<std::vector<double>> boundary_iou;  ///< [ratio][class]
  std::vector<double> boundary_f_thresholds;
  std::vector<std::vector<double>> boundary_f;    ///< [threshold][class]
  // instances
  bool has_ap = false;
  InstanceApResult ap, boundary_ap;
  double ap_boundary_ratio = 0.005;
};

/// Runs the requested metrics over `samples` (images in parallel on the ATen
/// thread pool, statistics reduced in image order, so results do not depend
/// on the thread count).
EvalResult evaluate(const std::vector<EvalSample>& samples, const EvalOptions& options);

/// JSON with fractions in [0, 1] and null for NaN (keys: mIoU, class_iou,
/// category_iou, iIoU, boundary_iou, boundary_f, AP, AP50, boundary_AP, ...).
nlohmann::json to_json(const EvalResult& result);

/// Human-readable per-class table and summary (percentages).
std::string format_table(const EvalResult& result);

}  // namespace boundseg::metrics
