// The built-in training hooks: checkpoints and resume, logging, LR schedule, non-finite stop, validation.
#include "boundseg/train/hooks.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <mutex>

#include "boundseg/core/error.h"
#include "boundseg/core/progress.h"
#include "boundseg/io/atomic_file.h"
#include "boundseg/io/safetensors.h"
#include "boundseg/io/tensorboard.h"
#include "boundseg/models/state_dict.h"
#include "boundseg/viz/render.h"

namespace boundseg::train {
namespace fs = std::filesystem;
namespace {

constexpr const char* kCheckpointFormat = "boundseg-checkpoint-1";

fs::path checkpoint_path(const fs::path& dir, int64_t iteration) {
  char name[64];
  std::snprintf(name, sizeof(name), "iter_%08lld.safetensors", static_cast<long long>(iteration));
  return dir / name;
}

// The default CPU generator (dropout, initialisation) as bytes, and back.
at::Tensor generator_state() {
  auto gen = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(gen.mutex());
  return gen.get_state();
}
void set_generator_state(const at::Tensor& state) {
  auto gen = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(gen.mutex());
  gen.set_state(state);
}

std::string last_good(const Trainer& t) {
  return t.last_checkpoint.empty() ? std::string("none") : t.last_checkpoint.string();
}

class CheckpointHook : public Hook {
 public:
  void before_train(Trainer& t) override {
    if (!t.options().resume) return;
    for (const fs::path& path : list_checkpoints(t.options().work_dir / "checkpoints")) {
      io::Safetensors ckpt;
      try {
        ckpt = io::read_safetensors(path);
      } catch (const Error& e) {
        // Atomic writes make this unexpected; an older checkpoint is still a valid place to resume from.
        if (t.writer()) std::fprintf(stderr, "Skipping unreadable checkpoint %s: %s\n", path.c_str(), e.what());
        continue;
      }
      require(ckpt.metadata["format"] == kCheckpointFormat, "train", "checkpoint '" + path.string() + "'",
              std::string("be a ") + kCheckpointFormat + " file", [&] { return "'" + ckpt.metadata["format"] + "'"; });
      std::map<std::string, at::Tensor> model_state, optimizer_state;
      for (auto& [name, tensor] : ckpt.tensors) {
        if (name.rfind("model/", 0) == 0) model_state[name.substr(6)] = tensor;
        if (name.rfind("optimizer/", 0) == 0) optimizer_state[name.substr(10)] = tensor;
      }
      models::load_state_dict(*t.network().module, model_state);
      t.optimizer().load_state(optimizer_state);
      set_generator_state(ckpt.tensors.at("rng/torch"));
      t.set_start(std::stoll(ckpt.metadata["iteration"]));
      t.last_checkpoint = path;
      if (t.writer()) std::fprintf(stderr, "Resuming from %s (iteration %lld)\n", path.c_str(), (long long)t.start());
      return;
    }
  }

  void after_step(Trainer& t) override {
    const int64_t done = t.step().iteration + 1;
    if (done % t.spec().run.checkpoint_interval == 0 || done == t.spec().schedule.iters) save(t, done);
  }

  void after_train(Trainer& t) override {
    // The trained weights alone, with a side-car that `--model` reads.
    t.result.weights = t.options().work_dir / "model.safetensors";
    if (!t.writer()) return;
    io::write_safetensors(t.result.weights, models::state_dict(*t.network().module));
    const nlohmann::json sidecar{{"arch", t.spec().model.arch},
                                 {"num_classes", t.spec().data.num_classes},
                                 {"bn_variant", "torch_bn_relu"},
                                 {"source", "boundseg train"}};
    io::write_file_atomic(t.options().work_dir / "model.json", sidecar.dump(2) + "\n");
  }

 private:
  static void save(Trainer& t, int64_t iteration) {
    if (!t.writer()) return;
    // A step can turn the weights non-finite while its loss was finite; such a state is never a checkpoint.
    for (const auto& p : t.network().module->named_parameters()) {
      if (!at::isfinite(p.value()).all().item<bool>()) {
        fail("train", "the weights after iteration " + std::to_string(iteration), "be finite",
             "NaN or inf; the last good checkpoint is " + last_good(t));
      }
    }
    std::vector<std::pair<std::string, at::Tensor>> tensors;
    for (const auto& [name, tensor] : models::state_dict(*t.network().module)) tensors.emplace_back("model/" + name, tensor);
    for (const auto& [name, tensor] : t.optimizer().state()) tensors.emplace_back("optimizer/" + name, tensor);
    tensors.emplace_back("rng/torch", generator_state());
    const fs::path dir = t.options().work_dir / "checkpoints";
    const fs::path path = checkpoint_path(dir, iteration);
    io::write_safetensors(path, tensors,
                          {{"format", kCheckpointFormat},
                           {"iteration", std::to_string(iteration)},
                           {"arch", t.spec().model.arch},
                           {"config", t.options().config_text}});
    t.last_checkpoint = path;
    const auto all = list_checkpoints(dir);
    for (size_t i = size_t(t.spec().run.keep_checkpoints); i < all.size(); ++i) fs::remove(all[i]);
  }
};

// Rewrites metrics.jsonl without the records after `iteration` (a resumed run logs them again).
void truncate_log(const fs::path& path, int64_t iteration) {
  if (!fs::exists(path)) return;
  std::ifstream in(path);
  std::string kept;
  for (std::string line; std::getline(in, line);) {
    try {
      if (nlohmann::json::parse(line).value("iter", int64_t(0)) <= iteration) kept += line + "\n";
    } catch (const nlohmann::json::exception&) {
      // A line cut short by a kill: dropped.
    }
  }
  io::write_file_atomic(path, kept);
}

class LoggingHook : public Hook {
 public:
  void before_train(Trainer& t) override {
    if (t.writer()) truncate_log(t.options().work_dir / "metrics.jsonl", t.start());
    bar_ = std::make_unique<ProgressBar>("train", t.spec().schedule.iters - t.start(),
                                         t.options().progress && t.writer());
  }

