// SGD with momentum and AdamW with explicit state (for safetensors checkpoints), and the poly schedule with warm-up.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "boundseg/core/options.h"

namespace boundseg::train {

struct OptimizerOptions {
  /// sgd | adamw. Default sgd.
  std::string type = "sgd";
  /// Defaults 0.01, 0.9, 5e-4 (the openseg recipes).
  double lr = 0.01, momentum = 0.9, weight_decay = 5e-4;
  /// AdamW. Defaults 0.9, 0.999, 1e-8.
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  /// Clip the global gradient L2 norm to this value; 0 = off.
  double clip_grad_norm = 0;
};
void validate(const OptimizerOptions& options, const OptionSite& site);

struct ScheduleOptions {
  /// Training iterations. Default 80000.
  int64_t iters = 80000;
  /// lr = (lr0 - min_lr) (1 - it / iters)^power + min_lr after warm-up. Defaults 0.9, 0.
  double power = 0.9, min_lr = 0;
  /// Linear warm-up from warmup_ratio · lr over warmup_iters. Defaults 0, 0.1.
  int64_t warmup_iters = 0;
  double warmup_ratio = 0.1;
};
/// Also checks min_lr <= optimizer.lr (`optimizer_lr`).
void validate(const ScheduleOptions& options, double optimizer_lr, const OptionSite& site);

/// The learning rate at iteration `iter` (0-based): linear warm-up from warmup_ratio · lr over warmup_iters, then
/// (lr - min_lr) · (1 - iter / iters)^power + min_lr (mmseg/openseg poly).
double learning_rate(const OptimizerOptions& optimizer, const ScheduleOptions& schedule, int64_t iter);

/// torch.optim.SGD (momentum, dampening 0, weight decay added to the gradient) or torch.optim.AdamW (decoupled
/// weight decay, bias-corrected moments), same update formulas; the state is a list of named tensors.
class Optimizer {
 public:
  Optimizer(std::vector<std::pair<std::string, at::Tensor>> named_parameters, OptimizerOptions options);

  /// One update with learning rate `lr` from the parameters' .grad() (parameters without a gradient are skipped).
  void step(double lr);
  /// Global L2 norm of the gradients, scaled down to `max_norm` when larger (torch clip_grad_norm_); returns the
  /// norm before clipping.
  double clip_gradients(double max_norm);
  void zero_grad();

  /// "<param>.<state>" -> tensor (momentum_buffer; exp_avg, exp_avg_sq), plus "step" counts as 0-d int64.
  std::vector<std::pair<std::string, at::Tensor>> state() const;
  /// Restores state(); every entry must be present with its shape.
  void load_state(const std::map<std::string, at::Tensor>& state);

 private:
  struct Slot {
    std::string name;
    at::Tensor param, buffer1, buffer2;
    int64_t steps = 0;
  };
  std::vector<Slot> slots_;
  OptimizerOptions options_;
};

}  // namespace boundseg::train
