// A multi-threaded, prefetching training loader whose batches depend only on (seed, batch index, rank).
#pragma once

#include <ATen/core/Tensor.h>

#include <condition_variable>
#include <cstdint>
#include <exception>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "boundseg/data/dataset.h"
#include "boundseg/data/transforms.h"

namespace boundseg::data {

struct LoaderOptions {
  /// Samples per batch (per process).
  int64_t batch_size = 8;
  /// Threads preparing batches (0 = in the caller's thread) and batches kept ready ahead of the consumer.
  int64_t workers = 2, prefetch = 4;
  uint64_t seed = 0;
  /// Data-parallel shard: this process's rank among world_size.
  int64_t rank = 0, world_size = 1;
  AugmentOptions augment;
  int64_t ignore_index = 255;
  /// Also fill Batch::rgb and Batch::roi (the DenseCRF-type losses need them).
  bool regulariser_inputs = false;
  /// > 0: also fill Batch::boundary with CBL's boundary ground truth of this width ratio (boundary-aware losses).
  double boundary_ratio = 0;
};

struct Batch {
  int64_t index = 0;
  /// (B, 3, crop_h, crop_w) float, normalised as normalize_openseg_into.
  at::Tensor images;
  /// (B, crop_h, crop_w) int64 train ids, ignore_index where unlabelled or padded.
  at::Tensor labels;
  /// With LoaderOptions::regulariser_inputs: the augmented images as float (B, 3, crop_h, crop_w) RGB 0..255 and
  /// the float (B, crop_h, crop_w) ROI (0 on padding), what the DenseCRF-type losses need; else undefined.
  at::Tensor rgb, roi;
  /// With LoaderOptions::boundary_ratio > 0: (B, crop_h, crop_w) uint8 {0, 1, ignore_index}, CBL's boundary ground
  /// truth (ops::cbl_boundary_targets) of the full-size label, augmented with it; else undefined.
  at::Tensor boundary;
  std::vector<std::string> names;
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
  cv::Mat boundary_map(const cv::Mat& label) const;
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
