// OCR training losses: weighted CE, OHEM CE and their aux + seg combinations (hrnet_ocr.md §4).
#pragma once

#include <cstdint>
#include <vector>

#include <ATen/core/Tensor.h>
#include <torch/arg.h>
#include <torch/nn/cloneable.h>
#include <torch/nn/pimpl.h>

#include "boundseg/core/options.h"

namespace boundseg::losses {

/// The Cityscapes `ce_weight` of openseg's configs (hrnet_ocr.md §4), one per train id 0..18.
std::vector<double> cityscapes_class_weights();

/// Options for the class-weighted cross entropy (hrnet_ocr.md §4, openseg FSCELoss).
struct WeightedCrossEntropyOptions {
  /// One positive finite weight per class (K entries); empty = unweighted. Default empty; the OCR recipes use
  /// cityscapes_class_weights().
  TORCH_ARG(std::vector<double>, class_weights) = {};
  /// Target value that contributes nothing. Default -1 (openseg's ce_ignore_index).
  TORCH_ARG(int64_t, ignore_index) = -1;
};

/// Options for the online-hard-example-mining cross entropy (hrnet_ocr.md §4, openseg FSOhemCELoss).
struct OhemCrossEntropyOptions {
  /// As WeightedCrossEntropyOptions::class_weights. Default empty.
  TORCH_ARG(std::vector<double>, class_weights) = {};
  /// As WeightedCrossEntropyOptions::ignore_index. Default -1.
  TORCH_ARG(int64_t, ignore_index) = -1;
  /// Pixels whose target-class probability is below max(thresh, k-th smallest probability) are kept; in [0, 1].
  /// Default 0.9 (ohem_thresh of configs/cityscapes/H_48_D_4.json).
  TORCH_ARG(double, thresh) = 0.9;
  /// k above: the selection keeps at least about min_kept pixels; >= 1 (the reference raises 0 to 1). Counted per
  /// call, i.e. per batch here and per GPU shard in the reference (hrnet_ocr.md §6 #5). Default 100000
  /// (ohem_minkeep of H_48_D_4.json).
  TORCH_ARG(int64_t, min_kept) = 100000;
  /// The reference always counts the first pixel (n, y, x) = (0, 0, 0) as valid, even when it is ignored; it then
  /// enters the mean with loss 0. false reproduces that (hrnet_ocr.md §6 #3); true counts only non-ignored pixels.
  /// Default false.
  TORCH_ARG(bool, strict_valid) = false;
};

/// Options for the aux + seg weighted cross entropy (openseg FSAuxCELoss, loss_type fs_auxce).
struct AuxCELossOptions {
  /// Class weights and ignore index of both terms.
  TORCH_ARG(WeightedCrossEntropyOptions, ce) = {};
  /// Weight of the final (seg) output's term. Default 1.0 (network.loss_weights.seg_loss).
  TORCH_ARG(double, seg_weight) = 1.0;
  /// Weight of the auxiliary (soft object region) output's term. Default 0.4 (network.loss_weights.aux_loss).
  TORCH_ARG(double, aux_weight) = 0.4;
};

/// Options for OHEM on the seg output + weighted CE on the aux output (openseg FSAuxOhemCELoss, fs_auxohemce).
struct AuxOhemCELossOptions {
  /// OHEM options of the seg term; its class_weights and ignore_index also serve the aux cross entropy.
  TORCH_ARG(OhemCrossEntropyOptions, ohem) = {};
  /// Default 1.0, as AuxCELossOptions::seg_weight.
  TORCH_ARG(double, seg_weight) = 1.0;
  /// Default 0.4, as AuxCELossOptions::aux_weight.
  TORCH_ARG(double, aux_weight) = 0.4;
};

/// Option checks at `site` (the caller's name, or a config key path). Called by the functionals, the modules'
/// reset() and the registered losses.
void validate(const WeightedCrossEntropyOptions& options, const OptionSite& site);
void validate(const OhemCrossEntropyOptions& options, const OptionSite& site);
void validate(const AuxCELossOptions& options, const OptionSite& site);
void validate(const AuxOhemCELossOptions& options, const OptionSite& site);
/// Every class weight finite and >= 0 (the key of weight i is "class_weights[i]").
void validate_class_weights(const std::vector<double>& weights, const OptionSite& site);

namespace functional {

/// Σ w[y]·nll / Σ w[y] over the non-ignored pixels (torch CrossEntropyLoss with weight and ignore_index; NaN when
/// every pixel is ignored, as there).
/// logits: (N, K, H, W) floating point; target: (N, H, W) int64 on the same device, values in [0, K) or ignore_index.
/// Returns a 0-d tensor of the logits' dtype, differentiable w.r.t. logits.
at::Tensor weighted_cross_entropy(const at::Tensor& logits, const at::Tensor& target,
                                  const WeightedCrossEntropyOptions& options = {});

/// OHEM cross entropy, hrnet_ocr.md §4: p = softmax probability of the target class (ignored pixels look up class 0);
/// among the valid pixels (see strict_valid) sorted by p, thr = max(p_sorted[min(min_kept, n - 1)], thresh); returns
/// the plain mean (not divided by Σ w) of w[y]·nll over the valid pixels with p < thr, NaN when none is kept.
/// Shapes and dtypes as weighted_cross_entropy. The selection is piecewise constant, so the gradient flows through
/// the kept pixels' losses only.
at::Tensor ohem_cross_entropy(const at::Tensor& logits, const at::Tensor& target,
                              const OhemCrossEntropyOptions& options = {});

/// seg_weight·weighted_cross_entropy(seg_logits) + aux_weight·weighted_cross_entropy(aux_logits) (FSAuxCELoss).
/// aux_logits, seg_logits: (N, K, H, W) of one dtype; target: (N, H, W) int64 at that resolution (the reference's
/// nearest resize of the target is then a no-op; other sizes are rejected).
at::Tensor aux_ce_loss(const at::Tensor& aux_logits, const at::Tensor& seg_logits, const at::Tensor& target,
                       const AuxCELossOptions& options = {});

/// seg_weight·ohem_cross_entropy(seg_logits) + aux_weight·weighted_cross_entropy(aux_logits) (FSAuxOhemCELoss), the
/// aux term with the OHEM options' class_weights and ignore_index. Shapes as aux_ce_loss.
at::Tensor aux_ohem_ce_loss(const at::Tensor& aux_logits, const at::Tensor& seg_logits, const at::Tensor& target,
                            const AuxOhemCELossOptions& options = {});

}  // namespace functional

/// Module form of functional::weighted_cross_entropy; holds only its validated options.
class WeightedCrossEntropyLossImpl : public torch::nn::Cloneable<WeightedCrossEntropyLossImpl> {
 public:
  explicit WeightedCrossEntropyLossImpl(WeightedCrossEntropyOptions options = {});
  void reset() override;
  at::Tensor forward(const at::Tensor& logits, const at::Tensor& target);
  WeightedCrossEntropyOptions options;
};
TORCH_MODULE(WeightedCrossEntropyLoss);

/// Module form of functional::ohem_cross_entropy.
class OhemCrossEntropyLossImpl : public torch::nn::Cloneable<OhemCrossEntropyLossImpl> {
 public:
  explicit OhemCrossEntropyLossImpl(OhemCrossEntropyOptions options = {});
  void reset() override;
  at::Tensor forward(const at::Tensor& logits, const at::Tensor& target);
  OhemCrossEntropyOptions options;
};
TORCH_MODULE(OhemCrossEntropyLoss);

/// Module form of functional::aux_ce_loss.
class AuxCELossImpl : public torch::nn::Cloneable<AuxCELossImpl> {
 public:
  explicit AuxCELossImpl(AuxCELossOptions options = {});
  void reset() override;
  at::Tensor forward(const at::Tensor& aux_logits, const at::Tensor& seg_logits, const at::Tensor& target);
  AuxCELossOptions options;
};
TORCH_MODULE(AuxCELoss);

/// Module form of functional::aux_ohem_ce_loss.
class AuxOhemCELossImpl : public torch::nn::Cloneable<AuxOhemCELossImpl> {
 public:
  explicit AuxOhemCELossImpl(AuxOhemCELossOptions options = {});
  void reset() override;
  at::Tensor forward(const at::Tensor& aux_logits, const at::Tensor& seg_logits, const at::Tensor& target);
  AuxOhemCELossOptions options;
};
TORCH_MODULE(AuxOhemCELoss);

}  // namespace boundseg::losses
