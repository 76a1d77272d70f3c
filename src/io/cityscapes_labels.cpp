// Cityscapes label table values, copied from the specification (formats.md §2.1).
#include "boundseg/io/cityscapes_labels.h"

#include <opencv2/core.hpp>

namespace boundseg::cityscapes {

const std::array<Label, kNumLabelIds>& labels() {
  static const std::array<Label, kNumLabelIds> table = {{
      {"unlabeled", 0, 255, "void", 0, false, true, {0, 0, 0}},
      {"ego vehicle", 1, 255, "void", 0, false, true, {0, 0, 0}},
      {"rectification border", 2, 255, "void", 0, false, true, {0, 0, 0}},
      {"out of roi", 3, 255, "void", 0, false, true, {0, 0, 0}},
      {"static", 4, 255, "void", 0, false, true, {0, 0, 0}},
      {"dynamic", 5, 255, "void", 0, false, true, {111, 74, 0}},
      {"ground", 6, 255, "void", 0, false, true, {81, 0, 81}},
      {"road", 7, 0, "flat", 1, false, false, {128, 64, 128}},
      {"sidewalk", 8, 1, "flat", 1, false, false, {244, 35, 232}},
      {"parking", 9, 255, "flat", 1, false, true, {250, 170, 160}},
      {"rail track", 10, 255, "flat", 1, false, true, {230, 150, 140}},
      {"building", 11, 2, "construction", 2, false, false, {70, 70, 70}},
      {"wall", 12, 3, "construction", 2, false, false, {102, 102, 156}},
      {"fence", 13, 4, "construction", 2, false, false, {190, 153, 153}},
      {"guard rail", 14, 255, "construction", 2, false, true, {180, 165, 180}},
      {"bridge", 15, 255, "construction", 2, false, true, {150, 100, 100}},
      {"tunnel", 16, 255, "construction", 2, false, true, {150, 120, 90}},
      {"pole", 17, 5, "object", 3, false, false, {153, 153, 153}},
      {"polegroup", 18, 255, "object", 3, false, true, {153, 153, 153}},
      {"traffic light", 19, 6, "object", 3, false, false, {250, 170, 30}},
      {"traffic sign", 20, 7, "object", 3, false, false, {220, 220, 0}},
      {"vegetation", 21, 8, "nature", 4, false, false, {107, 142, 35}},
      {"terrain", 22, 9, "nature", 4, false, false, {152, 251, 152}},
      {"sky", 23, 10, "sky", 5, false, false, {70, 130, 180}},
      {"person", 24, 11, "human", 6, true, false, {220, 20, 60}},
      {"rider", 25, 12, "human", 6, true, false, {255, 0, 0}},
      {"car", 26, 13, "vehicle", 7, true, false, {0, 0, 142}},
      {"truck", 27, 14, "vehicle", 7, true, false, {0, 0, 70}},
      {"bus", 28, 15, "vehicle", 7, true, false, {0, 60, 100}},
      {"caravan", 29, 255, "vehicle", 7, true, true, {0, 0, 90}},
      {"trailer", 30, 255, "vehicle", 7, true, true, {0, 0, 110}},
      {"train", 31, 16, "vehicle", 7, true, false, {0, 80, 100}},
      {"motorcycle", 32, 17, "vehicle", 7, true, false, {0, 0, 230}},
      {"bicycle", 33, 18, "vehicle", 7, true, false, {119, 11, 32}},
  }};
  return table;
}

const std::array<const char*, kNumCategories>& category_names() {
  static const std::array<const char*, kNumCategories> names = {
      "void", "flat", "construction", "object", "nature", "sky", "human", "vehicle"};
  return names;
}

const std::array<int, kNumTrainIds>& train_id_to_id() {
  static const std::array<int, kNumTrainIds> ids = {7,  8,  11, 12, 13, 17, 19, 20, 21, 22,
                                                    23, 24, 25, 26, 27, 28, 31, 32, 33};
  return ids;
}

cv::Mat label_ids_to_train_ids(const cv::Mat& label_ids) {
  cv::Mat train_ids;
  cv::LUT(label_ids, cv::Mat(1, 256, CV_8U, const_cast<uint8_t*>(id_to_train_id_lut().data())), train_ids);
  return train_ids;
}

const std::array<uint8_t, 256>& id_to_train_id_lut() {
  static const std::array<uint8_t, 256> lut = [] {
    std::array<uint8_t, 256> t{};
    t.fill(255);
    for (const Label& l : labels()) t[l.id] = static_cast<uint8_t>(l.train_id);
    return t;
  }();
  return lut;
}

const std::array<int, kNumInstanceClasses>& instance_class_ids() {
  static const std::array<int, kNumInstanceClasses> ids = {24, 25, 26, 27, 28, 31, 32, 33};
  return ids;
}

double average_instance_size(int id) {
  // Training-set averages (cityscapesScripts evalPixelLevelSemanticLabeling.py).
  switch (id) {
    case 24: return 3462.4756337644;
    case 25: return 3930.4788056518;
    case 26: return 12794.0202738185;
    case 27: return 27855.1264367816;
    case 28: return 35732.1511111111;
    case 29: return 36771.8241758242;
    case 30: return 16926.9763313609;
    case 31: return 67583.7075812274;
    case 32: return 6298.7200839748;
    case 33: return 4672.3249222261;
    default: return 0.0;
  }
}

std::array<uint8_t, 3> train_id_color(int train_id) {
  if (train_id < 0 || train_id >= kNumTrainIds) return {0, 0, 0};
  return labels()[train_id_to_id()[train_id]].rgb;
}

}  // namespace boundseg::cityscapes
