// CompositeLoss: name -> loss function, weighted and summed.
#include "boundseg/train/loss_terms.h"

#include <ATen/ATen.h>

#include <limits>

#include "boundseg/config/train_config.h"
#include "boundseg/core/error.h"
#include "boundseg/data/loader.h"
#include "boundseg/losses/ocr_losses.h"
#include "boundseg/losses/rloss.h"

namespace boundseg::train {

std::vector<std::string> registered_losses() {
  return {"ce", "ohem_ce", "boundary_ce", "pce", "densecrf", "ncut", "size"};
}

namespace {

losses::CrfKernelOptions crf_kernel(const config::LossTermConfig& t) {
  return losses::CrfKernelOptions()
      .sigma_rgb(t.sigma_rgb)
      .sigma_xy(t.sigma_xy)
      .scale_factor(t.scale_factor)
      .gradient(t.gradient == "exact" ? losses::CrfGradient::kExact : losses::CrfGradient::kReference)
      .lattice(t.lattice == "reference" ? ops::LatticeMode::kReference : ops::LatticeMode::kClean);
}

// Size bounds from the labels: a class labelled in the crop covers at least max(its labelled pixels, min_fraction
// of the ROI). Classes without a labelled pixel stay unconstrained: with scribbles (or crops) an unlabelled class
// may still be present.
at::Tensor size_term(const at::Tensor& probabilities, const data::Batch& batch, int64_t ignore_index,
                     double min_fraction) {
  const int64_t N = probabilities.size(0), K = probabilities.size(1);
  const at::Tensor labels = batch.labels.to(probabilities.device()).reshape({N, -1});
  const at::Tensor valid = labels != ignore_index;
  require(!(valid & ((labels < 0) | (labels >= K))).any().item<bool>(), "train", "the labels of a size term",
          "be class ids below " + std::to_string(K) + " or the ignore index",
          [] { return "a value out of range"; });
  const at::Tensor counts = at::zeros({N, K}, probabilities.options())
                                .scatter_add_(1, at::where(valid, labels, at::zeros_like(labels)),
                                              valid.to(probabilities.scalar_type()));
  const at::Tensor roi = batch.roi.to(probabilities.device());
  const at::Tensor area = roi.sum({1, 2}).unsqueeze(1);
  const at::Tensor present = counts > 0;
  const at::Tensor lower = at::where(present, at::maximum(counts, area * min_fraction), at::zeros_like(counts));
  const at::Tensor upper = at::full_like(counts, std::numeric_limits<float>::infinity());
  return losses::size_loss(probabilities, roi, lower, upper);
}

}  // namespace

CompositeLoss::CompositeLoss(std::vector<config::LossTermConfig> terms, int64_t ignore_index)
    : terms_(std::move(terms)), ignore_index_(ignore_index) {}

std::vector<std::string> CompositeLoss::outputs() const {
  std::vector<std::string> names;
  for (const auto& t : terms_) names.push_back(t.output);
  return names;
}

CompositeLoss::Value CompositeLoss::operator()(const std::map<std::string, at::Tensor>& outputs,
                                               const data::Batch& batch) const {
  const at::Tensor& target = batch.labels;
  Value value;
  for (size_t i = 0; i < terms_.size(); ++i) {
    const config::LossTermConfig& t = terms_[i];
    auto it = outputs.find(t.output);
    require(it != outputs.end(), "train", "losses[" + std::to_string(i) + "].output",
            "name an output of the network", [&] { return "'" + t.output + "'"; });
    const at::Tensor logits = it->second.to(at::kFloat);
    at::Tensor loss;
    const bool regulariser = t.type == "densecrf" || t.type == "ncut";
    if (!regulariser && !target.ne(ignore_index_).any().item<bool>()) {
      // Nothing labelled in this batch (e.g. padding only): a zero that keeps the graph, not torch's NaN.
      loss = logits.sum() * 0.0;
    } else if (t.type == "ce") {
      loss = losses::functional::weighted_cross_entropy(
          logits, target,
          losses::WeightedCrossEntropyOptions().class_weights(t.class_weights).ignore_index(ignore_index_));
    } else if (t.type == "boundary_ce") {
      // Cross entropy over the boundary map's pixels only; a crop without a boundary pixel contributes 0.
      const at::Tensor on_boundary = batch.boundary.to(target.device()) == 1;
      const at::Tensor boundary_target = at::where(on_boundary, target, at::full_like(target, ignore_index_));
      loss = boundary_target.ne(ignore_index_).any().item<bool>()
                 ? losses::functional::weighted_cross_entropy(
                       logits, boundary_target,
                       losses::WeightedCrossEntropyOptions().class_weights(t.class_weights).ignore_index(ignore_index_))
                 : logits.sum() * 0.0;
    } else if (t.type == "ohem_ce") {
      loss = losses::functional::ohem_cross_entropy(logits, target,
                                                    losses::OhemCrossEntropyOptions()
                                                        .class_weights(t.class_weights)
                                                        .ignore_index(ignore_index_)
                                                        .thresh(t.ohem_thresh)
                                                        .min_kept(t.ohem_min_kept));
    } else if (t.type == "pce") {
      // Padding is already ignore_index in the batch labels; the ROI keeps it out of the regularisers.
      loss = losses::partial_cross_entropy(logits, target,
                                           losses::PartialCrossEntropyOptions()
                                               .ignore_index(ignore_index_)
                                               .padding_index(ignore_index_)
                                               .batch_average(t.batch_average));
    } else if (t.type == "densecrf") {
      loss = losses::dense_crf_loss(batch.rgb, at::softmax(logits, 1), batch.roi,
                                    losses::DenseCrfLossOptions().weight(1.0).kernel(crf_kernel(t)));
    } else if (t.type == "ncut") {
      loss = losses::normalized_cut_loss(batch.rgb, at::softmax(logits, 1), batch.roi,
                                         losses::NormalizedCutLossOptions().weight(1.0).kernel(crf_kernel(t)));
    } else if (t.type == "size") {
      loss = size_term(at::softmax(logits, 1), batch, ignore_index_, t.size_min_fraction);
    } else {
      fail("train", "losses[" + std::to_string(i) + "].type", "be a registered loss", "'" + t.type + "'");
    }
    value.terms.emplace_back(t.type + "/" + t.output, loss.item<double>());
    value.total = value.total.defined() ? value.total + t.weight * loss : t.weight * loss;
  }
  return value;
}

}  // namespace boundseg::train
