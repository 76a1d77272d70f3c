// SegFix GT generation and direction binning on the CPU (segfix.md §2, §3.2).
#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <utility>
#include <vector>

#include "boundseg/ops/distance_transform.h"
#include "boundseg/ops/segfix.h"
#include "ops/segfix/segfix_kernels.h"

namespace boundseg::detail {
namespace {

// numpy's float32 np.degrees multiplies by 180.0f / (float)M_PI = 57.295776f, a float32 division; this is not
// (float)(180 / M_PI) = 57.29578f (segfix.md §2.6). The build has no FMA, so the products below are not contracted.
constexpr float kDegPerRadFloat = 180.0f / static_cast<float>(M_PI);
static_assert(kDegPerRadFloat == 57.295776f, "segfix.md §2.6: 180.0f / (float)M_PI");

constexpr float kMaxDepth = 250.0f;  // depth_map[depth_map > 250] = 250 (§2.2 step 4)

// q = uint8((degrees(atan2(gy, gx)) + 180) / 2), truncation toward zero (§2.2 step 5, §2.6).
uint8_t quantise_angle(float gy, float gx) {
  const float degrees = std::atan2(gy, gx) * kDegPerRadFloat;
  return static_cast<uint8_t>((degrees + 180.0f) / 2.0f);
}

uint8_t quantise_angle(double gy, double gx) {
  const double degrees = std::atan2(gy, gx) * (180.0 / M_PI);
  return static_cast<uint8_t>((degrees + 180.0) / 2.0);
}

// The segments of one map whose distance field is differentiated, and which of them share a convolution.
struct PlaneSegments {
  std::vector<int32_t> index;  // per pixel: the pixel's segment, -1 for skipped values
  std::vector<int32_t> group;  // per segment: its convolution group
  int32_t groups = 0;
};

// Lists a map's segments (semantic: not `ignore`, >= min_pixels) and colours them so that no two segments of one
// group come within Chebyshev distance 2 of each other (the 5x5 kernel's reach). The conv input of a group then
// holds, within reach of any member pixel, only that member's own distances and zeros: exactly the input the
// reference convolves for that segment alone, on the same [1, 1, H, W] shape, hence the same sums bit for bit.
PlaneSegments plan_segments(const int64_t* labels, int64_t h, int64_t w, SegFixGtVariant variant, int64_t ignore,
                            int64_t min_pixels) {
  const int64_t hw = h * w;
  std::map<int64_t, int64_t> counts;
  for (int64_t i = 0; i < hw; ++i) ++counts[labels[i]];
  std::map<int64_t, int32_t> id;
  for (const auto& [value, count] : counts) {
    const bool skipped = variant == SegFixGtVariant::kSemantic && (value == ignore || count < min_pixels);
    if (!skipped) id.emplace(value, static_cast<int32_t>(id.size()));
  }
  PlaneSegments plan;
  plan.index.resize(hw);
  for (int64_t i = 0; i < hw; ++i) {
    const auto it = id.find(labels[i]);
    plan.index[i] = it == id.end() ? -1 : it->second;
  }
  // Neighbour lists over half of the 5x5 offsets (the other half is the same pairs seen from the other side).
  const int32_t n = static_cast<int32_t>(id.size());
  std::vector<std::vector<int32_t>> near(n);
  for (int64_t y = 0; y < h; ++y) {
    for (int64_t x = 0; x < w; ++x) {
      const int32_t a = plan.index[y * w + x];
      if (a < 0) continue;
      for (int64_t dy = 0; dy <= 2; ++dy) {
        for (int64_t dx = -2; dx <= 2; ++dx) {
          if (dy == 0 && dx <= 0) continue;
          const int64_t yy = y + dy, xx = x + dx;
          if (yy >= h || xx < 0 || xx >= w) continue;
          const int32_t b = plan.index[yy * w + xx];
          if (b >= 0 && b != a && (near[a].empty() || near[a].back() != b)) {
            near[a].push_back(b);
            near[b].push_back(a);
          }
        }
      }
    }
  }
  // Greedy colouring in segment order; a segment with k distinct neighbours gets a colour <= k.
  plan.group.assign(n, -1);
  std::vector<char> taken;
  for (int32_t a = 0; a < n; ++a) {
    std::sort(near[a].begin(), near[a].end());
    near[a].erase(std::unique(near[a].begin(), near[a].end()), near[a].end());
    taken.assign(near[a].size() + 1, 0);
    for (int32_t b : near[a]) {
      const int32_t g = plan.group[b];
      if (g >= 0 && g < static_cast<int32_t>(taken.size())) taken[g] = 1;
    }
    int32_t g = 0;
    while (taken[g]) ++g;
    plan.group[a] = g;
    plan.groups = std::max(plan.groups, g + 1);
  }
  return plan;
}

}  // namespace

void segfix_gt_cpu(const at::Tensor& labels, SegFixGtVariant variant, int64_t ignore, int64_t min_pixels,
                   at::Tensor& depth, at::Tensor& dir_deg) {
  const int64_t planes = labels.size(0), h = labels.size(1), w = labels.size(2), hw = h * w;
  if (planes * hw == 0) return;
  // D of every segment at once: each pixel's distance to the nearest pixel of another value is the EDT of its own
  // segment's mask, with scipy's phantom pixel for a one-value map (§2.5); exact float32 values (§2.6).
  const at::Tensor distance = ops::segment_distance_transform(labels);
  const int64_t* lab = labels.data_ptr<int64_t>();
  const float* dist = distance.data_ptr<float>();
  uint8_t* dep = depth.data_ptr<uint8_t>();
  std::vector<PlaneSegments> plans(planes);
  at::parallel_for(0, planes, 1, [&](int64_t begin, int64_t end) {
    for (int64_t p = begin; p < end; ++p) plans[p] = plan_segments(lab + p * hw, h, w, variant, ignore, min_pixels);
  });
  std::vector<std::pair<int64_t, int32_t>> jobs;  // (plane, group)
  for (int64_t p = 0; p < planes; ++p)
    for (int32_t g = 0; g < plans[p].groups; ++g) jobs.emplace_back(p, g);

  // The direction accumulators: float32 in the semantic generator, float64 in the instance one (§2.3).
  const at::ScalarType acc_type = variant == SegFixGtVariant::kSemantic ? at::kFloat : at::kDouble;
  at::Tensor grad_row = at::zeros({planes, h, w}, at::TensorOptions().dtype(acc_type));
  at::Tensor grad_col = at::zeros_like(grad_row);
  const at::Tensor kernel = ops::segfix_derivative_kernel();

  AT_DISPATCH_FLOATING_TYPES(acc_type, "segfix_gt_cpu", [&] {
    scalar_t* gy = grad_row.data_ptr<scalar_t>();
    scalar_t* gx = grad_col.data_ptr<scalar_t>();
    at::parallel_for(0, static_cast<int64_t>(jobs.size()), 1, [&](int64_t begin, int64_t end) {
      for (int64_t j = begin; j < end; ++j) {
        const int64_t offset = jobs[j].first * hw;
        const int32_t group = jobs[j].second;
        const PlaneSegments& plan = plans[jobs[j].first];
        const float* d = dist + offset;
        const auto member = [&](int64_t i) { return plan.index[i] >= 0 && plan.group[plan.index[i]] == group; };
        // The reference convolves each segment's own distance map, zero elsewhere, over the whole image; see
        // plan_segments for why a group's members can share that convolution (§2.6: torch's conv, not a hand-rolled
        // one, so that exact cancellations stay exact).
        at::Tensor input = at::zeros({1, 1, h, w}, at::kFloat);
        float* in = input.data_ptr<float>();
        for (int64_t i = 0; i < hw; ++i) {
          if (member(i)) in[i] = d[i];
        }
        const at::Tensor g = at::conv2d(input, kernel, /*bias=*/{}, /*stride=*/1, /*padding=*/2).contiguous();
        const float* g_row = g.data_ptr<float>();
        const float* g_col = g_row + hw;
        for (int64_t i = 0; i < hw; ++i) {
          if (!member(i)) continue;
          // dir starts at +0.0 and G is added to it, so a -0.0 from the conv becomes +0.0 (§2.2 step 2); atan2 tells
          // them apart.
          gy[offset + i] = g_row[i] == 0.0f ? scalar_t(0) : static_cast<scalar_t>(g_row[i]);
          gx[offset + i] = g_col[i] == 0.0f ? scalar_t(0) : static_cast<scalar_t>(g_col[i]);
          dep[offset + i] = static_cast<uint8_t>(std::min(d[i], kMaxDepth));
        }
      }
    });
    uint8_t* q = dir_deg.data_ptr<uint8_t>();
    at::parallel_for(0, planes * hw, 4096, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) q[i] = quantise_angle(gy[i], gx[i]);
    });
  });
}

