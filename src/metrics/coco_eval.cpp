// COCO RLE masks (formats.md §5) and COCOeval mask / Boundary AP (metrics.md §2.3).
//
// Re-implements the behaviour of pycocotools (cocoapi common/maskApi.c and PythonAPI cocoeval.py) and of the
// boundary-iou-api coco_instance_api variant: same run-length layout, string compression, polygon raster,
// IoU semantics, matching, accumulation and summary, so that results agree with the reference to the last bit
// wherever the reference is deterministic.
#include "boundseg/metrics/coco_eval.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <numeric>
#include <optional>
#include <set>
#include <string>
#include <unordered_set>

#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>

#include "boundseg/core/error.h"
#include "boundseg/io/coco_rle.h"
#include "metrics/numpy_sum.h"
#include "boundseg/ops/boundary_kernels.h"

namespace boundseg::metrics {
namespace {

using io::Rle;
using io::rle_area;
using io::rle_bbox;

using nlohmann::json;
using Box = std::array<double, 4>;
using Matrix = std::vector<std::vector<double>>;

// True where maskApi.c bbIou is > 0. Its value only gates the exact mask IoU, and with positive overlap
// width and height both its denominators (crowd: |dt box|, else the box union) are positive.
bool boxes_overlap(const Box& d, const Box& g) {
  const double w = std::min(d[2] + d[0], g[2] + g[0]) - std::max(d[0], g[0]);
  if (w <= 0) return false;
  const double h = std::min(d[3] + d[1], g[3] + g[1]) - std::max(d[1], g[1]);
  return h > 0;
}

// maskApi.c rleIou for one pair (formats.md §5): 0 without box overlap, -1 for a size mismatch, 0 for an empty
// intersection, |d & g| / |d| against crowd GT, else |d & g| / |d | g|.
double pair_iou(const Rle& dt, const Box& dt_box, const Rle& gt, const Box& gt_box, bool crowd) {
  if (!boxes_overlap(dt_box, gt_box)) return 0.0;
  if (dt.height != gt.height || dt.width != gt.width) return -1.0;
  uint64_t inter = 0, uni = 0;
  io::walk_runs(dt.counts, gt.counts, [&](uint64_t c, bool a, bool b) {
    if (a || b) uni += c;
    if (a && b) inter += c;
  });
  if (inter == 0) {
    uni = 1;
  } else if (crowd) {
    uni = static_cast<uint64_t>(rle_area(dt));
  }
  return static_cast<double>(inter) / static_cast<double>(uni);
}

// boundary-iou-api: the mask_to_boundary band of a mask (d from the image diagonal, metrics.md §2.2), as an
// RLE of the whole image. Computed on the tight crop of the set pixels: outside it the mask is 0, and the band
// treats the image outside as background too, so the crop gives the same band.
Rle boundary_band(const Rle& mask, int64_t d) {
  const int64_t h = mask.height, w = mask.width;
  int64_t x0 = w, y0 = h, x1 = -1, y1 = -1;
  io::for_each_set_pixel(mask, [&](int64_t x, int64_t y) {
    x0 = std::min(x0, x);
    x1 = std::max(x1, x);
    y0 = std::min(y0, y);
    y1 = std::max(y1, y);
  });
  if (x1 < 0) return Rle{h, w, {static_cast<uint32_t>(uint64_t(h) * uint64_t(w))}};
  const int64_t bw = x1 - x0 + 1, bh = y1 - y0 + 1;
  std::vector<uint8_t> crop(static_cast<size_t>(bw * bh), 0), band(crop.size(), 0);
  io::for_each_set_pixel(mask, [&](int64_t x, int64_t y) { crop[static_cast<size_t>((y - y0) * bw + (x - x0))] = 1; });
  detail::mask_to_boundary(crop.data(), band.data(), bh, bw, d);
  io::RunWriter runs;
  runs.push(false, static_cast<uint64_t>(x0 * h));
  for (int64_t x = 0; x < bw; ++x) {
    runs.push(false, static_cast<uint64_t>(y0));
    for (int64_t y = 0; y < bh; ++y) runs.push(band[static_cast<size_t>(y * bw + x)] != 0, 1);
    runs.push(false, static_cast<uint64_t>(h - y0 - bh));
  }
  runs.push(false, static_cast<uint64_t>((w - x0 - bw) * h));
  return Rle{h, w, runs.finish()};
}

// ---------------------------------------------------------------------------------------------------------------
// COCOeval (cocoeval.py, boundary-iou-api coco_instance_api/cocoeval.py), default parameters.

constexpr const char* kEval = "coco_evaluate";

constexpr int kT = 10;   // IoU thresholds
constexpr int kR = 101;  // recall thresholds
constexpr int kA = 4;    // area ranges
constexpr int kM = 3;    // max detections

// numpy linspace(.5, .95, 10): start + i * ((stop - start) / 9), last = stop (metrics.md §2.3, trap 8).
constexpr std::array<double, kT> kIouThresholds = {0.5, 0.55, 0.6, 0.65, 0.7,
                                                   0.75, 0.8, 0.85, 0.8999999999999999, 0.95};

// numpy linspace(0, 1, 101): i * 0.01 (e.g. 0.35000000000000003), last = 1.0.
const std::array<double, kR>& recall_thresholds() {
  static const std::array<double, kR> thresholds = [] {
    std::array<double, kR> t{};
    for (int i = 0; i < kR - 1; ++i) t[i] = static_cast<double>(i) * 0.01;
    t[kR - 1] = 1.0;
    return t;
  }();
  return thresholds;
}

// all, small, medium, large: [0, 1e5^2], [0, 32^2], [32^2, 96^2], [96^2, 1e5^2], both ends inclusive.
constexpr std::array<std::array<double, 2>, kA> kAreaRanges = {
    {{0.0, 1e10}, {0.0, 1024.0}, {1024.0, 9216.0}, {9216.0, 1e10}}};
constexpr std::array<int, kM> kMaxDets = {1, 10, 100};

struct Image {
  int64_t height = 0;
  int64_t width = 0;
};

struct Instance {
  int64_t id = 0;  // GT: JSON id; DT: 1-based position in the results list (loadRes)
  int64_t image_id = 0;
  int64_t category_id = 0;
  double area = 0;    // GT: the JSON 'area' field; DT: RLE area (loadRes)
  double score = 0;   // DT only
  bool crowd = false;
  bool ignore = false;  // GT: 'ignore' field or iscrowd (boundary-iou-api _prepare)
  Rle mask;
  Box box{};
  Rle band;  // boundary variant, computed on demand
  Box band_box{};
};

struct Group {  // one (image, category) pair: cocoeval _gts / _dts
  std::vector<size_t> gt;  // JSON order
  std::vector<size_t> dt;  // by score, stable, at most maxDets[-1]
};

std::string brief(const json& v) {
  std::string s = v.dump();
  if (s.size() > 60) s = s.substr(0, 57) + "...";
  return s;
}

const json& field(const json& object, const char* key, const std::string& where) {
  if (!object.is_object()) fail(kEval, where, "be a JSON object", brief(object));
  const auto it = object.find(key);
  if (it == object.end()) fail(kEval, where, std::string("have the field '") + key + "'", "an object without it");
  return *it;
}

int64_t as_int(const json& v, const std::string& where) {
  if (!v.is_number_integer() ||
      (v.is_number_unsigned() && v.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())))
    fail(kEval, where, "be an integer", brief(v));
  return v.get<int64_t>();
}

double as_number(const json& v, const std::string& where) {
  if (!v.is_number()) fail(kEval, where, "be a number", brief(v));
  return v.get<double>();
}

bool as_flag(const json& v, const std::string& where) {
  if (v.is_boolean()) return v.get<bool>();
  if (v.is_number()) return v.get<double>() != 0.0;
  fail(kEval, where, "be a boolean or a number", brief(v));
}

// A COCO RLE object {size: [h, w], counts: str | [int]} of an annotation on `image`.
Rle parse_rle_object(const json& seg, const Image& image, int64_t image_id, const std::string& where) {
  Rle rle = io::rle_from_json(seg, kEval, where);
  if (rle.height != image.height || rle.width != image.width)
    fail(kEval, where + ".size",
         "equal the size " + io::rle_shape_text(image.height, image.width) + " of image " + std::to_string(image_id),
         io::rle_shape_text(rle.height, rle.width));
  return rle;
}

// GT polygons, merged into one RLE (coco.py annToRLE: frPyObjects + merge).
Rle parse_polygons(const json& seg, const Image& image, const std::string& where) {
  if (seg.empty()) fail(kEval, where, "hold at least one polygon", "[]");
  std::vector<std::vector<double>> polygons;
  for (size_t j = 0; j < seg.size(); ++j) {
    const std::string at = where + "[" + std::to_string(j) + "]";
    if (!seg[j].is_array()) fail(kEval, at, "be a list of numbers", brief(seg[j]));
    std::vector<double> xy;
    for (const json& value : seg[j]) xy.push_back(as_number(value, at));
    polygons.push_back(std::move(xy));
  }
  // pycocotools frPyObjects dispatches on the first entry: more than 4 numbers means polygons; exactly 4 sends
  // the list to frBbox, which rejects a Python list (TypeError), and shorter ones fail in other branches.
  if (polygons[0].size() <= 4)
    fail(kEval, where + "[0]", "hold more than 4 numbers (pycocotools cannot read a shorter first polygon)",
         std::to_string(polygons[0].size()) + " numbers");
  std::vector<Rle> rles;
  for (size_t j = 0; j < polygons.size(); ++j) {
    const std::string problem = io::rle_polygon_problem(polygons[j]);
    if (!problem.empty())
      fail(kEval, where + "[" + std::to_string(j) + "]", "be a polygon [x1, y1, x2, y2, ...]", problem);
    rles.push_back(io::rle_from_polygon(polygons[j], image.height, image.width));
  }
  return io::rle_union(rles);
}

// evaluateImg output for one (category, area range, image); absent when the pair has neither GT nor DT.
struct ImageEval {
  std::vector<double> scores;       // D, by score
  std::vector<int64_t> matches;     // T x D: matched GT id, 0 when unmatched (dtMatches)
  std::vector<uint8_t> dt_ignore;   // T x D
  std::vector<uint8_t> gt_ignore;   // G, in the ignore-last order
};

// cocoeval.py evaluateImg with maxDet = maxDets[-1] (the DT list is already sorted and truncated to it).
std::optional<ImageEval> evaluate_image(const std::vector<const Instance*>& gts,
                                        const std::vector<const Instance*>& dts, const Matrix& ious,
                                        const std::array<double, 2>& range) {
  if (gts.empty() && dts.empty()) return std::nullopt;
  const size_t G = gts.size(), D = dts.size();
  std::vector<uint8_t> ignore(G);
  for (size_t g = 0; g < G; ++g) ignore[g] = gts[g]->ignore || gts[g]->area < range[0] || gts[g]->area > range[1];
  // Ignored GT last (stable), so that a match to a regular GT is never replaced by an ignored one.
  std::vector<size_t> order(G);
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](size_t l, size_t r) { return ignore[l] < ignore[r]; });

  ImageEval e;
  e.gt_ignore.resize(G);
  for (size_t g = 0; g < G; ++g) e.gt_ignore[g] = ignore[order[g]];
  for (const Instance* d : dts) e.scores.push_back(d->score);
  e.matches.assign(kT * D, 0);
  e.dt_ignore.assign(kT * D, 0);
  if (G > 0 && D > 0) {
    std::vector<uint8_t> taken(kT * G, 0);
    for (int t = 0; t < kT; ++t) {
      for (size_t d = 0; d < D; ++d) {
        double best = std::min(kIouThresholds[t], 1 - 1e-10);
        ptrdiff_t m = -1;
        for (size_t g = 0; g < G; ++g) {
          if (taken[t * G + g] && !gts[order[g]]->crowd) continue;  // crowd GT can absorb many DTs
          if (m > -1 && !e.gt_ignore[m] && e.gt_ignore[g]) break;     // matched a regular GT: stop at ignored ones
          const double iou = ious[d][order[g]];
          if (iou < best) continue;
          best = iou;
          m = static_cast<ptrdiff_t>(g);
        }
        if (m == -1) continue;
        e.dt_ignore[t * D + d] = e.gt_ignore[m];
        e.matches[t * D + d] = gts[order[m]]->id;
        taken[t * G + m] = 1;
      }
    }
  }
  // Unmatched DTs outside the area range are ignored. "Unmatched" is tested on the stored GT id, as in
  // the reference (dtm == 0), so a DT matched to a GT whose id is 0 also counts as unmatched.
  for (size_t d = 0; d < D; ++d) {
    const bool outside = dts[d]->area < range[0] || dts[d]->area > range[1];
    for (int t = 0; t < kT; ++t)
      if (outside && e.matches[t * D + d] == 0) e.dt_ignore[t * D + d] = 1;
  }
  return e;
}

