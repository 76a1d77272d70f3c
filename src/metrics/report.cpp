// Evaluation reports: strict JSON (null for NaN) and the terminal table.
#include <fmt/format.h>

#include <cmath>
#include <nlohmann/json.hpp>
#include <sstream>

#include "boundseg/io/cityscapes_labels.h"
#include "boundseg/metrics/evaluator.h"

namespace boundseg::metrics {
namespace {

using nlohmann::json;

json number(double v) { return std::isnan(v) ? json(nullptr) : json(v); }

json per_name(const std::vector<std::string>& names, const std::vector<double>& values) {
  json out = json::object();
  for (size_t i = 0; i < names.size() && i < values.size(); ++i) out[names[i]] = number(values[i]);
  return out;
}

double mean_of(const std::vector<double>& v) { return nan_mean(v.data(), static_cast<int64_t>(v.size())); }

// Threshold keys as written by a user: 0.02, 0.00088, 3.
std::string key_of(double v) {
  std::ostringstream ss;
  ss << v;
  return ss.str();
}

std::vector<std::string> instance_class_names() {
  std::vector<std::string> names;
  for (int id : cityscapes::instance_class_ids()) names.push_back(cityscapes::labels()[id].name);
  return names;
}

// Boundary-F mean over every class (F1RunningScore; absent classes count F = 1).
double boundary_f_mean(const std::vector<double>& per_class) {
  double sum = 0;
  for (double v : per_class) sum += v;
  return sum / double(per_class.size());
}

std::string percent(double v) { return std::isnan(v) ? "    -" : fmt::format("{:5.1f}", 100.0 * v); }

}  // namespace

json to_json(const EvalResult& r) {
  json j;
  j["protocol"] = r.protocol == Protocol::kCityscapes ? "cityscapes" : "trainid";
  j["num_images"] = r.num_images;
  j["classes"] = r.class_names;
  if (r.has_pixel) {
    j["mIoU"] = number(r.miou);
    j["class_iou"] = per_name(r.class_names, r.class_iou);
    j["category_iou"] = per_name(r.category_names, r.category_iou);
    if (r.protocol == Protocol::kCityscapes) {
      j["category_mIoU"] = number(r.category_miou);
      j["iIoU"] = number(r.iiou);
      j["class_iiou"] = per_name(r.class_names, r.class_iiou);
      j["category_iIoU"] = number(r.category_iiou_mean);
      j["category_iiou"] = per_name(r.category_names, r.category_iiou);
    } else {
      j["iIoU"] = nullptr;  // instance-weighted IoU needs Cityscapes instanceIds
      j["mAcc"] = number(r.macc);
      j["aAcc"] = number(r.aacc);
      j["fwIoU"] = number(r.fwiou);
      j["mDice"] = number(r.mdice);
      j["class_accuracy"] = per_name(r.class_names, r.class_accuracy);
      j["class_dice"] = per_name(r.class_names, r.class_dice);
    }
    json cm = json::array();
    for (int64_t i = 0; i < r.confusion.size(); ++i) {
      json row = json::array();
      for (int64_t k = 0; k < r.confusion.size(); ++k) row.push_back(r.confusion.at(i, k));
      cm.push_back(std::move(row));
    }
    j["confusion_matrix"] = std::move(cm);
  }
  if (!r.boundary_iou.empty()) {
    json b = json::object();
    for (size_t i = 0; i < r.boundary_iou_ratios.size(); ++i) {
      b[key_of(r.boundary_iou_ratios[i])] = {{"dilation_ratio", r.boundary_iou_ratios[i]},
                                             {"mean", number(mean_of(r.boundary_iou[i]))},
                                             {"per_class", per_name(r.class_names, r.boundary_iou[i])}};
    }
    j["boundary_iou"] = std::move(b);
  }
  if (!r.boundary_f.empty()) {
    json b = json::object();
    for (size_t i = 0; i < r.boundary_f_thresholds.size(); ++i) {
      b[key_of(r.boundary_f_thresholds[i])] = {
          {"threshold", r.boundary_f_thresholds[i]},
          {"unit", r.boundary_f_thresholds[i] >= 1 ? "pixels" : "fraction of the image diagonal"},
          {"mean", number(boundary_f_mean(r.boundary_f[i]))},
          {"per_class", per_name(r.class_names, r.boundary_f[i])}};
    }
    j["boundary_f"] = std::move(b);
  }
  if (r.has_ap) {
    j["AP"] = number(r.ap.ap);
    j["AP50"] = number(r.ap.ap50);
    j["boundary_AP"] = number(r.boundary_ap.ap);
    j["boundary_AP50"] = number(r.boundary_ap.ap50);
    j["boundary_AP_dilation_ratio"] = r.ap_boundary_ratio;
    json per_class = json::object();
    const auto names = instance_class_names();
    for (size_t c = 0; c < names.size(); ++c) {
      per_class[names[c]] = {{"AP", number(r.ap.class_ap[c])},
                             {"AP50", number(r.ap.class_ap50[c])},
                             {"boundary_AP", number(r.boundary_ap.class_ap[c])},
                             {"boundary_AP50", number(r.boundary_ap.class_ap50[c])}};
    }
    j["instance_classes"] = std::move(per_class);
  }
  j["warnings"] = r.warnings;
  return j;
}

std::string format_table(const EvalResult& r) {
  std::string out;
  // Header: one column per available per-class metric.
  std::vector<std::pair<std::string, const std::vector<double>*>> columns;
  if (r.has_pixel) columns.emplace_back("IoU", &r.class_iou);
  if (r.has_iiou) columns.emplace_back("iIoU", &r.class_iiou);
  for (size_t i = 0; i < r.boundary_iou.size(); ++i)
    columns.emplace_back("BIoU@" + key_of(r.boundary_iou_ratios[i]), &r.boundary_iou[i]);
  for (size_t i = 0; i < r.boundary_f.size(); ++i)
    columns.emplace_back("BF@" + key_of(r.boundary_f_thresholds[i]), &r.boundary_f[i]);
  if (!columns.empty()) {
    out += fmt::format("{:<15}", "class");
    for (const auto& c : columns) out += fmt::format(" {:>11}", c.first);
    out += "\n";
    for (size_t k = 0; k < r.class_names.size(); ++k) {
      out += fmt::format("{:<15}", r.class_names[k]);
      for (const auto& c : columns) out += fmt::format(" {:>11}", percent((*c.second)[k]));
      out += "\n";
    }
    out += fmt::format("{:<15}", "mean");
    for (const auto& c : columns) {
      const double v = c.first.rfind("BF@", 0) == 0 ? boundary_f_mean(*c.second) : mean_of(*c.second);
      out += fmt::format(" {:>11}", percent(v));
    }
    out += "\n";
  }
  if (r.has_pixel && r.protocol == Protocol::kCityscapes) {
    out += fmt::format("\n{:<15} {:>11} {:>11}\n", "category", "IoU", "iIoU");
    for (size_t k = 0; k < r.category_names.size(); ++k)
      out += fmt::format("{:<15} {:>11} {:>11}\n", r.category_names[k], percent(r.category_iou[k]),
                         percent(r.category_iiou[k]));
    out += fmt::format("{:<15} {:>11} {:>11}\n", "mean", percent(r.category_miou), percent(r.category_iiou_mean));
  }
  if (r.has_pixel && r.protocol == Protocol::kTrainId) {
    out += fmt::format("\naAcc {}  mAcc {}  fwIoU {}  mDice {}\n", percent(r.aacc), percent(r.macc),
                       percent(r.fwiou), percent(r.mdice));
  }
  if (r.has_ap) {
    out += fmt::format("\n{:<15} {:>9} {:>9} {:>11} {:>13}\n", "instances", "AP", "AP50", "boundaryAP",
                       "boundaryAP50");
    const auto names = instance_class_names();
    for (size_t c = 0; c < names.size(); ++c)
      out += fmt::format("{:<15} {:>9} {:>9} {:>11} {:>13}\n", names[c], percent(r.ap.class_ap[c]),
                         percent(r.ap.class_ap50[c]), percent(r.boundary_ap.class_ap[c]),
                         percent(r.boundary_ap.class_ap50[c]));
    out += fmt::format("{:<15} {:>9} {:>9} {:>11} {:>13}\n", "mean", percent(r.ap.ap), percent(r.ap.ap50),
                       percent(r.boundary_ap.ap), percent(r.boundary_ap.ap50));
  }
  out += fmt::format("\n{} images", r.num_images);
  if (r.has_pixel) out += fmt::format("   mIoU {}", percent(r.miou));
  if (r.has_iiou) out += fmt::format("   iIoU {}", percent(r.iiou));
  for (size_t i = 0; i < r.boundary_iou.size(); ++i)
    out += fmt::format("   mBIoU@{} {}", key_of(r.boundary_iou_ratios[i]), percent(mean_of(r.boundary_iou[i])));
  if (r.has_ap) out += fmt::format("   AP {}   boundary AP {}", percent(r.ap.ap), percent(r.boundary_ap.ap));
  out += "\n";
  return out;
}

}  // namespace boundseg::metrics
