// numpy's float64 summation order, so that averages reproduce the Python
// references bit for bit.
#pragma once

#include <cstddef>

namespace boundseg::metrics {

// numpy's pairwise_sum (8 accumulators up to 128 elements, then halving) as
// used by np.add.reduce on a contiguous float64 array.
inline double numpy_pairwise_sum(const double* a, size_t n) {
  constexpr size_t kBlock = 128;  // PW_BLOCKSIZE
  if (n < 8) {
    double sum = 0.0;
    for (size_t i = 0; i < n; ++i) sum += a[i];
    return sum;
  }
  if (n <= kBlock) {
    double r[8];
    for (int j = 0; j < 8; ++j) r[j] = a[j];
    size_t i = 8;
    for (; i < n - n % 8; i += 8)
      for (int j = 0; j < 8; ++j) r[j] += a[i + j];
    double sum = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    for (; i < n; ++i) sum += a[i];
    return sum;
  }
  size_t half = n / 2;
  half -= half % 8;
  return numpy_pairwise_sum(a, half) + numpy_pairwise_sum(a + half, n - half);
}

}  // namespace boundseg::metrics
