// Pictures for people: palette renderings and boundary error maps.
#pragma once

#include <opencv2/core/mat.hpp>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace boundseg::viz {

/// Colour maps for class ids (formats.md §8).
enum class Palette {
  /// Cityscapes for 19 classes, ADE20K for 150, PASCAL VOC otherwise.
  kAuto,
  /// The 19 Cityscapes train-id colours.
  kCityscapes,
  /// mmsegmentation's 150 ADE20K colours (classes after reduce_zero_label).
  kAde20k,
  /// PASCAL VOC's bit-interleaved colour map (defined for 0..254).
  kVoc,
};

/// "auto", "cityscapes", "ade20k" or "voc"; anything else is an error listing these.
Palette palette_from_name(const std::string& name);
/// kAuto resolved for `num_classes`; other palettes unchanged.
Palette resolve_palette(Palette palette, int64_t num_classes);
/// RGB colour of `label`, or nullopt where the palette has none (ignore 255, ids past the palette): drawn black.
std::optional<std::array<uint8_t, 3>> palette_color(Palette palette, int label);

/// Colours a Cityscapes label-id map (CV_8U) with the official palette (BGR).
cv::Mat colorize_cityscapes_label_ids(const cv::Mat& label_ids);

/// Colours a train-id map (CV_8U) as BGR with `palette` (kAuto: from num_classes); ids >= num_classes and ids
/// without a colour (255 = ignore) are black.
cv::Mat colorize_train_ids(const cv::Mat& train_ids, int64_t num_classes, Palette palette = Palette::kAuto);

/// Half image, half colour rendering, with the label boundaries drawn in white. image: CV_8UC3 BGR.
cv::Mat overlay_labels(const cv::Mat& image, const cv::Mat& train_ids, int64_t num_classes,
                       Palette palette = Palette::kAuto);

/// Where a prediction is wrong, split by the Boundary-IoU band of width d
/// around the ground-truth segments: green = correct inside the band, red =
/// wrong inside the band, yellow = wrong away from boundaries, over a dimmed
/// ground-truth rendering; void pixels stay grey. Inputs: CV_8U label ids.
cv::Mat boundary_error_map(const cv::Mat& gt_label_ids, const cv::Mat& pred_label_ids, int64_t band_width);

/// Stacks panels side by side with a small caption strip above each.
cv::Mat side_by_side(const std::vector<cv::Mat>& panels, const std::vector<std::string>& captions);

}  // namespace boundseg::viz
