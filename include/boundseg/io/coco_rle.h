// COCO run-length encoded masks (formats.md §5): pycocotools' layout (column-major runs, zeros first), its
// compressed string form, polygon rasterisation and the mask utilities, bit for bit as maskApi.c.
#pragma once

#include <array>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>
#include <opencv2/core/mat.hpp>

namespace boundseg::io {

/// Uncompressed COCO run-length encoding (column-major runs, zeros first).
struct Rle {
  int64_t height = 0;
  int64_t width = 0;
  std::vector<uint32_t> counts;
};

/// maskApi.c keeps counts and run positions in 32-bit unsigned ints: a mask holds at most 2^32 - 1 pixels.
inline constexpr uint64_t kRleMaxPixels = std::numeric_limits<uint32_t>::max();

Rle rle_encode(const cv::Mat& mask);  ///< CV_8U, non-zero = 1
cv::Mat rle_decode(const Rle& rle);   ///< CV_8U 0/1
std::string rle_to_string(const Rle& rle);  ///< pycocotools compressed string
Rle rle_from_string(const std::string& counts, int64_t height, int64_t width);
/// Polygon rasterisation as pycocotools rleFrPoly (xy pairs, image coordinates).
Rle rle_from_polygon(const std::vector<double>& xy, int64_t height, int64_t width);
/// A COCO segmentation object {"size": [h, w], "counts": string | [int]}, strictly checked (the string must be a
/// canonical COCO string, run lengths must sum to h * w); errors name `what` and the key path `where`.
Rle rle_from_json(const nlohmann::json& segmentation, const std::string& what, const std::string& where);
/// {"size": [h, w], "counts": compressed string}, as pycocotools' encode writes it.
nlohmann::json rle_to_json(const Rle& rle);
int64_t rle_area(const Rle& rle);
std::array<double, 4> rle_bbox(const Rle& rle);  ///< [x, y, w, h]
/// maskApi.c rleMerge without intersection: the union of same-size RLEs.
Rle rle_union(const std::vector<Rle>& rles);

/// Empty when `xy` is a polygon rleFrPoly accepts (x, y pairs, finite, within ±1e6 px), else what is wrong.
std::string rle_polygon_problem(const std::vector<double>& xy);
/// "[h, w]"; and whether h, w >= 0 with h * w < 2^32.
std::string rle_shape_text(int64_t height, int64_t width);
bool rle_valid_shape(int64_t height, int64_t width);

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

/// Calls fn(x, y) for every set pixel of a valid RLE, in column-major order.
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

/// Walks two run lists of the same image in lockstep (as maskApi.c does) and calls step(length, a, b) for every
/// stretch of pixels where the first mask has value a and the second value b (stretches may be empty).
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

}  // namespace boundseg::io
