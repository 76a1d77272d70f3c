// Permutohedral lattice (rloss.md §2): construction, filtering and the bilateral front door.
//
// Floating-point operations follow the official filter's SSE path step by step (float elevation with scale
// constants computed in double, round-half-even, float barycentrics, splat/blur/slice accumulation order), so
// reference mode reproduces it to the last bits. Two deliberate structural differences keep it fast and parallel
// without changing any number: points in an already seen simplex reuse its vertex ids instead of hashing d+1 keys,
// and the splat, blur and slice run in parallel over channel ranges, vertices and points respectively.
#include "boundseg/ops/permutohedral.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <array>
#include <cmath>
#include <string>
#include <vector>

#include "core/simd_clones.h"
#include <ATen/Parallel.h>

#include "boundseg/core/check.h"
#include "boundseg/core/error.h"
#include "boundseg/core/options.h"

namespace boundseg::ops {

struct PermutohedralLattice::Impl {
  int64_t num_points = 0;
  int dim = 0;
  int64_t num_vertices = 0;
  std::vector<int32_t> offsets;  // (P, d+1) vertex ids of each point's simplex
  std::vector<float> weights;    // (P, d+1) barycentric weights
  std::vector<int32_t> neighbours;  // (d+1, M, 2) blur neighbours; an absent one is M, a slot that stays zero
};

namespace {

constexpr int kMaxDim = 16;

// Round half to even under the default rounding mode, without a libm call on baseline x86-64 (|x| < 2^22).
inline float round_half_even(float x) {
  constexpr float kMagic = 12582912.0f;  // 1.5 · 2^23: the sum has no fraction bits left (IEEE: not folded)
  return (x + kMagic) - kMagic;
}
// Lattice keys are int16 (as in the reference); stay clear of the limit with the ±(d+1) neighbour offsets.
constexpr float kMaxElevated = 32000.0f;

/// Open addressing with linear probing: int16[D] keys -> vertex ids in insertion order.
template <int D>
class VertexTable {
 public:
  explicit VertexTable(int64_t expected_points) {
    size_t capacity = 64;
    while (capacity < static_cast<size_t>(expected_points) * 2) capacity *= 2;
    resize(capacity);
  }

  int32_t size() const { return static_cast<int32_t>(keys_.size() / D); }
  const int16_t* key(int32_t id) const { return keys_.data() + static_cast<size_t>(id) * D; }
  std::vector<int16_t>& keys() { return keys_; }

  int32_t find(const int16_t* key) const {
    for (size_t s = slot_of(key);; s = (s + 1) & mask_) {
      const int32_t id = slots_[s];
      if (id < 0 || equal(this->key(id), key)) return id;
    }
  }

  int32_t find_or_insert(const int16_t* key) {
    if (2 * (keys_.size() / D + 1) > slots_.size()) resize(slots_.size() * 2);
    size_t s = slot_of(key);
    for (; slots_[s] >= 0; s = (s + 1) & mask_) {
      if (equal(this->key(slots_[s]), key)) return slots_[s];
    }
    slots_[s] = size();
    keys_.insert(keys_.end(), key, key + D);
    return slots_[s];
  }

 private:
  static bool equal(const int16_t* a, const int16_t* b) {
    for (int i = 0; i < D; ++i) {
      if (a[i] != b[i]) return false;
    }
    return true;
  }

  size_t slot_of(const int16_t* key) const {
    uint64_t h = 0;
    for (int i = 0; i < D; ++i) h = (h + static_cast<uint16_t>(key[i])) * 1664525u;
    return static_cast<size_t>((h * 0x9E3779B97F4A7C15ull) >> shift_);
  }

  void resize(size_t capacity) {
    slots_.assign(capacity, -1);
    mask_ = capacity - 1;
    shift_ = 64;
    for (size_t c = capacity; c > 1; c /= 2) --shift_;
    for (int32_t id = 0; id < size(); ++id) {
      size_t s = slot_of(key(id));
      while (slots_[s] >= 0) s = (s + 1) & mask_;
      slots_[s] = id;
    }
  }

