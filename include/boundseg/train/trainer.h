// The trainer: config -> model, data, losses, optimizer; steps with logging, validation and atomic checkpoints;
// single process or data-parallel on c10d.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <opencv2/core/mat.hpp>

#include "boundseg/config/train_config.h"
#include "boundseg/data/dataset.h"
#include "boundseg/models/zoo.h"
#include "boundseg/train/distributed.h"

namespace boundseg::train {

struct TrainerOptions {
  /// Logs (metrics.jsonl, TensorBoard events), config.yaml, checkpoints/, model.safetensors + model.json.
  std::filesystem::path work_dir;
  /// Continue from the newest checkpoint in work_dir/checkpoints (from scratch when there is none).
  bool resume = false;
  bool progress = true;
  /// Data-parallel group; null = one process.
  std::shared_ptr<ProcessGroup> group;
};

struct TrainResult {
  int64_t start_iteration = 0, end_iteration = 0;
  /// Final validation ("mIoU", "bIoU", fractions), empty without data.val.
  std::map<std::string, double> validation;
  std::filesystem::path weights;
};

/// Runs config.schedule.iters iterations (from the checkpoint's iteration with `resume`). Bad configs, missing data
/// and unusable checkpoints fail before the first step; a non-finite loss stops the run with an error naming the
/// iteration and the last good checkpoint (kept). Only rank 0 writes files.
TrainResult train(const config::TrainConfig& config, const TrainerOptions& options);

/// The dataset a config section describes; `key` (e.g. "data.train") prefixes error messages.
data::SegmentationDataset dataset_from(const config::DatasetConfig& config, const std::string& key);

/// Whole-image validation: mIoU and Boundary IoU (band = boundary_ratio x diagonal) over the dataset, as
/// fractions. `on_image` (optional) receives (index, image, ground truth, prediction) of every image.
std::map<std::string, double> validate(
    const models::Network& network, const data::SegmentationDataset& dataset, int64_t num_classes,
    int64_t ignore_index, double boundary_ratio, bool progress,
    const std::function<void(int64_t, const cv::Mat&, const cv::Mat&, const cv::Mat&)>& on_image = {});

/// Checkpoint files in `dir`, newest iteration first (iter_<8 digits>.safetensors).
std::vector<std::filesystem::path> list_checkpoints(const std::filesystem::path& dir);

}  // namespace boundseg::train
