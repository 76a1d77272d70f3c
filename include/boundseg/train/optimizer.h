// SGD with momentum and AdamW with explicit state (for safetensors checkpoints), and the poly schedule with warm-up.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "boundseg/config/train_config.h"

namespace boundseg::train {

/// The learning rate at iteration `iter` (0-based): linear warm-up from warmup_ratio · lr over warmup_iters, then
/// (lr - min_lr) · (1 - iter / iters)^power + min_lr (mmseg/openseg poly).
double learning_rate(const config::OptimizerConfig& optimizer, const config::ScheduleConfig& schedule, int64_t iter);

/// torch.optim.SGD (momentum, dampening 0, weight decay added to the gradient) or torch.optim.AdamW (decoupled
/// weight decay, bias-corrected moments), same update formulas; the state is a list of named tensors.
class Optimizer {
 public:
  Optimizer(std::vector<std::pair<std::string, at::Tensor>> named_parameters, config::OptimizerConfig options);

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
  config::OptimizerConfig options_;
};

}  // namespace boundseg::train
