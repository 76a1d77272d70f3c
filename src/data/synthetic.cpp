// Procedural street scenes: a list of primitives rendered twice, once as
// ground truth and once, perturbed, as a model's prediction.
#include "boundseg/data/synthetic.h"

#include <algorithm>
#include <cmath>
#include <random>

#include <opencv2/imgproc.hpp>

#include "boundseg/core/progress.h"
#include "boundseg/io/cityscapes_labels.h"
#include "boundseg/io/atomic_file.h"
#include "boundseg/io/png.h"

namespace boundseg::data {
namespace {

enum class Shape { kRect, kEllipse, kPolygon };

struct Primitive {
  Shape shape;
  int label_id;
  bool instance;                 // gets its own instance id
  std::vector<cv::Point> points; // rect: 2 corners; ellipse: centre + axes; polygon: vertices
  bool drop_in_prediction = false;
  int predicted_label = -1;      // -1: same as label_id
};

void draw(const Primitive& p, cv::Mat& target, double value) {
  const cv::Scalar v(value);
  switch (p.shape) {
    case Shape::kRect: cv::rectangle(target, p.points[0], p.points[1], v, cv::FILLED); break;
    case Shape::kEllipse:
      cv::ellipse(target, p.points[0], cv::Size(p.points[1].x, p.points[1].y), 0, 0, 360, v, cv::FILLED);
      break;
    case Shape::kPolygon: cv::fillPoly(target, std::vector<std::vector<cv::Point>>{p.points}, v); break;
  }
}

// Valid label a model would predict on a void pixel.
int predicted_for_void(int id) {
  switch (id) {
    case 0: case 1: case 2: case 3: case 9: case 10: return 7;  // road
    case 4: case 5: case 6: return 8;                            // sidewalk
    case 14: return 13;
    case 15: case 16: return 11;
    case 18: return 17;
    case 29: return 26;
    case 30: return 27;
    default: return id;
  }
}

struct Scene {
  std::vector<Primitive> primitives;
};

Scene compose(std::mt19937_64& rng, int h, int w) {
  auto uni = [&](double a, double b) { return std::uniform_real_distribution<double>(a, b)(rng); };
  auto chance = [&](double p) { return uni(0, 1) < p; };
  auto pt = [](double x, double y) { return cv::Point(int(std::lround(x)), int(std::lround(y))); };
  Scene s;
  auto add = [&](Shape shape, int label, bool inst, std::vector<cv::Point> pts) {
    s.primitives.push_back({shape, label, inst, std::move(pts)});
    return &s.primitives.back();
  };
  const double horizon = uni(0.35, 0.45) * h, road_top = uni(0.55, 0.62) * h;
  add(Shape::kRect, 23, false, {pt(0, 0), pt(w, h)});  // sky
  // Buildings along the horizon, some with a wall or fence in front.
  for (double x = -uni(0, 0.05) * w; x < w;) {
    const double bw = uni(0.07, 0.2) * w, top = uni(0.08, 0.9) * horizon;
    add(Shape::kRect, chance(0.85) ? 11 : 15, false, {pt(x, top), pt(x + bw, road_top)});
    x += bw + (chance(0.3) ? uni(0.01, 0.04) * w : 0);
  }
  for (int i = 0, n = 3 + rng() % 4; i < n; ++i) {  // vegetation crowns and terrain
    add(Shape::kEllipse, 21, false, {pt(uni(0, w), uni(0.6, 1.0) * horizon), pt(uni(0.04, 0.12) * w, uni(0.05, 0.15) * h)});
  }
  add(Shape::kRect, 22, false, {pt(uni(0, 0.3) * w, horizon), pt(uni(0.5, 1.0) * w, road_top)});
  add(Shape::kRect, chance(0.5) ? 12 : 13, false, {pt(uni(0, 0.5) * w, road_top - uni(0.03, 0.08) * h), pt(uni(0.5, 1) * w, road_top)});
  // Sidewalks and the road as a trapezoid towards the vanishing point.
  add(Shape::kRect, 8, false, {pt(0, road_top), pt(w, h)});
  const double vx = uni(0.4, 0.6) * w;
  add(Shape::kPolygon, 7, false, {pt(vx - 0.05 * w, road_top), pt(vx + 0.05 * w, road_top), pt(w * 0.95, h), pt(w * 0.05, h)});
  if (chance(0.5)) add(Shape::kRect, 9, false, {pt(w * 0.02, h * 0.8), pt(w * 0.12, h * 0.9)});
  for (int i = 0, n = 2 + rng() % 3; i < n; ++i)  // static clutter
    add(Shape::kEllipse, 4, false, {pt(uni(0, w), uni(road_top, h)), pt(uni(0.005, 0.02) * w, uni(0.005, 0.02) * h)});
  // Poles with signs and lights: thin structures, often missed.
  for (int i = 0, n = 3 + rng() % 5; i < n; ++i) {
    const double x = chance(0.5) ? uni(0, 0.2) * w : uni(0.8, 1.0) * w, pw = std::max(2.0, 0.004 * w);
    const double top = uni(0.15, 0.4) * h, bottom = uni(road_top, 0.85 * h);
    Primitive* pole = add(Shape::kRect, 17, false, {pt(x, top), pt(x + pw, bottom)});
    pole->drop_in_prediction = chance(0.3);
    if (chance(0.6)) {
      Primitive* sign = add(Shape::kRect, chance(0.5) ? 20 : 19, false,
                            {pt(x - 0.01 * w, top), pt(x + pw + 0.01 * w, top + uni(0.02, 0.05) * h)});
      sign->drop_in_prediction = chance(0.2);
    }
  }
  // Vehicles on the road, near ones larger; some touch or occlude.
  for (int i = 0, n = 3 + rng() % 7; i < n; ++i) {
    const double y = uni(road_top + 0.02 * h, 0.92 * h), scale = (y - road_top) / (h - road_top) + 0.15;
    const double cw = scale * uni(0.1, 0.2) * w, ch = cw * uni(0.45, 0.7), x = uni(0.05 * w, 0.95 * w - cw);
    const double r = uni(0, 1);
    const int label = r < 0.7 ? 26 : r < 0.82 ? 27 : r < 0.9 ? 28 : r < 0.95 ? 32 : 29;
    // Body with a cabin on top, one polygon so that it is one instance.
    const double body = y - ch * 0.55;
    Primitive* v = add(Shape::kPolygon, label, true,
                       {pt(x, y), pt(x + cw, y), pt(x + cw, body), pt(x + cw * 0.8, body), pt(x + cw * 0.7, y - ch),
                        pt(x + cw * 0.3, y - ch), pt(x + cw * 0.2, body), pt(x, body)});
    if (label == 27 && chance(0.4)) v->predicted_label = 26;  // truck seen as car
  }
  // A distant car group region (no instance id).
  add(Shape::kRect, 26, false, {pt(vx - 0.04 * w, road_top - 0.02 * h), pt(vx + 0.04 * w, road_top + 0.01 * h)});
  // People on the sidewalks, some riding bicycles.
  for (int i = 0, n = 2 + rng() % 6; i < n; ++i) {
    const double y = uni(road_top, 0.95 * h), scale = (y - road_top) / (h - road_top) + 0.2;
    const double ph = scale * uni(0.12, 0.22) * h, x = chance(0.5) ? uni(0, 0.15) * w : uni(0.85, 1.0) * w;
    const bool rider = chance(0.25);
    Primitive* body = add(Shape::kEllipse, rider ? 25 : 24, true, {pt(x, y - ph / 2), pt(ph * 0.15, ph / 2)});
    body->drop_in_prediction = chance(0.15);
    if (rider) add(Shape::kEllipse, 33, true, {pt(x, y - ph * 0.05), pt(ph * 0.35, ph * 0.15)});
  }
  add(Shape::kEllipse, 1, false, {pt(w / 2, h * 1.02), pt(w * 0.45, h * 0.08)});  // ego vehicle
  add(Shape::kRect, 2, false, {pt(0, h - 3), pt(w, h)});                          // rectification border
  return s;
}

// Renders primitives in order (later ones occlude earlier ones).
void render(const Scene& scene, cv::Mat& labels, cv::Mat* instances, bool prediction) {
  std::array<int, 34> next_instance{};
  for (const Primitive& p : scene.primitives) {
    int label = p.label_id;
    if (prediction) {
      if (p.drop_in_prediction) continue;
      if (p.predicted_label >= 0) label = p.predicted_label;
    }
    draw(p, labels, label);
    if (instances) draw(p, *instances, p.instance ? label * 1000 + next_instance[label]++ : label);
  }
}

// Smooth random displacement field (pixels), amplitude ~ `amplitude`.
void displacement_field(std::mt19937_64& rng, int h, int w, double amplitude, cv::Mat& dx, cv::Mat& dy) {
  std::normal_distribution<float> normal(0.f, 1.f);
  cv::Mat gx(6, 12, CV_32F), gy(6, 12, CV_32F);
  for (int i = 0; i < gx.rows * gx.cols; ++i) gx.ptr<float>()[i] = normal(rng), gy.ptr<float>()[i] = normal(rng);
  cv::resize(gx, dx, cv::Size(w, h), 0, 0, cv::INTER_CUBIC);
  cv::resize(gy, dy, cv::Size(w, h), 0, 0, cv::INTER_CUBIC);
  dx *= amplitude;
  dy *= amplitude;
}

template <typename T>
cv::Mat warp_nearest(const cv::Mat& src, const cv::Mat& dx, const cv::Mat& dy) {
  cv::Mat out(src.size(), src.type());
  for (int y = 0; y < src.rows; ++y)
    for (int x = 0; x < src.cols; ++x) {
      const int sy = std::clamp(int(std::lround(y + dy.at<float>(y, x))), 0, src.rows - 1);
      const int sx = std::clamp(int(std::lround(x + dx.at<float>(y, x))), 0, src.cols - 1);
      out.at<T>(y, x) = src.at<T>(sy, sx);
    }
  return out;
}

cv::Mat render_image(const cv::Mat& labels, std::mt19937_64& rng) {
  cv::Mat image(labels.size(), CV_8UC3);
  std::normal_distribution<float> noise(0.f, 6.f);
  for (int y = 0; y < labels.rows; ++y)
    for (int x = 0; x < labels.cols; ++x) {
      const auto rgb = cityscapes::labels()[labels.at<uint8_t>(y, x)].rgb;
      const float shade = 0.85f + 0.15f * float(y) / float(labels.rows) + noise(rng) / 255.f;
      image.at<cv::Vec3b>(y, x) = cv::Vec3b(cv::saturate_cast<uint8_t>(rgb[2] * shade + noise(rng)),
                                            cv::saturate_cast<uint8_t>(rgb[1] * shade + noise(rng)),
                                            cv::saturate_cast<uint8_t>(rgb[0] * shade + noise(rng)));
    }
  cv::GaussianBlur(image, image, cv::Size(3, 3), 0.8);
  return image;
}

}  // namespace

SyntheticScene make_synthetic_scene(uint64_t seed, int height, int width) {
  std::mt19937_64 rng(seed * 0x9E3779B97F4A7C15ull + 12345);
  const Scene scene = compose(rng, height, width);
  SyntheticScene out;
  out.label_ids = cv::Mat(height, width, CV_8UC1, cv::Scalar(0));
  out.instance_ids = cv::Mat(height, width, CV_16UC1, cv::Scalar(0));
  render(scene, out.label_ids, &out.instance_ids, false);
  out.image = render_image(out.label_ids, rng);

  // Prediction: render without dropped objects, displace contours smoothly,
  // map void to plausible classes, add a few confusion blobs.
  cv::Mat pred(height, width, CV_8UC1, cv::Scalar(0));
  render(scene, pred, nullptr, true);
  const double diagonal = std::sqrt(double(height) * height + double(width) * width);
  cv::Mat dx, dy;
  displacement_field(rng, height, width, 0.004 * diagonal, dx, dy);
  pred = warp_nearest<uint8_t>(pred, dx, dy);
  for (int i = 0; i < height * width; ++i) pred.data[i] = static_cast<uint8_t>(predicted_for_void(pred.data[i]));
  std::uniform_real_distribution<double> uni(0, 1);
  for (int i = 0; i < 4; ++i) {
    const cv::Point c(int(uni(rng) * width), int(uni(rng) * height));
    const int current = pred.at<uint8_t>(c);
    const int confused = current == 7 ? 8 : current == 8 ? 7 : current == 21 ? 22 : current == 11 ? 12 : 21;
    cv::ellipse(pred, c, cv::Size(int(uni(rng) * 0.04 * width) + 2, int(uni(rng) * 0.04 * height) + 2), uni(rng) * 180,
                0, 360, cv::Scalar(confused), cv::FILLED);
  }
  out.pred_label_ids = pred;

  // Instance predictions from the displaced GT instances.
  const cv::Mat warped = warp_nearest<uint16_t>(out.instance_ids, dx, dy);
  std::vector<int> ids;
  for (int i = 0; i < height * width; ++i) {
    const int v = warped.ptr<uint16_t>()[i];
    if (v >= 1000) ids.push_back(v);
  }
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  for (int id : ids) {
    if (uni(rng) < 0.12) continue;  // missed
    cv::Mat mask = (warped == id);
    int label = id / 1000;
    if (label == 29) label = 26;
    const double score = 0.4 + 0.6 * uni(rng);
    if (uni(rng) < 0.05) label = label == 26 ? 27 : 26;  // wrong class
    out.pred_instances.push_back({label, score, mask});
    if (uni(rng) < 0.15) {  // duplicate with a sloppier mask
      cv::Mat dup;
      cv::dilate(mask, dup, cv::Mat::ones(5, 5, CV_8U));
      out.pred_instances.push_back({label, score * 0.6, dup});
    }
  }
  for (int i = 0, n = 1 + int(uni(rng) * 3); i < n; ++i) {  // false positives
    cv::Mat mask(height, width, CV_8UC1, cv::Scalar(0));
    cv::ellipse(mask, cv::Point(int(uni(rng) * width), int(uni(rng) * height)),
                cv::Size(int(0.01 * width + uni(rng) * 0.03 * width), int(0.01 * height + uni(rng) * 0.05 * height)),
                0, 0, 360, cv::Scalar(255), cv::FILLED);
    const int classes[] = {24, 25, 26, 27, 28, 31, 32, 33};
    out.pred_instances.push_back({classes[int(uni(rng) * 8) % 8], 0.5 * uni(rng), mask});
  }
  return out;
}

std::vector<std::string> write_synthetic_cityscapes(const std::filesystem::path& root, int count, int height,
                                                    int width, uint64_t seed, bool progress, const std::string& split) {
  namespace fs = std::filesystem;
  const char* cities[] = {"aachen", "bochum", "cologne"};
  std::vector<std::string> stems(count);
  ProgressBar bar("synth", count, progress);
  for (int i = 0; i < count; ++i) {
    const std::string city = cities[i % 3];
    char stem[64];
    // Splits other than val draw from a disjoint range of scene numbers (and stems).
    const int number = i + (split == "val" ? 0 : split == "train" ? 100000 : split == "test" ? 200000 : 300000);
    std::snprintf(stem, sizeof(stem), "%s_%06d_%06d", city.c_str(), number, 19);
    stems[i] = stem;
    const SyntheticScene s = make_synthetic_scene(seed + uint64_t(number), height, width);
    const fs::path gt = root / "gtFine" / split / city;
    io::write_png(gt / (stems[i] + "_gtFine_labelIds.png"), s.label_ids);
    io::write_png(gt / (stems[i] + "_gtFine_labelTrainIds.png"), cityscapes::label_ids_to_train_ids(s.label_ids));
    io::write_png(gt / (stems[i] + "_gtFine_instanceIds.png"), s.instance_ids);
    io::write_png(root / "leftImg8bit" / split / city / (stems[i] + "_leftImg8bit.png"), s.image);
    if (split != "val") {
      bar.advance();
      continue;
    }
    io::write_png(root / "pred" / "semantic" / (stems[i] + "_leftImg8bit.png"), s.pred_label_ids);
    std::string txt;
    for (size_t k = 0; k < s.pred_instances.size(); ++k) {
      const auto& inst = s.pred_instances[k];
      const std::string mask_name =
          "masks/" + stems[i] + "_" + std::to_string(k) + "_" + cityscapes::labels()[inst.label_id].name + ".png";
      std::string safe = mask_name;
      std::replace(safe.begin(), safe.end(), ' ', '_');
      io::write_png(root / "pred" / "instances" / safe, inst.mask);
      txt += safe + " " + std::to_string(inst.label_id) + " " + std::to_string(inst.score) + "\n";
    }
    io::write_file_atomic(root / "pred" / "instances" / (stems[i] + "_leftImg8bit_pred.txt"), txt);
    bar.advance();
  }
  bar.finish();
  return stems;
}

}  // namespace boundseg::data
