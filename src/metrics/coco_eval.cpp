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
#include "metrics/numpy_sum.h"
#include "boundseg/ops/boundary_kernels.h"

namespace boundseg::metrics {
namespace {

using nlohmann::json;
using Box = std::array<double, 4>;
using Matrix = std::vector<std::vector<double>>;

// maskApi.c stores counts and run positions as 32-bit unsigned ints, so a mask holds at most 2^32 - 1 pixels.
constexpr uint64_t kMaxPixels = std::numeric_limits<uint32_t>::max();

// Guard for polygon vertices: rleFrPoly converts 5 * coordinate to int and allocates one point per 1/5 pixel
// along every edge, so far-away vertices would overflow int or exhaust memory.
constexpr double kMaxPolygonCoordinate = 1e6;

std::string shape_text(int64_t h, int64_t w) { return "[" + std::to_string(h) + ", " + std::to_string(w) + "]"; }

bool valid_shape(int64_t h, int64_t w) {
  return h >= 0 && w >= 0 && (h == 0 || static_cast<uint64_t>(w) <= kMaxPixels / static_cast<uint64_t>(h));
}

void check_shape(int64_t h, int64_t w, const char* what, const std::string& argument) {
  require(valid_shape(h, w), what, argument, "be non-negative with height * width < 2^32 (32-bit RLE counts)",
          [&] { return shape_text(h, w); });
}

uint64_t pixel_count(const Rle& rle) { return static_cast<uint64_t>(rle.height) * static_cast<uint64_t>(rle.width); }

// Empty when `rle` is a consistent run-length encoding of its size, else what is wrong with it.
std::string counts_problem(const Rle& rle) {
  if (rle.counts.empty()) return "no counts";
  uint64_t sum = 0;
  for (uint32_t c : rle.counts) sum += c;
  if (sum != pixel_count(rle)) return "counts summing to " + std::to_string(sum);
  return {};
}

void check_rle(const Rle& rle, const char* what, const std::string& size_argument,
               const std::string& counts_argument) {
  check_shape(rle.height, rle.width, what, size_argument);
  const std::string problem = counts_problem(rle);
  if (!problem.empty())
    fail(what, counts_argument,
         "be non-empty and sum to height * width = " + std::to_string(pixel_count(rle)), problem);
}

/// Builds COCO counts from runs of values: zeros first (a leading 0 when the first pixel is set), equal adjacent
/// runs merged, the last run always emitted, as maskApi.c rleEncode writes them.
class RunWriter {
 public:
  void push(bool value, uint64_t length) {
    if (length == 0) return;
    if (value != value_) {
      counts_.push_back(static_cast<uint32_t>(length_));
      value_ = value;
      length_ = 0;
    }
    length_ += length;
  }
  std::vector<uint32_t> finish() {
    counts_.push_back(static_cast<uint32_t>(length_));
    return std::move(counts_);
  }

