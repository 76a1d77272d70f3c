// openseg.pytorch HighResolutionNet (hrnet_ocr.md §1): blocks, transitions, multi-resolution modules, stem.
#include "boundseg/models/hrnet.h"

#include <torch/csrc/autograd/custom_function.h>

#include <ATen/ATen.h>
#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/options/conv.h>
#include <torch/utils.h>

#include <ostream>

#include "boundseg/core/error.h"
#include "models/resize_like.h"
#include <ATen/Parallel.h>

#include "boundseg/core/check.h"

namespace boundseg::models {
namespace {

Conv2d conv(int64_t in, int64_t out, int64_t kernel, int64_t stride) {
  // All backbone convs are bias-free; 3x3 convs keep the size (pad 1) or halve it rounded up (stride 2).
  return Conv2d(torch::nn::Conv2dOptions(in, out, kernel).stride(stride).padding(kernel / 2).bias(false));
}

std::string join(const std::vector<int64_t>& v) {
  std::string s = "{";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + std::to_string(v[i]);
  return s + "}";
}

}  // namespace

// ------------------------------------------------------------------------------------------------------------------
// BatchNorm

namespace {

// y = Σ over processes of x; the gradient of a sum over processes is the sum of the processes' gradients.
class AllReduceSumFunction : public torch::autograd::Function<AllReduceSumFunction> {
 public:
  // The reducer travels as an address because saved_data holds IValues; the module owns it for the whole step.
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& x, int64_t reducer) {
    ctx->saved_data["reducer"] = reducer;
    at::Tensor y = x.clone();
    reinterpret_cast<const CrossProcessSum*>(reducer)->sum_(y);
    return y;
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    at::Tensor g = grads[0].clone();
    reinterpret_cast<const CrossProcessSum*>(ctx->saved_data["reducer"].toInt())->sum_(g);
    return {g, at::Tensor()};
  }
};

// Batch statistics over every process's batch (sums in float64), then the usual affine normalisation.
at::Tensor sync_batch_norm(const at::Tensor& x, BatchNormImpl& bn) {
  const int64_t c = x.size(1);
  const double local_count = double(x.numel() / c);
  at::Tensor stats = at::cat({x.sum({0, 2, 3}, false, at::kDouble), (x * x).sum({0, 2, 3}, false, at::kDouble),
                              at::full({1}, local_count, x.options().dtype(at::kDouble))});
  stats = AllReduceSumFunction::apply(stats, reinterpret_cast<int64_t>(bn.sync.get()));
  const at::Tensor count = stats.slice(0, 2 * c, 2 * c + 1);
  const at::Tensor mean = stats.slice(0, 0, c) / count;
  const at::Tensor var = stats.slice(0, c, 2 * c) / count - mean * mean;
  {
    at::NoGradGuard no_grad;
    const double m = bn.options.momentum();
    const double n = count.item<double>();
    bn.running_mean.mul_(1 - m).add_(mean.to(at::kFloat), m);
    bn.running_var.mul_(1 - m).add_(var.to(at::kFloat) * (n / std::max(n - 1, 1.0)), m);
  }
  const at::Tensor scale = (at::rsqrt(var + bn.options.eps()).to(x.scalar_type()) * bn.weight).view({1, c, 1, 1});
  return (x - mean.to(x.scalar_type()).view({1, c, 1, 1})) * scale + bn.bias.view({1, c, 1, 1});
}

}  // namespace

BatchNormImpl::BatchNormImpl(const BatchNormOptions& options_) : options(options_) { reset(); }

void BatchNormImpl::reset() {
  require(options.num_features() > 0, "BatchNorm", "'num_features'", "be positive",
          [&] { return std::to_string(options.num_features()); });
  require(options.eps() > 0, "BatchNorm", "'eps'", "be positive", [&] { return std::to_string(options.eps()); });
  const int64_t c = options.num_features();
  weight = register_parameter("weight", at::ones({c}));
  bias = register_parameter("bias", at::zeros({c}));
  running_mean = register_buffer("running_mean", at::zeros({c}));
  running_var = register_buffer("running_var", at::ones({c}));
  if (options.track_num_batches()) {
    num_batches_tracked = register_buffer("num_batches_tracked", at::zeros({}, at::kLong));
  }
}

