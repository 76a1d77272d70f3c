// Slow, obviously correct definitions used to check the fast kernels.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

namespace boundseg::reference {

/// Boundary IoU band of one binary mask by its definition: a mask pixel is in
/// the band iff some pixel within Chebyshev distance d is background or lies
/// outside the image (metrics.md §2.2).
inline std::vector<uint8_t> mask_band(const std::vector<uint8_t>& mask, int h, int w, int d) {
  std::vector<uint8_t> out(h * w, 0);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      if (!mask[y * w + x]) continue;
      bool band = false;
      for (int dy = -d; dy <= d && !band; ++dy)
        for (int dx = -d; dx <= d && !band; ++dx) {
          const int qy = y + dy, qx = x + dx;
          band = qy < 0 || qy >= h || qx < 0 || qx >= w || !mask[qy * w + qx];
        }
      out[y * w + x] = band;
    }
  return out;
}

/// Brute-force distance to the nearest pixel of another label (border is not
/// a boundary; a single-label map measures to (-1, 0)).
template <typename T>
std::vector<float> segment_distance(const std::vector<T>& labels, int h, int w) {
  std::vector<float> out(h * w);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      int64_t best = std::numeric_limits<int64_t>::max();
      for (int qy = 0; qy < h; ++qy)
        for (int qx = 0; qx < w; ++qx)
          if (labels[qy * w + qx] != labels[y * w + x])
            best = std::min<int64_t>(best, int64_t(qy - y) * (qy - y) + int64_t(qx - x) * (qx - x));
      if (best == std::numeric_limits<int64_t>::max()) best = int64_t(y + 1) * (y + 1) + int64_t(x) * x;
      out[y * w + x] = static_cast<float>(std::sqrt(double(best)));
    }
  return out;
}

}  // namespace boundseg::reference