  std::vector<int16_t> keys_;
  std::vector<int32_t> slots_;
  size_t mask_ = 0;
  int shift_ = 64;
};

template <int D>
void build_lattice(const float* features, int64_t num_points, LatticeMode mode, PermutohedralLattice::Impl& L) {
  constexpr int D1 = D + 1;
  // Scale constants in double, stored as float (the reference's SSE path).
  const float inv_std = static_cast<float>(std::sqrt(2.0 / 3.0) * D1);
  std::array<float, D> scale{};
  for (int i = 0; i < D; ++i) scale[i] = static_cast<float>(1.0 / std::sqrt(double((i + 2) * (i + 1))) * inv_std);
  const float inv_d1 = 1.0f / D1;
  const float d1 = static_cast<float>(D1);
  // canonical[r][i]: coordinate offset of the remainder-r vertex for a coordinate of rank i.
  std::array<std::array<int, D1>, D1> canonical{};
  for (int r = 0; r <= D; ++r) {
    for (int i = 0; i <= D; ++i) canonical[r][i] = i <= D - r ? r : r - D1;
  }

  L.num_points = num_points;
  L.dim = D;
  L.offsets.resize(static_cast<size_t>(num_points) * D1);
  L.weights.resize(static_cast<size_t>(num_points) * D1);
  VertexTable<D> table(num_points);
  VertexTable<2 * D> simplices(num_points / 4);
  std::vector<std::array<int32_t, D1>> simplex_vertices;

  // Reference mode pads the last block of 4 points with zero-feature phantoms (see LatticeMode).
  const int64_t padded = mode == LatticeMode::kReference ? (num_points + 3) / 4 * 4 : num_points;
  const std::array<float, D> zero_feature{};
  std::array<float, D1> prev_rem0{};
  std::array<int, D1> prev_rank{};
  std::array<int32_t, D1> ids{};
  bool have_prev = false;
  for (int64_t p = 0; p < padded; ++p) {
    const float* f = p < num_points ? features + p * D : zero_feature.data();
    // Elevate onto the hyperplane sum = 0 of R^{d+1}.
    std::array<float, D1> elevated;
    float running = 0.0f;
    for (int j = D; j > 0; --j) {
      const float cf = f[j - 1] * scale[j - 1];
      elevated[j] = running - static_cast<float>(j) * cf;
      running += cf;
    }
    elevated[0] = running;
    for (int i = 0; i <= D; ++i) {
      if (!(std::fabs(elevated[i]) <= kMaxElevated)) {
        fail("permutohedral_lattice", "features",
             "stay within about ±" + number_text(kMaxElevated / 6) +
                 " (a bandwidth too small for the feature range overflows the 16-bit lattice keys)",
             "point " + std::to_string(p) + " with a lattice coordinate of " + number_text(elevated[i]));
      }
    }
    // Nearest remainder-0 lattice point (round half to even, as the reference's SSE rounding mode).
    std::array<float, D1> rem0;
    float sum = 0.0f;
    for (int i = 0; i <= D; ++i) {
      const float v = round_half_even(inv_d1 * elevated[i]);
      rem0[i] = v * d1;
      sum += v;
    }
    // Rank of each residual, then bring the point back onto the plane.
    // (Branch-free: the comparisons are data-dependent coin flips for the branch predictor.)
    std::array<float, D1> residual;
    for (int i = 0; i <= D; ++i) residual[i] = elevated[i] - rem0[i];
    std::array<int, D1> rank{};
    for (int i = 0; i < D; ++i) {
      for (int j = i + 1; j <= D; ++j) {
        const int i_below_j = residual[i] < residual[j];
        rank[i] += i_below_j;
        rank[j] += 1 - i_below_j;
      }
    }
    const int isum = static_cast<int>(sum);
    for (int i = 0; i <= D; ++i) {
      rank[i] += isum;
      const int wrap = (rank[i] < 0) - (rank[i] > D);  // +1, -1 or 0
      rank[i] += wrap * D1;
      rem0[i] += static_cast<float>(wrap * D1);
    }
    std::array<float, D + 2> bary{};
    for (int i = 0; i <= D; ++i) {
      const float v = (elevated[i] - rem0[i]) * inv_d1;
      bary[D - rank[i]] += v;
      bary[D - rank[i] + 1] -= v;
    }
    bary[0] += 1.0f + bary[D1];

    // The simplex (rem0, rank) determines the d+1 vertices: reuse them when the previous point or any earlier
    // one fell into the same simplex (one lookup instead of d+1).
    bool same_simplex = have_prev;
    for (int i = 0; i < D && same_simplex; ++i) same_simplex = rem0[i] == prev_rem0[i] && rank[i] == prev_rank[i];
    if (!same_simplex) {
      std::array<int16_t, 2 * D> simplex_key;
      for (int i = 0; i < D; ++i) {
        simplex_key[i] = static_cast<int16_t>(rem0[i]);
        simplex_key[D + i] = static_cast<int16_t>(rank[i]);
      }
      const int32_t known = simplices.size();
      const int32_t simplex = simplices.find_or_insert(simplex_key.data());
      if (simplex < known) {
        ids = simplex_vertices[simplex];
      } else {
        std::array<int16_t, D> key;
        for (int r = 0; r <= D; ++r) {
          for (int i = 0; i < D; ++i) key[i] = static_cast<int16_t>(rem0[i] + canonical[r][rank[i]]);
          ids[r] = table.find_or_insert(key.data());
        }
        simplex_vertices.push_back(ids);
      }
      prev_rem0 = rem0;
      prev_rank = rank;
      have_prev = true;
    }
    if (p < num_points) {
      for (int r = 0; r <= D; ++r) {
        L.offsets[p * D1 + r] = ids[r];
        L.weights[p * D1 + r] = bary[r];
      }
    }
  }

  const int32_t M = table.size();
  L.num_vertices = M;
  // Blur neighbours along each of the d+1 lattice directions (looked up, never created).
  L.neighbours.resize(static_cast<size_t>(D1) * M * 2);
  at::parallel_for(0, M, 1024, [&](int64_t begin, int64_t end) {
    std::array<int16_t, D> n1, n2;
    for (int64_t v = begin; v < end; ++v) {
      const int16_t* key = table.key(static_cast<int32_t>(v));
      for (int j = 0; j <= D; ++j) {
        for (int k = 0; k < D; ++k) {
          n1[k] = static_cast<int16_t>(key[k] - 1);
          n2[k] = static_cast<int16_t>(key[k] + 1);
        }
        if (j < D) {
          n1[j] = static_cast<int16_t>(key[j] + D);
          n2[j] = static_cast<int16_t>(key[j] - D);
        }
        const int32_t a = table.find(n1.data()), b = table.find(n2.data());
        int32_t* slot = L.neighbours.data() + (static_cast<size_t>(j) * M + v) * 2;
        slot[0] = a < 0 ? M : a;
        slot[1] = b < 0 ? M : b;
      }
    }
  });
}

template <int D>
void build_dispatch(int d, const float* features, int64_t n, LatticeMode mode, PermutohedralLattice::Impl& L) {
  if constexpr (D <= kMaxDim) {
    if (d == D) return build_lattice<D>(features, n, mode, L);
    build_dispatch<D + 1>(d, features, n, mode, L);
  }
}

constexpr int64_t kGrain = 512;

}  // namespace

PermutohedralLattice::PermutohedralLattice(const at::Tensor& features, LatticeMode mode) {
  constexpr const char* where = "permutohedral_lattice";
  require(features.defined() && features.dim() == 2, where, "'features'", "be a 2-D (points, dims) tensor",
          [&] { return describe_or_undefined(features); });
  require(features.scalar_type() == at::kFloat, where, "'features'", "be a float32 tensor",
          [&] { return "a " + describe(features); });
  check_cpu(features, where, "features");
  const int64_t d = features.size(1);
  require(d >= 1 && d <= kMaxDim, where, "the feature dimension", "be in [1, " + std::to_string(kMaxDim) + "]",
          [&] { return std::to_string(d); });
  require(features.size(0) < (int64_t{1} << 31) / (d + 1), where, "the point count", "be below 2^31 / (d + 1)",
          [&] { return std::to_string(features.size(0)); });
  const at::Tensor f = features.contiguous();
  require(at::isfinite(f).all().item<bool>(), where, "'features'", "be finite", [] { return "a NaN or infinity"; });
  auto impl = std::make_shared<Impl>();
  build_dispatch<1>(static_cast<int>(d), f.data_ptr<float>(), f.size(0), mode, *impl);
  impl_ = std::move(impl);
}

int64_t PermutohedralLattice::num_points() const { return impl_->num_points; }
int64_t PermutohedralLattice::dim() const { return impl_->dim; }
int64_t PermutohedralLattice::num_vertices() const { return impl_->num_vertices; }

namespace {

// The three stages of filtering (BOUNDSEG_SIMD_CLONES: AVX2 and baseline builds, identical bits).

// Splat in point order (the reference's summation order) into channels [c0, c1).
BOUNDSEG_SIMD_CLONES void splat(const PermutohedralLattice::Impl& L, const float* in, float* values, int64_t C,
                                int64_t c0, int64_t c1) {
  const int64_t D1 = L.dim + 1;
  for (int64_t p = 0; p < L.num_points; ++p) {
    const float* src = in + p * C;
    for (int64_t r = 0; r < D1; ++r) {
      const float w = L.weights[p * D1 + r];
      float* dst = values + static_cast<int64_t>(L.offsets[p * D1 + r]) * C;
      for (int64_t c = c0; c < c1; ++c) dst[c] += w * src[c];
    }
  }
}

// One [½, 1, ½] pass along one lattice direction for vertices [v0, v1).
BOUNDSEG_SIMD_CLONES void blur(const float* values, float* blurred, const int32_t* neighbours, int64_t C, int64_t v0,
                               int64_t v1) {
  for (int64_t v = v0; v < v1; ++v) {
    const float* old_v = values + v * C;
    const float* n1 = values + static_cast<int64_t>(neighbours[2 * v]) * C;
    const float* n2 = values + static_cast<int64_t>(neighbours[2 * v + 1]) * C;
    float* new_v = blurred + v * C;
    for (int64_t c = 0; c < C; ++c) new_v[c] = old_v[c] + 0.5f * (n1[c] + n2[c]);
  }
}

// Slice points [p0, p1): barycentric interpolation of their simplex's vertices, times alpha.
BOUNDSEG_SIMD_CLONES void slice(const PermutohedralLattice::Impl& L, const float* values, float* out, int64_t C,
                                float alpha, int64_t p0, int64_t p1) {
  const int64_t D1 = L.dim + 1;
  for (int64_t p = p0; p < p1; ++p) {
    float* dst = out + p * C;
    for (int64_t c = 0; c < C; ++c) dst[c] = 0.0f;
    for (int64_t r = 0; r < D1; ++r) {
      const float w = L.weights[p * D1 + r] * alpha;
      const float* src = values + static_cast<int64_t>(L.offsets[p * D1 + r]) * C;
      for (int64_t c = 0; c < C; ++c) dst[c] += w * src[c];
    }
  }
}

}  // namespace

void PermutohedralLattice::filter(const float* in, float* out, int64_t channels, bool transpose) const {
  const Impl& L = *impl_;
  const int64_t M = L.num_vertices, C = channels, D = L.dim;
  // Vertex v lives at row v; row M stays zero and stands for every absent neighbour.
  std::vector<float> values(static_cast<size_t>(M + 1) * C, 0.0f), blurred(values.size(), 0.0f);
  // Splat tasks own disjoint channel ranges.
  at::parallel_for(0, C, 8, [&](int64_t c0, int64_t c1) { splat(L, in, values.data(), C, c0, c1); });
  // The reverse order of the blur passes is the exact transpose.
  for (int64_t pass = 0; pass <= D; ++pass) {
    const int32_t* neighbours = L.neighbours.data() + (transpose ? D - pass : pass) * M * 2;
    at::parallel_for(0, M, kGrain, [&](int64_t v0, int64_t v1) {
      blur(values.data(), blurred.data(), neighbours, C, v0, v1);
    });
    values.swap(blurred);
  }
  const float alpha = 1.0f / (1.0f + std::pow(2.0f, -static_cast<float>(D)));
  at::parallel_for(0, L.num_points, kGrain,
                   [&](int64_t p0, int64_t p1) { slice(L, values.data(), out, C, alpha, p0, p1); });
}

at::Tensor PermutohedralLattice::filter(const at::Tensor& values, bool transpose) const {
  constexpr const char* where = "permutohedral_lattice";
  require(values.defined() && values.dim() == 2 && values.size(0) == num_points(), where, "'values'",
          "be a 2-D (" + std::to_string(num_points()) + ", channels) tensor",
          [&] { return describe_or_undefined(values); });
  require(values.scalar_type() == at::kFloat, where, "'values'", "be a float32 tensor",
          [&] { return "a " + describe(values); });
  check_cpu(values, where, "values");
  const at::Tensor in = values.contiguous();
  at::Tensor out = at::empty_like(in);
  filter(in.data_ptr<float>(), out.data_ptr<float>(), in.size(1), transpose);
  return out;
}

at::Tensor bilateral_features(const at::Tensor& image, double sigma_rgb, double sigma_xy) {
  constexpr const char* where = "bilateral_features";
  require(image.defined() && image.dim() == 3 && image.size(0) >= 1, where, "'image'", "be a 3-D (C, H, W) tensor",
          [&] { return describe_or_undefined(image); });
  check_cpu(image, where, "image");
  require(sigma_rgb > 0 && sigma_xy > 0 && std::isfinite(sigma_rgb) && std::isfinite(sigma_xy), where,
          "sigma_rgb and sigma_xy", "be positive and finite",
          [&] { return number_text(sigma_rgb) + " and " + number_text(sigma_xy); });
  const at::Tensor img = image.to(at::kFloat).contiguous();
  const int64_t C = img.size(0), H = img.size(1), W = img.size(2), D = C + 2;
  at::Tensor features = at::empty({H * W, D}, img.options());
  // Divisions by the float bandwidths, as the reference computes its features.
  const float sr = static_cast<float>(sigma_rgb), sxy = static_cast<float>(sigma_xy);
  const float* src = img.data_ptr<float>();
  float* f = features.data_ptr<float>();
  at::parallel_for(0, H, 16, [&](int64_t begin, int64_t end) {
    for (int64_t y = begin; y < end; ++y) {
      for (int64_t x = 0; x < W; ++x) {
        const int64_t idx = y * W + x;
        float* row = f + idx * D;
        row[0] = static_cast<float>(x) / sxy;
        row[1] = static_cast<float>(y) / sxy;
        for (int64_t c = 0; c < C; ++c) row[2 + c] = src[c * H * W + idx] / sr;
      }
    }
  });
  return features;
}

namespace {

// Filters every image's K maps with its own lattice, images in parallel: (A·values if want_forward, Aᵀ·values if
// want_transposed), undefined tensors for what is not wanted.
std::pair<at::Tensor, at::Tensor> filter_images(const at::Tensor& image, const at::Tensor& values,
                                                const BilateralFilterOptions& options, bool want_forward,
                                                bool want_transposed) {
  constexpr const char* where = "bilateral_filter";
  require(image.defined() && values.defined() && (image.dim() == 3 || image.dim() == 4) && values.dim() == image.dim(),
          where, "'image' and 'values'", "both be (C, H, W) or both (N, C, H, W) tensors",
          [&] { return describe_or_undefined(image) + " and " + describe_or_undefined(values); });
  const bool batched = image.dim() == 4;
  const at::Tensor images = batched ? image : image.unsqueeze(0);
  const at::Tensor maps = (batched ? values : values.unsqueeze(0)).to(at::kFloat).contiguous();
  require(images.size(0) == maps.size(0) && images.size(2) == maps.size(2) && images.size(3) == maps.size(3), where,
          "'values'", "have the image's batch size and H x W",
          [&] { return describe(values) + " for " + describe(image); });
  check_cpu(images, where, "image");
  check_cpu(maps, where, "values");
  const int64_t N = maps.size(0), K = maps.size(1);
  at::Tensor forward = want_forward ? at::empty_like(maps) : at::Tensor();
  at::Tensor transposed = want_transposed ? at::empty_like(maps) : at::Tensor();
  // One image per task; the filter's own parallel loops run inline inside this region.
  at::parallel_for(0, N, 1, [&](int64_t begin, int64_t end) {
    for (int64_t n = begin; n < end; ++n) {
      const PermutohedralLattice lattice(bilateral_features(images[n], options.sigma_rgb(), options.sigma_xy()),
                                         options.mode());
      const at::Tensor point_major = maps[n].reshape({K, -1}).t().contiguous();
      if (forward.defined()) forward[n].view({K, -1}).copy_(lattice.filter(point_major, false).t());
      if (transposed.defined()) transposed[n].view({K, -1}).copy_(lattice.filter(point_major, true).t());
    }
  });
  if (!batched) {
    if (forward.defined()) forward = forward.squeeze(0);
    if (transposed.defined()) transposed = transposed.squeeze(0);
  }
  return {forward, transposed};
}

}  // namespace

at::Tensor bilateral_filter(const at::Tensor& image, const at::Tensor& values, const BilateralFilterOptions& options) {
  auto [forward, transposed] = filter_images(image, values, options, !options.transpose(), options.transpose());
  return options.transpose() ? transposed : forward;
}

std::pair<at::Tensor, at::Tensor> bilateral_filter_and_transpose(const at::Tensor& image, const at::Tensor& values,
                                                                 const BilateralFilterOptions& options) {
  return filter_images(image, values, options, true, true);
}

}  // namespace boundseg::ops
