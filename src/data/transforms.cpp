// Random resize, crop (with the class-ratio retry), flip and photometric distortion; input normalisation.
#include "boundseg/data/transforms.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <array>
#include <cmath>

#include <opencv2/imgproc.hpp>

#include "boundseg/core/error.h"

namespace boundseg::data {
namespace {

double uniform(std::mt19937_64& rng, double lo, double hi) {
  return lo == hi ? lo : std::uniform_real_distribution<double>(lo, hi)(rng);
}
bool coin(std::mt19937_64& rng, double p) { return std::uniform_real_distribution<double>(0, 1)(rng) < p; }

// Largest class share among the labelled pixels of `label`, and whether more than one class is present.
std::pair<double, bool> dominant_share(const cv::Mat& label, int64_t ignore_index) {
  std::array<int64_t, 256> counts{};
  for (int y = 0; y < label.rows; ++y) {
    const uint8_t* row = label.ptr<uint8_t>(y);
    for (int x = 0; x < label.cols; ++x) ++counts[row[x]];
  }
  int64_t total = 0, largest = 0, classes = 0;
  for (int v = 0; v < 256; ++v) {
    if (v == ignore_index || counts[v] == 0) continue;
    total += counts[v];
    largest = std::max(largest, counts[v]);
    ++classes;
  }
  return {total ? double(largest) / double(total) : 1.0, classes > 1};
}

// mmseg PhotoMetricDistortion with its order: brightness, contrast (before or after the HSV terms), saturation, hue.
void photometric_distortion(cv::Mat& image, std::mt19937_64& rng) {
  cv::Mat f;
  image.convertTo(f, CV_32FC3);
  if (coin(rng, 0.5)) f += cv::Scalar::all(uniform(rng, -32, 32));
  const bool contrast_first = coin(rng, 0.5);
  auto contrast = [&] {
    if (coin(rng, 0.5)) f *= uniform(rng, 0.5, 1.5);
  };
  if (contrast_first) contrast();
  const bool saturate = coin(rng, 0.5), shift_hue = coin(rng, 0.5);
  const double saturation = saturate ? uniform(rng, 0.5, 1.5) : 1.0;
  const double hue = shift_hue ? uniform(rng, -18, 18) : 0.0;
  if (saturate || shift_hue) {
    cv::Mat clipped;
    f.convertTo(clipped, CV_8UC3);  // saturating, as mmseg's uint8 round trip
    cv::Mat hsv;
    cv::cvtColor(clipped, hsv, cv::COLOR_BGR2HSV_FULL);
    hsv.convertTo(hsv, CV_32FC3);
    std::vector<cv::Mat> planes;
    cv::split(hsv, planes);
    planes[1] *= saturation;
    // Hue in [0, 256) with the _FULL conversion: 18 degrees = 12.8 units.
    planes[0] += hue * 256.0 / 360.0;
    cv::Mat& h = planes[0];
    for (int y = 0; y < h.rows; ++y) {
      float* row = h.ptr<float>(y);
      for (int x = 0; x < h.cols; ++x) row[x] = std::fmod(row[x] + 256.0f, 256.0f);
    }
    cv::merge(planes, hsv);
    hsv.convertTo(clipped, CV_8UC3);
    cv::cvtColor(clipped, clipped, cv::COLOR_HSV2BGR_FULL);
    clipped.convertTo(f, CV_32FC3);
  }
  if (!contrast_first) contrast();
  f.convertTo(image, CV_8UC3);
}

}  // namespace

void validate(const AugmentOptions& o, const OptionSite& site) {
  site.require(o.scale_min > 0 && o.scale_min <= o.scale_max, "scale_min", "be > 0 and <= " + site.name("scale_max"),
               [&] { return number_text(o.scale_min); });
  site.require(o.aspect_min > 0 && o.aspect_min <= o.aspect_max, "aspect_min",
               "be > 0 and <= " + site.name("aspect_max"), [&] { return number_text(o.aspect_min); });
  site.require(o.crop_height >= 8 && o.crop_width >= 8, "crop_height", "and " + site.name("crop_width") + " be >= 8",
               [&] { return std::to_string(o.crop_height) + "x" + std::to_string(o.crop_width); });
  site.require(o.cat_max_ratio > 0 && o.cat_max_ratio <= 1, "cat_max_ratio", "be in (0, 1]",
               [&] { return number_text(o.cat_max_ratio); });
  site.require(o.flip_probability >= 0 && o.flip_probability <= 1, "flip_probability", "be in [0, 1]",
               [&] { return number_text(o.flip_probability); });
}

AugmentedPair augment(const cv::Mat& image, const cv::Mat& label, const AugmentOptions& o, int64_t ignore_index,
                      std::mt19937_64& rng, const std::vector<CarriedMap>& carried) {
  validate(o, "augment");
  require(image.type() == CV_8UC3 && label.type() == CV_8U && image.size() == label.size(), "augment",
          "the image and label", "be CV_8UC3 and CV_8U of one size", [&] {
            return std::to_string(image.cols) + "x" + std::to_string(image.rows) + " and " +
                   std::to_string(label.cols) + "x" + std::to_string(label.rows);
          });
  for (size_t i = 0; i < carried.size(); ++i) {
    const cv::Mat& m = carried[i].map;
    require(m.channels() == 1 && m.size() == label.size(), "augment", "carried map " + std::to_string(i),
            "be single-channel of the label's size",
            [&] { return std::to_string(m.channels()) + " channel(s) " + std::to_string(m.cols) + "x" +
                         std::to_string(m.rows); });
  }
  // 1. random resize (openseg: w *= sqrt(a) s, h *= s / sqrt(a), truncated).
  const double s = uniform(rng, o.scale_min, o.scale_max), a = uniform(rng, o.aspect_min, o.aspect_max);
  const int w = std::max(1, int(image.cols * s * std::sqrt(a))), h = std::max(1, int(image.rows * s / std::sqrt(a)));
  AugmentedPair out;
  cv::resize(image, out.image, cv::Size(w, h), 0, 0, cv::INTER_CUBIC);
  cv::resize(label, out.label, cv::Size(w, h), 0, 0, cv::INTER_NEAREST);
  out.carried.resize(carried.size());
  for (size_t i = 0; i < carried.size(); ++i) {
    cv::resize(carried[i].map, out.carried[i], cv::Size(w, h), 0, 0, cv::INTER_NEAREST);
  }
  out.inside = cv::Mat(h, w, CV_8U, cv::Scalar(1));

  // 2. pad to at least the crop, then crop (re-drawn while one class dominates, mmseg: 10 tries).
  const int ch = int(o.crop_height), cw = int(o.crop_width);
  if (h < ch || w < cw) {
    cv::copyMakeBorder(out.image, out.image, 0, std::max(0, ch - h), 0, std::max(0, cw - w), cv::BORDER_CONSTANT,
                       cv::Scalar::all(0));
    cv::copyMakeBorder(out.label, out.label, 0, std::max(0, ch - h), 0, std::max(0, cw - w), cv::BORDER_CONSTANT,
                       cv::Scalar::all(double(ignore_index)));
    cv::copyMakeBorder(out.inside, out.inside, 0, std::max(0, ch - h), 0, std::max(0, cw - w), cv::BORDER_CONSTANT,
                       cv::Scalar::all(0));
    for (size_t i = 0; i < carried.size(); ++i) {
      cv::copyMakeBorder(out.carried[i], out.carried[i], 0, std::max(0, ch - h), 0, std::max(0, cw - w),
                         cv::BORDER_CONSTANT, cv::Scalar::all(carried[i].pad));
    }
  }
  auto draw_crop = [&] {
    const int y = std::uniform_int_distribution<int>(0, out.image.rows - ch)(rng);
    const int x = std::uniform_int_distribution<int>(0, out.image.cols - cw)(rng);
    return cv::Rect(x, y, cw, ch);
  };
  cv::Rect crop = draw_crop();
  if (o.cat_max_ratio < 1.0) {
    for (int attempt = 0; attempt < 10; ++attempt) {
      const auto [share, several] = dominant_share(out.label(crop), ignore_index);
      if (several && share < o.cat_max_ratio) break;
      crop = draw_crop();
    }
  }
  out.image = out.image(crop).clone();
  out.label = out.label(crop).clone();
  out.inside = out.inside(crop).clone();
  for (cv::Mat& m : out.carried) m = m(crop).clone();

  // 3. flip, 4. photometric distortion.
  if (coin(rng, o.flip_probability)) {
    cv::flip(out.image, out.image, 1);
    cv::flip(out.label, out.label, 1);
    cv::flip(out.inside, out.inside, 1);
    for (size_t i = 0; i < carried.size(); ++i) {
      cv::flip(out.carried[i], out.carried[i], 1);
      if (carried[i].after_flip) carried[i].after_flip(out.carried[i]);
    }
  }
  if (o.photometric) photometric_distortion(out.image, rng);
  return out;
}

void normalize_openseg_into(const cv::Mat& bgr, float* chw) {
  require(bgr.type() == CV_8UC3, "normalize", "the image", "be an 8-bit 3-channel (BGR) image",
          [&] { return "OpenCV type " + std::to_string(bgr.type()); });
  // RGB statistics on B, G, R in that order: the released weights depend on this quirk.
  const float mean[3] = {0.485f, 0.456f, 0.406f}, stddev[3] = {0.229f, 0.224f, 0.225f};
  const size_t plane = size_t(bgr.rows) * size_t(bgr.cols);
  for (int y = 0; y < bgr.rows; ++y) {
    const uint8_t* row = bgr.ptr<uint8_t>(y);
    for (int x = 0; x < bgr.cols; ++x) {
      for (int c = 0; c < 3; ++c) {
        chw[c * plane + size_t(y) * bgr.cols + x] = (float(row[3 * x + c]) / 255.0f - mean[c]) / stddev[c];
      }
    }
  }
}

at::Tensor rgb_float_tensor(const cv::Mat& bgr) {
  require(bgr.type() == CV_8UC3, "rgb_float_tensor", "the image", "be an 8-bit 3-channel (BGR) image",
          [&] { return "OpenCV type " + std::to_string(bgr.type()); });
  at::Tensor out = at::empty({3, bgr.rows, bgr.cols}, at::kFloat);
  float* dst = out.data_ptr<float>();
  const size_t plane = size_t(bgr.rows) * size_t(bgr.cols);
  for (int y = 0; y < bgr.rows; ++y) {
    const uint8_t* row = bgr.ptr<uint8_t>(y);
    for (int x = 0; x < bgr.cols; ++x) {
      for (int c = 0; c < 3; ++c) dst[(2 - c) * plane + size_t(y) * bgr.cols + x] = float(row[3 * x + c]);
    }
  }
  return out;
}

}  // namespace boundseg::data
