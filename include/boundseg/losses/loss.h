// The training-loss interface and the registry of losses by name. A loss reads named network outputs and named
// batch targets and declares both, so the trainer checks the network and the loader computes exactly those targets.
// Adding a loss: one file in src/losses/terms/ and one line in src/losses/loss.cpp (docs/ARCHITECTURE.md).
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "boundseg/core/options.h"
#include "boundseg/core/registry.h"

namespace boundseg::losses {

using TensorMap = std::map<std::string, at::Tensor>;

/// The network output every segmenter has: class logits (N, K, H, W) at the input size.
inline constexpr const char* kMainOutput = "out";
/// The target every batch has: (N, H, W) int64 train ids, the ignore index where unlabelled or padded.
inline constexpr const char* kLabels = "labels";

/// What a loss knows of the task.
using LossContext = TaskContext;

/// A training loss. Options are fixed at construction (a registered loss reads them through its key list).
class Loss {
 public:
  virtual ~Loss() = default;
  /// Network outputs it reads, e.g. {"out"}.
  virtual std::vector<std::string> outputs() const = 0;
  /// Batch targets it reads, e.g. {"labels", "cbl_boundary"} (data/target.h lists the registered ones).
  virtual std::vector<std::string> targets() const = 0;
  /// 0-d float value, differentiable w.r.t. the outputs. `outputs` and `targets` hold at least the declared names.
  virtual at::Tensor forward(const TensorMap& outputs, const TensorMap& targets) const = 0;
  /// Visits a copy of the options with `keys` (writers print the resolved configuration).
  virtual void write_keys(OptionKeys& keys) const = 0;
};

/// A registered loss.
using LossEntry = Entry<Loss>;

const Registry<LossEntry>& loss_registry();
std::vector<std::string> registered_losses();

/// `weight` · loss, logged as "<type>/<outputs>".
struct LossTerm {
  std::string type;
  double weight = 1.0;
  std::shared_ptr<Loss> loss;
};

/// A registered loss by name, its options given as text ({{"output", "aux"}, {"class_weights", "cityscapes"}}) over
/// the defaults (programs and tests that build a loss without a config file).
LossTerm make_loss_term(const std::string& type, const LossContext& context, double weight = 1.0,
                        const std::vector<std::pair<std::string, std::string>>& options = {});

/// Σ weight_i · loss_i, with each unweighted term's value for logging.
class WeightedSum {
 public:
  explicit WeightedSum(std::vector<LossTerm> terms);

  struct Value {
    at::Tensor total;  ///< 0-d, differentiable
    /// "<type>/<outputs>" -> unweighted term value.
    std::vector<std::pair<std::string, double>> terms;
  };
  Value operator()(const TensorMap& outputs, const TensorMap& targets) const;

  /// Every output and every target the terms read, without repeats.
  std::vector<std::string> outputs() const;
  std::vector<std::string> targets() const;
  const std::vector<LossTerm>& terms() const { return terms_; }

 private:
  std::vector<LossTerm> terms_;
};

// ---- Building blocks for loss files.

/// Base of losses on one logits output (`output`, default "out", an option of every such loss): the derived class
/// D provides `using Options`, `static void keys(Options&, OptionKeys&)`, `static void validate(const Options&,
/// const LossContext&, const OptionSite&)`, `std::vector<std::string> targets() const` and
/// `at::Tensor compute(const at::Tensor& logits, const TensorMap& targets) const` (logits as float).
template <typename D, typename OptionsT>
class LogitsLoss : public Loss {
 public:
  using Options = OptionsT;
  LogitsLoss(std::string output, Options options, LossContext context)
      : output_(std::move(output)), options_(std::move(options)), context_(context) {}

  std::vector<std::string> outputs() const override { return {output_}; }
  at::Tensor forward(const TensorMap& outputs, const TensorMap& targets) const override;
  void write_keys(OptionKeys& keys) const override {
    std::string output = output_;
    Options options = options_;
    keys("output", output);
    D::keys(options, keys);
  }
  const Options& options() const { return options_; }

  /// The registry entry of D.
  static LossEntry entry(std::string name, std::string summary) {
    return {std::move(name), std::move(summary),
            [](OptionKeys* keys, const LossContext& context, const OptionSite& site) -> std::shared_ptr<Loss> {
              std::string output = kMainOutput;
              Options options;
              if (keys) {
                (*keys)("output", output);
                D::keys(options, *keys);
              }
              D::validate(options, context, site);
              return std::make_shared<D>(std::move(output), std::move(options), context);
            }};
  }

 protected:
  std::string output_;
  Options options_;
  LossContext context_;
};

/// The named tensor, or an error naming the loss and the missing name.
const at::Tensor& named(const TensorMap& tensors, const std::string& name, const char* loss, const char* kind);

template <typename D, typename OptionsT>
at::Tensor LogitsLoss<D, OptionsT>::forward(const TensorMap& outputs, const TensorMap& targets) const {
  const at::Tensor logits = named(outputs, output_, "loss", "network output").to(at::kFloat);
  return static_cast<const D*>(this)->compute(logits, targets);
}

/// True when some label differs from the ignore index. Supervised losses return zero_like_loss(logits) otherwise:
/// a zero that keeps the graph, instead of torch's NaN over an empty set.
bool any_labelled(const at::Tensor& labels, int64_t ignore_index);
at::Tensor zero_like_loss(const at::Tensor& logits);

}  // namespace boundseg::losses
