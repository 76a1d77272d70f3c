// CPU kernels for boundary bands, boundary targets and boundary maps.
#include <algorithm>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>

#include "boundseg/ops/boundary_kernels.h"

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


namespace {


// Sets bits lo..hi (inclusive) of a row.
void set_bit_range(uint64_t* row, int64_t lo, int64_t hi) {
  const int64_t a = lo >> 6, b = hi >> 6;
  const uint64_t first = ~uint64_t(0) << (lo & 63), last = ~uint64_t(0) >> (63 - (hi & 63));
  if (a == b) {
    row[a] |= first & last;
    return;
  }
  row[a] |= first;
  for (int64_t k = a + 1; k < b; ++k) row[k] = ~uint64_t(0);
  row[b] |= last;
}

// Window OR along a row: out(x) = OR of in(x - before .. x + after). Each set
// bit x' covers x' - after .. x' + before; covers are merged while scanning
// (bits come in ascending order), so the cost follows the number of
// transitions, not the window size.
void window_or_row(const uint64_t* in, uint64_t* out, int64_t words, int64_t width, int64_t before, int64_t after) {
  std::fill(out, out + words, 0);
  int64_t lo = 0, hi = -1;  // the pending cover; empty while hi < lo
  for (int64_t k = 0; k < words; ++k) {
    for (uint64_t word = in[k]; word; word &= word - 1) {
      const int64_t x = k * 64 + __builtin_ctzll(word);
      const int64_t a = std::max<int64_t>(0, x - after), b = std::min<int64_t>(width - 1, x + before);
      if (hi >= lo && a <= hi + 1) {
        hi = std::max(hi, b);
      } else {
        if (hi >= lo) set_bit_range(out, lo, hi);
        lo = a;
        hi = b;
      }
    }
  }
  if (hi >= lo) set_bit_range(out, lo, hi);
}

// Window OR over rows: out(y) = OR of in(y - before .. y + after), per bit.
void window_or_rows(BitRows& image, int64_t before, int64_t after) {
  const int64_t h = image.h, words = image.words;
  before = std::min(before, h);
  after = std::min(after, h);
  std::vector<uint64_t> run = image.bits, out(image.bits.size(), 0);
  int64_t len = 1, offset = -before;
  for (int64_t remaining = before + after + 1; remaining > 0; remaining >>= 1) {
    if (remaining & 1) {
      for (int64_t y = std::max<int64_t>(0, -offset); y < h && y + offset < h; ++y)
        for (int64_t i = 0; i < words; ++i) out[y * words + i] |= run[(y + offset) * words + i];
      offset += len;
    }
    if (remaining > 1) {
      for (int64_t y = 0; y + len < h; ++y)
        for (int64_t i = 0; i < words; ++i) run[y * words + i] |= run[(y + len) * words + i];
      len *= 2;
    }
  }
  image.bits.swap(out);
}

// OR of `transitions` over the window rows [y - up, y + down] x cols [x - left, x + right].
void dilate(BitRows& transitions, int64_t up, int64_t down, int64_t left, int64_t right) {
  std::vector<uint64_t> out(transitions.words);
  for (int64_t y = 0; y < transitions.h; ++y) {
    window_or_row(transitions.row(y), out.data(), transitions.words, transitions.w, left, right);
    std::copy(out.begin(), out.end(), transitions.row(y));
  }
  window_or_rows(transitions, up, down);
}

}  // namespace

// Bit x of `right` = row[x] != row[x + 1] (x + 1 < w); of `down` = row[x] != below[x].
template <typename T>
void pack_transitions(const T* row, const T* below, int64_t w, uint64_t* right, uint64_t* down) {
  int64_t x = 0;
#if defined(__SSE2__)
  if constexpr (sizeof(T) == 1) {
    // 16 pixels per step: byte compares, then their sign bits as a mask.
    for (; x + 17 <= w; x += 16) {
      const __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(row + x));
      const __m128i r = _mm_loadu_si128(reinterpret_cast<const __m128i*>(row + x + 1));
      const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(below + x));
      const uint64_t differ_right = ~uint64_t(_mm_movemask_epi8(_mm_cmpeq_epi8(a, r))) & 0xFFFF;
      const uint64_t differ_down = ~uint64_t(_mm_movemask_epi8(_mm_cmpeq_epi8(a, b))) & 0xFFFF;
      right[x >> 6] |= differ_right << (x & 63);
      down[x >> 6] |= differ_down << (x & 63);
    }
  }
