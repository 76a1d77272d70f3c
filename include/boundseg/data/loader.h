// A multi-threaded, prefetching training loader whose batches depend only on (seed, batch index, rank).
#pragma once

#include <ATen/core/Tensor.h>

#include <condition_variable>
#include <cstdint>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "boundseg/core/options.h"
#include "boundseg/data/dataset.h"
#include "boundseg/data/target.h"
#include "boundseg/data/transforms.h"

namespace boundseg::data {

struct LoaderOptions {
  /// Samples per batch (per process). Default 8.
  int64_t batch_size = 8;
  /// Threads preparing batches (0 = in the caller's thread) and batches kept ready ahead of the consumer.
  /// Defaults 2 and 4.
  int64_t workers = 2, prefetch = 4;
  uint64_t seed = 0;
  /// Data-parallel shard: this process's rank among world_size.
  int64_t rank = 0, world_size = 1;
  AugmentOptions augment;
  /// Label value never supervised (padding gets it too); in [0, 255]. Default 255.
  int64_t ignore_index = 255;
  /// Targets computed for every sample besides the labels, by name (data/target.h).
  std::vector<std::pair<std::string, std::shared_ptr<const Target>>> targets;
};

/// batch_size >= 1, workers >= 0, prefetch >= 1, ignore_index in [0, 255], the augmentation (keys at `site`,
/// augment.* nested).
void validate(const LoaderOptions& options, const OptionSite& site);

struct Batch {
  int64_t index = 0;
  /// (B, 3, crop_h, crop_w) float, normalised as normalize_openseg_into.
  at::Tensor images;
  /// By name: "labels" (B, crop_h, crop_w) int64 train ids, ignore_index where unlabelled or padded, and every
  /// requested target, stacked over the batch.
  std::map<std::string, at::Tensor> targets;
  std::vector<std::string> names;

  const at::Tensor& labels() const { return targets.at(kLabels); }
};

/// The sample stream is the concatenation of per-epoch permutations of the dataset (epoch e shuffled with a
/// generator seeded by (seed, e)); position p draws its augmentation from a generator seeded by (seed, p). Batch k
/// of rank r holds positions k·B·W + j·W + r, j < B, so the W ranks of step k together see exactly the B·W samples a
/// single process with batch B·W sees, and a run resumed at batch k sees what the uninterrupted run saw.
class TrainLoader {
 public:
  TrainLoader(SegmentationDataset dataset, LoaderOptions options, int64_t first_batch = 0);
  ~TrainLoader();
  TrainLoader(const TrainLoader&) = delete;
  TrainLoader& operator=(const TrainLoader&) = delete;

  /// The next batch in order (blocks until it is ready); errors of the workers are rethrown here.
  Batch next();
  /// The dataset index of stream position `position`.
  int64_t sample_at(int64_t position) const;

 private:
  std::vector<int64_t> epoch_order(int64_t epoch) const;
  Batch make_batch(int64_t index) const;
  void work();

  SegmentationDataset dataset_;
  LoaderOptions options_;
  int64_t next_to_consume_;
  int64_t next_to_produce_;
  bool stopping_ = false;
  std::map<int64_t, Batch> ready_;
  std::map<int64_t, std::exception_ptr> failed_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<std::thread> threads_;
};

}  // namespace boundseg::data