at::Tensor BatchNormImpl::forward(const at::Tensor& input) {
  if (is_training() && options.track_num_batches()) {
    torch::NoGradGuard no_grad;
    num_batches_tracked.add_(1);
  }
  at::Tensor y = is_training() && sync ? sync_batch_norm(input, *this)
                                        : at::batch_norm(input, weight, bias, running_mean, running_var, is_training(),
                                                         options.momentum(), options.eps(),
                                                         at::globalContext().userEnabledCuDNN());
  switch (options.activation()) {
    case BnActivation::kNone:
      return y;
    case BnActivation::kRelu:
      return at::relu(y);
    case BnActivation::kLeakyRelu:
      return at::leaky_relu(y, options.negative_slope());
  }
  return y;
}

void BatchNormImpl::pretty_print(std::ostream& stream) const {
  stream << "boundseg::models::BatchNorm(" << options.num_features() << ", eps=" << options.eps()
         << ", momentum=" << options.momentum();
  if (options.activation() == BnActivation::kRelu) stream << ", activation=relu";
  if (options.activation() == BnActivation::kLeakyRelu) {
    stream << ", activation=leaky_relu(" << options.negative_slope() << ")";
  }
  stream << ")";
}

BatchNormOptions batch_norm_options(int64_t channels, BnNaming bn_naming) {
  return BatchNormOptions(channels).track_num_batches(bn_naming == BnNaming::kTorch);
}

// ------------------------------------------------------------------------------------------------------------------
// Blocks (§1 "Building blocks")

namespace detail {

/// BasicBlock (expansion 1) or Bottleneck (expansion 4); keys conv1, bn1, conv2, bn2[, conv3, bn3][, downsample].
class ResidualBlockImpl : public torch::nn::Module {
 public:
  ResidualBlockImpl(bool bottleneck, int64_t in, int64_t planes, int64_t stride, BnNaming naming)
      : bottleneck_(bottleneck) {
    const int64_t out = planes * (bottleneck ? 4 : 1);
    if (bottleneck) {
      conv1_ = register_module("conv1", conv(in, planes, 1, 1));
      bn1_ = register_module("bn1", BatchNorm(batch_norm_options(planes, naming)));
      conv2_ = register_module("conv2", conv(planes, planes, 3, stride));
      bn2_ = register_module("bn2", BatchNorm(batch_norm_options(planes, naming)));
      conv3_ = register_module("conv3", conv(planes, out, 1, 1));
      bn3_ = register_module("bn3", BatchNorm(batch_norm_options(out, naming)));
    } else {
      conv1_ = register_module("conv1", conv(in, planes, 3, stride));
      bn1_ = register_module("bn1", BatchNorm(batch_norm_options(planes, naming)));
      conv2_ = register_module("conv2", conv(planes, planes, 3, 1));
      bn2_ = register_module("bn2", BatchNorm(batch_norm_options(planes, naming)));
    }
    if (stride != 1 || in != out) {
      downsample_ = register_module(
          "downsample", torch::nn::Sequential(conv(in, out, 1, stride), BatchNorm(batch_norm_options(out, naming))));
    }
  }

  at::Tensor forward(const at::Tensor& x) {
    at::Tensor y = at::relu(bn1_->forward(conv1_->forward(x)));
    y = bn2_->forward(conv2_->forward(y));
    if (bottleneck_) y = bn3_->forward(conv3_->forward(at::relu(y)));
    const at::Tensor residual = downsample_ ? downsample_->forward(x) : x;
    return at::relu(y + residual);
  }

