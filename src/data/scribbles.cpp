// ScribbleSup XML parsing, scribble rasterisation, and scribble generation from dense labels.
#include "boundseg/data/scribbles.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <fstream>
#include <string_view>
#include <sstream>

#include <opencv2/imgproc.hpp>

#include "boundseg/core/error.h"

namespace boundseg::data {

const std::vector<std::string>& voc_class_names() {
  static const std::vector<std::string> names = {
      "background", "aeroplane", "bicycle", "bird",  "boat",        "bottle", "bus",
      "car",        "cat",       "chair",   "cow",   "diningtable", "dog",    "horse",
      "motorbike",  "person",    "pottedplant", "sheep", "sofa",   "train",  "tvmonitor"};
  return names;
}

namespace {

std::string normalized(const std::string& name) {
  std::string out;
  for (char c : name)
    if (std::isalnum(static_cast<unsigned char>(c))) out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// The bodies of every <tag>...</tag> element in `xml`, in order (ScribbleSup files are flat: no nesting of a tag
// inside itself, no attributes).
std::vector<std::string_view> elements(std::string_view xml, const std::string& tag) {
  const std::string open = "<" + tag + ">", close = "</" + tag + ">";
  std::vector<std::string_view> found;
  for (size_t at = xml.find(open); at != std::string_view::npos; at = xml.find(open, at)) {
    const size_t begin = at + open.size(), end = xml.find(close, begin);
    if (end == std::string_view::npos) break;
    found.push_back(xml.substr(begin, end - begin));
    at = end + close.size();
  }
  return found;
}

// The trimmed text of the first <tag> element, or "" when absent.
std::string element(std::string_view xml, const std::string& tag) {
  const auto found = elements(xml, tag);
  if (found.empty()) return {};
  std::string_view text = found.front();
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) text.remove_prefix(1);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.remove_suffix(1);
  return std::string(text);
}

// A whole number within ±1e6 (pixel coordinates and sizes; "12.0" is accepted).
int parse_int(const std::string& text, const std::filesystem::path& path, const std::string& what) {
  try {
    size_t used = 0;
    const double v = std::stod(text, &used);
    if (used == text.size() && std::isfinite(v) && std::fabs(v) <= 1e6 && v == std::floor(v)) return int(v);
  } catch (const std::exception&) {
  }
  fail("scribbles", path.string(), "hold a whole number within ±1e6 in <" + what + ">", "'" + text + "'");
}

// The class id of a <tag>, matched ignoring case, spaces and punctuation; "tv" stands for "tvmonitor". -1 = none.
int class_of(const std::string& tag, const std::vector<std::string>& class_names) {
  const std::string wanted = normalized(tag) == "tv" ? "tvmonitor" : normalized(tag);
  for (size_t k = 0; k < class_names.size(); ++k)
    if (normalized(class_names[k]) == wanted) return static_cast<int>(k);
  return -1;
}

}  // namespace

ScribbleAnnotation parse_scribblesup_xml(const std::filesystem::path& path, const std::vector<std::string>& class_names) {
  std::ifstream in(path, std::ios::binary);
  require(bool(in), "scribbles", "the file '" + path.string() + "'", "exist and be readable",
          [] { return "no such file"; });
  std::stringstream buffer;
  buffer << in.rdbuf();
  const std::string xml = buffer.str();
  ScribbleAnnotation a;
  a.height = parse_int(element(xml, "height"), path, "height");
  a.width = parse_int(element(xml, "width"), path, "width");
  require(a.height > 0 && a.width > 0, "scribbles", path.string(), "give a positive <height> and <width>",
          [&] { return std::to_string(a.height) + "x" + std::to_string(a.width); });
  for (const std::string_view body : elements(xml, "polygon")) {
    const std::string tag = element(body, "tag");
    Scribble s;
    s.class_id = class_of(tag, class_names);
    if (s.class_id < 0) {
      std::string known;
      for (const auto& name : class_names) known += (known.empty() ? "" : ", ") + name;
      fail("scribbles", "the <tag> of scribble " + std::to_string(a.scribbles.size()) + " in " + path.string(),
           "name a class (" + known + ")", "'" + tag + "'");
    }
    for (const std::string_view point : elements(body, "point")) {
      const int x = std::clamp(parse_int(element(point, "X"), path, "X"), 0, a.width - 1);
      const int y = std::clamp(parse_int(element(point, "Y"), path, "Y"), 0, a.height - 1);
      s.points.emplace_back(x, y);
    }
    require(!s.points.empty(), "scribbles", "scribble " + std::to_string(a.scribbles.size()) + " in " + path.string(),
            "have at least one <point>", [] { return "none"; });
    a.scribbles.push_back(std::move(s));
  }
  return a;
}

cv::Mat rasterize_scribbles(const ScribbleAnnotation& annotation) {
  cv::Mat labels(annotation.height, annotation.width, CV_8U, cv::Scalar(255));
  for (const Scribble& s : annotation.scribbles) {
    // convertscribbles.m keeps every pixel insertShape changed (3-4 px across). OpenCV draws "thickness 3" 5 px
    // wide (7 px touched with anti-aliasing); its thickness 2 is 3 px.
    cv::Mat canvas(annotation.height, annotation.width, CV_8U, cv::Scalar(255));
    if (s.points.size() == 1) {
      cv::circle(canvas, s.points[0], 1, cv::Scalar(0), cv::FILLED, cv::LINE_8);
    } else {
      cv::polylines(canvas, std::vector<std::vector<cv::Point>>{s.points}, false, cv::Scalar(0), 2, cv::LINE_8);
    }
    labels.setTo(cv::Scalar(s.class_id), canvas != 255);
  }
  return labels;
}

cv::Mat scribbles_from_labels(const cv::Mat& labels, const ScribbleGenerationOptions& o) {
  require(labels.type() == CV_8U, "scribbles", "the labels", "be a CV_8U train-id map",
          [&] { return "OpenCV type " + std::to_string(labels.type()); });
  require(o.width >= 1 && o.margin >= 0 && o.min_area >= 1 && o.ignore_index >= 0 && o.ignore_index <= 255,
          "scribbles", "the generation options", "have width >= 1, margin >= 0, min_area >= 1, ignore_index in 0..255",
          [&] {
            return "width " + std::to_string(o.width) + ", margin " + std::to_string(o.margin) + ", min_area " +
                   std::to_string(o.min_area) + ", ignore_index " + std::to_string(o.ignore_index);
          });
  cv::Mat out(labels.size(), CV_8U, cv::Scalar(o.ignore_index));
  const cv::Mat pen = cv::getStructuringElement(cv::MORPH_ELLIPSE, cv::Size(o.width, o.width));
  for (int c = 0; c < 256; ++c) {
    if (c == o.ignore_index) continue;
    const cv::Mat mask = labels == c;
    if (cv::countNonZero(mask) < o.min_area) continue;
    cv::Mat components, stats, centroids;
    const int n = cv::connectedComponentsWithStats(mask, components, stats, centroids, 8, CV_32S);
    for (int k = 1; k < n; ++k) {
      if (stats.at<int>(k, cv::CC_STAT_AREA) < o.min_area) continue;
      // The region's box with a 1-px frame, so that the image border counts as the region's boundary.
      const cv::Rect box(stats.at<int>(k, cv::CC_STAT_LEFT), stats.at<int>(k, cv::CC_STAT_TOP),
                         stats.at<int>(k, cv::CC_STAT_WIDTH), stats.at<int>(k, cv::CC_STAT_HEIGHT));
      cv::Mat region;
      cv::copyMakeBorder(components(box) == k, region, 1, 1, 1, 1, cv::BORDER_CONSTANT, cv::Scalar(0));
      cv::Mat dist;
      cv::distanceTransform(region, dist, cv::DIST_L2, cv::DIST_MASK_5);
      // Approximate medial axis: distance maxima along a row, a column or a diagonal, deep enough for the margin
      // and at least half the region's largest depth (the spine, without the spurs of every boundary wiggle).
      double deepest = 0;
      cv::minMaxLoc(dist, nullptr, &deepest);
      // The pen reaches (width - 1) / 2 px beyond the ridge: keep its edge `margin` px inside the region.
      const float min_depth = static_cast<float>(std::max<double>(o.margin + 1 + (o.width - 1) / 2, 0.5 * deepest));
      cv::Mat ridge = cv::Mat::zeros(region.size(), CV_8U);
      for (int y = 1; y + 1 < dist.rows; ++y) {
        for (int x = 1; x + 1 < dist.cols; ++x) {
          const float d = dist.at<float>(y, x);
          if (d < min_depth) continue;
          const auto peak = [&](int dy, int dx) {  // a maximum, not a plateau running along the boundary
            const float a = dist.at<float>(y - dy, x - dx), b = dist.at<float>(y + dy, x + dx);
            return d >= a && d >= b && (d > a || d > b);
          };
          if (peak(0, 1) || peak(1, 0) || peak(1, 1) || peak(1, -1)) ridge.at<uint8_t>(y, x) = 255;
        }
      }
      cv::Mat stroke;
      cv::dilate(ridge, stroke, pen);
      stroke &= region;
      out(box).setTo(cv::Scalar(c), stroke(cv::Rect(1, 1, box.width, box.height)));
    }
  }
  return out;
}

}  // namespace boundseg::data
