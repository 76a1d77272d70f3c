// Trainer: set-up (all checks before the first step) and the short step; the periodic work is in hooks.cpp.
#include "boundseg/train/trainer.h"

#include <ATen/ATen.h>
#include <ATen/autocast_mode.h>
#include <torch/utils.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>

#include "boundseg/core/error.h"
#include "boundseg/core/progress.h"
#include "boundseg/io/atomic_file.h"
#include "boundseg/io/safetensors.h"
#include "boundseg/io/tensorboard.h"
#include "boundseg/metrics/evaluator.h"
#include "boundseg/models/inference.h"
#include "boundseg/models/state_dict.h"
#include "boundseg/train/hooks.h"

namespace boundseg::train {
namespace fs = std::filesystem;
namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// CPU bf16 autocast for the forward pass (RAII).
class Autocast {
 public:
  explicit Autocast(bool enabled) : enabled_(enabled) {
    if (!enabled_) return;
    at::autocast::set_autocast_cpu_dtype(at::kBFloat16);
    at::autocast::set_cpu_enabled(true);
  }
  ~Autocast() {
    if (!enabled_) return;
    at::autocast::set_cpu_enabled(false);
    at::autocast::clear_cache();
  }

 private:
  bool enabled_;
};

void set_sync(torch::nn::Module& module, const std::shared_ptr<const models::CrossProcessSum>& sync) {
  for (const auto& m : module.modules()) {
    if (auto* bn = dynamic_cast<models::BatchNormImpl*>(m.get())) bn->sync = sync;
  }
}

std::vector<at::Tensor> parameters_of(const torch::nn::Module& module) {
  std::vector<at::Tensor> out;
  for (const auto& p : module.named_parameters()) out.push_back(p.value());
  return out;
}

std::string joined(const std::vector<std::string>& names) {
  std::string s;
  for (const std::string& n : names) s += (s.empty() ? "" : ", ") + n;
  return s;
}

}  // namespace

Trainer::Trainer(TrainSpec spec, TrainerOptions options)
    : spec_(std::move(spec)), options_(std::move(options)), loss_(spec_.losses) {
  rank_ = options_.group ? options_.group->rank() : 0;
  world_ = options_.group ? options_.group->world_size() : 1;
  validate(spec_, "train");

  // Set-up: everything that can fail on bad input fails here, before any work.
  train_set_ = data::open_dataset(spec_.data.train, "data.train");
  if (spec_.data.has_val) val_set_ = data::open_dataset(spec_.data.val, "data.val");

  torch::manual_seed(uint64_t(spec_.run.seed));
  models::ModelConfig model;
  model.arch = spec_.model.arch;
  model.num_classes = spec_.data.num_classes;
  model.bn_naming = models::BnNaming::kTorch;
  if (spec_.model.dropout >= 0) model.dropout = spec_.model.dropout;
  network_ = models::build_network(model);
  for (const std::string& output : loss_.outputs()) {
    require(std::find(network_.outputs.begin(), network_.outputs.end(), output) != network_.outputs.end(), "train",
            "losses[].output", "name an output of " + spec_.model.arch + " (" + joined(network_.outputs) + ")",
            [&] { return "'" + output + "'"; });
  }
  // Exactly the targets the losses read, with their configured options or their defaults.
  for (const std::string& name : loss_.targets()) {
    if (name == data::kLabels) continue;
    auto configured = spec_.data.targets.find(name);
    targets_.emplace_back(name, configured != spec_.data.targets.end()
                                    ? configured->second
                                    : data::target_registry()
                                          .at(name, "train", "a target the losses read")
                                          .make(nullptr, target_context(spec_.data), OptionSite(name)));
  }
  if (!spec_.model.weights.empty()) {
    const auto report = models::load_state_dict(*network_.module, io::read_safetensors(spec_.model.weights).tensors,
                                                !spec_.model.allow_partial);
    if (writer()) {
      std::fprintf(stderr, "Initial weights %s: %s\n", spec_.model.weights.c_str(), report.summary().c_str());
    }
  }
  if (spec_.model.sync_bn && options_.group) set_sync(*network_.module, options_.group);
  network_.module->train();
  std::vector<std::pair<std::string, at::Tensor>> named_parameters;
  for (const auto& p : network_.module->named_parameters()) named_parameters.emplace_back(p.key(), p.value());
  optimizer_ = std::make_unique<Optimizer>(named_parameters, spec_.optimizer);

  hooks_.push_back(checkpoint_hook());
  hooks_.push_back(logging_hook());
  hooks_.push_back(lr_schedule_hook());
  hooks_.push_back(non_finite_loss_hook());
  hooks_.push_back(validation_hook());
}

Trainer::~Trainer() = default;

void Trainer::add_hook(std::unique_ptr<Hook> hook) { hooks_.push_back(std::move(hook)); }

void Trainer::log(const std::map<std::string, double>& values, int64_t iteration) {
  if (!writer()) return;
  nlohmann::json record{{"iter", iteration}};
  for (const auto& [key, value] : values) {
    record[key] = value;
    board_->add_scalar(key, value, iteration);
  }
  std::ofstream(options_.work_dir / "metrics.jsonl", std::ios::app) << record.dump() << "\n";
  board_->flush();
}

