// The loss registry and the weighted sum of loss terms.
#include "boundseg/losses/loss.h"

#include <ATen/ATen.h>

#include <algorithm>

#include "boundseg/core/error.h"

namespace boundseg::losses {

using RegisteredProduct = Loss;
// One name per loss: its entry function is defined in src/losses/terms/<name>.cpp.
#define BOUNDSEG_LOSSES(X) X(ce) X(ohem_ce) X(boundary_ce) X(pce) X(densecrf) X(ncut) X(size)
BOUNDSEG_DEFINE_REGISTRY(loss_registry, BOUNDSEG_LOSSES)

std::vector<std::string> registered_losses() { return loss_registry().names(); }

LossTerm make_loss_term(const std::string& type, const LossContext& context, double weight,
                        const std::vector<std::pair<std::string, std::string>>& options) {
  const LossEntry& entry = loss_registry().at(type, "loss", "the loss type");
  TextKeys keys(options, type);
  LossTerm term{type, weight, entry.make(&keys, context, OptionSite(type))};
  keys.finish();
  return term;
}

const at::Tensor& named(const TensorMap& tensors, const std::string& name, const char* loss, const char* kind) {
  auto it = tensors.find(name);
  if (it == tensors.end() || !it->second.defined()) {
    std::string present;
    for (const auto& [key, value] : tensors) present += (present.empty() ? "" : ", ") + key;
    fail(loss, std::string("the ") + kind + " '" + name + "'", "be given",
         "only " + (present.empty() ? std::string("none") : present));
  }
  return it->second;
}

bool any_labelled(const at::Tensor& labels, int64_t ignore_index) { return labels.ne(ignore_index).any().item<bool>(); }

at::Tensor zero_like_loss(const at::Tensor& logits) { return logits.sum() * 0.0; }

namespace {

void add_unique(std::vector<std::string>& names, const std::vector<std::string>& more) {
  for (const std::string& n : more) {
    if (std::find(names.begin(), names.end(), n) == names.end()) names.push_back(n);
  }
}

std::string term_label(const LossTerm& term) {
  std::string outputs;
  for (const std::string& o : term.loss->outputs()) outputs += (outputs.empty() ? "" : "+") + o;
  return term.type + "/" + outputs;
}

}  // namespace

WeightedSum::WeightedSum(std::vector<LossTerm> terms) : terms_(std::move(terms)) {}

std::vector<std::string> WeightedSum::outputs() const {
  std::vector<std::string> names;
  for (const LossTerm& t : terms_) add_unique(names, t.loss->outputs());
  return names;
}

std::vector<std::string> WeightedSum::targets() const {
  std::vector<std::string> names;
  for (const LossTerm& t : terms_) add_unique(names, t.loss->targets());
  return names;
}

WeightedSum::Value WeightedSum::operator()(const TensorMap& outputs, const TensorMap& targets) const {
  Value value;
  for (const LossTerm& t : terms_) {
    const at::Tensor loss = t.loss->forward(outputs, targets);
    value.terms.emplace_back(term_label(t), loss.item<double>());
    value.total = value.total.defined() ? value.total + t.weight * loss : t.weight * loss;
  }
  return value;
}

}  // namespace boundseg::losses
