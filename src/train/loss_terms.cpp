// CompositeLoss: name -> loss function, weighted and summed.
#include "boundseg/train/loss_terms.h"

#include <ATen/ATen.h>

#include "boundseg/config/train_config.h"
#include "boundseg/core/error.h"
#include "boundseg/losses/ocr_losses.h"

namespace boundseg::train {

std::vector<std::string> registered_losses() { return {"ce", "ohem_ce"}; }

CompositeLoss::CompositeLoss(std::vector<config::LossTermConfig> terms, int64_t ignore_index)
    : terms_(std::move(terms)), ignore_index_(ignore_index) {}

std::vector<std::string> CompositeLoss::outputs() const {
  std::vector<std::string> names;
  for (const auto& t : terms_) names.push_back(t.output);
  return names;
}

CompositeLoss::Value CompositeLoss::operator()(const std::map<std::string, at::Tensor>& outputs,
                                               const at::Tensor& target) const {
  Value value;
  for (size_t i = 0; i < terms_.size(); ++i) {
    const config::LossTermConfig& t = terms_[i];
    auto it = outputs.find(t.output);
    require(it != outputs.end(), "train", "losses[" + std::to_string(i) + "].output",
            "name an output of the network", [&] { return "'" + t.output + "'"; });
    const at::Tensor logits = it->second.to(at::kFloat);
    at::Tensor loss;
    if (!target.ne(ignore_index_).any().item<bool>()) {
      // Nothing labelled in this batch (e.g. padding only): a zero that keeps the graph, not torch's NaN.
      loss = logits.sum() * 0.0;
    } else if (t.type == "ce") {
      loss = losses::functional::weighted_cross_entropy(
          logits, target,
          losses::WeightedCrossEntropyOptions().class_weights(t.class_weights).ignore_index(ignore_index_));
    } else if (t.type == "ohem_ce") {
      loss = losses::functional::ohem_cross_entropy(logits, target,
                                                    losses::OhemCrossEntropyOptions()
                                                        .class_weights(t.class_weights)
                                                        .ignore_index(ignore_index_)
                                                        .thresh(t.ohem_thresh)
                                                        .min_kept(t.ohem_min_kept));
    } else {
      fail("train", "losses[" + std::to_string(i) + "].type", "be a registered loss", "'" + t.type + "'");
    }
    value.terms.emplace_back(t.type + "/" + t.output, loss.item<double>());
    value.total = value.total.defined() ? value.total + t.weight * loss : t.weight * loss;
  }
  return value;
}

}  // namespace boundseg::train
