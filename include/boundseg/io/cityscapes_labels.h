// The Cityscapes label table (cityscapesScripts helpers/labels.py, formats.md §2.1).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include <opencv2/core/mat.hpp>

namespace boundseg::cityscapes {

struct Label {
  const char* name;
  int id;
  int train_id;       ///< 255 = not trained on
  const char* category;
  int category_id;
  bool has_instances;
  bool ignore_in_eval;
  std::array<uint8_t, 3> rgb;
};

constexpr int kNumLabelIds = 34;     ///< ids 0..33 appear in PNGs
constexpr int kNumTrainIds = 19;
constexpr int kNumCategories = 8;    ///< void, flat, ..., vehicle
constexpr int kNumInstanceClasses = 8;

/// Rows 0..33 in id order (license plate, id -1, is never drawn into PNGs).
const std::array<Label, kNumLabelIds>& labels();
/// Category names in insertion order (void first).
const std::array<const char*, kNumCategories>& category_names();
/// trainId -> label id (LABEL_LIST).
const std::array<int, kNumTrainIds>& train_id_to_id();
/// label id (0..33) -> trainId, 255 for ids not trained on.
const std::array<uint8_t, 256>& id_to_train_id_lut();
/// A CV_8U label-id map as train ids (through id_to_train_id_lut).
cv::Mat label_ids_to_train_ids(const cv::Mat& label_ids);
/// Label ids of the 8 evaluated instance classes, in the evaluator's order
/// (person, rider, car, truck, bus, train, motorcycle, bicycle).
const std::array<int, kNumInstanceClasses>& instance_class_ids();
/// Average instance sizes used by iIoU (metrics.md §1.6); 0 for other ids.
double average_instance_size(int id);
/// Colour of a trainId for renderings (black for 255).
std::array<uint8_t, 3> train_id_color(int train_id);

}  // namespace boundseg::cityscapes
