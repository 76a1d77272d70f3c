// OCR training losses on top of differentiable ATen ops (hrnet_ocr.md §4).
#include "boundseg/losses/ocr_losses.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <utility>

#include <ATen/ATen.h>
#include <ATen/core/Reduction.h>

#include "boundseg/core/check.h"
#include "boundseg/core/error.h"

namespace boundseg::losses {

std::vector<double> cityscapes_class_weights() {
  // openseg configs/cityscapes/*.json loss.params.ce_weight, train ids 0 (road) .. 18 (bicycle).
  return {0.8373, 0.9180, 0.8660, 1.0345, 1.0166, 0.9969, 0.9754, 1.0489, 0.8786, 1.0023,
          0.9539, 0.9843, 1.1116, 0.9037, 1.0865, 1.0955, 1.0865, 1.1529, 1.0507};
}

namespace {

std::string num(double v) { return number_text(v); }

void check_term_weight(double value, const char* name, const OptionSite& site) {
  site.require(std::isfinite(value) && value >= 0.0, name, "be finite and >= 0", [&] { return num(value); });
}

/// logits: (N, K, H, W) floating point with K >= 1 and, when class weights are given, K == their count.
void check_logits(const at::Tensor& logits, const char* arg, const std::vector<double>& weights, const char* where) {
  const std::string name = std::string("'") + arg + "'";
  require(logits.defined(), where, name, "be a defined tensor", [] { return "an undefined one"; });
  require(logits.dim() == 4, where, name, "be a 4-D tensor (N, K, H, W)", [&] { return "a " + describe(logits); });
  require(at::isFloatingType(logits.scalar_type()), where, name, "be a floating point tensor",
          [&] { return "a " + describe(logits); });
  require(logits.size(1) >= 1, where, name, "have at least one class channel", [&] { return "a " + describe(logits); });
  require(weights.empty() || logits.size(1) == static_cast<int64_t>(weights.size()), where, name,
          "have one channel per class weight (K = " + std::to_string(weights.size()) + ")",
          [&] { return "a " + describe(logits); });
}

/// target: (N, H, W) int64 on the logits' device with the logits' N, H and W.
void check_target_shape(const at::Tensor& target, const at::Tensor& logits, const char* logits_arg,
                        const char* where) {
  require(target.defined(), where, "'target'", "be a defined tensor", [] { return "an undefined one"; });
  require(target.scalar_type() == at::kLong, where, "'target'", "be an int64 tensor (N, H, W)",
          [&] { return "a " + describe(target); });
  require(target.dim() == 3, where, "'target'", "be a 3-D tensor (N, H, W)", [&] { return "a " + describe(target); });
  require(target.device() == logits.device(), where, "'target'",
          std::string("be on the device of '") + logits_arg + "' (" + logits.device().str() + ")",
          [&] { return target.device().str(); });
  // No implicit resize: openseg nearest-resizes the target to the prediction size, a no-op for OCR (§4).
  const bool same = target.size(0) == logits.size(0) && target.size(1) == logits.size(2) &&
                    target.size(2) == logits.size(3);
  require(same, where, "'target'",
          std::string("have the (N, H, W) of '") + logits_arg + "' ([" + std::to_string(logits.size(0)) + ", " +
              std::to_string(logits.size(2)) + ", " + std::to_string(logits.size(3)) + "])",
          [&] { return "a " + describe(target) + "; resize the target to the prediction size first"; });
}

/// Every target value is in [0, K) or ignore_index. One device-to-host sync per call.
void check_target_values(const at::Tensor& target, int64_t num_classes, int64_t ignore_index, const char* where) {
  const at::Tensor bad = target.ne(ignore_index).logical_and(target.lt(0).logical_or(target.ge(num_classes)));
  if (!bad.any().item<bool>()) return;
  const int64_t first = target.masked_select(bad).flatten()[0].item<int64_t>();
  fail(where, "'target' values",
       "be in [0, " + std::to_string(num_classes) + ") or equal the ignore_index " + std::to_string(ignore_index),
       std::to_string(first));
}

/// Class weights as a tensor of the logits' dtype and device (the reference uses a float32 tensor of the config
/// values, i.e. the same rounding for float32 logits); undefined when unweighted.
at::Tensor weight_tensor(const std::vector<double>& weights, const at::Tensor& logits) {
  if (weights.empty()) return {};
  return at::tensor(c10::ArrayRef<double>(weights), at::TensorOptions().dtype(at::kDouble)).to(logits.options());
}

// The *_unchecked forms trust validated inputs; the aux losses share one validation.

at::Tensor weighted_cross_entropy_unchecked(const at::Tensor& logits, const at::Tensor& target,
                                            const std::vector<double>& weights, int64_t ignore_index) {
  // torch CrossEntropyLoss(weight, ignore_index): mean = Σ w[y]·nll / Σ w[y] over non-ignored pixels.
  return at::nll_loss2d(at::log_softmax(logits, 1), target, weight_tensor(weights, logits), at::Reduction::Mean,
                        ignore_index);
}

at::Tensor ohem_cross_entropy_unchecked(const at::Tensor& logits, const at::Tensor& target,
                                        const OhemCrossEntropyOptions& options) {
  const int64_t ignore_index = options.ignore_index();
  const at::Tensor ignored = target.eq(ignore_index);

  // Step 1 (§4): probability of the target class, ignored pixels looking up class 0. The selection is a
  // non-differentiable function of the logits, so it works on detached values.
  const at::Tensor lookup = target.masked_fill(ignored, 0);
  const at::Tensor prob = at::softmax(logits.detach(), 1).gather(1, lookup.unsqueeze(1)).reshape({-1});

  // Step 2: valid pixels, flat (n, y, x) order; the reference always counts pixel 0 (§6 #3).
  at::Tensor valid = ignored.logical_not().reshape({-1});
  if (!options.strict_valid() && valid.numel() > 0) valid.narrow(0, 0, 1).fill_(true);
  const at::Tensor valid_index = at::nonzero(valid).reshape({-1});
  const int64_t n = valid_index.numel();

  // Step 3: ascending sort of the valid probabilities, thr = max(p_sorted[min(min_kept, n - 1)], thresh), keep p < thr.
  // Taking the kept pixels in sorted order, as the reference does, keeps its float summation order in the mean.
  at::Tensor selected = valid_index;  // empty when n == 0: the mean below is then NaN, as the reference's
  if (n > 0) {
    at::Tensor sorted_prob, order;
    std::tie(sorted_prob, order) = at::sort(prob.index_select(0, valid_index));
    const int64_t k = std::min(options.min_kept(), n - 1);
    // clamp_min compares in the probabilities' dtype, like the reference's max(tensor, float) and tensor < float.
    const at::Tensor threshold = sorted_prob.narrow(0, k, 1).clamp_min(options.thresh());
    selected = valid_index.index_select(0, order).masked_select(sorted_prob.lt(threshold));
  }

  // Step 4: per-pixel w[y]·nll (0 on ignored pixels, so an ignored pixel 0 still counts in the denominator), plain
  // mean over the kept pixels, not divided by Σ w (§6 #4).
  const at::Tensor per_pixel = at::nll_loss2d(at::log_softmax(logits, 1), target,
                                              weight_tensor(options.class_weights(), logits), at::Reduction::None,
                                              ignore_index);
  return per_pixel.reshape({-1}).index_select(0, selected).mean();
}

void check_inputs(const at::Tensor& logits, const char* logits_arg, const at::Tensor& target,
                  const std::vector<double>& weights, int64_t ignore_index, const char* where) {
  check_logits(logits, logits_arg, weights, where);
  check_target_shape(target, logits, logits_arg, where);
  check_target_values(target, logits.size(1), ignore_index, where);
}

void check_aux_inputs(const at::Tensor& aux_logits, const at::Tensor& seg_logits, const at::Tensor& target,
                      const std::vector<double>& weights, int64_t ignore_index, const char* where) {
  check_logits(aux_logits, "aux_logits", weights, where);
  check_logits(seg_logits, "seg_logits", weights, where);
  require(aux_logits.sizes() == seg_logits.sizes(), where, "'aux_logits'",
          "have the shape of 'seg_logits' (" + describe(seg_logits) + ")", [&] { return "a " + describe(aux_logits); });
  require(aux_logits.scalar_type() == seg_logits.scalar_type(), where, "'aux_logits'",
          std::string("have the dtype of 'seg_logits' (") + c10::toString(seg_logits.scalar_type()) + ")",
          [&] { return "a " + describe(aux_logits); });
  check_target_shape(target, seg_logits, "seg_logits", where);
  check_target_shape(target, aux_logits, "aux_logits", where);
  check_target_values(target, seg_logits.size(1), ignore_index, where);
}

}  // namespace

void validate_class_weights(const std::vector<double>& weights, const OptionSite& site) {
  for (size_t i = 0; i < weights.size(); ++i) {
    site.require(std::isfinite(weights[i]) && weights[i] >= 0.0, "class_weights[" + std::to_string(i) + "]",
                 "be finite and >= 0", [&] { return num(weights[i]); });
  }
}

void validate(const WeightedCrossEntropyOptions& options, const OptionSite& site) {
  validate_class_weights(options.class_weights(), site);
}

void validate(const OhemCrossEntropyOptions& options, const OptionSite& site) {
  validate_class_weights(options.class_weights(), site);
  site.require(options.thresh() >= 0.0 && options.thresh() <= 1.0, "thresh", "be in [0, 1]",
               [&] { return num(options.thresh()); });
  site.require(options.min_kept() >= 1, "min_kept", "be >= 1", [&] { return std::to_string(options.min_kept()); });
}

void validate(const AuxCELossOptions& options, const OptionSite& site) {
  validate(options.ce(), site);
  check_term_weight(options.seg_weight(), "seg_weight", site);
  check_term_weight(options.aux_weight(), "aux_weight", site);
}

void validate(const AuxOhemCELossOptions& options, const OptionSite& site) {
  validate(options.ohem(), site);
  check_term_weight(options.seg_weight(), "seg_weight", site);
  check_term_weight(options.aux_weight(), "aux_weight", site);
}

namespace functional {

at::Tensor weighted_cross_entropy(const at::Tensor& logits, const at::Tensor& target,
                                  const WeightedCrossEntropyOptions& options) {
  constexpr const char* where = "weighted_cross_entropy";
  validate(options, where);
  check_inputs(logits, "logits", target, options.class_weights(), options.ignore_index(), where);
  return weighted_cross_entropy_unchecked(logits, target, options.class_weights(), options.ignore_index());
}

at::Tensor ohem_cross_entropy(const at::Tensor& logits, const at::Tensor& target,
                              const OhemCrossEntropyOptions& options) {
  constexpr const char* where = "ohem_cross_entropy";
  validate(options, where);
  check_inputs(logits, "logits", target, options.class_weights(), options.ignore_index(), where);
  return ohem_cross_entropy_unchecked(logits, target, options);
}

at::Tensor aux_ce_loss(const at::Tensor& aux_logits, const at::Tensor& seg_logits, const at::Tensor& target,
                       const AuxCELossOptions& options) {
  constexpr const char* where = "aux_ce_loss";
  validate(options, where);
  const auto& ce = options.ce();
  check_aux_inputs(aux_logits, seg_logits, target, ce.class_weights(), ce.ignore_index(), where);
  const at::Tensor seg = weighted_cross_entropy_unchecked(seg_logits, target, ce.class_weights(), ce.ignore_index());
  const at::Tensor aux = weighted_cross_entropy_unchecked(aux_logits, target, ce.class_weights(), ce.ignore_index());
  return seg.mul(options.seg_weight()).add(aux.mul(options.aux_weight()));
}

at::Tensor aux_ohem_ce_loss(const at::Tensor& aux_logits, const at::Tensor& seg_logits, const at::Tensor& target,
                            const AuxOhemCELossOptions& options) {
  constexpr const char* where = "aux_ohem_ce_loss";
  validate(options, where);
  const auto& ohem = options.ohem();
  check_aux_inputs(aux_logits, seg_logits, target, ohem.class_weights(), ohem.ignore_index(), where);
  const at::Tensor seg = ohem_cross_entropy_unchecked(seg_logits, target, ohem);
  const at::Tensor aux =
      weighted_cross_entropy_unchecked(aux_logits, target, ohem.class_weights(), ohem.ignore_index());
  return seg.mul(options.seg_weight()).add(aux.mul(options.aux_weight()));
}

}  // namespace functional

WeightedCrossEntropyLossImpl::WeightedCrossEntropyLossImpl(WeightedCrossEntropyOptions options)
    : options(std::move(options)) {
  reset();
}
void WeightedCrossEntropyLossImpl::reset() { validate(options, "WeightedCrossEntropyLoss"); }
at::Tensor WeightedCrossEntropyLossImpl::forward(const at::Tensor& logits, const at::Tensor& target) {
  return functional::weighted_cross_entropy(logits, target, options);
}

OhemCrossEntropyLossImpl::OhemCrossEntropyLossImpl(OhemCrossEntropyOptions options) : options(std::move(options)) {
  reset();
}
void OhemCrossEntropyLossImpl::reset() { validate(options, "OhemCrossEntropyLoss"); }
at::Tensor OhemCrossEntropyLossImpl::forward(const at::Tensor& logits, const at::Tensor& target) {
  return functional::ohem_cross_entropy(logits, target, options);
}

AuxCELossImpl::AuxCELossImpl(AuxCELossOptions options) : options(std::move(options)) { reset(); }
void AuxCELossImpl::reset() { validate(options, "AuxCELoss"); }
at::Tensor AuxCELossImpl::forward(const at::Tensor& aux_logits, const at::Tensor& seg_logits,
                                  const at::Tensor& target) {
  return functional::aux_ce_loss(aux_logits, seg_logits, target, options);
}

AuxOhemCELossImpl::AuxOhemCELossImpl(AuxOhemCELossOptions options) : options(std::move(options)) { reset(); }
void AuxOhemCELossImpl::reset() { validate(options, "AuxOhemCELoss"); }
at::Tensor AuxOhemCELossImpl::forward(const at::Tensor& aux_logits, const at::Tensor& seg_logits,
                                      const at::Tensor& target) {
  return functional::aux_ohem_ce_loss(aux_logits, seg_logits, target, options);
}

}  // namespace boundseg::losses