 private:
  bool bottleneck_;
  Conv2d conv1_{nullptr}, conv2_{nullptr}, conv3_{nullptr};
  BatchNorm bn1_{nullptr}, bn2_{nullptr}, bn3_{nullptr};
  torch::nn::Sequential downsample_{nullptr};
};
TORCH_MODULE(ResidualBlock);

/// A Sequential of `count` blocks; the first one adapts `in` channels (downsample when needed).
torch::nn::Sequential make_blocks(bool bottleneck, int64_t in, int64_t planes, int64_t count, BnNaming naming) {
  torch::nn::Sequential seq;
  const int64_t out = planes * (bottleneck ? 4 : 1);
  for (int64_t b = 0; b < count; ++b) seq->push_back(ResidualBlock(bottleneck, b == 0 ? in : out, planes, 1, naming));
  return seq;
}

/// conv3x3 stride 2 + BN [+ ReLU]: one step of a downsampling path (fuse j < i, new transition branches). Keys
/// `0.weight`, `1.*` like the reference's inner Sequential; a module of its own because torch::nn::Sequential
/// cannot hold another Sequential.
class DownStepImpl : public torch::nn::Module {
 public:
  DownStepImpl(int64_t in, int64_t out, bool relu, BnNaming naming) : relu_(relu) {
    conv_ = register_module("0", conv(in, out, 3, 2));
    bn_ = register_module("1", BatchNorm(batch_norm_options(out, naming)));
  }
  at::Tensor forward(const at::Tensor& x) {
    at::Tensor y = bn_->forward(conv_->forward(x));
    return relu_ ? at::relu(y) : y;
  }

 private:
  bool relu_;
  Conv2d conv_{nullptr};
  BatchNorm bn_{nullptr};
};
TORCH_MODULE(DownStep);

/// HighResolutionModule (§1): parallel BasicBlock (or Bottleneck) branches, then every output i sums all branches
/// brought to its resolution, then ReLU. Keys `branches.<b>.<blk>.*`, `fuse_layers.<i>.<j>[.<k>].{0,1}.*` (no entry for
/// j == i).
class HighResolutionModuleImpl : public torch::nn::Module {
 public:
  /// channels: each branch's width; bottleneck branches (HighResolutionNext's stage 1) have channels / 4 planes.
  HighResolutionModuleImpl(const std::vector<int64_t>& channels, int64_t num_blocks, BnNaming naming,
                           bool align_corners, bool bottleneck = false)
      : align_corners_(align_corners) {
    const auto n = static_cast<int64_t>(channels.size());
    auto branches = register_module("branches", torch::nn::ModuleList());
    for (int64_t b = 0; b < n; ++b) {
      const int64_t planes = bottleneck ? channels[b] / 4 : channels[b];
      branches_.push_back(make_blocks(bottleneck, channels[b], planes, num_blocks, naming));
      branches->push_back(branches_.back());
    }
    if (n == 1) return;  // a single branch has no fusion
    auto fuse = register_module("fuse_layers", std::make_shared<torch::nn::Module>("ModuleList"));
    fuse_.resize(n);
    for (int64_t i = 0; i < n; ++i) {
      auto row = fuse->register_module(std::to_string(i), std::make_shared<torch::nn::Module>("ModuleList"));
      fuse_[i].resize(n, torch::nn::Sequential(nullptr));
      for (int64_t j = 0; j < n; ++j) {
        if (j == i) continue;
        torch::nn::Sequential path;
        if (j > i) {
          // Coarser branch: 1x1 projection + BN, upsampled in forward.
          path = torch::nn::Sequential(conv(channels[j], channels[i], 1, 1),
                                       BatchNorm(batch_norm_options(channels[i], naming)));
        } else {
          // Finer branch: i - j stride-2 steps; only the last one changes channels and has no ReLU.
          for (int64_t k = 0; k < i - j; ++k) {
            const bool last = k == i - j - 1;
            path->push_back(DownStep(channels[j], last ? channels[i] : channels[j], !last, naming));
          }
        }
        fuse_[i][j] = row->register_module(std::to_string(j), path);
      }
    }
  }

