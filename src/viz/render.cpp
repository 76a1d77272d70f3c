// Palette renderings and boundary error maps.
#include "boundseg/viz/render.h"

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include <array>
#include <vector>

#include "boundseg/io/cityscapes_labels.h"
#include "boundseg/ops/boundary_kernels.h"

namespace boundseg::viz {

cv::Mat colorize_cityscapes_label_ids(const cv::Mat& label_ids) {
  cv::Mat out(label_ids.size(), CV_8UC3, cv::Scalar(0, 0, 0));
  for (int y = 0; y < label_ids.rows; ++y)
    for (int x = 0; x < label_ids.cols; ++x) {
      const int id = label_ids.at<uint8_t>(y, x);
      if (id >= cityscapes::kNumLabelIds) continue;
      const auto rgb = cityscapes::labels()[id].rgb;
      out.at<cv::Vec3b>(y, x) = cv::Vec3b(rgb[2], rgb[1], rgb[0]);
    }
  return out;
}

cv::Mat colorize_train_ids(const cv::Mat& train_ids, int64_t num_classes, Palette palette) {
  palette = resolve_palette(palette, num_classes);
  std::array<cv::Vec3b, 256> lut;  // BGR per id, black where there is no colour
  for (int t = 0; t < 256; ++t) {
    const auto rgb = t < num_classes ? palette_color(palette, t) : std::nullopt;
    lut[t] = rgb ? cv::Vec3b((*rgb)[2], (*rgb)[1], (*rgb)[0]) : cv::Vec3b(0, 0, 0);
  }
  cv::Mat out(train_ids.size(), CV_8UC3);
  for (int y = 0; y < train_ids.rows; ++y)
    for (int x = 0; x < train_ids.cols; ++x) out.at<cv::Vec3b>(y, x) = lut[train_ids.at<uint8_t>(y, x)];
  return out;
}

cv::Mat overlay_labels(const cv::Mat& image, const cv::Mat& train_ids, int64_t num_classes, Palette palette) {
  cv::Mat out;
  cv::addWeighted(image, 0.5, colorize_train_ids(train_ids, num_classes, palette), 0.5, 0.0, out);
  // Label boundaries: a pixel whose right or lower neighbour has another label.
  for (int y = 0; y < train_ids.rows; ++y)
    for (int x = 0; x < train_ids.cols; ++x) {
      const uint8_t v = train_ids.at<uint8_t>(y, x);
      const bool right = x + 1 < train_ids.cols && train_ids.at<uint8_t>(y, x + 1) != v;
      const bool down = y + 1 < train_ids.rows && train_ids.at<uint8_t>(y + 1, x) != v;
      if (right || down) out.at<cv::Vec3b>(y, x) = cv::Vec3b(255, 255, 255);
    }
  return out;
}

cv::Mat boundary_error_map(const cv::Mat& gt, const cv::Mat& pred, int64_t band_width) {
  cv::Mat g = gt.clone();
  std::vector<uint8_t> band(g.total());
  detail::label_band<uint8_t>(g.ptr<uint8_t>(), band.data(), g.rows, g.cols, band_width);
  cv::Mat out = colorize_cityscapes_label_ids(gt) * 0.35;
  for (int y = 0; y < g.rows; ++y)
    for (int x = 0; x < g.cols; ++x) {
      const int id = g.at<uint8_t>(y, x);
      cv::Vec3b& px = out.at<cv::Vec3b>(y, x);
      if (cityscapes::labels()[id].ignore_in_eval) {
        px = cv::Vec3b(70, 70, 70);
        continue;
      }
      const bool wrong = pred.at<uint8_t>(y, x) != id;
      const bool in_band = band[y * g.cols + x] != 0;
      if (wrong) px = in_band ? cv::Vec3b(40, 40, 235) : cv::Vec3b(0, 215, 255);
      else if (in_band) px = cv::Vec3b(px[0] / 2, 150, px[2] / 2);
    }
  return out;
}

cv::Mat side_by_side(const std::vector<cv::Mat>& panels, const std::vector<std::string>& captions) {
  const int caption_height = std::max(18, panels.front().rows / 24);
  const double font = caption_height / 30.0;
  std::vector<cv::Mat> columns;
  for (size_t i = 0; i < panels.size(); ++i) {
    cv::Mat column(panels[i].rows + caption_height, panels[i].cols, CV_8UC3, cv::Scalar(30, 30, 30));
    panels[i].copyTo(column(cv::Rect(0, caption_height, panels[i].cols, panels[i].rows)));
    cv::putText(column, captions[i], cv::Point(6, caption_height - caption_height / 4), cv::FONT_HERSHEY_SIMPLEX, font,
                cv::Scalar(235, 235, 235), 1, cv::LINE_AA);
    columns.push_back(column);
    if (i + 1 < panels.size()) columns.emplace_back(column.rows, 4, CV_8UC3, cv::Scalar(255, 255, 255));
  }
  cv::Mat out;
  cv::hconcat(columns, out);
  return out;
}

}  // namespace boundseg::viz