struct Accumulated {
  size_t K = 0;
  std::vector<double> precision;  // [T][R][K][A][M], -1 where a setting has no GT
  std::vector<double> recall;     // [T][K][A][M]
  size_t p_index(size_t t, size_t r, size_t k, size_t a, size_t m) const {
    return (((t * kR + r) * K + k) * kA + a) * kM + m;
  }
  size_t r_index(size_t t, size_t k, size_t a, size_t m) const { return ((t * K + k) * kA + a) * kM + m; }
};

// cocoeval.py accumulate: per (category, area, maxDets) pool the images' top-maxDet DTs, sort them by score
// (stable, image order breaks ties), and read precision at the 101 recall points off the monotone envelope.
Accumulated accumulate(const std::vector<std::optional<ImageEval>>& evals, size_t K, size_t I) {
  Accumulated acc;
  acc.K = K;
  acc.precision.assign(kT * kR * K * kA * kM, -1.0);
  acc.recall.assign(kT * K * kA * kM, -1.0);
  const auto& rec_thrs = recall_thresholds();
  const double eps = std::numeric_limits<double>::epsilon();  // np.spacing(1)
  for (size_t k = 0; k < K; ++k) {
    for (size_t a = 0; a < kA; ++a) {
      std::vector<const ImageEval*> pool;  // cocoeval E: images with GT or DT
      for (size_t i = 0; i < I; ++i)
        if (const auto& e = evals[(k * kA + a) * I + i]) pool.push_back(&*e);
      if (pool.empty()) continue;
      size_t npig = 0;
      for (const ImageEval* e : pool)
        npig += static_cast<size_t>(std::count(e->gt_ignore.begin(), e->gt_ignore.end(), 0));
      if (npig == 0) continue;  // no countable GT: precision and recall stay -1
      for (size_t m = 0; m < kM; ++m) {
        const size_t max_det = static_cast<size_t>(kMaxDets[m]);
        struct Ref {
          const ImageEval* e;
          size_t d;
        };
        std::vector<Ref> dets;
        for (const ImageEval* e : pool)
          for (size_t d = 0; d < std::min(max_det, e->scores.size()); ++d) dets.push_back({e, d});
        std::stable_sort(dets.begin(), dets.end(),
                         [](const Ref& l, const Ref& r) { return l.e->scores[l.d] > r.e->scores[r.d]; });
        const size_t nd = dets.size();
        std::vector<double> rc(nd), pr(nd);
        for (size_t t = 0; t < kT; ++t) {
          double tp = 0, fp = 0;
          for (size_t j = 0; j < nd; ++j) {
            const ImageEval& e = *dets[j].e;
            const size_t D = e.scores.size();
            if (!e.dt_ignore[t * D + dets[j].d]) {
              if (e.matches[t * D + dets[j].d] != 0) {
                tp += 1;
              } else {
                fp += 1;
              }
            }
            rc[j] = tp / static_cast<double>(npig);
            pr[j] = tp / (fp + tp + eps);
          }
          acc.recall[acc.r_index(t, k, a, m)] = nd ? rc[nd - 1] : 0.0;
          for (size_t i = nd; i-- > 1;)
            if (pr[i] > pr[i - 1]) pr[i - 1] = pr[i];
          // searchsorted(rc, recThrs, 'left'); recall points beyond the last DT keep precision 0.
          for (size_t r = 0; r < kR; ++r) {
            const size_t pi = static_cast<size_t>(std::lower_bound(rc.begin(), rc.end(), rec_thrs[r]) - rc.begin());
            acc.precision[acc.p_index(t, r, k, a, m)] = pi < nd ? pr[pi] : 0.0;
          }
        }
      }
    }
  }
  return acc;
}

