// rloss losses (rloss.md §1, §3, §5): lattice quadratic forms as autograd Functions, pCE and size via autograd.
#include "boundseg/losses/rloss.h"

#include <ATen/ATen.h>
#include <torch/autograd.h>
#include <torch/nn/functional/upsampling.h>

#include <algorithm>
#include <cmath>
#include <vector>
#include <limits>
#include <string>

#include <ATen/Parallel.h>

#include "boundseg/core/check.h"
#include "boundseg/core/error.h"
#include "core/simd_clones.h"

namespace boundseg::losses {
namespace {

void check_crf_inputs(const at::Tensor& images, const at::Tensor& probabilities, const at::Tensor& roi,
                      const char* where) {
  require(images.defined() && images.dim() == 4 && images.size(1) >= 1, where, "'images'",
          "be a 4-D (N, C, H, W) tensor of 0..255 colours", [&] { return describe_or_undefined(images); });
  require(probabilities.defined() && probabilities.dim() == 4 && probabilities.size(0) == images.size(0) &&
              probabilities.size(2) == images.size(2) && probabilities.size(3) == images.size(3),
          where, "'probabilities'", "be (N, K, H, W) with the images' N, H, W",
          [&] { return describe_or_undefined(probabilities) + " for " + describe_or_undefined(images); });
  require(probabilities.scalar_type() == at::kFloat, where, "'probabilities'", "be float32",
          [&] { return describe_or_undefined(probabilities); });
  require(roi.defined() && roi.dim() == 3 && roi.size(0) == images.size(0) && roi.size(1) == images.size(2) &&
              roi.size(2) == images.size(3),
          where, "'roi'", "be (N, H, W) with the images' N, H, W",
          [&] { return describe_or_undefined(roi) + " for " + describe_or_undefined(images); });
  check_cpu(images, where, "images");
  check_cpu(probabilities, where, "probabilities");
  check_cpu(roi, where, "roi");
}

}  // namespace

void validate(const CrfKernelOptions& k, const OptionSite& site) {
  site.require(k.scale_factor() > 0 && k.scale_factor() <= 1, "scale_factor", "be in (0, 1]",
               [&] { return number_text(k.scale_factor()); });
  site.require(k.sigma_rgb() > 0 && std::isfinite(k.sigma_rgb()), "sigma_rgb", "be positive and finite",
               [&] { return number_text(k.sigma_rgb()); });
  site.require(k.sigma_xy() > 0 && std::isfinite(k.sigma_xy()), "sigma_xy", "be positive and finite",
               [&] { return number_text(k.sigma_xy()); });
}

namespace {

// Σ a·b over n floats, accumulated in double in four independent lanes (vectorisable without reassociation).
double dot_in_double(const float* a, const float* b, int64_t n) {
  double lanes[4] = {0.0, 0.0, 0.0, 0.0};
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) {
    for (int k = 0; k < 4; ++k) lanes[k] += static_cast<double>(a[i + k]) * b[i + k];
  }
  for (; i < n; ++i) lanes[0] += static_cast<double>(a[i]) * b[i];
  return (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]);
}

// One output row of the half-scale bilinear resize from input rows r0 and r1 (PyTorch's arithmetic).
BOUNDSEG_SIMD_CLONES void average_row_pairs(const float* r0, const float* r1, float* o, int64_t w) {
  for (int64_t x = 0; x < w; ++x) {
    o[x] = 0.5f * (0.5f * r0[2 * x] + 0.5f * r0[2 * x + 1]) + 0.5f * (0.5f * r1[2 * x] + 0.5f * r1[2 * x + 1]);
  }
}

// Its adjoint on one input row: every output gradient g goes, as 0.25·g, to the two pixels it averaged.
BOUNDSEG_SIMD_CLONES void spread_quarter(const float* g, float* o, int64_t w) {
  for (int64_t x = 0; x < w; ++x) o[2 * x] = o[2 * x + 1] = 0.25f * g[x];
}

