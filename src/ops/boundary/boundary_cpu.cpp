// CPU kernels for boundary bands, boundary targets and boundary maps.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>

#include "ops/boundary/boundary_kernels.h"

namespace boundseg::detail {

int64_t band_width(double ratio, int64_t height, int64_t width) {
  const double diagonal = std::sqrt(double(height * height + width * width));
  const int64_t d = static_cast<int64_t>(std::nearbyint(ratio * diagonal));
  return std::max<int64_t>(d, 1);
}

namespace {

template <typename T, typename Op>
void extremum_rows(const T* src, T* dst, int64_t h, int64_t w, int64_t r, T outside, Op op) {
  // Horizontal pass, one row at a time on a padded copy.
  const int64_t k = 2 * r + 1;
  const int64_t n = w + 2 * r;
  std::vector<T> pad(n), g(n), hs(n);
  for (int64_t y = 0; y < h; ++y) {
    const T* row = src + y * w;
    std::fill(pad.begin(), pad.begin() + r, outside);
    std::copy(row, row + w, pad.begin() + r);
    std::fill(pad.begin() + r + w, pad.end(), outside);
    for (int64_t j = 0; j < n; ++j) g[j] = (j % k == 0) ? pad[j] : op(g[j - 1], pad[j]);
    for (int64_t j = n - 1; j >= 0; --j)
      hs[j] = (j == n - 1 || (j + 1) % k == 0) ? pad[j] : op(hs[j + 1], pad[j]);
    T* out = dst + y * w;
    for (int64_t x = 0; x < w; ++x) out[x] = op(hs[x], g[x + k - 1]);
  }
}

template <typename T, typename Op>
void extremum_cols(const T* src, T* dst, int64_t h, int64_t w, int64_t r, T outside, Op op) {
  // Vertical pass with whole rows as vectors (cache friendly, vectorisable).
  const int64_t k = 2 * r + 1;
  const int64_t n = h + 2 * r;
  std::vector<T> outside_row(w, outside);
  auto padded = [&](int64_t j) -> const T* {
    const int64_t y = j - r;
    return (y < 0 || y >= h) ? outside_row.data() : src + y * w;
  };
  std::vector<T> g(n * w), hs(n * w);
  for (int64_t j = 0; j < n; ++j) {
    const T* p = padded(j);
    T* gj = g.data() + j * w;
    if (j % k == 0) {
      std::copy(p, p + w, gj);
    } else {
      const T* prev = gj - w;
      for (int64_t x = 0; x < w; ++x) gj[x] = op(prev[x], p[x]);
    }
  }
  for (int64_t j = n - 1; j >= 0; --j) {
    const T* p = padded(j);
    T* hj = hs.data() + j * w;
    if (j == n - 1 || (j + 1) % k == 0) {
      std::copy(p, p + w, hj);
    } else {
      const T* next = hj + w;
      for (int64_t x = 0; x < w; ++x) hj[x] = op(next[x], p[x]);
    }
  }
  for (int64_t y = 0; y < h; ++y) {
    const T* a = hs.data() + y * w;
    const T* b = g.data() + (y + k - 1) * w;
    T* out = dst + y * w;
    for (int64_t x = 0; x < w; ++x) out[x] = op(a[x], b[x]);
  }
}

struct MinOp {
  template <typename T>
  T operator()(T a, T b) const { return b < a ? b : a; }
};
struct MaxOp {
  template <typename T>
  T operator()(T a, T b) const { return a < b ? b : a; }
};

}  // namespace

template <typename T>
void window_extremum(const T* src, T* dst, int64_t h, int64_t w, int64_t r, bool take_max,
                     T outside) {
  if (h == 0 || w == 0) return;
  // A window wider than the image sees the same pixels (plus `outside`).
  r = std::min<int64_t>(r, std::max(h, w));
  std::vector<T> tmp(h * w);
  if (take_max) {
    extremum_rows(src, tmp.data(), h, w, r, outside, MaxOp{});
    extremum_cols(tmp.data(), dst, h, w, r, outside, MaxOp{});
  } else {
    extremum_rows(src, tmp.data(), h, w, r, outside, MinOp{});
    extremum_cols(tmp.data(), dst, h, w, r, outside, MinOp{});
  }
}

template void window_extremum<uint8_t>(const uint8_t*, uint8_t*, int64_t, int64_t, int64_t, bool, uint8_t);
template void window_extremum<uint16_t>(const uint16_t*, uint16_t*, int64_t, int64_t, int64_t, bool, uint16_t);
template void window_extremum<int32_t>(const int32_t*, int32_t*, int64_t, int64_t, int64_t, bool, int32_t);
template void window_extremum<int64_t>(const int64_t*, int64_t*, int64_t, int64_t, int64_t, bool, int64_t);

void mask_to_boundary(const uint8_t* mask, uint8_t* out, int64_t h, int64_t w, int64_t d) {
  std::vector<uint8_t> eroded(h * w);
  window_extremum<uint8_t>(mask, eroded.data(), h, w, d, /*take_max=*/false, /*outside=*/0);
  for (int64_t i = 0; i < h * w; ++i) out[i] = static_cast<uint8_t>(mask[i] - eroded[i]);
}

template <typename T>
void label_band(const T* labels, uint8_t* out, int64_t h, int64_t w, int64_t d) {
  std::vector<T> lo(h * w), hi(h * w);
  // Outside pixels take the neutral element, i.e. the window is clipped.
  window_extremum<T>(labels, lo.data(), h, w, d, false, std::numeric_limits<T>::max());
  window_extremum<T>(labels, hi.data(), h, w, d, true, std::numeric_limits<T>::lowest());
  for (int64_t y = 0; y < h; ++y) {
    const bool edge_row = y < d || y >= h - d;
    for (int64_t x = 0; x < w; ++x) {
      const int64_t i = y * w + x;
      out[i] = (edge_row || x < d || x >= w - d || lo[i] != hi[i]) ? 1 : 0;
    }
  }
}

template void label_band<uint8_t>(const uint8_t*, uint8_t*, int64_t, int64_t, int64_t);
template void label_band<uint16_t>(const uint16_t*, uint8_t*, int64_t, int64_t, int64_t);
template void label_band<int32_t>(const int32_t*, uint8_t*, int64_t, int64_t, int64_t);
template void label_band<int64_t>(const int64_t*, uint8_t*, int64_t, int64_t, int64_t);

void cbl_boundary(const uint8_t* labels, uint8_t* out, int64_t h, int64_t w, int64_t d,
                  uint8_t ignore, bool mark_ignore) {
  const int64_t n = h * w;
  if (std::all_of(labels, labels + n, [&](uint8_t v) { return v == ignore; })) {
    std::fill(out, out + n, ignore);
    return;
  }
  label_band<uint8_t>(labels, out, h, w, d);
  for (int64_t i = 0; i < n; ++i) {
    if (labels[i] == ignore) out[i] = mark_ignore ? ignore : 0;
  }
}

void inverseform_edges(const uint8_t* labels, uint8_t* out, int64_t h, int64_t w,
                       int64_t num_classes, double radius) {
  // Offsets of the closed disk, excluding the centre.
  std::vector<std::pair<int64_t, int64_t>> disk;
  const int64_t reach = static_cast<int64_t>(std::floor(radius));
  for (int64_t dy = -reach; dy <= reach; ++dy)
    for (int64_t dx = -reach; dx <= reach; ++dx)
      if ((dy || dx) && std::sqrt(double(dy * dy + dx * dx)) <= radius) disk.emplace_back(dy, dx);
  auto is_channel = [&](int64_t v) { return v >= 1 && v <= num_classes; };
  for (int64_t y = 0; y < h; ++y) {
    for (int64_t x = 0; x < w; ++x) {
      const int64_t v = labels[y * w + x];
      uint8_t edge = 0;
      for (const auto& [dy, dx] : disk) {
        const int64_t qy = y + dy, qx = x + dx;
        if (qy < 0 || qy >= h || qx < 0 || qx >= w) {
          if (is_channel(v)) { edge = 1; break; }
          continue;
        }
        const int64_t u = labels[qy * w + qx];
        if (u != v && (is_channel(u) || is_channel(v))) { edge = 1; break; }
      }
      out[y * w + x] = edge;
    }
  }
}

void seg2bmap(const uint8_t* mask, uint8_t* out, int64_t h, int64_t w) {
  for (int64_t y = 0; y < h; ++y) {
    for (int64_t x = 0; x < w; ++x) {
      const bool v = mask[y * w + x] != 0;
      bool b = false;
      if (x + 1 < w) b |= v != (mask[y * w + x + 1] != 0);
      if (y + 1 < h) b |= v != (mask[(y + 1) * w + x] != 0);
      if (x + 1 < w && y + 1 < h) b |= v != (mask[(y + 1) * w + x + 1] != 0);
      out[y * w + x] = b ? 1 : 0;
    }
  }
}

}  // namespace boundseg::detail