#endif
  for (; x < w; ++x) {
    if (x + 1 < w && row[x] != row[x + 1]) right[x >> 6] |= uint64_t(1) << (x & 63);
    if (row[x] != below[x]) down[x >> 6] |= uint64_t(1) << (x & 63);
  }
}

template <typename T>
std::vector<BitRows> label_band_bits(const T* labels, int64_t h, int64_t w, const std::vector<int64_t>& widths) {
  // The window around p holds another label iff it contains two 4-adjacent
  // pixels that differ: a horizontal transition (x', x'+1) with x' in
  // [x-d, x+d-1], or a vertical one (y', y'+1) with y' in [y-d, y+d-1].
  BitRows horizontal(h, w), vertical(h, w);
  for (int64_t y = 0; y < h; ++y) {
    const T* row = labels + y * w;
    const T* below = y + 1 < h ? row + w : row;  // the last row has no vertical transitions
    pack_transitions(row, below, w, horizontal.row(y), vertical.row(y));
  }
  std::vector<BitRows> bands;
  for (const int64_t d : widths) {
    BitRows band = horizontal, v = vertical;
    dilate(band, d, d, d, d - 1);
    dilate(v, d, d - 1, d, d);
    // Pixels within d of the image edge are always in the band.
    std::vector<uint64_t> edge_cols(band.words, 0);
    for (int64_t x = 0; x < w; ++x)
      if (x < d || x >= w - d) edge_cols[x >> 6] |= uint64_t(1) << (x & 63);
    // Bits past the last column stay clear (dilation and edge rows set them).
    const uint64_t last_word_mask = (w % 64) ? (uint64_t(1) << (w % 64)) - 1 : ~uint64_t(0);
    for (int64_t y = 0; y < h; ++y) {
      uint64_t* out = band.row(y);
      const uint64_t* vr = v.row(y);
      const bool edge_row = y < d || y >= h - d;
      for (int64_t k = 0; k < band.words; ++k) out[k] = edge_row ? ~uint64_t(0) : (out[k] | vr[k] | edge_cols[k]);
      if (band.words) out[band.words - 1] &= last_word_mask;
    }
    bands.push_back(std::move(band));
  }
  return bands;
}

template <typename T>
void label_band(const T* labels, uint8_t* out, int64_t h, int64_t w, int64_t d) {
  const BitRows band = std::move(label_band_bits(labels, h, w, {d}).front());
  for (int64_t y = 0; y < h; ++y)
    for (int64_t x = 0; x < w; ++x) out[y * w + x] = band.get(y, x);
}

template std::vector<BitRows> label_band_bits<uint8_t>(const uint8_t*, int64_t, int64_t, const std::vector<int64_t>&);
template void label_band<uint8_t>(const uint8_t*, uint8_t*, int64_t, int64_t, int64_t);
template void label_band<int16_t>(const int16_t*, uint8_t*, int64_t, int64_t, int64_t);
template void label_band<int32_t>(const int32_t*, uint8_t*, int64_t, int64_t, int64_t);
template void label_band<int64_t>(const int64_t*, uint8_t*, int64_t, int64_t, int64_t);

void mask_to_boundary(const uint8_t* mask, uint8_t* out, int64_t h, int64_t w, int64_t d) {
  // Binary masks (0 and one value v, the usual case) take the bit-parallel
  // path: a pixel of v is in the band iff its window holds a 0 or leaves the
  // image. Other masks follow the reference literally: mask - erode(mask).
  uint8_t value = 0;
  bool binary = true;
  for (int64_t i = 0; i < h * w && binary; ++i) {
    if (!mask[i]) continue;
    if (!value) value = mask[i];
    binary = mask[i] == value;
  }
  if (!binary) {
    std::vector<uint8_t> eroded(h * w);
    window_extremum<uint8_t>(mask, eroded.data(), h, w, d, /*take_max=*/false, /*outside=*/0);
    for (int64_t i = 0; i < h * w; ++i) out[i] = static_cast<uint8_t>(mask[i] - eroded[i]);
    return;
  }
  // A binary mask is a label map of two labels: its band is the mask's part
  // of the label band.
  const BitRows band = std::move(label_band_bits(mask, h, w, {d}).front());
  for (int64_t y = 0; y < h; ++y)
    for (int64_t x = 0; x < w; ++x) out[y * w + x] = band.get(y, x) ? mask[y * w + x] : 0;
}


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
