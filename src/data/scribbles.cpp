// ScribbleSup XML parsing, scribble rasterisation, and scribble generation from dense labels.
#include "boundseg/data/scribbles.h"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <regex>
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

// The text of the first <tag>...</tag> inside `xml`, or "" when absent.
std::string element(const std::string& xml, const std::string& tag) {
  const std::regex pattern("<" + tag + ">\\s*([^<]*?)\\s*</" + tag + ">");
  std::smatch m;
  return std::regex_search(xml, m, pattern) ? m[1].str() : std::string();
}

int parse_int(const std::string& text, const std::filesystem::path& path, const std::string& what) {
  try {
    size_t used = 0;
    const double v = std::stod(text, &used);
    if (used == text.size()) return static_cast<int>(std::lround(v));
  } catch (const std::exception&) {
  }
  fail("scribbles", path.string(), "hold a number in <" + what + ">", "'" + text + "'");
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
  const std::regex polygon("<polygon>([\\s\\S]*?)</polygon>"), point("<point>([\\s\\S]*?)</point>");
  for (auto it = std::sregex_iterator(xml.begin(), xml.end(), polygon); it != std::sregex_iterator(); ++it) {
    const std::string body = (*it)[1].str();
    const std::string tag = element(body, "tag");
    Scribble s;
    s.class_id = -1;
    for (size_t k = 0; k < class_names.size(); ++k)
      if (normalized(class_names[k]) == normalized(tag)) s.class_id = static_cast<int>(k);
    if (s.class_id < 0 && normalized(tag) == "tv") s.class_id = 20;
    require(s.class_id >= 0, "scribbles", "the <tag> of scribble " + std::to_string(a.scribbles.size()) + " in " +
                                               path.string(),
            "name a class (" + class_names.front() + ", ..., " + class_names.back() + ")", [&] { return "'" + tag + "'"; });
    for (auto p = std::sregex_iterator(body.begin(), body.end(), point); p != std::sregex_iterator(); ++p) {
      const std::string pt = (*p)[1].str();
      const int x = std::clamp(parse_int(element(pt, "X"), path, "X"), 0, a.width - 1);
      const int y = std::clamp(parse_int(element(pt, "Y"), path, "Y"), 0, a.height - 1);
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
      // Approximate medial axis: distance maxima along a row, a column or a diagonal, at least `margin` + 1 and
      // half the region's largest depth deep (the spine, without the spurs of every boundary wiggle).
      double deepest = 0;
      cv::minMaxLoc(dist, nullptr, &deepest);
      const float min_depth = static_cast<float>(std::max<double>(o.margin + 1, 0.5 * deepest));
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
