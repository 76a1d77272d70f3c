// SegFix loss on differentiable ATen ops (segfix.md §5).
#include "boundseg/losses/segfix_loss.h"

#include <ATen/ATen.h>
#include <ATen/core/Reduction.h>

#include <cmath>
#include <string>

#include "boundseg/core/check.h"
#include "boundseg/core/error.h"
#include "boundseg/ops/segfix.h"

namespace boundseg::losses {
namespace {

constexpr int64_t kIgnore = -1;

void check_weight(double value, const char* name, const OptionSite& site) {
  site.require(std::isfinite(value) && value >= 0.0, name, "be finite and >= 0", [&] { return number_text(value); });
}

void check_logits(const at::Tensor& t, const char* arg, int64_t channels, const char* where) {
  const std::string name = std::string("'") + arg + "'";
  require(t.defined(), where, name, "be a defined tensor", [] { return std::string("an undefined one"); });
  require(t.dim() == 4 && at::isFloatingType(t.scalar_type()) && t.size(1) == channels, where, name,
          "be a floating point (N, " + std::to_string(channels) + ", h, w) tensor", [&] { return "a " + describe(t); });
  require(t.size(2) > 0 && t.size(3) > 0, where, name, "have a non-empty h, w", [&] { return "a " + describe(t); });
  check_cpu(t, where, arg);
}

void check_target(const at::Tensor& t, const char* arg, bool floating, const at::Tensor& logits, const char* where) {
  const std::string name = std::string("'targets.") + arg + "'";
  require(t.defined(), where, name, "be a defined tensor", [] { return std::string("an undefined one"); });
  const bool type_ok = floating ? (t.scalar_type() == at::kDouble || t.scalar_type() == at::kFloat)
                                : at::isIntegralType(t.scalar_type(), /*includeBool=*/false);
  require(t.dim() == 3 && type_ok, where, name,
          std::string("be a 3-D (N, H, W) ") + (floating ? "float32 or float64" : "integer") + " tensor",
          [&] { return "a " + describe(t); });
  require(t.size(0) == logits.size(0) && t.size(1) > 0 && t.size(2) > 0, where, name,
          "have the batch size of the logits (" + std::to_string(logits.size(0)) + ") and a non-empty H, W",
          [&] { return "a " + describe(t); });
  check_cpu(t, where, arg);
}

/// calc_weights: w[i] = 1 - count(label == i) / Σ counts over i < k, in float32 like the reference's FloatTensor.
/// Returns the weights and the counts.
std::pair<at::Tensor, at::Tensor> class_weights(const at::Tensor& label, int64_t k) {
  at::Tensor counts = at::empty({k}, at::kLong);
  for (int64_t i = 0; i < k; ++i) counts[i] = label.eq(i).sum().item<int64_t>();
  const at::Tensor c = counts.to(at::kFloat);
  return {c.div(c.sum()).neg().add(1), counts};
}

/// Weighted CE = Σ w[y]·nll / Σ w[y] (torch cross_entropy), or 0 with zero gradient where Σ w[y] = 0 (§10 #3).
at::Tensor guarded_cross_entropy(const at::Tensor& logits, const at::Tensor& target, const at::Tensor& weights,
                                 const at::Tensor& counts) {
  // Σ w[y] > 0 iff some class present among the supervised pixels has a non-zero weight.
  const bool has_weight = counts.gt(0).logical_and(weights.gt(0)).any().item<bool>();
  if (!has_weight) return logits.sum().mul(0);
  return at::cross_entropy_loss(logits, target, weights.to(logits.scalar_type()), at::Reduction::Mean, kIgnore);
}

}  // namespace

void validate(const SegFixLossOptions& options, const OptionSite& site) {
  site.require(options.max_distance() >= 0, "max_distance", "be >= 0",
          [&] { return std::to_string(options.max_distance()); });
  site.require(options.mask_threshold() >= 0.0 && options.mask_threshold() <= 1.0, "mask_threshold",
          "be in [0, 1]", [&] { return std::to_string(options.mask_threshold()); });
  check_weight(options.mask_weight(), "mask_weight", site);
  check_weight(options.direction_weight(), "direction_weight", site);
  const int64_t k = options.num_bins();
  site.require(k == 4 || k == 8 || k == 16 || k == 32, "num_bins", "be 4, 8, 16 or 32",
          [&] { return std::to_string(k); });
}

namespace functional {

SegFixLossTerms segfix_loss_terms(const at::Tensor& mask_logits, const at::Tensor& dir_logits,
                                  const SegFixTargets& targets, const SegFixLossOptions& options) {
  constexpr const char* where = "segfix_loss";
  validate(options, where);
  check_logits(mask_logits, "mask_logits", 2, where);
  check_logits(dir_logits, "dir_logits", options.num_bins(), where);
  require(dir_logits.size(0) == mask_logits.size(0) && dir_logits.scalar_type() == mask_logits.scalar_type(), where,
          "'dir_logits'", "have the batch size and dtype of 'mask_logits' (" + describe(mask_logits) + ")",
          [&] { return "a " + describe(dir_logits); });
  check_target(targets.seg, "seg", false, mask_logits, where);
  check_target(targets.distance, "distance", false, mask_logits, where);
  check_target(targets.angle, "angle", true, mask_logits, where);
  require(targets.distance.sizes() == targets.seg.sizes() && targets.angle.sizes() == targets.seg.sizes(), where,
          "'targets.distance' and 'targets.angle'", "have the size of 'targets.seg' (" + describe(targets.seg) + ")",
          [&] { return describe(targets.distance) + " and " + describe(targets.angle); });

  const at::Tensor seg = targets.seg.to(at::kLong);
  const std::vector<int64_t> size = {seg.size(1), seg.size(2)};
  // Step 1: logits to the label size.
  const at::Tensor mask_up = at::upsample_bilinear2d(mask_logits, size, /*align_corners=*/true);
  const at::Tensor dir_up = at::upsample_bilinear2d(dir_logits, size, /*align_corners=*/true);

  // Step 2: boundary mask CE with per-batch 1 - freq weights.
  const ops::SegFixTargetOptions target_options =
      ops::SegFixTargetOptions().max_distance(options.max_distance()).num_bins(options.num_bins());
  const at::Tensor mask_label = ops::segfix_mask_label(targets.distance, seg, target_options);
  const auto [mask_weights, mask_counts] = class_weights(mask_label, 2);
  const at::Tensor mask_loss = guarded_cross_entropy(mask_up, mask_label, mask_weights, mask_counts);

  // Step 3: direction CE on the pixels *predicted* as boundary (and not ignored).
  const at::Tensor predicted = at::softmax(mask_up.detach(), 1).select(1, 1).gt(options.mask_threshold());
  const at::Tensor dir_label =
      ops::segfix_direction_label(targets.angle, seg, target_options).masked_fill_(predicted.logical_not(), kIgnore);
  const auto [dir_weights, dir_counts] = class_weights(dir_label, options.num_bins());
  const at::Tensor dir_loss = guarded_cross_entropy(dir_up, dir_label, dir_weights, dir_counts);

  // Step 4.
  return {mask_loss, dir_loss, mask_loss.mul(options.mask_weight()).add(dir_loss.mul(options.direction_weight()))};
}

at::Tensor segfix_loss(const at::Tensor& mask_logits, const at::Tensor& dir_logits, const SegFixTargets& targets,
                       const SegFixLossOptions& options) {
  return segfix_loss_terms(mask_logits, dir_logits, targets, options).total;
}

}  // namespace functional

SegFixLossImpl::SegFixLossImpl(SegFixLossOptions options_) : options(std::move(options_)) { reset(); }

void SegFixLossImpl::reset() { validate(options, "SegFixLoss"); }

at::Tensor SegFixLossImpl::forward(const at::Tensor& mask_logits, const at::Tensor& dir_logits,
                                   const SegFixTargets& targets) {
  return functional::segfix_loss(mask_logits, dir_logits, targets, options);
}

}  // namespace boundseg::losses