// F.interpolate(x, scale_factor=0.5, mode="bilinear", align_corners=False) without PyTorch's generic kernel: every
// output is 0.5·(0.5a + 0.5b) + 0.5·(0.5c + 0.5d) of its 2 x 2 block, PyTorch's own arithmetic (bit-identical, as
// the golden tests check), and the backward spreads 0.25·g back. 3x faster than the generic kernel at 513 x 513.
class HalfBilinearFunction : public torch::autograd::Function<HalfBilinearFunction> {
 public:
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& input) {
    const at::Tensor x = input.contiguous();
    const int64_t planes = x.size(0) * x.size(1), H = x.size(2), W = x.size(3), h = H / 2, w = W / 2;
    at::Tensor out = at::empty({x.size(0), x.size(1), h, w}, x.options());
    const float* src = x.data_ptr<float>();
    float* dst = out.data_ptr<float>();
    at::parallel_for(0, planes * h, 64, [&](int64_t begin, int64_t end) {
      for (int64_t row = begin; row < end; ++row) {
        const int64_t plane = row / h, y = row % h;
        const float* r0 = src + (plane * H + 2 * y) * W;
        average_row_pairs(r0, r0 + W, dst + row * w, w);
      }
    });
    ctx->saved_data["sizes"] = x.sizes();
    return out;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad_outputs) {
    const std::vector<int64_t> sizes = ctx->saved_data["sizes"].toIntVector();
    const at::Tensor g = grad_outputs[0].contiguous();
    const int64_t planes = sizes[0] * sizes[1], H = sizes[2], W = sizes[3], h = H / 2, w = W / 2;
    at::Tensor grad = at::empty(sizes, g.options());
    const float* src = g.data_ptr<float>();
    float* dst = grad.data_ptr<float>();
    at::parallel_for(0, planes * H, 64, [&](int64_t begin, int64_t end) {
      for (int64_t row = begin; row < end; ++row) {
        const int64_t plane = row / H, y = row % H;
        float* o = dst + row * W;
        if (y >= 2 * h) {  // the last row of an odd height receives nothing
          std::fill(o, o + W, 0.0f);
          continue;
        }
        spread_quarter(src + (plane * h + y / 2) * w, o, w);
        if (W % 2) o[W - 1] = 0.0f;
      }
    });
    return {grad};
  }
};

// A·values, and Aᵀ·values from the same lattices when the exact gradient needs it (else undefined).
std::pair<at::Tensor, at::Tensor> filter_values(const at::Tensor& image, const at::Tensor& values, double sigma_rgb,
                                                double sigma_xy, ops::LatticeMode mode, bool with_transpose) {
  const auto options = ops::BilateralFilterOptions().sigma_rgb(sigma_rgb).sigma_xy(sigma_xy).mode(mode);
  if (with_transpose) return ops::bilateral_filter_and_transpose(image, values, options);
  return {ops::bilateral_filter(image, values, options), at::Tensor()};
}

