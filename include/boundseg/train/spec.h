// What a training run is made of: the network, the data and its targets, the optimizer and schedule, the loss terms
// and the run's housekeeping. Library options only: `config/` reads them from YAML (docs/CONFIG.md), programs build
// them directly.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "boundseg/core/options.h"
#include "boundseg/data/dataset.h"
#include "boundseg/data/loader.h"
#include "boundseg/data/target.h"
#include "boundseg/losses/loss.h"
#include "boundseg/train/optimizer.h"

namespace boundseg::train {

struct ModelSpec {
  /// A registered network (models::registered_models()). Default hrnet_w48_ocr.
  std::string arch = "hrnet_w48_ocr";
  /// Initial weights (safetensors), e.g. ImageNet-pretrained; empty = random initialisation.
  std::string weights;
  /// Initial weights may lack head keys (logged); backbone keys and shapes must still match (hrnet_ocr.md §6 #6).
  bool allow_partial = false;
  /// Synchronise batch-norm statistics across processes (distributed runs).
  bool sync_bn = false;
  /// Head dropout probability; -1 = the architecture's (OCR 0.05, FCN 0.10).
  double dropout = -1;
};
void validate(const ModelSpec& model, const OptionSite& site);

struct DataSpec {
  data::DatasetSpec train, val;
  bool has_val = false;
  /// Classes (train ids 0..K-1). Default 19.
  int64_t num_classes = 19;
  /// Batch size, loader threads, prefetch, ignore index and augmentation (seed, rank, world size and the targets
  /// are set by the trainer).
  data::LoaderOptions loader;
  /// Targets with options other than their defaults, by name (data.targets.<name>); every one must be read by a loss.
  std::map<std::string, std::shared_ptr<const data::Target>> targets;
};
/// num_classes in [1, 255], ignore index in [num_classes, 255], the loader's options.
void validate(const DataSpec& data, const OptionSite& site);

struct RunOptions {
  /// Initialisation, shuffling and augmentation seed. Default 0.
  int64_t seed = 0;
  /// Iterations per metrics.jsonl record. Default 10.
  int64_t log_interval = 10;
  /// Validate every this many iterations and at the end (0 = only at the end; needs data.val).
  int64_t val_interval = 0;
  /// Checkpoint every this many iterations and at the end; keep the newest `keep_checkpoints`. Defaults 1000, 2.
  int64_t checkpoint_interval = 1000;
  int64_t keep_checkpoints = 2;
  /// Run the forward pass under CPU bf16 autocast.
  bool bf16 = false;
  /// Boundary-IoU band width as a fraction of the image diagonal, for validation. Default 0.02.
  double val_boundary_ratio = 0.02;
  /// Images written to TensorBoard at each validation. Default 2.
  int64_t val_images = 2;
};
void validate(const RunOptions& run, const OptionSite& site);

struct TrainSpec {
  ModelSpec model;
  DataSpec data;
  OptimizerOptions optimizer;
  ScheduleOptions schedule;
  /// Σ weight · loss; at least one term.
  std::vector<losses::LossTerm> losses;
  RunOptions run;
};
/// Every part (keys named under `site`: "model.", "data.", ...), at least one loss, and every configured target
/// read by some loss.
void validate(const TrainSpec& spec, const OptionSite& site);

/// The context losses and targets are built in.
losses::LossContext loss_context(const DataSpec& data);
data::TargetContext target_context(const DataSpec& data);

}  // namespace boundseg::train
