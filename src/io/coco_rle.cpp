// COCO RLE (formats.md §5): encode, decode, the compressed string, polygons and unions, as pycocotools' maskApi.c.
#include "boundseg/io/coco_rle.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>

#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>

#include "boundseg/core/error.h"

namespace boundseg::io {
namespace {

// Guard for polygon vertices: rleFrPoly converts 5 * coordinate to int and allocates one point per 1/5 pixel
// along every edge, so far-away vertices would overflow int or exhaust memory.
constexpr double kMaxPolygonCoordinate = 1e6;


void check_shape(int64_t h, int64_t w, const char* what, const std::string& argument) {
  require(rle_valid_shape(h, w), what, argument, "be non-negative with height * width < 2^32 (32-bit RLE counts)",
          [&] { return rle_shape_text(h, w); });
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
    if (x < 0 || static_cast<uint64_t>(x) > kRleMaxPixels)
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

std::string brief(const nlohmann::json& v) {
  const std::string text = v.dump();
  return text.size() > 80 ? text.substr(0, 77) + "..." : text;
}

}  // namespace

std::string rle_shape_text(int64_t h, int64_t w) { return "[" + std::to_string(h) + ", " + std::to_string(w) + "]"; }

bool rle_valid_shape(int64_t h, int64_t w) {
  return h >= 0 && w >= 0 && (h == 0 || static_cast<uint64_t>(w) <= kRleMaxPixels / static_cast<uint64_t>(h));
}

std::string rle_polygon_problem(const std::vector<double>& xy) {
  if (xy.size() < 2 || xy.size() % 2 != 0)
    return "a list of " + std::to_string(xy.size()) + " numbers (need x, y pairs, at least one)";
  for (size_t i = 0; i < xy.size(); ++i)
    if (!std::isfinite(xy[i]) || std::abs(xy[i]) > kMaxPolygonCoordinate)
      return "coordinate " + std::to_string(xy[i]) + " at index " + std::to_string(i) +
             " (must be finite and within +-1e6 px)";
  return {};
}

// maskApi.c rleMerge with intersect = 0: the union of same-size RLEs, re-encoded run by run (zeros first).
Rle rle_union(const std::vector<Rle>& rles) {
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
          "rle_decode", "'rle' size", "fit an OpenCV matrix", [&] { return rle_shape_text(rle.height, rle.width); });
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
          [&] { return rle_shape_text(height, width); });
  const std::string problem = rle_polygon_problem(xy);
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


Rle rle_from_json(const nlohmann::json& seg, const std::string& what, const std::string& where) {
  if (!seg.is_object() || !seg.contains("size") || !seg.contains("counts"))
    fail(what, where, "be a COCO RLE object {\"size\": [h, w], \"counts\": ...}", brief(seg));
  const nlohmann::json& size = seg["size"];
  const nlohmann::json& counts = seg["counts"];
  if (!size.is_array() || size.size() != 2 || !size[0].is_number_integer() || !size[1].is_number_integer())
    fail(what, where + ".size", "be [height, width]", brief(size));
  const int64_t h = size[0].get<int64_t>(), w = size[1].get<int64_t>();
  if (!rle_valid_shape(h, w))
    fail(what, where + ".size", "be non-negative with height * width < 2^32 (32-bit RLE counts)", rle_shape_text(h, w));
  Rle rle{h, w, {}};
  if (counts.is_string()) {
    const std::string problem = decode_counts(counts.get_ref<const std::string&>(), rle.counts);
    if (!problem.empty()) fail(what, where + ".counts", "be a COCO compressed RLE string", problem);
  } else if (counts.is_array()) {
    rle.counts.reserve(counts.size());
    for (size_t i = 0; i < counts.size(); ++i) {
      const nlohmann::json& c = counts[i];
      if (!c.is_number_integer() || c.get<int64_t>() < 0 || c.get<uint64_t>() > kRleMaxPixels)
        fail(what, where + ".counts[" + std::to_string(i) + "]", "be a run length in [0, 2^32)", brief(c));
      rle.counts.push_back(c.get<uint32_t>());
    }
  } else {
    fail(what, where + ".counts", "be a compressed string or a list of run lengths", brief(counts));
  }
  const std::string problem = counts_problem(rle);
  if (!problem.empty())
    fail(what, where + ".counts", "sum to height * width = " + std::to_string(pixel_count(rle)), problem);
  return rle;
}

nlohmann::json rle_to_json(const Rle& rle) {
  return {{"size", {rle.height, rle.width}}, {"counts", rle_to_string(rle)}};
}

}  // namespace boundseg::io