/// (1/N) Σ_n −Σ_k S̃ᵀAS̃ (+ Σ_n RᵀAR / N with add_constant) of the already scaled inputs; S̃ = seg ∘ roi.
class CrfEnergyFunction : public torch::autograd::Function<CrfEnergyFunction> {
 public:
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& seg, const at::Tensor& image,
                            const at::Tensor& roi, double sigma_rgb, double sigma_xy, ops::LatticeMode mode,
                            CrfGradient gradient, bool add_constant) {
    const int64_t N = seg.size(0), K = seg.size(1), P = seg.size(2) * seg.size(3);
    const at::Tensor s = seg.contiguous(), r = roi.contiguous(), img = image.to(at::kFloat).contiguous();
    const bool exact = gradient == CrfGradient::kExact;
    const int64_t C = K + (add_constant ? 1 : 0);  // the ROI itself as one more channel gives RᵀAR
    at::Tensor direction = at::empty_like(s);
    std::vector<double> energy(N, 0.0);
    constexpr int64_t kBlock = 64;
    // One fused pass per image: mask and go point-major, filter all channels at once, then the energy (in double)
    // and the gradient direction written back channel-major. ∂/∂S̃ of −S̃ᵀAS̃ is −(A + Aᵀ)S̃; rloss uses −2AS̃
    // (rloss.md §1.4).
    at::parallel_for(0, N, 1, [&](int64_t n0, int64_t n1) {
      std::vector<float> in(P * C), out(P * C), out_t(exact ? P * C : 0);
      for (int64_t n = n0; n < n1; ++n) {
        const ops::PermutohedralLattice lattice(ops::bilateral_features(img[n], sigma_rgb, sigma_xy), mode);
        const float* sp = s.data_ptr<float>() + n * K * P;
        const float* rp = r.data_ptr<float>() + n * P;
        // Channel-major <-> point-major in blocks of points: both sides stay in L1, every access is a short run.
        for (int64_t p0 = 0; p0 < P; p0 += kBlock) {
          const int64_t p1 = std::min(P, p0 + kBlock);
          for (int64_t k = 0; k < K; ++k) {
            for (int64_t p = p0; p < p1; ++p) in[p * C + k] = sp[k * P + p] * rp[p];
          }
          if (add_constant) {
            for (int64_t p = p0; p < p1; ++p) in[p * C + K] = rp[p];
          }
        }
        lattice.filter(in.data(), out.data(), C, false);
        if (exact) lattice.filter(in.data(), out_t.data(), C, true);
        // −S̃ᵀAS̃ over the K class channels; the ROI channel (add_constant) enters with the opposite sign.
        double e = -dot_in_double(in.data(), out.data(), P * C);
        if (add_constant) {
          for (int64_t p = 0; p < P; ++p) e += 2.0 * static_cast<double>(in[p * C + K]) * out[p * C + K];
        }
        energy[n] = e;
        float* dp = direction.data_ptr<float>() + n * K * P;
        for (int64_t p0 = 0; p0 < P; p0 += kBlock) {
          const int64_t p1 = std::min(P, p0 + kBlock);
          for (int64_t k = 0; k < K; ++k) {
            for (int64_t p = p0; p < p1; ++p) {
              const float sum = exact ? out[p * C + k] + out_t[p * C + k] : 2.0f * out[p * C + k];
              dp[k * P + p] = sum * rp[p];
            }
          }
        }
      }
    });
    double total = 0.0;
    for (double e : energy) total += e;  // images summed in order: deterministic for any thread count
    ctx->save_for_backward({direction});
    ctx->saved_data["N"] = N;
    return at::scalar_tensor(total / static_cast<double>(N), seg.options());
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad_outputs) {
    const at::Tensor direction = ctx->get_saved_variables()[0];
    const double N = static_cast<double>(ctx->saved_data["N"].toInt());
    // rloss forms −2·g/N in double (its loss is float64); one float rounding of the product remains.
    const at::Tensor grad = direction * (-grad_outputs[0].item<double>() / N);
    return {grad, at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

/// (1/N) Σ_n Σ_k (b_k − a_k)/b_k, a_k = S̃_kᵀAS̃_k, b_k = (A·R)ᵀS̃_k, of the already scaled inputs.
class NormalizedCutFunction : public torch::autograd::Function<NormalizedCutFunction> {
 public:
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& seg, const at::Tensor& image,
                            const at::Tensor& roi, double sigma_rgb, double sigma_xy, ops::LatticeMode mode,
                            CrfGradient gradient) {
    const int64_t N = seg.size(0), K = seg.size(1);
    const at::Tensor roi1 = roi.unsqueeze(1);
    const at::Tensor masked = seg * roi1;
    const at::Tensor values = at::cat({masked, roi1}, 1);  // the degrees d = A·R come from the same pass
    const bool exact = gradient == CrfGradient::kExact;
    const auto [filtered, transposed] = filter_values(image, values, sigma_rgb, sigma_xy, mode, exact);
    const at::Tensor AS = filtered.slice(1, 0, K).to(at::kDouble);
    const at::Tensor degrees = filtered.select(1, K).to(at::kDouble);  // (N, h, w)
    const at::Tensor s = masked.to(at::kDouble);
    const at::Tensor a = (s * AS).sum({2, 3});                      // (N, K)
    const at::Tensor b = (s * degrees.unsqueeze(1)).sum({2, 3});    // (N, K)
    const at::Tensor volume = (degrees * roi.to(at::kDouble)).sum({1, 2}).unsqueeze(1);  // (N, 1) = Σ_k b_k
    const at::Tensor floor = at::clamp_min(volume * 1e-6, 1e-12);
    const at::Tensor clamped = b < floor;
    const at::Tensor b_used = at::where(clamped, floor.expand_as(b), b);
    const at::Tensor loss = (1.0 - a / b_used).sum() / static_cast<double>(N);
    // ∂/∂S̃_k = (a_k / b_k²)·d − (A + Aᵀ)S̃_k / b_k (rloss uses 2·A·S̃_k); no b-term where b_k is floored.
    const at::Tensor along_degrees = at::where(clamped, at::zeros_like(a), a / (b_used * b_used));
    const at::Tensor direction =
        exact ? AS + transposed.slice(1, 0, K).to(at::kDouble) : AS * 2.0;
    const at::Tensor grad_per_unit =
        (along_degrees.unsqueeze(-1).unsqueeze(-1) * degrees.unsqueeze(1) -
         direction / b_used.unsqueeze(-1).unsqueeze(-1)) *
        roi1.to(at::kDouble);
    ctx->save_for_backward({grad_per_unit});
    ctx->saved_data["N"] = N;
    return loss.to(at::kFloat);
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad_outputs) {
    const at::Tensor grad_per_unit = ctx->get_saved_variables()[0];
    const double N = static_cast<double>(ctx->saved_data["N"].toInt());
    const at::Tensor grad = (grad_per_unit * (grad_outputs[0].to(at::kDouble) / N)).to(at::kFloat);
    return {grad, at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

}  // namespace

DenseCrfLossOptions DenseCrfLossOptions::rloss_pytorch() {
  return DenseCrfLossOptions().weight(2e-9).kernel(
      CrfKernelOptions().sigma_rgb(15).sigma_xy(100).scale_factor(0.5).lattice(ops::LatticeMode::kReference));
}

DenseCrfLossOptions DenseCrfLossOptions::rloss_caffe() {
  return DenseCrfLossOptions().weight(1e-8).kernel(
      CrfKernelOptions().sigma_rgb(15).sigma_xy(100).scale_factor(1.0).lattice(ops::LatticeMode::kReference));
}

DenseCrfLossOptions DenseCrfLossOptions::rloss_caffe_resnet101() {
  return DenseCrfLossOptions().weight(1e-8).kernel(
      CrfKernelOptions().sigma_rgb(13).sigma_xy(80).scale_factor(1.0).lattice(ops::LatticeMode::kReference));
}

CrfInputs scale_crf_inputs(const at::Tensor& images, const at::Tensor& probabilities, const at::Tensor& roi,
                           const CrfKernelOptions& kernel) {
  check_crf_inputs(images, probabilities, roi, "scale_crf_inputs");
  validate(kernel, OptionSite("scale_crf_inputs").nested("kernel"));
  const at::Tensor image = images.to(at::kFloat);
  const at::Tensor mask = roi.to(at::kFloat);
  const double s = kernel.scale_factor();
  if (s == 1.0) return {image, probabilities, mask, kernel.sigma_xy()};
  // scale_factor, not size: PyTorch then samples source pixel 2t (nearest) and 2t + 0.5 (bilinear) at s = 0.5.
  namespace F = torch::nn::functional;
  const auto nearest = F::InterpolateFuncOptions()
                           .scale_factor(std::vector<double>{s, s})
                           .mode(torch::kNearest)
                           .recompute_scale_factor(false);
  const auto bilinear = F::InterpolateFuncOptions()
                            .scale_factor(std::vector<double>{s, s})
                            .mode(torch::kBilinear)
                            .align_corners(false)
                            .recompute_scale_factor(false);
  const at::Tensor scaled = s == 0.5 ? HalfBilinearFunction::apply(probabilities) : F::interpolate(probabilities, bilinear);
  return {F::interpolate(image, nearest), scaled, F::interpolate(mask.unsqueeze(1), nearest).squeeze(1),
          kernel.sigma_xy() * s};
}

at::Tensor dense_crf_loss(const at::Tensor& images, const at::Tensor& probabilities, const at::Tensor& roi,
                          const DenseCrfLossOptions& options) {
  const CrfInputs in = scale_crf_inputs(images, probabilities, roi, options.kernel());
  const auto& k = options.kernel();
  return CrfEnergyFunction::apply(in.probabilities, in.image, in.roi, k.sigma_rgb(), in.sigma_xy, k.lattice(),
                                  k.gradient(), options.add_constant()) *
         options.weight();
}

at::Tensor normalized_cut_loss(const at::Tensor& images, const at::Tensor& probabilities, const at::Tensor& roi,
                               const NormalizedCutLossOptions& options) {
  const CrfInputs in = scale_crf_inputs(images, probabilities, roi, options.kernel());
  const auto& k = options.kernel();
  return NormalizedCutFunction::apply(in.probabilities, in.image, in.roi, k.sigma_rgb(), in.sigma_xy, k.lattice(),
                                      k.gradient()) *
         options.weight();
}

at::Tensor size_loss(const at::Tensor& probabilities, const at::Tensor& roi, const at::Tensor& lower,
                     const at::Tensor& upper, const SizeLossOptions& options) {
  constexpr const char* where = "size_loss";
  require(probabilities.defined() && probabilities.dim() == 4, where, "'probabilities'",
          "be a 4-D (N, K, H, W) tensor", [&] { return describe_or_undefined(probabilities); });
  const int64_t N = probabilities.size(0), K = probabilities.size(1);
  const int64_t H = probabilities.size(2), W = probabilities.size(3);
  const auto dims = [](std::initializer_list<int64_t> sizes) {
    std::string s;
    for (int64_t v : sizes) s += (s.empty() ? "(" : ", ") + std::to_string(v);
    return s + ")";
  };
  require(roi.defined() && roi.sizes() == at::IntArrayRef({N, H, W}), where, "'roi'", "be " + dims({N, H, W}),
          [&] { return describe_or_undefined(roi); });
  for (const auto* bound : {&lower, &upper}) {
    require(bound->defined() && bound->sizes() == at::IntArrayRef({N, K}), where,
            bound == &lower ? "'lower'" : "'upper'", "be " + dims({N, K}),
            [&] { return describe_or_undefined(*bound); });
  }
  require((lower <= upper).all().item<bool>() && !at::isnan(lower).any().item<bool>(), where, "'lower'",
          "be <= 'upper' everywhere", [] { return "a lower bound above its upper bound (or a NaN)"; });
  const at::Tensor a = lower.to(probabilities.options()), b = upper.to(probabilities.options());
  const at::Tensor volume = (probabilities * roi.to(probabilities.options()).unsqueeze(1)).sum({2, 3});
  // An infinite upper bound gives clamp_min(-inf, 0) = 0 with a zero gradient.
  const at::Tensor below = at::clamp_max(volume - a, 0.0), above = at::clamp_min(volume - b, 0.0);
  const at::Tensor penalty = (below * below + above * above) / static_cast<double>(H * W);
  const at::Tensor constrained = (a > 0) | at::isfinite(b);
  const int64_t count = constrained.sum().item<int64_t>();
  return (penalty * constrained).sum() / static_cast<double>(std::max<int64_t>(count, 1)) * options.weight();
}

at::Tensor partial_cross_entropy(const at::Tensor& logits, const at::Tensor& scribbles,
                                 const PartialCrossEntropyOptions& options) {
  constexpr const char* where = "partial_cross_entropy";
  require(logits.defined() && logits.dim() == 4, where, "'logits'", "be a 4-D (N, K, H, W) tensor",
          [&] { return describe_or_undefined(logits); });
  const int64_t N = logits.size(0), K = logits.size(1);
  require(scribbles.defined() && scribbles.dim() == 3 && !at::isFloatingType(scribbles.scalar_type()) &&
              scribbles.size(0) == N && scribbles.size(1) == logits.size(2) && scribbles.size(2) == logits.size(3),
          where, "'scribbles'", "be an integer (N, H, W) map matching the logits",
          [&] { return describe_or_undefined(scribbles) + " for " + describe_or_undefined(logits); });
  at::Tensor target = scribbles.to(at::kLong);
  target = at::where(target == options.padding_index(), at::full_like(target, options.ignore_index()), target);
  const at::Tensor labelled = target != options.ignore_index();
  const at::Tensor bad = labelled & ((target < 0) | (target >= K));
  require(!bad.any().item<bool>(), where, "scribble values",
          "be class ids in [0, " + std::to_string(K) + "), " + std::to_string(options.ignore_index()) +
              " (unlabelled) or " + std::to_string(options.padding_index()) + " (padding)",
          [&] { return std::to_string(target.masked_select(bad)[0].item<int64_t>()); });
  const int64_t count = labelled.sum().item<int64_t>();
  if (count == 0) return (logits * 0).sum();  // rloss: NaN; here 0 with a zero gradient
  at::Tensor loss = at::cross_entropy_loss(logits, target, {}, at::Reduction::Sum, options.ignore_index()) /
                    static_cast<double>(count);
  return options.batch_average() ? loss / static_cast<double>(N) : loss;
}

at::Tensor scribble_roi(const at::Tensor& scribbles, int64_t padding_index) {
  return (scribbles != padding_index).to(at::kFloat);
}

at::Tensor caffe_roi(const at::Tensor& mean_subtracted_data) {
  require(mean_subtracted_data.defined() && mean_subtracted_data.dim() == 4 && mean_subtracted_data.size(1) == 3,
          "caffe_roi", "'mean_subtracted_data'", "be a (N, 3, H, W) tensor",
          [&] { return describe_or_undefined(mean_subtracted_data); });
  return (mean_subtracted_data.abs() >= 1).any(1).to(at::kFloat);
}

DenseCrfLossImpl::DenseCrfLossImpl(DenseCrfLossOptions options) : options(std::move(options)) { reset(); }
void DenseCrfLossImpl::reset() { validate(options.kernel(), OptionSite("DenseCrfLoss").nested("kernel")); }
at::Tensor DenseCrfLossImpl::forward(const at::Tensor& images, const at::Tensor& probabilities,
                                     const at::Tensor& roi) {
  return dense_crf_loss(images, probabilities, roi, options);
}

NormalizedCutLossImpl::NormalizedCutLossImpl(NormalizedCutLossOptions options) : options(std::move(options)) {
  reset();
}
void NormalizedCutLossImpl::reset() { validate(options.kernel(), OptionSite("NormalizedCutLoss").nested("kernel")); }
at::Tensor NormalizedCutLossImpl::forward(const at::Tensor& images, const at::Tensor& probabilities,
                                          const at::Tensor& roi) {
  return normalized_cut_loss(images, probabilities, roi, options);
}

}  // namespace boundseg::losses
