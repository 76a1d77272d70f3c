// Semantic Boundary IoU and boundary F-score.
#include "boundseg/metrics/boundary_metrics.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "boundseg/core/error.h"
#include "boundseg/io/cityscapes_labels.h"
#include "boundseg/ops/boundary_kernels.h"

namespace boundseg::metrics {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// True if the 64 bytes at p are all equal (vectorises to a few compares).
bool all_equal_64(const uint8_t* p) {
  uint8_t differ = 0;
  for (int i = 0; i < 64; ++i) differ |= p[i] ^ p[0];
  return differ == 0;
}

}  // namespace

ClassMapping ClassMapping::cityscapes_label_ids() {
  ClassMapping m;
  m.num_classes = cityscapes::kNumTrainIds;
  m.class_of.fill(-1);
  m.ignored.fill(true);
  for (const auto& label : cityscapes::labels()) {
    m.ignored[label.id] = label.ignore_in_eval;
    if (!label.ignore_in_eval) m.class_of[label.id] = static_cast<int16_t>(label.train_id);
  }
  return m;
}

ClassMapping ClassMapping::train_ids(int64_t num_classes, int64_t ignore_index) {
  require(num_classes >= 1 && num_classes <= 255, "eval", "--num-classes", "be in [1, 255] for 8-bit label maps",
          [&] { return std::to_string(num_classes); });
  ClassMapping m;
  m.num_classes = num_classes;
  m.class_of.fill(-1);
  m.ignored.fill(false);
  for (int64_t c = 0; c < num_classes; ++c) m.class_of[c] = static_cast<int16_t>(c);
  if (ignore_index >= 0 && ignore_index < 256) m.ignored[ignore_index] = true;
  return m;
}

// ----------------------------------------------------------------------------
// Boundary IoU

BoundaryIouStats& BoundaryIouStats::operator+=(const BoundaryIouStats& o) {
  for (size_t c = 0; c < intersection.size(); ++c) {
    intersection[c] += o.intersection[c];
    union_[c] += o.union_[c];
  }
  return *this;
}

void accumulate_boundary_iou(const cv::Mat& gt, const cv::Mat& pred, const ClassMapping& mapping,
                             const std::vector<int64_t>& widths, std::vector<BoundaryIouStats>& stats) {
  const int64_t h = gt.rows, w = gt.cols;
  const size_t nr = widths.size();
  const cv::Mat g = gt.isContinuous() ? gt : gt.clone();
  const cv::Mat p = pred.isContinuous() ? pred : pred.clone();
  const auto gb = detail::label_band_bits<uint8_t>(g.ptr<uint8_t>(), h, w, widths);
  const auto pb = detail::label_band_bits<uint8_t>(p.ptr<uint8_t>(), h, w, widths);
  for (int64_t y = 0; y < h; ++y) {
    const uint8_t* gv = g.ptr<uint8_t>(static_cast<int>(y));
    const uint8_t* pv = p.ptr<uint8_t>(static_cast<int>(y));
    for (int64_t k = 0; k < gb.front().words; ++k) {
      uint64_t any = 0;
      for (size_t r = 0; r < nr; ++r) any |= gb[r].row(y)[k] | pb[r].row(y)[k];
      if (!any) continue;
      const int64_t x0 = k * 64;
      if (x0 + 64 <= w && all_equal_64(gv + x0) && all_equal_64(pv + x0)) {
        // Both maps constant over these 64 pixels (the common case): count with popcounts.
        const int cg = mapping.class_of[gv[x0]], cp_raw = mapping.class_of[pv[x0]];
        const int cp = mapping.ignored[gv[x0]] ? -1 : cp_raw;
        for (size_t r = 0; r < nr; ++r) {
          const uint64_t in_g = gb[r].row(y)[k], in_p = pb[r].row(y)[k];
          if (cg >= 0) {
            stats[r].union_[cg] += __builtin_popcountll(in_g);
            if (cp_raw == cg) stats[r].intersection[cg] += __builtin_popcountll(in_g & in_p);
          }
          if (cp >= 0) stats[r].union_[cp] += __builtin_popcountll(cp == cg ? in_p & ~in_g : in_p);
        }
        continue;
      }
      while (any) {  // only pixels in some band
        const int64_t bit = __builtin_ctzll(any);
        any &= any - 1;
        const int64_t x = x0 + bit;
        const int cg = mapping.class_of[gv[x]];
        const int cp_raw = mapping.class_of[pv[x]];
        const int cp = mapping.ignored[gv[x]] ? -1 : cp_raw;
        for (size_t r = 0; r < nr; ++r) {
          const bool in_g = (gb[r].row(y)[k] >> bit) & 1, in_p = (pb[r].row(y)[k] >> bit) & 1;
          // I_c += |Gb_c & Pb_c|, U_c += |Gb_c | (Pb_c \ V)| (metrics.md §2.6).
          if (in_g && cg >= 0) {
            ++stats[r].union_[cg];
            if (in_p && cp_raw == cg) ++stats[r].intersection[cg];
          }
          if (in_p && cp >= 0 && !(in_g && cp == cg)) ++stats[r].union_[cp];
        }
      }
    }
  }
}

