// The dataset evaluator: pairs files, runs every requested metric in one
// streaming, parallel pass, and reduces the statistics at the end.
#pragma once

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>
#include <opencv2/core/mat.hpp>

#include "boundseg/core/options.h"

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
  double ap_boundary_ratio = 0;  ///< the option the AP used
};

/// Ratios finite and >= 0 and distinct, tolerances > 0, the ignore index outside the classes, class names one per
/// class (names at `site`: the eval command passes its flags).
void validate(const EvalOptions& options, const OptionSite& site);

/// One image for the streaming evaluator, already decoded.
struct EvalImage {
  cv::Mat gt;            ///< label map (8-bit; 16-bit train ids only for the pixel metrics)
  cv::Mat prediction;    ///< semantic prediction of the gt's size (for pixel and boundary metrics)
  cv::Mat gt_instances;  ///< Cityscapes instanceIds (iIoU, AP); may be empty
  /// Instance predictions (AP), each mask read from its file when needed (read_cityscapes_prediction_txt).
  std::vector<InstancePredictionLine> instances;
  std::filesystem::path instance_txt;  ///< where the instances came from (messages)
  ImageSources sources;                ///< file names for messages
  std::vector<std::string> warnings;   ///< met while reading the image (reported with the result)
};

/// What one image contributes: small statistics, reduced in image order.
struct ImageStats {
  CityscapesPixelStats cityscapes;
  TrainIdPixelStats train_ids;
  std::vector<BoundaryIouStats> boundary_iou;
  BoundaryFImage boundary_f;
  InstanceImageMatches instances;
  bool has_instances = false;
  std::vector<std::string> warnings;
};

/// The streaming evaluator (reset / process / result): `boundseg eval` and the trainer's validation use it.
/// Statistics are summed in the order images are added, so results do not depend on threading.
class Evaluator {
 public:
  explicit Evaluator(EvalOptions options);
  void reset();
  /// add(measure(image)).
  void process(const EvalImage& image);
  /// The image's statistics (thread-safe: images can be measured in parallel and added in order).
  ImageStats measure(const EvalImage& image) const;
  void add(ImageStats stats);
  EvalResult result() const;
  int64_t num_images() const { return num_images_; }

 private:
  EvalOptions options_;
  ClassMapping mapping_;
  InstanceApOptions ap_options_;
  std::vector<std::string> class_names_;
  int64_t num_images_ = 0;
  bool all_have_instances_ = true;
  CityscapesPixelStats cityscapes_;
  TrainIdPixelStats train_ids_;
  std::vector<BoundaryIouStats> boundary_iou_;
  BoundaryFStats boundary_f_;
  std::vector<InstanceImageMatches> matches_;
  std::vector<std::string> warnings_;
};

/// Runs the requested metrics over `samples`: files read and measured in parallel chunks on the ATen thread pool,
/// added to an Evaluator in image order (results do not depend on the thread count).
EvalResult evaluate(const std::vector<EvalSample>& samples, const EvalOptions& options);

/// JSON with fractions in [0, 1] and null for NaN (keys: mIoU, class_iou,
/// category_iou, iIoU, boundary_iou, boundary_f, AP, AP50, boundary_AP, ...).
nlohmann::json to_json(const EvalResult& result);

/// Human-readable per-class table and summary (percentages).
std::string format_table(const EvalResult& result);

}  // namespace boundseg::metrics