TrainResult Trainer::run() {
  if (writer()) {
    fs::create_directories(options_.work_dir / "checkpoints");
    if (!options_.config_text.empty()) io::write_file_atomic(options_.work_dir / "config.yaml", options_.config_text);
    board_ = std::make_unique<io::TensorBoardWriter>(options_.work_dir / "tensorboard");
  }
  for (auto& h : hooks_) h->before_train(*this);
  if (world_ > 1) {
    // Same weights everywhere (rank 0's); each rank's dropout stream derives from (seed, rank, start) (the stored
    // generator state is rank 0's, so only single-process resumes replay dropout exactly).
    broadcast_tensors(parameters_of(*network_.module), *options_.group);
    for (auto& b : network_.module->named_buffers()) broadcast_tensors({b.value()}, *options_.group);
    torch::manual_seed(uint64_t(spec_.run.seed) + 1000003ULL * uint64_t(rank_) + 7919ULL * uint64_t(start_));
  }
  result.start_iteration = start_;

  data::LoaderOptions lo = spec_.data.loader;
  lo.seed = uint64_t(spec_.run.seed);
  lo.rank = rank_;
  lo.world_size = world_;
  lo.targets = targets_;
  data::TrainLoader loader(train_set_, lo, start_);
  const std::vector<std::string> outputs = loss_.outputs();
  const std::vector<at::Tensor> params = parameters_of(*network_.module);

  for (int64_t it = start_; it < spec_.schedule.iters; ++it) {
    step_ = StepState();
    step_.iteration = it;
    const Clock::time_point t0 = Clock::now();
    for (auto& h : hooks_) h->before_step(*this);
    const data::Batch batch = loader.next();
    step_.data_seconds = seconds_since(t0);

    losses::WeightedSum::Value value;
    {
      Autocast autocast(spec_.run.bf16);
      value = loss_(network_.forward_outputs(batch.images, outputs), batch.targets);
    }
    // Every rank sees the mean over ranks, so that all stop together when one diverges.
    at::Tensor values = at::empty({int64_t(value.terms.size()) + 1}, at::kDouble);
    values[0] = value.total.item<double>();
    for (size_t k = 0; k < value.terms.size(); ++k) values[int64_t(k) + 1] = value.terms[k].second;
    if (options_.group) {
      options_.group->sum_(values);
      values.div_(double(world_));
    }
    step_.loss = values[0].item<double>();
    for (size_t k = 0; k < value.terms.size(); ++k) {
      step_.terms.emplace_back(value.terms[k].first, values[int64_t(k) + 1].item<double>());
    }
    for (auto& h : hooks_) h->after_loss(*this);

    optimizer_->zero_grad();
    value.total.backward();
    if (options_.group) average_gradients(params, *options_.group);
    if (spec_.optimizer.clip_grad_norm > 0) optimizer_->clip_gradients(spec_.optimizer.clip_grad_norm);
    optimizer_->step(step_.lr);
    step_.seconds = seconds_since(t0);
    step_.images = spec_.data.loader.batch_size * world_;
    for (auto& h : hooks_) h->after_step(*this);
  }
  for (auto& h : hooks_) h->after_train(*this);
  result.end_iteration = spec_.schedule.iters;
  return result;
}

TrainResult train(const TrainSpec& spec, const TrainerOptions& options) { return Trainer(spec, options).run(); }

std::vector<fs::path> list_checkpoints(const fs::path& dir) {
  std::vector<fs::path> found;
  if (!fs::is_directory(dir)) return found;
  for (const auto& entry : fs::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (entry.is_regular_file() && name.size() == 25 && name.rfind("iter_", 0) == 0 &&
        name.compare(13, 12, ".safetensors") == 0) {
      found.push_back(entry.path());
    }
  }
  std::sort(found.begin(), found.end(), [](const fs::path& a, const fs::path& b) { return a > b; });
  return found;
}

std::map<std::string, double> validate(
    const models::Network& network, const data::SegmentationDataset& dataset, int64_t num_classes,
    int64_t ignore_index, double boundary_ratio, bool progress,
    const std::function<void(int64_t, const cv::Mat&, const cv::Mat&, const cv::Mat&)>& on_image) {
  at::NoGradGuard no_grad;
  const bool was_training = network.module->is_training();
  network.module->eval();
  metrics::EvalOptions options;
  options.protocol = metrics::Protocol::kTrainId;
  options.num_classes = num_classes;
  options.ignore_index = ignore_index;
  options.boundary_iou_ratios = {boundary_ratio};
  options.boundary_f = false;
  options.progress = false;
  metrics::Evaluator evaluator(options);
  ProgressBar bar("validate", dataset.size(), progress);
  for (int64_t i = 0; i < dataset.size(); ++i) {
    metrics::EvalImage image;
    const cv::Mat picture = dataset.read_image(i);
    image.gt = dataset.read_label(i);
    const at::Tensor logits = models::predict_logits(network.forward, models::normalize_openseg(picture), {});
    const at::Tensor argmax = logits.argmax(1)[0].to(at::kByte).contiguous();
    image.prediction = cv::Mat(image.gt.rows, image.gt.cols, CV_8U, argmax.data_ptr<uint8_t>()).clone();
    image.sources = {dataset.samples[i].label.string(), "prediction", ""};
    evaluator.process(image);
    if (on_image) on_image(i, picture, image.gt, image.prediction);
    bar.advance();
  }
  bar.finish();
  network.module->train(was_training);
  const metrics::EvalResult r = evaluator.result();
  return {{"mIoU", r.miou},
          {"aAcc", r.aacc},
          {"bIoU", metrics::nan_mean(r.boundary_iou[0].data(), int64_t(r.boundary_iou[0].size()))}};
}

}  // namespace boundseg::train