std::vector<double> boundary_iou_scores(const BoundaryIouStats& stats) {
  std::vector<double> out(stats.intersection.size(), kNaN);
  for (size_t c = 0; c < out.size(); ++c)
    if (stats.union_[c] > 0) out[c] = double(stats.intersection[c]) / double(stats.union_[c]);
  return out;
}

// ----------------------------------------------------------------------------
// Boundary F-score

int64_t boundary_f_tolerance(double threshold, int64_t height, int64_t width) {
  if (threshold >= 1.0) return static_cast<int64_t>(threshold);
  return static_cast<int64_t>(std::ceil(threshold * std::sqrt(double(height * height + width * width))));
}

namespace {

// One bit per pixel and per class: the seg2bmap boundary of (map == c).
struct ClassBoundaries {
  int64_t h = 0, w = 0, words = 0;
  std::vector<std::vector<uint64_t>> bits;  // [class][y * words + k]
  std::vector<int64_t> count;
  std::vector<int64_t> first_row, last_row;

  ClassBoundaries(const std::vector<int16_t>& map, int64_t h_, int64_t w_, int64_t num_classes)
      : h(h_), w(w_), words((w_ + 63) / 64), bits(num_classes), count(num_classes, 0),
        first_row(num_classes, h_), last_row(num_classes, -1) {
    auto set = [&](int c, int64_t y, int64_t x) {
      if (bits[c].empty()) bits[c].assign(h * words, 0);
      uint64_t& word = bits[c][y * words + (x >> 6)];
      const uint64_t bit = uint64_t(1) << (x & 63);
      if (!(word & bit)) {
        word |= bit;
        ++count[c];
        first_row[c] = std::min(first_row[c], y);
        last_row[c] = std::max(last_row[c], y);
      }
    };
    if (w == 0) return;
    std::vector<uint8_t> mixed(w);
    for (int64_t y = 0; y < h; ++y) {
      const int16_t* row = map.data() + y * w;
      const int16_t* below = y + 1 < h ? row + w : nullptr;
      // seg2bmap compares with the right, bottom and bottom-right neighbours
      // inside the image; class c has a boundary bit here iff c occurs among
      // those values and they are not all equal. First a vectorisable scan
      // for pixels whose neighbourhood is not uniform.
      for (int64_t x = 0; x + 1 < w; ++x) mixed[x] = row[x] != row[x + 1];
      mixed.back() = 0;
      if (below) {
        for (int64_t x = 0; x + 1 < w; ++x) mixed[x] |= (row[x] != below[x]) | (row[x] != below[x + 1]);
        mixed.back() = row[w - 1] != below[w - 1];
      }
      for (int64_t x = 0; x < w; ++x) {
        if (!mixed[x]) continue;
        const bool right = x + 1 < w;
        int16_t values[4];
        int n = 0;
        values[n++] = row[x];
        if (right) values[n++] = row[x + 1];
        if (below) values[n++] = below[x];
        if (below && right) values[n++] = below[x + 1];
        for (int i = 0; i < n; ++i)
          if (values[i] >= 0) set(values[i], y, x);
      }
    }
  }
};

// Distance from column x to the nearest set bit of `row`, or limit + 1 if none
// lies within `limit`.
int64_t nearest_bit(const uint64_t* row, int64_t words, int64_t x, int64_t limit) {
  int64_t best = limit + 1;
  const int64_t k = x >> 6, off = x & 63;
  const uint64_t up = row[k] >> off;
  if (up) {
    best = std::min<int64_t>(best, __builtin_ctzll(up));
  } else {
    for (int64_t kk = k + 1; kk < words && kk * 64 - x <= limit; ++kk)
      if (row[kk]) {
        best = std::min<int64_t>(best, kk * 64 + __builtin_ctzll(row[kk]) - x);
        break;
      }
  }
  if (best == 0) return 0;
  const uint64_t down = off ? (row[k] & ((uint64_t(1) << off) - 1)) : 0;
  if (down) {
    best = std::min<int64_t>(best, x - (k * 64 + 63 - __builtin_clzll(down)));
  } else {
    for (int64_t kk = k - 1; kk >= 0 && x - (kk * 64 + 63) <= limit; --kk)
      if (row[kk]) {
        best = std::min<int64_t>(best, x - (kk * 64 + 63 - __builtin_clzll(row[kk])));
        break;
      }
  }
  return best;
}

// For every set pixel of `a`, the squared Euclidean distance to the nearest set
// pixel of `b` (searched up to max_radius); counts[t] = #pixels within radii[t].
void count_matches(const ClassBoundaries& A, const ClassBoundaries& B, int c, const std::vector<int64_t>& radii,
                   int64_t max_radius, std::vector<int64_t>& counts) {
  const auto& a = A.bits[c];
  const auto& b = B.bits[c];
  const int64_t words = A.words;
  const int64_t none = (max_radius + 1) * (max_radius + 1);
  for (int64_t y = A.first_row[c]; y <= A.last_row[c]; ++y) {
    for (int64_t k = 0; k < words; ++k) {
      uint64_t word = a[y * words + k];
      while (word) {
        const int64_t x = k * 64 + __builtin_ctzll(word);
        word &= word - 1;
        int64_t best = none;
        for (int64_t dy = 0; dy <= max_radius && dy * dy < best; ++dy) {
          for (int64_t yy : {y - dy, y + dy}) {
            if (yy < B.first_row[c] || yy > B.last_row[c]) continue;
            const int64_t hd = nearest_bit(b.data() + yy * words, words, x, max_radius);
            if (hd <= max_radius) best = std::min(best, dy * dy + hd * hd);
            if (dy == 0) break;
          }
        }
        for (size_t t = 0; t < radii.size(); ++t) counts[t] += best <= radii[t] * radii[t];
      }
    }
  }
}

}  // namespace