  void after_step(Trainer& t) override {
    const StepState& s = t.step();
    step_time_ += s.seconds;
    data_time_ += s.data_seconds;
    images_ += double(s.images);
    loss_sum_ += s.loss;
    term_sums_.resize(s.terms.size(), 0.0);
    for (size_t k = 0; k < s.terms.size(); ++k) term_sums_[k] += s.terms[k].second;
    ++steps_;
    bar_->advance();
    const int64_t done = s.iteration + 1;
    if (done % t.spec().run.log_interval != 0 && done != t.spec().schedule.iters) return;
    std::map<std::string, double> record{{"lr", s.lr},
                                         {"loss", loss_sum_ / double(steps_)},
                                         {"step_time_s", step_time_ / double(steps_)},
                                         {"data_wait_fraction", data_time_ / step_time_},
                                         {"images_per_s", images_ / step_time_}};
    for (size_t k = 0; k < s.terms.size(); ++k) record["loss/" + s.terms[k].first] = term_sums_[k] / double(steps_);
    t.log(record, done);
    step_time_ = data_time_ = images_ = loss_sum_ = 0;
    std::fill(term_sums_.begin(), term_sums_.end(), 0.0);
    steps_ = 0;
  }

  void after_train(Trainer&) override { bar_->finish(); }

 private:
  std::unique_ptr<ProgressBar> bar_;
  double step_time_ = 0, data_time_ = 0, images_ = 0, loss_sum_ = 0;
  std::vector<double> term_sums_;
  int64_t steps_ = 0;
};

class LrScheduleHook : public Hook {
 public:
  void before_step(Trainer& t) override {
    t.step().lr = learning_rate(t.spec().optimizer, t.spec().schedule, t.step().iteration);
  }
};

class NonFiniteLossHook : public Hook {
 public:
  void after_loss(Trainer& t) override {
    const StepState& s = t.step();
    if (std::isfinite(s.loss)) return;
    std::string terms;
    for (size_t k = 0; k < s.terms.size(); ++k) {
      terms += (k ? ", " : "") + s.terms[k].first + " = " + std::to_string(s.terms[k].second);
    }
    fail("train", "the loss at iteration " + std::to_string(s.iteration + 1), "be finite",
         std::to_string(s.loss) + " (" + terms + "); the last good checkpoint is " + last_good(t));
  }
};

class ValidationHook : public Hook {
 public:
  void after_step(Trainer& t) override {
    const int64_t done = t.step().iteration + 1, interval = t.spec().run.val_interval;
    if (interval > 0 && done % interval == 0 && done != t.spec().schedule.iters) run(t, done);
  }
  void after_train(Trainer& t) override { run(t, t.spec().schedule.iters); }

 private:
  static void run(Trainer& t, int64_t iteration) {
    const TrainSpec& spec = t.spec();
    if (!spec.data.has_val) return;
    if (t.writer()) {
      const int64_t k = spec.data.num_classes;
      const auto scores = validate(
          t.network(), t.val_set(), k, spec.data.loader.ignore_index, spec.run.val_boundary_ratio,
          t.options().progress, [&](int64_t i, const cv::Mat& image, const cv::Mat& gt, const cv::Mat& pred) {
            if (i >= spec.run.val_images) return;
            t.board()->add_image("val/" + t.val_set().samples[i].name,
                                 viz::side_by_side({image, viz::colorize_train_ids(gt, k), viz::colorize_train_ids(pred, k)},
                                                   {"image", "ground truth", "prediction"}),
                                 iteration);
          });
      std::map<std::string, double> record;
      for (const auto& [name, value] : scores) record["val/" + name] = value;
      t.log(record, iteration);
      std::fprintf(stderr, "iter %lld: val mIoU %.2f %%, bIoU %.2f %%\n", (long long)iteration,
                   100 * scores.at("mIoU"), 100 * scores.at("bIoU"));
      t.result.validation = scores;
    }
    if (t.options().group) t.options().group->barrier();
  }
};

}  // namespace

std::unique_ptr<Hook> checkpoint_hook() { return std::make_unique<CheckpointHook>(); }
std::unique_ptr<Hook> logging_hook() { return std::make_unique<LoggingHook>(); }
std::unique_ptr<Hook> lr_schedule_hook() { return std::make_unique<LrScheduleHook>(); }
std::unique_ptr<Hook> non_finite_loss_hook() { return std::make_unique<NonFiniteLossHook>(); }
std::unique_ptr<Hook> validation_hook() { return std::make_unique<ValidationHook>(); }

}  // namespace boundseg::train
