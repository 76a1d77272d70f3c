// What a backbone returns, so that heads size themselves from it (STYLE.md §2.3, detectron2's ShapeSpec).
#pragma once

#include <cstdint>
#include <numeric>
#include <vector>

namespace boundseg::models {

/// Channels and stride (input pixels per output pixel) of each feature map a backbone returns, in output order.
/// Example: openseg HRNet-W18 returns {18, 36, 72, 144} channels at strides {4, 8, 16, 32}.
struct FeatureSpec {
  std::vector<int64_t> channels;
  std::vector<int64_t> strides;

  /// Number of feature maps.
  size_t size() const { return channels.size(); }
  /// Sum of the channels: the width of the maps concatenated at the finest resolution (270 for W18, 720 for W48).
  int64_t total_channels() const { return std::accumulate(channels.begin(), channels.end(), int64_t{0}); }
};

}  // namespace boundseg::models
