// TrainLoader: workers claim batch indices in order and fill them; the consumer takes them in order.
#include "boundseg/data/loader.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <numeric>

#include "boundseg/core/error.h"

namespace boundseg::data {
namespace {

// SplitMix64: decorrelates generator seeds built from small integers.
uint64_t mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

}  // namespace

void validate(const LoaderOptions& o, const OptionSite& site) {
  site.require(o.batch_size >= 1, "batch_size", "be >= 1", [&] { return std::to_string(o.batch_size); });
  site.require(o.workers >= 0, "workers", "be >= 0", [&] { return std::to_string(o.workers); });
  site.require(o.prefetch >= 1, "prefetch", "be >= 1", [&] { return std::to_string(o.prefetch); });
  site.require(o.ignore_index >= 0 && o.ignore_index <= 255, "ignore_index", "be in [0, 255] (labels are 8-bit)",
               [&] { return std::to_string(o.ignore_index); });
  validate(o.augment, site.nested("augment"));
}

TrainLoader::TrainLoader(SegmentationDataset dataset, LoaderOptions options, int64_t first_batch)
    : dataset_(std::move(dataset)),
      options_(std::move(options)),
      next_to_consume_(first_batch),
      next_to_produce_(first_batch) {
  validate(options_, "loader");
  require(dataset_.size() > 0, "loader", "the dataset", "hold at least one sample", [] { return "none"; });
  require(options_.world_size >= 1 && options_.rank >= 0 && options_.rank < options_.world_size, "loader",
          "rank and world_size", "satisfy 0 <= rank < world_size",
          [&] { return std::to_string(options_.rank) + ", " + std::to_string(options_.world_size); });
  for (int64_t t = 0; t < options_.workers; ++t) threads_.emplace_back([this] { work(); });
}

TrainLoader::~TrainLoader() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  for (auto& t : threads_) t.join();
}

int64_t TrainLoader::sample_at(int64_t position) const {
  return epoch_order(position / dataset_.size())[position % dataset_.size()];
}

std::vector<int64_t> TrainLoader::epoch_order(int64_t epoch) const {
  const int64_t n = dataset_.size();
  std::vector<int64_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::mt19937_64 rng(mix(options_.seed * 0x100000001b3ULL + uint64_t(epoch)));
  // Fisher-Yates with our own draws: std::shuffle's algorithm is implementation-defined.
  for (int64_t i = n - 1; i > 0; --i) std::swap(order[i], order[int64_t(rng() % uint64_t(i + 1))]);
  return order;
}

Batch TrainLoader::make_batch(int64_t index) const {
  const AugmentOptions& a = options_.augment;
  const int64_t b = options_.batch_size, w = options_.world_size;
  Batch batch;
  batch.index = index;
  batch.images = at::empty({b, 3, a.crop_height, a.crop_width}, at::kFloat);
  at::Tensor labels = at::empty({b, a.crop_height, a.crop_width}, at::kLong);
  const int64_t plane = a.crop_height * a.crop_width, n = dataset_.size();
  int64_t epoch = -1;
  std::vector<int64_t> order;  // the current epoch's permutation, made once per batch and epoch
  for (int64_t j = 0; j < b; ++j) {
    const int64_t position = index * b * w + j * w + options_.rank;
    if (position / n != epoch) order = epoch_order(epoch = position / n);
    const int64_t sample = order[position % n];
    std::mt19937_64 rng(mix(mix(options_.seed) ^ uint64_t(position)));
    const cv::Mat image = dataset_.read_image(sample), label = dataset_.read_label(sample);
    // Every target's carried maps go through the augmentation together; first[t] is where target t's begin.
    std::vector<CarriedMap> carried;
    std::vector<size_t> first;
    for (const auto& [name, target] : options_.targets) {
      first.push_back(carried.size());
      for (CarriedMap& m : target->carry(image, label)) carried.push_back(std::move(m));
    }
    first.push_back(carried.size());
    AugmentedPair pair = augment(image, label, a, options_.ignore_index, rng, carried);
    normalize_openseg_into(pair.image, batch.images.data_ptr<float>() + j * 3 * plane);
    for (size_t t = 0; t < options_.targets.size(); ++t) {
      const auto& [name, target] = options_.targets[t];
      AugmentedSample s{pair.image, pair.label, pair.inside,
                        std::vector<cv::Mat>(pair.carried.begin() + first[t], pair.carried.begin() + first[t + 1])};
      const at::Tensor value = target->make(s);
      at::Tensor& stacked = batch.targets[name];
      if (!stacked.defined()) {
        std::vector<int64_t> sizes = {b};
        for (int64_t d : value.sizes()) sizes.push_back(d);
        stacked = at::empty(sizes, value.options());
      }
      stacked[j].copy_(value);
    }
    int64_t* dst = labels.data_ptr<int64_t>() + j * plane;
    for (int y = 0; y < pair.label.rows; ++y) {
      const uint8_t* row = pair.label.ptr<uint8_t>(y);
      for (int x = 0; x < pair.label.cols; ++x) dst[y * pair.label.cols + x] = row[x];
    }
    batch.names.push_back(dataset_.samples[sample].name);
  }
  batch.targets[kLabels] = labels;
  return batch;
}

void TrainLoader::work() {
  for (;;) {
    int64_t index;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      changed_.wait(lock, [&] { return stopping_ || next_to_produce_ < next_to_consume_ + options_.prefetch; });
      if (stopping_) return;
      index = next_to_produce_++;
    }
    Batch batch;
    std::exception_ptr error;
    try {
      batch = make_batch(index);
    } catch (...) {
      error = std::current_exception();
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (error) {
        failed_[index] = error;
      } else {
        ready_[index] = std::move(batch);
      }
    }
    changed_.notify_all();
  }
}

Batch TrainLoader::next() {
  if (threads_.empty()) return make_batch(next_to_consume_++);
  std::unique_lock<std::mutex> lock(mutex_);
  const int64_t index = next_to_consume_;
  changed_.wait(lock, [&] { return ready_.count(index) || failed_.count(index); });
  if (failed_.count(index)) std::rethrow_exception(failed_.at(index));
  Batch batch = std::move(ready_.at(index));
  ready_.erase(index);
  ++next_to_consume_;
  lock.unlock();
  changed_.notify_all();
  return batch;
}

}  // namespace boundseg::data
