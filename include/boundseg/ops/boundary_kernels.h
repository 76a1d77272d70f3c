// Raw CPU kernels behind ops/boundary.h on dense row-major (h, w) buffers, shared with the metrics and viz.
#pragma once

#include <cstdint>
#include <vector>

namespace boundseg::detail {

/// Boundary IoU band width: max(1, round_half_even(ratio * sqrt(h^2 + w^2)))
/// (metrics.md §2.2; Python round, hence nearbyint, never std::round).
int64_t band_width(double ratio, int64_t height, int64_t width);

/// dst = min (or max) of src over the (2r+1)x(2r+1) window centred on each
/// pixel; window pixels outside the image take the value `outside`.
/// van Herk / Gil-Werman: O(1) comparisons per pixel whatever r is.
template <typename T>
void window_extremum(const T* src, T* dst, int64_t h, int64_t w, int64_t r,
                     bool take_max, T outside);

/// boundary-iou-api mask_to_boundary: out = mask - erode(mask, (2d+1)^2 square,
/// zero outside the image). Keeps the input scale (0/1 in, 0/1 out; 0/255 too).
void mask_to_boundary(const uint8_t* mask, uint8_t* out, int64_t h, int64_t w,
                      int64_t d);

/// Rows of packed bits: bit x of row y is bit x % 64 of word y * words + x / 64.
struct BitRows {
  int64_t h = 0, w = 0, words = 0;
  std::vector<uint64_t> bits;
  BitRows(int64_t h_, int64_t w_) : h(h_), w(w_), words((w_ + 63) / 64), bits(h_ * ((w_ + 63) / 64), 0) {}
  uint64_t* row(int64_t y) { return bits.data() + y * words; }
  const uint64_t* row(int64_t y) const { return bits.data() + y * words; }
  bool get(int64_t y, int64_t x) const { return (bits[y * words + (x >> 6)] >> (x & 63)) & 1; }
};

/// label_band for several widths at once, as packed bits (one transition scan,
/// then a logarithmic-time dilation per width).
template <typename T>
std::vector<BitRows> label_band_bits(const T* labels, int64_t h, int64_t w, const std::vector<int64_t>& widths);

/// out(p) = 1 iff the (2d+1)^2 window around p (clipped to the image) holds a
/// label other than labels(p), or p lies within d of the image edge. For a
/// label map L, mask_to_boundary(L == c) == (L == c) & out for every c
/// (metrics.md §2.6 fast exact form).
template <typename T>
void label_band(const T* labels, uint8_t* out, int64_t h, int64_t w, int64_t d);

/// CBL boundary GT (cbl.md §2): union over present classes of their bands at
/// width d; ignore pixels (== ignore) are 0, or ignore when mark_ignore is set.
/// A map with no class at all is filled with `ignore`.
void cbl_boundary(const uint8_t* labels, uint8_t* out, int64_t h, int64_t w,
                  int64_t d, uint8_t ignore, bool mark_ignore);

/// InverseForm / GSCNN edge GT (inverseform.md §7): one-hot channels for ids
/// 1..num_classes; a pixel is an edge iff, for some channel, its Euclidean
/// distance to the other side (outside the image counts as "not the class")
/// is <= radius.
void inverseform_edges(const uint8_t* labels, uint8_t* out, int64_t h,
                       int64_t w, int64_t num_classes, double radius);

/// openseg/DAVIS seg2bmap on a binary mask (non-zero = 1): 1 iff the pixel
/// differs from its right, bottom or bottom-right neighbour inside the image.
void seg2bmap(const uint8_t* mask, uint8_t* out, int64_t h, int64_t w);

/// Exact Euclidean distance from every pixel to the nearest pixel of another
/// segment (label value); the image border is not a boundary. A map with a
/// single segment measures to a virtual pixel at (-1, 0), as scipy does.
template <typename T>
void segment_distance_transform(const T* labels, float* out, int64_t h,
                                int64_t w);

}  // namespace boundseg::detail