BoundaryFImage boundary_f_image(const cv::Mat& gt, const cv::Mat& pred, const ClassMapping& mapping,
                                const std::vector<double>& thresholds) {
  const int64_t h = gt.rows, w = gt.cols, k = mapping.num_classes;
  const size_t nt = thresholds.size();
  // Ignored GT pixels are zeroed in both masks before seg2bmap (§3.2 step 1).
  std::vector<int16_t> g(h * w), p(h * w);
  for (int64_t y = 0; y < h; ++y) {
    const uint8_t* gr = gt.ptr<uint8_t>(static_cast<int>(y));
    const uint8_t* pr = pred.ptr<uint8_t>(static_cast<int>(y));
    for (int64_t x = 0; x < w; ++x) {
      const bool void_pixel = mapping.ignored[gr[x]];
      g[y * w + x] = void_pixel ? -1 : mapping.class_of[gr[x]];
      p[y * w + x] = void_pixel ? -1 : mapping.class_of[pr[x]];
    }
  }
  const ClassBoundaries bg(g, h, w, k), bp(p, h, w, k);
  std::vector<int64_t> radii(nt);
  for (size_t t = 0; t < nt; ++t) radii[t] = boundary_f_tolerance(thresholds[t], h, w);
  const int64_t max_radius = nt ? *std::max_element(radii.begin(), radii.end()) : 0;

  BoundaryFImage out;
  out.f.assign(nt, std::vector<double>(k, 0.0));
  out.precision.assign(nt, std::vector<double>(k, 0.0));
  std::vector<int64_t> fg_match(nt), gt_match(nt);
  for (int c = 0; c < k; ++c) {
    const int64_t n_fg = bp.count[c], n_gt = bg.count[c];
    std::fill(fg_match.begin(), fg_match.end(), 0);
    std::fill(gt_match.begin(), gt_match.end(), 0);
    if (n_fg > 0 && n_gt > 0) {
      count_matches(bp, bg, c, radii, max_radius, fg_match);
      count_matches(bg, bp, c, radii, max_radius, gt_match);
    }
    for (size_t t = 0; t < nt; ++t) {
      double precision, recall;
      if (n_fg == 0 && n_gt > 0) {
        precision = 1, recall = 0;
      } else if (n_fg > 0 && n_gt == 0) {
        precision = 0, recall = 1;
      } else if (n_fg == 0 && n_gt == 0) {
        precision = 1, recall = 1;
      } else {
        precision = double(fg_match[t]) / double(n_fg);
        recall = double(gt_match[t]) / double(n_gt);
      }
      out.f[t][c] = precision + recall == 0 ? 0.0 : 2 * precision * recall / (precision + recall);
      out.precision[t][c] = precision;
    }
  }
  return out;
}

void BoundaryFStats::add(const BoundaryFImage& image) {
  for (size_t t = 0; t < f_sum.size(); ++t)
    for (size_t c = 0; c < f_sum[t].size(); ++c) f_sum[t][c] += image.f[t][c];
  for (auto& n : count) ++n;
}

std::vector<std::vector<double>> boundary_f_scores(const BoundaryFStats& stats) {
  std::vector<std::vector<double>> out = stats.f_sum;
  for (auto& per_class : out)
    for (size_t c = 0; c < per_class.size(); ++c)
      per_class[c] = stats.count[c] ? per_class[c] / double(stats.count[c]) : kNaN;
  return out;
}

}  // namespace boundseg::metrics
