// SGD / AdamW updates written out so that their state is plain named tensors.
#include "boundseg/train/optimizer.h"

#include <ATen/ATen.h>
#include <torch/autograd.h>

#include <cmath>
#include <map>

#include "boundseg/core/error.h"

namespace boundseg::train {

void validate(const OptimizerOptions& p, const OptionSite& site) {
  site.require(p.type == "sgd" || p.type == "adamw", "type", "be sgd or adamw", [&] { return "'" + p.type + "'"; });
  site.require(p.lr > 0, "lr", "be > 0", [&] { return number_text(p.lr); });
  site.require(p.momentum >= 0 && p.momentum < 1, "momentum", "be in [0, 1)", [&] { return number_text(p.momentum); });
  site.require(p.weight_decay >= 0, "weight_decay", "be >= 0", [&] { return number_text(p.weight_decay); });
  site.require(p.beta1 >= 0 && p.beta1 < 1 && p.beta2 >= 0 && p.beta2 < 1, "beta1",
               "and " + site.name("beta2") + " be in [0, 1)",
               [&] { return number_text(p.beta1) + ", " + number_text(p.beta2); });
  site.require(p.clip_grad_norm >= 0, "clip_grad_norm", "be >= 0", [&] { return number_text(p.clip_grad_norm); });
}

void validate(const ScheduleOptions& s, double optimizer_lr, const OptionSite& site) {
  site.require(s.iters >= 1, "iters", "be >= 1", [&] { return std::to_string(s.iters); });
  site.require(s.warmup_iters >= 0 && s.warmup_iters < s.iters, "warmup_iters",
               "be in [0, " + site.name("iters") + ")", [&] { return std::to_string(s.warmup_iters); });
  site.require(s.min_lr >= 0 && s.min_lr <= optimizer_lr, "min_lr", "be in [0, optimizer.lr]",
               [&] { return number_text(s.min_lr); });
}

double learning_rate(const OptimizerOptions& o, const ScheduleOptions& s, int64_t iter) {
  const double poly = (o.lr - s.min_lr) * std::pow(1.0 - double(iter) / double(s.iters), s.power) + s.min_lr;
  if (iter < s.warmup_iters) {
    // mmseg linear warm-up: factor goes from warmup_ratio to 1 over warmup_iters.
    const double k = (1.0 - double(iter) / double(s.warmup_iters)) * (1.0 - s.warmup_ratio);
    return poly * (1.0 - k);
  }
  return poly;
}

Optimizer::Optimizer(std::vector<std::pair<std::string, at::Tensor>> named_parameters,
                     OptimizerOptions options)
    : options_(std::move(options)) {
  validate(options_, "Optimizer");
  for (auto& [name, p] : named_parameters) {
    if (!p.requires_grad()) continue;
    Slot slot{name, p, {}, {}, 0};
    if (options_.type == "sgd") {
      if (options_.momentum > 0) slot.buffer1 = at::zeros_like(p);
    } else {
      slot.buffer1 = at::zeros_like(p);
      slot.buffer2 = at::zeros_like(p);
    }
    slots_.push_back(std::move(slot));
  }
}

void Optimizer::zero_grad() {
  for (Slot& s : slots_) {
    if (s.param.grad().defined()) s.param.mutable_grad().zero_();
  }
}

double Optimizer::clip_gradients(double max_norm) {
  at::NoGradGuard no_grad;
  double sum = 0;
  for (const Slot& s : slots_) {
    if (s.param.grad().defined()) sum += s.param.grad().to(at::kDouble).pow(2).sum().item<double>();
  }
  const double norm = std::sqrt(sum);
  if (max_norm > 0 && norm > max_norm) {
    const double scale = max_norm / (norm + 1e-6);  // torch clip_grad_norm_
    for (Slot& s : slots_) {
      if (s.param.grad().defined()) s.param.mutable_grad().mul_(scale);
    }
  }
  return norm;
}

void Optimizer::step(double lr) {
  at::NoGradGuard no_grad;
  const OptimizerOptions& o = options_;
  for (Slot& s : slots_) {
    if (!s.param.grad().defined()) continue;
    at::Tensor g = s.param.grad();
    ++s.steps;
    if (o.type == "sgd") {
      if (o.weight_decay != 0) g = g.add(s.param, o.weight_decay);
      if (o.momentum > 0) {
        // torch: the first step copies the gradient into the buffer, later steps buf = m·buf + g.
        if (s.steps == 1) {
          s.buffer1.copy_(g);
        } else {
          s.buffer1.mul_(o.momentum).add_(g);
        }
        g = s.buffer1;
      }
      s.param.add_(g, -lr);
    } else {
      s.param.mul_(1.0 - lr * o.weight_decay);
      s.buffer1.mul_(o.beta1).add_(g, 1.0 - o.beta1);
      s.buffer2.mul_(o.beta2).addcmul_(g, g, 1.0 - o.beta2);
      const double bias1 = 1.0 - std::pow(o.beta1, double(s.steps));
      const double bias2 = 1.0 - std::pow(o.beta2, double(s.steps));
      const at::Tensor denom = (s.buffer2.sqrt() / std::sqrt(bias2)).add_(o.eps);
      s.param.addcdiv_(s.buffer1, denom, -lr / bias1);
    }
  }
}

std::vector<std::pair<std::string, at::Tensor>> Optimizer::state() const {
  std::vector<std::pair<std::string, at::Tensor>> out;
  const bool sgd = options_.type == "sgd";
  for (const Slot& s : slots_) {
    out.emplace_back(s.name + ".step", at::scalar_tensor(s.steps, at::kLong));
    if (s.buffer1.defined()) out.emplace_back(s.name + (sgd ? ".momentum_buffer" : ".exp_avg"), s.buffer1);
    if (s.buffer2.defined()) out.emplace_back(s.name + ".exp_avg_sq", s.buffer2);
  }
  return out;
}

void Optimizer::load_state(const std::map<std::string, at::Tensor>& state) {
  at::NoGradGuard no_grad;
  const bool sgd = options_.type == "sgd";
  auto get = [&](const std::string& key, const at::Tensor& like) {
    auto it = state.find(key);
    require(it != state.end(), "checkpoint", "the optimizer state", "hold '" + key + "'",
            [] { return "no such entry (was it written by another optimizer type?)"; });
    require(!like.defined() || it->second.sizes() == like.sizes(), "checkpoint", "'" + key + "'",
            "have the parameter's shape", [&] { return "another shape"; });
    return it->second;
  };
  for (Slot& s : slots_) {
    s.steps = get(s.name + ".step", {}).item<int64_t>();
    if (s.buffer1.defined()) s.buffer1.copy_(get(s.name + (sgd ? ".momentum_buffer" : ".exp_avg"), s.buffer1));
    if (s.buffer2.defined()) s.buffer2.copy_(get(s.name + ".exp_avg_sq", s.buffer2));
  }
}

}  // namespace boundseg::train
