// Pictures for people: palette renderings and boundary error maps.
#pragma once

#include <opencv2/core/mat.hpp>

namespace boundseg::viz {

/// Colours a Cityscapes label-id map (CV_8U) with the official palette (BGR).
cv::Mat colorize_cityscapes_label_ids(const cv::Mat& label_ids);

/// Colours a train-id map (CV_8U): the Cityscapes palette for 19 classes, the PASCAL VOC colour map otherwise
/// (formats.md §8); 255 (ignore) is black.
cv::Mat colorize_train_ids(const cv::Mat& train_ids, int64_t num_classes);

/// Half image, half colour rendering, with the label boundaries (seg2bmap) drawn in white. image: CV_8UC3 BGR.
cv::Mat overlay_labels(const cv::Mat& image, const cv::Mat& train_ids, int64_t num_classes);

/// Where a prediction is wrong, split by the Boundary-IoU band of width d
/// around the ground-truth segments: green = correct inside the band, red =
/// wrong inside the band, yellow = wrong away from boundaries, over a dimmed
/// ground-truth rendering; void pixels stay grey. Inputs: CV_8U label ids.
cv::Mat boundary_error_map(const cv::Mat& gt_label_ids, const cv::Mat& pred_label_ids, int64_t band_width);

/// Stacks panels side by side with a small caption strip above each.
cv::Mat side_by_side(const std::vector<cv::Mat>& panels, const std::vector<std::string>& captions);

}  // namespace boundseg::viz