// cocoeval.py _summarize: mean of the entries > -1 of the selected slice (C order: t, r, k), -1 when there are
// none. `thresholds` lists the selected IoU threshold indices.
double summarize(const Accumulated& acc, bool ap, const std::vector<size_t>& thresholds, size_t area,
                 size_t max_det_index) {
  std::vector<double> values;
  for (size_t t : thresholds) {
    if (ap) {
      for (size_t r = 0; r < kR; ++r)
        for (size_t k = 0; k < acc.K; ++k) {
          const double v = acc.precision[acc.p_index(t, r, k, area, max_det_index)];
          if (v > -1) values.push_back(v);
        }
    } else {
      for (size_t k = 0; k < acc.K; ++k) {
        const double v = acc.recall[acc.r_index(t, k, area, max_det_index)];
        if (v > -1) values.push_back(v);
      }
    }
  }
  if (values.empty()) return -1.0;
  return numpy_pairwise_sum(values.data(), values.size()) / static_cast<double>(values.size());
}

// np.where(iouThr == p.iouThrs): exact double comparison; None selects every threshold.
std::vector<size_t> threshold_selection(std::optional<double> threshold) {
  std::vector<size_t> selected;
  for (size_t t = 0; t < kT; ++t)
    if (!threshold || kIouThresholds[t] == *threshold) selected.push_back(t);
  return selected;
}

}  // namespace