  std::vector<at::Tensor> forward(std::vector<at::Tensor> x) {
    const size_t n = branches_.size();
    for (size_t b = 0; b < n; ++b) x[b] = branches_[b]->forward(x[b]);
    if (n == 1) return x;
    std::vector<at::Tensor> out(n);
    for (size_t i = 0; i < n; ++i) {
      // Summation order as the reference (§1 step 2): x0 first, then j = 1..n-1.
      at::Tensor y = i == 0 ? x[0] : fuse_[i][0]->forward(x[0]);
      for (size_t j = 1; j < n; ++j) {
        if (j == i) {
          y = y + x[j];
        } else if (j > i) {
          y = y + upsample(fuse_[i][j]->forward(x[j]), j - i, x[i]);
        } else {
          y = y + fuse_[i][j]->forward(x[j]);
        }
      }
      out[i] = at::relu(y);
    }
    return out;
  }

 private:
  // Brings y to the size of `target`, 2^levels times finer. openseg interpolates to the target size directly; mmseg
  // (align_corners false) upsamples by the factor, then resizes to the target (a no-op unless a size was odd).
  at::Tensor upsample(const at::Tensor& y, size_t levels, const at::Tensor& target) const {
    if (align_corners_) return resize_like(y, target, true);
    const std::vector<int64_t> size = {target.size(2), target.size(3)};
    const std::vector<int64_t> scaled = {y.size(2) << levels, y.size(3) << levels};
    at::Tensor up = at::upsample_bilinear2d(y, scaled, false);
    return scaled == size ? up : at::upsample_bilinear2d(up, size, false);
  }

  bool align_corners_;
  std::vector<torch::nn::Sequential> branches_;
  std::vector<std::vector<torch::nn::Sequential>> fuse_;
};

}  // namespace detail

// ------------------------------------------------------------------------------------------------------------------
// Options

void validate(const HrnetOptions& options, const char* where) {
  require(options.width() > 0, where, "'width'", "be positive", [&] { return std::to_string(options.width()); });
  require(options.stage_modules().size() == 3, where, "'stage_modules'",
          "list the module counts of stages 2, 3 and 4 (3 entries)", [&] { return join(options.stage_modules()); });
  for (int64_t m : options.stage_modules()) {
    require(m > 0, where, "'stage_modules'", "hold positive counts", [&] { return join(options.stage_modules()); });
  }
  require(options.num_blocks() > 0, where, "'num_blocks'", "be positive",
          [&] { return std::to_string(options.num_blocks()); });
  require(options.in_channels() > 0, where, "'in_channels'", "be positive",
          [&] { return std::to_string(options.in_channels()); });
  require(options.mask_channels() >= 0, where, "'mask_channels'", "be non-negative",
          [&] { return std::to_string(options.mask_channels()); });
  require(!options.high_resolution_next() || options.mask_channels() == 0, where, "'mask_channels'",
          "be 0 with high_resolution_next (BPR's conv_mask joins a two-conv stem)",
          [&] { return std::to_string(options.mask_channels()); });
}

std::vector<std::string> registered_hrnets() {
  return {"hrnet18", "hrnet32", "hrnet48", "hrnet64", "hrnet2x20", "hrnetv2_w18_small", "hrnetv2_w48", "hrnet_tiny"};
}