 private:
  std::vector<uint32_t> counts_;
  bool value_ = false;
  uint64_t length_ = 0;
};

/// Calls fn(x, y) for every set pixel (column-major runs, formats.md §5).
template <typename Fn>
void for_each_set_pixel(const Rle& rle, Fn&& fn) {
  const uint64_t h = static_cast<uint64_t>(rle.height);
  uint64_t pos = 0;
  for (size_t j = 0; j < rle.counts.size(); ++j) {
    const uint64_t c = rle.counts[j];
    if (j % 2 == 1 && c > 0) {
      int64_t x = static_cast<int64_t>(pos / h);
      int64_t y = static_cast<int64_t>(pos % h);
      for (uint64_t k = 0; k < c; ++k) {
        fn(x, y);
        if (++y == rle.height) {
          y = 0;
          ++x;
        }
      }
    }
    pos += c;
  }
}

std::string char_text(char c) {
  const auto u = static_cast<unsigned char>(c);
  if (u >= 32 && u < 127) return std::string("'") + c + "'";
  return "byte " + std::to_string(u);
}

// Inverse of rle_to_string (formats.md §5): 5-bit groups, least significant first, in characters 48..111;
// bit 32 = another group follows, bit 16 of the last group = negative; from index 3 on a value is the delta to
// the count two places back. Returns an empty string on success, else what is wrong with the string.
std::string decode_counts(const std::string& s, std::vector<uint32_t>& counts) {
  counts.clear();
  size_t p = 0;
  while (p < s.size()) {
    int64_t x = 0;
    int k = 0;
    bool more = true;
    while (more) {
      if (p >= s.size()) return "a string that ends inside a count (its last character has the continuation bit)";
      const int c = static_cast<unsigned char>(s[p]) - 48;
      if (c < 0 || c > 63) return "character " + char_text(s[p]) + " at position " + std::to_string(p);
      // 7 groups hold 35 bits, enough for any signed delta of 32-bit counts.
      if (k == 7) return "a count longer than 7 characters at position " + std::to_string(p);
      x |= static_cast<int64_t>(c & 0x1f) << (5 * k);
      more = (c & 0x20) != 0;
      ++p;
      ++k;
      if (!more && (c & 0x10)) x |= -(int64_t{1} << (5 * k));  // sign-extend from the last group
    }
    if (counts.size() > 2) x += counts[counts.size() - 2];
    if (x < 0 || static_cast<uint64_t>(x) > kMaxPixels)
      return "a run length of " + std::to_string(x) + " ending at position " + std::to_string(p);
    counts.push_back(static_cast<uint32_t>(x));
  }
  return {};
}

// Rounds a * b to double before it takes part in a sum. rleFrPoly snaps points with (int)(a * b + .5); a fused
// multiply-add (contracted by compilers under -march=native or on aarch64) can move a point across the
// truncation boundary, so the product is forced through memory as the reference's x86-64 build computes it.
double rounded_product(double a, double b) {
  volatile double p = a * b;
  return p;
}

// Empty when `xy` is an acceptable polygon for rleFrPoly, else what is wrong with it.
std::string polygon_problem(const std::vector<double>& xy) {
  if (xy.size() < 2 || xy.size() % 2 != 0)
    return "a list of " + std::to_string(xy.size()) + " numbers (need x, y pairs, at least one)";
  for (size_t i = 0; i < xy.size(); ++i)
    if (!std::isfinite(xy[i]) || std::abs(xy[i]) > kMaxPolygonCoordinate)
      return "coordinate " + std::to_string(xy[i]) + " at index " + std::to_string(i) +
             " (must be finite and within +-1e6 px)";
  return {};
}

// maskApi.c rleFrPoly, step by step (the result must equal the reference count for count):
// 1. snap vertices to a 5x finer grid, (int)(5 v + .5) with C truncation toward zero;
// 2. walk every edge one fine step at a time along its longer axis, rounding the other coordinate the same way;
// 3. wherever the fine x changes, the crossed pixel-column centre (when it is an integer column inside the
//    image) gets a boundary point at row ceil(min fine y, back on the pixel grid), clamped to [0, h];
// 4. sort the column-major positions of those points, add h * w, and turn them into run lengths, folding
//    repeated positions (zero-length runs) into their neighbours.
Rle polygon_to_rle(const std::vector<double>& xy, int64_t height, int64_t width) {
  constexpr double kScale = 5;  // rleFrPoly upsampling factor
  const size_t k = xy.size() / 2;
  std::vector<int> x(k + 1), y(k + 1);
  for (size_t j = 0; j < k; ++j) {
    x[j] = static_cast<int>(rounded_product(kScale, xy[2 * j]) + .5);
    y[j] = static_cast<int>(rounded_product(kScale, xy[2 * j + 1]) + .5);
  }
  x[k] = x[0];
  y[k] = y[0];

  // Stage 2: dense fine-grid points along the closed outline.
  std::vector<int> u, v;
  size_t total = 0;
  for (size_t j = 0; j < k; ++j)
    total += static_cast<size_t>(std::max(std::abs(x[j] - x[j + 1]), std::abs(y[j] - y[j + 1]))) + 1;
  u.reserve(total);
  v.reserve(total);
  for (size_t j = 0; j < k; ++j) {
    int xs = x[j], xe = x[j + 1], ys = y[j], ye = y[j + 1];
    const int dx = std::abs(xe - xs), dy = std::abs(ys - ye);
    // Edges are walked from the endpoint with the smaller major coordinate but emitted in polygon order.
    const bool flip = (dx >= dy && xs > xe) || (dx < dy && ys > ye);
    if (flip) {
      std::swap(xs, xe);
      std::swap(ys, ye);
    }
    if (dx >= dy) {
      // dx == dy == 0 (repeated vertex): the reference divides 0 by 0 here; the single point it emits has the
      // same fine x as its neighbours, so its y is never read (stage 3 only looks where x changes).
      const double s = dx == 0 ? 0.0 : static_cast<double>(ye - ys) / dx;
      for (int d = 0; d <= dx; ++d) {
        const int t = flip ? dx - d : d;
        u.push_back(t + xs);
        v.push_back(static_cast<int>(ys + rounded_product(s, t) + .5));
      }
    } else {
      const double s = static_cast<double>(xe - xs) / dy;
      for (int d = 0; d <= dy; ++d) {
        const int t = flip ? dy - d : d;
        v.push_back(t + ys);
        u.push_back(static_cast<int>(xs + rounded_product(s, t) + .5));
      }
    }
  }

  // Stage 3: one boundary point per crossed pixel column.
  std::vector<uint32_t> a;
  const double h = static_cast<double>(height);
  const double last_column = static_cast<double>(width - 1);
  for (size_t j = 1; j < u.size(); ++j) {
    if (u[j] == u[j - 1]) continue;
    double xd = u[j] < u[j - 1] ? u[j] : u[j] - 1;
    xd = (xd + .5) / kScale - .5;
    if (std::floor(xd) != xd || xd < 0 || xd > last_column) continue;
    double yd = v[j] < v[j - 1] ? v[j] : v[j - 1];
    yd = (yd + .5) / kScale - .5;
    if (yd < 0) {
      yd = 0;
    } else if (yd > h) {
      yd = h;
    }
    yd = std::ceil(yd);
    a.push_back(static_cast<uint32_t>(static_cast<int64_t>(xd) * height + static_cast<int64_t>(yd)));
  }

  // Stage 4: positions -> run lengths.
  a.push_back(static_cast<uint32_t>(height * width));
  std::sort(a.begin(), a.end());
  uint32_t previous = 0;
  for (uint32_t& position : a) {
    const uint32_t current = position;
    position -= previous;
    previous = current;
  }
  std::vector<uint32_t> counts;
  counts.push_back(a[0]);
  for (size_t j = 1; j < a.size();) {
    if (a[j] > 0) {
      counts.push_back(a[j++]);
    } else {
      // Two toggles at one position cancel: drop the empty run and merge the next one into the previous.
      ++j;
      if (j < a.size()) counts.back() += a[j++];
    }
  }
  return Rle{height, width, std::move(counts)};
}

// Walks two run lists of the same image in lockstep (as maskApi.c does) and calls step(length, a, b) for every
// stretch of pixels where the first mask has value a and the second value b (stretches may be empty).
template <typename Step>
void walk_runs(const std::vector<uint32_t>& lhs, const std::vector<uint32_t>& rhs, Step step) {
  uint64_t ca = lhs[0], cb = rhs[0], remaining = 1;
  size_t ia = 1, ib = 1;
  bool va = false, vb = false;
  while (remaining > 0) {
    const uint64_t c = std::min(ca, cb);
    step(c, va, vb);
    ca -= c;
    if (ca == 0 && ia < lhs.size()) {
      ca = lhs[ia++];
      va = !va;
    }
    cb -= c;
    if (cb == 0 && ib < rhs.size()) {
      cb = rhs[ib++];
      vb = !vb;
    }
    remaining = ca + cb;
  }
}

// maskApi.c rleMerge with intersect = 0: the union of same-size RLEs, re-encoded run by run (zeros first).
Rle merge_union(const std::vector<Rle>& rles) {
  Rle merged = rles.front();
  for (size_t i = 1; i < rles.size(); ++i) {
    std::vector<uint32_t> out;
    uint64_t run = 0;
    bool value = false;
    walk_runs(merged.counts, rles[i].counts, [&](uint64_t c, bool a, bool b) {
      if ((a || b) != value) {
        out.push_back(static_cast<uint32_t>(run));
        run = 0;
        value = !value;
      }
      run += c;
    });
    out.push_back(static_cast<uint32_t>(run));
    merged.counts = std::move(out);
  }
  return merged;
}

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
  walk_runs(dt.counts, gt.counts, [&](uint64_t c, bool a, bool b) {
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
  for_each_set_pixel(mask, [&](int64_t x, int64_t y) {
    x0 = std::min(x0, x);
    x1 = std::max(x1, x);
    y0 = std::min(y0, y);
    y1 = std::max(y1, y);
  });
  if (x1 < 0) return Rle{h, w, {static_cast<uint32_t>(pixel_count(mask))}};
  const int64_t bw = x1 - x0 + 1, bh = y1 - y0 + 1;
  std::vector<uint8_t> crop(static_cast<size_t>(bw * bh), 0), band(crop.size(), 0);
  for_each_set_pixel(mask, [&](int64_t x, int64_t y) { crop[static_cast<size_t>((y - y0) * bw + (x - x0))] = 1; });
  detail::mask_to_boundary(crop.data(), band.data(), bh, bw, d);
  RunWriter runs;
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
  const json& size = field(seg, "size", where);
  const json& counts = field(seg, "counts", where);
  if (!size.is_array() || size.size() != 2 || !size[0].is_number_integer() || !size[1].is_number_integer())
    fail(kEval, where + ".size", "be [height, width]", brief(size));
  const int64_t h = size[0].get<int64_t>(), w = size[1].get<int64_t>();
  if (h != image.height || w != image.width)
    fail(kEval, where + ".size", "equal the size " + shape_text(image.height, image.width) + " of image " +
                                     std::to_string(image_id), shape_text(h, w));
  Rle rle{h, w, {}};
  if (counts.is_string()) {
    const std::string problem = decode_counts(counts.get_ref<const std::string&>(), rle.counts);
    if (!problem.empty()) fail(kEval, where + ".counts", "be a COCO compressed RLE string", problem);
  } else if (counts.is_array()) {
    rle.counts.reserve(counts.size());
    for (size_t i = 0; i < counts.size(); ++i) {
      const json& c = counts[i];
      if (!c.is_number_integer() || c.get<int64_t>() < 0 || c.get<uint64_t>() > kMaxPixels)
        fail(kEval, where + ".counts[" + std::to_string(i) + "]", "be a run length in [0, 2^32)", brief(c));
      rle.counts.push_back(c.get<uint32_t>());
    }
  } else {
    fail(kEval, where + ".counts", "be a compressed string or a list of run lengths", brief(counts));
  }
  const std::string problem = counts_problem(rle);
  if (!problem.empty())
    fail(kEval, where + ".counts", "sum to height * width = " + std::to_string(pixel_count(rle)), problem);
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
    const std::string problem = polygon_problem(polygons[j]);
    if (!problem.empty())
      fail(kEval, where + "[" + std::to_string(j) + "]", "be a polygon [x1, y1, x2, y2, ...]", problem);
    rles.push_back(polygon_to_rle(polygons[j], image.height, image.width));
  }
  return merge_union(rles);
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
// RLE (formats.md §5)

Rle rle_encode(const cv::Mat& mask) {
  require(mask.dims == 2 && mask.type() == CV_8UC1, "rle_encode", "'mask'",
          "be a 2-D single-channel 8-bit matrix (CV_8UC1)",
          [&] { return "a " + std::to_string(mask.dims) + "-D matrix of type " + cv::typeToString(mask.type()); });
  check_shape(mask.rows, mask.cols, "rle_encode", "'mask'");
  RunWriter runs;
  for (int x = 0; x < mask.cols; ++x)
    for (int y = 0; y < mask.rows; ++y) runs.push(mask.ptr<uint8_t>(y)[x] != 0, 1);
  return Rle{mask.rows, mask.cols, runs.finish()};
}

cv::Mat rle_decode(const Rle& rle) {
  check_rle(rle, "rle_decode", "the size of 'rle'", "'rle.counts'");
  require(rle.height <= std::numeric_limits<int>::max() && rle.width <= std::numeric_limits<int>::max(),
          "rle_decode", "'rle' size", "fit an OpenCV matrix", [&] { return shape_text(rle.height, rle.width); });
  cv::Mat out = cv::Mat::zeros(static_cast<int>(rle.height), static_cast<int>(rle.width), CV_8UC1);
  for_each_set_pixel(rle, [&](int64_t x, int64_t y) { out.ptr<uint8_t>(static_cast<int>(y))[x] = 1; });
  return out;
}

std::string rle_to_string(const Rle& rle) {
  std::string s;
  for (size_t i = 0; i < rle.counts.size(); ++i) {
    // Deltas to the count two places back only from index 3 on (i > 2, not i >= 2; formats.md §5).
    int64_t x = rle.counts[i];
    if (i > 2) x -= rle.counts[i - 2];
    bool more = true;
    while (more) {
      int c = static_cast<int>(x & 0x1f);
      x >>= 5;  // arithmetic shift of a signed value (GCC, Clang, MSVC; guaranteed since C++20)
      more = (c & 0x10) ? x != -1 : x != 0;
      if (more) c |= 0x20;
      s.push_back(static_cast<char>(c + 48));
    }
  }
  return s;
}

Rle rle_from_string(const std::string& counts, int64_t height, int64_t width) {
  check_shape(height, width, "rle_from_string", "the size");
  Rle rle{height, width, {}};
  const std::string problem = decode_counts(counts, rle.counts);
  if (!problem.empty()) fail("rle_from_string", "'counts'", "be a COCO compressed RLE string", problem);
  check_rle(rle, "rle_from_string", "the size", "'counts'");
  return rle;
}

Rle rle_from_polygon(const std::vector<double>& xy, int64_t height, int64_t width) {
  check_shape(height, width, "rle_from_polygon", "the size");
  require(height >= 1 && width >= 1, "rle_from_polygon", "the size", "be at least 1 x 1",
          [&] { return shape_text(height, width); });
  const std::string problem = polygon_problem(xy);
  if (!problem.empty()) fail("rle_from_polygon", "'xy'", "be a polygon [x1, y1, x2, y2, ...]", problem);
  return polygon_to_rle(xy, height, width);
}

int64_t rle_area(const Rle& rle) {
  int64_t area = 0;
  for (size_t j = 1; j < rle.counts.size(); j += 2) area += rle.counts[j];
  return area;
}

// maskApi.c rleToBbox: first and last pixel of every run of ones; a run that wraps into the next column spans
// the full height. Exact (tight) for valid RLEs.
std::array<double, 4> rle_bbox(const Rle& rle) {
  const size_t m = rle.counts.size() / 2 * 2;
  if (m == 0 || rle.height <= 0) return {0, 0, 0, 0};
  const auto h = static_cast<uint32_t>(rle.height), w = static_cast<uint32_t>(rle.width);
  uint32_t xs = w, ys = h, xe = 0, ye = 0, cc = 0, xp = 0;
  for (size_t j = 0; j < m; ++j) {
    cc += rle.counts[j];
    const uint32_t t = cc - static_cast<uint32_t>(j % 2);
    const uint32_t y = t % h, x = (t - y) / h;
    if (j % 2 == 0) {
      xp = x;
    } else if (xp < x) {
      ys = 0;
      ye = h - 1;
    }
    xs = std::min(xs, x);
    xe = std::max(xe, x);
    ys = std::min(ys, y);
    ye = std::max(ye, y);
  }
  return {static_cast<double>(xs), static_cast<double>(ys), static_cast<double>(xe) - xs + 1,
          static_cast<double>(ye) - ys + 1};
}

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
    require(image.height >= 1 && image.width >= 1 && valid_shape(image.height, image.width), kEval,
            where + " [height, width]", "be positive with height * width < 2^32",
            [&] { return shape_text(image.height, image.width); });
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
