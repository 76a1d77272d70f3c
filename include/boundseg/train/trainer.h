// The trainer: a TrainSpec -> network, data, losses, optimizer; a short step (forward, loss, backward, update)
// with the periodic work in hooks (LR schedule, non-finite-loss stop, logs, validation, checkpoints); single process
// or data-parallel on c10d.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <opencv2/core/mat.hpp>

#include "boundseg/data/dataset.h"
#include "boundseg/data/loader.h"
#include "boundseg/losses/loss.h"
#include "boundseg/models/zoo.h"
#include "boundseg/train/distributed.h"
#include "boundseg/train/optimizer.h"
#include "boundseg/train/spec.h"

namespace boundseg::io {
class TensorBoardWriter;
}

namespace boundseg::train {

struct TrainerOptions {
  /// Logs (metrics.jsonl, TensorBoard events), config.yaml, checkpoints/, model.safetensors + model.json.
  std::filesystem::path work_dir;
  /// Continue from the newest checkpoint in work_dir/checkpoints (from scratch when there is none).
  bool resume = false;
  bool progress = true;
  /// Data-parallel group; null = one process.
  std::shared_ptr<ProcessGroup> group;
  /// The resolved configuration (config::to_yaml), written to config.yaml and into every checkpoint; may be empty.
  std::string config_text;
};

struct TrainResult {
  int64_t start_iteration = 0, end_iteration = 0;
  /// Final validation ("mIoU", "aAcc", "bIoU", fractions), empty without data.val.
  std::map<std::string, double> validation;
  std::filesystem::path weights;
};

class Trainer;

/// Periodic work around the step (detectron2 / MMEngine hooks). Hooks run in registration order.
class Hook {
 public:
  virtual ~Hook() = default;
  /// After set-up, before the loader starts (a resume sets the start iteration here).
  virtual void before_train(Trainer&) {}
  virtual void before_step(Trainer&) {}
  /// After the forward pass and the loss, before backward: the loss values are in Trainer::step().
  virtual void after_loss(Trainer&) {}
  virtual void after_step(Trainer&) {}
  virtual void after_train(Trainer&) {}
};

/// The state of one training step, as the hooks see it.
struct StepState {
  /// 0-based index of the step; `iteration + 1` steps are done once it finishes.
  int64_t iteration = 0;
  double lr = 0;
  /// Mean over processes of the weighted total and of each unweighted term ("<type>/<outputs>").
  double loss = 0;
  std::vector<std::pair<std::string, double>> terms;
  /// Seconds of the whole step and of waiting for data.
  double seconds = 0, data_seconds = 0;
  int64_t images = 0;
};

class Trainer {
 public:
  /// Set-up: every check that can fail on bad input runs here, before any work (datasets, network, losses against
  /// the network's outputs, targets, initial weights).
  Trainer(TrainSpec spec, TrainerOptions options);
  ~Trainer();

  /// Runs the hooks and the loop from start() to spec().schedule.iters.
  TrainResult run();

  /// Adds a hook after the built-in ones (logging, LR, non-finite stop, validation, checkpoints).
  void add_hook(std::unique_ptr<Hook> hook);

  const TrainSpec& spec() const { return spec_; }
  const TrainerOptions& options() const { return options_; }
  models::Network& network() { return network_; }
  Optimizer& optimizer() { return *optimizer_; }
  const StepState& step() const { return step_; }
  StepState& step() { return step_; }
  const data::SegmentationDataset& val_set() const { return val_set_; }
  int64_t rank() const { return rank_; }
  int64_t world_size() const { return world_; }
  /// Rank 0 writes every file.
  bool writer() const { return rank_ == 0; }
  int64_t start() const { return start_; }
  void set_start(int64_t iteration) { start_ = iteration; }
  /// The newest checkpoint on disk that this run wrote or resumed from (empty when none).
  std::filesystem::path last_checkpoint;
  TrainResult result;

  /// Appends a record to metrics.jsonl and its numbers to TensorBoard (rank 0 only; "iter" is the step).
  void log(const std::map<std::string, double>& values, int64_t iteration);
  /// TensorBoard (null on other ranks).
  io::TensorBoardWriter* board() { return board_.get(); }

 private:
  TrainSpec spec_;
  TrainerOptions options_;
  int64_t rank_ = 0, world_ = 1, start_ = 0;
  data::SegmentationDataset train_set_, val_set_;
  models::Network network_;
  std::unique_ptr<Optimizer> optimizer_;
  losses::WeightedSum loss_;
  std::vector<std::pair<std::string, std::shared_ptr<const data::Target>>> targets_;
  std::vector<std::unique_ptr<Hook>> hooks_;
  std::unique_ptr<io::TensorBoardWriter> board_;
  StepState step_;
};

/// Runs `spec` with the built-in hooks. Bad specs, missing data and unusable checkpoints fail before the first
/// step; a non-finite loss stops the run with an error naming the iteration and the last good checkpoint (kept).
TrainResult train(const TrainSpec& spec, const TrainerOptions& options);

/// Whole-image validation with the streaming evaluator: mIoU, aAcc and Boundary IoU (band = boundary_ratio x
/// diagonal) over the dataset, as fractions. `on_image` (optional) receives (index, image, ground truth,
/// prediction) of every image.
std::map<std::string, double> validate(
    const models::Network& network, const data::SegmentationDataset& dataset, int64_t num_classes,
    int64_t ignore_index, double boundary_ratio, bool progress,
    const std::function<void(int64_t, const cv::Mat&, const cv::Mat&, const cv::Mat&)>& on_image = {});

/// Checkpoint files in `dir`, newest iteration first (iter_<8 digits>.safetensors).
std::vector<std::filesystem::path> list_checkpoints(const std::filesystem::path& dir);

}  // namespace boundseg::train