HrnetOptions hrnet_options(const std::string& name, BnNaming bn_naming) {
  // mmseg (BPR): torch BN naming, align_corners false; W48 has openseg's layout, W18-small fewer modules and blocks.
  const HrnetOptions mmseg = HrnetOptions().bn_naming(BnNaming::kTorch).align_corners(false);
  if (name == "hrnetv2_w18_small") return HrnetOptions(mmseg).width(18).stage_modules({1, 3, 2}).num_blocks(2);
  if (name == "hrnetv2_w48") return mmseg;
  // boundseg's CPU demo backbone: W16, one module per stage, one block per branch (~1.3 M parameters).
  if (name == "hrnet_tiny") return HrnetOptions().width(16).stage_modules({1, 1, 1}).num_blocks(1).bn_naming(bn_naming);
  // HRNet2x-W20 (HRNET2X_20 of hrnet_config.py): modules {1, 4, 3}, 4 blocks, widths 20..320.
  if (name == "hrnet2x20") return HrnetOptions().width(20).high_resolution_next(true).bn_naming(bn_naming);
  for (const char* known : {"hrnet18", "hrnet32", "hrnet48", "hrnet64"}) {
    // The four openseg hrnetW configs differ only in W (hrnet_config.py); the name ends with W.
    if (name == known) return HrnetOptions().width(std::stoll(name.substr(5))).bn_naming(bn_naming);
  }
  std::string valid;
  for (const std::string& known : registered_hrnets()) valid += (valid.empty() ? "" : ", ") + known;
  fail("hrnet_options", "'name'", "be one of " + valid, "'" + name + "'");
}

// ------------------------------------------------------------------------------------------------------------------
// HighResolutionNet

HrnetImpl::Transition HrnetImpl::make_transition(const std::string& name, const std::vector<int64_t>& pre,
                                                 const std::vector<int64_t>& cur) {
  const BnNaming naming = options_.bn_naming();
  auto holder = register_module(name, std::make_shared<torch::nn::Module>("ModuleList"));
  Transition t;
  for (size_t i = 0; i < cur.size(); ++i) {
    torch::nn::Sequential branch{nullptr};
    bool reads_last = false;
    if (i < pre.size()) {
      // Existing branch: conv3x3 s1 + BN + ReLU only when the width changes (keys `.i.{0,1}`), else identity. It
      // reads its own branch y[i]; the reference reads y[-1] for every non-identity entry (§1), which is the same
      // thing wherever it is well-formed (transition1 has one input; later widths never change for hrnetW).
      if (pre[i] != cur[i]) {
        branch = torch::nn::Sequential(conv(pre[i], cur[i], 3, 1), BatchNorm(batch_norm_options(cur[i], naming)),
                                       torch::nn::ReLU());
      }
    } else {
      // New branch: (i + 1 - len(pre)) stride-2 steps from the last branch; inner steps keep pre[-1] channels.
      branch = torch::nn::Sequential();
      const auto steps = static_cast<int64_t>(i + 1 - pre.size());
      for (int64_t k = 0; k < steps; ++k) {
        branch->push_back(detail::DownStep(pre.back(), k == steps - 1 ? cur[i] : pre.back(), true, naming));
      }
      reads_last = true;
    }
    if (branch) holder->register_module(std::to_string(i), branch);
    t.branches.push_back(branch);
    t.reads_last.push_back(reads_last);
  }
  return t;
}

std::vector<at::Tensor> HrnetImpl::apply(const Transition& t, const std::vector<at::Tensor>& y) {
  std::vector<at::Tensor> x;
  for (size_t i = 0; i < t.branches.size(); ++i) {
    const at::Tensor& source = t.reads_last[i] ? y.back() : y[i];
    torch::nn::Sequential branch = t.branches[i];
    x.push_back(branch ? branch->forward(source) : source);
  }
  return x;
}

