// Exact per-segment Euclidean distance transform (Felzenszwalb-Huttenlocher).
#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <unordered_map>
#include <vector>

#include "boundseg/ops/boundary_kernels.h"

namespace boundseg::detail {
namespace {

constexpr double kInf = 1e20;

// Squared distance transform of a 1-D sampled function f (lower envelope of
// parabolas), Felzenszwalb & Huttenlocher 2012.
void squared_edt_1d(const double* f, double* d, int64_t n, std::vector<int64_t>& v,
                    std::vector<double>& z) {
  v.resize(n);
  z.resize(n + 1);
  int64_t k = 0;
  v[0] = 0;
  z[0] = -std::numeric_limits<double>::infinity();
  z[1] = std::numeric_limits<double>::infinity();
  auto intersection = [&](int64_t q, int64_t p) {
    return ((f[q] + double(q * q)) - (f[p] + double(p * p))) / double(2 * q - 2 * p);
  };
  for (int64_t q = 1; q < n; ++q) {
    double s = intersection(q, v[k]);
    while (s <= z[k]) {  // z[0] = -inf stops the loop at k = 0
      --k;
      s = intersection(q, v[k]);
    }
    ++k;
    v[k] = q;
    z[k] = s;
    z[k + 1] = std::numeric_limits<double>::infinity();
  }
  k = 0;
  for (int64_t q = 0; q < n; ++q) {
    while (z[k + 1] < double(q)) ++k;
    const double dq = double(q - v[k]);
    d[q] = dq * dq + f[v[k]];
  }
}

struct Box {
  int64_t y0, x0, y1, x1;  // inclusive
};

}  // namespace

template <typename T>
void segment_distance_transform(const T* labels, float* out, int64_t h, int64_t w) {
  if (h == 0 || w == 0) return;
  std::unordered_map<T, Box> boxes;
  for (int64_t y = 0; y < h; ++y) {
    for (int64_t x = 0; x < w; ++x) {
      auto [it, inserted] = boxes.try_emplace(labels[y * w + x], Box{y, x, y, x});
      if (!inserted) {
        Box& b = it->second;
        b.y0 = std::min(b.y0, y);
        b.y1 = std::max(b.y1, y);
        b.x0 = std::min(b.x0, x);
        b.x1 = std::max(b.x1, x);
      }
    }
  }
  if (boxes.size() == 1) {
    // scipy's EDT of an all-ones array measures to a phantom pixel at (-1, 0).
    for (int64_t y = 0; y < h; ++y)
      for (int64_t x = 0; x < w; ++x)
        out[y * w + x] = static_cast<float>(std::sqrt(double((y + 1) * (y + 1) + x * x)));
    return;
  }
  std::vector<std::pair<T, Box>> segments(boxes.begin(), boxes.end());
  // The nearest pixel of another segment always lies inside the segment's box
  // grown by one pixel: clamping any farther pixel onto that ring is closer.
  at::parallel_for(0, static_cast<int64_t>(segments.size()), 1, [&](int64_t begin, int64_t end) {
    std::vector<double> f, col_in, col_out;
    std::vector<int64_t> v;
    std::vector<double> z;
    for (int64_t s = begin; s < end; ++s) {
      const T value = segments[s].first;
      const Box& b = segments[s].second;
      const int64_t y0 = std::max<int64_t>(b.y0 - 1, 0), y1 = std::min<int64_t>(b.y1 + 1, h - 1);
      const int64_t x0 = std::max<int64_t>(b.x0 - 1, 0), x1 = std::min<int64_t>(b.x1 + 1, w - 1);
      const int64_t bh = y1 - y0 + 1, bw = x1 - x0 + 1;
      f.assign(bh * bw, 0.0);
      for (int64_t y = 0; y < bh; ++y)
        for (int64_t x = 0; x < bw; ++x)
          f[y * bw + x] = labels[(y + y0) * w + (x + x0)] == value ? kInf : 0.0;
      col_in.resize(std::max(bh, bw));
      col_out.resize(std::max(bh, bw));
      for (int64_t x = 0; x < bw; ++x) {
        for (int64_t y = 0; y < bh; ++y) col_in[y] = f[y * bw + x];
        squared_edt_1d(col_in.data(), col_out.data(), bh, v, z);
        for (int64_t y = 0; y < bh; ++y) f[y * bw + x] = col_out[y];
      }
      for (int64_t y = 0; y < bh; ++y) {
        squared_edt_1d(f.data() + y * bw, col_out.data(), bw, v, z);
        for (int64_t x = 0; x < bw; ++x) {
          const int64_t i = (y + y0) * w + (x + x0);
          if (labels[i] == value) out[i] = static_cast<float>(std::sqrt(col_out[x]));
        }
      }
    }
  });
}

template void segment_distance_transform<uint8_t>(const uint8_t*, float*, int64_t, int64_t);
template void segment_distance_transform<int16_t>(const int16_t*, float*, int64_t, int64_t);
template void segment_distance_transform<int32_t>(const int32_t*, float*, int64_t, int64_t);
template void segment_distance_transform<int64_t>(const int64_t*, float*, int64_t, int64_t);

}  // namespace boundseg::detail