at::Tensor segfix_direction_bins_cpu(const at::Tensor& angle, int64_t num_bins, bool c4_align_axis) {
  at::Tensor bins = at::empty(angle.sizes(), angle.options().dtype(at::kLong));
  int64_t* out = bins.data_ptr<int64_t>();
  AT_DISPATCH_FLOATING_TYPES(angle.scalar_type(), "segfix_direction_bins_cpu", [&] {
    const scalar_t* a = angle.data_ptr<scalar_t>();
    const bool quadrants = num_bins == 4 && !c4_align_axis;
    // Bin edges are multiples of 5.625 degrees, exact in float32 and float64, so every comparison is exact.
    const scalar_t step = scalar_t(360) / static_cast<scalar_t>(num_bins);
    at::parallel_for(0, angle.numel(), 4096, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) {
        const scalar_t v = a[i];
        int64_t bin = 0;  // also for NaN, which fails every comparison below (as in the reference)
        if (quadrants) {
          // align_angle_c4: clamp(trunc((angle + 180) / 90), 0, 3).
          const scalar_t t = std::trunc((v + scalar_t(180)) / scalar_t(90));
          bin = t >= scalar_t(3) ? 3 : (t >= scalar_t(0) ? static_cast<int64_t>(t) : 0);
        } else {
          // align_angle: bin i covers (middle_i - step/2, middle_i + step/2] with middle_i = -180 + step·i; bin 0
          // wraps around +-180.
          for (int64_t k = 1; k < num_bins; ++k) {
            const scalar_t middle = scalar_t(-180) + step * static_cast<scalar_t>(k);
            if (v > middle - step / 2 && v <= middle + step / 2) {
              bin = k;
              break;
            }
          }
        }
        out[i] = bin;
      }
    });
  });
  return bins;
}

}  // namespace boundseg::detail