HrnetImpl::HrnetImpl(const HrnetOptions& options) : options_(options) {
  validate(options_, "Hrnet");
  const BnNaming naming = options_.bn_naming();
  const bool next = options_.high_resolution_next();
  std::vector<int64_t> pre = {256};
  conv1_ = register_module("conv1", conv(options_.in_channels(), 64, 3, 2));
  bn1_ = register_module("bn1", BatchNorm(batch_norm_options(64, naming)));
  if (!next) {
    // Stem: two stride-2 conv3x3 to 64 channels at 1/4 (§1 table).
    conv2_ = register_module("conv2", conv(64, 64, 3, 2));
    bn2_ = register_module("bn2", BatchNorm(batch_norm_options(64, naming)));
    // Stage 1: Bottlenecks with 64 planes (expansion 4) -> 256 channels.
    layer1_ = register_module("layer1", detail::make_blocks(true, 64, 64, options_.num_blocks(), naming));
  } else {
    // HighResolutionNext (§1 table, hrnet2x20): the stem stops at 1/2; transition0 makes a 128-channel branch at 1/2
    // and a 256-channel one at 1/4 for stage 1, one module of Bottlenecks with planes 32 and 64 (STAGE1 of
    // HRNET2X_20).
    pre = {128, 256};
    transitions_.push_back(make_transition("transition0", {64}, pre));
    auto stage = register_module("stage1", torch::nn::ModuleList());
    auto module = std::make_shared<detail::HighResolutionModuleImpl>(pre, options_.num_blocks(), naming,
                                                                     options_.align_corners(), /*bottleneck=*/true);
    stage->push_back(module);
    stages_.push_back({module});
  }
  // Stages 2-4: 2, 3, 4 branches (hrnetW) or 3, 4, 5 (HighResolutionNext) of W·2^b channels.
  const int extra_branch = next ? 1 : 0;
  for (int s = 0; s < 3; ++s) {
    std::vector<int64_t> cur;
    for (int b = 0; b < s + 2 + extra_branch; ++b) cur.push_back(options_.width() << b);
    transitions_.push_back(make_transition("transition" + std::to_string(s + 1), pre, cur));
    auto stage = register_module("stage" + std::to_string(s + 2), torch::nn::ModuleList());
    stages_.emplace_back();
    for (int64_t m = 0; m < options_.stage_modules()[s]; ++m) {
      auto module = std::make_shared<detail::HighResolutionModuleImpl>(cur, options_.num_blocks(), naming,
                                                                    options_.align_corners());
      stage->push_back(module);
      stages_.back().push_back(module);
    }
    pre = cur;
  }
  // Registered last, as BPR's HRNetRefine adds it after building the HRNet (its key comes after stage4's).
  if (options_.mask_channels() > 0) {
    conv_mask_ = register_module("conv_mask", conv(options_.mask_channels(), 64, 3, 2));
  }
}

std::vector<at::Tensor> HrnetImpl::forward(const at::Tensor& x) {
  const int64_t image_channels = options_.in_channels();
  const int64_t channels = image_channels + options_.mask_channels();
  require(x.defined() && x.dim() == 4 && x.size(1) == channels && at::isFloatingType(x.scalar_type()), "Hrnet", "'x'",
          "be a floating-point (N, " + std::to_string(channels) + ", H, W) tensor",
          [&] { return boundseg::describe_or_undefined(x); });
  at::Tensor y;
  if (conv_mask_) {
    y = conv1_->forward(x.narrow(1, 0, image_channels)) +
        conv_mask_->forward(x.narrow(1, image_channels, options_.mask_channels()));
  } else {
    y = conv1_->forward(x);
  }
  y = at::relu(bn1_->forward(y));
  std::vector<at::Tensor> ys;
  if (options_.high_resolution_next()) {
    ys = {y};  // transition0 and stage1 are the first entries of transitions_ and stages_
  } else {
    y = at::relu(bn2_->forward(conv2_->forward(y)));
    ys = {layer1_->forward(y)};
  }
  for (size_t s = 0; s < stages_.size(); ++s) {
    ys = apply(transitions_[s], ys);
    for (const auto& module : stages_[s]) ys = module->forward(std::move(ys));
  }
  return ys;
}

FeatureSpec HrnetImpl::feature_spec() const {
  const int64_t w = options_.width();
  if (options_.high_resolution_next()) return FeatureSpec{{w, 2 * w, 4 * w, 8 * w, 16 * w}, {2, 4, 8, 16, 32}};
  return FeatureSpec{{w, 2 * w, 4 * w, 8 * w}, {4, 8, 16, 32}};
}

}  // namespace boundseg::models