// ---------------------------------------------------------------------------------------------------------------
// COCOeval (metrics.md §2.3)

CocoEvalResult coco_evaluate(const nlohmann::json& ground_truth, const nlohmann::json& detections,
                             const CocoEvalOptions& options) {
  const bool boundary = options.iou_type == CocoIouType::kBoundary;
  require(std::isfinite(options.dilation_ratio) && options.dilation_ratio >= 0, "CocoEvalOptions", "'dilation_ratio'",
          "be finite and >= 0", [&] { return std::to_string(options.dilation_ratio); });
  if (!ground_truth.is_object()) fail(kEval, "ground_truth", "be a COCO JSON object", brief(ground_truth));
  if (!detections.is_array()) fail(kEval, "detections", "be a JSON array of results", brief(detections));

  // Images (params.imgIds = sorted ids) and categories (params.catIds = sorted unique ids).
  const json& images_json = field(ground_truth, "images", "ground_truth");
  if (!images_json.is_array()) fail(kEval, "ground_truth.images", "be an array", brief(images_json));
  std::map<int64_t, Image> images;
  for (size_t i = 0; i < images_json.size(); ++i) {
    const std::string where = "ground_truth.images[" + std::to_string(i) + "]";
    const json& img = images_json[i];
    const int64_t id = as_int(field(img, "id", where), where + ".id");
    Image image;
    image.height = as_int(field(img, "height", where), where + ".height");
    image.width = as_int(field(img, "width", where), where + ".width");
    require(image.height >= 1 && image.width >= 1 && io::rle_valid_shape(image.height, image.width), kEval,
            where + " [height, width]", "be positive with height * width < 2^32",
            [&] { return io::rle_shape_text(image.height, image.width); });
    if (!images.emplace(id, image).second)
      fail(kEval, where + ".id", "be unique", "a repeated id " + std::to_string(id));
  }
  const json& categories_json = field(ground_truth, "categories", "ground_truth");
  if (!categories_json.is_array()) fail(kEval, "ground_truth.categories", "be an array", brief(categories_json));
  std::set<int64_t> categories;
  for (size_t i = 0; i < categories_json.size(); ++i) {
    const std::string where = "ground_truth.categories[" + std::to_string(i) + "]";
    categories.insert(as_int(field(categories_json[i], "id", where), where + ".id"));
  }

  // Annotations of listed categories only (getAnnIds(catIds=params.catIds)); an unknown image is an error
  // (the reference fails on it when it decodes the annotation, and asserts it for results in loadRes).
  std::vector<Instance> instances;
  std::map<std::pair<int64_t, int64_t>, Group> groups;
  const json& annotations = field(ground_truth, "annotations", "ground_truth");
  if (!annotations.is_array()) fail(kEval, "ground_truth.annotations", "be an array", brief(annotations));
  std::unordered_set<int64_t> gt_ids;
  for (size_t i = 0; i < annotations.size(); ++i) {
    const std::string where = "ground_truth.annotations[" + std::to_string(i) + "]";
    const json& ann = annotations[i];
    Instance gt;
    gt.id = as_int(field(ann, "id", where), where + ".id");
    if (!gt_ids.insert(gt.id).second)
      fail(kEval, where + ".id", "be unique (pycocotools would evaluate the last duplicate twice)",
           "a repeated id " + std::to_string(gt.id));
    gt.image_id = as_int(field(ann, "image_id", where), where + ".image_id");
    const auto image = images.find(gt.image_id);
    if (image == images.end())
      fail(kEval, where + ".image_id", "refer to an image of ground_truth.images", std::to_string(gt.image_id));
    gt.category_id = as_int(field(ann, "category_id", where), where + ".category_id");
    if (!categories.count(gt.category_id)) continue;
    gt.area = as_number(field(ann, "area", where), where + ".area");
    gt.crowd = as_flag(field(ann, "iscrowd", where), where + ".iscrowd");
    gt.ignore = gt.crowd || (ann.contains("ignore") && as_flag(ann["ignore"], where + ".ignore"));
    const json& seg = field(ann, "segmentation", where);
    if (seg.is_array()) {
      gt.mask = parse_polygons(seg, image->second, where + ".segmentation");
    } else if (seg.is_object()) {
      gt.mask = parse_rle_object(seg, image->second, gt.image_id, where + ".segmentation");
    } else {
      fail(kEval, where + ".segmentation", "be a list of polygons or an RLE object", brief(seg));
    }
    gt.box = rle_bbox(gt.mask);
    groups[{gt.image_id, gt.category_id}].gt.push_back(instances.size());
    instances.push_back(std::move(gt));
  }

  // Results (loadRes): id = position + 1, area = RLE area, never crowd.
  for (size_t i = 0; i < detections.size(); ++i) {
    const std::string where = "detections[" + std::to_string(i) + "]";
    const json& det = detections[i];
    Instance dt;
    dt.id = static_cast<int64_t>(i) + 1;
    dt.image_id = as_int(field(det, "image_id", where), where + ".image_id");
    const auto image = images.find(dt.image_id);
    if (image == images.end())
      fail(kEval, where + ".image_id", "refer to an image of ground_truth.images", std::to_string(dt.image_id));
    dt.category_id = as_int(field(det, "category_id", where), where + ".category_id");
    if (!categories.count(dt.category_id)) continue;
    dt.score = as_number(field(det, "score", where), where + ".score");
    const json& seg = field(det, "segmentation", where);
    if (!seg.is_object()) fail(kEval, where + ".segmentation", "be an RLE object {size, counts}", brief(seg));
    dt.mask = parse_rle_object(seg, image->second, dt.image_id, where + ".segmentation");
    dt.box = rle_bbox(dt.mask);
    dt.area = static_cast<double>(rle_area(dt.mask));
    groups[{dt.image_id, dt.category_id}].dt.push_back(instances.size());
    instances.push_back(std::move(dt));
  }

  // DTs by score, stable (numpy mergesort), truncated to maxDets[-1]; computeIoU and evaluateImg agree on it.
  for (auto& entry : groups) {
    std::vector<size_t>& dt = entry.second.dt;
    std::stable_sort(dt.begin(), dt.end(), [&](size_t l, size_t r) { return instances[l].score > instances[r].score; });
    if (dt.size() > static_cast<size_t>(kMaxDets[kM - 1])) dt.resize(kMaxDets[kM - 1]);
  }

  // computeIoU / computeBoundaryIoU per (image, category).
  CocoEvalResult result;
  std::map<std::pair<int64_t, int64_t>, Matrix> ious;
  for (auto& [key, group] : groups) {
    if (group.gt.empty() || group.dt.empty()) continue;  // pycocotools iou returns [] then
    const Image& image = images.at(key.first);
    const int64_t d = boundary ? detail::band_width(options.dilation_ratio, image.height, image.width) : 0;
    if (boundary) {
      // Crowd GT columns keep the mask crowd IoU, so their bands are never needed.
      for (size_t index : group.gt)
        if (!instances[index].crowd) {
          Instance& gt = instances[index];
          gt.band = boundary_band(gt.mask, d);
          gt.band_box = rle_bbox(gt.band);
        }
      for (size_t index : group.dt) {
        Instance& dt = instances[index];
        dt.band = boundary_band(dt.mask, d);
        dt.band_box = rle_bbox(dt.band);
      }
    }
    Matrix matrix(group.dt.size(), std::vector<double>(group.gt.size()));
    for (size_t i = 0; i < group.dt.size(); ++i) {
      const Instance& dt = instances[group.dt[i]];
      for (size_t j = 0; j < group.gt.size(); ++j) {
        const Instance& gt = instances[group.gt[j]];
        double iou = pair_iou(dt.mask, dt.box, gt.mask, gt.box, gt.crowd);
        if (boundary && !gt.crowd) iou = std::min(iou, pair_iou(dt.band, dt.band_box, gt.band, gt.band_box, false));
        matrix[i][j] = iou;
      }
    }
    ious.emplace(key, matrix);
    result.ious.emplace(key, std::move(matrix));
  }

  // evaluate: evalImgs ordered [category][area range][image].
  const std::vector<int64_t> cat_ids(categories.begin(), categories.end());
  std::vector<int64_t> img_ids;
  for (const auto& entry : images) img_ids.push_back(entry.first);
  const size_t K = cat_ids.size(), I = img_ids.size();
  std::vector<std::optional<ImageEval>> evals(K * kA * I);
  static const Matrix kNoIous;
  for (size_t k = 0; k < K; ++k) {
    for (size_t i = 0; i < I; ++i) {
      const auto key = std::make_pair(img_ids[i], cat_ids[k]);
      const auto group = groups.find(key);
      if (group == groups.end()) continue;
      std::vector<const Instance*> gts, dts;
      for (size_t index : group->second.gt) gts.push_back(&instances[index]);
      for (size_t index : group->second.dt) dts.push_back(&instances[index]);
      const auto matrix = ious.find(key);
      const Matrix& m = matrix == ious.end() ? kNoIous : matrix->second;
      for (size_t a = 0; a < kA; ++a) evals[(k * kA + a) * I + i] = evaluate_image(gts, dts, m, kAreaRanges[a]);
    }
  }

  // accumulate + summarize (_summarizeDets).
  const Accumulated acc = accumulate(evals, K, I);
  const std::vector<size_t> all = threshold_selection(std::nullopt), t50 = threshold_selection(0.5),
                            t75 = threshold_selection(0.75);
  result.stats = {summarize(acc, true, all, 0, 2),  summarize(acc, true, t50, 0, 2),  summarize(acc, true, t75, 0, 2),
                  summarize(acc, true, all, 1, 2),  summarize(acc, true, all, 2, 2),  summarize(acc, true, all, 3, 2),
                  summarize(acc, false, all, 0, 0), summarize(acc, false, all, 0, 1), summarize(acc, false, all, 0, 2),
                  summarize(acc, false, all, 1, 2), summarize(acc, false, all, 2, 2), summarize(acc, false, all, 3, 2)};
  return result;
}

}  // namespace boundseg::metrics
